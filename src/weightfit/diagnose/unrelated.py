"""Different models, not a renaming: ``unrelated`` from a text's model types or two files' names.

- ``model_types`` (text): transformers' ``You are using a model of type A to
  instantiate a model of type B`` with A and B different architectures;
- ``unrelated`` (files): the checkpoint and the target share almost nothing —
  few module names, few shapes — so a prefix, renames or a partitioned save
  would be invented: "these look like different models".
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import whole_text_facts
from weightfit.findings import Finding

ADAPTER_NAME = re.compile(r"lora_|\.lora\.|hada_|lokr_|\.adapter|lora_down|lora_up")
"""Names only adapter files hold."""


MIN_TENSORS = 4
"""Fewest tensors on each side for the files to be judged unrelated."""


MAX_SHARED_MODULES = 0.2
"""Largest share of module paths (last two words, indices dropped) in common for two files
to be unrelated."""


MAX_SHARED_SHAPES = 0.5
"""Largest share of shapes (of the larger side, with repeats) in common for two files to be
unrelated: two models of one width share many shapes, but not half of the larger one's."""


MAX_SHARED_SHAPES_NO_NAMES = 0.7
"""Largest share of shapes in common for two files that share no module name at all, nor half
their tensors by structure, to be unrelated: BERT and GPT-2, both 768 wide, share 61 %."""


MAX_SHARED_SHAPES_SAME_BLOCKS = 0.05
"""Largest share of shapes in common for two files built of one library's blocks (more than
``MAX_SHARED_MODULES`` of module names in common) to be unrelated: a UNet and a VAE of
diffusers share ``resnets.conv1`` but no shape."""


MIN_PAIRED = 0.5
"""Share of the smaller side the alignment paired (by names or by structure) from which two
files are the same model under another naming, never unrelated."""


def model_types(ctx: Context) -> None:
    """Report a checkpoint of one transformers model type loaded into another.

    Two parts of one composite (``clip_vision_model`` into ``clip_text_model``) are two
    models too; the tensors both name then differ as two architectures' do.
    """
    facts = whole_text_facts(ctx)
    if facts is None or not facts.model_types:
        return
    have, want = facts.model_types
    if _family(have) == _family(want) and not _other_parts(have, want):
        return
    missing, unexpected = ctx.missing(), ctx.unexpected()
    if _variant_of(have, want) or _variant_of(want, have):
        _same_family(ctx, have, want, missing, unexpected)
        return
    # Tensors both models name differ as two architectures' do: no cause of their own.
    mismatches = ctx.mismatches()
    ctx.add(
        Finding(
            category="unrelated",
            severity="error",
            message=(
                f"these look like different models: the checkpoint is a '{have}' model, "
                f"the class instantiated is a '{want}' model"
            ),
            params=[*unexpected, *missing, *(p.source for p in mismatches)],
            evidence={"checkpoint_model_type": have, "model_model_type": want},
            confidence=0.75,
            fix_note=(
                f"load the checkpoint with the class of its own type ('{have}', "
                "AutoModel picks it from config.json), or pick a checkpoint made for "
                f"'{want}'"
            ),
        )
    )
    ctx.consume(pairs=mismatches, missing=missing, unexpected=unexpected)


VARIANT_SUFFIX = re.compile(r"_video$")
"""Suffixes transformers gives a family's variant built on the same model (``sam2_video``,
``sam3_video``, ``edgetam_video``, ``llava_next_video``: the image model with memory or
frames added), each registered beside the type it extends."""


def _variant_of(longer: str, shorter: str) -> bool:
    """Whether ``longer`` is ``shorter`` with a variant's suffix (``sam2_video`` of ``sam2``)."""
    return VARIANT_SUFFIX.sub("", longer.lower()) == shorter.lower() != longer.lower()


def _same_family(
    ctx: Context, have: str, want: str, missing: list[str], unexpected: list[str]
) -> None:
    """Report two model types of one family, one the other's variant: another variant."""
    ctx.add(
        Finding(
            category="wrong_variant",
            severity="error",
            message=(
                f"the checkpoint is a '{have}' model, the class instantiated a '{want}' "
                "model: one family, one type the other's variant (its suffix names what "
                "the variant adds), so their configs and modules differ"
            ),
            params=[*unexpected, *missing],
            evidence={"checkpoint_model_type": have, "model_model_type": want},
            confidence=0.45,
            fix_note=(
                f"load the checkpoint with the class of its own type ('{have}'), or pick the "
                f"'{want}' release of the family"
            ),
        )
    )
    ctx.consume(missing=missing, unexpected=unexpected)


SUB_MODEL = re.compile(r"_(?:text|vision|audio)(?:_model)?$")
"""Suffixes of a composite model's own parts (``clip_text_model`` is a part of ``clip``)."""


