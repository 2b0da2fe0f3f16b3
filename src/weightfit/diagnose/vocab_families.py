"""Text rules on token tables whose rows are a known vocabulary (``knowledge/vocab_sizes.yaml``).

- ``tokenizer_families``: two token tables that are two different known vocabularies;
- ``vocab_shards``: a table holding exactly 1/k of a known vocabulary's rows (k = 2, 4, 8):
  one rank's piece of a tensor-parallel save (Megatron / DeepSpeed ``mp_rank_0k``), whose
  vocabulary-parallel embedding splits the rows (``partitioned``).

On ``tokenizer_families``:

``vocab_resize`` reads a few rows more or less as tokens added or padded. When both row
counts are *exactly* the vocabulary of a known tokenizer (``knowledge/vocab_sizes.yaml``),
the two families share none, and the sizes are far apart (32000 Llama 2 against 128256
Llama 3, 50265 RoBERTa against 30522 BERT), no one added tokens: the checkpoint is of
another model (``wrong_variant``), and resizing its embeddings would only hide that.
"""

from __future__ import annotations

from weightfit import knowledge
from weightfit.alignment import Pair
from weightfit.diagnose import _known
from weightfit.diagnose._context import Context, shape_text
from weightfit.findings import Finding
from weightfit.tree import stack_of

TOKEN_WORDS = ("embed", "wte", "tok", "word", "vocab", "shared", "lm_head", "embed_out", "output")
"""Module words of token tables and the output heads that share their rows."""

NOT_TOKEN_WORDS = ("pos", "label", "class", "type", "patch", "segment", "rel")
"""Module words of tables whose rows are not tokens."""


def tokenizer_families(ctx: Context) -> None:
    """Report token tables whose two row counts are the vocabularies of unrelated tokenizers."""
    if not ctx.partial:
        return
    found: list[tuple[Pair, list[str], list[str]]] = []
    for pair in ctx.mismatches():
        have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
        if len(have) != len(want) or not have or have[1:] != want[1:] or have[0] == want[0]:
            continue
        if stack_of(pair.target) is not None or not _token_table(pair.target):
            continue
        if abs(have[0] - want[0]) <= _known.NEAR_VOCAB:
            continue  # a few tokens added or padded: vocab_resize reads it
        ours, theirs = _families(have[0]), _families(want[0])
        if ours and theirs and not set(ours) & set(theirs):
            found.append((pair, ours, theirs))
    if not found:
        return
    first, have_families, want_families = found[0]
    have, want = ctx.src(first).shape, ctx.tgt(first).shape
    ctx.add(
        Finding(
            category="wrong_variant",
            severity="error",
            message=(
                f"{first.target} has {have[0]} rows in the checkpoint, the vocabulary of "
                f"{' / '.join(have_families)}, and {want[0]} in the model, the vocabulary of "
                f"{' / '.join(want_families)}: two different tokenizers, so the checkpoint is "
                "of another model (family or generation), not this one with tokens added"
            ),
            params=[pair.source for pair, _, _ in found],
            evidence={
                "checkpoint": shape_text(have),
                "model": shape_text(want),
                "checkpoint_vocabulary": have_families,
                "model_vocabulary": want_families,
            },
            confidence=0.7,
            fix_note=(
                "load the checkpoint into the model (and tokenizer) it was trained as, or pick "
                "a checkpoint of this model; resizing the embeddings would not make them match"
            ),
        )
    )
    ctx.consume(pairs=[pair for pair, _, _ in found])


def _token_table(name: str) -> bool:
    """Whether a tensor's module reads as a token table or an output head over tokens."""
    module = name.lower().rsplit(".", 2)[-2] if "." in name else name.lower()
    if any(word in module for word in NOT_TOKEN_WORDS):
        return False
    return any(word in module for word in TOKEN_WORDS)


def _families(rows: int) -> list[str]:
    """The tokenizer families whose vocabulary is exactly ``rows``."""
    return list(dict.fromkeys(row.family for row in knowledge.vocab_candidates(rows)))


TENSOR_PARALLEL = (2, 4, 8)
"""Tensor-parallel degrees a vocabulary-parallel embedding splits its rows by."""


def vocab_shards(ctx: Context) -> None:
    """Report token rows that are exactly 1/k of a vocabulary: a tensor-parallel shard."""
    if not ctx.partial:
        return
    found: list[tuple[Pair, int, int]] = []
    for pair in ctx.mismatches():
        have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
        if len(have) != len(want) or len(have) != 2 or have[1:] != want[1:]:
            continue
        small, whole = sorted((have[0], want[0]))
        parts = whole // small if small and whole % small == 0 else 0
        # A power of two is a width as often as a vocabulary (32768 is Mistral's and 16 x
        # 2048 image tokens): only a token table's or head's rows say which.
        round_number = whole & (whole - 1) == 0
        if round_number and not _token_table(pair.target):
            continue
        # A known vocabulary split, or a token table's rows (a vocabulary's many, not a
        # prefix's or codebook's few) split exactly: no tokenizer loses exactly half of them.
        split_table = _token_table(pair.target) and whole >= _known.MIN_VOCAB_ROWS
        if parts in TENSOR_PARALLEL and (_families(whole) or split_table):
            found.append((pair, parts, whole))
    if not found:
        return
    first, parts, whole = found[0]
    have, want = ctx.src(first).shape, ctx.tgt(first).shape
    sharded = "checkpoint" if have[0] < want[0] else "model"
    families = _families(whole)
    known = f"{whole} is the vocabulary of {' / '.join(families)}, and " if families else ""
    ctx.add(
        Finding(
            category="partitioned",
            severity="error",
            message=(
                f"{first.target} has {have[0]} rows in the checkpoint and {want[0]} in the "
                f"model: {known}the {sharded} holds exactly 1/{parts} of {whole} token rows, "
                f"one rank's piece of a tensor-parallel ({parts}-way) save"
            ),
            params=[pair.source for pair, _, _ in found],
            evidence={"tensor_parallel": parts, "vocabulary": whole, "sharded_side": sharded},
            confidence=0.65 if families else 0.5,
            fix_note=(
                f"merge the {parts} model-parallel shards into one checkpoint (the framework's "
                "own merge script), or build the model with the same tensor-parallel size"
            ),
        )
    )
    ctx.consume(pairs=[pair for pair, _, _ in found])
