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
from weightfit.diagnose._context import Context


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
    ctx.add(converters.finding_of(recognised, ops, covers))
    ctx.consume(pairs=ctx.pairs(), missing=missing, unexpected=unexpected)
