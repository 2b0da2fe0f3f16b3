"""What a loader states outright about the file or the model it was given."""

from __future__ import annotations

import re
from collections.abc import Iterator

from weightfit.explain.spaces import space_mismatch
from weightfit.explain.statements.phrases import said
from weightfit.explain.statements.record import Facts

SHORT_STREAM = re.compile(r"buffer\s+is\s+too\s+small\s+for\s+requested\s+array")
"""NumPy reading a raw weights file (``np.ndarray(buffer=f.read(n * 4))``) that ended before
the layer being filled: Darknet converters reading ``.weights`` against a ``.cfg``."""

TENSOR_PARALLEL = re.compile(
    r"tensor[\s_-]parallel\w*|model[\s_-]parallel\w*|\btp[\s_-]?(?:size|degree|rank)\b|"
    r"\bmp[\s_-]?(?:size|rank)\b|ShardSpec|shardinit|\bshard(?:ed|s)?\s+(?:across|over|into)\b|"
    r"split\s+(?:into|across)\s+(?:multiple\s+|several\s+|\d+\s+)?GPUs",
    re.I,
)
"""Words of a run that splits each parameter across ranks (tensor / model parallelism)."""

OLDER_ARGUMENT = re.compile(
    r"__init__\(\)\s+missing\s+\d+\s+required\s+(?:positional|keyword-only)\s+arguments?:\s+"
    r"'(\w+)'"
)
"""A class rebuilt from a saved model or config lacking an argument the class now requires."""

ABSENT_TARGETS = re.compile(
    r"(?:Target\s+modules?\s+|target_modules=)(\{[^}\n]*\}|\[[^\]\n]*\]|\S+)\s+"
    r"(?:not\s+found\s+in\s+the\s+base\s+model|were\s+set\s+but\s+no\s+module\s+was\s+matched)"
)
"""PEFT refusing an adapter config whose target modules the base model does not have (or,
since 0.14, warning that none of them matched)."""

CAFFE_BLOBS = re.compile(
    r"\((\d+)\s+vs\.?\s+(\d+)\)\s+Incompatible\s+number\s+of\s+blobs\s+for\s+layer\s+([\w/.\-]+)"
)
"""Caffe copying a caffemodel's layer into the net: ``(net's blobs vs. file's blobs)``."""

KALDI_TOKEN = re.compile(
    r"Expected\s+token\s+\"\s*<\s*(\w+)\s*>\s*\",\s+got\s+instead\s+\"\s*<\s*(\w+)\s*>"
)
"""Kaldi's reader meeting another tag than the one its object's layout has next."""

ABSENT_COMPONENT = re.compile(
    r"Failed\s+to\s+load\s+(\w+)\.\s+Weights\s+for\s+this\s+component\s+appear\s+to\s+be\s+"
    r"missing\s+in\s+the\s+checkpoint"
)
"""diffusers' single-file loader finding no weights of a pipeline component in the file."""

PASSED_COMPONENTS = re.compile(
    r"expected\s+\{([^{}]{0,2000})\},\s+but\s+only\s+\{([^{}]{0,2000})\}\s+were\s+passed"
)
"""diffusers' pipeline given fewer components than its class takes (a folder that lacks some)."""

SIZE_MISMATCH = re.compile(
    r"Mismatch\s+between\s+expected\s+(\d+)\s+and\s+actual\s+(\d+)\s*(?:[KMG]i?B|bytes?)?\s+size",
    re.I,
)
"""gemma.cpp's ``Mismatch between expected 1024000 and actual 1024512 KiB size`` of a weights
file (the loader's count first)."""

BYTE_COUNTS = re.compile(
    r"(?:only\s+)?has\s+(\d+)(?:\s+bytes)?,?\s+but\s+(?:request(?:s|ed)?|expect(?:s|ed)?|"
    r"needs?|wants?)\s+(\d+)",
    re.I,
)
"""A loader reading a raw weight file of another byte count than it asks for
(FasterTransformer's ``file x.bin only has 2048, but request 4096``): file first."""

