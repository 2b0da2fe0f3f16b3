"""The fallback the tracer's refusal offers: run a library converter in memory, then write.

Only on an explicit request (``weightfit fix --in-memory-converter``): every
tensor the converter reads is loaded, the library's function runs on real
tensors as the library runs it, and the result is written through the same
atomic, verified writer as a plan. Memory is the whole checkpoint, not one
tensor; the plan written beside the weights is empty, and its stamp names the
converter.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from weightfit.apply import ApplyResult, write_outcome
from weightfit.converters.recognise import Recognised
from weightfit.errors import VerificationFailed
from weightfit.manifest import Manifest, TensorSpec
from weightfit.ops import Outcome, Recipe
from weightfit.plan import Plan

if TYPE_CHECKING:
    import torch

STAMP_KEY = "weightfit.converted_in_memory"
"""``__metadata__`` key naming the converter that made the weights in memory."""


def convert_in_memory(
    recognised: Recognised,
    source: Manifest,
    target: Manifest,
    out: str | Path,
    *,
    overwrite: bool = False,
    hash_sources: bool = True,
    shard_size: int | str = 5 * 10**9,
) -> ApplyResult:
    """Run ``recognised.run`` on the checkpoint's tensors and write what it returns.

    Raises:
        VerificationFailed: the converter's output does not load strict into ``target``.
        OutputError: writing failed; nothing is left behind.

    """
    from weightfit.apply import _base_of
    from weightfit.dtypes import canonical
    from weightfit.tensor_io import Sources

    with Sources(_base_of(source)) as sources:
        state = {name: sources.read_tensor(spec) for name, spec in source.tensors.items()}
    converted = recognised.run(state)
    del state
    kept = {name: value for name, value in converted.items() if name in target.tensors}
    recipes: dict[str, Recipe] = {}
    for name, value in kept.items():
        if not hasattr(value, "shape"):
            raise VerificationFailed(f"{recognised.label} returned {name!r} without a tensor")
        spec = TensorSpec(name=name, shape=tuple(value.shape), dtype=canonical(str(value.dtype)))
        recipes[name] = Recipe(spec=spec, fn=_constant(value.contiguous()))
    outcome = Outcome(recipes=recipes, reinit=[], source=replace(source, tensors={}))
    plan = Plan(ops=[], source=source.source, target=target.source)
    return write_outcome(
        outcome,
        out,
        plan=plan,
        target=target,
        overwrite=overwrite,
        hash_sources=hash_sources,
        shard_size=shard_size,
        stamp={STAMP_KEY: recognised.label},
    )


def _constant(value: torch.Tensor) -> Any:
    def fn(_: list[torch.Tensor]) -> torch.Tensor:
        return value

    return fn


def refused_in_report(report: Any) -> bool:
    """Whether ``check`` named a library converter that the tracer refused."""
    return any(
        "converter" in finding.evidence and "refused" in finding.evidence
        for finding in report.findings
    )


def fallback(
    report: Any, source: Manifest, target: Manifest, out: str | Path, **options: Any
) -> ApplyResult | None:
    """Run the refused converter ``report`` names in memory; ``None`` when there is none."""
    from weightfit.converters import find_converter

    if not refused_in_report(report):
        return None
    recognised = find_converter(source, target)
    if recognised is None:
        return None
    return convert_in_memory(recognised, source, target, out, **options)
