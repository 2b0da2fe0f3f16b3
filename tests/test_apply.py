"""The streaming applier on real files: values, shards, stamp, atomic output, verification."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

import weightfit
from weightfit.apply import PLAN_FILE, WriteOptions, apply, parse_size
from weightfit.errors import (
    DestinationExists,
    InvalidPlan,
    UnsupportedTensor,
    UsageError,
    VerificationFailed,
)
from weightfit.manifest import from_shapes
from weightfit.plan import Op, Plan


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def outputs(folder: Path) -> dict[str, torch.Tensor]:
    tensors: dict[str, torch.Tensor] = {}
    for file in sorted(folder.glob("*.safetensors")):
        tensors.update(load_file(file))
    return tensors


def metadata(file: Path) -> dict[str, str]:
    with safe_open(file, "pt") as handle:
        return handle.metadata()


@pytest.fixture
def checkpoint(tmp_path: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    state = {
        "module.embed.weight": torch.randn(10, 8),
        "module.conv.weight": torch.randn(16, 4, 2, 2),
        "module.conv.bias": torch.randn(16),
        "module.qkv.weight": torch.randn(24, 8).to(torch.bfloat16),
        "module.steps": torch.tensor([1000]),
    }
    path = tmp_path / "src" / "model.safetensors"
    path.parent.mkdir()
    save_file(state, path)
    return path, state


PLAN = Plan(
    [
        Op("drop", {"name": "module.steps"}, "extra_state"),
        Op("rename", {"strip": "module.", "add": ""}, "prefix"),
        Op("unsqueeze", {"name": "conv.weight", "dim": 2}, "rank_inflate"),
        Op(
            "split",
            {
                "name": "qkv.weight",
                "into": ["q.weight", "k.weight", "v.weight"],
                "sizes": [8, 8, 8],
            },
        ),
        Op("pad_rows", {"name": "embed.weight", "rows": 11, "pad_to_multiple_of": 4}),
    ],
    source="model.safetensors",
    target="tests",
)


def test_apply_writes_every_value(tmp_path: Path, checkpoint: tuple[Path, dict]) -> None:
    path, state = checkpoint
    result = apply(PLAN, path, tmp_path / "out")
    out = outputs(tmp_path / "out")
    assert result.files == ["model.safetensors", PLAN_FILE]
    assert sorted(out) == [
        "conv.bias",
        "conv.weight",
        "embed.weight",
        "k.weight",
        "q.weight",
        "v.weight",
    ]
    assert torch.equal(out["conv.weight"], state["module.conv.weight"].unsqueeze(2))
    assert torch.equal(out["conv.bias"], state["module.conv.bias"])
    assert torch.equal(out["k.weight"], state["module.qkv.weight"][8:16])
    assert out["embed.weight"].shape == (12, 8)
    assert torch.equal(out["embed.weight"][:10], state["module.embed.weight"])
    assert result.left_out == ["module.steps"]
    assert result.tensors == 6


def test_apply_output_is_what_weightfit_reads_back(tmp_path: Path, checkpoint: tuple) -> None:
    path, _ = checkpoint
    result = apply(PLAN, path, tmp_path / "out")
    manifest = weightfit.read(tmp_path / "out" / "model.safetensors")
    assert manifest.shapes() == result.manifest.shapes()
    assert manifest["q.weight"].dtype == "BF16"


def test_sharded_output_loads_with_transformers(tmp_path: Path) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=128,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    source = tmp_path / "llama"
    model.save_pretrained(source)
    result = apply(Plan([]), source / "model.safetensors", tmp_path / "out", shard_size="40kB")
    shards = [f for f in result.files if f.startswith("model-")]
    assert len(shards) > 1 and shards[0] == f"model-00001-of-{len(shards):05d}.safetensors"
    index = json.loads((tmp_path / "out" / "model.safetensors.index.json").read_text())
    assert index["metadata"]["total_size"] == result.bytes
    assert index["metadata"]["weightfit.plan_sha256"] == Plan([]).digest()
    config.save_pretrained(tmp_path / "out")
    fresh = LlamaForCausalLM.from_pretrained(tmp_path / "out")
    for name, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[name], value), name


def test_every_tensor_starts_aligned_to_its_element_size(tmp_path: Path) -> None:
    state = {"a": torch.ones(3, dtype=torch.uint8), "b": torch.ones(3), "c": torch.ones(3).half()}
    save_file(state, tmp_path / "s.safetensors")
    apply(Plan([]), tmp_path / "s.safetensors", tmp_path / "out")
    manifest = weightfit.read(tmp_path / "out" / "model.safetensors")
    for spec in manifest.tensors.values():
        size = {"F32": 4, "F16": 2, "U8": 1}[spec.dtype]
        assert spec.location is not None and spec.location.offset % size == 0


def test_provenance_stamp(tmp_path: Path, checkpoint: tuple) -> None:
    path, _ = checkpoint
    result = apply(PLAN, path, tmp_path / "out")
    stamp = metadata(tmp_path / "out" / "model.safetensors")
    assert stamp["format"] == "pt"
    assert stamp["weightfit.version"] == weightfit.__version__
    assert stamp["weightfit.plan_sha256"] == PLAN.digest()
    assert json.loads(stamp["weightfit.sources"]) == [
        {"file": "model.safetensors", "sha256": sha256(path)}
    ]
    libraries = json.loads(stamp["weightfit.libraries"])
    assert libraries["torch"] == torch.__version__ and "safetensors" in libraries
    assert result.stamp == stamp


def test_no_hash_records_files_without_digests(tmp_path: Path, checkpoint: tuple) -> None:
    path, _ = checkpoint
    apply(PLAN, path, tmp_path / "out", hash_sources=False)
    stamp = metadata(tmp_path / "out" / "model.safetensors")
    assert json.loads(stamp["weightfit.sources"]) == [{"file": "model.safetensors", "sha256": None}]


def test_write_options_are_the_keywords_as_one_value(tmp_path: Path, checkpoint: tuple) -> None:
    path, _ = checkpoint
    calls: list[tuple[int, int, int, int]] = []
    options = WriteOptions(hash_sources=False, basename="w", progress=lambda *a: calls.append(a))
    result = apply(PLAN, path, tmp_path / "out", options=options)
    assert result.files[0] == "w.safetensors" and len(calls) == result.tensors
    stamp = metadata(tmp_path / "out" / "w.safetensors")
    assert json.loads(stamp["weightfit.sources"]) == [{"file": "model.safetensors", "sha256": None}]
    with pytest.raises(UsageError, match="not both"):
        apply(PLAN, path, tmp_path / "again", options=options, overwrite=True)
    assert not (tmp_path / "again").exists()


def test_target_class_and_config_hash_are_stamped(tmp_path: Path) -> None:
    from torch import nn

    model = nn.Linear(4, 2)
    save_file({"weight": torch.randn(2, 4), "bias": torch.randn(2)}, tmp_path / "s.safetensors")
    apply(Plan([]), tmp_path / "s.safetensors", tmp_path / "out", target=model)
    stamp = metadata(tmp_path / "out" / "model.safetensors")
    assert stamp["weightfit.target_class"] == "torch.nn.modules.linear.Linear"


def test_plan_saved_as_yaml_applies_identically(tmp_path: Path, checkpoint: tuple) -> None:
    path, _ = checkpoint
    PLAN.dump(tmp_path / "plan.yaml")
    reloaded = Plan.load(tmp_path / "plan.yaml")
    assert reloaded.digest() == PLAN.digest()
    apply(PLAN, path, tmp_path / "direct")
    apply(tmp_path / "plan.yaml", path, tmp_path / "from-yaml")
    for name in ("model.safetensors", PLAN_FILE):
        assert (tmp_path / "direct" / name).read_bytes() == (
            tmp_path / "from-yaml" / name
        ).read_bytes()


def test_dtype_option_casts_floats_at_the_end(tmp_path: Path, checkpoint: tuple) -> None:
    path, state = checkpoint
    result = apply(PLAN, path, tmp_path / "out", dtype="fp16")
    out = outputs(tmp_path / "out")
    assert {value.dtype for value in out.values()} == {torch.float16}
    assert torch.equal(out["conv.bias"], state["module.conv.bias"].half())
    assert result.plan.ops[-1] == Op("cast", {"to": "F16"}, "--dtype fp16")


def test_unknown_dtype_option_is_a_usage_error(tmp_path: Path, checkpoint: tuple) -> None:
    with pytest.raises(UsageError) as info:
        apply(PLAN, checkpoint[0], tmp_path / "out", dtype="int4")
    assert (
        str(info.value) == "usage error: unknown floating-point dtype 'int4' (try bf16, fp16, fp32)"
    )


def test_existing_destination_is_refused_then_replaced(tmp_path: Path, checkpoint: tuple) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(DestinationExists) as info:
        apply(PLAN, checkpoint[0], out)
    assert (
        str(info.value)
        == f"{out}: destination exists: pass overwrite=True (--overwrite) to replace it"
    )
    apply(PLAN, checkpoint[0], out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["model.safetensors", PLAN_FILE]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_output_folder_holding_the_source_is_refused(tmp_path: Path, checkpoint: tuple) -> None:
    path, _ = checkpoint
    with pytest.raises(UsageError) as info:
        apply(PLAN, path, path.parent, overwrite=True)
    assert "the output folder holds the source file model.safetensors" in str(info.value)
    assert path.exists()


def test_plan_that_does_not_fit_writes_nothing(tmp_path: Path, checkpoint: tuple) -> None:
    with pytest.raises(InvalidPlan):
        apply(Plan([Op("drop", {"name": "nope"})]), checkpoint[0], tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def test_output_that_would_not_match_the_target_is_refused_before_writing(
    tmp_path: Path, checkpoint: tuple
) -> None:
    target = from_shapes(
        {
            "embed.weight": (12, 8),
            "conv.weight": (16, 4, 1, 2, 2),
            "conv.bias": (16,),
            "q.weight": (8, 8),
            "k.weight": (8, 8),
            "v.weight": (8, 8),
            "norm.weight": (8,),
        },
        source="target",
    )
    plan = Plan([*PLAN.ops, Op("drop", {"name": "v.weight"})])
    with pytest.raises(VerificationFailed) as info:
        apply(plan, checkpoint[0], tmp_path / "out", target=target)
    assert str(info.value) == (
        "verification failed: the plan's output would not match target: "
        "2 missing: v.weight, norm.weight"
    )
    assert not (tmp_path / "out").exists()
    fixed = Plan([*PLAN.ops, Op("reinit", {"name": "norm.weight"})])
    result = apply(fixed, checkpoint[0], tmp_path / "out", target=target)
    assert result.verified_against == "target"
    assert result.reinitialised == ["norm.weight"]


def test_tied_copy_may_be_absent(tmp_path: Path) -> None:
    target = from_shapes({"embed.weight": (4, 2), "lm_head.weight": (4, 2)}, source="tied")
    target.extras["tied"] = {"lm_head.weight": "embed.weight"}
    save_file({"embed.weight": torch.randn(4, 2)}, tmp_path / "s.safetensors")
    result = apply(Plan([]), tmp_path / "s.safetensors", tmp_path / "out", target=target)
    assert result.verified_against == "tied"


def test_stale_temporary_folders_of_dead_runs_are_removed(
    tmp_path: Path, checkpoint: tuple
) -> None:
    stale = tmp_path / ".out.weightfit-tmp-999999999-deadbeef"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"partial")
    apply(PLAN, checkpoint[0], tmp_path / "out")
    assert not stale.exists()


def test_progress_reports_tensors_and_bytes(tmp_path: Path, checkpoint: tuple) -> None:
    calls: list[tuple[int, int, int, int]] = []
    result = apply(PLAN, checkpoint[0], tmp_path / "out", progress=lambda *a: calls.append(a))
    assert calls[-1] == (6, 6, result.bytes, result.bytes)
    assert [c[0] for c in calls] == list(range(1, 7))


def test_source_is_unchanged(tmp_path: Path, checkpoint: tuple) -> None:
    path, _ = checkpoint
    before, mtime = sha256(path), os.stat(path).st_mtime_ns
    apply(PLAN, path, tmp_path / "out", dtype="bf16")
    assert sha256(path) == before and os.stat(path).st_mtime_ns == mtime


def test_apply_from_torch_save_zip_with_views(tmp_path: Path) -> None:
    torch.manual_seed(0)
    base = torch.randn(6, 4)
    state = {"t": base.t(), "row": base[2], "full": base, "half": torch.randn(3, 3).half()}
    torch.save(state, tmp_path / "ckpt.pt")
    apply(Plan([]), tmp_path / "ckpt.pt", tmp_path / "out")
    out = outputs(tmp_path / "out")
    for name, value in state.items():
        assert torch.equal(out[name], value), name


@pytest.mark.parametrize(
    ("text", "size"),
    [("5GB", 5 * 10**9), ("500MB", 5 * 10**8), ("2GiB", 2 * 2**30), ("1.5kB", 1500), ("64", 64)],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_parse_size_rejects_nonsense() -> None:
    with pytest.raises(UsageError) as info:
        parse_size("five")
    assert str(info.value) == "usage error: not a size: 'five' (expected e.g. 5GB, 500MB, 2GiB)"


def test_relative_paths_from_the_working_folder(
    tmp_path: Path, checkpoint: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, state = checkpoint
    torch.save(state, path.parent / "ckpt.pt")
    monkeypatch.chdir(tmp_path)
    apply(PLAN, Path("src") / "ckpt.pt", Path("out") / "fixed")
    assert torch.equal(outputs(tmp_path / "out" / "fixed")["conv.bias"], state["module.conv.bias"])


def test_write_outcome_takes_recipes_built_by_hand(tmp_path: Path) -> None:
    """What an adapter merge does: one output tensor computed from two source tensors."""
    from dataclasses import replace

    from weightfit import ops
    from weightfit.apply import write_outcome
    from weightfit.ops.recipes import Recipe

    torch.manual_seed(0)
    state = {"w": torch.randn(4, 3), "lora_B": torch.randn(4, 2), "lora_A": torch.randn(2, 3)}
    save_file(state, tmp_path / "s.safetensors")
    outcome = ops.run(Plan([]), weightfit.read(tmp_path / "s.safetensors"))
    base, b, a = (outcome.recipes.pop(name) for name in ("w", "lora_B", "lora_A"))
    outcome.recipes["w"] = Recipe(
        spec=base.spec,
        inputs=(base, b, a),
        fn=lambda values: values[0] + 0.5 * values[1] @ values[2],
        ops=("merge",),
    )
    result = write_outcome(
        outcome, tmp_path / "out", plan=Plan([]), stamp={"weightfit.adapter": "lora"}
    )
    merged = load_file(tmp_path / "out" / "model.safetensors")["w"]
    assert torch.equal(merged, state["w"] + 0.5 * state["lora_B"] @ state["lora_A"])
    assert result.stamp["weightfit.adapter"] == "lora"
    assert replace(result.manifest["w"], location=None) == replace(base.spec, location=None)


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_conj_and_neg_views_are_written_with_their_loaded_values(
    tmp_path: Path, zip_format: bool
) -> None:
    """torch.save keeps a conj/neg view's raw storage and a flag: copying the bytes flips signs."""
    z = torch.randn(4, dtype=torch.complex64)
    state = {
        "module.z": z.conj(),
        "module.im": torch.randn(4, dtype=torch.complex64).conj().imag,
        "module.plain": torch.randn(4),
    }
    path = tmp_path / "views.pt"
    torch.save(state, path, _use_new_zipfile_serialization=zip_format)
    plan = Plan([Op("rename", {"strip": "module.", "add": ""}, "prefix")], source="views.pt")
    apply(plan, path, tmp_path / "out")
    out = outputs(tmp_path / "out")
    loaded = torch.load(path)
    for name in ("z", "im", "plain"):
        assert torch.equal(out[name], loaded[f"module.{name}"].resolve_conj().resolve_neg())


