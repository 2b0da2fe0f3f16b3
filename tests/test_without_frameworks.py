"""Commands that compute on tensor values, run where only ``pip install weightfit`` was done.

The subprocess imports ``tests/without_frameworks/sitecustomize.py`` at start-up,
which makes every import of torch, numpy, safetensors and the HF libraries fail
as it does when they are not installed. The inputs are built here, with them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from adapter_builders import tiny_llama, train_lora

ROOT = Path(__file__).resolve().parents[1]
INSTALL_LINE = "pip install 'weightfit[torch]'"


def run_without_frameworks(*argv: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    path = [str(ROOT / "tests" / "without_frameworks"), str(ROOT / "src")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path), "COLUMNS": "200"}
    env.pop("WEIGHTFIT_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "weightfit", *map(str, argv)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_block_is_real(tmp_path: Path) -> None:
    done = run_without_frameworks("inspect", "--help", cwd=tmp_path)
    assert done.returncode == 0
    probe = subprocess.run(
        [sys.executable, "-c", "import torch"],
        env={**os.environ, "PYTHONPATH": str(ROOT / "tests" / "without_frameworks")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode == 1
    assert "No module named 'torch'" in probe.stderr


@pytest.fixture
def checkpoints(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    save_file(
        {"a.weight": torch.randn(4, 4), "b.weight": torch.randn(3)}, tmp_path / "x.safetensors"
    )
    save_file(
        {"a.weight": torch.randn(4, 4).bfloat16(), "b.weight": torch.randn(3).bfloat16()},
        tmp_path / "y.safetensors",
    )
    (tmp_path / "plan.yaml").write_text(
        "version: 1\nops:\n- kind: cast\n  args: {pattern: '.*', to: BF16}\n"
    )
    return tmp_path


def assert_install_line(done: subprocess.CompletedProcess[str], out: Path) -> None:
    assert done.returncode == 2, done.stderr
    assert "internal error" not in done.stderr
    assert INSTALL_LINE in done.stderr
    assert not out.exists()
    assert not list(out.parent.glob(f".{out.name}*")), "a temporary folder was left behind"


def test_apply_of_a_cast_plan(checkpoints: Path) -> None:
    done = run_without_frameworks(
        "apply", "plan.yaml", "x.safetensors", "-o", "out", cwd=checkpoints
    )
    assert_install_line(done, checkpoints / "out")


def test_fix_with_dtype_bf16(checkpoints: Path) -> None:
    done = run_without_frameworks(
        "fix",
        "x.safetensors",
        "--against",
        "y.safetensors",
        "--dtype",
        "bf16",
        "-o",
        "out",
        cwd=checkpoints,
    )
    assert_install_line(done, checkpoints / "out")


def test_adapter_merge(tmp_path: Path) -> None:
    tiny_llama(vocab=64, hidden=16, layers=1).save_pretrained(tmp_path / "base")
    train_lora(tiny_llama(vocab=64, hidden=16, layers=1), tmp_path / "adapter")
    done = run_without_frameworks(
        "adapter", "merge", "adapter", "--base", "base", "-o", "merged", cwd=tmp_path
    )
    assert_install_line(done, tmp_path / "merged")
