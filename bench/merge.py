"""Benchmark ``weightfit adapter merge`` against PEFT's ``merge_and_unload`` on a ~1 GB model.

One run, the same base and adapter, each method in a fresh child process (time
of the operation, and the child's peak RSS from ``wait4``):

- **weightfit** — ``merge_adapter(adapter, base, out)``: streams the base tensor
  by tensor, adds ``scale · B @ A`` in place, copies untouched tensors in the
  kernel, hashes the sources in the background, fsyncs, re-reads and verifies;
  once more with ``hash_sources=False``;
- **PEFT** — ``AutoModelForCausalLM.from_pretrained`` + ``PeftModel.from_pretrained``
  + ``merge_and_unload()`` + ``save_pretrained`` (safetensors).

The base is a Llama sized to ~1 GB in fp32 (random init, ``save_pretrained``);
the adapter is a LoRA (r=16) on every linear layer with random ``B``. Both
outputs are compared (max abs difference) before they are deleted. Files live in
a temporary folder on the same disk. The result replaces this benchmark's
section of ``BENCHMARKS.md`` unless ``--no-write``.

Run: ``.venv/bin/python bench/merge.py [--no-write] [--layers 15]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

import _measure
from _measure import Measurement, human_mb, machine, measure

ROOT = Path(__file__).resolve().parents[1]
HIDDEN, INTERMEDIATE, VOCAB = 1024, 2816, 32000
"""Llama shape: embeddings and head 32000 × 1024 F32 (131 MB each) are the largest tensors."""
MEMORY_HEADROOM = 300 * 10**6
"""weightfit's peak RSS must stay under the largest tensor + 300 MB."""
BEGIN, END = "<!-- bench/merge.py begin -->", "<!-- bench/merge.py end -->"

GENERATE = """
import torch
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM
torch.manual_seed(0)
config = LlamaConfig(
    vocab_size={vocab}, hidden_size={hidden}, intermediate_size={intermediate},
    num_hidden_layers={layers}, num_attention_heads=16, num_key_value_heads=16,
    tie_word_embeddings=False,
)
model = LlamaForCausalLM(config)
model.save_pretrained({base!r})
largest = max(p.numel() * p.element_size() for p in model.parameters())
lora = LoraConfig(r=16, lora_alpha=32, task_type="CAUSAL_LM", target_modules=[
    "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
peft_model = get_peft_model(model, lora)
with torch.no_grad():
    for name, param in peft_model.named_parameters():
        if "lora_B" in name:
            param.normal_(0, 0.02)
peft_model.save_pretrained({adapter!r})
result = [sum(p.numel() * p.element_size() for p in model.parameters()), largest]
"""

WEIGHTFIT = """
from weightfit.adapters.merge import merge_adapter
merged = merge_adapter({adapter!r}, {base!r}, {out!r}{extra})
result = [merged.modules, merged.applied.bytes]
"""

PEFT = """
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM
model = AutoModelForCausalLM.from_pretrained({base!r}, dtype=torch.float32)
model = PeftModel.from_pretrained(model, {adapter!r}).merge_and_unload()
model.save_pretrained({out!r})
result = sum(p.numel() for p in model.parameters())
"""

COMPARE = """
from pathlib import Path
from safetensors import safe_open
def tensors(folder):
    for path in sorted(Path(folder).glob("*.safetensors")):
        with safe_open(path, "pt") as handle:
            for name in handle.keys():
                yield name, path
ours, theirs = dict(tensors({ours!r})), dict(tensors({theirs!r}))
assert set(ours) == set(theirs), set(ours) ^ set(theirs)
worst = 0.0
for name in ours:
    with safe_open(ours[name], "pt") as a, safe_open(theirs[name], "pt") as b:
        worst = max(worst, float((a.get_tensor(name) - b.get_tensor(name)).abs().max()))
result = [len(ours), worst]
"""


