"""Benchmark header-only reading against torch.load, and a 1T-parameter sharded model.

One run measures, each figure in a fresh child process (see ``_measure.py``):

1. a real ~2 GB ``.pth`` written by ``torch.save`` (``{"model": state_dict, "epoch": 3}``,
   fp32): ``weightfit.read`` vs ``torch.load(weights_only=True)`` vs
   ``torch.load(mmap=True, weights_only=True)``;
2. a 1-trillion-parameter bf16 model as ~1000 safetensors shards (~58k tensors) with
   an index, written header-only and extended with ``os.truncate`` (sparse: no disk
   cost): ``weightfit.read(index)``, ``weightfit.read(folder)`` and the whole
   ``weightfit inspect --json`` command.

Files go to a temporary folder that is deleted at the end (``--keep`` keeps it).
The results replace this benchmark's section of ``BENCHMARKS.md``.

Run: ``make bench`` or ``.venv/bin/python bench/inspect_headers.py [--keep] [--no-write]``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import _measure
from _measure import Measurement, human_mb, human_seconds, machine, measure, run_command

ROOT = Path(__file__).resolve().parents[1]

START = "<!-- bench/inspect_headers.py: start (generated, do not edit by hand) -->"
END = "<!-- bench/inspect_headers.py: end -->"

TARGET_SPEEDUP = 100
TARGET_PEAK_BYTES = 100_000_000
TARGET_1T_SECONDS = 2.0

# The .pth: a 32-block transformer, width 1024, vocabulary 50k; ~0.5B fp32 params ≈ 2 GB.
PTH_BLOCKS, PTH_WIDTH, PTH_VOCAB = 32, 1024, 50_000

# The 1T model: 64 MoE layers of 300 experts (gate/up/down 7168×2432) + attention, bf16.
MOE_LAYERS, EXPERTS, HIDDEN, EXPERT_WIDTH, VOCAB = 64, 300, 7168, 2432, 129_280
SHARDS = 1000

FORMAT_MODULES = (
    "import importlib, weightfit, weightfit.formats\n"
    "for _name in (*weightfit.formats.FILE_FORMATS, *weightfit.formats.FOLDER_FORMATS):\n"
    "    importlib.import_module('weightfit.formats.' + _name)\n"
)


def make_pth(path: Path) -> None:
    """Write the ~2 GB ``.pth`` (run in a child: the parent stays small)."""
    import torch

    width = PTH_WIDTH
    state: dict[str, torch.Tensor] = {"embed.weight": torch.empty(PTH_VOCAB, width)}
    for i in range(PTH_BLOCKS):
        block = f"blocks.{i}"
        state[f"{block}.norm1.weight"] = torch.ones(width)
        state[f"{block}.attn.qkv.weight"] = torch.empty(3 * width, width)
        state[f"{block}.attn.qkv.bias"] = torch.zeros(3 * width)
        state[f"{block}.attn.proj.weight"] = torch.empty(width, width)
        state[f"{block}.norm2.weight"] = torch.ones(width)
        state[f"{block}.mlp.fc1.weight"] = torch.empty(4 * width, width)
        state[f"{block}.mlp.fc2.weight"] = torch.empty(width, 4 * width)
    state["head.weight"] = torch.empty(PTH_VOCAB, width)
    torch.save({"model": state, "epoch": 3}, path)


def one_trillion_tensors() -> list[tuple[str, list[int]]]:
    """Names and shapes of the 1T-parameter MoE model, in file order."""
    tensors: list[tuple[str, list[int]]] = [("model.embed_tokens.weight", [VOCAB, HIDDEN])]
    for layer in range(MOE_LAYERS):
        prefix = f"model.layers.{layer}"
        tensors.append((f"{prefix}.input_layernorm.weight", [HIDDEN]))
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            tensors.append((f"{prefix}.self_attn.{proj}.weight", [HIDDEN, HIDDEN]))
        tensors.append((f"{prefix}.post_attention_layernorm.weight", [HIDDEN]))
        tensors.append((f"{prefix}.mlp.gate.weight", [EXPERTS, HIDDEN]))
        for expert in range(EXPERTS):
            e = f"{prefix}.mlp.experts.{expert}"
            tensors.append((f"{e}.gate_proj.weight", [EXPERT_WIDTH, HIDDEN]))
            tensors.append((f"{e}.up_proj.weight", [EXPERT_WIDTH, HIDDEN]))
            tensors.append((f"{e}.down_proj.weight", [HIDDEN, EXPERT_WIDTH]))
    tensors.append(("model.norm.weight", [HIDDEN]))
    tensors.append(("lm_head.weight", [VOCAB, HIDDEN]))
    return tensors


def make_sparse_model(folder: Path) -> None:
    """Write the 1T model as sparse safetensors shards plus an index (headers only)."""
    tensors = one_trillion_tensors()
    sizes = [2 * _numel(shape) for _, shape in tensors]
    per_shard = sum(sizes) / SHARDS
    shards: list[list[int]] = [[]]
    filled = 0
    for i, size in enumerate(sizes):
        if shards[-1] and filled + size > per_shard and len(shards) < SHARDS:
            shards.append([])
            filled = 0
        shards[-1].append(i)
        filled += size
    weight_map: dict[str, str] = {}
    for number, members in enumerate(shards, start=1):
        name = f"model-{number:05d}-of-{len(shards):05d}.safetensors"
        header: dict[str, object] = {"__metadata__": {"format": "pt"}}
        offset = 0
        for i in members:
            tensor, shape = tensors[i]
            header[tensor] = {
                "dtype": "BF16",
                "shape": shape,
                "data_offsets": [offset, offset + sizes[i]],
            }
            offset += sizes[i]
            weight_map[tensor] = name
        raw = json.dumps(header, separators=(",", ":")).encode()
        raw += b" " * (-len(raw) % 8)  # safetensors pads the header to 8 bytes
        path = folder / name
        with path.open("wb") as handle:
            handle.write(struct.pack("<Q", len(raw)))
            handle.write(raw)
        os.truncate(path, 8 + len(raw) + offset)
    index = {"metadata": {"total_size": sum(sizes)}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    config = {"architectures": ["MoeForCausalLM"], "model_type": "moe", "hidden_size": HIDDEN}
    (folder / "config.json").write_text(json.dumps(config))


def generate(what: str, target: Path) -> None:
    """Run one generator in a child process, so the measuring parent stays small."""
    subprocess.run([sys.executable, __file__, "--generate", what, str(target)], check=True)


def bench_pth(folder: Path) -> tuple[Path, list[Measurement]]:
    """Measure the three ways of reading the ``.pth``."""
    path = folder / "model.pth"
    generate("pth", path)
    read = measure(
        "weightfit.read",
        f"m = weightfit.read({str(path)!r}); result = [len(m), m.num_params, m.container]",
        setup=FORMAT_MODULES,
    )
    load = measure(
        "torch.load(weights_only=True)",
        f"sd = torch.load({str(path)!r}, weights_only=True, map_location='cpu')\n"
        "result = [len(sd['model']), sum(t.numel() for t in sd['model'].values())]",
        setup="import torch",
    )
    mmap = measure(
        "torch.load(mmap=True, weights_only=True)",
        f"sd = torch.load({str(path)!r}, mmap=True, weights_only=True, map_location='cpu')\n"
        "result = [len(sd['model']), sum(t.numel() for t in sd['model'].values())]",
        setup="import torch",
    )
    if read.result[:2] != load.result or load.result != mmap.result:
        raise RuntimeError(f"readers disagree: {read.result} {load.result} {mmap.result}")
    return path, [read, load, mmap]


def bench_one_trillion(folder: Path) -> list[Measurement]:
    """Measure reading the sparse 1T model: index, folder, and the whole CLI."""
    model = folder / "moe-1t"
    model.mkdir()
    generate("sparse", model)
    index = model / "model.safetensors.index.json"
    read_index = measure(
        "weightfit.read(index)",
        f"m = weightfit.read({str(index)!r}); result = [len(m), m.num_params, len(m.files)]",
        setup=FORMAT_MODULES,
    )
    read_folder = measure(
        "weightfit.read(folder)",
        f"m = weightfit.read({str(model)!r}); result = [len(m), m.num_params, len(m.files)]",
        setup=FORMAT_MODULES,
    )
    cli = run_command(
        "weightfit inspect --json (whole process)",
        [sys.executable, "-m", "weightfit", "inspect", str(index), "--json"],
    )
    return [read_index, read_folder, cli]


def section(pth: Path, pth_runs: list[Measurement], big: list[Measurement]) -> str:
    """The Markdown section for BENCHMARKS.md."""
    read, load, _ = pth_runs
    tensors, params, files = big[0].result
    size = pth.stat().st_size
    lines = [
        START,
        "## Header-only reading (`bench/inspect_headers.py`)",
        "",
        f"- Machine: {machine()}",
        f"- Date: {datetime.date.today().isoformat()}",
        "- Reproduce: `make bench` (runs `.venv/bin/python bench/inspect_headers.py`)",
        "- Method: every figure comes from a fresh child process. *Time* is the operation"
        " alone, timed inside the child (imports excluded). *Peak RSS* is the whole child"
        " (interpreter and imports included), from `wait4`. The files were just written, so"
        " the page cache is warm: a cold cache slows `torch.load` further, not `weightfit.read`.",
        "",
        f"### A {size / 1e9:.2f} GB `.pth` ({human_count(read.result[1])} fp32 params, "
        f"{read.result[0]} tensors under `model`)",
        "",
        "| reader | time | peak RSS | weightfit is |",
        "| --- | ---: | ---: | ---: |",
    ]
    for run in pth_runs:
        ratio = "—" if run is read else f"{run.seconds / read.seconds:,.0f}× faster"
        lines.append(
            f"| `{run.label}` | {human_seconds(run.seconds)} | {human_mb(run.peak_rss)} | {ratio} |"
        )
    lines += [
        "",
        f"### 1T parameters: {files} sparse safetensors shards, {tensors:,} bf16 tensors",
        "",
        f"{human_count(params)} parameters ({params:,}), {2 * params / 1e12:.2f} TB of declared"
        " tensor data, none of it on disk.",
        "",
        "| operation | time | peak RSS |",
        "| --- | ---: | ---: |",
    ]
    lines += [
        f"| `{run.label}` | {human_seconds(run.seconds)} | {human_mb(run.peak_rss)} |"
        for run in big
    ]
    speedup = load.seconds / read.seconds
    peak = max(read.peak_rss, big[0].peak_rss, big[1].peak_rss)
    lines += [
        "",
        "### Targets",
        "",
        "| target | measured | met |",
        "| --- | ---: | :---: |",
        f"| `.pth` read ≥ {TARGET_SPEEDUP}× faster than `torch.load(weights_only=True)` "
        f"| {speedup:,.0f}× | {_yes(speedup >= TARGET_SPEEDUP)} |",
        f"| peak RSS of `weightfit.read` < {human_mb(TARGET_PEAK_BYTES)} (any size) "
        f"| {human_mb(peak)} | {_yes(peak < TARGET_PEAK_BYTES)} |",
        f"| 1T manifest in < {TARGET_1T_SECONDS:g} s "
        f"| {human_seconds(big[0].seconds)} | {_yes(big[0].seconds < TARGET_1T_SECONDS)} |",
        END,
    ]
    return "\n".join(lines) + "\n"


def human_count(n: int) -> str:
    """A count in K/M/B/T (``1.0T``); kept here so the parent never imports weightfit."""
    for unit, size in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return str(n)


def _numel(shape: list[int]) -> int:
    total = 1
    for size in shape:
        total *= size
    return total


def _yes(met: bool) -> str:
    return "yes" if met else "**no**"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--no-write", action="store_true", help="print, leave BENCHMARKS.md")
    parser.add_argument("--generate", nargs=2, metavar=("WHAT", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        what, target = args.generate
        (make_pth if what == "pth" else make_sparse_model)(Path(target))
        return 0
    folder = Path(tempfile.mkdtemp(prefix="weightfit-bench-"))
    try:
        pth, pth_runs = bench_pth(folder)
        big = bench_one_trillion(folder)
        text = section(pth, pth_runs, big)
    finally:
        if args.keep:
            print(f"kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print(text)
    if not args.no_write:
        _measure.replace_section(text)
        print("updated BENCHMARKS.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
