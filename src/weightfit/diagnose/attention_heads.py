"""The ``kv_heads`` rule: key/value projections of grouped-query attention.

Grouped-query attention (Llama 2 70B, Llama 3, Mistral, TinyLlama …) keeps
``num_key_value_heads`` heads for keys and values and more for queries, so its ``k_proj``
and ``v_proj`` have ``k`` times fewer rows than ``q_proj``. A model built with as many
key/value heads as query heads (a library version before GQA, or a config that omits
``num_key_value_heads``) asks for full ``k_proj``/``v_proj`` while everything else matches.
Between two whole models (``check``), the configs say how many key/value heads each keeps:
another ``num_key_value_heads``, which no tensor operation bridges.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from weightfit.alignment import Pair
from weightfit.diagnose._context import Context, shape_text
from weightfit.findings import Finding

KEY_VALUE = re.compile(r"(?:^|\.)(?:k_proj|v_proj|wk|wv|key_proj|value_proj)\.(?:weight|bias)$")
"""Self-attention key and value projections (LLM naming; cross-attention is not here)."""

QUERY = re.compile(r"(?:^|\.)(?:q_proj|wq|query_proj|o_proj|wo)\.(?:weight|bias)$")
"""Query and output projections: cut too in a tensor-parallel slice, never by GQA."""

KV_FIELD = re.compile(r"(?:key_value|kv)_heads|query_group")
"""Config fields counting key/value heads (``num_key_value_heads``, ``n_kv_heads``,
ChatGLM's ``multi_query_group_num``)."""


def kv_heads(ctx: Context) -> None:
    """Report key/value projections with a whole factor fewer rows, queries unchanged."""
    mismatches = ctx.mismatches()
    if any(QUERY.search(p.target) for p in mismatches):
        return  # queries cut as well: a tensor-parallel slice, not grouped heads
    pairs: list[Pair] = []
    factors: set[tuple[int, int]] = set()
    for pair in mismatches:
        have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
        if not KEY_VALUE.search(pair.target) or len(have) != len(want) or have[1:] != want[1:]:
            continue
        small, large = sorted((have[0], want[0]))
        if small and large % small == 0 and large // small >= 2:
            pairs.append(pair)
            factors.add((have[0], want[0]))
    if not pairs or len(factors) != 1 or len(pairs) != len(mismatches):
        return  # other layers differ too: another size of the model, not just its k/v heads
    have_rows, want_rows = factors.pop()
    if not ctx.partial:
        _report_configured(ctx, pairs, have_rows, want_rows)
        return
    grouped = "checkpoint" if have_rows < want_rows else "model"
    full = "model" if grouped == "checkpoint" else "checkpoint"
    first = pairs[0]
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"grouped-query attention: {first.target} has "
                f"{shape_text(ctx.src(first).shape)} in the checkpoint, "
                f"{shape_text(ctx.tgt(first).shape)} in the model — the {grouped} keeps "
                f"{max(have_rows, want_rows) // min(have_rows, want_rows)}x fewer key/value "
                f"heads, the {full} one per query head (a library version without "
                "grouped-query attention, or a config without num_key_value_heads)"
            ),
            params=[p.source for p in pairs],
            evidence={
                "checkpoint_rows": have_rows,
                "model_rows": want_rows,
                "grouped_side": grouped,
                "tensors": [p.target for p in pairs[:8]],
            },
            confidence=0.5,
            fix_note=(
                "build the model with the checkpoint's num_key_value_heads (a transformers "
                "version that reads it from the config); if q_proj was cut too, the file is "
                "one tensor-parallel rank's slice instead"
            ),
        )
    )
    ctx.consume(pairs=pairs)


def _heads(config: Mapping[str, Any] | None, rows: int) -> int | None:
    """Return how many heads of a config's ``head_dim`` make ``rows``, if it says."""
    config = config or {}
    width, heads = config.get("hidden_size"), config.get("num_attention_heads")
    size = config.get("head_dim") or (
        width // heads if isinstance(width, int) and isinstance(heads, int) and heads else None
    )
    return rows // size if isinstance(size, int) and size and rows % size == 0 else None


def _report_configured(ctx: Context, pairs: list[Pair], have_rows: int, want_rows: int) -> None:
    """Report two whole models that keep different numbers of key/value heads."""
    first = pairs[0]
    have, want = _heads(ctx.source.config, have_rows), _heads(ctx.target.config, want_rows)
    want = want or _heads(ctx.source.config, want_rows)
    have = have or _heads(ctx.target.config, have_rows)
    found = ctx.config_keys(want, have) if want and have else []
    configured = [key for key in found if KV_FIELD.search(key)]
    heads = f": {have} in the checkpoint, {want} in the model" if want and have else ""
    ctx.add(
        Finding(
            category="wrong_variant",
            severity="error",
            message=(
                f"another number of key/value heads (grouped-query attention){heads}: "
                f"{first.target} has {shape_text(ctx.src(first).shape)} in the checkpoint, "
                f"{shape_text(ctx.tgt(first).shape)} in the model; queries agree"
            ),
            params=[p.source for p in pairs],
            evidence={
                "checkpoint_rows": have_rows,
                "model_rows": want_rows,
                "checkpoint_kv_heads": have,
                "model_kv_heads": want,
                "tensors": [p.target for p in pairs[:8]],
            },
            confidence=0.9 if configured else 0.7,
            fix_note=(
                "no tensor operation makes key/value heads: build the model with the "
                f"checkpoint's {configured[0] if configured else 'num_key_value_heads'}"
                + (f"={have}" if have else "")
            ),
        )
    )
    ctx.consume(pairs=pairs)
