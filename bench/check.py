"""Benchmark ``weightfit check`` and the alignment it rests on.

(a) A 70B-parameter transformers config (Llama-2-70B ``config.json``) checked
    against its own checkpoint, written as sparse safetensors shards the way HF
    shards it (header + index, no tensor bytes on disk), and against a copy with
    three injected faults (a resized embedding and head, a dropped layer, a
    transposed weight): the whole ``weightfit check`` process cold (target cache
    empty: torch and transformers are imported and the model built on ``meta``)
    and warm (the target manifest served from the cache); side by side with the
    obvious alternative: build the model on ``meta`` and call
    ``load_state_dict(strict=False, assign=True)`` with meta tensors shaped from
    the headers. Also where the cold time goes, import by import.
(b) Alignment of two 60,000-tensor manifests with a ``module.`` prefix and
    templated renames.

Every measurement runs in a fresh child process (see ``_measure.py``), with
``WEIGHTFIT_CACHE`` pointing into the run's temporary folder (the user's cache
is never read or written). Run with ``python bench/check.py``; it prints a
Markdown section and puts it in ``BENCHMARKS.md`` (between its markers) unless
``--no-write``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _measure
from _measure import human_seconds, machine, measure

LLAMA_2_70B = {
    "architectures": ["LlamaForCausalLM"],
    "bos_token_id": 1,
    "eos_token_id": 2,
    "hidden_act": "silu",
    "hidden_size": 8192,
    "initializer_range": 0.02,
    "intermediate_size": 28672,
    "max_position_embeddings": 4096,
    "model_type": "llama",
    "num_attention_heads": 64,
    "num_hidden_layers": 80,
    "num_key_value_heads": 8,
    "pretraining_tp": 1,
    "rms_norm_eps": 1e-05,
    "rope_scaling": None,
    "tie_word_embeddings": False,
    "torch_dtype": "float16",
    "transformers_version": "4.31.0.dev0",
    "use_cache": True,
    "vocab_size": 32000,
}
"""meta-llama/Llama-2-70b-hf config.json, as published."""

SHARD_BYTES = 10 * 10**9
"""Shard size of the written checkpoint (HF shards Llama-2-70B into 15 files of ≤ 10 GB)."""

# Written in a child so the parent stays small; shapes come from the model built
# on meta, the checkpoint holds F16 like the published one.
WRITE_CHECKPOINTS = """
import json, math, os, struct
from pathlib import Path
import weightfit.targets
from weightfit import dtypes

target = weightfit.targets.resolve(CONFIG)
shapes = {name: list(spec.shape) for name, spec in target.tensors.items()}

def write(folder, shapes):
    folder.mkdir(parents=True)
    shards, current, size = [], {}, 0
    for name, shape in shapes.items():
        nbytes = dtypes.nbytes("F16", tuple(shape))
        if current and size + nbytes > SHARD_BYTES:
            shards.append(current)
            current, size = {}, 0
        current[name] = shape
        size += nbytes
    shards.append(current)
    weight_map, total = {}, 0
    for number, shard in enumerate(shards, start=1):
        file = f"model-{number:05d}-of-{len(shards):05d}.safetensors"
        header, offset = {"__metadata__": {"format": "pt"}}, 0
        for name, shape in shard.items():
            nbytes = dtypes.nbytes("F16", tuple(shape))
            span = [offset, offset + nbytes]
            header[name] = {"dtype": "F16", "shape": shape, "data_offsets": span}
            offset += nbytes
            weight_map[name] = file
        text = json.dumps(header).encode()
        text += b" " * (-len(text) % 8)
        with open(folder / file, "wb") as handle:
            handle.write(struct.pack("<Q", len(text)) + text)
        # Sparse: the data section is a hole, no bytes on disk.
        os.truncate(folder / file, 8 + len(text) + offset)
        total += offset
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    return len(shards)

faulty = dict(shapes)
for name in ("model.embed_tokens.weight", "lm_head.weight"):
    faulty[name] = [32001, faulty[name][1]]
for name in [n for n in faulty if n.startswith("model.layers.79.")]:
    del faulty[name]
