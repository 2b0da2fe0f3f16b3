"""What a text says of the vocabulary and the label set its tables and heads are sized by.

A user's own vocabulary or dictionary named beside the one table whose rows differ, a
loader's message that names the embeddings or the class count as what does not fit, the
one layer named whose outputs are counts off the width tile (labels), and an unnamed
matrix TensorFlow printed in its own layout whose first axis, symbols or inputs, differs.
"""

from __future__ import annotations

import re

from weightfit import knowledge
from weightfit.alignment import Pair
from weightfit.diagnose import _known, class_heads, table_rows
from weightfit.diagnose._context import Context, shape_text
from weightfit.diagnose._facts import UNNAMED, text_facts, whole_text_facts
from weightfit.findings import Finding
from weightfit.plan import Op
from weightfit.tree import stack_of

VOCABULARY_FILE = re.compile(
    r"vocab(?:ulary)?(?:[_ ]?(?:path|file|size))?\b|vocab\w*\.(?:txt|json)|"
    r"\bdict(?:\.txt|_path|_file)\b|\bdictionar(?:y|ies)\b|字典|词典|词表",
    re.I,
)
"""Words naming a vocabulary (a ``vocab.txt``, ``vocab_path``, a ``dict.txt``, a dictionary;
in Chinese 字典, 词典, 词表). Python's bare ``dict`` (a builtin wrapped round a loaded
file) is not one."""

MAX_TABLES = 2
"""Most mismatched tables one vocabulary explains (an input embedding and its output head)."""


def own_vocabulary(ctx: Context) -> None:
    """Report a table or head sized by the vocabulary the text says the user built.

    A speech model's output layer of 1133 rows where the pretrained one has 5304, in a text
    that names its own ``vocab.txt``; a ``word_emb`` of 1833 rows where the text says the
    dictionary it built holds 1833 entries. The rows of a table outside the repeated layers
    (its other axis equal, or its rows the stated size) count the vocabulary's tokens: the
    checkpoint was trained with another one. Known label sets, class-worded heads, position
    and setting tables, and tables of fewer rows than any vocabulary are left to their rules.
    """
    facts = text_facts(ctx)
    if facts is None or not VOCABULARY_FILE.search(facts.text):
        return
    pairs = ctx.mismatches()
    if not pairs or len(pairs) > MAX_TABLES:
        return
    stated = _stated_sizes(facts.text)
    if not all(_vocabulary_rows(ctx, p, stated) for p in pairs):
        return
    first = pairs[0]
    have, want = ctx.src(first).shape[0], ctx.tgt(first).shape[0]
    said = sorted({have, want} & stated)
    ctx.add(
        Finding(
            category="vocab_resize",
            severity="error",
            message=(
                f"{first.target} has {have} rows in the checkpoint, {want} in the model "
                f"({shape_text(ctx.src(first).shape)} → {shape_text(ctx.tgt(first).shape)}), "
                "and the text names the vocabulary the model was built with"
                + (f", of {said[0]} entries" if said else "")
                + ": a table sized by another vocabulary than the checkpoint's"
            ),
            params=[p.source for p in pairs],
            evidence={
                "checkpoint_rows": have,
                "model_rows": want,
                "tensors": [p.target for p in pairs],
                "stated_vocabulary": said,
            },
            confidence=0.45,
            fix_note=(
                "build the model with the vocabulary the checkpoint was trained with (its "
                "vocab file); to keep your own, train the vocabulary-sized layers anew "
                "(reinitialise them and load the rest)"
            ),
        )
    )
    ctx.consume(pairs=pairs)


def _vocabulary_rows(ctx: Context, pair: Pair, stated: set[int]) -> bool:
    """Whether a mismatch is a vocabulary's table: rows differ, outside the stacks."""
    have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
    if len(have) != 2 or len(want) != 2 or have[0] == want[0]:
        return False
    if stack_of(pair.target) is not None or table_rows.is_class_worded(pair.target):
        return False
    module = pair.target.lower().rsplit(".", 1)[0]
    if re.search(r"pos|query|prompt|prefix|codebook|speaker|spk", module):
        return False
    if knowledge.datasets_with_classes(have[0]) or knowledge.datasets_with_classes(want[0]):
        return False
    said = bool({have[0], want[0]} & stated)
    if max(have[0], want[0]) < _known.MIN_VOCAB_ROWS and not said:
        return False
    if _power_of_two_apart(have[0], want[0]) and not said:
        return False  # 4096 against 2048 rows: a width configured otherwise, not a vocabulary
    return have[1] == want[1] or said


