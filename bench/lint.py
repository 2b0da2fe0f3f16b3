"""Benchmark ``weightfit lint`` on a 1000-shard sparse folder (target: < 2 s).

Builds a transformers model folder with 1000 safetensors shards (60 tensors
each, written header-only and extended with ``os.truncate``: no disk cost) and
its index, then measures in fresh processes (``_measure.py``), side by side:

1. ``weightfit.lint(folder)``: every shard header, the index against them, the
   loaders' file rules, weight sets, duplicates;
2. the script a maintainer would write instead: ``safetensors.safe_open`` on every
   shard the index names, its keys against the index and the summed sizes against
   ``metadata.total_size`` (index integrity only).

The result replaces this benchmark's section of ``BENCHMARKS.md`` unless ``--no-write``.

Run: ``.venv/bin/python bench/lint.py [--no-write]``.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import tempfile
from pathlib import Path

import _measure
from _measure import human_mb, human_seconds, machine, measure

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


LINT = """
result = len(lint(FOLDER).violations)
"""

SAFE_OPEN = """
index = json.loads((FOLDER / "model.safetensors.index.json").read_text())
by_file = {}
for name, file in index["weight_map"].items():
    by_file.setdefault(file, set()).add(name)
problems, total = 0, 0
for file, names in by_file.items():
    with safe_open(FOLDER / file, "np") as handle:
        keys = set(handle.keys())
        problems += keys != names
        for key in keys:
            piece = handle.get_slice(key)
            total += math.prod(piece.get_shape()) * 2
problems += total != index["metadata"]["total_size"]
result = problems
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        total = build(folder)
        setup = f"from pathlib import Path\nFOLDER = Path({str(folder)!r})\n"
        ours = measure(
            "`weightfit.lint(folder)`", LINT, setup=setup + "from weightfit.lint import lint"
        )
        theirs = measure(
            "`safetensors.safe_open` on every shard, keys and sizes vs the index",
            SAFE_OPEN,
            setup=setup + "import json, math\nfrom safetensors import safe_open",
        )
    verdict = "yes" if ours.seconds < BUDGET_SECONDS else "no"
    rows = [
        f"| {m.label} | {human_seconds(m.seconds)} | {human_seconds(m.process_seconds)} "
        f"| {human_mb(m.peak_rss)} | {m.result} |"
        for m in (ours, theirs)
    ]
    load = os.getloadavg()
    section = "\n".join(
        [
            BEGIN,
            "## lint: 1000-shard index folder (`bench/lint.py`)",
            "",
            f"- Machine: {machine()}; load average {load[0]:.1f} when the run began",
            "- Reproduce: `.venv/bin/python bench/lint.py`",
            f"- Input: {SHARDS} sparse bf16 safetensors shards × {PER_SHARD} tensors "
            f"({total / 1e12:.1f} TB declared, none of it on disk) + index.",
            "- Method: each row is a fresh child process; *time* is the operation alone, "
            "*process* the whole child; *peak RSS* from `wait4`.",
            "",
            "| what | time | process | peak RSS | problems found |",
            "| --- | ---: | ---: | ---: | ---: |",
            *rows,
            "",
            "The `safe_open` script checks the index only; `lint` also replays the "
            "transformers and diffusers file-resolution rules, groups weight sets and "
            "looks for duplicates, in the same pass over the headers.",
            "",
            "| target | measured | met |",
            "| --- | ---: | :---: |",
            f"| lint of 1000 shards < {BUDGET_SECONDS:g} s | {human_seconds(ours.seconds)} "
            f"| {verdict} |",
            END,
        ]
    )
    print(section)
    if not args.no_write:
        _measure.replace_section(section)
    return 0 if ours.seconds < BUDGET_SECONDS and ours.result == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
