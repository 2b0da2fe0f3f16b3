"""Renames read from a text's names alone.

A known library change (``LayerNorm.gamma`` → ``.weight``), one word renamed the same way
in every name, and Meta's reference Llama layout against the transformers one.
"""

from __future__ import annotations

import re

from weightfit import knowledge
from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import text_facts
from weightfit.findings import Finding


def known_renames(ctx: Context) -> None:
    """Report names a known library change renamed (``LayerNorm.gamma`` → ``.weight``)."""
    if not ctx.partial:
        return
    facts = text_facts(ctx)
    names = [*ctx.unexpected(), *ctx.missing()]
    if facts is not None:
        names += [n for n in facts.key_errors if n not in names]
    if facts is not None:
        # TensorFlow's own variables (bert/embeddings/LayerNorm/beta) are spelled so natively.
        names = [n for n in names if n.replace(".", "/") not in facts.text]
    hits = [(n, c) for n in names for c in knowledge.changes_for(n) if c.kind == "rename"]
    if not hits:
        return
    change = hits[0][1]
    found = [n for n, c in hits if c is change]
    # The new spelling of each, where the text lists it on the other side.
    found += [new for n in found if (new := change.renamed(n)) and new in names]
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"{found[0]} is spelled as before a known change ({change.library} "
                f"{change.version}: {change.description})"
            ),
            params=found,
            evidence={"known_change": change.source, "names": found[:8]},
            confidence=0.7,
            fix_note=(
                "rename with the library's own conversion (a version that knows both "
                "spellings), or weightfit fix CKPT --against TARGET"
            ),
        )
    )
    ctx.consume(unexpected=found, missing=found)


MIN_RENAMED = 0.9
"""Share of the shorter leftover list a consistent one-word renaming must account for."""


def _blanked(parts: list[str], index: int) -> str:
    """A dotted name with one word replaced by ``*``."""
    return ".".join([*parts[:index], "*", *parts[index + 1 :]])


def renamed_word(ctx: Context) -> None:
    """Report missing and unexpected names that differ in one word, the same way throughout.

    ``blocks.{i}.att.time_first`` against ``blocks.{i}.att.time_faaaa`` in every block:
    one word was renamed between the code that saved the checkpoint and the model's
    (another release or another codebase), everything else in place. A renaming that
    is not consistent, or covers only a few names, is left to the leftovers.
    """
    if not ctx.partial or ctx.mismatches():
        return
    missing, unexpected = ctx.missing(), ctx.unexpected()
    if not missing or not unexpected:
        return
    words: dict[tuple[str, str], list[tuple[str, str]]] = {}
    by_shape: dict[tuple[int, str], list[str]] = {}
    for name in missing:
        parts = name.split(".")
        for i in range(len(parts)):
            by_shape.setdefault((i, _blanked(parts, i)), []).append(name)
    for old in unexpected:
        parts = old.split(".")
        for i, word in enumerate(parts):
            for new in by_shape.get((i, _blanked(parts, i)), []):
                change = (word, new.split(".")[i])
                if not change[0].isdigit() and not change[1].isdigit():
                    words.setdefault(change, []).append((old, new))
    if not words:
        return
    (old_word, new_word), pairs = max(words.items(), key=lambda item: len(item[1]))
    shorter = min(len(missing), len(unexpected))
    if len({o for o, _ in pairs}) < MIN_RENAMED * shorter or len(pairs) < 2:
        return
    olds, news = [o for o, _ in pairs], [n for _, n in pairs]
    ctx.add(
        Finding(
            category="rename",
            severity="error",
            message=(
                f"'{old_word}' in the checkpoint is '{new_word}' in the model, in {len(pairs)} "
                f"names ({olds[0]} → {news[0]}): renamed between the code that saved the "
                "checkpoint and the model's"
            ),
            params=olds + news,
            evidence={"old": old_word, "new": new_word, "names": len(pairs)},
            confidence=0.6,
            fix_note=(
                f"rename '{old_word}' to '{new_word}' in the checkpoint's names (weightfit fix "
                "CKPT --against TARGET), or use the code version that saved it"
            ),
        )
    )
    ctx.consume(missing=news, unexpected=olds)


REFERENCE_LAYOUT = re.compile(
    r"^(?:tok_embeddings|norm|output|layers\.\d+\.(?:attention\.w[qkvo]|feed_forward\.w[123]|"
    r"attention_norm|ffn_norm))\.weight$"
)
"""Names of Meta's reference Llama layout (``consolidated.00.pth``), which Mistral's native
``consolidated.safetensors`` shares: ``layers.0.attention.wq.weight``, ``tok_embeddings``."""


def reference_layout(ctx: Context) -> None:
    """Report the reference (Meta / Mistral native) layout on one side and not the other.

    The original Llama and Mistral releases ship ``consolidated.*`` files in the reference
    implementation's names; a transformers-layout model (``model.layers.0.self_attn.q_proj``)
    cannot take them without conversion, and a folder holding both formats feeds a loader
    the wrong one.
    """
    if not ctx.partial or ctx.mismatches():
        return
    missing, unexpected = ctx.missing(), ctx.unexpected()
    for names, other, side in ((unexpected, missing, "checkpoint"), (missing, unexpected, "model")):
        if not names or not all(REFERENCE_LAYOUT.match(n) for n in names):
            continue
        if not any(n.startswith(("layers.", "tok_embeddings.")) for n in names):
            continue  # a lone output.weight or norm.weight is any model's (GGUF's too)
        if any(REFERENCE_LAYOUT.match(n) for n in other):
            continue
        ctx.add(
            Finding(
                category="rename",
                severity="error",
                message=(
                    f"the {side}'s names are Meta's reference Llama layout ({names[0]}), the "
                    "layout of the original consolidated.* files (Mistral's native "
                    "consolidated.safetensors too), not the transformers layout"
                ),
                params=[*names, *other],
                evidence={"side": side, "names": names[:8]},
                confidence=0.6,
                fix_note=(
                    "load the transformers-format files (model-*.safetensors), not "
                    "consolidated.*; convert reference files with transformers' "
                    "convert_llama_weights_to_hf.py, or weightfit fix CKPT --against TARGET"
                ),
            )
        )
        ctx.consume(missing=missing, unexpected=unexpected)
        return
