"""Measure conversion between naming schemes on real conversions weightfit did not write.

Each pair in ``bench/convert_pairs/pairs.yaml`` is a small configuration of a real
model class and a layout a real converter turns into it (transformers 5's load-time
conversion mappings, its GGUF loader over gguf-py's name tables, Meta's Llama names);
``bench/convert_pairs/ground_truth.py`` runs the converter on tagged values (every
source element a distinct integer). weightfit sees only the source file and the
model's manifest (without the layout transformers records for its own classes), writes
a plan with ``fix --plan-only``, and the plan is applied. Per pair:

- **right**: model tensors the plan writes with exactly the converter's values;
- **wrong**: model tensors it writes with other values (the worst outcome);
- **unmapped**: model tensors the plan does not write (left for review);
- whether the plan ``fix`` wrote applies (``apply`` on the real file).

Held-back pairs were fixed before tuning and not looked at while tuning; their
figures are the honest ones. Then the time to infer a plan (align, diagnose, place)
for full-size published configs, built on the meta device.

Run: ``.venv/bin/python bench/convert.py [--no-write] [--only ID] [--show]``.
"""

from __future__ import annotations

import os

# The matcher must stand on its own: the converters libraries ship (issue 13's
# library_converter rule) would explain some of these pairs by running them.
os.environ["WEIGHTFIT_NO_LIBRARY_CONVERTERS"] = "1"

import argparse
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _measure
import yaml
from convert_pairs import ground_truth

PAIRS = Path(__file__).resolve().parent / "convert_pairs" / "pairs.yaml"


@dataclass
class Outcome:
    """What one pair's plan did."""

    id: str
    label: str
    held_back: bool
    targets: int
    right: int
    wrong: int
    unmapped: int
    applies: bool
    inferred_ops: int
    wrong_names: list[str]
    unmapped_names: list[str]


def target_manifest(model: Any) -> Any:
    """The model's manifest as weightfit builds it, without transformers' recorded layout."""
    from weightfit.targets import resolve

    manifest = resolve(model)
    manifest.extras.pop("saved_layout", None)
    manifest.config = model.config.to_dict()
    return manifest


def run_pair(spec: dict[str, Any], tmp: Path) -> Outcome:
    """Build the pair, plan with ``fix --plan-only``, apply, compare with the truth."""
    import torch
    from safetensors.torch import load_file, save_file

    import weightfit
    from weightfit import ops
    from weightfit.apply import PLAN_FILE
    from weightfit.errors import WeightfitError
    from weightfit.plan import Plan

    pair = ground_truth.BUILDERS[spec["converter"]](spec)
    folder = tmp / spec["id"]
    folder.mkdir()
    checkpoint = folder / "source.safetensors"
    save_file(pair.source, checkpoint)
    target = target_manifest(pair.model)
    weightfit.fix(checkpoint, target, folder / "plan", plan_only=True)
    plan = Plan.load(folder / "plan" / PLAN_FILE)
    applies = True
    try:
        weightfit.apply(plan, checkpoint, folder / "out", hash_sources=False)
    except WeightfitError:
        applies = False
    values = load_file(checkpoint)
    outcome = ops.run(plan, weightfit.read(checkpoint))
    right, wrong, unmapped = [], [], []
    for name, truth in pair.truth.items():
        recipe = outcome.recipes.get(name)
        if recipe is None:
            unmapped.append(name)
            continue
        made = recipe.evaluate(lambda spec: values[spec.name].contiguous())
        ok = made.shape == truth.shape and torch.equal(made.to(truth.dtype), truth)
        (right if ok else wrong).append(name)
    version = _version("transformers")
    label = f"{spec['id']} ({spec['converter']}, transformers {version})"
    return Outcome(
        spec["id"],
        label,
        spec["held_back"],
        len(pair.truth),
        len(right),
        len(wrong),
        len(unmapped),
        applies,
        len(plan.inferred),
        wrong,
        unmapped,
    )


def _version(name: str) -> str:
    from importlib import metadata

    return metadata.version(name)


