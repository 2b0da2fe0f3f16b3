"""The ``library_converter`` rule: a layout a library's own converter maps onto the target.

diffusers' single-file converters and transformers' declarative conversions
know many layouts (original Stable Diffusion, SD3, Flux, OpenCLIP, per-expert
MoE files …). When one of them, traced over the checkpoint's headers, makes
exactly the target's tensors, that is the cause of every difference: one
``version`` finding names the converter and the library version, carries the
traced plan, and consumes everything (see :mod:`weightfit.converters`).
"""

from __future__ import annotations

from weightfit import converters
from weightfit.converters import EVIDENCE_KEY, Recognised
from weightfit.diagnose._context import Context
from weightfit.findings import Finding
from weightfit.plan import Op


def library_converter(ctx: Context) -> None:
    """Name the library converter that explains every difference, with its plan."""
    if ctx.partial or converters.is_disabled():
        return
    missing, unexpected, mismatched = ctx.missing(), ctx.unexpected(), ctx.mismatches()
    renamed = any(pair.source != pair.target for pair in ctx.pairs())
    if not (missing or unexpected or mismatched or renamed):
        return
    recognised = converters.find_converter(ctx.source, ctx.target)
    if recognised is None:
        return
    try:
        ops = converters.plan_ops(recognised)
    except converters.TraceRefused as refused:
        recognised.refused = refused.detail
        ops = []
    covers = [*unexpected, *(p.source for p in mismatched), *missing]
    ctx.add(finding_of(recognised, ops, covers))
    ctx.consume(pairs=ctx.pairs(), missing=missing, unexpected=unexpected)


def finding_of(recognised: Recognised, ops: list[Op], covers: list[str]) -> Finding:
    """The ``version`` finding that names the converter, its library and the layout."""
    what = f"a '{recognised.layout}' layout" if recognised.layout else "a checkpoint layout"
    message = (
        f"{what} that {recognised.library} converts into {recognised.target_class} "
        f"({recognised.converter})"
    )
    evidence: dict[str, object] = {
        EVIDENCE_KEY: recognised.converter,
        "library": recognised.library,
        **({"layout": recognised.layout} if recognised.layout else {}),
        "target_class": recognised.target_class,
    }
    if recognised.extra:
        evidence["not_in_target"] = recognised.extra[:8]
    if recognised.refused:
        return Finding(
            category="version",
            severity="error",
            message=message + "; its conversion cannot be traced into a plan",
            params=covers,
            evidence={**evidence, "refused": recognised.refused},
            confidence=0.9,
            fix_note=(
                f"{recognised.refused}; `weightfit fix --in-memory-converter` runs the "
                "converter in memory instead"
            ),
        )
    if recognised.library.startswith("transformers"):
        # from_pretrained converts this layout itself: benign, as the saved_layout rule says.
        return Finding(
            category="version",
            severity="info",
            message=(
                f"benign: the checkpoint is in the file layout {recognised.library}'s "
                f"save_pretrained writes for {recognised.target_class}, which from_pretrained "
                f"converts on load ({recognised.converter}); a plain load_state_dict needs "
                f"the plan ({len(ops)} ops)"
            ),
            params=covers,
            evidence={**evidence, "ops": len(ops)},
            confidence=0.97,
            fix=ops,
            fix_note=f"the plan is {recognised.label}, traced",
        )
    return Finding(
        category="version",
        severity="error",
        message=message + f"; `weightfit fix` applies that conversion streaming ({len(ops)} ops)",
        params=covers,
        evidence={**evidence, "ops": len(ops)},
        confidence=0.97,
        fix=ops,
        fix_note=f"the plan is {recognised.label}, traced",
    )
