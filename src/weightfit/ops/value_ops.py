"""The value ops, which make new values and need review (``cast`` exact when widening).

``inflate`` (exact at size 1), ``pad_rows``, ``truncate_rows``, ``copy_overlap``,
``resample_pos_embed`` and ``cast``; their arithmetic is in :mod:`weightfit.values`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from weightfit import dtypes
from weightfit.ops.context import UNWRITABLE, OpContext, Safety, axis
from weightfit.ops.recipes import ValueFn

if TYPE_CHECKING:
    import torch


def inflate(ctx: OpContext) -> None:
    """Insert an axis of ``size`` at ``dim``, centred or spread (``mode``) over it."""
    name = ctx.arg("name", str)
    shape = ctx.recipe(name).spec.shape
    dim = axis(ctx, ctx.arg("dim", int), len(shape) + 1)
    size, mode = ctx.arg("size", int), ctx.arg("mode", str, "center")
    if size < 1:
        raise ctx.fail(f"size must be at least 1, not {size}")
    if mode not in ("center", "mean"):
        raise ctx.fail(f"mode must be 'center' or 'mean', not {mode!r}")
    new_shape = (*shape[:dim], size, *shape[dim:])
    if size == 1:
        ctx.replace_one(name, new_shape, None)
        return

    inflated = ctx.values()

    def fn(values: list[torch.Tensor]) -> torch.Tensor:
        return inflated(values[0], dim, size, mode)

    ctx.replace_one(name, new_shape, fn)


def pad_rows(ctx: OpContext) -> None:
    """Append rows (``mean`` or ``zeros``) up to ``rows`` or a multiple of rows."""
    name = ctx.arg("name", str)
    shape = ctx.recipe(name).spec.shape
    if not shape:
        raise ctx.fail(f"{name} is a scalar; it has no rows")
    rows = ctx.arg("rows", int, shape[0])
    multiple = ctx.arg("pad_to_multiple_of", int, 1)
    init, seed = ctx.arg("init", str, "mean"), ctx.arg("seed", int, 0)
    if multiple < 1:
        raise ctx.fail(f"pad_to_multiple_of must be at least 1, not {multiple}")
    rows = -(-rows // multiple) * multiple
    if rows < shape[0]:
        raise ctx.fail(f"{name} has {shape[0]} rows; pad_rows cannot shrink it to {rows}")
    if init not in ("mean", "zeros"):
        raise ctx.fail(f"init must be 'mean' or 'zeros', not {init!r}")
    if rows == shape[0]:
        return

    padded = ctx.values()

    def fn(values: list[torch.Tensor]) -> torch.Tensor:
        return padded(values[0], rows, init, seed)

    ctx.replace_one(name, (rows, *shape[1:]), fn)


def truncate_rows(ctx: OpContext) -> None:
    """Keep the first ``rows`` rows (axis 0)."""
    name = ctx.arg("name", str)
    shape = ctx.recipe(name).spec.shape
    rows = ctx.arg("rows", int)
    if not shape or not 0 <= rows < shape[0]:
        raise ctx.fail(f"{name}: cannot truncate {list(shape)} to {rows} rows")

    def fn(values: list[torch.Tensor]) -> torch.Tensor:
        return values[0][:rows].contiguous()

    ctx.replace_one(name, (rows, *shape[1:]), fn)


def copy_overlap(ctx: OpContext) -> None:
    """Make a tensor of another ``shape`` of the same rank, its overlap copied."""
    name = ctx.arg("name", str)
    old = ctx.recipe(name).spec.shape
    shape = ctx.ints("shape")
    init, std = ctx.arg("init", str, "zeros"), ctx.arg("std", (int, float), 0.02)
    seed = ctx.arg("seed", int, 0)
    if len(shape) != len(old) or any(s < 0 for s in shape):
        raise ctx.fail(f"{name}: shape {list(shape)} must have the rank of {list(old)}")
    if init not in ("zeros", "normal"):
        raise ctx.fail(f"init must be 'zeros' or 'normal', not {init!r}")

    overlapped = ctx.values()

    def fn(values: list[torch.Tensor]) -> torch.Tensor:
        return overlapped(values[0], tuple(shape), init, float(std), seed)

    ctx.replace_one(name, tuple(shape), fn)


def resample_pos_embed(ctx: OpContext) -> None:
    """Resample a position embedding's grid of tokens to another grid size."""
    name = ctx.arg("name", str)
    shape = ctx.recipe(name).spec.shape
    old_grid, new_grid = ctx.ints("from_grid"), ctx.ints("to_grid")
    prefix, mode = ctx.arg("prefix_tokens", int, 0), ctx.arg("mode", str, "bicubic")
    if len(old_grid) != 2 or len(new_grid) != 2 or min(*old_grid, *new_grid) < 1:
        raise ctx.fail("from_grid and to_grid must be [height, width] of positive sizes")
    if mode not in ("bicubic", "bilinear"):
        raise ctx.fail(f"mode must be 'bicubic' or 'bilinear', not {mode!r}")
    batched = len(shape) == 3
    if len(shape) not in (2, 3) or (batched and shape[0] != 1):
        raise ctx.fail(f"{name}: expected [1, tokens, dim] or [tokens, dim], not {list(shape)}")
    tokens = shape[-2]
    if tokens != prefix + math.prod(old_grid):
        raise ctx.fail(
            f"{name} has {tokens} tokens, not {prefix} prefix + {old_grid[0]}×{old_grid[1]} grid"
        )
    new_tokens = prefix + math.prod(new_grid)
    new_shape = (1, new_tokens, shape[-1]) if batched else (new_tokens, shape[-1])

    resampled = ctx.values()

    def fn(values: list[torch.Tensor]) -> torch.Tensor:
        return resampled(values[0], old_grid, new_grid, prefix, mode, new_shape)

    ctx.replace_one(name, new_shape, fn)