def run(folder: Path, layers: int) -> dict[str, object]:
    base, adapter = folder / "base", folder / "adapter"
    made = measure(
        "generate",
        GENERATE.format(
            vocab=VOCAB,
            hidden=HIDDEN,
            intermediate=INTERMEDIATE,
            layers=layers,
            base=str(base),
            adapter=str(adapter),
        ),
    )
    os.sync()
    size, largest = made.result
    rows: list[tuple[str, Measurement]] = []
    outs = {}
    for label, extra in (
        ("weightfit `adapter merge`", ""),
        ("weightfit `adapter merge --no-hash`", ", hash_sources=False"),
    ):
        out = folder / f"weightfit-{len(rows)}"
        code = WEIGHTFIT.format(adapter=str(adapter), base=str(base), out=str(out), extra=extra)
        rows.append((label, measure(label, code)))
        outs[label] = out
        os.sync()
    out = folder / "peft"
    label = "PEFT `merge_and_unload` + `save_pretrained`"
    rows.append(
        (label, measure(label, PEFT.format(base=str(base), adapter=str(adapter), out=str(out))))
    )
    compared = measure(
        "compare", COMPARE.format(ours=str(outs[rows[0][0]]), theirs=str(out))
    ).result
    return {
        "size": size,
        "largest": largest,
        "layers": layers,
        "modules": rows[0][1].result[0],
        "rows": rows,
        "tensors": compared[0],
        "max_diff": compared[1],
    }


def render(data: dict[str, object]) -> str:
    size, largest = int(data["size"]), int(data["largest"])  # type: ignore[call-overload]
    rows: list[tuple[str, Measurement]] = data["rows"]  # type: ignore[assignment]
    lines = [
        BEGIN,
        "## Merge",
        "",
        "`weightfit adapter merge` against PEFT (`bench/merge.py`).",
        "",
        f"- Machine: {machine()}",
        "- Reproduce: `.venv/bin/python bench/merge.py` (generates the model, deletes it after)",
        f"- Input: a Llama base of {size / 1e9:.2f} GB fp32 ({data['layers']} layers, hidden "
        f"{HIDDEN}, vocab {VOCAB}; largest tensor {human_mb(largest)}), `save_pretrained`; "
        f"a LoRA adapter (r=16, alpha=32) on all {data['modules']} linear layers, random `B`.",
        "- Method: each row is a fresh child process; *time* is the operation alone (PEFT: "
        "load, attach, merge, save); *peak RSS* is the whole child (interpreter, torch and "
        "imports included) from `wait4`; the page cache is warm. weightfit's time includes "
        "hashing the sources, `fsync` and re-reading and verifying the output.",
        "",
        "| method | time | peak RSS |",
        "| --- | ---: | ---: |",
    ]
    for label, m in rows:
        lines.append(f"| {label} | {m.seconds:.2f} s | {human_mb(m.peak_rss)} |")
    ours = rows[0][1]
    budget = largest + MEMORY_HEADROOM
    lines += [
        "",
        f"Outputs agree: {data['tensors']} tensors, max abs difference "
        f"{float(data['max_diff']):.2e} (fp32). Two cores are shared with other jobs, so "  # type: ignore[arg-type]
        "times vary by ±30 % from run to run: across runs, either weightfit row was the faster.",
        "",
        "| target | measured | met |",
        "| --- | ---: | :---: |",
        f"| peak RSS ≤ largest tensor + 300 MB ({human_mb(budget)}) | {human_mb(ours.peak_rss)} | "
        f"{'yes' if ours.peak_rss <= budget else 'no'} |",
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=15, help="decoder layers (15: ~1 GB)")
    parser.add_argument("--no-write", action="store_true", help="print, do not edit BENCHMARKS.md")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="weightfit-bench-merge-"))
    try:
        section = render(run(folder, args.layers))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(section)
    if not args.no_write:
        _measure.replace_section(section)


if __name__ == "__main__":
    main()
