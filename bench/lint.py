"""Benchmark ``weightfit lint`` on a 1000-shard sparse folder (target: < 2 s).

Builds a transformers model folder with 1000 safetensors shards (60 tensors
each, written header-only and extended with ``os.truncate``: no disk cost) and
its index, then times ``weightfit.lint(folder)`` in a fresh process, which
reads every shard header, checks the index against them and replays the
loaders' file rules. The result replaces this benchmark's section of
``BENCHMARKS.md`` unless ``--no-write``.

Run: ``.venv/bin/python bench/lint.py [--no-write]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARDS = 1000
PER_SHARD = 60
BUDGET_SECONDS = 2.0
BEGIN, END = "<!-- bench/lint.py begin -->", "<!-- bench/lint.py end -->"


def write_shard(path: Path, names: list[str], rows: int, cols: int) -> int:
    header, offset = {}, 0
    size = rows * cols * 2
    for name in names:
        header[name] = {
            "dtype": "BF16",
            "shape": [rows, cols],
            "data_offsets": [offset, offset + size],
        }
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with path.open("wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
    os.truncate(path, 8 + len(raw) + offset)
    return offset


def build(folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    weight_map, total = {}, 0
    for n in range(1, SHARDS + 1):
        shard = f"model-{n:05d}-of-{SHARDS:05d}.safetensors"
        names = [f"model.layers.{n - 1}.block.{k}.weight" for k in range(PER_SHARD)]
        total += write_shard(folder / shard, names, 4096, 4096)
        weight_map.update(dict.fromkeys(names, shard))
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    return total


CHILD = """
import time, json, sys
from weightfit.lint import lint
start = time.perf_counter()
result = lint(sys.argv[1])
print(json.dumps({"seconds": time.perf_counter() - start, "violations": len(result.violations)}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        total = build(folder)
        began = time.perf_counter()
        run = subprocess.run(
            [sys.executable, "-c", CHILD, str(folder)], capture_output=True, text=True, check=False
        )
        if run.returncode:
            sys.stderr.write(run.stderr)
            return 4
        out = run.stdout
        process = time.perf_counter() - began
    figures = json.loads(out.strip().splitlines()[-1])
    verdict = "ok" if figures["seconds"] < BUDGET_SECONDS else "OVER BUDGET"
    section = "\n".join(
        [
            BEGIN,
            "## lint: 1000-shard index folder (bench/lint.py)",
            "",
            f"{SHARDS} sparse bf16 safetensors shards × {PER_SHARD} tensors "
            f"({total / 1e12:.1f} TB declared) + index: `weightfit.lint(folder)` reads every "
            "header, checks the index and replays the loader rules.",
            "",
            "| measure | seconds |",
            "| --- | --- |",
            f"| lint() alone | {figures['seconds']:.2f} ({verdict}, budget {BUDGET_SECONDS} s) |",
            f"| whole child process (imports included) | {process:.2f} |",
            "",
            f"Violations found: {figures['violations']} (expected 0). "
            f"Machine: {os.cpu_count()} CPUs.",
            END,
        ]
    )
    print(section)
    if not args.no_write:
        path = ROOT / "BENCHMARKS.md"
        text = path.read_text() if path.exists() else "# Benchmarks\n"
        if BEGIN in text:
            text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), section, text, flags=re.S)
        else:
            text = text.rstrip("\n") + "\n\n" + section + "\n"
        path.write_text(text)
    return 0 if figures["seconds"] < BUDGET_SECONDS and figures["violations"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
