"""What the row counts of a pasted mismatch mean.

Detector outputs, anchors per location, spectrogram bins, prompt tables, and two sizes that
meet in arithmetic.
"""

from __future__ import annotations

import math
import re

from weightfit import knowledge
from weightfit.alignment import Pair
from weightfit.diagnose import _known
from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import PLACEHOLDERS, whole_text_facts
from weightfit.diagnose.position import square_root
from weightfit.diagnose.text_layouts import flat_buffer, flat_copy
from weightfit.findings import Finding
from weightfit.manifest import counted
from weightfit.plan import Op


def broadcast_rows(ctx: Context) -> None:
    """Report ``size of tensor a (32000) must match ... b (32001)`` as a vocabulary change."""
    facts = whole_text_facts(ctx)
    if facts is None or facts.broadcast is None or ctx.findings:
        return
    a, b = facts.broadcast
    if flat_copy(facts.text, a, b):
        ctx.add(flat_buffer(a, b))
        return
    known = _known.vocab_labels(min(a, b)) or _known.vocab_labels(max(a, b))
    if not known or abs(a - b) > _known.NEAR_VOCAB:
        _broadcast_classes(ctx, a, b)
        return
    ctx.add(
        Finding(
            category="vocab_resize",
            severity="error",
            message=(
                f"two tensors of {a} and {b} rows meet: {min(a, b)} is a known vocabulary "
                f"({known[0]}), the other has {counted(abs(a - b), 'token')} added"
            ),
            evidence={"sizes": [a, b], "vocabulary": known[:3]},
            confidence=0.65,
            fix_note=(
                f"resize the embeddings to {max(a, b)} rows (resize_token_embeddings) before "
                "merging or loading, or use the tokenizer the weights were made with"
            ),
        )
    )


def _broadcast_classes(ctx: Context, a: int, b: int) -> None:
    """Report two row counts that meet, one a known dataset's class count: another label set."""
    datasets = [d.model for n in (a, b) for d in knowledge.datasets_with_classes(n)]
    if not datasets or max(a, b) > 30_000:
        if not _broadcast_grids(ctx, a, b):
            _broadcast_widths(ctx, a, b)
        return
    ctx.add(
        Finding(
            category="num_classes",
            severity="error",
            message=(
                f"two tensors of {a} and {b} rows meet: {datasets[0]} has "
                f"{max(a, b) if knowledge.datasets_with_classes(max(a, b)) else min(a, b)} "
                "classes, so a head (or its optimizer state) is sized for another label set"
            ),
            evidence={"sizes": [a, b], "known_class_counts": datasets[:3]},
            confidence=0.55,
            fix_note=(
                "rebuild the head for your classes and do not restore the optimizer state "
                "of the old head (or drop the head from the checkpoint)"
            ),
        )
    )


MIN_GRID = 7
"""Smallest side of a patch grid read from a token count (a 7 x 7 grid: ViT-B/32 at 224)."""
PATCH_SIZES = (14, 16, 32)
"""Patch sizes of common vision towers, to name the image sizes a grid stands for."""


def _broadcast_grids(ctx: Context, a: int, b: int) -> bool:
    """Report two token counts that are patch grids plus a class token: another image size.

    257 = 16² + 1 and 577 = 24² + 1 are CLIP ViT-L/14's tokens at 224 and at 336 pixels: a
    vision tower (or its position table) of another resolution. Widths and vocabularies
    are seldom a square plus one.
    """
    grids = [_grid_side(n - 1) for n in (a, b)]
    if not all(grids) or grids[0] == grids[1]:
        return False
    sizes = [
        f"{grids[0] * patch} or {grids[1] * patch} pixels with {patch}-pixel patches"
        for patch in PATCH_SIZES
    ]
    ctx.add(
        Finding(
            category="pos_embed_resize",
            severity="error",
            message=(
                f"two token counts of {a} and {b} meet: {grids[0]}² + 1 and {grids[1]}² + 1, "
                "patch grids with a class token, so the vision encoder (or its position "
                f"table) is built for another image size ({sizes[0]}, {sizes[1]} …)"
            ),
            evidence={"sizes": [a, b], "grids": grids},
            confidence=0.45,
            fix_note=(
                "use the vision encoder (image size) the weights were made for, or resample "
                "the position table to the new grid"
            ),
        )
    )
    return True