def time_full_size(spec: dict[str, Any], repeats: int = 3) -> tuple[int, int, float]:
    """Tensors on each side and the best time to align, diagnose and place a plan."""
    from weightfit.check import check
    from weightfit.fix import plan_from_report
    from weightfit.manifest import from_shapes

    shapes, model = ground_truth.full_size_manifests(spec)
    source = from_shapes(shapes)
    target = from_shapes({k: tuple(v.shape) for k, v in model.state_dict().items()})
    target.config = model.config.to_dict()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        report = check(source, target)
        plan_from_report(report, source)
        best = min(best, time.perf_counter() - start)
    return len(source), len(target), best


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "–"


def render(outcomes: list[Outcome], timings: list[tuple[str, int, int, float]]) -> str:
    """The BENCHMARKS.md section."""
    lines = [
        "<!-- bench/convert.py begin -->",
        "## Converting between naming schemes (`bench/convert.py`)",
        "",
        "Real conversions weightfit did not write (`bench/convert_pairs/pairs.yaml`): a small",
        "config of each real model class, the source layout and the truth made by the real",
        "converter on tagged values (every source element a distinct integer). weightfit sees",
        "the source file and the model's manifest, `fix --plan-only` writes a plan, the plan",
        "is applied. *right*: written with the converter's values; *wrong*: written with other",
        "values; *unmapped*: left out of the plan (for review). Held-back pairs were not looked",
        "at while tuning.",
        "",
        "| pair | held back | targets | right | wrong | unmapped | inferred ops | plan applies |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for o in outcomes:
        lines.append(
            f"| {o.label} | {'yes' if o.held_back else 'no'} | {o.targets} | {o.right} | "
            f"{o.wrong} | {o.unmapped} | {o.inferred_ops} | {'yes' if o.applies else 'NO'} |"
        )
    lines += [
        "",
        "| part | pairs | targets | right | wrong | unmapped | plans apply |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for part, held in (("development", False), ("held back", True)):
        chosen = [o for o in outcomes if o.held_back is held]
        total = sum(o.targets for o in chosen)
        right = sum(o.right for o in chosen)
        wrong = sum(o.wrong for o in chosen)
        unmapped = sum(o.unmapped for o in chosen)
        applies = sum(o.applies for o in chosen)
        lines.append(
            f"| {part} | {len(chosen)} | {total} | {right} ({_share(right, total)}) | "
            f"{wrong} ({_share(wrong, total)}) | {unmapped} ({_share(unmapped, total)}) | "
            f"{applies}/{len(chosen)} |"
        )
    lines += [
        "",
        "Time to infer the plan (align, diagnose, place) for full-size published configs",
        "(manifests built on the meta device; best of 3, in process):",
        "",
        "| config | checkpoint tensors | model tensors | time |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, left, right_count, seconds in timings:
        lines.append(f"| {label} | {left} | {right_count} | {_measure.human_seconds(seconds)} |")
    lines += ["", f"Machine: {_measure.machine()}.", "<!-- bench/convert.py end -->"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    parser.add_argument("--only", action="append", help="run only these pair ids")
    parser.add_argument("--show", action="store_true", help="list wrong and unmapped names")
    parser.add_argument("--no-timing", action="store_true", help="skip the full-size timings")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    specs = yaml.safe_load(PAIRS.read_text(encoding="utf-8"))
    if args.only:
        specs = [s for s in specs if s["id"] in args.only]
    outcomes = []
    with tempfile.TemporaryDirectory() as tmp:
        for spec in specs:
            outcome = run_pair(spec, Path(tmp))
            outcomes.append(outcome)
            print(
                f"{outcome.label:<55} {'held' if outcome.held_back else 'dev ':<4} "
                f"right {outcome.right:>3}/{outcome.targets:<3} wrong {outcome.wrong:>3} "
                f"unmapped {outcome.unmapped:>3} applies {outcome.applies}",
                flush=True,
            )
            if args.show:
                for name in outcome.wrong_names:
                    print(f"    WRONG    {name}")
                for name in outcome.unmapped_names:
                    print(f"    unmapped {name}")
    timings = []
    if not args.no_timing:
        for spec in specs:
            if "full_size" in spec:
                left, right, seconds = time_full_size(spec)
                label = f"{spec['full_size_source'].split()[0]} ({spec['converter']})"
                timings.append((label, left, right, seconds))
                print(f"{label:<55} {left} → {right} tensors in {seconds:.3f} s", flush=True)
    section = render(outcomes, timings)
    if args.no_write or args.only:
        print(section)
    else:
        _measure.replace_section(section)


if __name__ == "__main__":
    main()
