"""What a text counts: two numbers of one model quantity that disagree.

Keys announced without names, layers, a raw weights stream that ran out, two stated values
of one model quantity, a dataset's classes, a raw weight file's bytes.
"""

from __future__ import annotations

import re

from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import whole_text_facts
from weightfit.findings import Category, Finding

MANY_UNLISTED = 20
"""Missing parameters counted beyond a task head's few: most of a model's names did not match."""


def unlisted(ctx: Context) -> None:
    """Report keys a message counts or announces without listing them."""
    facts = whole_text_facts(ctx)
    if facts is None or not facts.unlisted or ctx.findings or ctx.missing() or ctx.unexpected():
        return
    missing, unexpected = facts.unlisted.get("missing", 0), facts.unlisted.get("unexpected", 0)
    if facts.unlisted == {"missing": 0, "unexpected": 0}:
        return  # both sides announced, neither named nor counted: no side says more
    only_extra = "missing" not in facts.unlisted
    side: Category = "unexpected" if only_extra or unexpected > missing else "missing"
    counted = (
        f"{missing} missing and {unexpected} unexpected keys"
        if unexpected
        else f"{missing} missing parameters"
        if missing > MANY_UNLISTED
        else ""
    )
    ctx.add(
        Finding(
            category=side,
            severity="error",
            message=(
                f"the message counts {counted} without naming them"
                + (
                    ": most of the model's names match nothing in the file (another naming or "
                    "prefix, or another model)"
                    if not unexpected
                    else ""
                )
                if counted
                else "the checkpoint has weights the model does not take (the message names "
                "no list): parts the model builds elsewhere or not at all (a frozen tower "
                "loaded on its own, an EMA copy, a head of another task)"
                if only_extra
                else "the model has weights the checkpoint does not (the text names none): "
                "a new part of the model (a task head that training fills), or names that "
                "differ (another release's or model's)"
            ),
            evidence={"missing": missing, "unexpected": unexpected},
            confidence=0.5,
            fix_note=(
                "expected when fine-tuning a new head or new modules on a pretrained base; "
                "otherwise list them: weightfit check CKPT --against TARGET"
            ),
        )
    )


MOST_NOT_FOUND = 0.9
"""Share of the model's parameters not found from which the two sides name them otherwise."""


def paths_not_found(ctx: Context) -> None:
    """Report a loader that found almost none of the model's parameters: another naming.

    A checkpoint that held a part of the model would leave a part unfound; one where nearly
    every path is missing names its tensors otherwise throughout (a release or codebase that
    names its layers another way), unless it is another model's file.
    """
    facts = whole_text_facts(ctx)
    if facts is None or facts.paths_not_found is None or ctx.findings:
        return
    absent, of = facts.paths_not_found
    if absent < of * MOST_NOT_FOUND:
        return
    ctx.add(
        Finding(
            category="rename",
            severity="error",
            message=(
                f"the loader found {of - absent} of the model's {of} parameters in the "
                f"checkpoint ({absent} not found): the two name their tensors otherwise "
                "throughout (a release or codebase that names its layers another way), not "
                "a part of the model missing"
            ),
            evidence={"not_found": absent, "of": of},
            confidence=0.4,
            fix_note=(
                "list both sides' names to map them (weightfit check CKPT --against TARGET), "
                "or restore with the code release that wrote the checkpoint"
            ),
        )
    )


def layer_counts(ctx: Context) -> None:
    """Report a weight file of another number of layers, or a layer of other variables (Keras)."""
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings:
        return
    if facts.architecture_said and facts.layer_counts is None and not ctx.mismatches():
        _report_architecture_said(ctx, facts.architecture_said)
        return
    if facts.layer_weights is not None and facts.layer_counts is None:
        _report_layer_weights(ctx, *facts.layer_weights)
        return
    if facts.layer_counts is None:
        return
    have, want = facts.layer_counts
    if have == 0 < want:
        _report_no_layers(ctx, want)
        return
    if have == 1 < want:
        _report_one_wrapping_layer(ctx, want)
        return
    if abs(have - want) == 1 and min(have, want) >= MANY_LAYERS:
        _report_one_layer_apart(ctx, have, want)
        return
    ctx.add(
        Finding(
            category="wrong_variant",
            severity="error",
            message=(
                f"the weight file holds {have} layers (or parameter arrays), the model has "
                f"{want}: another depth or architecture than the one the weights were saved from"
            ),
            evidence={"checkpoint_layers": have, "model_layers": want},
            confidence=0.55,
            fix_note="build the model the weights were saved from (same depth and options)",
        )
    )