def _grid_side(tokens: int) -> int:
    """The side of a square patch grid of ``tokens`` cells (at least :data:`MIN_GRID`), or 0."""
    side = square_root(tokens)
    return side if side >= MIN_GRID else 0


def _broadcast_widths(ctx: Context, a: int, b: int) -> None:
    """Report two even widths a power of two apart that meet: another width configuration.

    Model sizes of one architecture scale their channels by whole factors (64 → 128 → 256
    …); no vocabulary or class count is half of the other. Only a guess: the text names no
    tensor.
    """
    small, large = sorted((a, b))
    ratio = large // small if small and large % small == 0 else 0
    if small < 8 or small % 4 or ratio < 2 or ratio & (ratio - 1):
        return
    ctx.add(
        Finding(
            category="wrong_variant",
            severity="error",
            message=(
                f"two tensors of {a} and {b} channels meet: {large} is {ratio}× {small}, the "
                "step between widths of one architecture, so the weights are for another "
                "size or channel configuration"
            ),
            evidence={"sizes": [a, b], "ratio": ratio},
            confidence=0.4,
            fix_note=(
                "build the model with the configuration the weights were trained with "
                "(its width / channel multiplier / config name)"
            ),
        )
    )


PROMPT_TABLE = re.compile(r"prefix_encoder|prompt_encoder|prompt_embeddings|prompt_tokens")
"""Tables of prompt- or prefix-tuning adapters (PEFT, P-Tuning v2): rows are virtual tokens."""


def prompt_tables(ctx: Context) -> None:
    """Report a prompt / prefix-tuning table built for another number of virtual tokens."""
    if not ctx.partial:
        return
    pairs = [p for p in ctx.mismatches() if PROMPT_TABLE.search(p.target)]
    if not pairs:
        return
    first = pairs[0]
    have, want = ctx.src(first).shape[0], ctx.tgt(first).shape[0]
    ctx.add(
        Finding(
            category="lora_mismatch",
            severity="error",
            message=(
                f"the prompt/prefix-tuning adapter was trained with {have} virtual tokens, "
                f"the model is built for {want}: {first.target}"
            ),
            params=[p.source for p in pairs],
            evidence={"checkpoint_tokens": have, "model_tokens": want},
            confidence=0.7,
            fix_note=(
                f"build the model with the adapter's length (pre_seq_len / "
                f"num_virtual_tokens = {have})"
            ),
        )
    )
    ctx.consume(pairs=pairs)


TRANSITION_WORDS = re.compile(r"crf|transition", re.IGNORECASE)
"""Names of a tagger's label-to-label transition scores (a CRF layer)."""


def label_transitions(ctx: Context) -> None:
    """Report a square table whose two axes both changed as transitions between labels.

    A CRF tagger scores every pair of labels: ``[labels, labels]``, so another label set
    changes both axes together. Widths are multiples of 8 (``_known.WIDTH_STEP``), label
    counts need not be: an unnamed square pair of such sizes (TensorFlow's ``Assign`` of
    ``[29, 29]`` to ``[13, 13]``) reads as labels too, with less confidence.
    """
    if not ctx.partial:
        return
    for pair in ctx.mismatches():
        have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
        if len(have) != 2 or len(want) != 2 or have[0] != have[1] or want[0] != want[1]:
            continue
        named = bool(TRANSITION_WORDS.search(pair.target))
        step = _known.WIDTH_STEP
        odd = have[0] % step and want[0] % step and not TABLE_WORDS.search(pair.target)
        if not (named or odd) or max(have[0], want[0]) > MAX_LABEL_TABLE:
            continue
        ctx.add(
            Finding(
                category="num_classes",
                severity="error",
                message=(
                    f"{pair.target} scores every pair of labels: {have[0]} labels in the "
                    f"checkpoint, {want[0]} in the model, so it was trained on another label set"
                ),
                params=[pair.source],
                evidence={"checkpoint_labels": have[0], "model_labels": want[0]},
                confidence=0.6 if named else 0.45,
                fix_note=(
                    "build the tagger with the checkpoint's label set, or drop its label "
                    "layers (transitions and classifier) and train them for your labels"
                ),
            )
        )
        ctx.consume(pairs=[pair])
        return