DTYPE_ALIASES = {
    "bf16": "BF16",
    "fp16": "F16",
    "half": "F16",
    "fp32": "F32",
    "fp64": "F64",
    "fp8": "F8_E4M3",
}
"""Short dtype names people write in plans and on the command line."""


def dtype_named(name: str) -> dtypes.DType | None:
    """Return the known dtype for ``name``: canonical, torch spelling or an alias (``bf16``)."""
    return dtypes.lookup(DTYPE_ALIASES.get(name.lower(), name))


def cast(ctx: OpContext) -> None:
    """Cast floating-point tensors (all, or ``pattern``'s, or ``from``'s) to dtype ``to``."""
    target = dtype_named(ctx.arg("to", str))
    if target is None or target.name in UNWRITABLE or not target.is_float:
        raise ctx.fail(f"cannot cast to {ctx.op.args['to']!r}: not a floating-point dtype")
    source = ctx.arg("from", str, None)
    known_source = dtype_named(source) if source else None
    from_name = known_source.name if known_source else source
    pattern = ctx.regex("pattern") if "pattern" in ctx.op.args else None
    clamp = ctx.arg("clamp", bool, False)
    for name, recipe in list(ctx.state.recipes.items()):
        dtype = recipe.spec.dtype
        known = dtypes.lookup(dtype)
        if pattern is not None and not pattern.fullmatch(name):
            continue
        if from_name is not None and dtype != from_name:
            continue
        if from_name is None and (known is None or not known.is_float or known.kind == "complex"):
            continue
        if dtype == target.name:
            continue
        ctx.replace_one(
            name,
            recipe.spec.shape,
            _caster(ctx.values(), name, target.name, clamp),
            dtype=target.name,
        )


def _caster(cast: Callable[..., torch.Tensor], name: str, to_dtype: str, clamp: bool) -> ValueFn:
    def fn(values: list[torch.Tensor]) -> torch.Tensor:
        from weightfit.tensor_io import torch_dtype

        return cast(name, values[0], torch_dtype(to_dtype), clamp)

    return fn


LOSSLESS_CASTS = frozenset(
    {
        ("F16", "F32"),
        ("BF16", "F32"),
        ("F32", "F64"),
        ("F16", "F64"),
        ("BF16", "F64"),
        ("F8_E4M3", "F16"),
        ("F8_E4M3", "BF16"),
        ("F8_E4M3", "F32"),
        ("F8_E5M2", "F16"),
        ("F8_E5M2", "BF16"),
        ("F8_E5M2", "F32"),
    }
)
"""``(from, to)`` casts that keep every value: a ``cast`` naming one is exact."""


def cast_safety(args: Mapping[str, Any]) -> Safety:
    """A ``cast`` is exact when it widens (:data:`LOSSLESS_CASTS`)."""
    exact = (args.get("from"), args.get("to")) in LOSSLESS_CASTS
    return Safety.EXACT if exact else Safety.NEEDS_REVIEW


def inflate_safety(args: Mapping[str, Any]) -> Safety:
    """An ``inflate`` to size 1 is exact."""
    return Safety.EXACT if int(args.get("size", 1)) == 1 else Safety.NEEDS_REVIEW
