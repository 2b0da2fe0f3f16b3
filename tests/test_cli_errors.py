"""The error lines of the command line: named inputs, one exit code for missing ones, wording."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from safetensors.torch import save_file  # noqa: E402

DEBUG_HINT = "WEIGHTFIT_DEBUG"


@pytest.fixture
def files(tmp_path: Path) -> Path:
    save_file({"w.weight": torch.zeros(2, 2)}, tmp_path / "one.safetensors")
    save_file({"w.weight": torch.zeros(2, 3)}, tmp_path / "other.safetensors")
    (tmp_path / "factory.py").write_text(
        "import torch\n\ndef build(width=2):\n    return torch.nn.Linear(width, 2)\n"
    )
    return tmp_path


MISSING = {
    "checkpoint": ("inspect", "{d}/nope.safetensors"),
    "target": ("check", "{d}/one.safetensors", "--against", "{d}/nope.json"),
    "config": (
        "check",
        "{d}/one.safetensors",
        "--against",
        "{d}/factory.py:build",
        "--config",
        "{d}/nope.yaml",
    ),
    "log": ("explain", "{d}/nope.log"),
    "plan": ("apply", "{d}/nope.yaml", "{d}/one.safetensors", "-o", "{d}/out"),
}


@pytest.mark.parametrize("kind", sorted(MISSING))
def test_a_missing_input_is_named_by_what_it_is_and_exits_3(files: Path, kind: str, run_cli):
    argv = [part.format(d=files) for part in MISSING[kind]]
    result = run_cli(*argv)
    missing = next(part for part in argv if "nope" in part)
    assert result.code == 3
    assert result.err == f"error: {missing}: {kind} not found: " + (
        "no such file or folder, nor a 'pkg.module:Callable'\n"
        if kind == "target"
        else "no such file or folder\n"
        if kind == "checkpoint"
        else "no such file\n"
    )


def test_the_debug_hint_is_only_for_internal_errors(files: Path, run_cli, monkeypatch) -> None:
    assert DEBUG_HINT not in run_cli("inspect", files / "nope.safetensors").err

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("weightfit.cli.inspect.read", broken)
    result = run_cli("inspect", files / "one.safetensors")
    assert result.code == 4
    assert result.err.splitlines() == [
        "internal error: RuntimeError: boom",
        f"(this is a bug in weightfit; set {DEBUG_HINT}=1 for the traceback)",
    ]


def test_a_usage_error_says_so_once(run_cli) -> None:
    result = run_cli("lint")
    assert (result.code, result.err) == (
        2,
        "usage error: give a folder to lint (or --explain CODE)\n",
    )


def test_an_existing_destination_is_not_said_twice(files: Path, run_cli) -> None:
    argv = ("fix", files / "one.safetensors", "--against", files / "one.safetensors")
    assert run_cli(*argv, "-o", files / "out").code == 0
    result = run_cli(*argv, "-o", files / "out")
    assert (result.code, result.err) == (
        3,
        f"error: {files / 'out'}: destination exists: "
        "pass overwrite=True (--overwrite) to replace it\n",
    )


def test_one_is_singular(files: Path, run_cli) -> None:
    assert "· 1 tensor ·" in run_cli("inspect", files / "one.safetensors").out
    fixed = run_cli(
        "fix", files / "one.safetensors", "--against", files / "one.safetensors", "-o", files / "o"
    )
    assert "Checked: compatible, 0 findings" in fixed.out
    assert "Plan: nothing to change." in fixed.out
    assert "Wrote 1 tensor (" in fixed.out
    checked = run_cli("check", files / "one.safetensors", "--against", files / "other.safetensors")
    assert "1 tensor vs 1" in checked.out
    assert "(1 finding" in checked.out


@pytest.mark.parametrize("make", ["fifo", "device"])
def test_a_file_that_never_ends_is_refused_not_read(tmp_path: Path, make: str) -> None:
    """A FIFO blocks until written to and /dev/zero never ends: refused up front."""
    if make == "fifo":
        path = tmp_path / "weights.safetensors"
        os.mkfifo(path)
    else:
        path = Path("/dev/zero")
        if not path.exists():
            pytest.skip("no /dev/zero here")
    result = subprocess.run(
        [sys.executable, "-m", "weightfit", "inspect", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert (result.returncode, result.stderr.splitlines()[0]) == (
        3,
        f"error: {path}: not a checkpoint: not a regular file (a device, FIFO or socket)",
    )
