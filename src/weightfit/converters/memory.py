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

from weightfit.converters.recognise import Recognised
from weightfit.errors import VerificationFailed
from weightfit.manifest import Manifest, TensorSpec
from weightfit.ops.recipes import Outcome, Recipe

if TYPE_CHECKING:
    import torch

STAMP_KEY = "weightfit.converted_in_memory"
"""``__metadata__`` key naming the converter that made the weights in memory."""


def outcome_in_memory(recognised: Recognised, source: Manifest, target: Manifest) -> Outcome:
    """Run ``recognised.run`` on the checkpoint's tensors; return what it made as recipes.

    Tensors the target does not have are left out. The caller writes the
    outcome (:func:`weightfit.apply.write_outcome`) with :data:`STAMP_KEY`.

    Raises:
        VerificationFailed: the converter returned something that is not a tensor.

    """
    from weightfit.dtypes import canonical
    from weightfit.tensor_io import Sources

    path = Path(source.source)
    with Sources(path if path.is_dir() else path.parent) as sources:
        state = {name: sources.read_tensor(spec) for name, spec in source.tensors.items()}
    converted = recognised.run(state)
    del state
    recipes: dict[str, Recipe] = {}
    for name, value in converted.items():
        if name not in target.tensors:
            continue
        if not hasattr(value, "shape"):
            raise VerificationFailed(f"{recognised.label} returned {name!r} without a tensor")
        spec = TensorSpec(name=name, shape=tuple(value.shape), dtype=canonical(str(value.dtype)))
        recipes[name] = Recipe(spec=spec, fn=_constant(value.contiguous()))
    return Outcome(recipes=recipes, reinit=[], source=replace(source, tensors={}))


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


def fallback(report: Any, source: Manifest, target: Manifest) -> tuple[Outcome, str] | None:
    """The refused converter ``report`` names, run in memory: its outcome and label.

    ``None`` when ``check`` named no refused converter.
    """
    from weightfit.converters import find_converter

    if not refused_in_report(report):
        return None
    recognised = find_converter(source, target)
    if recognised is None:
        return None
    return outcome_in_memory(recognised, source, target), recognised.label