MANY_LAYERS = 20
"""Layers from which one more or fewer is an implementation's extra layer, not a size: in a
network of a few layers, one layer is a large part of its design (faceswap's LowMem model
has 6 to the Original's 7)."""


def _report_one_layer_apart(ctx: Context, have: int, want: int) -> None:
    """Report weight-file and model layer counts one apart: one implementation's extra layer.

    Sizes of one architecture differ by whole blocks, several layers each; a single layer
    is one that another implementation or release builds and this one does not (Keras
    applications' ``Normalization`` in front of EfficientNet, an ``InputLayer`` counted by
    another Keras).
    """
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"the weight file holds {have} layers, the model has {want}: one layer apart. "
                "Sizes of an architecture differ by whole blocks; a single layer is one that "
                "another implementation or release of the model builds (a preprocessing or "
                "normalization layer, an input layer counted otherwise)"
            ),
            evidence={"checkpoint_layers": have, "model_layers": want},
            confidence=0.4,
            fix_note=(
                "build the model with the code (package and release) that saved the weights, "
                "or load by layer name (by_name=True) and check what stays unloaded"
            ),
        )
    )


def _report_no_layers(ctx: Context, want: int) -> None:
    """Report a weight file in which the reader found no layer at all: another layout."""
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"the reader found no layers in the weight file for a model of {want}: the "
                "file keeps its layers where this release does not look (written by another "
                "Keras release or as a whole model), not a network of another depth"
            ),
            evidence={"checkpoint_layers": 0, "model_layers": want},
            confidence=0.45,
            fix_note="load with the library versions that wrote the file (the project's "
            "pinned requirements), or load the whole model and save its weights again",
        )
    )


def _report_one_wrapping_layer(ctx: Context, want: int) -> None:
    """Report a Keras weight file whose one layer with weights is the model itself, nested.

    Keras counts the layers that hold weights; a file of one such layer for a model of
    several was saved from a wrapper holding the model as a layer (``multi_gpu_model``, a
    ``Sequential`` or functional model around it).
    """
    ctx.add(
        Finding(
            category="prefix",
            severity="error",
            message=(
                f"the weight file holds one layer with weights for a model of {want}: the "
                "weights were saved from a wrapper that holds the model as one layer "
                "(multi_gpu_model, a model built around it), so they sit one level down"
            ),
            evidence={"checkpoint_layers": 1, "model_layers": want},
            confidence=0.45,
            fix_note=(
                "save the inner model's weights (wrapper.get_layer(NAME).save_weights), or "
                "build the same wrapper before loading"
            ),
        )
    )


def _report_layer_weights(ctx: Context, builds: int, saved: int) -> None:
    """Report a layer that builds another number of variables than the file saved for it."""
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"a layer builds {builds} weight variables where the file saved {saved} for it: "
                "the layer's code (or its options, such as a bias) differs from the code that "
                "saved the file"
            ),
            evidence={"model_variables": builds, "checkpoint_variables": saved},
            confidence=0.5,
            fix_note="load with the library and code versions that saved the weights",
        )
    )


def _report_architecture_said(ctx: Context, said: str) -> None:
    """Report a loader's own words that the file has another depth or architecture."""
    names = [*ctx.missing(), *ctx.unexpected()]
    ctx.add(
        Finding(
            category="wrong_variant",
            severity="error",
            message=(
                f"the loader says the file does not fit the network built ({said})"
                + (f": {', '.join(names[:3])} … not filled" if names else "")
                + ": the network was built with other options than the weights were saved from"
            ),
            params=names,
            evidence={"said": said, "layers_not_filled": names[:8]},
            confidence=0.55,
            fix_note="build the network with the options the weights were trained with",
        )
    )
    ctx.consume(missing=ctx.missing(), unexpected=ctx.unexpected())