def _power_of_two_apart(one: int, other: int) -> bool:
    """Whether two row counts differ by a power of two (a factor of 2, 4, 8 and on)."""
    low, high = sorted((one, other))
    return low > 0 and high % low == 0 and (high // low) & (high // low - 1) == 0


STATED_SIZE = re.compile(
    r"(?:vocab(?:ulary)?|dictionary|字典|词典|词表)[^\d\n\[\](){}]{0,24}?(?<![\d.])(\d{2,7})(?![\d.])",
    re.I,
)
"""A vocabulary word and, a few words on, a number: the size the text gives it
(``字典共 1833 个键值对``, ``a vocabulary of 1833 words``)."""


def _stated_sizes(text: str) -> set[int]:
    """The sizes the text gives a vocabulary in words (never a shape's numbers)."""
    return {int(m.group(1)) for m in STATED_SIZE.finditer(text)}


EMBEDDINGS_MESSAGE = re.compile(
    r"Could\s+not\s+load\s+the\s+model\s+due\s+to\s+a\s+size\s+mismatch\s+in\s+the\s+embeddings"
)
"""ParlAI's ``TorchAgent.load_state_dict`` when a ``size mismatch`` names an embedding and
the agent has no special tokens to resize it for (parlai/core/torch_agent.py)."""


def embeddings_message(ctx: Context) -> None:
    """Report ParlAI's refusal of a checkpoint whose embeddings have other rows.

    ParlAI raises it when PyTorch's ``size mismatch`` names an embedding: the dictionary
    the agent built has another size than the model's (another dictionary, or one padded to
    a multiple of 8 for fp16, which its hint suggests). Either way the token rows differ.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings or not EMBEDDINGS_MESSAGE.search(facts.text):
        return
    ctx.add(
        Finding(
            category="vocab_resize",
            severity="error",
            message=(
                "ParlAI could not load the model for a size mismatch in the embeddings: the "
                "dictionary the agent built has another number of tokens than the model's "
                "embedding rows (another dictionary file, or fp16 padding of the dictionary "
                "to a multiple of 8)"
            ),
            evidence={"message": "size mismatch in the embeddings"},
            confidence=0.45,
            fix_note=(
                "use the model's own dictionary (its .dict file, -dict/--dict-file); if it "
                "was trained with fp16, pass --fp16 true (--force-fp16-tokens true) so the "
                "dictionary is padded as it was"
            ),
        )
    )


ANCHOR_CLASS_MESSAGE = re.compile(
    r"Mismatch\s+between\s+model\s+and\s+given\s+anchor\s+and\s+class"
)
"""keras-yolo3's assertion that the model's last layer has ``anchors × (classes + 5)``
outputs (qqwweee/keras-yolo3 yolo.py: ``'Mismatch between model and given anchor and
class sizes'``)."""


def anchor_class_message(ctx: Context) -> None:
    """Report keras-yolo3's check that the loaded model's outputs fit the anchors and classes.

    The weights file fixes the last layer's ``anchors × (classes + 5)`` outputs; the anchors
    file is the published one almost always, the classes file the user's own: a model
    trained for another class count than the classes file lists.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings or not ANCHOR_CLASS_MESSAGE.search(facts.text):
        return
    ctx.add(
        Finding(
            category="num_classes",
            severity="error",
            message=(
                "the model's last layer does not have anchors × (classes + 5) outputs for the "
                "anchors and classes given: the weights were trained for another class count "
                "(or other anchors) than the classes file lists"
            ),
            evidence={"message": "Mismatch between model and given anchor and class sizes"},
            confidence=0.45,
            fix_note=(
                "give the classes file (--classes_path) and anchors file the weights were "
                "trained with, or train the detection head for your classes"
            ),
        )
    )


MAX_FEW_LABELS = 16
"""Most outputs a layer has that are labels even one apart: no symbol set is this small."""


def odd_outputs(ctx: Context) -> None:
    """Report the one layer a text names whose outputs, off the width tile, differ: labels.

    The text's every mismatch is one layer's (a matrix and its bias, or either), only its
    outputs differ, and both counts are off the tile widths are built on
    (:data:`~weightfit.diagnose._known.WIDTH_STEP`) and fewer than any label set's most:
    TensorFlow's ``[512, 37]`` output kernel given ``[512, 5825]`` (37 characters against
    5825), a bare ``bias`` of 3 against 2 in a model that is the classifier layer itself.
    Widths (``[3584]`` against ``[1280]``), an image's channels (``[1]`` against ``[3]``),
    hundreds of outputs a symbol or two apart (a CTC head's 564 against 563 characters),
    token tables, position and setting tables, and layers inside a stack are left to their
    rules.
    """
    if not ctx.partial:
        return
    pairs = ctx.mismatches()
    if not pairs or len(pairs) > 2 or len({_layer(p.target) for p in pairs}) != 1:
        return
    rows = {(ctx.src(p).shape[0], ctx.tgt(p).shape[0]) for p in pairs if _only_rows_differ(ctx, p)}
    if len(rows) != 1 or len(pairs) != sum(_only_rows_differ(ctx, p) for p in pairs):
        return
    have, want = rows.pop()
    first = pairs[0]
    if have % _known.WIDTH_STEP == 0 or want % _known.WIDTH_STEP == 0:
        return
    if max(have, want) > table_rows.MAX_LABELS or _symbol_table(ctx, first):
        return
    if {have, want} <= set(class_heads.IMAGE_CHANNELS):
        return  # a generator's last layer of 1 against 3 outputs: grey against RGB pixels
    if abs(have - want) <= table_rows.NEAR_SYMBOLS and min(have, want) > MAX_FEW_LABELS:
        return  # 564 against 563 outputs: a symbol set grown by one as much as a label
    name = first.target
    if stack_of(name) is not None or re.search(
        r"emb|tok|vocab|pos|query|prompt|codebook", name, re.I
    ):
        return
    ctx.add(
        Finding(
            category="num_classes",
            severity="error",
            message=(
                f"the one layer the text names, {_layer(name) or 'the module loaded itself'}, "
                f"has {have} outputs in "
                f"the checkpoint and {want} in the model ({shape_text(ctx.src(first).shape)} → "
                f"{shape_text(ctx.tgt(first).shape)}), its inputs equal: counts off the "
                f"multiples of {_known.WIDTH_STEP} widths are built on are labels (classes, "
                "characters), so this is an output layer sized for another label set"
            ),
            params=[p.source for p in pairs],
            evidence={"checkpoint_classes": have, "model_classes": want, "layer": name},
            confidence=0.45,
            fix=[Op("reinit", {"name": p.target}, "num_classes: another label set") for p in pairs],
            fix_note=(
                f"build the model for the checkpoint's {have} labels (its class list or "
                f"character set), or train a new {want}-way output layer and load the rest"
            ),
        )
    )
    ctx.consume(pairs=pairs)


def _layer(name: str) -> str:
    """The module a tensor belongs to (``""`` for a bare ``weight``: the module is the layer)."""
    return name.rsplit(".", 1)[0] if "." in name else ""


def _only_rows_differ(ctx: Context, pair: Pair) -> bool:
    """Whether a pair's shapes differ on their first axis alone."""
    have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
    return len(have) == len(want) >= 1 and have[0] != want[0] and have[1:] == want[1:]


def _symbol_table(ctx: Context, pair: Pair) -> bool:
    """Whether an unnamed matrix is printed in TensorFlow's layout: its first axis is no output.

    A TensorFlow message that names no variable keeps the shapes as printed; there a
    matrix is a dense kernel (``[in, out]``) or a table (``[rows, width]``), and a change of
    its first axis is inputs or symbols, never classes (:func:`input_rows` reads it).
    """
    return pair.target == UNNAMED and str(ctx.facts.get("model", "")).startswith("tensorflow#")


def input_rows(ctx: Context) -> None:
    """Report an unnamed TensorFlow matrix whose first axis differs by a few: symbols added.

    Keras' ``load_weights`` before TensorFlow 2.4 prints ``Shapes (150, 384) and (151, 384)
    are incompatible``, the variable's shape and the saved value's, in TensorFlow's layout:
    a matrix there is an embedding table (``[symbols, width]``) or a dense kernel
    (``[inputs, outputs]``), so a first axis a few apart with the width equal is a symbol
    table grown or shrunk by that many (a text front end's symbol set) or, less often, a
    layer fed that many more features. Classes would sit on the last axis.
    """
    if not ctx.partial:
        return
    pairs = ctx.mismatches()
    if len(pairs) != 1 or not _symbol_table(ctx, pairs[0]):
        return
    pair = pairs[0]
    have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
    if len(have) != 2 or not _only_rows_differ(ctx, pair) or have[1] % _known.WIDTH_STEP:
        return
    if abs(have[0] - want[0]) > table_rows.NEAR_SYMBOLS * 4:
        return
    ctx.add(
        Finding(
            category="vocab_resize",
            severity="error",
            message=(
                f"a matrix of {have[0]} rows in the checkpoint and {want[0]} in the model, "
                f"both {have[1]} wide ({shape_text(have)} → {shape_text(want)}), printed in "
                "TensorFlow's layout: its first axis is an embedding's symbols or a dense "
                "layer's inputs, never its outputs, so a few more or fewer symbols (a text "
                "front end's symbol set changed) rather than classes"
            ),
            params=[pair.source],
            evidence={"checkpoint_rows": have[0], "model_rows": want[0], "width": have[1]},
            confidence=0.4,
            fix_note=(
                "build the model with the symbol set (processor, mapper or vocabulary file) "
                "the checkpoint was trained with; rows for new symbols need training"
            ),
        )
    )
    ctx.consume(pairs=pairs)
