"""``dtype_variant``: precision differences that matter (and the ones that do not)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from diagnose_helpers import blocking, categories, findings_for, only, save_safetensors


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(nn.Linear(16, 16) for _ in range(4))
        self.norm = nn.LayerNorm(16)


def _state(dtype: torch.dtype) -> dict[str, torch.Tensor]:
    return {k: v.to(dtype) for k, v in Net().state_dict().items()}


def test_bfloat16_checkpoint_into_a_float16_model_warns_of_overflow(tmp_path: Path) -> None:
    path = save_safetensors(tmp_path / "bf16.safetensors", _state(torch.bfloat16))

    findings = findings_for(path, Net().to(torch.float16))

    finding = only(findings, "dtype_variant")
    assert finding.severity == "warning"
    assert finding.evidence == {"checkpoint_dtype": "BF16", "model_dtype": "F16", "tensors": 10}
    assert "65504" in finding.message
    assert [(op.kind, op.args) for op in finding.fix] == [("cast", {"from": "BF16", "to": "F16"})]
    assert "torch_dtype=torch.bfloat16" in finding.fix_note


def test_float32_checkpoint_into_a_bfloat16_model_is_information(tmp_path: Path) -> None:
    path = save_safetensors(tmp_path / "fp32.safetensors", _state(torch.float32))

    findings = findings_for(path, Net().to(torch.bfloat16))

    assert blocking(findings) == []
    finding = only(findings, "dtype_variant")
    assert finding.evidence["checkpoint_dtype"] == "F32"
    assert finding.evidence["model_dtype"] == "BF16"


def test_matrices_in_two_precisions_are_a_mixture(tmp_path: Path) -> None:
    state = _state(torch.bfloat16)
    state["blocks.3.weight"] = state["blocks.3.weight"].float()
    path = save_safetensors(tmp_path / "mixed.safetensors", state)

    findings = findings_for(path, Net().to(torch.bfloat16))

    finding = next(f for f in findings if "mixes precisions" in f.message)
    assert finding.params == ["blocks.3.weight"]
    assert finding.evidence["matrices_by_dtype"] == {"BF16": 3, "F32": 1}


def test_widening_casts_yield_no_finding(tmp_path: Path) -> None:
    path = save_safetensors(tmp_path / "bf16.safetensors", _state(torch.bfloat16))

    assert categories(findings_for(path, Net())) == []
