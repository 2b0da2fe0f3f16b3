"""``unknown`` (text only): a loading error no rule explained.

The finding carries everything read and the command that settles it.
"""

from __future__ import annotations

from weightfit.diagnose import _known
from weightfit.diagnose._context import Context, shape_text
from weightfit.diagnose._facts import text_facts
from weightfit.findings import Finding
from weightfit.manifest import counted


def unknown(ctx: Context) -> None:
    """Report a loading error in a text that no rule explained, with all that was read."""
    facts = text_facts(ctx)
    if facts is None or ctx.findings:
        return
    source, target = ctx.source.tensors, ctx.target.tensors
    shapes = {
        name: {
            "checkpoint": shape_text(source[name].shape) if name in source else None,
            "model": shape_text(target[name].shape) if name in target else None,
        }
        for name in list(dict.fromkeys([*source, *target]))[:20]
    }
    numbers = sorted(
        {d for spec in (*source.values(), *target.values()) for d in spec.shape if d > 1}
    )
    candidates = {
        str(n): labels
        for n in numbers[:12]
        if (labels := (_known.width_labels(n) + _known.vocab_labels(n))[:3])
    }
    checkpoint = next(iter(facts.files), "CKPT")
    ctx.add(
        Finding(
            category="unknown",
            severity="error",
            message=(
                "the text holds a loading error no rule explains"
                + (f" ({counted(len(shapes), 'tensor')} named)" if shapes else " (no tensor named)")
            ),
            params=list(shapes),
            evidence={"tensors": shapes, "numbers_match": candidates, **facts.to_dict()},
            confidence=0.2,
            fix_note=(
                f"settle it with the files at hand: weightfit check {checkpoint} --against "
                "TARGET (the model's config.json, folder or a factory pkg.module:Callable)"
            ),
        )
    )
