"""Rules of the ``text`` profile over the tensors a loading message names.

A pasted error gives partial manifests (``explain``): names without shapes on
one side, and LoRA halves that the alignment cannot read. ``guessed_renames``
runs first and leaves names the text gives without shapes unpaired (a rename
would rest on name similarity alone; ``weightfit check`` can pair them);
``lora_halves`` reads the LoRA tensors the parser set aside
(``facts["lora_halves"]``: name to (checkpoint shape, model shape), and
``facts["model"]``): another rank, or another base model's width (an embedding's
``lora_embedding_A`` alone reading other token rows: a base whose vocabulary was resized).
"""

from __future__ import annotations

import dataclasses
import re

from weightfit.diagnose._context import Context
from weightfit.findings import Finding
from weightfit.knowledge import width_labels
from weightfit.manifest import UNKNOWN_DTYPE, counted

_DOWN = re.compile(r"lora_A|lora_down|lora\.down|lora_embedding_A")
_UP = re.compile(r"lora_B|lora_up|lora\.up|lora_embedding_B")
_TOKEN_ROWS = re.compile(r"lora_embedding_A")
"""The LoRA half of an embedding whose base axis counts the table's rows: ``[r, tokens]``."""

Shapes = tuple[tuple[int, ...], tuple[int, ...]]


def is_adapter_tensor(name: str) -> bool:
    """Whether a tensor name is one half of a LoRA pair."""
    return bool(_DOWN.search(name) or _UP.search(name))


def guessed_renames(ctx: Context) -> None:
    """Undo renames between names the text gives without shapes (no finding)."""
    alignment = ctx.alignment
    source, target = alignment.source.tensors, alignment.target.tensors
    guessed = [
        p
        for p in alignment.pairs
        if p.via == "rename"
        and source[p.source].dtype == UNKNOWN_DTYPE
        and target[p.target].dtype == UNKNOWN_DTYPE
    ]
    if not guessed:
        return
    undone = {p.source for p in guessed}, {p.target for p in guessed}
    ctx.realign(
        dataclasses.replace(
            alignment,
            pairs=[p for p in alignment.pairs if p.source not in undone[0]],
            renames=[],
            missing=[n for n in target if n in undone[1] or n in alignment.missing],
            unexpected=[n for n in source if n in undone[0] or n in alignment.unexpected],
        )
    )


def lora_halves(ctx: Context) -> None:
    """``lora_mismatch``: mismatched LoRA halves, another rank or another base's width.

    Only embeddings' token rows differing is ``vocab_resize`` (:func:`_token_rows`).
    """
    mismatched: dict[str, Shapes] = ctx.facts.get("lora_halves") or {}
    model: str = ctx.facts.get("model", "")
    rank: dict[str, tuple[int, int]] = {}
    width: dict[str, tuple[int, int]] = {}
    for name, (have, want) in mismatched.items():
        if len(have) != len(want) or len(have) < 2:
            continue
        rank_axis, base_axis = (0, 1) if _DOWN.search(name) else (1, 0)
        if have[rank_axis] != want[rank_axis]:
            rank[name] = (have[rank_axis], want[rank_axis])
        if have[base_axis] != want[base_axis]:
            width[name] = (have[base_axis], want[base_axis])
    if rank:
        ranks = sorted(set(rank.values()))
        have_r, want_r = ranks[0]
        ctx.add(
            Finding(
                category="lora_mismatch",
                severity="error",
                message=(
                    f"adapter rank differs: r={have_r} in the checkpoint, r={want_r} in the "
                    f"adapter the model was set up with ({counted(len(rank), 'tensor')})"
                ),
                params=list(rank),
                evidence={
                    "model": model,
                    "checkpoint_rank": have_r,
                    "model_rank": want_r,
                    "ranks": [list(r) for r in ranks],
                    "count": len(rank),
                },
                confidence=0.9,
                fix_note=(
                    f"set r={have_r} (and the same lora_alpha) in the LoraConfig, or load with "
                    "PeftModel.from_pretrained, which reads the adapter's own config"
                ),
            )
        )
    if width and all(_TOKEN_ROWS.search(name) for name in width):
        _token_rows(ctx, model, width)
    elif width:
        sizes = sorted(set(width.values()))
        have_w, want_w = sizes[0]
        labels = width_labels(have_w)
        ctx.add(
            Finding(
                category="lora_mismatch",
                severity="error",
                message=(
                    f"adapter made for another base model: its layers are {have_w} wide, this "
                    f"base's are {want_w} ({counted(len(width), 'tensor')})"
                    + (f"; {have_w} = {', '.join(labels[:2])}" if labels else "")
                ),
                params=list(width),
                evidence={
                    "model": model,
                    "checkpoint_width": have_w,
                    "model_width": want_w,
                    "checkpoint_width_matches": labels,
                    "widths": [list(w) for w in sizes],
                    "count": len(width),
                },
                confidence=0.85,
                fix_note="not shape-repairable: load the adapter onto the base it was trained for",
            )
        )


def _token_rows(ctx: Context, model: str, rows: dict[str, tuple[int, int]]) -> None:
    """``vocab_resize``: an embedding's LoRA made for a table of another row count.

    Every other layer is as wide as the base's: the base's vocabulary was resized before
    the adapter was trained on it.
    """
    have, want = sorted(set(rows.values()))[0]
    ctx.add(
        Finding(
            category="vocab_resize",
            severity="error",
            message=(
                f"the adapter's embedding LoRA reads {have} token rows, this base's embedding "
                f"has {want} ({len(rows)} tensor(s)): the adapter was trained on a base whose "
                "vocabulary was resized (tokens added)"
            ),
            params=list(rows),
            evidence={"model": model, "checkpoint_rows": have, "model_rows": want},
            confidence=0.8,
            fix_note=(
                f"resize the base's token embeddings to {have} rows "
                f"(model.resize_token_embeddings({have})) before loading the adapter"
            ),
        )
    )