MAX_LABEL_TABLE = 1024
"""Most labels a transition table is read for (a larger square is a width)."""


ANCHORS = (3, 9, 6)
"""Anchors per location of common detectors (YOLO: 3, RetinaNet / EfficientDet: 9, SSD and
RFBNet: 6 default boxes)."""


PER_ANCHOR = (5, 4, 0)
"""Values per anchor beside the class scores: box + objectness (YOLO), box, none."""


YOLO_ANCHORS = (3, 5)
"""Anchors per output scale of YOLO's heads: three from YOLOv3 on, five in YOLOv2."""
YOLO_BOX_VALUES = 5
"""Values per anchor beside the class scores in a YOLO head: the box (4) and objectness."""
RELEASED_CLASSES = (80, 20)
"""Class counts of the weights Darknet releases: COCO (``yolov3.cfg``, ``classes=80``) and
Pascal VOC (``yolov3-voc.cfg``, ``classes=20``)."""
YOLO_WORDS = re.compile(r"yolo|darknet", re.IGNORECASE)
"""Words naming a YOLO detector or the Darknet framework that trains one: a text about such a
head, where a reshape of ``anchors × (5 + classes)`` filters reads as its class count."""


def yolo_head_classes(expected: tuple[int, ...]) -> tuple[int, int] | None:
    """``(anchors, classes)`` of a YOLO output convolution's shape, if it is one.

    The head is a 1x1 convolution of ``anchors × (classes + 5)`` filters (255 = 3 × 85 for
    COCO), read as ``(out, in, 1, 1)`` (Darknet, PyTorch) or ``(1, 1, in, out)``
    (TensorFlow). A filter count on the width tile is a layer's width, never a head's.
    """
    if len(expected) != 4:
        return None
    if expected[2:] == (1, 1):
        filters = expected[0]
    elif expected[:2] == (1, 1):
        filters = expected[3]
    else:
        return None
    if filters % _known.WIDTH_STEP == 0:
        return None
    for anchors in YOLO_ANCHORS:
        if filters % anchors == 0 and filters // anchors > YOLO_BOX_VALUES:
            return anchors, filters // anchors - YOLO_BOX_VALUES
    return None


def yolo_reshape(expected: tuple[int, ...], size: int) -> Finding | None:
    """Read a YOLO head a weights reader could not fill as a head for the user's classes.

    Darknet's ``.weights`` are read value after value into each layer in turn; nothing
    stops a layer sized otherwise until the values run out, at the last head. A head of
    ``3 × (5 + 81)`` filters there is built for 81 classes, which no released weights have
    (COCO's 80, VOC's 20): the model was configured for the user's class count (a names file
    with a line more) and the file's heads for another.
    """
    head = yolo_head_classes(expected)
    if head is None or head[1] in RELEASED_CLASSES:
        return None
    anchors, classes = head
    filters = anchors * (classes + YOLO_BOX_VALUES)
    return Finding(
        category="num_classes",
        severity="error",
        message=(
            f"the weights reader stopped at a YOLO detection head of {filters} filters = "
            f"{anchors} anchors × (5 + {classes} classes), {size} values left for its "
            f"{math.prod(expected)}: the model is configured for {classes} classes, the "
            "weights file's heads for another class count (released weights have 80 or 20)"
        ),
        evidence={
            "expected_shape": list(expected),
            "elements": size,
            "anchors": anchors,
            "model_classes": classes,
        },
        confidence=0.45,
        fix_note=(
            "build the model with the class count of the weights (the names/classes file "
            "they were trained with: COCO's 80 names, no blank line), or load only the "
            "backbone and train the heads for your classes"
        ),
    )


