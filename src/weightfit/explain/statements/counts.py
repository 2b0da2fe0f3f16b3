"""Counts a text states: missing and unexpected keys, layers, values and quantities."""

from __future__ import annotations

import re

from weightfit.explain.statements.phrases import PATH_WORD, said
from weightfit.explain.statements.record import Facts

COUNTS = re.compile(r"(\d+)\s+missing\s+and\s+(\d+)\s+unexpected\s+keys")
"""Lightning / LDM's ``Restored from X with 376 missing and 2 unexpected keys``."""

UNLISTED_MISSING = re.compile(
    r"(?:not|newly)\s+initiali[sz]ed\s+from\s+(?:the\s+)?(?:pretrained\s+model|model\s+checkpoint)|"
    r"Missing\s+(\d+)\s+parameters?\b|Missing\s+keys?(?:\(s\))?\s+in\s+state_?dict|"
    r"\b\w+\s+weights\s+not\s+found(?=[,;.]\s)"
)
"""transformers' "weights not initialized" message, even when the paste dropped its list;
MLX's ``Missing 358 parameters:`` with its list cut; PyTorch's ``Missing key(s) in
state_dict:`` pasted without its names; a loader warning that a part's weights were not found
(fair-esm's ``Regression weights not found, predicting contacts will not produce correct
results``)."""

UNLISTED_UNEXPECTED = re.compile(
    r"were\s+not\s+used\s+when\s+initializing|Received\s+parameters\s+not\s+in\s+model|"
    r"Unexpected\s+keys?(?:\(s\))?\s+in\s+state_?dict"
)
"""transformers' "weights not used" and MLX's "parameters not in model", their lists cut."""

BOTH_UNLISTED = re.compile(r"\bMissing\s*(?:&|and|/)\s*Unexpected\s+keys?", re.I)
"""Prose announcing keys missing and unexpected at once (``a full list of "Missing &
Unexpected key(s) in state_dict"``), none of them named."""

LAYER_COUNTS = re.compile(
    r"file\s+containing\s+(?P<file>\d+)\s+layers\s+into\s+a\s+model\s+with\s+(?P<model>\d+)\s+"
    r"layers|expected\s+(?P<expects>\d+)\s+layers,\s+found\s+(?P<saved>\d+)\s+saved\s+layers|"
    r"got\s+(?P<values>\d+)\s+values\s+to\s+set\s+(?P<parameters>\d+)\s+parameters"
)
"""Keras: a weight file of N layers loaded into a model of M layers, or a model expecting M
layers that found N saved; Lasagne: N saved arrays for a network of M parameters."""

LAYER_WEIGHTS = re.compile(
    r"layer\s+(?:#\d+\s+\(named\s+\"[^\"\n]+\"[^)\n]*\)|\S+)\s+expects\s+(\d+)\s+"
    r"weight(?:s|\(s\))?,\s+but\s+the\s+saved\s+weights\s+have\s+(\d+)\s+element(?:s|\(s\))?|Layer\s+expects\s+(\d+)\s+weight\(?s?\)?\.?\s+Received\s+(\d+)\s+saved|"
    r"Layer\s+'[^'\n]+'\s+expected\s+(\d+)\s+variables?,\s+but\s+received\s+(\d+)\s+variables?",
    re.I,
)
"""Keras: one layer builds N variables where the file saved M for it (model first; tf.keras
2 names it ``Layer #0 (named "conv2d") expects 2 weight(s)``); Keras 3
says ``Layer expects 9 weight(s). Received 15 saved weight(s)``, and for a ``.keras`` file
``Layer 'lstm_cell' expected 3 variables, but received 0 variables during loading``."""

ARCHITECTURE_SAID = re.compile(
    r"(?:network|model)\s+\w+\s+has\s+(?:fewer|more)\s+layers|"
    r"please\s+ensure\s+that\s+the\s+architectures\s+match",
    re.I,
)
"""A loader saying the file holds fewer or more layers than the network it fills, or another
architecture (fairseq's ``Cannot load model parameters from checkpoint X; please ensure that
the architectures match``)."""

MATMUL = re.compile(
    r"mat1\s+and\s+mat2\s+shapes\s+cannot\s+be\s+multiplied\s+\((\d+)x(\d+)\s+and\s+(\d+)x(\d+)\)"
)
"""A Linear fed features of another width: ``(rows x fed) and (in_features x out_features)``."""

