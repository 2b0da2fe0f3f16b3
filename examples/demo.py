"""``make demo``: build example checkpoints in ./demo-out/ and run weightfit on them.

The demo is a list of steps (``STEPS``). A step either builds an example with
the real libraries or runs the real ``weightfit`` command on one, and says which
exit codes it expects; the demo stops at the first surprise. To show a new
command, append steps (build what it needs, then run it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

OUT = Path("demo-out")
NESTED_PTH = OUT / "nested.pth"
LLAMA_FOLDER = OUT / "tiny-llama"
SANA_FOLDER = OUT / "sana-2k-bf16"
SANA_FIXED = OUT / "sana-2k-bf16-fixed"
"""A second copy for ``lint --fix``: the README shows the lint of the untouched one."""
DIT_2D = OUT / "DiT-2d.pt"
DIT_3D_FOLDER = OUT / "dit-3d"
SEEDS = OUT / "seeds"
CASE4 = OUT / "autotrain-lora"
DIT_3D_TARGET = "seeds:tiny_dit3d"
"""The Open-Sora-like 3D model, as a factory (``tests/`` is put on PYTHONPATH for it)."""


@dataclass
class Step:
    """One thing the demo does: build an example, or run a command on one."""

    title: str
    action: Callable[[], int]
    expect: tuple[int, ...] = (0,)


def weightfit(*args: object) -> int:
    """Run the real command line, showing what was typed."""
    argv = [str(arg) for arg in args]
    print(f"$ weightfit {' '.join(argv)}", flush=True)
    return run(argv)


def in_subprocess(argv: list[str]) -> int:
    """``python -m weightfit ARGV``, as a user types it (``tests/`` on the path for factories)."""
    tests = str(Path(__file__).resolve().parents[1] / "tests")
    env = {
        **os.environ,
        "COLUMNS": os.environ.get("COLUMNS", "120"),
        "PYTHONPATH": os.pathsep.join(filter(None, [tests, os.environ.get("PYTHONPATH")])),
    }
    return subprocess.run(
        [sys.executable, "-m", "weightfit", *argv], check=False, env=env
    ).returncode


run: Callable[[list[str]], int] = in_subprocess
"""How ``weightfit`` runs a command; ``tests/test_readme.py`` runs the same ones in-process."""


def build_nested_pth() -> int:
    """A training checkpoint: model, EMA copy, optimizer state and epoch, as people save them."""
    import copy

    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1),
        torch.nn.BatchNorm2d(16),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(16 * 8 * 8, 10),
    )
    ema = copy.deepcopy(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(4, 3, 8, 8)).sum().backward()
    optimizer.step()
    checkpoint = {
        "model": model.state_dict(),
        "ema": ema.state_dict(),
        "optimizer": optimizer.state_dict(),
        "epoch": 3,
    }
    torch.save(checkpoint, NESTED_PTH)
    print(f"wrote {NESTED_PTH}: model + ema + optimizer + epoch")
    return 0


def build_sharded_llama() -> int:
    """A tiny Llama saved by transformers in shards, plus a bf16 variant beside it."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=1000,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=6,
        num_attention_heads=4,
        num_key_value_heads=2,
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(LLAMA_FOLDER, max_shard_size="200KB")
    model.to(torch.bfloat16).save_pretrained(LLAMA_FOLDER, variant="bf16")
    shards = len(list(LLAMA_FOLDER.glob("model-*.safetensors")))
    print(f"wrote {LLAMA_FOLDER}: {shards} fp32 shards + index, and model.bf16.safetensors")
    return 0


