"""Tagged values: every element of every tensor a distinct number, so a converted tensor
shows exactly which source elements it was made of."""

from __future__ import annotations

import math

import torch


def tagged(shapes: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """Return float32 tensors of these shapes numbered 0, 1, 2 … across all of them, in order."""
    values, start = {}, 0
    for name, shape in shapes.items():
        count = math.prod(shape)
        values[name] = torch.arange(start, start + count, dtype=torch.float32).reshape(shape)
        start += count
    return values
