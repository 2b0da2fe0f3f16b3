"""Output heads sized for another label set: the ``num_classes`` rule.

Only a terminal head's output rows differ, by a factor or more, its input width
equal to the model's: a head for another label set. Which mismatches are row
changes, and what a table's name says of its rows, is
:mod:`weightfit.diagnose.table_rows`'s.
"""

from __future__ import annotations

import re
from collections import defaultdict

from weightfit.diagnose import _known
from weightfit.diagnose._context import Context, shape_text
from weightfit.diagnose._facts import PLACEHOLDERS
from weightfit.diagnose.table_rows import (
    CLASS_WORDS,
    LM_HEAD_WORDS,
    MAX_LABELS,
    SETTING_TABLE_WORDS,
    RowChange,
    class_count,
    is_class_worded,
    is_token_table,
    label_rows,
    labels_not_symbols,
    leaf_module,
    row_changes,
    symbols_apart,
)
from weightfit.findings import Finding
from weightfit.plan import Op
from weightfit.tree import is_layer_index, stack_of

_LABEL_WORDS = ("label", "class_emb")
_LABEL_MODULES = ("y_embed",)
"""Module names that begin a label table (DiT's ``y_embedder``; never ``query_embed``)."""
_STACKED_LABEL_MODULES = ("class_embedder", "label_embedder", "class_embedding")
"""Module names of a label table repeated in each block (diffusers' ``LabelEmbedding``)."""
_HEAD_WORDS = (
    "head",
    "fc",
    "classifier",
    "logit",
    "cls",
    "class",
    "score",
    "pred",  # predictor, prediction, bbox_pred
    "final",
    "output",
    "mbox_conf",  # SSD's class confidences: priors × classes
)
IMAGE_CHANNELS = (1, 3, 4)
"""Input channels of a network's first convolution: a grey, RGB or RGBA image."""
_BODY_WORDS = ("embed", "patch", "stem", "down", "up", "input", "proj_in", "conv_in", "encoder")
"""Module words of layers inside a network (whose rows are widths), never its output head."""
_ANCHOR_WORDS = ("rpn", "anchor", "objectness")
"""Heads that score anchors or proposals, not classes (their rows count anchors)."""
DENOISER = re.compile(r"(?:^|\.)diffusion_model\.|Diffusion|DiT(?![a-z])")
"""A diffusion network's name or class: its last layer predicts latent patches (``p²·C``
values, doubled with a learned variance), never classes."""


def _setting_table(name: str) -> bool:
    """Whether a tensor's module is a table sized by a setting (:data:`SETTING_TABLE_WORDS`)."""
    return any(word in leaf_module(name) for word in SETTING_TABLE_WORDS)


FEW_OUTPUTS = 2
"""Most outputs of a layer that is never a width: a head predicting one or two values (a
mask's foreground, a binary label)."""


