"""``weightfit.check``: real saved checkpoints against real modules, the report it builds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

import weightfit
from weightfit.align import align
from weightfit.diagnose.provenance import provenance_findings
from weightfit.errors import CheckpointNotFound
from weightfit.findings import Finding
from weightfit.manifest import Manifest, TensorSpec, from_shapes
from weightfit.ranking import build_report
from weightfit.targets import resolve


class Block(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.attn = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.norm = nn.LayerNorm(width)


class Net(nn.Module):
    def __init__(self, width: int = 16, depth: int = 4, classes: int = 10) -> None:
        super().__init__()
        self.embed = nn.Linear(8, width)
        self.blocks = nn.ModuleList(Block(width) for _ in range(depth))
        self.head = nn.Linear(width, classes)


def save(path: Path, state: dict[str, torch.Tensor], **metadata: str) -> Path:
    save_file({k: v.contiguous() for k, v in state.items()}, str(path), metadata=metadata or None)
    return path


def test_a_checkpoint_of_the_same_model_is_compatible(tmp_path: Path) -> None:
    net = Net()
    ckpt = save(tmp_path / "model.safetensors", net.state_dict())
    report = weightfit.check(ckpt, net)
    assert report.compatible
    assert [f for f in report.findings if f.severity != "info"] == []
    summary = report.summary
    assert summary["exact"] == summary["source_tensors"] == summary["target_tensors"] == 28
    assert summary["shape_mismatches"] == summary["missing"] == summary["unexpected"] == 0
    assert summary["differences"] == []
    assert summary["params_reinitialised"] == 0
    assert report.source == str(ckpt)


def test_ddp_prefix_is_one_finding_and_no_difference_rows(tmp_path: Path) -> None:
    net = Net()
    state = {f"module.{k}": v for k, v in net.state_dict().items()}
    report = weightfit.check(save(tmp_path / "ddp.safetensors", state), net)
    assert not report.compatible
    assert [f.category for f in report.findings] == ["prefix"]
    assert report.summary["renamed"] == 28
    assert report.summary["differences"] == []
    # A module built in Python has no command-line form: the hint is the Python call.
    assert report.hints == [
        "write a reviewable plan: weightfit.fix(checkpoint, target, out, plan_only=True)"
    ]


def test_the_fix_hint_repeats_the_inputs_as_a_command(tmp_path: Path) -> None:
    model_file = tmp_path / "my models.py"
    model_file.write_text(
        "from torch import nn\n"
        "def build(width=16):\n"
        "    return nn.Sequential(nn.Linear(8, width), nn.Linear(width, 4))\n"
    )
    state = nn.Sequential(nn.Linear(8, 32), nn.Linear(32, 4)).state_dict()
    path = tmp_path / "train.pt"
    torch.save({"model": {f"module.{k}": v for k, v in state.items()}, "step": 3}, path)
    report = weightfit.check(path, f"{model_file}:build", kwargs={"width": 32}, key="model")
    assert [f.category for f in report.findings if f.severity == "error"] == ["prefix"]
    assert report.hints[-1] == (
        f"write a reviewable plan: weightfit fix {path} --against '{model_file}:build' "
        """--kwargs '{"width": 32}' --key model -o OUT --plan-only"""
    )


def test_the_fix_hint_is_data_the_hint_spells(tmp_path: Path) -> None:
    from weightfit.fix_hint import FixTarget, spell

    net = Net()
    path = tmp_path / "ddp run.pt"
    torch.save({"model": {f"module.{k}": v for k, v in net.state_dict().items()}}, path)
    target = save(tmp_path / "target.safetensors", net.state_dict())
    report = weightfit.check(path, target, key="model")
    hint = report.fix_hint
    assert hint is not None
    prefix = report.by_category("prefix")[0]
    assert hint.ops == prefix.fix
    assert hint.target == FixTarget(str(path), str(target), key="model")
    assert (
        spell(hint)
        == report.hints[-1]
        == (
            f"write a reviewable plan: weightfit fix '{path}' --against {target} "
            "--key model -o OUT --plan-only"
        )
    )
    in_python = weightfit.check(path, net, key="model").fix_hint
    assert in_python is not None and in_python.target is None
    assert weightfit.check(target, net).fix_hint is None


def test_counts_and_folded_differences(tmp_path: Path) -> None:
    saved = Net(classes=1000).state_dict()
    del saved["blocks.3.norm.weight"]
    saved["extra.step"] = torch.zeros(())
    report = weightfit.check(save(tmp_path / "c.safetensors", saved), Net(classes=10))
    summary = report.summary
    assert not report.compatible
    assert summary["shape_mismatches"] == 2  # head.weight and head.bias
    assert summary["missing"] == 1
    assert summary["unexpected"] == 1
    # The missing LayerNorm weight would be freshly initialised (16 elements) at least.
    assert summary["params_reinitialised"] >= 16
    kinds = {(row["kind"], row["name"]) for row in summary["differences"]}
    assert {("shape", "head.weight"), ("missing", "blocks.3.norm.weight")} <= kinds
    assert ("unexpected", "extra.step") in kinds
    assert sum(summary["findings"].values()) == len(report.findings)


def test_repeated_layers_fold_into_one_difference_row() -> None:
    source = from_shapes({f"blocks.{i}.attn.qkv.weight": (48, 8) for i in range(28)})
    target = from_shapes({f"blocks.{i}.attn.qkv.weight": (48, 16) for i in range(28)})
    report = build_report(align(source, target), [])
    assert report.summary["differences"] == [
        {
            "kind": "shape",
            "name": "blocks.{0..27}.attn.qkv.weight",
            "count": 28,
            "checkpoint": {"shape": [48, 8], "dtype": "F32"},
            "model": {"shape": [48, 16], "dtype": "F32"},
            "category": "",
        }
    ]
    assert not report.compatible or report.findings == []


def test_findings_rank_by_severity_then_params_covered() -> None:
    source = from_shapes({"a": (1000,), "b": (10,), "c": (5000,)})
    alignment = align(source, source)
    findings = [
        Finding("extra_state", "info", "benign", params=["c"]),
        Finding("missing", "error", "small", params=["b"]),
        Finding("num_classes", "error", "large", params=["a"]),
        Finding("dtype_variant", "warning", "probably wrong", params=["c"]),
    ]
    report = build_report(alignment, findings)
    assert [f.message for f in report.findings] == ["large", "small", "probably wrong", "benign"]
    assert report.summary["params_by_category"] == {
        "num_classes": 1000,
        "missing": 10,
        "dtype_variant": 5000,
        "extra_state": 5000,
    }
    assert not report.compatible
    benign = build_report(alignment, [findings[0]])
    assert benign.compatible


def test_a_manifest_is_accepted_as_checkpoint() -> None:
    net = Net()
    manifest = Manifest(
        tensors={k: TensorSpec(k, tuple(v.shape), "F32") for k, v in net.state_dict().items()},
        source="<built>",
        format="shapes",
    )
    report = weightfit.check(manifest, net)
    assert report.compatible
    assert report.source == "<built>"


def test_factory_target_with_kwargs(tmp_path: Path) -> None:
    model_file = tmp_path / "models.py"
    model_file.write_text(
        "from torch import nn\n"
        "def build(width=16, classes=10):\n"
        "    return nn.Sequential(nn.Linear(8, width), nn.Linear(width, classes))\n"
    )
    state = nn.Sequential(nn.Linear(8, 32), nn.Linear(32, 10)).state_dict()
    ckpt = save(tmp_path / "seq.safetensors", state)
    assert not weightfit.check(ckpt, f"{model_file}:build").compatible
    assert weightfit.check(ckpt, f"{model_file}:build", kwargs={"width": 32}).compatible


def test_key_selects_the_state_dict_inside_a_container(tmp_path: Path) -> None:
    net = Net()
    path = tmp_path / "train.pt"
    torch.save({"model": net.state_dict(), "ema": Net(width=8).state_dict(), "step": 3}, path)
    assert weightfit.check(path, net, key="model").compatible
    assert not weightfit.check(path, net, key="ema").compatible


def test_missing_checkpoint_raises_not_found(tmp_path: Path) -> None:
    with pytest.raises(CheckpointNotFound):
        weightfit.check(tmp_path / "nope.safetensors", Net())


def test_stamp_for_another_target_class_adds_a_version_finding(tmp_path: Path) -> None:
    net = Net()
    ckpt = save(
        tmp_path / "fixed.safetensors",
        net.state_dict(),
        **{
            "weightfit.version": "0.1.0",
            "weightfit.target_class": "transformers.models.llama.LlamaForCausalLM",
        },
    )
    report = weightfit.check(ckpt, net)
    versions = report.by_category("version")
    assert len(versions) == 1
    assert "LlamaForCausalLM" in versions[0].message
    assert versions[0].evidence["target_class"].endswith("Net")
    assert not report.compatible


def test_stamp_for_the_same_target_adds_nothing() -> None:
    net = Net()
    target = resolve(net)
    source = Manifest(
        tensors=dict(target.tensors),
        source="<stamped>",
        format="safetensors",
        metadata={
            "weightfit.target_class": target.extras["target_class"],
            "weightfit.libraries": json.dumps({"torch": torch.__version__}),
        },
    )
    assert provenance_findings(source, target) == []
