"""``missing`` / ``unexpected``: what no rule explains, one finding per side, folded by layer."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from diagnose_helpers import categories, findings_for, only, save_safetensors


class Block(nn.Module):
    def __init__(self, width: int, adapter: bool) -> None:
        super().__init__()
        self.attn = nn.Linear(width, width)
        if adapter:
            self.adapter = nn.Linear(width, 4)


class Net(nn.Module):
    def __init__(self, *, adapter: bool = False, extra_head: bool = False) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(Block(16, adapter) for _ in range(6))
        self.head = nn.Linear(16, 3)
        if extra_head:
            self.aux_head = nn.Linear(16, 7)


def test_unexplained_tensors_fold_into_templates(tmp_path: Path) -> None:
    path = save_safetensors(tmp_path / "adapters.safetensors", Net(adapter=True).state_dict())

    findings = findings_for(path, Net(extra_head=True))

    assert categories(findings) == ["missing", "unexpected"]
    missing = only(findings, "missing")
    assert missing.params == ["aux_head.weight", "aux_head.bias"]
    unexpected = only(findings, "unexpected")
    assert len(unexpected.params) == 12
    groups = {g["template"]: g["count"] for g in unexpected.evidence["groups"]}
    assert groups == {"blocks.{0..5}.adapter.weight": 6, "blocks.{0..5}.adapter.bias": 6}
    assert "blocks.{0..5}.adapter.weight ×6" in unexpected.message
    assert unexpected.evidence["params"] == 6 * (16 * 4 + 4)
    assert unexpected.fix == [] and missing.fix == []


def test_nothing_left_yields_no_finding(tmp_path: Path) -> None:
    path = save_safetensors(tmp_path / "net.safetensors", Net().state_dict())

    assert findings_for(path, Net()) == []
