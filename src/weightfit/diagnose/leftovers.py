"""The ``missing`` and ``unexpected`` rules: what is left after every other rule.

Each side's leftovers make one finding, their names folded into templates over
layer indices (``blocks.{0..27}.attn.qkv.weight ×28``) so a repeated cause reads
as one line. The cause is unknown, so no op is proposed: making up weights or
discarding them silently is exactly what a person should decide.
"""

from __future__ import annotations

from typing import Literal

from weightfit.diagnose._context import Context, shape_text
from weightfit.findings import LIST_CUT, Finding
from weightfit.manifest import Manifest, TensorSpec, human_count
from weightfit.tree import collapse_names

PARTIAL_CONFIDENCE = 0.6
"""Confidence of a leftover read from a text: the cause may be what the text leaves out."""

MAX_GROUPS = 20
"""Templates listed in a finding's evidence (the rest are counted)."""


def missing(ctx: Context) -> None:
    """Report model tensors nothing in the checkpoint matched and no rule explained."""
    names = ctx.missing()
    empty = not ctx.partial and not ctx.source.tensors and ctx.source.container_reason
    _leftovers(
        ctx,
        "missing",
        names,
        ctx.target,
        "model tensor{s}{params} {have} no counterpart in the checkpoint",
        f"the checkpoint holds no model tensors: {ctx.source.container_reason}"
        if empty
        else "a strict load fails; with strict=False these keep their initial values and "
        "need training. Check the checkpoint is the model's (or add reinit ops on purpose)",
    )
    ctx.consume(missing=names)


def unexpected(ctx: Context) -> None:
    """Report checkpoint tensors nothing in the model matched and no rule explained."""
    names = ctx.unexpected()
    _leftovers(
        ctx,
        "unexpected",
        names,
        ctx.source,
        "checkpoint tensor{s}{params} {have} no place in the model",
        "a strict load fails; if the model really lacks these parts, drop them "
        "(drop ops), otherwise the model is built without a module the checkpoint has",
    )
    ctx.consume(unexpected=names)


def _leftovers(
    ctx: Context,
    category: Literal["missing", "unexpected"],
    names: list[str],
    side: Manifest,
    what: str,
    fix_note: str,
) -> None:
    """Add the one finding for what is left on one side, names folded into templates."""
    if not names:
        return
    params = _count(side, names)
    ctx.add(
        Finding(
            category=category,
            severity="error",
            message=(
                f"{len(names)} {_numbered(what, len(names), params=_params_text(params))}: "
                f"{_summary(names)}"
            ),
            params=names,
            evidence=_evidence(names, side, params) | _cut(ctx),
            # That the names are absent is certain; from a pasted text, that nothing else
            # explains them is not (the text shows only part of the picture).
            confidence=PARTIAL_CONFIDENCE if ctx.partial else 1.0,
            fix_note=fix_note,
        )
    )


def _numbered(what: str, count: int, **fields: str) -> str:
    """``what`` with its noun (``{s}``) and verb (``{have}``) agreeing with ``count``."""
    plural = count != 1
    return what.format(s="s" if plural else "", have="have" if plural else "has", **fields)


def _count(manifest: Manifest, names: list[str]) -> int | None:
    """Elements of the named tensors; ``None`` when any is known only by name."""
    specs = [manifest[n] for n in names]
    if not all(spec.shape_known for spec in specs):
        return None
    return sum(spec.numel for spec in specs)


def _shape(spec: TensorSpec) -> str | None:
    return shape_text(spec.shape) if spec.shape_known else None


def _params_text(params: int | None) -> str:
    return "" if params is None else f" ({human_count(params)} params)"


def _summary(names: list[str]) -> str:
    groups = collapse_names(names)
    shown = ", ".join(str(g) for g in groups[:3])
    return shown + (f" (+{len(groups) - 3} more groups)" if len(groups) > 3 else "")


def _cut(ctx: Context) -> dict[str, object]:
    """``list_cut`` when the pasted lists were cut short.

    How many names a side lacks a counterpart for is then not known, only that some do.
    """
    return {LIST_CUT: True} if ctx.facts.get("truncated") else {}


def _evidence(names: list[str], manifest: Manifest, params: int | None) -> dict[str, object]:
    groups = collapse_names(names)
    return {
        "groups": [
            {
                "template": g.template,
                "count": g.count,
                "shape": _shape(manifest[g.names[0]]),
                "dtype": manifest[g.names[0]].dtype,
            }
            for g in groups[:MAX_GROUPS]
        ],
        "more_groups": max(len(groups) - MAX_GROUPS, 0),
        "tensors": len(names),
        "params": params,
    }
