"""Task heads one side has and the other lacks: a base model's weights in its task class, or back.

transformers builds a task class as its base model plus a head: ``BertForSequenceClassification``
is ``bert.`` and ``classifier``, ``LlamaForCausalLM`` is ``model.`` and ``lm_head``. A
base checkpoint has no head for the task class; a task checkpoint has one the base class
(or another task's class) lacks. When everything else matched, the leftovers are whole
top-level modules named as heads, and ``from_pretrained`` initialises the model's new head
and ignores the checkpoint's, with a warning. The plan does the same: ``reinit`` the
model's head (needs review: it must be trained), ``drop`` the checkpoint's.
"""

from __future__ import annotations

from weightfit.diagnose._context import Context, escape_pattern
from weightfit.findings import Finding
from weightfit.plan import Op

HEAD_WORDS = ("head", "classifier", "score", "cls", "logit", "pred", "qa_outputs", "pooler")
"""Words of a top-level module that sits on the base model: transformers' ``lm_head``,
``classifier``, ``score``, ``cls.predictions``, ``qa_outputs`` and the ``pooler`` some
task classes leave out."""

MATCHED_PER_LEFTOVER = 4
"""Matched tensors needed per leftover one: a head is a few tensors on a whole model."""

CONFIDENCE = 0.85
"""A head named so, every other tensor matched; which side's config is meant is the user's."""


def task_heads(ctx: Context) -> None:
    """Report heads only the model has (reinit) and heads only the checkpoint has (drop)."""
    if ctx.partial:
        return
    _other_parts(ctx)
    matched = {_top(p.target) for p in ctx.alignment.pairs}
    missing = ctx.missing()
    unexpected = ctx.unexpected()
    enough = len(ctx.alignment.pairs) >= MATCHED_PER_LEFTOVER * (len(missing) + len(unexpected))
    if not enough or ctx.mismatches():
        return
    if _heads_only(missing, matched):
        _report(ctx, missing, model_side=True)
    renamed = [ctx.renamed(name) for name in unexpected]
    if _heads_only(renamed, matched):
        _report(ctx, unexpected, model_side=False)


def _other_parts(ctx: Context) -> None:
    """Report the rest of a composite checkpoint whose one part (``text_model.``) is the model.

    ``CLIPTextModel.from_pretrained`` of a whole CLIP reads ``text_model.`` and ignores the
    vision tower and projections; so does the plan, once everything under the part matched.
    """
    prefix = ctx.alignment.prefix
    unexpected = ctx.unexpected()
    if prefix is None or not prefix.strip or prefix.add or ctx.missing() or ctx.mismatches():
        return
    if not unexpected or any(name.startswith(prefix.strip) for name in unexpected):
        return
    tops = sorted({_top(name) for name in unexpected})
    fix = [
        Op("drop", {"name": top}, "another part of the checkpoint's model")
        if top in unexpected
        else Op("drop", {"pattern": escape_pattern(top + ".") + ".*"}, "another part")
        for top in tops
    ]
    ctx.add(
        Finding(
            category="unexpected",
            severity="error",
            message=(
                f"the checkpoint holds a larger model whose part under {prefix.strip!r} is the "
                f"model: its other parts ({', '.join(tops[:6])}) have no place in it"
            ),
            params=unexpected,
            evidence={"part": prefix.strip, "others": tops, "tensors": len(unexpected)},
            confidence=CONFIDENCE,
            fix=fix,
            fix_note="from_pretrained ignores them (with a warning); dropping them is the same",
        )
    )
    ctx.consume(unexpected=unexpected)


def _top(name: str) -> str:
    """Return a tensor's top-level module (``classifier`` of ``classifier.weight``)."""
    return name.split(".", 1)[0]


def _heads_only(names: list[str], matched: set[str]) -> bool:
    """Whether every name sits in a head-named top-level module that matched nothing."""
    tops = {_top(name) for name in names}
    return (
        bool(tops)
        and not tops & matched
        and all(any(word in top.lower() for word in HEAD_WORDS) for top in tops)
    )


def _report(ctx: Context, names: list[str], *, model_side: bool) -> None:
    """Add the finding for one side's heads and consume them."""
    heads = ", ".join(sorted({_top(n) for n in names}))
    if model_side:
        message = (
            f"the model's task head ({heads}) is not in the checkpoint, whose every other "
            "tensor matched: the checkpoint is the base model (or another task's)"
        )
        fix = [Op("reinit", {"name": n}, "task head: not in the checkpoint") for n in names]
        note = (
            "from_pretrained initialises the new head (with a warning): train it. The plan "
            "leaves it to the model's initialisation (load with weightfit.load_into, or "
            "load_state_dict(strict=False))"
        )
    else:
        message = (
            f"the checkpoint's task head ({heads}) has no place in the model, whose every "
            "tensor matched: the model is the base model (or another task's)"
        )
        fix = [Op("drop", {"name": n}, "task head: not in the model") for n in names]
        note = "from_pretrained ignores it (with a warning); dropping it loads the same weights"
    ctx.add(
        Finding(
            category="missing" if model_side else "unexpected",
            severity="error",
            message=message,
            params=names,
            evidence={"heads": sorted({_top(n) for n in names}), "tensors": len(names)},
            confidence=CONFIDENCE,
            fix=fix,
            fix_note=note,
        )
    )
    if model_side:
        ctx.consume(missing=names)
    else:
        ctx.consume(unexpected=names)
