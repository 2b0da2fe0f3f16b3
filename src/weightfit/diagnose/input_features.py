"""The ``input_features`` rule: the model is fed another number of input features.

Matrices whose input axis alone differs, by the same few features on every one, with
sizes no hidden width has (not both multiples of 8): the layers that read the model's
raw inputs (a pillar encoder's 9 point features against 10, a policy's observation of
101 values against 105). The code that builds the inputs changed between the checkpoint
and the model (or an option that adds features), not the size of the network.
"""

from __future__ import annotations

from weightfit.diagnose._context import Context, shape_text
from weightfit.diagnose.table_rows import is_class_worded
from weightfit.findings import Finding
from weightfit.manifest import counted

MAX_FEATURES_CHANGE = 16
"""Most input features read as a change in what the model is fed (more is a width)."""


def input_features(ctx: Context) -> None:
    """Report input axes that all differ by the same few features, everything else equal."""
    if not ctx.partial:
        return
    pairs = ctx.mismatches()
    if not pairs:
        return
    changes = set()
    for pair in pairs:
        have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
        if len(have) != 2 or len(want) != 2 or have[0] != want[0]:
            return
        if is_class_worded(pair.target):
            return  # a column per class (a zero-shot classifier's text embeddings)
        if have[1] % 8 == 0 and want[1] % 8 == 0:
            return  # two hidden widths: another size of the network
        changes.add(have[1] - want[1])
    if len(changes) != 1:
        return
    change = changes.pop()
    if not 0 < abs(change) <= MAX_FEATURES_CHANGE:
        return
    first = pairs[0]
    more = "more" if change > 0 else "fewer"
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"the checkpoint's input layers read {counted(abs(change), f'{more} feature')} "
                "than the "
                f"model's ({first.target} {shape_text(ctx.src(first).shape)} against "
                f"{shape_text(ctx.tgt(first).shape)}): the code that builds the model's inputs "
                "changed (or an option that adds input features), not the network's size"
            ),
            params=[p.source for p in pairs],
            evidence={"features_change": change, "tensors": [p.target for p in pairs[:8]]},
            confidence=0.45,
            fix_note=(
                "use the code version (or the input options) the checkpoint was trained with, "
                "or a checkpoint released for the current code"
            ),
        )
    )
    ctx.consume(pairs=pairs)