def num_classes(ctx: Context) -> None:
    """Report terminal heads whose output rows differ: another number of classes."""
    groups: dict[tuple[int, int], list[RowChange]] = defaultdict(list)
    # Rows, and the class columns row_changes reads on the second axis (not a [1, V] bias).
    rows = [c for c in row_changes(ctx) if c.axis == 0 or ctx.src(c.pair).shape[0] > 1]
    heads = {
        (_module_of(change.name), change.have, change.want)
        for change in rows
        if (_is_label_table(change) and _known_labels(ctx, change))
        or (
            not _predicts_latents(ctx, change)
            and not _layers_after(ctx, change.name)
            and (_is_head(ctx, change) or _paired_output(ctx, change, rows))
        )
    }
    for change in rows:
        # A head's bias follows its weight, wherever the position rules would put it alone.
        sibling = _per_class_sibling(change, heads)
        if sibling is not None:
            groups[sibling].append(change)
        elif (_module_of(change.name), change.have, change.want) in heads:
            groups[(change.have, change.want)].append(change)
    for (have, want), changes in groups.items():
        weights = [c for c in changes if len(ctx.tgt(c.pair).shape) >= 2]
        # A head's bias alone says labels where a known label set or the name does.
        worded = any(is_class_worded(c.name) for c in changes) and max(have, want) <= MAX_LABELS
        if not weights and not (ctx.partial and (class_count(have, want) or worded)):
            continue
        first = (weights or changes)[0]
        width = ctx.tgt(first.pair).shape[1] if weights else None
        labels = bool(weights) and all(_is_label_table(c) for c in weights)
        # A label table for classifier-free guidance has one row more, the null label
        # (diffusers' LabelEmbedding: num_classes + 1); a known count or config says so.
        null = labels and bool(
            class_count(have - 1, want - 1)
            or [k for k in ctx.config_keys(want - 1) if re.search(r"class|label|embeds", k)]
        )
        classes = (have - 1, want - 1) if null else (have, want)
        # A head's rows are num_labels wherever another field holds the same count.
        keys = sorted(ctx.config_keys(classes[1], classes[0]), key=lambda k: k != "num_labels")
        option = f"; model built with {keys[0]}={classes[1]}" if keys else ""
        what = (
            "classifier of one column per class (a zero-shot head's class embeddings)"
            if any(c.axis == 1 and ctx.src(c.pair).shape[0] > 1 for c in changes)
            else "label embedding (class-conditional input)"
            if labels
            else "classification head"
        )
        message = (
            f"{what} sized for {classes[0]} classes in the checkpoint, {classes[1]} in the "
            f"model{' (each with a null-label row for classifier-free guidance)' if null else ''}"
            f": {first.name} {shape_text(ctx.src(first.pair).shape)} → "
            f"{shape_text(ctx.tgt(first.pair).shape)}"
        )
        has_bias = any(len(ctx.tgt(c.pair).shape) == 1 for c in changes)
        datasets = class_count(*classes)
        if not datasets and any(c.axis == 1 for c in changes):
            datasets = class_count(have - 1, want - 1)  # a column per class and background
        evidence: dict[str, object] = {
            "checkpoint_classes": classes[0],
            "model_classes": classes[1],
            "input_width": width,
            "heads": sorted({_module_of(c.name) for c in changes}),
            "bias_follows": has_bias,
        }
        if null:
            evidence["null_label_row"] = True
        if keys:
            evidence["config_option"] = keys[0]
        if datasets:
            evidence["known_class_counts"] = datasets
        # A decoder fed its previous prediction (an attention OCR cell reads a one-hot of
        # the classes: 256 + 45 = 301 inputs) grows as the head does: the same cause.
        fed = ctx.changed_by(have - want, [c.pair for c in changes]) if ctx.partial else []
        if fed:
            evidence["classes_fed_back"] = [p.target for p in fed]
        ctx.add(
            Finding(
                category="num_classes",
                severity="error",
                message=message,
                params=[c.pair.source for c in changes] + [p.source for p in fed],
                evidence=evidence,
                confidence=_head_confidence(ctx, changes, has_bias, datasets),
                fix=[
                    Op("reinit", {"name": c.name}, "num_classes: head for another label set")
                    for c in changes
                ],
                fix_note=(
                    f"the backbone loads as is; train a new {classes[1]}-way "
                    f"{'label embedding' if labels else 'head'}{option}. "
                    + (
                        "Its last row is the null label, so copy_overlap of the first rows "
                        "would give it a class's row: reinitialise it"
                        if null
                        else f"If the first {min(have, want)} labels mean the same in both "
                        "label sets, copy_overlap keeps their rows instead"
                    )
                ),
            )
        )
        ctx.consume(pairs=[c.pair for c in changes] + fed)


def _layers_after(ctx: Context, name: str) -> bool:
    """Whether one side has layers of the tensor's numbered sequence after it, the other not.

    ``2.weight`` of a ``Sequential`` whose ``4.weight`` the checkpoint lacks: the model goes
    on past that layer, so its rows are a hidden width, not a terminal head's labels; the
    checkpoint is of another depth, its head where the model has a layer.
    """
    segments = name.split(".")[:-1]
    at = next((i for i in reversed(range(len(segments))) if is_layer_index(segments[i])), None)
    if at is None:
        return False
    parent, index = segments[:at], int(segments[at])
    for other in (*ctx.missing(), *ctx.unexpected()):
        parts = other.split(".")
        if (
            len(parts) > at
            and parts[:at] == parent
            and is_layer_index(parts[at])
            and int(parts[at]) > index
        ):
            return True
    return False


def _odd_rows(change: RowChange, shape: tuple[int, ...]) -> bool:
    """Whether an unnamed matrix's rows read as labels.

    Both counts off the width step, the other axis a width, fewer than any vocabulary:
    TensorFlow's ``Assign`` of a ``[512, 37]`` dense kernel to ``[512, 547]`` (37
    characters against 547).
    """
    odd = change.have % _known.WIDTH_STEP and change.want % _known.WIDTH_STEP
    return (
        bool(odd)
        and len(shape) == 2
        and shape[1] % _known.WIDTH_STEP == 0
        and max(change.have, change.want) <= MAX_LABELS
    )


def _list_of_heads(stack: str, shape: tuple[int, ...]) -> bool:
    """Whether a numbered stack is a list of linear heads (``seq_heads.0``, ``cls_heads.2``).

    Such a list scores each task's labels; a numbered ``head.0`` of 4-D kernels is a
    network's first convolutions (EDSR's), widths not labels.
    """
    return "head" in stack.rsplit(".", 1)[-1].lower() and len(shape) <= 2