def short_stream(ctx: Context) -> None:
    """Report a raw weights file that ended before the network it fills was complete.

    Readers of raw streams (Darknet's ``.weights`` read against a ``.cfg``) take each
    layer's values in turn: running out means the network described is larger than the
    one the file holds (another cfg, class count or variant), or the file is cut short.
    """
    facts = whole_text_facts(ctx)
    if facts is None or not facts.short_stream or ctx.findings:
        return
    ctx.add(
        Finding(
            category="wrong_variant",
            severity="error",
            message=(
                f"the weights file ran out before the network was filled ({facts.short_stream}): "
                "the network built (its cfg, class count or variant) is larger than the one "
                "the file holds, or the file is cut short"
            ),
            evidence={"said": facts.short_stream},
            confidence=0.4,
            fix_note=(
                "use the cfg (and class count) the weights were trained with; if it matches, "
                "download the weights again and compare the file size with the source's"
            ),
        )
    )


STATED_CAUSES: dict[str, tuple[Category, str, str]] = {
    "vocab": (
        "vocab_resize",
        "the vocabularies differ ({a} against {b} tokens)",
        "use the tokenizer the weights were trained with, or resize the embeddings to it",
    ),
    "parallel": (
        "partitioned",
        "the parallel layout differs ({a} against {b}): the checkpoint is split for another "
        "number of model-parallel ranks than the run has",
        "launch with as many ranks as the checkpoint has shards, or reshard (merge) it first",
    ),
    "width": (
        "wrong_variant",
        "the widths differ ({a} against {b}): weights of another size of the model",
        "build the model the weights were saved from (its config's hidden size)",
    ),
    "classes": (
        "num_classes",
        "the class counts differ ({a} against {b})",
        "build the head for the checkpoint's classes, or re-initialise it for yours",
    ),
    "layers": (
        "wrong_variant",
        "the layer counts differ ({a} against {b}): another depth of the model",
        "build the model with the checkpoint's number of layers",
    ),
    "channels": (
        "version",
        "the inputs and the checkpoint have other numbers of channels ({a} against {b}): the "
        "code that prepares the inputs is another release (or configured otherwise) than the "
        "one the checkpoint was trained with",
        "prepare the inputs as the checkpoint's release did (its channel list), or use a "
        "checkpoint trained on the installed release's inputs",
    ),
    "tensors": (
        "version",
        "the loader and the file disagree on the number of tensors ({a} against {b}): a file "
        "converted for another version of the architecture than the loader knows",
        "use the loader version the file was converted for, or convert it again with the "
        "converter of the loader's version",
    ),
}
"""What two stated values of each model quantity mean, and what to do."""

FEW_TENSORS = 0.1
"""A file holding less than this share of the tensors its loader expects was cut short."""


def _report_cut_file(ctx: Context, held: int, expected: int) -> None:
    """Report a file holding a small share of the tensors its loader expects: a cut file."""
    ctx.add(
        Finding(
            category="partitioned",
            severity="error",
            message=(
                f"the loader read {held} of the {expected} tensors it expects: far too few for "
                "another version or size of the model, the file stops early (an interrupted "
                "download or copy)"
            ),
            evidence={"quantity": "tensors", "values": [held, expected]},
            confidence=0.5,
            fix_note="download the model file again and compare its size with the source's",
        )
    )


def stated_quantity(ctx: Context) -> None:
    """Report a sentence stating two values of one model quantity, when no tensor is named."""
    facts = whole_text_facts(ctx)
    if facts is None or facts.stated is None or ctx.findings:
        return
    if ctx.mismatches() or ctx.missing() or ctx.unexpected():
        return
    kind, a, b = facts.stated
    if kind == "tensors" and 0 < min(a, b) < max(a, b) * FEW_TENSORS:
        _report_cut_file(ctx, min(a, b), max(a, b))
        return
    category, what, fix_note = STATED_CAUSES[kind]
    ctx.add(
        Finding(
            category=category,
            severity="error",
            message=what.format(a=a, b=b),
            evidence={"quantity": kind, "values": [a, b]},
            confidence=0.5,
            fix_note=fix_note,
        )
    )


