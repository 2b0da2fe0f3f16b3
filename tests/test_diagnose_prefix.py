"""``prefix``: wrapper prefixes written by torch.compile, DataParallel and PEFT-style nesting."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from diagnose_helpers import (
    after_fix,
    categories,
    findings_for,
    only,
    save_safetensors,
    save_torch,
)
from seeds import write_sparse_safetensors
from weightfit.targets import resolve


class Net(nn.Module):
    def __init__(self, width: int = 16, depth: int = 3) -> None:
        super().__init__()
        self.embed = nn.Linear(8, width)
        self.blocks = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, 4)


def test_torch_compile_orig_mod_prefix_is_one_finding(tmp_path: Path) -> None:
    model = Net()
    compiled = torch.compile(model)  # construction only; never run
    state = compiled.state_dict()
    assert next(iter(state)).startswith("_orig_mod.")
    path = save_safetensors(tmp_path / "compiled.safetensors", state)

    findings = findings_for(path, Net())

    assert categories(findings) == ["prefix"]
    finding = only(findings, "prefix")
    assert finding.severity == "error"
    assert len(finding.params) == len(state)
    assert finding.evidence["strip"] == "_orig_mod." and finding.evidence["add"] == ""
    assert "torch.compile" in finding.message
    assert [(op.kind, op.args) for op in finding.fix] == [
        ("rename", {"strip": "_orig_mod.", "add": ""})
    ]


def test_data_parallel_module_prefix_from_torch_save(tmp_path: Path) -> None:
    wrapped = nn.DataParallel(Net())
    path = save_torch(tmp_path / "ddp.pt", wrapped.state_dict())

    findings = findings_for(path, Net())

    finding = only(findings, "prefix")
    assert categories(findings) == ["prefix"]
    assert finding.evidence["strip"] == "module."
    assert "DistributedDataParallel" in finding.message
    assert finding.params[0] == "module.embed.weight"


def test_prefix_added_on_the_model_side(tmp_path: Path) -> None:
    class Wrapper(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = Net()

    path = save_safetensors(tmp_path / "bare.safetensors", Net().state_dict())

    finding = only(findings_for(path, Wrapper()), "prefix")

    assert finding.evidence["strip"] == "" and finding.evidence["add"] == "model."
    assert finding.fix[0].args == {"strip": "", "add": "model."}


def test_compatible_pair_yields_no_finding(tmp_path: Path) -> None:
    path = save_safetensors(tmp_path / "plain.safetensors", Net().state_dict())

    assert findings_for(path, Net()) == []


def test_the_prefix_op_makes_the_names_fit(tmp_path: Path) -> None:
    path = save_safetensors(tmp_path / "compiled.safetensors", torch.compile(Net()).state_dict())

    assert after_fix(path, Net()) == []


def test_a_controlnet_against_its_unet_strips_no_prefix(tmp_path: Path) -> None:
    # Only controlnet_cond_embedding.conv_out's tail is a UNet name (conv_out), of another
    # shape: two of its sixteen tensors, no module moved whole (before: prefix, exact, 1.0).
    unet = {"block_out_channels": [320, 640, 1280, 1280], "cross_attention_dim": 768}
    folders = {}
    for name, config in (
        ("controlnet", {"_class_name": "ControlNetModel", **unet}),
        ("unet", {"_class_name": "UNet2DConditionModel", **unet}),
    ):
        folders[name] = tmp_path / name
        folders[name].mkdir()
        (folders[name] / "config.json").write_text(json.dumps(config))
    checkpoint = write_sparse_safetensors(
        tmp_path / "cn.safetensors", resolve(folders["controlnet"])
    )

    assert "prefix" not in categories(findings_for(checkpoint, folders["unet"]))