down = "model.layers.10.mlp.down_proj.weight"
faulty[down] = faulty[down][::-1]
result = {
    "tensors": len(shapes),
    "params": sum(math.prod(s) for s in shapes.values()),
    "shards": write(Path(OWN), shapes),
    "faulty_tensors": len(faulty),
}
write(Path(FAULTY), faulty)
"""

CHECK = """
report = weightfit.check(CKPT, CONFIG)
result = {
    "compatible": report.compatible,
    "findings": [f"{f.category}:{f.severity}" for f in report.findings],
    "imported": [m for m in ("torch", "transformers") if m in sys.modules],
}
"""

STAGES = """
import time
from weightfit import formats, targets
from weightfit.align import align
from weightfit.diagnose import diagnose
stamps = [time.perf_counter()]
source = formats.read(CKPT); stamps.append(time.perf_counter())
import transformers; stamps.append(time.perf_counter())
from transformers import LlamaForCausalLM; stamps.append(time.perf_counter())
target = targets.resolve(CONFIG); stamps.append(time.perf_counter())
hit = targets.resolve(CONFIG); stamps.append(time.perf_counter())
alignment = align(source, target); stamps.append(time.perf_counter())
findings = diagnose(alignment); stamps.append(time.perf_counter())
names = [
    "read 15 shard headers",
    "import torch + transformers",
    "import the Llama modeling module",
    "build the model on meta and store it in the cache",
    "resolve the target again (cache hit)",
    "align",
    "diagnose",
]
result = {n: b - a for n, a, b in zip(names, stamps, stamps[1:])}
"""

IMPORTS = {
    "torch": "import torch",
    "torch + transformers": "import torch, transformers",
    "+ transformers.modeling_utils": "import torch, transformers.modeling_utils",
    "+ transformers.models.llama.modeling_llama (direct)": (
        "import torch, transformers.models.llama.modeling_llama"
    ),
    "+ `from transformers import LlamaForCausalLM` (lazy module)": (
        "import torch; from transformers import LlamaForCausalLM"
    ),
}
"""Imports timed one per fresh process: does importing the modeling module directly help?"""

ALTERNATIVE = """
import json, torch, transformers
from safetensors import safe_open
config = transformers.AutoConfig.from_pretrained(Path(CONFIG).parent)
with torch.device("meta"):
    model = transformers.AutoModelForCausalLM.from_config(config)
index = json.loads((Path(FOLDER) / "model.safetensors.index.json").read_text())
state = {}
for file in sorted(set(index["weight_map"].values())):
    with safe_open(str(Path(FOLDER) / file), "pt") as handle:
        for name in handle.keys():
            piece = handle.get_slice(name)
            dtype = {"F16": torch.float16}[piece.get_dtype()]
            state[name] = torch.empty(piece.get_shape(), dtype=dtype, device="meta")
try:
    keys = model.load_state_dict(state, strict=False, assign=True)
    result = {"missing": len(keys.missing_keys), "unexpected": len(keys.unexpected_keys)}
except RuntimeError as error:
    result = {"error": str(error).splitlines()[0][:120], "lines": str(error).count("size mismatch")}
"""

ALIGN_60K = """
source, target = {}, {}
for i in range(1000):
    for kind in "qkv":
        source[f"module.layers.{i}.attn.{kind}.weight"] = (64, 64)
        target[f"layers.{i}.attn.to_{kind}.weight"] = (64, 64)
        source[f"module.layers.{i}.attn.{kind}.bias"] = (64,)
        target[f"layers.{i}.attn.to_{kind}.bias"] = (64,)
    for j in range(27):
        source[f"module.layers.{i}.mlp.fc{j}.weight"] = (64, j + 1)
        target[f"layers.{i}.mlp.fc{j}.weight"] = (64, j + 1)
        source[f"module.layers.{i}.blk{j}.proj.weight"] = (j + 1, 64)
        target[f"layers.{i}.blk{j}.to_out.0.weight"] = (j + 1, 64)
