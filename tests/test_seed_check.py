"""The seed cases, at their real names and shapes, diagnosed by ``weightfit check``.

Checkpoints are sparse safetensors files of full size (headers only on disk);
model sides are the seeds' manifests, a sparse file of them for the command
line, or (case 1 under diffusers names) a real diffusers class built on ``meta``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

import seeds
import weightfit
from weightfit.findings import Report
from weightfit.report.check import SCHEMA_PATH

VALIDATOR = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def only(report: Report, category: str):
    found = report.by_category(category)
    assert len(found) == 1, [f"{f.category}: {f.message}" for f in report.findings]
    return found[0]


def blocking(report: Report) -> list[str]:
    return sorted(f.category for f in report.findings if f.severity in ("error", "warning"))


# --- case 1: Sana checkpoint trained with gemma-2-2b-it, model built for Qwen2.5-1.5B ---------


@pytest.fixture(scope="module")
def case1(tmp_path_factory: pytest.TempPathFactory) -> Report:
    ckpt = seeds.case1_checkpoint(tmp_path_factory.mktemp("case1"))
    return weightfit.check(ckpt, seeds.seed_manifest(1, "model"))


def test_case1_is_an_encoder_swap_naming_both_encoders(case1: Report) -> None:
    assert not case1.compatible
    assert blocking(case1) == ["encoder_swap"]
    swap = only(case1, "encoder_swap")
    assert sorted(swap.params) == ["y_embedder.y_embedding", "y_embedder.y_proj.fc1.weight"]
    assert swap.evidence["checkpoint_width"] == 2304
    assert swap.evidence["model_width"] == 1536
    assert any("gemma-2-2b-it" in m for m in swap.evidence["checkpoint_width_matches"])
    assert any("Qwen2.5-1.5B" in m for m in swap.evidence["model_width_matches"])
    assert "2304" in swap.message and "gemma-2-2b-it" in swap.message
    assert "1536" in swap.message and "Qwen2.5-1.5B" in swap.message


def test_case1_fix_is_not_shape_repair_but_reinit_of_the_two(case1: Report) -> None:
    swap = only(case1, "encoder_swap")
    assert "not shape-repairable" in swap.fix_note
    assert [(op.kind, op.args["name"]) for op in swap.fix] == [
        ("reinit", "y_embedder.y_embedding"),
        ("reinit", "y_embedder.y_proj.fc1.weight"),
    ]
    assert all(op.safety.value == "needs-review" for op in swap.fix)


def test_case1_summary_and_folded_differences(case1: Report) -> None:
    summary = case1.summary
    assert summary["source_tensors"] == summary["target_tensors"] == 318
    assert summary["shape_mismatches"] == 2
    assert summary["missing"] == summary["unexpected"] == 0
    shape_rows = [row for row in summary["differences"] if row["kind"] == "shape"]
    assert [(row["name"], row["category"]) for row in shape_rows] == [
        ("y_embedder.y_embedding", "encoder_swap"),
        ("y_embedder.y_proj.fc1.weight", "encoder_swap"),
    ]


def test_case1_under_diffusers_names_against_a_real_config(tmp_path: Path) -> None:
    case = seeds.case1_diffusers(tmp_path)
    report = weightfit.check(case.checkpoint, case.target)
    swap = only(report, "encoder_swap")
    assert "caption_projection.linear_1.weight" in swap.params
    assert swap.evidence["checkpoint_width"] == 2304
    assert swap.evidence["model_width"] == 1536
    assert blocking(report) == ["encoder_swap"]


# --- case 2: Open-Sora 3D patch embedding loading Meta's 2D DiT-XL/2 -------------------------


@pytest.fixture(scope="module")
def case2(tmp_path_factory: pytest.TempPathFactory) -> Report:
    ckpt = seeds.case2_checkpoint(tmp_path_factory.mktemp("case2"))
    return weightfit.check(ckpt, seeds.seed_manifest(2, "model"))


def test_case2_is_a_rank_inflation_fixed_by_unsqueeze_at_dim_2(case2: Report) -> None:
    inflate = only(case2, "rank_inflate")
    assert inflate.params == ["x_embedder.proj.weight"]
    assert [(op.kind, op.args) for op in inflate.fix] == [
        ("unsqueeze", {"name": "x_embedder.proj.weight", "dim": 2})
    ]
    assert inflate.fix[0].safety.value == "exact"
    assert "[1152, 4, 2, 2]" in inflate.message and "[1152, 4, 1, 2, 2]" in inflate.message


def test_case2_pos_embed_against_spatial_and_temporal_tables(case2: Report) -> None:
    pos = only(case2, "pos_embed_resize")
    assert {"pos_embed", "pos_embed_temporal"} <= set(pos.params)
    assert "pos_embed_spatial" in pos.message
    # Nothing about the position tables is left unexplained.
    assert not case2.by_category("missing") and not case2.by_category("unexpected")
    assert blocking(case2) == ["pos_embed_resize", "rank_inflate"]


# --- case 4: LoRA adapter with a resized vocabulary merged into the un-resized base -----------


@pytest.fixture(scope="module")
def case4(tmp_path_factory: pytest.TempPathFactory) -> Report:
    folder = seeds.case4_adapter_folder(tmp_path_factory.mktemp("case4"))
    return weightfit.check(folder, seeds.seed_manifest(4, "model"))


def test_case4_is_a_vocab_resize_on_embeddings_and_head(case4: Report) -> None:
    resize = only(case4, "vocab_resize")
    assert sorted(resize.params) == [
        "base_model.model.lm_head.weight",
        "base_model.model.model.embed_tokens.weight",
    ]
    assert resize.evidence["checkpoint_rows"] == 32001
    assert resize.evidence["model_rows"] == 32000
    assert "32001" in resize.message and "32000" in resize.message
    # The pad_to_multiple_of statement: 32001 is no multiple of 8, so no padding was used.
    assert re.search(r"not a multiple of 8", resize.message)
    assert resize.evidence["pad_to_multiple_of"] is None
    assert "resize_token_embeddings(32001)" in resize.fix_note


# --- the command line on the seeds ----------------------------------------------------------


def test_cli_case1_exits_1_and_its_json_validates(tmp_path: Path, run_cli) -> None:
    ckpt = seeds.case1_checkpoint(tmp_path)
    model = seeds.write_sparse_safetensors(
        tmp_path / "model.safetensors", seeds.seed_manifest(1, "model")
    )
    result = run_cli("check", ckpt, "--against", model, "--json")
    assert result.code == 1, result.err
    data = json.loads(result.out)
    VALIDATOR.validate(data)
    assert "encoder_swap" in [f["category"] for f in data["findings"]]


def test_cli_case1_report_folds_repeated_layers(tmp_path: Path, run_cli) -> None:
    ckpt = seeds.case1_checkpoint(tmp_path)
    # A model side with the cross-attention built for the 1536-wide encoder too:
    # 20 layers differ the same way and fold into one row.
    model = {
        name: (
            (spec.shape[0], 1536) if name.endswith("cross_attn.kv_linear.weight") else spec.shape,
            spec.dtype,
        )
        for name, spec in seeds.seed_manifest(1, "model").tensors.items()
    }
    target = seeds.write_sparse_safetensors(tmp_path / "model.safetensors", model)
    result = run_cli("check", ckpt, "--against", target)
    assert result.code == 1, result.err
    assert "blocks.{0..19}.cross_attn.kv_linear.weight" in result.out
    assert "blocks.7.cross_attn.kv_linear.weight" not in result.out
    assert result.out.startswith("✗ incompatible")


def test_cli_case2_and_case4(tmp_path: Path, run_cli) -> None:
    ckpt2 = seeds.case2_checkpoint(tmp_path)
    model2 = seeds.write_sparse_safetensors(
        tmp_path / "dit3d.safetensors", seeds.seed_manifest(2, "model")
    )
    result = run_cli("check", ckpt2, "--against", model2, "--json")
    assert result.code == 1, result.err
    data = json.loads(result.out)
    VALIDATOR.validate(data)
    assert "rank_inflate" in {f["category"] for f in data["findings"]}

    adapter = seeds.case4_adapter_folder(tmp_path)
    model4 = seeds.write_sparse_safetensors(
        tmp_path / "peft.safetensors", seeds.seed_manifest(4, "model")
    )
    result = run_cli("check", adapter, "--against", model4, "--json")
    assert result.code == 1, result.err
    data = json.loads(result.out)
    VALIDATOR.validate(data)
    assert "vocab_resize" in {f["category"] for f in data["findings"]}