def test_big_endian_arrays_are_written_with_their_values(tmp_path: Path) -> None:
    """np.savez keeps '>f4' bytes as they are; safetensors is little-endian."""
    arrays = {
        "module.f32": np.arange(6, dtype=">f4").reshape(2, 3),
        "module.f16": np.linspace(-1, 1, 5).astype(">f2"),
        "module.i64": np.arange(4, dtype=">i8"),
        "module.c64": (np.arange(3) + 1j * np.arange(3)).astype(">c8"),
        "module.le": np.arange(3, dtype="<f4"),
    }
    path = tmp_path / "be.npz"
    np.savez(path, **arrays)
    plan = Plan([Op("rename", {"strip": "module.", "add": ""}, "prefix")], source="be.npz")
    apply(plan, path, tmp_path / "out")
    out = outputs(tmp_path / "out")
    for name, array in arrays.items():
        assert np.array_equal(out[name.removeprefix("module.")].numpy(), array), name


def test_a_big_endian_gguf_is_written_with_its_values(tmp_path: Path) -> None:
    gguf = pytest.importorskip("gguf")
    path = tmp_path / "be.gguf"
    writer = gguf.GGUFWriter(path, "llama", endianess=gguf.GGUFEndian.BIG)
    values = np.arange(8, dtype=np.float32)
    writer.add_tensor("token_embd.weight", values)  # the writer swaps the bytes
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    plan = Plan([Op("rename", {"from": "token_embd.weight", "to": "w"}, "x")], source="be.gguf")
    apply(plan, path, tmp_path / "out")
    assert np.array_equal(outputs(tmp_path / "out")["w"].numpy(), values)


@pytest.mark.parametrize(
    ("tensor", "dtype"),
    [
        (torch.arange(4, dtype=torch.uint8).view(torch.float4_e2m1fn_x2), "float4_e2m1fn_x2"),
        (torch.zeros(2, dtype=torch.complex128), "C128"),
    ],
    ids=["fp4-pairs", "complex128"],
)
def test_a_dtype_safetensors_cannot_store_is_refused_before_writing(
    tmp_path: Path, tensor: torch.Tensor, dtype: str
) -> None:
    """Read from torch.save, these have a dtype safetensors' reference does not define."""
    path = tmp_path / "src.pt"
    torch.save({"module.t": tensor}, path)
    plan = Plan([Op("rename", {"strip": "module.", "add": ""}, "prefix")], source="src.pt")
    with pytest.raises(UnsupportedTensor) as raised:
        apply(plan, path, tmp_path / "out")
    assert str(raised.value) == (
        f"unsupported tensor: t: dtype {dtype} cannot be written to safetensors; "
        "drop it or select around it"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src.pt"]
