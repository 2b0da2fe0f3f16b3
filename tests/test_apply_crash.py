"""The applier under failure: killed mid-run, a full disk, a read-only destination.

In every case the output folder appears whole or not at all, nothing partial is
left beside it, and the source is byte-for-byte unchanged.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from weightfit.apply import apply
from weightfit.errors import DestinationNotWritable, DiskFull
from weightfit.plan import Op, Plan

KILLS = 3
"""SIGKILLs per test: one as the run starts, the others after a random tensor."""

RUNNER = textwrap.dedent(
    """
    import sys, time
    from weightfit.apply import apply
    import torch  # imported before "ready" so every kill lands inside apply

    def progress(done, count, written, total):
        print(done, flush=True)
        time.sleep(0.005)  # spreads the run so a kill after tensor k lands mid-write

    print("ready", flush=True)
    apply(sys.argv[1], sys.argv[2], sys.argv[3], shard_size="4MB", progress=progress)
    """
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".out"))


@pytest.fixture
def job(tmp_path: Path) -> tuple[Path, Path]:
    """A 24 MB checkpoint and a plan that casts every tensor (the value path)."""
    torch.manual_seed(0)
    state = {f"blocks.{i}.weight": torch.randn(256, 512) for i in range(48)}
    checkpoint = tmp_path / "src.safetensors"
    save_file(state, checkpoint)
    plan = tmp_path / "plan.yaml"
    Plan([Op("rename", {"strip": "blocks.", "add": "layers."}), Op("cast", {"to": "BF16"})]).dump(
        plan
    )
    return checkpoint, plan


def start(plan: Path, checkpoint: Path, out: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(plan), str(checkpoint), str(out)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline() == "ready\n"
    return process


def test_sigkill_at_random_points_leaves_no_output(tmp_path: Path, job: tuple[Path, Path]) -> None:
    checkpoint, plan = job
    before = sha256(checkpoint)
    chance = random.Random(20240426)
    points = [0, *chance.sample(range(1, 48), KILLS - 1)]
    for attempt, after in enumerate(points):
        out = tmp_path / f"out{attempt}"
        process = start(plan, checkpoint, out)
        assert process.stdout is not None
        for _ in range(after):
            process.stdout.readline()
        time.sleep(chance.uniform(0.0, 0.004))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL
        assert not out.exists(), f"a kill after tensor {after} left {out.name}"
        assert sha256(checkpoint) == before
    apply(plan, checkpoint, tmp_path / "out0")
    assert (tmp_path / "out0" / "model.safetensors").exists()
    # a run cleans up after killed runs for the same output (others wait for theirs)
    assert not [name for name in leftovers(tmp_path) if name.startswith(".out0.")]


@contextmanager
def mounted(folder: Path, options: str) -> Iterator[Path]:
    """A tmpfs at ``folder`` (needs root; skips the test otherwise)."""
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_full_disk_is_a_clear_error_and_leaves_nothing(tmp_path: Path, job: tuple, run_cli) -> None:
    """Less room than the tensors: refused before writing; room for them but not the headers:
    the disk fills mid-write. Either way one error, and nothing left."""
    checkpoint, plan = job
    before = sha256(checkpoint)
    with mounted(tmp_path / "small", "size=1M") as small:
        with pytest.raises(DiskFull) as info:
            apply(plan, checkpoint, small / "out")
        assert str(info.value) == (
            f"{small}/out: disk full: the output needs 12,582,912 bytes; "
            "1,048,576 are free on its filesystem"
        )
        assert list(small.iterdir()) == []
        result = run_cli("apply", plan, checkpoint, "-o", small / "out")
        assert result.code == 3
        assert "disk full: the output needs" in result.err
        assert list(small.iterdir()) == []
    with mounted(tmp_path / "exact", "size=12M") as exact:  # the tensor bytes, no more
        with pytest.raises(DiskFull) as info:
            apply(plan, checkpoint, exact / "out", shard_size="4MB")
        assert str(info.value) == (
            f"{exact}/out: disk full: no space left while writing (No space left on device)"
        )
        assert list(exact.iterdir()) == []
    assert sha256(checkpoint) == before


def test_file_size_limit_behaves_as_a_full_disk(tmp_path: Path, job: tuple) -> None:
    """The same guard without root: RLIMIT_FSIZE makes writes fail with EFBIG."""
    checkpoint, _ = job
    plan = tmp_path / "rename.yaml"
    Plan([Op("rename", {"strip": "blocks.", "add": "layers."})]).dump(plan)
    script = textwrap.dedent(
        """
        import resource, signal, sys
        from weightfit.cli import main
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))
        sys.exit(main(sys.argv[1:]))
        """
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            "apply",
            str(plan),
            str(checkpoint),
            "-o",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 3
    assert "disk full: no space left while writing (File too large)" in done.stderr
    assert leftovers(tmp_path) == [] and not (tmp_path / "out").exists()


def test_read_only_destination_is_a_clear_error(tmp_path: Path, job: tuple, run_cli) -> None:
    checkpoint, plan = job
    with mounted(tmp_path / "ro", "ro,size=1M") as readonly:
        with pytest.raises(DestinationNotWritable) as info:
            apply(plan, checkpoint, readonly / "out")
        assert str(info.value) == f"{readonly}: destination not writable: folder is not writable"
        result = run_cli("apply", plan, checkpoint, "-o", readonly / "out")
        assert result.code == 3
        assert list(readonly.iterdir()) == []