def _other_parts(have: str, want: str) -> bool:
    """Whether two model types are two parts of one composite, not a part and its whole.

    ``clip_vision_model`` against ``clip_text_model`` are two towers; ``clip`` holds both.
    """
    parts = (_part(have), _part(want))
    return "" not in parts and parts[0] != parts[1]


def _part(model_type: str) -> str:
    """The part of a composite a model type names (``text`` of ``clip_text_model``), or ``""``."""
    found = SUB_MODEL.search(model_type.lower())
    return found.group(0).split("_")[1] if found else ""


def _family(model_type: str) -> str:
    """Fold a model type's case, separators and part suffix (``clip_text_model``: ``clip``).

    ``qwen2_vl`` and ``qwen2`` stay apart: another architecture, not a part of one.
    """
    return re.sub(r"[^a-z0-9]", "", SUB_MODEL.sub("", model_type.lower()))


def unrelated(ctx: Context) -> None:
    """Report two files that share almost no module names and shapes: different models."""
    if ctx.partial or ctx.findings:
        return  # a rule before this one (a known converter) already tied the files together
    source, target = ctx.source.tensors, ctx.target.tensors
    if len(source) < MIN_TENSORS or len(target) < MIN_TENSORS:
        return
    if any(ADAPTER_NAME.search(name) for name in source):
        return  # an adapter holds only its own tensors: the adapter rules read it
    if ctx.source.format == "gguf":
        return  # llama.cpp names every tensor its own way (blk.0.attn_q): no evidence
    if _kept_pairs(ctx) >= MIN_PAIRED * min(len(source), len(target)):
        return  # most tensors found a counterpart (by name or structure): the same model
    have, want = _modules(source), _modules(target)
    shared = len(have & want) / max(min(len(have), len(want)), 1)
    shapes = _shared_shapes([s.shape for s in source.values()], [s.shape for s in target.values()])
    if shapes > (MAX_SHARED_SHAPES if shared > 0 else MAX_SHARED_SHAPES_NO_NAMES):
        return
    if shared > MAX_SHARED_MODULES and shapes > MAX_SHARED_SHAPES_SAME_BLOCKS:
        return
    pairs = ctx.pairs()
    message = (
        f"these look like different models: {_describe(ctx, 'source')} vs "
        f"{_describe(ctx, 'target')} — {shared:.0%} of module names and {shapes:.0%} of "
        "shapes in common"
    )
    ctx.add(
        Finding(
            category="unrelated",
            severity="error",
            message=message,
            params=sorted(source),
            evidence={
                "shared_module_names": round(shared, 3),
                "shared_shapes": round(shapes, 3),
                "checkpoint_tensors": len(source),
                "model_tensors": len(target),
                "checkpoint_modules": sorted(have)[:12],
                "model_modules": sorted(want)[:12],
            },
            confidence=0.9 if shared == 0 and shapes < 0.3 else 0.8 if shapes <= 0.5 else 0.7,
            fix_note=(
                "no renaming or reshaping makes one model's weights another's: check that "
                "the file is the one meant for this model (architecture, task, repository)"
            ),
        )
    )
    ctx.consume(pairs=pairs, missing=ctx.missing(), unexpected=ctx.unexpected())


def _kept_pairs(ctx: Context) -> int:
    """Count the pairs that tie the two files together: same names, or same shapes.

    A name is the same under a prefix wrapping the whole model on both sides. A structural
    match of another shape, or one module's names moved under another's (a VAE's
    ``decoder.up_blocks`` onto a UNet's ``up_blocks``), is no evidence of one model:
    diffusers' and transformers' blocks carry the same names in different models.
    """
    source, target = ctx.source.tensors, ctx.target.tensors
    prefix = ctx.alignment.prefix
    wraps = prefix is not None and (
        all(n.startswith(prefix.strip) for n in source)
        and all(n.startswith(prefix.add) for n in target)
    )
    return sum(
        p.via == "exact"
        or (p.via == "prefix" and wraps)
        or source[p.source].shape == target[p.target].shape
        for p in ctx.alignment.pairs
    )


def _modules(names: Any) -> set[str]:
    """The module paths of a checkpoint's names: last two words, indices dropped."""
    found = set()
    for name in names:
        parts = [p for p in name.split(".")[:-1] if not p.isdigit()]
        found.add(".".join(parts[-2:]))
    return found


def _shared_shapes(have: list[tuple[int, ...]], want: list[tuple[int, ...]]) -> float:
    """The share of the larger side's shapes (with repeats) the other side also has."""
    a, b = Counter(have), Counter(want)
    common = sum((a & b).values())
    return common / max(len(have), len(want), 1)


def _describe(ctx: Context, side: str) -> str:
    manifest = ctx.source if side == "source" else ctx.target
    stems = sorted({m.rsplit(".", 1)[-1] for m in _modules(manifest.tensors)} - {""}, key=len)[:3]
    where = manifest.source.rsplit("/", 1)[-1] or manifest.source
    return f"{where} ({len(manifest.tensors)} tensors: {', '.join(stems)} …)"
