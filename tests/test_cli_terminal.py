"""What a person at a terminal sees: help with no command, a prompt for pasted logs, a spinner."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from terminal import ROOT, run_in_terminal

torch = pytest.importorskip("torch")
from safetensors.torch import save_file  # noqa: E402

LOG = (
    b"RuntimeError: Error(s) in loading state_dict for Net:\n"
    b'\tMissing key(s) in state_dict: "head.weight".\n'
)


def test_bare_weightfit_prints_the_help(run_cli) -> None:
    result = run_cli()
    assert result.code == 0
    assert result.out.startswith("usage: weightfit")
    for command in ("inspect", "check", "lint", "fix", "apply", "explain", "adapter"):
        assert f"    {command} " in result.out


def test_explain_on_a_terminal_asks_for_the_log() -> None:
    code, shown = run_in_terminal("explain", typed=LOG + b"\x04", wait_for=b"Ctrl-D")
    assert code == 1
    assert shown.startswith("Paste the loading error, then press Ctrl-D")
    assert "missing" in shown


def test_explain_from_a_pipe_asks_nothing() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "weightfit", "explain"],
        input=LOG,
        capture_output=True,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": ""},
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr == b""


def test_a_spinner_while_the_target_is_built(tmp_path: Path) -> None:
    """A factory target stands in for a config: both build a model before anything shows."""
    (tmp_path / "factory.py").write_text(
        "import torch\n\ndef build(width=2):\n    return torch.nn.Linear(width, 2)\n"
    )
    (tmp_path / "model.yaml").write_text("width: 3\n")
    save_file({"weight": torch.zeros(2, 2), "bias": torch.zeros(2)}, tmp_path / "w.safetensors")
    argv = ("check", tmp_path / "w.safetensors", "--against", tmp_path / "factory.py:build")
    code, shown = run_in_terminal(*argv, "--config", tmp_path / "model.yaml", columns=300)
    assert code == 1
    assert f"⠋ checking {tmp_path / 'w.safetensors'} against" in shown  # rich's "dots"