def detector_heads(ctx: Context) -> None:
    """Read a detector's output rows as ``anchors × (classes + k)``: which factor changed.

    Dense detectors predict, per location, ``k`` box values (and an objectness score) and
    the class scores for each anchor. Their rows name no head, their arithmetic does:
    when the anchors per location change and the classes per anchor agree, the detector
    is configured otherwise (``wrong_variant``); when the class count changes with the
    same anchors, the head is for another label set (``num_classes``).
    """
    if ctx.partial and not _anchor_change(ctx):
        _class_rows(ctx)


TABLE_WORDS = re.compile(r"embed|token|pos", re.IGNORECASE)
"""Names of tables whose rows are tokens or positions, never a detector's outputs."""


def _class_rows(ctx: Context) -> None:
    """Report detector outputs of ``anchors × (classes + k)`` rows: another class count.

    YOLOv5's ``model.24.m.0`` has 255 = 3 × (80 + 5) rows for COCO; a model built for
    one class has 18. Only convolutions (and their biases) are read so: PixArt's caption
    table of 300 against 120 tokens is no 3 × (100 + 0) head.
    """
    for pair in ctx.mismatches():
        have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
        if len(have) != len(want) or have[1:] != want[1:] or have[0] == want[0]:
            continue
        if re.search(r"rpn|anchor|objectness", pair.target, re.I):
            continue  # a proposal network scores anchors, not classes
        if len(have) not in (1, 4) or TABLE_WORDS.search(pair.target):
            continue  # a dense head is a conv (or its bias); an embedding's rows are tokens
        split = _anchor_split(have[0], want[0])
        if split is None:
            continue
        anchors, extra, classes = split
        pairs = [
            p
            for p in ctx.mismatches()
            if ctx.src(p).shape[:1] == have[:1] and ctx.tgt(p).shape[:1] == want[:1]
        ]
        ctx.add(
            Finding(
                category="num_classes",
                severity="error",
                message=(
                    f"detection outputs of {have[0]} rows in the checkpoint, {want[0]} in the "
                    f"model: {anchors} anchors × ({classes[0]} classes + {extra}) against "
                    f"{anchors} × ({classes[1]} + {extra}), a head for another class count"
                ),
                params=[p.source for p in pairs],
                evidence={
                    "anchors": anchors,
                    "per_anchor_extra": extra,
                    "checkpoint_classes": classes[0],
                    "model_classes": classes[1],
                },
                confidence=0.75,
                fix=[
                    Op("reinit", {"name": p.target}, "num_classes: detection head") for p in pairs
                ],
                fix_note=(
                    "the backbone loads as is: load with strict=False (or the framework's "
                    "transfer option) and train the detection head for your classes"
                ),
            )
        )
        ctx.consume(pairs=pairs)
        return


BOX_VALUES = 4
"""Box coordinates a two-stage detector's box head regresses per class."""


