"""Shared steps of the ``test_explain_*`` files: a loading message written out, explained."""

from __future__ import annotations

import weightfit


def size_mismatch(name: str, have: list[int], want: list[int]) -> str:
    """One ``size mismatch`` sentence as ``load_state_dict`` words it (no indent, no newline)."""
    return (
        f"size mismatch for {name}: copying a param with shape torch.Size({have}) from "
        f"checkpoint, the shape in current model is torch.Size({want})."
    )


def top(text: str) -> weightfit.Finding:
    """The first-ranked finding of ``explain(text)``."""
    return weightfit.explain(text).findings[0]
