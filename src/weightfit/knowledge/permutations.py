"""Known value permutations between layouts (``permutations.yaml``): RoPE rows.

Shapes cannot show that Meta's Llama and Hugging Face's Llama order the rows of
q and k differently inside each head. The table names the layout pairs known to
need it; :func:`permutation_for` gives the ``permute_rows`` arguments for one
tensor, and :func:`suspected_permutation` a warning where a checkpoint looks like
such a layout but the model type is not in the table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from weightfit.manifest import Manifest


@dataclass(frozen=True)
class Permutation:
    """A ``permute_rows`` for one tensor: its arguments and the table row's source."""

    args: dict[str, Any]
    reason: str


@dataclass(frozen=True)
class _Row:
    layout: str
    names: re.Pattern[str]
    model_types: frozenset[str]
    permutation: str
    heads: dict[str, str]
    source: str
    value_change: str = ""


@cache
def _rows() -> tuple[_Row, ...]:
    text = resources.files("weightfit.knowledge").joinpath("permutations.yaml").read_text("utf-8")
    return tuple(
        _Row(
            layout=row["layout"],
            names=re.compile(row["names"]),
            model_types=frozenset(row["model_types"]),
            permutation=row.get("permutation", ""),
            heads=dict(row.get("heads") or {}),
            source=row["source"],
            value_change=row.get("value_change", ""),
        )
        for row in yaml.safe_load(text)
    )


def permutation_for(source: str, target: str, model: Manifest) -> Permutation | None:
    """The known row permutation turning checkpoint tensor ``source`` into model tensor ``target``.

    ``None`` when no table row covers the checkpoint name and the model's type,
    or the model's config lacks the head count.
    """
    config = model.config or {}
    for row in _rows():
        if row.value_change:
            continue
        match = row.names.fullmatch(source)
        if match is not None and row.permutation == "blocks_to_heads":
            field = row.heads.get(match.group(1), "num_attention_heads")
            heads = config.get(field) or config.get("num_attention_heads")
            if config.get("model_type") in row.model_types and isinstance(heads, int):
                reason = f"fused q, k, v per head: {row.layout} ({row.source})"
                return Permutation({"heads": heads, "layout": row.permutation}, reason)
            continue
        if match is None or config.get("model_type") not in row.model_types:
            continue
        field = row.heads.get(match.group(1), "num_attention_heads")
        heads = config.get(field) or config.get("num_attention_heads")
        if not isinstance(heads, int) or isinstance(heads, bool):
            return None
        return Permutation(
            {"heads": heads, "layout": row.permutation},
            f"RoPE rows: {row.layout} → {config.get('model_type')} ({row.source})",
        )
    return None


FUSED_QKV_WARNING = (
    "a fused q, k, v tensor maps between two naming schemes: some keep the three blocks "
    "apart ([q; k; v]), others interleave them per head (BLOOM, GPT-NeoX); compare outputs "
    "before trusting these values"
)
"""The warning for a fused q, k, v tensor renamed between schemes with no known row."""


def suspected_permutation(source: str, target: str) -> str | None:
    """A warning when ``source`` is named like a layout that needs a permutation in known pairs."""
    for row in _rows():
        if row.permutation and row.names.fullmatch(source):
            return (
                f"{row.layout} q/k rows are ordered for another RoPE layout in the known pairs "
                f"({', '.join(sorted(row.model_types))}); this model type is not among them: "
                "compare outputs before trusting these values"
            )
    return None


def value_change_for(source: str, model: Manifest) -> str | None:
    """Why checkpoint tensor ``source`` holds other values than the model's tensor, if known.

    A known layout that stores values changed (GGUF's Gemma norms, plus 1): no
    exact op makes the model's values, so they must not be written as they are.
    """
    model_type = (model.config or {}).get("model_type")
    for row in _rows():
        if row.value_change and model_type in row.model_types and row.names.fullmatch(source):
            return f"{row.layout}: {row.value_change} ({row.source})"
    return None