left, right = from_shapes(source), from_shapes(target)
"""


WARM_RUNS = 3
"""Warm CLI runs per checkpoint; the median is reported (the machine is shared)."""

BEGIN, END = "<!-- bench/check.py begin -->", "<!-- bench/check.py end -->"


def main() -> None:
    """Run every measurement, print the Markdown section and put it in ``BENCHMARKS.md``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="weightfit-bench-check-") as tmp:
        root = Path(tmp)
        # Every child inherits this: the bench owns its cache and starts it empty.
        os.environ["WEIGHTFIT_CACHE"] = str(root / "cache")
        os.environ.pop("WEIGHTFIT_NO_CACHE", None)
        config = root / "llama-2-70b" / "config.json"
        config.parent.mkdir()
        config.write_text(json.dumps(LLAMA_2_70B, indent=2))
        own, faulty = root / "own", root / "faulty"
        for folder in (own, faulty):
            folder.mkdir()
        paths = (
            f"CONFIG = {str(config)!r}; OWN = {str(own / 'ckpt')!r}; "
            f"FAULTY = {str(faulty / 'ckpt')!r}"
        )
        written = measure(
            "write sparse checkpoints",
            WRITE_CHECKPOINTS,
            setup=f"{paths}\nSHARD_BYTES = {SHARD_BYTES}",
        )
        section = "\n".join(
            [
                BEGIN,
                _section_a(config, own / "ckpt", faulty / "ckpt", written.result),
                _section_b(),
                END,
            ]
        )
    print(section)
    if not args.no_write:
        _measure.replace_section(section)


def _section_a(config: Path, own: Path, faulty: Path, written: dict[str, int]) -> str:
    load = os.getloadavg()
    lines = [
        "## `weightfit check` (bench/check.py)",
        "",
        f"Machine: {machine()}; load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
        "(1 / 5 / 15 min) when the run began; the 2 cores are shared with other jobs, so "
        "wall times are upper bounds.",
        "",
        f"Llama-2-70B `config.json` ({written['params'] / 1e9:.1f}B params, "
        f"{written['tensors']} tensors) against its own checkpoint written as "
        f"{written['shards']} sparse F16 safetensors shards + index (header only, the data "
        "a hole), and against a copy with three faults "
        "(embed_tokens and lm_head resized to 32001 rows, layer 79 dropped, layer 10 down_proj "
        "transposed). Every figure is one fresh process; *operation* excludes interpreter "
        "start. *Cold*: the target cache is empty, so the process imports torch and "
        "transformers, builds the model on `meta` and stores its manifest. *Warm*: the "
        f"manifest comes from the cache and neither torch nor transformers is imported "
        f"(median of {WARM_RUNS} runs).",
        "",
        "| what | checkpoint | operation | whole process | result |",
        "| --- | --- | ---: | ---: | --- |",
    ]
    cache = Path(os.environ["WEIGHTFIT_CACHE"])
    colds: list[float] = []
    for label, ckpt in (("own", own), ("3 faults", faulty)):
        setup = f"import weightfit\nCKPT = {str(ckpt)!r}; CONFIG = {str(config)!r}"
        shutil.rmtree(cache, ignore_errors=True)
        cold_cli = _cli(ckpt, config)
        warm_cli = [_cli(ckpt, config) for _ in range(WARM_RUNS)]
        shutil.rmtree(cache, ignore_errors=True)
        cold = measure("check", CHECK, setup=setup)
        warm = measure("check", CHECK, setup=setup)
        code = warm_cli[0][1]
        colds.append(cold_cli[0])
        lines += [
            f"| `weightfit check` CLI, **cold** | {label} | | "
            f"{human_seconds(cold_cli[0])} | exit {cold_cli[1]} |",
            f"| `weightfit check` CLI, **warm** | {label} | | "
            f"**{human_seconds(statistics.median(t for t, _ in warm_cli))}** | exit {code} |",
            f"| `weightfit.check`, cold | {label} | {human_seconds(cold.seconds)} | "
            f"{human_seconds(cold.process_seconds)} | {_verdict(cold.result)} |",
            f"| `weightfit.check`, warm | {label} | {human_seconds(warm.seconds)} | "
            f"{human_seconds(warm.process_seconds)} | {_verdict(warm.result)} |",
        ]
        alternative = measure(
            "alternative",
            ALTERNATIVE,
            setup=f"from pathlib import Path\nFOLDER = {str(ckpt)!r}\nCONFIG = {str(config)!r}",
        )
        lines.append(
            f"| meta model + `load_state_dict(strict=False, assign=True)` | {label} | "
            f"{human_seconds(alternative.seconds)} | "
            f"{human_seconds(alternative.process_seconds)} | {_alternative(alternative.result)} |"
        )
    shutil.rmtree(cache, ignore_errors=True)
    stages = measure(
        "stages", STAGES, setup=f"CKPT = {str(faulty)!r}; CONFIG = {str(config)!r}"
    ).result
    imports = {name: measure(name, code).seconds for name, code in IMPORTS.items()}
    lines += [
        "",
        "Where the cold time goes (3 faults, one process, cache empty): "
        + ", ".join(f"{name} {human_seconds(seconds)}" for name, seconds in stages.items())
        + ". Importing torch, transformers and the Llama module is the cold process; "
        "weightfit's own work is a fraction of a second, and a cache hit replaces the "
        "imports and the build.",
        "",
        "Could a cold run import less? Each import timed in its own process: "
        + ", ".join(f"{name} {human_seconds(seconds)}" for name, seconds in imports.items())
        + ". Nearly all of it is `transformers.modeling_utils` and what it pulls in "
        "(`torch.distributed.tensor`, `torch._dynamo`, sympy), which every modeling module "
        "imports; importing `modeling_llama` directly instead of through the lazy "
        "`transformers` namespace saves nothing measurable, so the builder keeps the public "
        "class lookup.",
        "",
        "So the < 1 s target of issue 3 holds for a warm `weightfit check` (any later check "
        "against the same config, with the same transformers and torch), not for the first "
        f"one: that run pays the import of transformers ({human_seconds(min(colds))} - "
        f"{human_seconds(max(colds))} whole process here), as the alternative does on every "
        "run. The cache is keyed by the config, the class, the transformers and torch "
        "versions and weightfit's own build code, so a hit is only served where a fresh build "
        "would give the same manifest; `--no-cache` or `WEIGHTFIT_NO_CACHE=1` always builds "
        "cold.",
        "",
    ]
    return "\n".join(lines)


