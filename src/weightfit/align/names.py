"""Tensor names as templates over layer indices, and their words.

``blocks.17.attn.qkv.weight`` is the template ``blocks.{i}.attn.qkv.weight`` at
index 17; words are compared after folding library spellings of the same role
(``to_q`` / ``q_proj`` / ``query`` → ``q``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from weightfit.tree import is_layer_index

_SLOT_NAMES = "ijklmn"

# Everything up to and including the last layer index (``tree.is_layer_index``, as a
# pattern): the layer a tensor sits in.
LAYER = re.compile(r".*(?<![^.])(?:0|[1-9][0-9]*)(?![^.])")

# Segment spellings of the same role across libraries, folded before comparing
# tokens (diffusers to_q / transformers q_proj / timm qkv parts / old BERT gamma).
_SYNONYMS = {
    "query": "q",
    "to_q": "q",
    "q_proj": "q",
    "key": "k",
    "to_k": "k",
    "k_proj": "k",
    "value": "v",
    "to_v": "v",
    "v_proj": "v",
    "to_out": "out",
    "o_proj": "out",
    "out_proj": "out",
    "proj_attn": "out",
    "gamma": "weight",
    "beta": "bias",
    "gate_proj": "gate",
    "up_proj": "up",
    "down_proj": "down",
    "to_kv": "kv",
    "to_qkv": "qkv",
    "kv_proj": "kv",
    "qkv_proj": "qkv",
    "gate_up_proj": "gate_up",
}


def template(name: str) -> tuple[str, tuple[int, ...]]:
    """Fold the layer indices of a dotted name into placeholders.

    Args:
        name: A tensor or module name, e.g. ``"blocks.17.attn.qkv.weight"``.

    Returns:
        The template and the indices it replaced, in order:
        ``("blocks.{i}.attn.qkv.weight", (17,))``. Further indices use ``{j}``,
        ``{k}`` ...; a segment is an index only when it is a plain decimal
        integer without leading zeros.

    Example:
        >>> template("down.1.res.0.conv.weight")
        ('down.{i}.res.{j}.conv.weight', (1, 0))

    """
    indices: list[int] = []
    segments = name.split(".")
    for position, segment in enumerate(segments):
        if is_layer_index(segment):
            segments[position] = "{" + slot_name(len(indices)) + "}"
            indices.append(int(segment))
    return ".".join(segments), tuple(indices)


def fill(pattern: str, indices: Sequence[int]) -> str:
    """Put ``indices`` back into a template made by :func:`template`."""
    return pattern.format(**{slot_name(n): index for n, index in enumerate(indices)})


def slot_name(n: int) -> str:
    """Name the ``n``-th placeholder: ``i``, ``j``, ``k`` ... then ``i6``, ``i7`` ..."""
    return _SLOT_NAMES[n] if n < len(_SLOT_NAMES) else f"i{n}"


def canonical_segment(segment: str) -> str:
    """Fold a segment to its lower-case role word (``to_q`` → ``q``, ``gamma`` → ``weight``)."""
    return _SYNONYMS.get(segment.lower(), segment.lower())


_TOKEN_SPLIT = re.compile(r"[._]+")


def tokens(pattern: str) -> list[str]:
    """Split a template into its canonical words, without slots and numbers."""
    words: list[str] = []
    for segment in pattern.split("."):
        if segment.startswith("{") or segment.isdigit():
            continue
        canon = canonical_segment(segment)
        words.extend(t for t in _TOKEN_SPLIT.split(canon) if t and not t.isdigit())
    return words
