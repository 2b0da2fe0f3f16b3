"""The target-manifest cache: exact round trips, hits without torch, corrupt entries rebuilt."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import transformers

from weightfit.manifest import Manifest
from weightfit.targets import cache, resolve

TINY_LLAMA = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "vocab_size": 128,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "tie_word_embeddings": True,
}
TINY_VAE = {"_class_name": "AutoencoderKL", "latent_channels": 4, "layers_per_block": 1}
"""One block of 64 channels; the block lists left to their defaults, which are tuples."""


def write_json(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def entries() -> list[Path]:
    return sorted((cache.directory() / "targets").glob("*"))


def fresh(target: Path) -> Manifest:
    with cache.disabled():
        return resolve(target)


@pytest.mark.parametrize("config", [TINY_LLAMA, TINY_VAE], ids=["llama", "vae"])
def test_a_cached_manifest_equals_a_fresh_build(tmp_path, config):
    target = write_json(tmp_path / "config.json", config)
    built = resolve(target)
    (entry,) = entries()
    served = resolve(target)
    assert served == built == fresh(target)
    assert served.extras["target_class"] == built.extras["target_class"]
    assert served.extras["config_hash"] == built.extras["config_hash"]
    assert served.config == built.config
    assert entry.name.endswith(".json") and entries() == [entry]


def test_tuples_and_int_keys_in_a_config_survive_the_round_trip(tmp_path):
    target = write_json(tmp_path / "config.json", TINY_VAE)
    built = resolve(target)
    assert isinstance(built.config["block_out_channels"], tuple)
    served = resolve(target)
    assert served.config["block_out_channels"] == (64,)
    llama = resolve(write_json(tmp_path / "llama" / "config.json", TINY_LLAMA))
    assert (
        resolve(tmp_path / "llama" / "config.json").config["id2label"]
        == llama.config["id2label"]
        == {0: "LABEL_0", 1: "LABEL_1"}
    )


def test_a_hit_is_read_from_the_entry_and_disabling_bypasses_it(tmp_path, monkeypatch):
    target = write_json(tmp_path / "config.json", TINY_LLAMA)
    resolve(target)
    tamper(entries()[0], "model.norm.weight", [31])
    assert resolve(target)["model.norm.weight"].shape == (31,)
    with cache.disabled():
        assert resolve(target)["model.norm.weight"].shape == (32,)
    monkeypatch.setenv("WEIGHTFIT_NO_CACHE", "1")
    assert resolve(target)["model.norm.weight"].shape == (32,)


def test_no_cache_env_neither_reads_nor_writes(tmp_path, monkeypatch):
    monkeypatch.setenv("WEIGHTFIT_NO_CACHE", "1")
    resolve(write_json(tmp_path / "config.json", TINY_LLAMA))
    assert entries() == []


def test_a_hit_carries_the_source_it_was_named_by(tmp_path):
    first = resolve(write_json(tmp_path / "a" / "config.json", TINY_LLAMA))
    second = resolve(write_json(tmp_path / "b" / "config.json", TINY_LLAMA))
    assert len(entries()) == 1
    assert (first.source, second.source) == (
        str(tmp_path / "a" / "config.json"),
        str(tmp_path / "b" / "config.json"),
    )


def test_another_config_or_override_is_another_entry(tmp_path):
    target = write_json(tmp_path / "config.json", TINY_LLAMA)
    resolve(target)
    resolve(target, kwargs={"vocab_size": 256})
    renamed = {**TINY_LLAMA, "_name_or_path": "someone/tiny"}
    resolve(write_json(tmp_path / "renamed.json", renamed))
    assert len(entries()) == 3


def test_the_key_names_class_library_and_versions():
    key = cache.entry_key(TINY_LLAMA, library="transformers", class_name="LlamaForCausalLM")
    assert key is not None and len(key) == 64
    assert key != cache.entry_key(TINY_LLAMA, library="transformers", class_name="LlamaModel")
    assert key != cache.entry_key(TINY_LLAMA, library="diffusers", class_name="LlamaForCausalLM")
    assert (
        cache.entry_key({**TINY_LLAMA, "x": (1, 2)}, library="transformers", class_name="L") is None
    )
    assert cache.entry_key(TINY_LLAMA, library="no-such-dist", class_name="L") is None


@pytest.mark.parametrize(
    "content",
    [b"", b"{", b"\xff\xfe", b"[]", b'{"schema": 1}', b'{"schema": 99, "key": "", "manifest": {}}'],
    ids=["empty", "truncated", "not-utf8", "list", "no-key", "other-schema"],
)
def test_a_corrupt_entry_is_rebuilt_and_rewritten(tmp_path, content):
    target = write_json(tmp_path / "config.json", TINY_LLAMA)
    expected = resolve(target)
    (entry,) = entries()
    entry.write_bytes(content)
    assert resolve(target) == expected
    assert json.loads(entry.read_bytes())["schema"] == cache.SCHEMA


def test_an_entry_with_bad_tensor_rows_is_rebuilt(tmp_path):
    target = write_json(tmp_path / "config.json", TINY_LLAMA)
    expected = resolve(target)
    (entry,) = entries()
    data = json.loads(entry.read_text())
    data["manifest"]["tensors"][0] = ["only a name"]
    entry.write_text(json.dumps(data))
    assert resolve(target) == expected


def test_an_unwritable_cache_is_no_error(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv("WEIGHTFIT_CACHE", str(blocker))
    target = write_json(tmp_path / "config.json", TINY_LLAMA)
    assert resolve(target) == fresh(target)


def test_writes_leave_no_temporary_files(tmp_path):
    resolve(write_json(tmp_path / "a.json", TINY_LLAMA))
    resolve(write_json(tmp_path / "b.json", TINY_VAE))
    assert [p.suffix for p in entries()] == [".json", ".json"]


def test_the_cache_directory_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("WEIGHTFIT_CACHE", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.directory() == tmp_path / "explicit"
    monkeypatch.delenv("WEIGHTFIT_CACHE")
    assert cache.directory() == tmp_path / "xdg" / "weightfit"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.directory() == tmp_path / "home" / ".cache" / "weightfit"


def test_a_cache_hit_imports_neither_torch_nor_transformers(tmp_path):
    checkpoint, target = llama_pair(tmp_path)
    resolve(target)
    code = (
        "import sys\n"
        "from weightfit.cli import main\n"
        f"code = main(['check', {str(checkpoint)!r}, '--against', {str(target)!r}, '--json'])\n"
        "heavy = [m for m in ('torch', 'transformers', 'diffusers') if m in sys.modules]\n"
        "print('@@', code, heavy)\n"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert ran.stdout.splitlines()[-1] == "@@ 0 []"


def test_cli_no_cache_builds_afresh(tmp_path, run_cli):
    checkpoint, target = llama_pair(tmp_path)
    assert run_cli("check", checkpoint, "--against", target, "--json").code == 0
    tamper(entries()[0], "model.norm.weight", [31])
    assert run_cli("check", checkpoint, "--against", target, "--json").code == 1
    assert run_cli("check", checkpoint, "--against", target, "--json", "--no-cache").code == 0
    out = tmp_path / "fixed"
    fixed = run_cli("fix", checkpoint, "--against", target, "-o", out, "--plan-only", "--no-cache")
    assert fixed.code == 0, fixed.err


def llama_pair(tmp_path: Path) -> tuple[Path, Path]:
    """A tiny Llama saved with ``save_pretrained`` and its config in another folder."""
    model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**TINY_LLAMA))
    model.save_pretrained(tmp_path / "ckpt")
    return tmp_path / "ckpt", write_json(tmp_path / "target" / "config.json", TINY_LLAMA)


def tamper(entry: Path, name: str, shape: list[int]) -> None:
    """Rewrite one tensor's shape in a stored entry (a stand-in for a stale entry)."""
    data = json.loads(entry.read_text())
    for row in data["manifest"]["tensors"]:
        if row[0] == name:
            row[1] = shape
    entry.write_text(json.dumps(data))
