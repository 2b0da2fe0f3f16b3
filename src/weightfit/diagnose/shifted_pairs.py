"""The ``shifted_pairs`` rule: a state dict paired with the model's by position, one entry off.

Loading code that renames a checkpoint by zipping its values with the model's
``state_dict()`` keys (``OrderedDict(zip(model_keys, ckpt.values()))``) pairs the two lists
by position. When one list holds a 0-d buffer the other dropped or never had (BatchNorm's
``num_batches_tracked``, added in PyTorch 0.4.1 and filtered out by many such loaders on one
side only), every later value lands under the next name: the listed mismatches then form a
chain, each shape one side gives being the shape the other side gave its neighbour, from a
scalar on. That is the code and the file disagreeing on which buffers a state dict holds
(``version``), not another architecture.
"""

from __future__ import annotations

from weightfit.diagnose._context import Context, shape_text
from weightfit.diagnose._facts import text_facts
from weightfit.findings import Finding

MIN_CHAIN = 3
"""Mismatches a shifted chain must hold: a scalar and two shapes each moved one name on."""


def shifted_pairs(ctx: Context) -> None:
    """Report mismatches that are the same values paired one entry off, from a 0-d buffer."""
    facts = text_facts(ctx)
    if facts is None or not facts.scalar_pairs or ctx.findings:
        return
    pairs = ctx.mismatches()
    listed = sorted(
        [(name, shapes) for name, shapes in facts.scalar_pairs.items()]
        + [(p.source, (ctx.src(p).shape, ctx.tgt(p).shape)) for p in pairs],
        key=lambda entry: _place(facts.text, entry[0]),
    )
    if len(listed) < MIN_CHAIN or any(_place(facts.text, n) < 0 for n, _ in listed):
        return
    src = [tuple(have) for _, (have, _want) in listed]
    tgt = [tuple(want) for _, (_have, want) in listed]
    if _chain(src, tgt):
        holder = "checkpoint"
    elif _chain(tgt, src):
        holder = "model"
    else:
        return
    ctx.consume(pairs=pairs)
    _report(ctx, listed[0][0], holder, src if holder == "checkpoint" else tgt)


def _place(text: str, name: str) -> int:
    """Where a listed name first stands in the text (its section's own name, label cut)."""
    return text.find(name.rsplit("/", 1)[-1])


def _chain(leading: list[tuple[int, ...]], following: list[tuple[int, ...]]) -> bool:
    """Whether ``leading`` opens on a scalar and then holds ``following``'s shapes, one on."""
    return (
        leading[0] == ()
        and all(following)
        and all(leading[i + 1] == following[i] for i in range(len(leading) - 1))
        and len(set(following)) > 1
    )


def _report(ctx: Context, first: str, holder: str, shapes: list[tuple[int, ...]]) -> None:
    """Add the finding: which side holds the scalar, and the chain of shapes it shifted."""
    other = "model" if holder == "checkpoint" else "checkpoint"
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"the {holder}'s listed shapes ({', '.join(shape_text(s) for s in shapes)}, "
                f"from {first} on) are the {other}'s moved one entry on, opening on a 0-d "
                "value: the loader paired the two "
                f"state dicts by position, and the {holder} holds a scalar buffer (BatchNorm's "
                f"num_batches_tracked, PyTorch 0.4.1 on) the {other}'s list does not, so every "
                "later value moved one name on"
            ),
            evidence={
                "holder": holder,
                "first": first,
                "chain": [shape_text(s) for s in shapes],
            },
            confidence=0.45,
            fix_note=(
                "drop the 0-d entries (num_batches_tracked) from both lists before pairing "
                "them by position, or pair the entries by name"
            ),
        )
    )
