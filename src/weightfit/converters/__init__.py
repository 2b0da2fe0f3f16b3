"""The converters the libraries ship, recognised from headers and traced into plans.

diffusers converts original checkpoints (Stable Diffusion UNets and VAEs, CLIP
and OpenCLIP text encoders, SD3, Flux …) with functions in
``diffusers.loaders.single_file_utils``; transformers 5 declares its load-time
conversions (``WeightConverter``, ``WeightRenaming``). weightfit recognises
which one applies from a manifest alone (:mod:`.recognise`,
:mod:`.transformers_mapping`), runs it over shape-only tensors that record
what it does (:mod:`.trace`) and turns the record into plan ops
(:mod:`.to_plan`), so ``weightfit fix`` applies the library's own conversion
streaming. ``--no-library-converters`` or ``WEIGHTFIT_NO_LIBRARY_CONVERTERS=1``
turns all of it off, leaving weightfit's own inference.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextvars import ContextVar

from weightfit.findings import Report
from weightfit.manifest import Manifest
from weightfit.plan import Op, Plan

ENV_SWITCH = "WEIGHTFIT_NO_LIBRARY_CONVERTERS"
"""Set to ``1`` to leave library converters out of ``check`` and ``fix``."""

SAVED_LAYOUT = "saved_layout"
"""The target ``extras`` key where a transformers target records its file layout."""

EVIDENCE_KEY = "converter"
"""The evidence key of the finding that names a library converter (``diagnose/library.py``)."""

_off: ContextVar[bool] = ContextVar("weightfit_no_library_converters", default=False)


@contextlib.contextmanager
def disabled(when: bool = True) -> Iterator[None]:
    """Leave library converters out inside the block, if ``when`` (``--no-library-converters``)."""
    token = _off.set(when or _off.get())
    try:
        yield
    finally:
        _off.reset(token)


def is_disabled() -> bool:
    """Whether library converters are off (by :func:`disabled` or the environment)."""
    return _off.get() or os.environ.get(ENV_SWITCH, "") not in ("", "0")


def find_converter(source: Manifest, target: Manifest) -> Recognised | None:
    """Name the library converter that maps ``source`` onto ``target``, from headers only.

    diffusers' single-file converters are tried for diffusers targets and the
    CLIP text encoders when most checkpoint names are not the model's (another
    layout); transformers' declarative conversions for transformers targets
    whose saved layout differs from memory (``extras["saved_layout"]``, recorded
    when the target was built), so a check that needs neither imports neither.
    Returns ``None`` when none applies or converters are off.
    """
    if is_disabled():
        return None
    shared = sum(1 for name in source.tensors if name in target.tensors)
    from weightfit.converters.recognise import CLIP_CLASSES, recognise_diffusers
    from weightfit.converters.transformers_mapping import recognise_transformers

    target_class = str(target.extras.get("target_class") or "")
    named = (target.config or {}).get("_class_name")
    if not target_class and isinstance(named, str):
        # A diffusers component folder read for its weights: its config names the class.
        target_class = f"diffusers.{named}"
    diffusers_class = target_class.startswith("diffusers.")
    if (diffusers_class or target_class.rsplit(".", 1)[-1] in CLIP_CLASSES) and (
        2 * shared < len(source.tensors)
    ):
        found = recognise_diffusers(source, target, target_class.rsplit(".", 1)[-1])
        if found is not None:
            return found
    if target_class.startswith("transformers.") and target.extras.get(SAVED_LAYOUT):
        return recognise_transformers(source, target)
    return None


def plan_ops(recognised: Recognised) -> list[Op]:
    """The plan ops that apply a recognised converter (empty when it was refused)."""
    from weightfit.converters.to_plan import plan_ops as ops_of

    if recognised.trace is None:
        return []
    return ops_of(recognised.trace, recognised.label)


def plan_for(report: Report) -> Plan | None:
    """The converter's plan, when ``check`` named a library converter with ops; else ``None``.

    The converter's ops run in the order they were traced (names as the ops
    before them leave them), so they are taken as they are, not merged with
    other findings' ops.
    """
    for finding in report.findings:
        if EVIDENCE_KEY in finding.evidence and finding.fix:
            return Plan(ops=list(finding.fix), source=report.source, target=report.target)
    return None


from weightfit.converters.recognise import Recognised  # noqa: E402
from weightfit.converters.trace import TraceRefused  # noqa: E402

__all__ = [
    "ENV_SWITCH",
    "Recognised",
    "TraceRefused",
    "disabled",
    "find_converter",
    "is_disabled",
    "plan_for",
    "plan_ops",
]