GLUON_MISSING = re.compile(
    r"Parameter\s+'?([A-Za-z]\w*?\d+_\w+)'?\s+(?:is\s+)?missing\s+in\s+file\s+'?([^\s']+)"
)
"""MXNet Gluon's loader looking up a prefix-named parameter (``net0_conv0_weight``) in a
``.params`` file that does not hold it."""

GLUON_HOLDS = re.compile(r"which\s+contains\s+parameters:\s+([^\n]*)")
"""The names MXNet lists the file as holding (``'0.weight', '0.bias', ...``)."""


LORA_LEFTOVERS = re.compile(
    r"(?P<said>The\s+following\s+keys\s+have\s+not\s+been\s+correctly\s+(?:be\s+)?renamed|"
    r"Incompatible\s+keys\s+detected|"
    r"`?(?:original_|old_)?state_dict`?\s+should\s+be\s+(?:empty\s+)?at\s+this\s+point\s+but\s+has)"
    r":?\s*(?:\w+\.keys\(\)=)?(?:dict_keys\()?(?P<names>[^\n]+)"
)
"""diffusers' LoRA converters (``loaders/lora_conversion_utils.py``) raising on the names
they left unmapped, then the names."""


def lora_leftovers(text: str) -> Iterator[re.Match[str]]:
    """Each LoRA converter's raise on its unmapped names, never the traceback's source line."""
    start = 0
    while (match := LORA_LEFTOVERS.search(text, start)) is not None:
        start = match.start() + 1
        if "raise" not in text[text.rfind("\n", 0, match.start()) + 1 : match.start()]:
            yield match


def read_loader_statements(found: Facts, text: str) -> None:
    """Loaders' own statements: short streams, spaces, Caffe blobs, Gluon names, byte counts."""
    found.short_stream = said(SHORT_STREAM, text)
    found.converter_leftovers = next(
        (" ".join(m.group("said").split()) for m in lora_leftovers(text)), ""
    )
    found.tensor_parallel = said(TENSOR_PARALLEL, text)
    found.older_argument = said(OLDER_ARGUMENT, text, 1)
    found.spaces = space_mismatch(text)
    found.absent_targets = said(ABSENT_TARGETS, text, 1)
    found.absent_components = _absent_components(text)
    blobs = CAFFE_BLOBS.search(text)
    if blobs is not None:
        found.caffe_blobs = (blobs.group(3), int(blobs.group(1)), int(blobs.group(2)))
    kaldi = KALDI_TOKEN.search(text)
    if kaldi is not None:
        found.kaldi_token = (kaldi.group(1), kaldi.group(2))
    gluon = GLUON_MISSING.search(text)
    if gluon is not None:
        found.gluon_missing = (gluon.group(1), gluon.group(2))
        holds = GLUON_HOLDS.search(text, gluon.end())
        if holds is not None:
            found.gluon_file_names = re.findall(r"'([\w.]+)'", holds.group(1))
    counts = BYTE_COUNTS.search(text)
    sizes = SIZE_MISMATCH.search(text)
    if counts is not None and "file" in text.lower():
        found.byte_counts = (int(counts.group(1)), int(counts.group(2)))
    elif sizes is not None:
        found.byte_counts = (int(sizes.group(2)), int(sizes.group(1)))


def _absent_components(text: str) -> list[str]:
    """The pipeline components a checkpoint or model folder did not hold, as the loader said."""
    component = ABSENT_COMPONENT.search(text)
    if component is not None:
        return [component.group(1)]
    passed = PASSED_COMPONENTS.search(text)
    if passed is None:
        return []
    expected, given = ({w.strip(" '\"\n") for w in group.split(",")} for group in passed.groups())
    return sorted(expected - given - {""})
