"""Run the real command line on a pseudo-terminal, as a person at a terminal does."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run_in_terminal(
    *argv: object, typed: bytes | None = None, wait_for: bytes = b"", columns: int = 80
) -> tuple[int, str]:
    """Run ``weightfit ARGV`` with stdin, stdout and stderr on one pty of ``columns``.

    With ``typed``, wait until the output shows ``wait_for``, then type it.
    Returns the exit code and everything the terminal showed, colour codes removed.
    """
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")])}
    env.update(TERM="xterm", NO_COLOR="1")
    for name in ("COLUMNS", "LINES", "WEIGHTFIT_DEBUG"):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "weightfit", *map(str, argv)],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    shown = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 120)
        if not ready:
            process.kill()
            raise TimeoutError(shown.decode(errors="replace"))
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal's other end closed: the command is done
            break
        if not chunk:
            break
        shown += chunk
        if typed is not None and wait_for in shown:
            os.write(leader, typed)
            typed = None
    os.close(leader)
    return process.wait(timeout=120), ANSI.sub("", shown.decode(errors="replace"))
