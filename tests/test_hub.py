"""``hf://`` paths against a Hub on 127.0.0.1 (``HF_ENDPOINT``), with a second host for LFS files.

Repos are folders saved by transformers, PEFT and the seed builders; the same
folder is read locally and through the Hub, and the answers must agree.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import jsonschema
import pytest
import torch

import weightfit
from adapter_builders import tiny_llama, train_lora
from hub_server import Repo, serve
from seeds import write_sparse_sharded
from test_folder import pipeline_folder  # noqa: F401 (a fixture)
from test_lint_seed import build_seed3
from weightfit import errors
from weightfit.hub import client as hub_client
from weightfit.hub import mirror
from weightfit.hub.paths import HubPath, parse


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """The fake Hub, with ``HF_ENDPOINT`` pointing at it and no token anywhere."""
    with serve() as running:
        monkeypatch.setenv("HF_ENDPOINT", running.url)
        monkeypatch.delenv("HF_TOKEN", raising=False)
        monkeypatch.setenv("HF_TOKEN_PATH", str(tmp_path / "no-token"))
        monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")
        yield running


@pytest.fixture
def no_wait(monkeypatch):
    """Record retry waits instead of sleeping."""
    waits: list[float] = []
    monkeypatch.setattr(hub_client.time, "sleep", waits.append)
    return waits


@pytest.fixture(scope="module")
def llama_sharded(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("llama") / "model"
    tiny_llama().save_pretrained(folder, max_shard_size="40KB")
    return folder


@pytest.fixture(scope="module")
def llama_bin(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("llama-bin") / "model"
    model = tiny_llama(hidden=128)  # storages far enough apart to be fetched one by one
    folder.mkdir(parents=True)
    model.config.save_pretrained(folder)
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    return folder


def _same_tensors(a: weightfit.Manifest, b: weightfit.Manifest) -> None:
    assert list(a.tensors) == list(b.tensors)
    for name, spec in a.tensors.items():
        other = b.tensors[name]
        assert (spec.shape, spec.dtype) == (other.shape, other.dtype), name
        if spec.location is not None:
            assert other.location is not None
            assert (spec.location.offset, spec.location.length) == (
                other.location.offset,
                other.location.length,
            )
            assert Path(spec.location.file).name == other.location.file.rsplit("/", 1)[1]


# -- addresses --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hf://org/model", HubPath("org/model")),
        ("hf://org/model@v1.0", HubPath("org/model", "v1.0")),
        ("hf://org/model@main/unet/config.json", HubPath("org/model", "main", "unet/config.json")),
        ("hf://org/model/text_encoder", HubPath("org/model", None, "text_encoder")),
        (
            "hf://org/model@refs/pr/7/a.safetensors",
            HubPath("org/model", "refs/pr/7", "a.safetensors"),
        ),
        ("hf://org/model@release%2Fv1", HubPath("org/model", "release/v1")),
        ("hf://gpt2", HubPath("gpt2")),
        ("https://huggingface.co/org/model", HubPath("org/model")),
        (
            "https://huggingface.co/org/model/resolve/main/vae/diffusion_pytorch_model.safetensors",
            HubPath("org/model", "main", "vae/diffusion_pytorch_model.safetensors"),
        ),
        (
            "https://huggingface.co/org/model/tree/abc123/unet",
            HubPath("org/model", "abc123", "unet"),
        ),
        (
            "https://hf.co/org/model/blob/main/config.json",
            HubPath("org/model", "main", "config.json"),
        ),
        ("https://huggingface.co/org/model/tree/refs%2Fpr%2F3", HubPath("org/model", "refs/pr/3")),
    ],
)
def test_addresses_parse(text, expected):
    assert weightfit.hub.is_hub(text)
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("hf://", "names no repo"),
        ("hf://org/model@", "empty revision"),
        ("hf://org/../x", "is not a repo id"),
        ("https://huggingface.co/datasets/org/data", "is a dataset repo"),
        ("https://huggingface.co/org/model/discussions/3", "not a model page"),
        ("hf://org/model/unet/../../etc", "may not contain '.' or '..'"),
        ("hf://org/model@main/./x", "may not contain '.' or '..'"),
    ],
)
def test_bad_addresses_are_usage_errors(text, says):
    with pytest.raises(errors.UsageError, match=says):
        parse(text)


def test_other_hosts_are_not_hub_addresses():
    assert not weightfit.hub.is_hub("https://example.com/org/model/resolve/main/a.safetensors")
    assert not weightfit.hub.is_hub("org/model")


# -- reading ----------------------------------------------------------------------------------


def test_sharded_transformers_model_reads_as_its_clone(hub, llama_sharded):
    hub.repos["org/llama"] = Repo(llama_sharded)
    local = weightfit.read(llama_sharded)
    remote = weightfit.read("hf://org/llama")
    _same_tensors(local, remote)
    assert remote.format == local.format == "transformers-folder"
    assert remote.source == "hf://org/llama"
    shards = sorted(p.name for p in llama_sharded.glob("*.safetensors"))
    assert len(shards) > 2
    assert remote.files == [f"hf://org/llama/{Path(name).name}" for name in local.files]
    assert remote.config == local.config
    # The LFS files came from the second host, without the token.
    assert hub.cdn.requests == len(shards)
    assert all(auth is None for auth in hub.cdn.authorization)
    # The note counts what the server saw: the listing, two JSON files, a redirect and a range each.
    assert f": {hub.requests} request(s)" in remote.notes[-1]


def test_a_second_read_costs_only_the_listing(hub, llama_sharded):
    hub.repos["org/llama"] = Repo(llama_sharded)
    weightfit.read("hf://org/llama")
    hub.reset()
    again = weightfit.read("hf://org/llama")
    assert hub.requests == 1
    assert again.notes[-1].endswith(
        ": 1 request(s), 0 B of files received, 0 file(s) fetched (headers and small JSON only)"
    )
    assert hub.api.paths[0].startswith("/api/models/org/llama")


def test_a_new_commit_refetches_only_the_changed_files(hub, llama_sharded, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(llama_sharded, folder)
    hub.repos["org/llama"] = Repo(folder)
    weightfit.read("hf://org/llama")
    config = json.loads((folder / "config.json").read_text())
    config["rms_norm_eps"] = 1e-5
    (folder / "config.json").write_text(json.dumps(config))
    hub.repos["org/llama"] = Repo(folder, commit="f" * 40)
    hub.reset()
    manifest = weightfit.read("hf://org/llama")
    assert manifest.config["rms_norm_eps"] == 1e-5
    assert hub.api.paths[1:] == ["/org/llama/resolve/" + "f" * 40 + "/config.json"]


def test_one_shard_by_url_and_a_revision(hub, llama_sharded):
    hub.repos["org/llama"] = Repo(llama_sharded, revisions=("main", "v1"))
    shard = sorted(p.name for p in llama_sharded.glob("*.safetensors"))[0]
    local = weightfit.read(llama_sharded / shard)
    remote = weightfit.read(f"{hub.url}/org/llama/resolve/v1/{shard}")
    _same_tensors(local, remote)
    assert remote.source == f"hf://org/llama@v1/{shard}"
    assert hub.cdn.requests == 1


def test_hundred_shards_cost_two_requests_each_and_under_a_percent(hub, tmp_path):
    tensors = {f"layers.{i}.weight": ((1024, 2048), "F32") for i in range(200)}
    write_sparse_sharded(tmp_path / "big", tensors, max_shard_bytes=2 * 8 * 1024 * 1024)
    (tmp_path / "big" / "config.json").write_text('{"model_type": "custom"}')
    hub.repos["org/big"] = Repo(tmp_path / "big")
    total = sum(p.stat().st_size for p in (tmp_path / "big").iterdir())
    manifest = weightfit.read("hf://org/big")
    assert len(manifest) == 200 and len(manifest.files) == 100
    # listing + config + index, then per shard: the Hub's redirect and one range from the CDN
    assert hub.requests <= 3 + 2 * 100
    assert hub.bytes < total / 100


def test_a_header_longer_than_the_first_range_takes_a_second(hub, tmp_path):
    tensors = {
        f"blocks.{i}.attention.query_key_value.weight": ((64, 64), "F16") for i in range(2000)
    }
    write_sparse_sharded(tmp_path / "wide", tensors, index=False, max_shard_bytes=1 << 40)
    hub.repos["org/wide"] = Repo(tmp_path / "wide")
    (shard,) = (tmp_path / "wide").iterdir()
    with shard.open("rb") as handle:
        assert int.from_bytes(handle.read(8), "little") > mirror.SPECULATIVE_BYTES
    _same_tensors(weightfit.read(shard), weightfit.read(f"hf://org/wide/{shard.name}"))
    assert hub.cdn.requests == 2


def test_files_not_mirrored_are_named_and_not_fetched_again(hub, llama_sharded, tmp_path):
    folder = tmp_path / "with-gguf"
    shutil.copytree(llama_sharded, folder)
    (folder / "model-q4.gguf").write_bytes(b"GGUF" + bytes(2 * mirror.SPECULATIVE_BYTES))
    hub.repos["org/gguf"] = Repo(folder)
    manifest = weightfit.read("hf://org/gguf")
    assert "model-q4.gguf: not read remotely (GGUF" in manifest.notes[-2]
    hub.reset()
    weightfit.read("hf://org/gguf")
    assert hub.requests == 1


def test_bin_model_reads_its_pickle_by_ranges(hub, llama_bin):
    hub.repos["org/llama-bin"] = Repo(llama_bin)
    local = weightfit.read(llama_bin)
    remote = weightfit.read("hf://org/llama-bin")
    _same_tensors(local, remote)
    assert remote.extras["file_format"] == local.extras["file_format"] == "torch-zip"
    assert remote.security == local.security
    # The start, the end (zip directory), then each storage's local header, never its bytes.
    size = (llama_bin / "pytorch_model.bin").stat().st_size
    assert hub.cdn.requests <= 2 + len(local)
    assert hub.cdn.bytes < size / 10


def test_lint_of_seed3_on_the_hub_reports_what_lint_reports_locally(hub, tmp_path):
    root = build_seed3(tmp_path / "Sana_1600M_2Kpx_BF16_diffusers")
    hub.repos["Efficient-Large-Model/Sana_1600M_2Kpx_BF16_diffusers"] = Repo(root)
    local = weightfit.lint(root)
    remote = weightfit.lint("hf://Efficient-Large-Model/Sana_1600M_2Kpx_BF16_diffusers")

    def seen(result):
        return [(v.code, v.path, v.message) for v in result.violations]

    assert seen(remote) == seen(local)
    assert remote.root == "hf://Efficient-Large-Model/Sana_1600M_2Kpx_BF16_diffusers"
    assert {"WF101", "WF105"} <= {v.code for v in remote.violations}
    assert remote.weight_sets == local.weight_sets
    assert [dataclasses.astuple(r) for r in remote.resolutions] == [
        dataclasses.astuple(r) for r in local.resolutions
    ]
    assert hub.bytes < sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1000


def test_pipeline_component_and_variant(hub, tmp_path):
    root = build_seed3(tmp_path / "sana")
    hub.repos["org/sana"] = Repo(root)
    local = weightfit.read(root / "vae", variant="bf16")
    remote = weightfit.read("hf://org/sana/vae", variant="bf16")
    _same_tensors(local, remote)
    assert remote.notes[0] == local.notes[0]
    commit = hub.repos["org/sana"].commit
    assert all(p.startswith(f"/org/sana/resolve/{commit}/vae/") for p in hub.api.paths[1:])


def test_diffusers_pipeline_saved_by_diffusers_reads_and_lints_as_its_clone(
    hub,
    pipeline_folder,  # noqa: F811 (the fixture imported above)
):
    root = pipeline_folder[0]
    hub.repos["org/pipe"] = Repo(root)
    for variant in (None, "fp16"):
        local = weightfit.read(root, variant=variant)
        remote = weightfit.read("hf://org/pipe", variant=variant)
        _same_tensors(local, remote)
        assert remote.format == "diffusers-pipeline"
        assert remote.notes[:-1] == [n.replace(str(root), "hf://org/pipe") for n in local.notes]
        assert remote.notes[-1].startswith("read from the Hub at commit 0123456789ab: ")
    assert [(v.code, v.path, v.message) for v in weightfit.lint("hf://org/pipe").violations] == [
        (v.code, v.path, v.message) for v in weightfit.lint(root).violations
    ]


# -- commands -----------------------------------------------------------------------------


def test_check_hub_against_hub_and_against_a_local_config(hub, llama_sharded, tmp_path, run_cli):
    hub.repos["org/llama"] = Repo(llama_sharded)
    bigger = tmp_path / "bigger"
    tiny_llama(vocab=1200).save_pretrained(bigger)
    hub.repos["org/bigger"] = Repo(bigger)
    same = run_cli("check", "hf://org/llama", "--against", "hf://org/llama")
    assert same.code == 0, same.err
    differ = run_cli("check", "hf://org/llama", "--against", "hf://org/bigger", "--json")
    assert differ.code == 1, differ.err
    schema = json.loads(
        (Path(weightfit.__file__).parent / "report" / "check.schema.json").read_text()
    )
    jsonschema.Draft202012Validator(schema).validate(json.loads(differ.out))
    local = run_cli("check", llama_sharded, "--against", bigger, "--json")
    assert json.loads(differ.out)["findings"] == json.loads(local.out)["findings"]
    assert os.environ["WEIGHTFIT_CACHE"] not in differ.out + differ.err
    config = run_cli("check", "hf://org/llama", "--against", llama_sharded / "config.json")
    assert config.code == 0, config.err + config.out


def test_check_against_a_config_only_repo_on_the_hub(hub, llama_sharded, tmp_path, run_cli):
    hub.repos["org/llama"] = Repo(llama_sharded)
    config_only = tmp_path / "config-only"
    config_only.mkdir()
    shutil.copy(llama_sharded / "config.json", config_only)
    hub.repos["org/config"] = Repo(config_only)
    result = run_cli("check", llama_sharded, "--against", "hf://org/config")
    assert result.code == 0, result.err + result.out
    one_file = run_cli("check", "hf://org/llama", "--against", "hf://org/config/config.json")
    assert one_file.code == 0, one_file.err + one_file.out


def test_adapter_check_on_the_hub(hub, tmp_path, run_cli):
    base = tmp_path / "base"
    tiny_llama().save_pretrained(base)
    train_lora(tiny_llama(), tmp_path / "adapter", target_modules=["q_proj", "v_proj"])
    hub.repos["org/base"] = Repo(base)
    hub.repos["org/adapter"] = Repo(tmp_path / "adapter")
    local = run_cli("adapter", "check", tmp_path / "adapter", "--base", base, "--json")
    remote = run_cli("adapter", "check", "hf://org/adapter", "--base", "hf://org/base", "--json")
    assert remote.code == local.code == 0, remote.err
    checked = run_cli("check", "hf://org/adapter", "--against", "hf://org/base", "--json")
    assert checked.code == 0, checked.err
    assert json.loads(checked.out)["findings"] == json.loads(remote.out)["findings"]
    assert "hf://org/adapter" in json.loads(checked.out)["hints"][0]
    found = [json.loads(r.out)["findings"] for r in (local, remote)]
    for findings in found:
        for finding in findings:
            finding["evidence"].pop("base", None)
    assert found[0] == found[1]


def test_inspect_cli_names_the_hub(hub, llama_sharded, run_cli):
    hub.repos["org/llama"] = Repo(llama_sharded)
    result = run_cli("inspect", "hf://org/llama", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["source"] == "hf://org/llama"
    schema = json.loads(
        (Path(weightfit.__file__).parent / "report" / "inspect.schema.json").read_text()
    )
    jsonschema.Draft202012Validator(schema).validate(data)
    assert str(os.environ["WEIGHTFIT_CACHE"]) not in result.out


def test_fix_and_lint_fix_refuse_the_hub(hub, llama_sharded, tmp_path, run_cli):
    hub.repos["org/llama"] = Repo(llama_sharded)
    lint = run_cli("lint", "hf://org/llama", "--fix")
    assert lint.code == 2 and "lint a clone" in lint.err
    plan = tmp_path / "plan.yaml"
    plan.write_text("version: 1\nops: []\n")
    apply = run_cli("apply", plan, "hf://org/llama", "-o", tmp_path / "out")
    assert apply.code == 2 and "read from its headers only" in apply.err


# -- failures -------------------------------------------------------------------------------


def _one_line(result, code, *says):
    assert result.code == code, result.out + result.err
    first = result.err.splitlines()[0]
    assert first.startswith("error: ")
    for text in says:
        assert text in first, first


def test_gated_without_a_token(hub, llama_sharded, run_cli):
    hub.repos["org/gated"] = Repo(llama_sharded, gated=True)
    result = run_cli("inspect", "hf://org/gated")
    _one_line(result, 3, "access denied", "accept the licence on the model page", "set HF_TOKEN")


def test_gated_with_a_token_without_access_then_with_access(
    hub, llama_sharded, run_cli, monkeypatch
):
    hub.repos["org/gated"] = Repo(llama_sharded, gated=True)
    hub.tokens = frozenset({"hf_good"})
    monkeypatch.delenv("HF_HUB_DISABLE_IMPLICIT_TOKEN")
    monkeypatch.setenv("HF_TOKEN", "hf_wrong")
    refused = run_cli("inspect", "hf://org/gated")
    _one_line(refused, 3, "gated", "accept the licence")
    assert "HTTP 403" not in refused.err
    monkeypatch.setenv("HF_TOKEN", "hf_good")
    hub.reset()
    allowed = run_cli("inspect", "hf://org/gated")
    assert allowed.code == 0, allowed.err
    assert any(auth == "Bearer hf_good" for auth in hub.api.authorization)
    assert all(auth is None for auth in hub.cdn.authorization)


def test_missing_repo_revision_and_path(hub, llama_sharded, run_cli):
    hub.repos["org/llama"] = Repo(llama_sharded)
    _one_line(run_cli("inspect", "hf://org/nothing"), 3, "no repo 'org/nothing'", "private")
    _one_line(run_cli("inspect", "hf://org/llama@v9"), 3, "no revision 'v9'")
    _one_line(run_cli("inspect", "hf://org/llama/unet"), 3, "no file or folder 'unet'")


def test_rate_limit_honours_retry_after(hub, llama_sharded, no_wait):
    hub.repos["org/llama"] = Repo(llama_sharded)
    hub.rate_limit, hub.retry_after = 2, "7"
    weightfit.read("hf://org/llama")
    assert no_wait == [7.0, 7.0]


def test_rate_limit_that_does_not_end(hub, llama_sharded, no_wait, run_cli):
    hub.repos["org/llama"] = Repo(llama_sharded)
    hub.rate_limit = 1000
    result = run_cli("inspect", "hf://org/llama")
    _one_line(result, 3, "rate limited", "429", "after 4 tries")
    assert len(no_wait) >= 3


def test_a_long_retry_after_is_not_waited_for(hub, llama_sharded, no_wait, run_cli):
    hub.repos["org/llama"] = Repo(llama_sharded)
    hub.rate_limit, hub.retry_after = 1000, "3600"
    _one_line(run_cli("inspect", "hf://org/llama"), 3, "wait 3600 s")
    assert not any(w >= 3600 for w in no_wait)


def test_a_server_without_range_is_refused_unless_allowed(hub, llama_sharded, run_cli):
    hub.repos["org/llama"] = Repo(llama_sharded)
    hub.ignore_range = True
    _one_line(
        run_cli("inspect", "hf://org/llama"), 3, "range not supported", "--allow-full-download"
    )
    allowed = run_cli("inspect", "hf://org/llama", "--allow-full-download", "--json")
    assert allowed.code == 0, allowed.err
    local = run_cli("inspect", llama_sharded, "--json")

    def shapes(result):
        return [(t["name"], t["shape"], t["dtype"]) for t in json.loads(result.out)["tensors"]]

    assert shapes(allowed) == shapes(local)


def test_a_connection_cut_mid_header_is_retried(hub, llama_sharded, no_wait):
    hub.repos["org/llama"] = Repo(llama_sharded)
    hub.cut_after, hub.cut_times = 100, 2
    _same_tensors(weightfit.read(llama_sharded), weightfit.read("hf://org/llama"))
    assert no_wait


def test_a_connection_always_cut_is_one_error(hub, llama_sharded, no_wait, run_cli):
    hub.repos["org/llama"] = Repo(llama_sharded)
    hub.cut_after = 100
    _one_line(run_cli("inspect", "hf://org/llama"), 3, "fetch failed", "after 4 tries")


def test_a_timeout_is_one_error(hub, llama_sharded, no_wait, run_cli, monkeypatch):
    hub.repos["org/llama"] = Repo(llama_sharded)
    monkeypatch.setattr(hub_client, "TIMEOUT_SECONDS", 0.2)
    hub.stall = 1.0
    _one_line(run_cli("inspect", "hf://org/llama"), 3, "timed out", "after 4 tries")


def test_a_git_lfs_pointer_committed_as_the_weights(hub, tmp_path, run_cli):
    folder = tmp_path / "pointer"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "llama"}')
    (folder / "model.safetensors").write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:" + "a" * 64 + "\nsize 123456\n"
    )
    hub.repos["org/pointer"] = Repo(folder, not_lfs=frozenset({"model.safetensors"}))
    _one_line(run_cli("inspect", "hf://org/pointer"), 3, "git-lfs pointer")
    local = weightfit.lint(folder)
    remote = weightfit.lint("hf://org/pointer")
    assert [(v.code, v.message) for v in remote.violations] == [
        (v.code, v.message) for v in local.violations
    ]
    assert any("git-lfs pointer" in v.message for v in remote.violations)


# -- explain --------------------------------------------------------------------------------


def test_explain_hints_name_a_hub_repo_as_an_hf_address(tmp_path, monkeypatch):
    text = (
        "Some weights of LlamaForCausalLM were not initialized from the model checkpoint at "
        "org/finetune and are newly initialized: ['lm_head.weight']\n"
        "You should probably TRAIN this model on a down-stream task"
    )
    monkeypatch.chdir(tmp_path)
    hints = weightfit.explain(text).hints
    assert any("weightfit check hf://org/finetune --against" in h for h in hints), hints
    (tmp_path / "org" / "finetune").mkdir(parents=True)  # a local folder of that name wins
    hints = weightfit.explain(text).hints
    assert any("weightfit check org/finetune --against" in h for h in hints), hints


def test_a_listing_with_an_unsafe_path_or_commit_is_refused(hub, llama_sharded, run_cli):
    hub.repos["org/evil"] = Repo(llama_sharded, extra_siblings=("../../escape.json",))
    _one_line(run_cli("inspect", "hf://org/evil"), 3, "unsafe path or size: '../../escape.json'")
    hub.repos["org/evil2"] = Repo(llama_sharded, commit="../../x")
    _one_line(run_cli("inspect", "hf://org/evil2"), 3, "'../../x', not a git hash")
    assert not (Path(os.environ["WEIGHTFIT_CACHE"]).parent / "escape.json").exists()


def test_a_cache_that_cannot_be_written_is_one_error(
    hub, llama_sharded, run_cli, monkeypatch, tmp_path
):
    hub.repos["org/llama"] = Repo(llama_sharded)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setenv("WEIGHTFIT_CACHE", str(blocked))
    _one_line(run_cli("inspect", "hf://org/llama"), 3, "destination not writable", "header mirror")


def test_a_large_repo_is_listed_from_its_tree(hub, llama_sharded, monkeypatch):
    hub.repos["org/llama"] = Repo(llama_sharded)
    hub.tree_page = 4
    monkeypatch.setattr(hub_client, "LARGE_REPO_FILES", 3)
    _same_tensors(weightfit.read(llama_sharded), weightfit.read("hf://org/llama"))
    tree = [p for p in hub.api.paths if "/tree/" in p]
    files = len(list(llama_sharded.iterdir()))
    assert len(tree) == -(-files // 4)  # every page followed
    assert all("/tree/0123456789abcdef" in p for p in tree)  # at the listed commit
