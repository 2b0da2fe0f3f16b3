"""Diagnosis: turn an alignment's differences into findings, one per cause.

Rules run in a fixed order over one shared context (:mod:`.registry` declares
each rule once: what it emits, what it runs after, its profiles). Each rule
reasons from shapes, dtypes and the structure of the names (layer stacks, first
and last layers), using the knowledge tables only to *name* candidates (``2304 =
gemma-2-2b-it hidden_size``). A rule consumes what it explains, so later rules
and the ``missing``/``unexpected`` leftovers never repeat a cause.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from weightfit.alignment import Alignment
from weightfit.diagnose._context import Context
from weightfit.diagnose.calibration import calibrate, cap_partly_explained
from weightfit.diagnose.registry import Profile, rules
from weightfit.findings import Finding

RULES: tuple[Callable[[Context], None], ...] = tuple(rule.run for rule in rules("check"))
"""The ``check`` profile's rules, in the order they run."""


def diagnose(
    alignment: Alignment,
    *,
    profile: Profile = "check",
    facts: Mapping[str, Any] | None = None,
) -> list[Finding]:
    """Explain every difference of an alignment, one finding per cause.

    Args:
        alignment: A checkpoint's manifest lined up with its target's
            (:func:`weightfit.align.align`).
        profile: Which rules run (:data:`.registry.PROFILES`): ``check`` (a
            whole checkpoint against a whole model), ``adapter`` (a PEFT adapter
            against its base) or ``text`` (a pasted loading error's partial
            manifests).
        facts: What the caller knows besides the manifests, for the rules that
            read it (``tokenizer`` for ``adapter``; ``messages``, ``lora_halves``
            and ``model`` for ``text``).

    Returns:
        The findings in rule order (callers rank them). An empty list means the
        checkpoint loads strictly and nothing about it looks wrong; findings of
        severity ``info`` alone mean it loads and the differences are benign.

    Example:
        >>> from weightfit.align import align
        >>> from weightfit.manifest import from_shapes
        >>> found = diagnose(align(from_shapes({"module.fc.weight": (2, 3)}),
        ...                        from_shapes({"fc.weight": (2, 3)})))
        >>> [(f.category, f.fix[0].args) for f in found]
        [('prefix', {'strip': 'module.', 'add': ''})]

    """
    context = Context(alignment, profile=profile, facts=dict(facts or {}))
    for rule in rules(profile):
        made = len(context.findings)
        rule.run(context)
        if profile == "text":
            calibrate(rule.name, context.findings[made:])
    if profile == "text":
        cap_partly_explained(context.findings)
    return context.findings


__all__ = ["RULES", "diagnose"]