def _head_confidence(
    ctx: Context, changes: list[RowChange], has_bias: bool, datasets: list[str]
) -> float:
    """How sure a head's row change is a label set.

    From a text, a known dataset's class count or a class word in the name must say
    so: rows may count frequency bins or anchors.
    """
    if not ctx.partial:
        return 0.9 if has_bias else 0.8
    if all(c.name in PLACEHOLDERS for c in changes):
        return UNNAMED_HEAD  # the text named no tensor: only the row counts say labels
    worded = any(word in c.name.lower() for c in changes for word in CLASS_WORDS)
    if not datasets and all(len(ctx.tgt(c.pair).shape) == 1 for c in changes):
        return BIAS_ONLY_HEAD  # the name alone says labels, no weight's rows confirm them
    unnamed = not (datasets or worded) and not any(_is_head(ctx, c) for c in changes)
    if unnamed and any(_width_like(ctx, c) for c in changes):
        return UNSURE_HEAD
    return 0.9 if datasets else 0.8 if worded else 0.7


def _width_like(ctx: Context, change: RowChange) -> bool:
    """Whether a matrix's rows may be a width: both on the width step, or one side square.

    ``[16, 32]`` against ``[8, 32]`` (a projection), ``[2, 8]`` against ``[8, 8]`` (that
    side's layer a hidden one); 33 tags against 9 are off the step, labels.
    """
    shapes = ctx.src(change.pair).shape, ctx.tgt(change.pair).shape
    square = any(len(shape) == 2 and shape[0] == shape[1] for shape in shapes)
    stepped = not (change.have % _known.WIDTH_STEP or change.want % _known.WIDTH_STEP)
    return len(shapes[1]) == 2 and (square or stepped)


UNSURE_HEAD = 0.45
"""Confidence of an output read as a head only because its weight and bias both change
rows, its name saying no head (``2.weight`` of a Sequential, ``linear.weight``), no label
set counting them and its rows shaped like a width: a network of another depth, or a
projection's width, fits as well."""

EMBEDDING_TILE = 64
"""Row counts that are both multiples of this and no known label set are embedding widths
(a sentence-transformers ``Dense`` projection of 256 against 512), not classes."""


BIAS_ONLY_HEAD = 0.6
"""Confidence of a head read from its class-worded bias alone, no known label set."""


UNNAMED_HEAD = 0.45
"""Confidence of a head read from row counts alone, the text naming no tensor."""


def _predicts_latents(ctx: Context, change: RowChange) -> bool:
    """Whether an output layer is a diffusion network's, which predicts latents or pixels.

    A text says so by its names; a file by its config: every diffusers model
    (``_diffusers_version``) outputs images, latents or noise, never classes.
    """
    if ctx.partial:
        return bool(DENOISER.search(f"{change.name} {ctx.facts.get('model', '')}"))
    return any(
        isinstance(config, dict) and "_diffusers_version" in config
        for config in (ctx.target.config, ctx.source.config)
    )


def _never_labels(ctx: Context, change: RowChange) -> bool:
    """Whether a layer's rows can be no label set: an image stem's outputs, an LM's tokens.

    A convolution reading the image's own channels (``[32, 3, 3, 3]``) is the network's first
    layer, its rows a width; a language model's output head (``lm_head``) has a row per
    token, however few (a CTC model's 32 characters).
    """
    shape = ctx.tgt(change.pair).shape
    stem = (
        len(shape) >= 3
        and shape[1] in IMAGE_CHANNELS
        and ctx.src(change.pair).shape[1:] == shape[1:]
    )
    return stem or any(word in change.name.lower() for word in LM_HEAD_WORDS)


def _paired_output(ctx: Context, change: RowChange, rows: list[RowChange]) -> bool:
    """Whether a top-level module's weight and bias both change rows alike.

    An output layer sized by a label count, read from a text whose names may not say
    "head".
    """
    if not ctx.partial or stack_of(change.name) is not None or change.have >= _known.MIN_VOCAB_ROWS:
        return False
    module = _module_of(change.name)
    if any(word in module.lower().rsplit(".", 1)[-1] for word in _BODY_WORDS):
        return False  # a layer the input passes through (patch_embed.proj, down1), not an output
    if not (change.have % EMBEDDING_TILE or change.want % EMBEDDING_TILE) and not class_count(
        change.have, change.want
    ):
        return False  # 256 against 512 outputs: an embedding width (a projection), not labels
    same = [c for c in rows if (c.have, c.want) == (change.have, change.want)]
    if any(_never_labels(ctx, c) for c in same if _module_of(c.name) == module):
        return False  # the bias of an image stem or an LM head follows its weight
    if any(_module_of(c.name) != module and _normalises(c.name) for c in same):
        return False  # a norm takes the size next: a width, where labels end the network
    return {c.name.rsplit(".", 1)[-1] for c in same if _module_of(c.name) == module} >= {
        "weight",
        "bias",
    }


