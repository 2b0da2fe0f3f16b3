"""Measuring helpers for the benchmarks: run code in a fresh child, time it, take its peak RSS.

Each measurement starts a new Python process, so imports, caches and freed
memory of one run never flatter the next. The child times only the operation
(``seconds``); the parent also records the child's whole wall time and its peak
resident set size from ``wait4`` (the kernel's ``ru_maxrss`` of that one child).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARKER = "@@measure@@"
ROOT = Path(__file__).resolve().parents[1]

_CHILD = """\
import json, resource, sys, time
{setup}
_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
_start = time.perf_counter()
{code}
_seconds = time.perf_counter() - _start
_report = {{"seconds": _seconds, "rss_before_kb": _before, "result": locals().get("result")}}
print({marker!r} + json.dumps(_report, default=str))
"""


@dataclass
class Measurement:
    """One operation measured in a fresh child process.

    Attributes:
        label: What was measured.
        seconds: Wall time of the operation alone, timed inside the child.
        process_seconds: Wall time of the whole child (interpreter start and imports included).
        peak_rss: Peak resident set size of the child, in bytes.
        baseline_rss: Peak RSS of the child before the operation (after imports), in bytes.
        result: Whatever the measured code left in a variable named ``result``.
    """

    label: str
    seconds: float
    process_seconds: float
    peak_rss: int
    baseline_rss: int
    result: Any = None

    @property
    def growth_rss(self) -> int:
        """How much the peak rose during the operation (bytes)."""
        return max(self.peak_rss - self.baseline_rss, 0)


def measure(
    label: str, code: str, *, setup: str = "", env: dict[str, str] | None = None
) -> Measurement:
    """Run ``setup`` then time ``code`` in a new Python process.

    Args:
        label: Name for the measurement.
        code: Statements to time; may set ``result`` to a JSON-able value to bring back.
        setup: Statements run first, not timed (imports).
        env: Extra environment variables for the child.

    Returns:
        The :class:`Measurement`.

    Raises:
        RuntimeError: the child failed; its standard error is in the message.
    """
    script = _CHILD.format(setup=textwrap.dedent(setup), code=textwrap.dedent(code), marker=MARKER)
    started = time.perf_counter()
    code_, stdout, stderr, peak_kb = _run([sys.executable, "-c", script], env=env)
    process_seconds = time.perf_counter() - started
    if code_ != 0:
        raise RuntimeError(f"{label} failed (exit {code_}):\n{stderr.decode()}")
    line = next(text for text in stdout.decode().splitlines() if text.startswith(MARKER))
    data = json.loads(line[len(MARKER) :])
    return Measurement(
        label=label,
        seconds=data["seconds"],
        process_seconds=process_seconds,
        peak_rss=peak_kb * 1024,
        baseline_rss=data["rss_before_kb"] * 1024,
        result=data["result"],
    )


def run_command(label: str, argv: list[str]) -> Measurement:
    """Time a whole command (e.g. the CLI) and take its peak RSS; output is discarded."""
    started = time.perf_counter()
    code, _, stderr, peak_kb = _run(argv, keep_stdout=False)
    seconds = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"{label} failed (exit {code}):\n{stderr.decode()}")
    return Measurement(label, seconds, seconds, peak_kb * 1024, 0)


def machine() -> str:
    """One line describing the machine: CPU, cores, memory, OS, Python, disk."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        total_kb = int(meminfo.read_text().split()[1])
        memory = f", {total_kb / 1024**2:.0f} GB RAM"
    return (
        f"{cpu}, {os.cpu_count()} cores{memory}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def replace_section(section: str) -> None:
    """Put a benchmark's section into ``BENCHMARKS.md``, replacing its previous run.

    The section's first and last lines are its begin and end markers; other
    benchmarks' sections are left as they are.
    """
    section = section.strip()
    lines = section.splitlines()
    begin, end = lines[0], lines[-1]
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    if begin in text and end in text:
        before, rest = text.split(begin, 1)
        text = before + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")


def human_seconds(seconds: float) -> str:
    """A duration to three significant figures: ``4.2 ms``, ``1.31 s``."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def human_mb(size: int) -> str:
    """Bytes as decimal megabytes: ``87.4 MB``."""
    return f"{size / 1e6:,.1f} MB"


def _run(
    argv: list[str], *, env: dict[str, str] | None = None, keep_stdout: bool = True
) -> tuple[int, bytes, bytes, int]:
    """Run a child to the end; return its exit code, output, error output and peak RSS (kB).

    The child is reaped with ``os.wait4``, which returns the resource usage of
    that one child (``ru_maxrss``, kB on Linux), never of earlier children. The
    kernel counts the forked parent's pages before ``exec`` too, so keep the
    measuring parent small (it imports neither torch nor weightfit).
    """
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as out:
        child = subprocess.Popen(
            argv,
            stdout=out if keep_stdout else subprocess.DEVNULL,
            stderr=err,
            env={**os.environ, **(env or {})},
            cwd=ROOT,  # a `python -c` child puts its cwd first on sys.path: not bench/
        )
        _, status, rusage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return child.returncode, out.read(), err.read(), int(rusage.ru_maxrss)