def build_seed_checks() -> int:
    """Seed cases 1 and 2 at their real names and shapes, as sparse files (no disk cost)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import seeds

    SEEDS.mkdir(parents=True, exist_ok=True)
    sana = seeds.case1_diffusers(SEEDS / "case1")
    # Moved, not copied: a copy would fill in the sparse file's 6.4 GB of zeros.
    sana.checkpoint.replace(SEEDS / "sana-gemma-transformer.safetensors")
    sana.target.replace(SEEDS / "sana-qwen-transformer-config.json")
    seeds.case2_checkpoint(SEEDS)
    seeds.write_sparse_safetensors(
        SEEDS / "opensora-3d.safetensors", seeds.seed_manifest(2, "model")
    )
    shutil.rmtree(SEEDS / "case1")
    print(f"wrote {SEEDS}: Sana transformer (caption 2304) and DiT-XL-2 (sparse)")
    return 0


def build_seed3_pipeline() -> int:
    """The Sana 2K BF16 pipeline layout of diffusers#10634, as sparse files of the real sizes."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from test_lint_seed import build_seed3

    build_seed3(SANA_FOLDER)
    build_seed3(SANA_FIXED)
    print(
        f"wrote {SANA_FOLDER}: transformer fp32 shards + bf16 file, vae .bf16 holding F32 (sparse),"
        f" and a copy to fix, {SANA_FIXED}"
    )
    return 0


def build_dit2d() -> int:
    """Meta's 2D DiT layout (Conv2d patch embedding), tiny, saved as torch.save does."""
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from seeds import tiny_dit2d

    torch.manual_seed(0)
    torch.save(tiny_dit2d().state_dict(), DIT_2D)
    print(f"wrote {DIT_2D}: x_embedder.proj.weight is [16, 4, 2, 2] (Conv2d)")
    return 0


def compare_dit() -> int:
    """Load the fixed checkpoint strict into the 3D model; one frame must give the 2D output."""
    import torch

    import weightfit

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from seeds import tiny_dit2d, tiny_dit3d

    model2d, model3d = tiny_dit2d(), tiny_dit3d()
    model2d.load_state_dict(torch.load(DIT_2D, weights_only=True))
    report = weightfit.load_into(model3d, DIT_3D_FOLDER, strict=True)
    print(report)
    x, t, y = torch.randn(2, 4, 8, 8), torch.tensor([3, 500]), torch.tensor([1, 7])
    with torch.no_grad():
        difference = (model3d(x.unsqueeze(2), t, y).squeeze(2) - model2d(x, t, y)).abs().max()
    print(f"3D model on one frame vs 2D model: max |difference| = {float(difference)}")
    return 0 if float(difference) == 0.0 else 1


