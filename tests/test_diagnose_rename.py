"""``rename``: the same tensors under another implementation's names."""

from __future__ import annotations

import re
from pathlib import Path

from torch import nn

from diagnose_helpers import after_fix, categories, findings_for, only, save_safetensors
from weightfit.alignment import RenameRule
from weightfit.diagnose.rename import compile_rule


class Attention(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)


class TimmBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.attn = Attention(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width)
        )


class TimmStyle(nn.Module):
    """Original-code names: ``blocks.{i}.attn.proj``, ``blocks.{i}.mlp.0``."""

    def __init__(self, width: int = 16, depth: int = 4) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(TimmBlock(width) for _ in range(depth))


class DiffusersAttention(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.qkv = nn.Linear(width, 3 * width)
        self.to_out = nn.ModuleList([nn.Linear(width, width), nn.Dropout()])


class DiffusersBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.attn = DiffusersAttention(width)
        self.ff = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))


class DiffusersStyle(nn.Module):
    """The same model under diffusers-like names: ``transformer_blocks.{i}.attn.to_out.0``."""

    def __init__(self, width: int = 16, depth: int = 4) -> None:
        super().__init__()
        self.transformer_blocks = nn.ModuleList(DiffusersBlock(width) for _ in range(depth))


def test_renames_across_implementations_are_one_finding(tmp_path: Path) -> None:
    path = save_safetensors(tmp_path / "timm.safetensors", TimmStyle().state_dict())

    findings = findings_for(path, DiffusersStyle())

    assert categories(findings) == ["rename"]
    finding = only(findings, "rename")
    assert finding.severity == "error"
    assert len(finding.params) == len(TimmStyle().state_dict())
    rules = {(r["checkpoint"], r["model"]) for r in finding.evidence["rules"]}
    assert ("transformer_blocks.{i}.attn.proj", "transformer_blocks.{i}.attn.to_out.0") in rules
    assert finding.evidence["prefix"]["strip"] == "blocks."
    assert all(op.kind == "rename" for op in finding.fix)
    assert 0.5 <= finding.confidence <= 1.0


def test_rename_ops_map_every_checkpoint_name_onto_the_model(tmp_path: Path) -> None:
    source = TimmStyle().state_dict()
    target = set(DiffusersStyle().state_dict())
    path = save_safetensors(tmp_path / "timm.safetensors", source)

    finding = only(findings_for(path, DiffusersStyle()), "rename")

    strip, *regexes = finding.fix
    assert strip.args == {"strip": "blocks.", "add": "transformer_blocks."}
    renamed = set()
    for name in source:
        name = strip.args["add"] + name.removeprefix(strip.args["strip"])
        for op in regexes:
            if "from" in op.args:  # an exact rename the structural matcher inferred
                if name == op.args["from"]:
                    name = op.args["to"]
                    break
                continue
            match = re.fullmatch(op.args["pattern"], name)
            if match:
                name = match.expand(op.args["replacement"])
                break
        renamed.add(name)
    assert renamed == target


def test_compiled_rule_keeps_the_tail_and_slots() -> None:
    rule = compile_rule(
        RenameRule("blocks.{i}.attn.proj", "transformer_blocks.{i}.attn.to_out.0", 4, 0.9)
    )

    assert rule.maps("blocks.3.attn.proj.weight", "transformer_blocks.3.attn.to_out.0.weight")
    assert rule.maps("blocks.12.attn.proj.bias", "transformer_blocks.12.attn.to_out.0.bias")
    assert not rule.maps("blocks.3.attn.projection.weight", "transformer_blocks.3.attn.to_out.0")


def test_same_names_yield_no_finding(tmp_path: Path) -> None:
    path = save_safetensors(tmp_path / "timm.safetensors", TimmStyle().state_dict())

    assert findings_for(path, TimmStyle()) == []


def test_the_rename_ops_make_the_names_fit(tmp_path: Path) -> None:
    path = save_safetensors(tmp_path / "timm.safetensors", TimmStyle().state_dict())

    assert after_fix(path, DiffusersStyle()) == []


def test_a_renamed_top_module_is_inferred_never_exact(tmp_path: Path) -> None:
    """``blocks.`` → ``transformer_blocks.`` is guessed from names like any rename rule."""
    path = save_safetensors(tmp_path / "timm.safetensors", TimmStyle().state_dict())

    finding = only(findings_for(path, DiffusersStyle()), "rename")

    strip = finding.fix[0]
    assert strip.args == {"strip": "blocks.", "add": "transformer_blocks."}
    assert strip.safety.value == "inferred"
    assert strip.inferred is not None and strip.inferred["evidence"]
    assert all(op.safety.value != "exact" for op in finding.fix)