INPUT_CHANNELS = re.compile(
    r"expects\s+(\d+)\s+but\s+received\s+`num_channels_latents`:\s*(\d+)\s*\+\s*"
    r"`num_channels_mask`:\s*(\d+)\s*\+\s*`num_channels_masked_image`:\s*(\d+)\s*=\s*(\d+)"
)
"""diffusers' inpainting pipelines: the UNet's ``in_channels`` against latents + mask +
masked-image latents the pipeline feeds it."""

CONV_INPUT = re.compile(
    r"weight\s+of\s+size\s+\[(\d+),\s*(\d+),\s*\d+,\s*\d+\],\s+expected\s+input\[[\d,\s]+\]\s+to\s+"
    r"have\s+\d+\s+channels,\s+but\s+got\s+(\d+)\s+channels"
)
"""PyTorch's convolution fed other input channels than its weight takes: ``Given groups=1,
weight of size [320, 8, 3, 3], expected input[2, 12, 64, 64] to have 8 channels, but got 12
channels instead`` (outputs, inputs, then the channels fed)."""

LATENT_WIDTH = 128
"""Fewest outputs of a diffusion model's first convolution (SD's UNet: 320; DiT: 1152)."""


def _latent_inputs(outputs: int, takes: int, fed: int) -> bool:
    """Whether a wide first convolution takes and is fed stacks of latents, not images.

    Latents come in fours (SD's 4 channels: 8 for two stacked, 9 with a mask, 12 for three);
    1, 3 and 4 image channels against each other are an image fed in another colour mode.
    """
    stacked = max(takes, fed) > 4 and takes % 4 in (0, 1) and fed % 4 in (0, 1)
    return outputs >= LATENT_WIDTH and stacked and min(takes, fed) >= 4


QUANTITY = re.compile(
    r"\b(?:(?P<vocab>(?:padded_)?vocab(?:ulary)?(?:[\s_]size)?|n_vocab|char(?:acter)?[\s_]?list|charset|"
    r"alphabet(?:[\s_]size)?|n_symbols|num[\s_](?:chars|symbols))|"
    r"(?P<parallel>(?:mp_)?world[\s_]size|MP|model[\s_-]parallel(?:[\s_]size)?|"
    r"(?:tensor|pipeline)[\s_-](?:model[\s_-])?parallel(?:[\s_]size)?|tp[\s_]size|"
    r"num[\s_]shards)|"
    r"(?P<width>normalized_shape|hidden[\s_]size|d_model|n_embd|embed(?:ding)?[\s_]dim)|"
    r"(?P<classes>num[\s_]classes|num[\s_]labels|n_classes)|"
    r"(?P<layers>num[\s_](?:hidden[\s_])?layers|n_layers?)|"
    r"(?P<tensors>number\s+of\s+tensors|tensor\s+count|n_tensors|tensors\s+loaded)|"
    r"(?P<channels>number\s+of\s+(?:input\s+)?channels))\b",
    re.I,
)
"""A model quantity a sentence may state two values of: vocabulary (an OCR or speech model's
character list too), parallel degree, width,
classes, layers, the tensors a file holds, the input channels a checkpoint was trained on."""

CHECKPOINT_WORD = re.compile(r"checkpoint|pretrained|weights|saved\s+model", re.I)
"""Words that make a count of channels the checkpoint's, not an image's colour mode."""

DIFFER_CUE = re.compile(
    r"mismatch|\bbut\b|expected|does\s*n[o']t\s+match|!=|\bdiffer|\bnot\s+equal\b", re.I
)

MANY_INDEXES = re.compile(r"more\s+than\s+one\s+\.?index\.json|multiple\s+\S*index\.json", re.I)
"""accelerate / transformers refusing a folder with two shard indexes."""

BROADCAST = re.compile(
    r"size\s+of\s+tensor\s+a\s+\((\d+)\)\s+must\s+match\s+the\s+size\s+of\s+tensor\s+b\s+\((\d+)\)|"
    r"Vocab\s+size\s+mismatch\s+\(model\s+has\s+(\d+),\s+but\s+\S+\s+has\s+(\d+)\)"
)
"""Two row counts that meet: a broadcast of two tensors, or llama.cpp's ``convert.py``
finding the model's vocabulary and the tokenizer's apart."""