NORM_MODULE = re.compile(r"norm|^(?:bn|gn|ln)(?:[a-z]?\d*(?:_\w+)?)?$")
"""A normalisation module's name: ``*norm*``, or ``bn``, ``bn1``, ``bnh_0``, ``gn``, ``ln_f``."""


def _normalises(name: str) -> bool:
    """Whether a tensor belongs to a normalisation layer (``trans.conv2.bnh_0.weight``)."""
    return any(NORM_MODULE.search(part) for part in name.lower().split(".")[:-1])


def _per_class_sibling(
    change: RowChange, heads: set[tuple[str, int, int]]
) -> tuple[int, int] | None:
    """Return the head a sibling output follows with k rows per class, if one does.

    A detector's box regression has 4 rows per class, with or without background.
    """
    parent = _module_of(_module_of(change.name))
    for module, have, want in heads:
        if _module_of(module) != parent or module == _module_of(change.name):
            continue
        for k in range(2, 9):
            for extra in (0, 1):
                if (change.have, change.want) == (k * (have - extra), k * (want - extra)):
                    return have, want
    return None


def _module_of(name: str) -> str:
    """Return the module a tensor belongs to (``head`` for ``head.weight``)."""
    return name.rsplit(".", 1)[0]


def _known_labels(ctx: Context, change: RowChange) -> bool:
    """Whether a label table's rows are a known label set (or it plus a null class for CFG).

    A file's own table is read by position and config; a text's ``y_embedding`` of 300
    against 120 rows (PixArt's caption tokens) names no label set.
    """
    rows = (change.have, change.want, change.have - 1, change.want - 1)
    return not ctx.partial or bool(class_count(*rows))


def _is_label_table(change: RowChange) -> bool:
    """Tell a class-label embedding (DiT's ``y_embedder``): outside the stacks, named for labels.

    Inside a stack only a module named a class embedder: diffusers' DiT keeps one
    per block (``transformer_blocks.{i}.norm1.emb.class_embedder.embedding_table``).
    """
    parts = change.name.lower().split(".")
    if stack_of(change.name) is not None:
        return any(part.startswith(_STACKED_LABEL_MODULES) for part in parts)
    return any(
        part.startswith(_LABEL_MODULES) or any(word in part for word in _LABEL_WORDS)
        for part in parts
    )


def _is_head(ctx: Context, change: RowChange) -> bool:
    """Tell a terminal head: after every layer stack (or named as a head)."""
    shape = ctx.tgt(change.pair).shape
    if len(shape) >= 2 and shape[1] < 2:
        return False
    if _never_labels(ctx, change):
        return False
    module = change.name.lower().rsplit(".", 2)[-2] if "." in change.name else ""
    if any(word in change.name.lower() for word in _ANCHOR_WORDS) or _setting_table(change.name):
        return False
    if is_token_table(change.name) and not (ctx.partial and labels_not_symbols(change)):
        return False
    named = any(word in module for word in _HEAD_WORDS)
    if ctx.partial:
        # A text names only what differs: where a tensor sits is unknown, its name tells
        # (any word of its path: classifier.header.conv, head.final_layer), or a known
        # dataset's class count does. Inside repeated layers rows are widths
        # (blocks.0.mlp.fc1: the MLP ratio; EDSR's head.0 is its first conv) unless the
        # name says classes (a Sequential classifier.4, DETR's class_embed.0).
        path = change.name.lower().split(".")[:-1]
        if change.name in PLACEHOLDERS:
            # Only the row counts speak: labels when off the width tile or a known label
            # set far from the other count, never a count one symbol apart (150 against 151
            # is ADE20K with its background as much as a symbol table grown by one).
            if max(change.have, change.want) <= FEW_OUTPUTS:
                return True  # a layer of one or two outputs is no width: a prediction head
            return not symbols_apart(change) and (_odd_rows(change, shape) or label_rows(change))
        stack = stack_of(change.name)
        if (
            stack is not None
            and not is_class_worded(change.name)
            and not _list_of_heads(stack[0], shape)
        ):
            return label_rows(change)
        if max(change.have, change.want) > MAX_LABELS and not class_count(change.have, change.want):
            return False  # more rows than any label set: a vocabulary or a width, not classes
        return any(word in segment for segment in path for word in _HEAD_WORDS) or label_rows(
            change
        )
    late = change.position >= 0.8
    if stack_of(change.name) is None:
        return named or late
    return named and late
