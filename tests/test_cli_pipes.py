"""The command line writing into a real pipe: closed early (``| head -1``), and not a terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from safetensors.torch import save_file  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PIPE_BYTES = 1 << 20
"""More than any pipe buffers, so the writer is still writing when the reader leaves."""


def environment(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **extra}
    env.pop("WEIGHTFIT_DEBUG", None)
    env.pop("COLUMNS", None)
    return env


def head_1(*argv: object) -> tuple[int, str, str]:
    """``weightfit ARGV | head -1``: read one line, close the pipe, return (code, line, stderr)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "weightfit", *map(str, argv)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment(),
    )
    assert process.stdout is not None and process.stderr is not None
    line = process.stdout.readline().decode()
    process.stdout.close()
    err = process.stderr.read().decode()
    return process.wait(timeout=120), line, err


@pytest.fixture(scope="module")
def many_tensors(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint whose report, in text and JSON, is far longer than a pipe holds."""
    path = tmp_path_factory.mktemp("pipes") / "many.safetensors"
    tensors = {f"blocks.{i}.part{j}.weight": torch.zeros(1) for i in range(400) for j in range(30)}
    save_file(tensors, path)
    return path


@pytest.mark.parametrize("json_flag", [("--json",), ()], ids=["json", "text"])
def test_inspect_into_a_closed_pipe_keeps_exit_0(many_tensors: Path, json_flag) -> None:
    code, line, err = head_1("inspect", many_tensors, "--filter", "*", *json_flag)
    assert line
    assert (code, err) == (0, "")


def test_lint_sarif_into_a_closed_pipe_keeps_exit_1(tmp_path: Path) -> None:
    root = tmp_path / "vae"
    root.mkdir()
    (root / "config.json").write_text(json.dumps({"_class_name": "AutoencoderKL"}))
    save_file({"a": torch.zeros(4)}, root / "diffusion_pytorch_model.safetensors")
    save_file({"a": torch.zeros(4)}, root / "diffusion_pytorch_model.bf16.safetensors")
    roots = [root] * 200  # one SARIF document per path: far more than a pipe holds
    code, line, err = head_1("lint", *roots, "--format", "sarif")
    assert line == "{\n"
    assert (code, err) == (1, "")