def build_case4() -> int:
    """Seed case 4, small: tiny Llama, one token added (pad_to_multiple_of=8), LoRA + tokenizer."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import seeds
    from adapter_builders import save_tokenizer

    case = seeds.build_case4_peft(CASE4, vocab=1000, added=1, pad_to_multiple_of=8)
    save_tokenizer(case.adapter, 1000, 1)
    print(f"wrote {CASE4}: base (1000 rows) and adapter (1008 rows, tokenizer of 1001)")
    return 0


STEPS: list[Step] = [
    Step("Build a nested training checkpoint", build_nested_pth),
    Step(
        "Inspect it: the model state dict is chosen, the others listed",
        lambda: weightfit("inspect", NESTED_PTH),
    ),
    Step(
        "Read the EMA copy instead",
        lambda: weightfit("inspect", NESTED_PTH, "--key", "ema", "--depth", "1"),
    ),
    Step("Build a sharded transformers folder with a bf16 variant", build_sharded_llama),
    Step(
        "Inspect the folder: layers collapse into one row",
        lambda: weightfit("inspect", LLAMA_FOLDER),
    ),
    Step(
        "Pick the bf16 weight set, only the attention tensors",
        lambda: weightfit(
            "inspect", LLAMA_FOLDER, "--variant", "bf16", "--filter", "*.self_attn.*"
        ),
    ),
    Step(
        "Ask for a variant that is not there: one line, exit 3",
        lambda: weightfit("inspect", LLAMA_FOLDER, "--variant", "fp16"),
        expect=(3,),
    ),
    Step("Build seed cases 1 and 2 at their real names and shapes", build_seed_checks),
    Step(
        "Check a Sana transformer trained with gemma-2-2b-it against one built for Qwen2.5-1.5B",
        lambda: weightfit(
            "check",
            SEEDS / "sana-gemma-transformer.safetensors",
            "--against",
            SEEDS / "sana-qwen-transformer-config.json",
        ),
        expect=(1,),
    ),
    Step(
        "Check Meta's 2D DiT-XL-2 against Open-Sora's 3D model",
        lambda: weightfit(
            "check",
            SEEDS / "DiT-XL-2-256x256.safetensors",
            "--against",
            SEEDS / "opensora-3d.safetensors",
        ),
        expect=(1,),
    ),
    Step("Build the Sana 2K BF16 pipeline folder of diffusers#10634", build_seed3_pipeline),
    Step(
        "Lint it: the transformer's mixed weight sets and the bytes, the mislabelled VAE",
        lambda: weightfit("lint", SANA_FOLDER, "--verbose"),
        expect=(1,),
    ),
    Step(
        "Dry run of every fix: the file operations, nothing changed",
        lambda: weightfit("lint", SANA_FOLDER, "--fix", "--unsafe-fixes", "--dry-run"),
        expect=(1,),
    ),
    Step(
        "Apply the safe fix (a bf16 index) to the copy and lint it again",
        lambda: weightfit("lint", SANA_FIXED, "--fix"),
        expect=(1,),
    ),
    Step("Build a 2D DiT checkpoint (Open-Sora's seed case)", build_dit2d),
    Step(
        "Fix it for the 3D model: plan (unsqueeze the patch kernel), apply, verify",
        lambda: weightfit("fix", DIT_2D, "--against", DIT_3D_TARGET, "-o", DIT_3D_FOLDER),
    ),
    Step("Load the fixed checkpoint strict and compare the numbers", compare_dit),
    Step(
        "Explain Sana's error log with no files at hand: the text encoder was swapped",
        lambda: explain_seed("case1-sana-text-encoder"),
        expect=(1,),
    ),
    Step("Build Autotrain's seed case: a LoRA trained after adding a token", build_case4),
    Step(
        "Check the adapter against its un-resized base: the vocabulary was resized",
        lambda: weightfit("adapter", "check", CASE4 / "adapter", "--base", CASE4 / "base"),
        expect=(1,),
    ),
    Step(
        "Merge it: the base is resized to the adapter's rows first",
        lambda: weightfit(
            "adapter", "merge", CASE4 / "adapter", "--base", CASE4 / "base", "-o", CASE4 / "merged"
        ),
    ),
]


def explain_seed(case: str) -> int:
    """Save a seed case's error text as a log, then run ``weightfit explain`` on it."""
    import json

    seed = json.loads(
        (
            Path(__file__).resolve().parents[1] / "tests" / "data" / "seeds" / f"{case}.json"
        ).read_text()
    )
    log = OUT / f"{case}.log"
    log.write_text(seed["verbatim_error"] + "\n" + seed.get("error_tail_reconstructed", ""))
    return weightfit("explain", log)


def quiet_libraries() -> None:
    """Keep the libraries' own progress bars and advice out of the demo's output."""
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    warnings.filterwarnings("ignore", category=FutureWarning)


def disk_use(folder: Path) -> tuple[int, int]:
    """Bytes ``folder`` takes on disk, and the bytes its files say they hold (sparse files)."""
    files = [path.stat() for path in folder.rglob("*") if path.is_file()]
    return sum(s.st_blocks * 512 for s in files), sum(s.st_size for s in files)


def main() -> int:
    quiet_libraries()
    started = time.monotonic()
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir()
    for number, step in enumerate(STEPS, start=1):
        print(f"\n── {number}. {step.title}", flush=True)
        code = step.action()
        if code not in step.expect:
            print(f"demo step {number} exited {code}, expected {step.expect}", file=sys.stderr)
            return 1
    used, apparent = disk_use(OUT)
    print(
        f"\nDone in {time.monotonic() - started:.0f} s. The examples are in {OUT}/: "
        f"{used / 1e6:.1f} MB on disk ({apparent / 1e9:.1f} GB in sparse files)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
