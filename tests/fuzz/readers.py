"""Fuzz the pickle VM and every file reader: no input may end in a non-weightfit exception.

Seeds are real files (``torch.save`` zip and legacy, ``safetensors``, ``.npz``
with an object array, GGUF, plain pickles of protocols 0–5) and the peers'
corpus (``attacks/peers.py``). Each input is a seed mutated a few times
(bytes flipped, set to boundary values, inserted, deleted, duplicated,
truncated, or spliced with another seed). Most inputs go straight to
``pickle_vm.run`` (and the pickles after it); every fifth is written to a file
under a RAM-backed folder and read with ``weightfit.read``. A result or a
:class:`~weightfit.errors.WeightfitError` is fine; anything else is a finding,
kept with its input.

Run once (the figure goes in the report): ``python tests/fuzz/readers.py --count 1000000``.
The test suite runs a small sample (``test_fuzz_sample.py``).
"""

from __future__ import annotations

import argparse
import pickle
import random
import sys
import tempfile
import time
import traceback
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import weightfit
from attacks import gguf, peers
from weightfit.errors import WeightfitError
from weightfit.formats import pickle_vm
from weightfit.formats.pickle_opcodes import NeedMoreData

FILE_EVERY = 5
"""One input in this many goes through ``weightfit.read`` as a file; the rest to the VM."""
MAX_INPUT = 1 << 16
"""Largest mutated input kept (bigger seeds are cut)."""
BOUNDARY = (0, 1, 0x7F, 0x80, 0xFF, 0x2E, 0x28, 0x95)
"""Byte values mutations favour: zero, signs, ``STOP``, ``MARK``, ``FRAME``."""


@dataclass
class Stats:
    """What one run did."""

    inputs: int = 0
    vm: int = 0
    files: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    findings: list[tuple[str, bytes]] = field(default_factory=list)


def seeds(folder: Path) -> list[bytes]:
    """Real files of every format, and the peers' payloads."""
    state = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3), "b": torch.zeros(2)}
    made: list[bytes] = []
    zip_path, legacy_path = folder / "z.pt", folder / "l.pt"
    torch.save({"model": state, "epoch": 3}, zip_path)
    torch.save(state, legacy_path, _use_new_zipfile_serialization=False)
    save_file(state, folder / "s.safetensors", metadata={"format": "pt"})
    np.savez(folder / "n.npz", a=np.ones(3), o=np.array([{"x": 1}, None], dtype=object))
    gguf.f32_pair(folder / "g.gguf")
    for name in ("z.pt", "l.pt", "s.safetensors", "n.npz", "g.gguf"):
        made.append((folder / name).read_bytes())
    with zipfile.ZipFile(zip_path) as archive:
        made.append(archive.read(next(n for n in archive.namelist() if n.endswith("data.pkl"))))
    value = {"a": [1, 2.5, "x", b"y", None, True], "t": (1, (2, 3)), "s": {4}, "f": frozenset({5})}
    made.extend(pickle.dumps(value, protocol=p) for p in range(6))
    made.extend(case.data() for case in peers.all_cases())
    return [seed[:MAX_INPUT] for seed in made if seed]


def mutate(rng: random.Random, data: bytes, pool: list[bytes]) -> bytes:
    """Apply one to four random mutations."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(8)
        pos = rng.randrange(len(buf) + 1)
        if kind == 0 and buf:
            buf[min(pos, len(buf) - 1)] ^= 1 << rng.randrange(8)
        elif kind == 1 and buf:
            buf[min(pos, len(buf) - 1)] = rng.choice(BOUNDARY)
        elif kind == 2:
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif kind == 3:
            del buf[pos : pos + rng.randint(1, 16)]
        elif kind == 4 and buf:
            start = rng.randrange(len(buf))
            buf[pos:pos] = buf[start : start + rng.randint(1, 64)]
        elif kind == 5:
            del buf[pos:]
        elif kind == 6:
            other = rng.choice(pool)
            cut = rng.randrange(len(other) + 1)
            buf[pos:] = other[cut:]
        elif buf:
            at = rng.randrange(max(1, len(buf) - 8))
            width = rng.choice((1, 2, 4, 8))
            value = rng.choice((0, 1, 2**31 - 1, 2**32 - 1, 2**63 - 1, 2**64 - 1))
            buf[at : at + width] = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
    return bytes(buf[:MAX_INPUT])


def run_vm(data: bytes) -> str:
    """One input through the VM: the first pickle, then any that follow."""
    result = pickle_vm.run(data)
    pickle_vm.run_following(data, start=result.end)
    return "read"


def run_file(data: bytes, path: Path) -> str:
    """One input as a file through ``weightfit.read`` (format picked by its bytes)."""
    path.write_bytes(data)
    manifest = weightfit.read(path)
    return f"read {manifest.format}"


def fuzz(count: int, seed: int = 0, *, report_every: int = 0) -> Stats:
    """Run ``count`` fuzzed inputs; return what happened."""
    rng = random.Random(seed)
    stats = Stats()
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory() as made,
        tempfile.TemporaryDirectory(
            dir="/dev/shm" if Path("/dev/shm").is_dir() else None
        ) as scratch,
    ):
        pool = seeds(Path(made))
        path = Path(scratch) / "input"
        for i in range(count):
            data = mutate(rng, rng.choice(pool), pool)
            as_file = i % FILE_EVERY == 0
            try:
                outcome = run_file(data, path) if as_file else run_vm(data)
            except WeightfitError as error:
                outcome = type(error).__name__
            except NeedMoreData:  # never raised with final=True: a finding if it is
                outcome = "NeedMoreData"
                stats.findings.append((outcome, data))
            except Exception as error:
                outcome = f"FINDING {type(error).__name__}"
                stats.findings.append((traceback.format_exc(), data))
            stats.outcomes[outcome] += 1
            stats.inputs += 1
            stats.files += as_file
            stats.vm += not as_file
            if report_every and stats.inputs % report_every == 0:
                rate = stats.inputs / (time.monotonic() - started)
                print(
                    f"{stats.inputs} inputs, {len(stats.findings)} findings, {rate:.0f}/s",
                    flush=True,
                )
    return stats


def main() -> None:
    """Run the fuzzer and print the outcome counts and any findings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--findings", type=Path, help="folder to keep inputs that found something")
    args = parser.parse_args()
    started = time.monotonic()
    stats = fuzz(args.count, args.seed, report_every=50_000)
    seconds = time.monotonic() - started
    print(
        f"{stats.inputs} inputs ({stats.vm} to the VM, {stats.files} as files) in {seconds:.0f} s; "
        f"{len(stats.findings)} non-weightfit exceptions"
    )
    for outcome, n in stats.outcomes.most_common():
        print(f"  {n:>8}  {outcome}")
    for number, (trace, data) in enumerate(stats.findings[:20]):
        print(trace)
        if args.findings:
            args.findings.mkdir(parents=True, exist_ok=True)
            (args.findings / f"finding-{number}.bin").write_bytes(data)


if __name__ == "__main__":
    main()
