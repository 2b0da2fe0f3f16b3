"""Benchmark a library converter run by ``weightfit fix`` against the library itself.

One real-size conversion: a Stable Diffusion 1.x UNet (the SD 1.5 config, 860M
parameters, 3.4 GB of random fp32 values written to disk) in the original ldm
layout (``model.diffusion_model.input_blocks…``, laid out by
``tests/original_layouts.py``) is converted to diffusers' ``UNet2DConditionModel``
two ways, each as a whole command in a fresh process (wall time, and its peak
RSS from ``wait4``):

- **weightfit** — ``weightfit fix CKPT --against unet/config.json -o OUT``: recognises
  ``convert_ldm_unet_checkpoint`` from the headers, traces it into a plan, streams
  it (unchanged bytes copied in the kernel), fsyncs, re-reads and verifies;
  once more with ``--no-hash``;
- **diffusers** — ``safetensors.torch.load_file`` + ``convert_ldm_unet_checkpoint``
  in memory + ``save_file``: what a user of the library writes.

The two outputs are compared tensor by tensor (bytes). Files are written in a
temporary folder and deleted afterwards; the script checks the free disk first.
The result replaces this benchmark's section of ``BENCHMARKS.md`` unless
``--no-write``.

Run: ``.venv/bin/python bench/convert_library.py [--no-write]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import _measure
from _measure import Measurement, human_mb, machine, measure, run_command

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- bench/convert_library.py begin -->", "<!-- bench/convert_library.py end -->"
NEEDED_DISK = 12 * 10**9
"""Source, two outputs and slack: refuse to start with less free disk."""

SD15_UNET = {
    "sample_size": 64,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": [
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "DownBlock2D",
    ],
    "up_block_types": [
        "UpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
    ],
    "block_out_channels": [320, 640, 1280, 1280],
    "layers_per_block": 2,
    "cross_attention_dim": 768,
    "attention_head_dim": 8,
}
"""The UNet of stable-diffusion-v1-5 (``unet/config.json``), defaults filled by diffusers."""

GENERATE = """
import json, sys, torch
sys.path.insert(0, {tests!r})
from diffusers import UNet2DConditionModel
from safetensors.torch import save_file
from original_layouts import ldm_unet
config = json.loads({config!r})
with torch.device("meta"):
    model = UNet2DConditionModel(**config)
generator = torch.Generator().manual_seed(0)
shapes = {{k: tuple(v.shape) for k, v in model.state_dict().items()}}
state = {{k: torch.randn(s, generator=generator) for k, s in shapes.items()}}
state = ldm_unet(state, dict(model.config))
save_file(state, {path!r})
result = sum(v.numel() * 4 for v in state.values())
"""

LIBRARY = """
import json
from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint
from safetensors.torch import load_file, save_file
config = json.loads(open({config!r}).read())
state = load_file({source!r})
converted = convert_ldm_unet_checkpoint(state, config)
save_file(converted, {out!r}, metadata={{"format": "pt"}})
"""

COMPARE = """
from safetensors import safe_open
with safe_open({one!r}, "pt") as a, safe_open({two!r}, "pt") as b:
    assert sorted(a.keys()) == sorted(b.keys()), "different tensor names"
    names = list(a.keys())
    different = [k for k in names if not a.get_tensor(k).view(-1).view(torch.uint8).equal(
        b.get_tensor(k).view(-1).view(torch.uint8))]
