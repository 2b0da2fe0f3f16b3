"""The arithmetic of the plan ops that make new values (torch, imported when called).

:mod:`weightfit.ops` decides names and shapes and calls these to compute values;
each takes and returns CPU tensors. Arithmetic runs in float32 (float64 for the
covariance) and results are stored in the input's dtype. ``docs/plans.md``
describes each op.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from weightfit.errors import CastOverflow

if TYPE_CHECKING:
    import torch

MEAN_RESIZING_EPSILON = 1e-9
"""Covariance scale of new rows, as transformers' ``_init_added_embeddings_weights_with_mean``."""

MOMENT_BLOCK_ROWS = 4096
"""Rows summed at a time for a ``mean`` padding's mean and covariance."""


def inflated(value: torch.Tensor, dim: int, size: int, mode: str) -> torch.Tensor:
    """Insert an axis of ``size`` at ``dim`` as I3D inflates 2D kernels over time.

    ``center`` puts the kernel at index ``size // 2`` and zeros elsewhere;
    ``mean`` puts ``kernel / size`` at every index.
    """
    import torch

    shape = (*value.shape[:dim], size, *value.shape[dim:])
    if mode == "mean":
        return (value.float() / size).unsqueeze(dim).expand(shape).to(value.dtype).contiguous()
    result = torch.zeros(shape, dtype=value.dtype)
    result.select(dim, size // 2).copy_(value)
    return result


def padded(value: torch.Tensor, rows: int, init: str, seed: int) -> torch.Tensor:
    """Append rows to axis 0, keeping the originals bit for bit.

    ``init="mean"`` follows transformers' ``mean_resizing``: new rows are drawn
    from N(mean, 1e-9 × covariance) of the existing rows (seeded), or are the
    mean itself when that covariance is not positive definite.
    """
    import torch

    added = rows - value.shape[0]
    result = torch.zeros((rows, *value.shape[1:]), dtype=value.dtype)
    result[: value.shape[0]] = value
    if init == "zeros" or added == 0 or value.shape[0] == 0:
        return result
    old = value.reshape(value.shape[0], -1)
    mean, covariance = _moments(old)
    new = mean.expand(added, -1)
    if covariance is not None:
        try:
            factor = torch.linalg.cholesky(covariance.double().mul_(MEAN_RESIZING_EPSILON))
        except RuntimeError:
            factor = None
        if factor is not None:
            generator = torch.Generator().manual_seed(seed)
            noise = torch.randn(added, old.shape[1], generator=generator, dtype=torch.float64)
            new = (mean.double() + noise @ factor.T).float()
    result[value.shape[0] :] = new.reshape(added, *value.shape[1:]).to(value.dtype)
    return result


def _moments(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The rows' mean and covariance (``None`` for one row or one column), in float32.

    Summed over blocks of :data:`MOMENT_BLOCK_ROWS` rows, so memory holds one
    float32 block beside the ``[width, width]`` covariance, never a float32 copy
    of the whole table (a 128k-token vocabulary is gigabytes).
    """
    import torch

    count, width = rows.shape
    blocks = range(0, count, MOMENT_BLOCK_ROWS)
    total = torch.zeros(width, dtype=torch.float64)
    for start in blocks:
        total += rows[start : start + MOMENT_BLOCK_ROWS].double().sum(dim=0)
    mean = (total / count).float()
    if width == 1 or count == 1:
        return mean, None
    covariance = torch.zeros(width, width, dtype=torch.float32)
    for start in blocks:
        centred = rows[start : start + MOMENT_BLOCK_ROWS].float() - mean
        covariance.addmm_(centred.T, centred)
    return mean, covariance.div_(count)


def overlapped(
    value: torch.Tensor, shape: tuple[int, ...], init: str, std: float, seed: int
) -> torch.Tensor:
    """Make a tensor of ``shape`` (zeros or seeded N(0, std)) holding the overlapping corner."""
    import torch

    result = torch.zeros(shape, dtype=value.dtype)
    if init == "normal":
        generator = torch.Generator().manual_seed(seed)
        result.copy_((torch.randn(shape, generator=generator) * std).to(value.dtype))
    overlap = tuple(slice(0, min(a, b)) for a, b in zip(value.shape, shape, strict=True))
    result[overlap] = value[overlap]
    return result


def resampled(
    value: torch.Tensor,
    old_grid: tuple[int, ...],
    new_grid: tuple[int, ...],
    prefix: int,
    mode: str,
    new_shape: tuple[int, ...],
) -> torch.Tensor:
    """Interpolate grid tokens as timm's ``resample_abs_pos_embed``; prefix tokens kept."""
    import torch
    from torch.nn import functional

    flat = value.reshape(-1, value.shape[-1])
    if tuple(old_grid) == tuple(new_grid):
        return flat.reshape(new_shape).clone()
    head, grid = flat[:prefix], flat[prefix:]
    height, width = old_grid
    image = grid.float().reshape(1, height, width, -1).permute(0, 3, 1, 2)
    image = functional.interpolate(image, size=tuple(new_grid), mode=mode, align_corners=False)
    resized = image.permute(0, 2, 3, 1).reshape(-1, flat.shape[-1]).to(value.dtype)
    return torch.cat([head, resized]).reshape(new_shape)


def cast(name: str, value: torch.Tensor, new: torch.dtype, clamp: bool) -> torch.Tensor:
    """Cast ``value`` to ``new``; a narrowing cast checks the range first.

    Raises:
        CastOverflow: a finite value is beyond the largest ``new`` holds and
            ``clamp`` is false (``clamp`` saturates instead; infinities stay).

    """
    import torch

    if value.dtype.is_floating_point and torch.finfo(new).max < torch.finfo(value.dtype).max:
        value = _in_range(name, value, new, clamp)
    return value.to(new)


def _in_range(name: str, value: torch.Tensor, new: torch.dtype, clamp: bool) -> torch.Tensor:
    import torch

    from weightfit.dtypes import canonical

    limit = torch.finfo(new).max
    if value.numel() == 0:
        return value
    low, high = torch.aminmax(value)
    if -limit <= float(low) and float(high) <= limit:
        return value
    finite = value[torch.isfinite(value)]
    peak = float(finite.abs().max()) if finite.numel() else 0.0
    if peak <= limit:
        return value
    if clamp:
        return torch.where(torch.isfinite(value), value.clamp(-limit, limit), value)
    target = canonical(str(new))
    raise CastOverflow(
        f"{name}: |value| up to {peak:g} exceeds the largest {target} ({limit:g}); "
        "add 'clamp: true' to saturate"
    )


def rows_permuted(value: torch.Tensor, heads: int, layout: str) -> torch.Tensor:
    """Reorder rows between two layouts of the same heads (``permute_rows``).

    - ``interleaved_to_halves``: each head's rotary pairs on adjacent rows (Meta's
      Llama, GGUF) → the two halves of the pairs in two blocks (Hugging Face's),
      as transformers' GGUF loader ``_reverse_permute_weights``; ``halves_to_interleaved``
      the other way;
    - ``blocks_to_heads``: fused ``[q; k; v]`` → ``[q0 k0 v0 q1 k1 v1 …]`` per head
      (BLOOM), as transformers' ``BloomTensorProcessor``; ``heads_to_blocks`` back.
    """
    rest = value.shape[1:]
    rows = value.shape[0]
    if layout == "interleaved_to_halves":
        moved = value.reshape(heads, rows // heads // 2, 2, *rest).transpose(1, 2)
    elif layout == "halves_to_interleaved":
        moved = value.reshape(heads, 2, rows // heads // 2, *rest).transpose(1, 2)
    elif layout == "blocks_to_heads":
        moved = value.reshape(3, heads, rows // heads // 3, *rest).transpose(0, 1)
    else:
        moved = value.reshape(heads, 3, rows // heads // 3, *rest).transpose(0, 1)
    return moved.reshape(value.shape).contiguous()
