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

from weightfit.diagnose._context import Context
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