OWN_CLASS_COUNT = re.compile(
    r"\b(\d{1,5})\s+(?:object\s+|target\s+)?(?:classes|categories)\b"
    r"|(?<![\d.])(\d{1,5})\s*(?:个)?(?:类别|类|類別|類)"
)
"""A class count a user gives their own dataset (``20 classes``, ``共分了20类``)."""

SHAPE_MISMATCH_SAID = re.compile(
    r"(?:size|shape)s?\s+(?:mismatch|do(?:es)?\s*n[o']t\s+match)|mismatch(?:ed)?\s+(?:shape|size)"
    r"|形状不匹配|尺寸不匹配|维度不匹配|形狀不匹配",
    re.I,
)
"""A loading message saying shapes differ, in English or Chinese."""


def stated_classes(ctx: Context) -> None:
    """Report a shape mismatch that names no tensor, in a text giving the user's class count.

    Fine-tuning pretrained weights on one's own dataset builds the head for that dataset's
    classes; the pretrained head, sized for the dataset it was trained on, is the tensor that
    no longer fits. A text that states its dataset's class count beside a shape-mismatch
    message (pasted without the tensors, or quoted in prose) says as much. Only one count
    is read: two different counts are a comparison, not the dataset's.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings or ctx.mismatches() or ctx.missing() or ctx.unexpected():
        return
    if facts.unshaped or SHAPE_MISMATCH_SAID.search(facts.text) is None:
        return
    counts = {int(m.group(1) or m.group(2)) for m in OWN_CLASS_COUNT.finditer(facts.text)}
    if len(counts) != 1 or not 1 < (count := next(iter(counts))) <= MAX_OWN_CLASSES:
        return
    ctx.add(
        Finding(
            category="num_classes",
            severity="warning",
            message=(
                f"a shape mismatch without the tensors, in a text about a dataset of {count} "
                "classes: a model built for the dataset's classes cannot take the pretrained "
                "head, sized for the classes it was trained on"
            ),
            evidence={"classes": count},
            confidence=0.4,
            fix_note=(
                "the mismatched tensors settle it: if they are the head's alone, the message "
                "is expected (the head is trained anew); otherwise the model differs elsewhere"
            ),
        )
    )


MAX_OWN_CLASSES = 100_000
"""A class count past which a number is no dataset's label set."""

PRECISION_RATIOS = (2, 4)
"""Byte-count ratios of one tensor stored in two precisions (fp16 / fp32, int8 / fp32)."""

NEAR_SIZE = 1.1
"""A file at most this much larger than the loader reads is the same model, laid out otherwise."""


def byte_counts(ctx: Context) -> None:
    """Report a raw weight file of another byte count than the loader reads.

    Exactly half (or a quarter, or twice) the bytes is the same tensor in another precision:
    fp16 files read as fp32, or the reverse. Any other shortfall is a file cut short.
    """
    facts = whole_text_facts(ctx)
    if facts is None or facts.byte_counts is None or ctx.findings:
        return
    has, wants = facts.byte_counts
    small, large = sorted((has, wants))
    precision = small > 0 and large % small == 0 and large // small in PRECISION_RATIOS
    # A file a little larger than the loader reads is whole: the same model's weights in
    # another release's layout (a tensor added, a table grown), not a cut download.
    release = not precision and has > wants and has <= wants * NEAR_SIZE
    category: Category = "dtype_variant" if precision else "version" if release else "partitioned"
    ctx.add(
        Finding(
            category=category,
            severity="error",
            message=(
                f"a weight file's size is {has} where the loader reads {wants}: "
                + (
                    f"exactly {large // small} times {'fewer' if has < wants else 'more'}, the "
                    "same values stored in another precision (fp16 against fp32)"
                    if precision
                    else "a little more than it reads, so not cut short: the weights file of "
                    "another release, laid out otherwise than this loader expects"
                    if release
                    else "the file is cut short or from another model"
                )
            ),
            evidence={"file_bytes": has, "read_bytes": wants},
            confidence=0.55 if precision else 0.45,
            fix_note=(
                "convert (or export) the weights in the precision the loader is configured for"
                if precision
                else "use the weights released for this loader's version (or update the loader)"
                if release
                else "download or export the weights again and compare the file sizes"
            ),
        )
    )