def class_boxes(ctx: Context) -> None:
    """Report a box head of 4 values per class, sized for another class count.

    Mask / Faster R-CNN's ``mrcnn_bbox_fc`` has 324 = 4 × 81 outputs for COCO (80 classes
    and background); a model configured for 2 classes has 8. When both sides are 4 × a
    class count and one of those counts is a known dataset's, the class count differs.
    Only a 2-D or 1-D tensor named for boxes, or the one unnamed tensor of a text
    (TensorFlow's ``Assign`` shapes), is read so: 320 = 4 × 80 rows of an attention's
    sampling offsets are no box head. Widths of known models are left alone.
    """
    if not ctx.partial:
        return
    for pair in ctx.mismatches():
        have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
        axes = [i for i, (a, b) in enumerate(zip(have, want, strict=False)) if a != b]
        if len(have) != len(want) or len(have) > 2 or len(axes) != 1:
            continue  # a Linear box head (or its bias), not a convolution
        # The layer's own name says so (``mrcnn_bbox_fc``, ``fc_reg``): a table inside a box
        # head (``bbox_head.tgt_embed``, its object queries) regresses nothing.
        module = pair.target.rsplit(".", 1)[0].rsplit(".", 1)[-1]
        named_box = BOX_REGRESSION.search(module)
        if not named_box and not (pair.target in PLACEHOLDERS and len(ctx.mismatches()) == 1):
            continue  # a named layer must say it regresses boxes; an unnamed one stand alone
        rows = (have[axes[0]], want[axes[0]])
        if any(r % BOX_VALUES or knowledge.candidates_for_width(r) for r in rows):
            continue
        classes = (rows[0] // BOX_VALUES, rows[1] // BOX_VALUES)
        known = [d.model for c in classes for d in knowledge.datasets_with_classes(c)]
        if not known:
            continue
        ctx.add(
            Finding(
                category="num_classes",
                severity="error",
                message=(
                    f"{pair.target} has {rows[0]} outputs in the checkpoint, {rows[1]} in the "
                    f"model: {BOX_VALUES} box values per class for {classes[0]} against "
                    f"{classes[1]} classes ({known[0]}), a box head for another class count"
                ),
                params=[pair.source],
                evidence={
                    "checkpoint_classes": classes[0],
                    "model_classes": classes[1],
                    "known_class_counts": known[:3],
                },
                confidence=0.6,
                fix_note=(
                    "load everything but the class-specific heads (exclude them, or "
                    "strict=False) and train those heads for your classes"
                ),
            )
        )
        ctx.consume(pairs=[pair])
        return


def _stft_bins(rows: int) -> int | None:
    """Return the FFT size whose one-sided spectrum has ``rows`` bins (``n_fft / 2 + 1``)."""
    half = rows - 1
    return 2 * half if half >= 64 and half & (half - 1) == 0 else None


def spectrogram_bins(ctx: Context) -> None:
    """Report layers sized for another STFT: ``n_fft / 2 + 1`` frequency bins on each side.

    513 against 1025 rows is a spectrogram of n_fft 1024 against 2048 (Tacotron's linear
    decoder, vocoders): the audio hyperparameters differ, not a class count or vocabulary.
    """
    if not ctx.partial:
        return
    pairs = []
    for pair in ctx.mismatches():
        have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
        axes = [i for i, (a, b) in enumerate(zip(have, want, strict=False)) if a != b]
        if len(have) != len(want) or len(axes) != 1:
            continue
        if _stft_bins(have[axes[0]]) and _stft_bins(want[axes[0]]):
            pairs.append(pair)
    if not pairs:
        return
    first = pairs[0]
    have, want = ctx.src(first).shape, ctx.tgt(first).shape
    axis = next(i for i, (a, b) in enumerate(zip(have, want, strict=True)) if a != b)
    ffts = (_stft_bins(have[axis]), _stft_bins(want[axis]))
    ctx.add(
        Finding(
            category="wrong_variant",
            severity="error",
            message=(
                f"{first.target} has {have[axis]} rows in the checkpoint, {want[axis]} in the "
                f"model: the frequency bins of a spectrogram with n_fft {ffts[0]} against "
                f"{ffts[1]} (n_fft / 2 + 1); the model was built with other audio settings"
            ),
            params=[p.source for p in pairs],
            evidence={"checkpoint_n_fft": ffts[0], "model_n_fft": ffts[1]},
            confidence=0.7,
            fix_note=(
                f"build the model with the audio hyperparameters it was trained with "
                f"(n_fft = {ffts[0]}, and the hop/window that go with it)"
            ),
        )
    )
    ctx.consume(pairs=pairs)


BOX_REGRESSION = re.compile(r"reg|bbox|box", re.IGNORECASE)
"""Names of a dense detector's box-regression convolution (4 rows per anchor)."""


def _anchor_change(ctx: Context) -> bool:
    """Report dense detection heads built for another number of anchors per location.

    A dense head's box-regression conv has 4 rows per anchor and its classification conv
    ``anchors × classes``; when both change by the same factor and the classes per anchor
    agree, the anchors differ (the detector's config), not the class count. Only 4-D convs
    count: a two-stage detector's Linear box head has 4 rows per class, not per anchor.
    """
    convs = [
        p
        for p in ctx.mismatches()
        if len(ctx.src(p).shape) == len(ctx.tgt(p).shape) == 4
        and ctx.src(p).shape[1:] == ctx.tgt(p).shape[1:]
    ]
    for reg in convs:
        have, want = ctx.src(reg).shape[0], ctx.tgt(reg).shape[0]
        if not BOX_REGRESSION.search(reg.target.rsplit(".", 1)[0]) or have % 4 or want % 4:
            continue
        anchors = (have // 4, want // 4)
        if max(anchors) > max(ANCHORS):
            continue
        for cls in convs:
            rows = (ctx.src(cls).shape[0], ctx.tgt(cls).shape[0])
            if cls is reg or rows[0] % anchors[0] or rows[1] % anchors[1]:
                continue
            classes = rows[0] // anchors[0]
            if classes != rows[1] // anchors[1]:
                continue
            _report_anchors(ctx, reg, cls, anchors, classes)
            return True
    return False


def _report_anchors(
    ctx: Context, reg: Pair, cls: Pair, anchors: tuple[int, int], classes: int
) -> None:
    heads = {reg.target.rsplit(".", 1)[0], cls.target.rsplit(".", 1)[0]}
    pairs = [p for p in ctx.mismatches() if p.target.rsplit(".", 1)[0] in heads]
    ctx.add(
        Finding(
            category="wrong_variant",
            severity="error",
            message=(
                f"the detection head is built for {anchors[1]} anchors per location, the "
                f"checkpoint has {anchors[0]}: {reg.target} {ctx.src(reg).shape[0]} → "
                f"{ctx.tgt(reg).shape[0]} rows (4 per anchor), {cls.target} "
                f"{ctx.src(cls).shape[0]} → {ctx.tgt(cls).shape[0]} ({classes} class(es) per "
                f"anchor on both sides): another detector configuration, not another class count"
            ),
            params=[p.source for p in pairs],
            evidence={
                "checkpoint_anchors": anchors[0],
                "model_anchors": anchors[1],
                "classes_per_anchor": classes,
            },
            confidence=0.7,
            fix_note=(
                "build the model with the checkpoint's anchor settings (scales, ratios, "
                "octave_base_scale ...) or the config it was trained with"
            ),
        )
    )
    ctx.consume(pairs=pairs)


def _anchor_split(have: int, want: int) -> tuple[int, int, tuple[int, int]] | None:
    """Split two row counts as anchors × (classes + extra), if one side's classes are known.

    Returns ``(anchors, extra, (classes, classes))``, or ``None``.
    """
    for anchors in ANCHORS:
        for extra in PER_ANCHOR:
            if have % anchors or want % anchors:
                continue
            a, b = have // anchors - extra, want // anchors - extra
            if a < 1 or b < 1:
                continue
            known = knowledge.datasets_with_classes(a) or knowledge.datasets_with_classes(b)
            if known and max(a, b) >= 20:
                return anchors, extra, (a, b)
    return None
