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


LONG_NAME = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight_with_a_long_suffix"


@pytest.fixture(scope="module")
def long_names(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two checkpoints whose names and check report are wider than any default terminal."""
    root = tmp_path_factory.mktemp("wide")
    save_file({LONG_NAME: torch.zeros(4, 8), "head.weight": torch.zeros(3)}, root / "a.safetensors")
    save_file({LONG_NAME: torch.zeros(4, 9), "head.weight": torch.zeros(3)}, root / "b.safetensors")
    return root / "a.safetensors", root / "b.safetensors"


def piped(*argv: object, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "weightfit", *map(str, argv)],
        capture_output=True,
        text=True,
        env=environment(**env),
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize("command", ["inspect", "check"])
def test_piped_output_never_wraps_or_pads(long_names: tuple[Path, Path], command: str) -> None:
    a, b = long_names
    argv = ("inspect", a, "--filter", "*") if command == "inspect" else ("check", a, "--against", b)
    done = piped(*argv, COLUMNS="80")
    assert done.returncode in (0, 1), done.stderr
    lines = done.stdout.splitlines()
    assert any(LONG_NAME in line for line in lines), done.stdout
    assert [line for line in lines if line != line.rstrip()] == []
    assert "\x1b[" not in done.stdout


def test_a_terminal_gets_rich_tables_at_its_width(long_names: tuple[Path, Path]) -> None:
    import fcntl
    import pty
    import re
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "weightfit", "inspect", long_names[0], "--filter", "*"],
        stdout=follower,
        stderr=follower,
        env=environment(TERM="xterm"),
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the pty's other end closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=120) == 0
    text = re.sub(r"\x1b\[[0-9;]*m", "", b"".join(chunks).decode())
    lines = text.splitlines()
    # rich's layout at the terminal's 80 columns: the name folded, the table padded
    assert max(len(line) for line in lines) == 80
    assert not any(LONG_NAME in line for line in lines)
    assert any(line.split()[:4] == ["name", "×", "params", "shape"] for line in lines)


def test_a_line_printed_without_its_end_is_not_lost(capsys) -> None:
    from weightfit.cli._output import console

    out = console()
    out.print("no end  ", end="")
    out.print("then the rest  ")
    assert capsys.readouterr().out == "no end  then the rest\n"
