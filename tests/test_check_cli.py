"""``weightfit check`` through the real entry point: exit codes, JSON, the terminal report."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest
import torch
from rich.console import Console
from safetensors.torch import save_file

from weightfit.findings import Finding, Report
from weightfit.plan import Op
from weightfit.report.check import render_report

MODEL = """\
from torch import nn


class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.qkv = nn.Linear(width, 3 * width)
        self.norm = nn.LayerNorm(width)


class Net(nn.Module):
    def __init__(self, width=16, depth=28, classes=10):
        super().__init__()
        self.blocks = nn.ModuleList(Block(width) for _ in range(depth))
        self.head = nn.Linear(width, classes)


def build(width=16, depth=28, classes=10):
    return Net(width, depth, classes)
"""


def model_file(tmp_path: Path) -> str:
    path = tmp_path / "models.py"
    path.write_text(MODEL)
    return f"{path}:build"


def checkpoint(tmp_path: Path, name: str, state: dict[str, torch.Tensor]) -> Path:
    path = tmp_path / name
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path


def built(tmp_path: Path, **kwargs: int) -> dict[str, torch.Tensor]:
    namespace: dict[str, object] = {}
    exec(MODEL, namespace)  # the same module the factory target builds
    return namespace["build"](**kwargs).state_dict()  # type: ignore[operator]


def test_compatible_exits_0(tmp_path: Path, run_cli) -> None:
    ckpt = checkpoint(tmp_path, "ok.safetensors", built(tmp_path))
    result = run_cli("check", ckpt, "--against", model_file(tmp_path))
    assert result.code == 0, result.err
    assert result.out.startswith("✓ compatible")


def test_incompatible_exits_1_and_json_is_the_report(tmp_path: Path, run_cli) -> None:
    ckpt = checkpoint(tmp_path, "wide.safetensors", built(tmp_path, width=32))
    result = run_cli("check", ckpt, "--against", model_file(tmp_path), "--json")
    assert result.code == 1, result.err
    data = json.loads(result.out)
    assert data["compatible"] is False
    assert data["schema_version"] == 1
    assert data["summary"]["shape_mismatches"] > 0
    assert {"category", "severity", "message", "params", "evidence", "confidence", "fix"} <= set(
        data["findings"][0]
    )


def test_kwargs_reach_the_factory(tmp_path: Path, run_cli) -> None:
    ckpt = checkpoint(tmp_path, "wide.safetensors", built(tmp_path, width=32))
    result = run_cli("check", ckpt, "--against", model_file(tmp_path), "--kwargs", '{"width": 32}')
    assert result.code == 0, result.err


def test_config_file_reaches_the_factory(tmp_path: Path, run_cli) -> None:
    ckpt = checkpoint(tmp_path, "deep.safetensors", built(tmp_path, depth=2))
    config = tmp_path / "model.yaml"
    config.write_text("depth: 2\n")
    result = run_cli("check", ckpt, "--against", model_file(tmp_path), "--config", config)
    assert result.code == 0, result.err


def test_report_folds_repeated_layers(tmp_path: Path, run_cli) -> None:
    ckpt = checkpoint(tmp_path, "wide.safetensors", built(tmp_path, width=32))
    result = run_cli("check", ckpt, "--against", model_file(tmp_path))
    assert result.code == 1
    assert "blocks.{0..27}.qkv.weight" in result.out
    assert "blocks.1.qkv.weight" not in result.out


def test_bad_kwargs_is_a_usage_error(tmp_path: Path, run_cli) -> None:
    ckpt = checkpoint(tmp_path, "ok.safetensors", built(tmp_path))
    result = run_cli("check", ckpt, "--against", model_file(tmp_path), "--kwargs", "{width: 3}")
    assert result.code == 2
    assert "--kwargs: not valid JSON" in result.err
    result = run_cli("check", ckpt, "--against", model_file(tmp_path), "--kwargs", "[1]")
    assert result.code == 2
    assert "expected a JSON object, got list" in result.err


def test_against_is_required(tmp_path: Path, run_cli) -> None:
    result = run_cli("check", tmp_path / "x.safetensors")
    assert result.code == 2
    assert "--against" in result.err


def test_missing_checkpoint_exits_3_with_one_line(tmp_path: Path, run_cli) -> None:
    result = run_cli("check", tmp_path / "nope.safetensors", "--against", model_file(tmp_path))
    assert result.code == 3
    first = result.err.splitlines()[0]
    assert (
        first
        == f"error: {tmp_path / 'nope.safetensors'}: checkpoint not found: no such file or folder"
    )


def test_unreadable_checkpoint_exits_3(tmp_path: Path, run_cli) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 7)
    result = run_cli("check", bad, "--against", model_file(tmp_path))
    assert result.code == 3
    assert result.err.startswith("error: ")
    assert "Traceback" not in result.err


def test_unbuildable_target_exits_3(tmp_path: Path, run_cli) -> None:
    ckpt = checkpoint(tmp_path, "ok.safetensors", built(tmp_path))
    result = run_cli("check", ckpt, "--against", "weightfit_no_such_pkg.models:build")
    assert result.code == 3
    assert "weightfit_no_such_pkg" in result.err


def test_names_from_files_are_escaped_in_the_report() -> None:
    report = Report(
        source="ckpt[bold].safetensors",
        target="model",
        findings=[
            Finding(
                "unexpected",
                "error",
                "1 tensor [red]x\x1b[31m has no match",
                params=["[red]x\x1b[31m"],
                fix=[Op("drop", {"name": "[red]x\x1b[31m"})],
            )
        ],
        compatible=False,
        summary={
            "differences": [
                {
                    "kind": "unexpected",
                    "name": "[red]x\x1b[31m",
                    "count": 1,
                    "checkpoint": {"shape": [3], "dtype": "F32"},
                    "model": None,
                    "category": "unexpected",
                }
            ]
        },
    )
    console = Console(width=100, no_color=True, record=True, file=io.StringIO())
    render_report(console, report)
    text = console.export_text()
    assert "\x1b" not in text
    assert "[red]x\\x1b[31m" in text
    assert "ckpt[bold].safetensors" in text
    assert "drop name=[red]x\\x1b[31m  (exact)" in text


def test_a_config_whose_yaml_aliases_explode_is_refused_at_once(tmp_path: Path, run_cli) -> None:
    """Seven levels of nine aliases: 9⁷ ≈ 4.8 million strings once hashed, 63 aliases on disk."""
    from weightfit.errors import InvalidHeader
    from weightfit.targets.config import load_config

    laughs = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    laughs += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 7)]
    config = tmp_path / "model.yaml"
    config.write_text("depth: 2\n" + "\n".join(laughs) + "\n")
    started = time.monotonic()
    with pytest.raises(InvalidHeader) as info:
        load_config(config)
    assert time.monotonic() - started < 5
    assert str(info.value) == (
        f"{config}: invalid header: holds 6,053,453 values once its YAML aliases are expanded "
        "(at most 2,000,000)"
    )
    ckpt = checkpoint(tmp_path, "deep.safetensors", built(tmp_path, depth=2))
    result = run_cli("check", ckpt, "--against", model_file(tmp_path), "--config", config)
    assert result.code == 3
    assert result.err.startswith(f"error: {config}: invalid header: holds 6,053,453 values")


def test_a_config_alias_holding_itself_is_refused(tmp_path: Path) -> None:
    from weightfit.errors import InvalidHeader
    from weightfit.targets.config import load_config

    config = tmp_path / "model.yaml"
    config.write_text("depth: &a [*a]\n")
    with pytest.raises(InvalidHeader, match="a YAML alias holds its own anchor: the config never"):
        load_config(config)