def _section_b() -> str:
    timed = measure(
        "align 60k",
        "cpu = time.process_time()\n"
        "alignment = align(left, right)\n"
        "result = {'pairs': len(alignment.pairs), 'renames': len(alignment.renames), "
        "'prefix': str(alignment.prefix), 'cpu': time.process_time() - cpu}",
        setup="import time\nfrom weightfit.align import align\n"
        "from weightfit.manifest import from_shapes\n" + ALIGN_60K,
    )
    result = timed.result
    return "\n".join(
        [
            "Alignment of two 60,000-tensor manifests (1,000 layers × 60 tensors; every name "
            "behind a `module.` prefix, 30 templated renames such as `layers.{i}.attn.q` → "
            f"`layers.{{i}}.attn.to_q`): **{human_seconds(timed.seconds)}** wall, "
            f"{human_seconds(result['cpu'])} CPU "
            f"({result['pairs']} pairs, {result['renames']} rename rules, {result['prefix']}). "
            "There is no off-the-shelf alternative to set beside it: `load_state_dict` reports "
            "the 120,000 names as missing and unexpected.",
            "",
        ]
    )


def _cli(ckpt: Path, config: Path) -> tuple[float, int]:
    """Whole-process wall time and exit code of ``weightfit check --json``."""
    argv = [
        sys.executable,
        "-m",
        "weightfit",
        "check",
        str(ckpt),
        "--against",
        str(config),
        "--json",
    ]
    started = time.perf_counter()
    completed = subprocess.run(argv, capture_output=True, check=False)
    seconds = time.perf_counter() - started
    if completed.returncode not in (0, 1):
        raise RuntimeError(f"weightfit check failed:\n{completed.stderr.decode()}")
    return seconds, completed.returncode


def _verdict(result: dict[str, object]) -> str:
    findings = result["findings"]
    verdict = "compatible" if result["compatible"] else "incompatible"
    found = ", ".join(map(str, findings)) if findings else "no findings"  # type: ignore[call-overload]
    imported = " + ".join(map(str, result["imported"])) or "nothing"  # type: ignore[call-overload]
    return f"{verdict}; {found}; imported {imported}"


def _alternative(result: dict[str, object]) -> str:
    if "error" in result:
        lines = result["lines"]
        return f"RuntimeError listing {lines} size mismatches (names and shapes, no cause)"
    return f"{result['missing']} missing, {result['unexpected']} unexpected keys"


if __name__ == "__main__":
    main()