PATHS_NOT_FOUND = re.compile(
    r"\b(\d+)\s+of\s+(\d+)\s+(?:model\s+)?(?:parameter|param|weight|tensor|variable)s?"
    r"(?:\s+(?:paths|names|keys))?\s+(?:were|are)\s+not\s+found"
)
"""A loader counting the model's parameters it did not find in the checkpoint (Flax NNX
restores in MaxText: ``374 of 377 model parameter paths were not found``)."""


def read_counts(found: Facts, text: str) -> None:
    """Numbers a message contrasts: broadcast sizes, list counts, layers, matrix products."""
    sizes = BROADCAST.search(text)
    if sizes is not None:
        a, b = (int(n) for n in sizes.groups() if n)
        found.broadcast = (a, b)
    counts = COUNTS.search(text)
    if counts is not None:
        found.unlisted = {"missing": int(counts.group(1)), "unexpected": int(counts.group(2))}
    elif BOTH_UNLISTED.search(text):
        found.unlisted = {"missing": 0, "unexpected": 0}
    elif (unlisted := UNLISTED_MISSING.search(text)) is not None:
        found.unlisted = {"missing": int(unlisted.group(1) or 0)}
    elif UNLISTED_UNEXPECTED.search(text):
        found.unlisted = {"unexpected": 0}
    if MANY_INDEXES.search(text):
        found.indexes = list(dict.fromkeys(re.findall(r"[\w.\-]+\.index\.json", text)))
    found.architecture_said = said(ARCHITECTURE_SAID, text)
    share = PATHS_NOT_FOUND.search(text)
    if share is not None and int(share.group(1)) <= int(share.group(2)):
        found.paths_not_found = (int(share.group(1)), int(share.group(2)))
    layers = LAYER_COUNTS.search(text)
    if layers is not None:
        have = layers["file"] or layers["saved"] or layers["values"]
        want = layers["model"] or layers["expects"] or layers["parameters"]
        found.layer_counts = (int(have), int(want))
    weights = LAYER_WEIGHTS.search(text)
    if weights is not None:
        builds, saved = (int(n) for n in weights.groups() if n)
        found.layer_weights = (builds, saved)
    product = MATMUL.search(text)
    if product is not None:
        numbers = [int(n) for n in product.groups()]
        found.matmul = (numbers[0], numbers[1], numbers[2])
    fed = INPUT_CHANNELS.search(text)
    conv = CONV_INPUT.search(text)
    if fed is not None:
        found.input_channels = (int(fed.group(1)), int(fed.group(5)))
    elif conv is not None and _latent_inputs(*(int(n) for n in conv.groups())):
        found.input_channels = (int(conv.group(2)), int(conv.group(3)))
    found.stated = _stated_quantity(text)


EXCEPTION_START = re.compile(r"(?=\b[A-Z]\w*(?:Error|Exception):\s)")
"""Where a raised exception's message begins, also mid-line (a log pasted as one line)."""


def _statements(text: str) -> list[str]:
    """The text's lines, each cut where an exception's message begins inside it."""
    return [part for line in text.splitlines() for part in EXCEPTION_START.split(line) if part]


EXPECTED_GOT = re.compile(r"\bexpected\s+(\d+),?\s+(?:but\s+)?got\s+(\d+)\b")
"""The two values a statement pairs itself (``expected 292, got 291``)."""


def _stated_quantity(text: str) -> tuple[str, int, int] | None:
    """A line that names a model quantity, says two values differ, and gives exactly two.

    ``Vocab size mismatch (model has 38464, but tokenizer.model has 38656)``, ``Loading a
    checkpoint for MP=1 but world size is 8``: the kind (``vocab``, ``parallel``, ``width``,
    ``classes``, ``layers``, ``tensors``, ``channels``) and the two values in the order
    written.
    """
    for line in _statements(text)[:2000]:
        quantity = QUANTITY.search(line)
        if quantity is None or DIFFER_CUE.search(line) is None:
            continue
        numbers = list(
            dict.fromkeys(int(n) for n in re.findall(r"\b\d+\b", PATH_WORD.sub(" ", line)))
        )
        kind = next(k for k, v in quantity.groupdict().items() if v)
        if kind == "channels" and CHECKPOINT_WORD.search(line) is None:
            continue
        paired = EXPECTED_GOT.search(line)
        if len(numbers) > 2 and paired is not None:
            numbers = [int(paired[1]), int(paired[2])]  # other numbers on a log's one line
        # Zero pieces of a model-parallel save is a count too: the loader found none.
        if len(numbers) == 2 and (all(numbers) or kind == "parallel"):
            return (kind, numbers[0], numbers[1])
    return None
