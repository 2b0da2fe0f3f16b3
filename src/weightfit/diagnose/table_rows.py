"""Row changes, and what a table's name says its rows count.

Shared by the row-count rules on embeddings and heads (``vocab_resize`` in
:mod:`weightfit.diagnose.embeddings`, ``num_classes`` in
:mod:`weightfit.diagnose.class_heads`): the mismatches whose only differing axis
is the row axis (or a zero-shot head's class columns), token and setting tables
told by their names, and row counts that read as label sets or as a symbol or two
apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from weightfit import knowledge
from weightfit.alignment import Pair
from weightfit.diagnose._context import Context
from weightfit.peft.layout import live_base_name

LM_HEAD_WORDS = ("lm_head", "embed_out")
"""Name words only a language model's output head carries."""
_TOKEN_TABLE_WORDS = ("embed", "wte", "tok", "word", "symbol", "char", "vocab", "emb")
_NOT_TOKEN_WORDS = (
    "pos",
    "label",
    "class",
    "type",
    "patch",
    "speaker",
    "spk",
    "lang",
    "segment",
    "time",
    "rel",
    "y_emb",
)
SETTING_TABLE_WORDS = (
    "query",
    "queries",
    "refpoint",
    "prompt",
    "prefix",
    "codebook",
    "quantize",
    "register",
)
"""Learned tables whose row count is a setting of the model (DETR's object queries, also
named by their reference points, ``refpoint_embed``, prompt or prefix length, a VQ codebook,
register tokens): neither tokens nor classes. Another table whose rows change alike counts
the same setting (DAB-DETR's ``tgt_embed`` beside ``refpoint_embed``)."""


@dataclass
class RowChange:
    """A pair whose row count (axis 0, or axis 1 of a ``[1, V]`` bias) differs."""

    pair: Pair
    axis: int
    have: int
    want: int
    position: float

    @property
    def name(self) -> str:
        """The tensor's name in the model (the pair's target)."""
        return self.pair.target


def row_changes(ctx: Context) -> list[RowChange]:
    """Open mismatches whose only differing axis is the row axis."""
    changes = []
    for pair in ctx.mismatches():
        have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
        if len(have) != len(want) or not have:
            continue
        axes = [i for i, (a, b) in enumerate(zip(have, want, strict=True)) if a != b]
        if len(axes) != 1:
            continue
        axis = axes[0]
        columns = axis == 1 and len(have) == 2
        if axis == 0 or (columns and (have[0] == 1 or _class_columns(pair.target, have, want))):
            changes.append(RowChange(pair, axis, have[axis], want[axis], ctx.position(pair.target)))
    return changes


def _class_columns(name: str, have: tuple[int, ...], want: tuple[int, ...]) -> bool:
    """Whether a class-named matrix holds one column per class.

    A zero-shot classifier's ``[dim, classes + 1]`` text embeddings: a known label set's
    count, or it plus background.
    """
    counts = (have[1], want[1], have[1] - 1, want[1] - 1)
    return is_class_worded(name) and bool(class_count(*counts))


def leaf_module(name: str) -> str:
    """The module a tensor belongs to, indices and PEFT's wrappers skipped.

    ``embed.0.weight`` and ``embed.modules_to_save.default.weight`` are both ``embed``'s.
    """
    lower = live_base_name(name).lower()
    modules = [part for part in lower.split(".")[:-1] if not part.isdigit()]
    return modules[-1] if modules else lower


def is_token_table(name: str) -> bool:
    """Tell a token (or symbol) embedding by its name: never a position, label or type table."""
    module = leaf_module(name)
    if any(word in module for word in (*_NOT_TOKEN_WORDS, *SETTING_TABLE_WORDS)):
        return False
    return any(word in module for word in _TOKEN_TABLE_WORDS) or module == "shared"


def label_rows(change: RowChange) -> bool:
    """Whether a row change reads as label sets, never a vocabulary.

    One side is a known dataset's class count, the other smaller (1000 against 2). Past
    :data:`MAX_LABELS` only the identity sets of face recognition count, row for row, and
    never a vocabulary's size.
    """
    small, large = sorted((change.have, change.want))
    if large > MAX_LABELS and knowledge.vocab_candidates(large):
        return False
    return bool(class_count(large)) and small < large


def labels_not_symbols(change: RowChange) -> bool:
    """Whether a token-named table's rows read as label sets all the same.

    BigGAN's ``shared`` class embedding of 1000 rows against 2; a symbol table of 150 rows
    against 149 is one symbol more, whatever dataset has 150 classes.
    """
    both_known = bool(class_count(change.have)) and bool(class_count(change.want))
    return label_rows(change) and (both_known or not symbols_apart(change))


def symbols_apart(change: RowChange) -> bool:
    """Whether two row counts differ by a symbol or two (a pad, an end mark), no more."""
    return abs(change.have - change.want) <= NEAR_SYMBOLS


NEAR_SYMBOLS = 2
"""Rows a token table gains or loses when symbols are added or dropped (a pad, an end mark)."""


MAX_LABELS = 30_000
"""Most classes a label set has (ImageNet-21k: 21843); more rows are a vocabulary."""


def class_count(*rows: int) -> list[str]:
    """Name the datasets whose class count is one of ``rows`` (a head, not a vocabulary)."""
    return [d.model for n in rows for d in knowledge.datasets_with_classes(n)]


CLASS_WORDS = ("class", "cls", "label", "logit", "categor", "tag")


def is_class_worded(name: str) -> bool:
    """Whether a tensor's name says it scores classes."""
    return any(word in name.lower() for word in CLASS_WORDS)