result = {{"tensors": len(names), "different": different[:5]}}
"""


def run(folder: Path) -> dict[str, object]:
    """Generate the UNet, convert it both ways, compare; return the figures."""
    source = folder / "sd15-unet-original.safetensors"
    tests = str(ROOT / "tests")
    generated = measure(
        "generate",
        GENERATE.format(tests=tests, config=json.dumps(SD15_UNET), path=str(source)),
        setup="import torch",
    )
    target = folder / "unet"
    target.mkdir()
    config = {"_class_name": "UNet2DConditionModel", **SD15_UNET}
    (target / "config.json").write_text(json.dumps(config))
    python = sys.executable
    env_path = str(ROOT / "src")
    os.environ["PYTHONPATH"] = env_path
    results: dict[str, Measurement] = {}
    cli = [python, "-m", "weightfit", "fix", str(source), "--against", str(target / "config.json")]
    results["weightfit"] = run_command("weightfit", [*cli, "-o", str(folder / "wf")])
    results["weightfit-nohash"] = run_command(
        "weightfit --no-hash", [*cli, "-o", str(folder / "wf-nohash"), "--no-hash"]
    )
    diffusers_out = folder / "diffusers.safetensors"
    library = LIBRARY.format(
        config=str(target / "config.json"), source=str(source), out=str(diffusers_out)
    )
    results["diffusers"] = run_command("diffusers", [python, "-c", library])
    for key, figures in results.items():
        print(f"{key}: {figures.seconds:.1f} s, peak {human_mb(figures.peak_rss)}", flush=True)
    compared = measure(
        "compare",
        COMPARE.format(one=str(folder / "wf" / "model.safetensors"), two=str(diffusers_out)),
        setup="import torch",
    )
    import diffusers

    return {
        "bytes": generated.result,
        "tensors": compared.result["tensors"],
        "different": compared.result["different"],
        "diffusers": diffusers.__version__,
        "runs": {key: {"seconds": m.seconds, "peak_rss": m.peak_rss} for key, m in results.items()},
    }


def render(data: dict[str, object]) -> str:
    """The BENCHMARKS.md section."""
    runs = data["runs"]
    assert isinstance(runs, dict)
    size = int(data["bytes"])  # type: ignore[call-overload]
    rows = [
        ("`weightfit fix` (traced plan, streamed, verified, sources hashed)", runs["weightfit"]),
        ("`weightfit fix --no-hash`", runs["weightfit-nohash"]),
        (
            "diffusers: `load_file` + `convert_ldm_unet_checkpoint` + `save_file`",
            runs["diffusers"],
        ),
    ]
    lines = [
        BEGIN,
        "## Library converter: SD 1.x UNet, original layout → diffusers "
        "(`bench/convert_library.py`)",
        "",
        f"- Machine: {machine()}",
        f"- Source: a Stable Diffusion 1.5-size UNet in the original ldm layout, "
        f"{data['tensors']} tensors, {human_mb(size)} of random fp32 on disk "
        f"(safetensors); target `UNet2DConditionModel` (SD 1.5 config), "
        f"diffusers {data['diffusers']}.",
        "- Each row is one whole command in a fresh process (imports included); "
        "peak RSS from `wait4`.",
        f"- Outputs equal bit for bit: {'yes' if not data['different'] else data['different']}.",
        "",
        "| how | wall time | peak RSS |",
        "| --- | ---: | ---: |",
    ]
    for label, figures in rows:
        lines.append(
            f"| {label} | {figures['seconds']:.1f} s | {human_mb(int(figures['peak_rss']))} |"
        )
    lines += [
        "",
        "weightfit recognises the layout from the headers, runs diffusers' own converter over",
        "shape-only tensors and applies the traced plan: every tensor of this converter is a",
        "rename or a reshape, so its bytes are copied file to file in the kernel and memory",
        "stays near the interpreter's; diffusers holds the whole checkpoint in memory.",
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    """Parse arguments, check the disk, run, write the section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print, do not edit BENCHMARKS.md")
    parser.add_argument("--dir", type=Path, default=None, help="scratch folder (default: /tmp)")
    args = parser.parse_args()
    base = args.dir or Path(tempfile.gettempdir())
    free = shutil.disk_usage(base).free
    if free < NEEDED_DISK:
        raise SystemExit(f"need {human_mb(NEEDED_DISK)} free in {base}, have {human_mb(free)}")
    folder = Path(tempfile.mkdtemp(prefix="weightfit-convert-library-", dir=base))
    try:
        data = run(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    section = render(data)
    print(section)
    if not args.no_write:
        _measure.replace_section(section)


if __name__ == "__main__":
    main()
