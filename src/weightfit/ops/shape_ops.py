"""The exact shape ops, and the exact ops for layouts of other codebases.

``unsqueeze``, ``squeeze``, ``reshape``, ``transpose``, ``split``, ``concat``; ``stack``,
``unstack``, ``copy`` and ``permute_rows`` (stacked experts, rows by head). Each keeps every
value; some move them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from weightfit.ops.context import OpContext, axis
from weightfit.ops.recipes import Recipe, ValueFn

if TYPE_CHECKING:
    import torch


def unsqueeze(ctx: OpContext) -> None:
    """Insert an axis of size 1 at ``dim``."""
    name = ctx.arg("name", str)
    shape = ctx.recipe(name).spec.shape
    dim = axis(ctx, ctx.arg("dim", int), len(shape) + 1)
    ctx.replace_one(name, (*shape[:dim], 1, *shape[dim:]), None)


def squeeze(ctx: OpContext) -> None:
    """Remove the axis ``dim``, which must have size 1."""
    name = ctx.arg("name", str)
    shape = ctx.recipe(name).spec.shape
    dim = axis(ctx, ctx.arg("dim", int), len(shape))
    if shape[dim] != 1:
        raise ctx.fail(f"{name}: axis {dim} has size {shape[dim]}, not 1")
    ctx.replace_one(name, shape[:dim] + shape[dim + 1 :], None)


def reshape(ctx: OpContext) -> None:
    """Give a tensor another shape of the same element count (one ``-1`` inferred)."""
    name = ctx.arg("name", str)
    old = ctx.recipe(name).spec.shape
    shape = list(ctx.ints("shape"))
    if shape.count(-1) == 1:
        known = math.prod(s for s in shape if s != -1)
        if known and math.prod(old) % known == 0:
            shape[shape.index(-1)] = math.prod(old) // known
    if any(s < 0 for s in shape) or math.prod(shape) != math.prod(old):
        raise ctx.fail(f"{name}: cannot reshape {list(old)} to {list(ctx.ints('shape'))}")
    ctx.replace_one(name, tuple(shape), None)


def transpose(ctx: OpContext) -> None:
    """Permute a tensor's axes (``dims``; a matrix's two by default), stored contiguous."""
    name = ctx.arg("name", str)
    shape = ctx.recipe(name).spec.shape
    dims = ctx.ints("dims", (1, 0) if len(shape) == 2 else ...)
    if sorted(d % len(shape) if len(shape) else d for d in dims) != list(range(len(shape))):
        raise ctx.fail(f"{name}: dims {list(dims)} are not a permutation of {len(shape)} axes")
    dims = tuple(d % len(shape) for d in dims)

    def fn(values: list[torch.Tensor]) -> torch.Tensor:
        return values[0].permute(dims).contiguous()

    ctx.replace_one(name, tuple(shape[d] for d in dims), fn)


def split(ctx: OpContext) -> None:
    """Split one tensor along ``dim`` into named parts of the given ``sizes``."""
    name = ctx.arg("name", str)
    parent = ctx.recipe(name)
    into, sizes = ctx.arg("into", list), ctx.ints("sizes")
    shape = parent.spec.shape
    dim = axis(ctx, ctx.arg("dim", int, 0), len(shape))
    if len(into) != len(sizes) or not all(isinstance(n, str) for n in into):
        raise ctx.fail("'into' and 'sizes' must be lists of the same length")
    if sum(sizes) != shape[dim] or any(s <= 0 for s in sizes):
        raise ctx.fail(f"{name}: sizes {list(sizes)} do not add up to axis {dim} ({shape[dim]})")
    clash = [n for n in into if n in ctx.state.recipes and n != name]
    if clash or len(set(into)) != len(into):
        raise ctx.fail(f"split would create a name that exists: {(clash or into)[0]!r}")
    ctx.computable(parent)
    parts, start = {}, 0
    for part, size in zip(into, sizes, strict=True):
        spec = replace(parent.spec, name=part, shape=(*shape[:dim], size, *shape[dim + 1 :]))
        ops = (*parent.ops, "split")
        parts[part] = Recipe(spec=spec, inputs=(parent,), fn=_narrow(dim, start, size), ops=ops)
        start += size
    ctx.state.recipes = _splice(ctx.state.recipes, [name], parts)


def _narrow(dim: int, start: int, size: int) -> ValueFn:
    def fn(values: list[torch.Tensor]) -> torch.Tensor:
        return values[0].narrow(dim, start, size).contiguous()

    return fn


def concat(ctx: OpContext) -> None:
    """Concatenate named tensors along ``dim`` into one, where the first part was."""
    names, into = ctx.arg("names", list), ctx.arg("into", str)
    if len(names) < 2 or not all(isinstance(n, str) for n in names):
        raise ctx.fail("'names' must list at least two tensors")
    parts = [ctx.recipe(n) for n in names]
    first = parts[0].spec
    dim = axis(ctx, ctx.arg("dim", int, 0), len(first.shape))
    for part in parts:
        other = part.spec
        same_rest = len(other.shape) == len(first.shape) and all(
            a == b
            for i, (a, b) in enumerate(zip(other.shape, first.shape, strict=True))
            if i != dim
        )
        if not same_rest or other.dtype != first.dtype:
            raise ctx.fail(
                f"{other.name} {other.dtype}{list(other.shape)} does not concatenate with "
                f"{first.name} {first.dtype}{list(first.shape)} on axis {dim}"
            )
        ctx.computable(part)
    if into in ctx.state.recipes and into not in names:
        raise ctx.fail(f"concat would create a name that exists: {into!r}")
    size = sum(p.spec.shape[dim] for p in parts)
    spec = replace(first, name=into, shape=(*first.shape[:dim], size, *first.shape[dim + 1 :]))

    def fn(values: list[torch.Tensor]) -> torch.Tensor:
        import torch

        return torch.cat(values, dim=dim)

    ops = (*(kind for part in parts for kind in part.ops), "concat")
    merged = Recipe(spec=spec, inputs=tuple(parts), fn=fn, ops=ops)
    ctx.state.recipes = _splice(ctx.state.recipes, names, {into: merged})


def _splice(
    recipes: dict[str, Recipe], remove: Sequence[str], insert: dict[str, Recipe]
) -> dict[str, Recipe]:
    """``recipes`` without ``remove``, with ``insert`` where the first removed one was."""
    result: dict[str, Recipe] = {}
    first, removed = remove[0], set(remove)
    for name, recipe in recipes.items():
        if name == first:
            result.update(insert)
        elif name not in removed:
            result[name] = recipe
    return result


# --- exact ops for layouts of other codebases (stacked experts, rows by head) ---


def stack(ctx: OpContext) -> None:
    """Stack tensors of one shape and dtype along a new axis ``dim``, where the first was."""
    names, into = ctx.arg("names", list), ctx.arg("into", str)
    if not names or not all(isinstance(n, str) for n in names):
        raise ctx.fail("'names' must list at least one tensor")
    parts = [ctx.recipe(n) for n in names]
    first = parts[0].spec
    dim = axis(ctx, ctx.arg("dim", int, 0), len(first.shape) + 1)
    for part in parts:
        if part.spec.shape != first.shape or part.spec.dtype != first.dtype:
            raise ctx.fail(
                f"{part.spec.name} {part.spec.dtype}{list(part.spec.shape)} does not stack with "
                f"{first.name} {first.dtype}{list(first.shape)}"
            )
        ctx.computable(part)
    if into in ctx.state.recipes and into not in names:
        raise ctx.fail(f"stack would create a name that exists: {into!r}")
    shape = (*first.shape[:dim], len(parts), *first.shape[dim:])

    def fn(values: list[torch.Tensor]) -> torch.Tensor:
        import torch

        return torch.stack(values, dim=dim)

    ops = (*(kind for part in parts for kind in part.ops), "stack")
    merged = Recipe(
        spec=replace(first, name=into, shape=shape), inputs=tuple(parts), fn=fn, ops=ops
    )
    ctx.state.recipes = _splice(ctx.state.recipes, names, {into: merged})


def unstack(ctx: OpContext) -> None:
    """Split a tensor along ``dim`` into one named tensor per entry, without the axis."""
    name, into = ctx.arg("name", str), ctx.arg("into", list)
    parent = ctx.recipe(name)
    shape = parent.spec.shape
    dim = axis(ctx, ctx.arg("dim", int, 0), len(shape))
    if len(into) != shape[dim] or not all(isinstance(n, str) for n in into):
        raise ctx.fail(f"{name}: 'into' must name {shape[dim]} tensors (axis {dim})")
    clash = [n for n in into if n in ctx.state.recipes and n != name]
    if clash or len(set(into)) != len(into):
        raise ctx.fail(f"unstack would create a name that exists: {(clash or into)[0]!r}")
    ctx.computable(parent)
    rest = (*shape[:dim], *shape[dim + 1 :])
    parts = {
        part: Recipe(
            spec=replace(parent.spec, name=part, shape=rest),
            inputs=(parent,),
            fn=_select_index(dim, index),
            ops=(*parent.ops, "unstack"),
        )
        for index, part in enumerate(into)
    }
    ctx.state.recipes = _splice(ctx.state.recipes, [name], parts)


def _select_index(dim: int, index: int) -> ValueFn:
    def fn(values: list[torch.Tensor]) -> torch.Tensor:
        return values[0].select(dim, index).contiguous()

    return fn


def copy(ctx: OpContext) -> None:
    """The same bytes under more names: one shared module copied into every block."""
    name, into = ctx.arg("name", str), ctx.arg("into", list)
    original = ctx.recipe(name)
    if not into or not all(isinstance(n, str) for n in into) or len(set(into)) != len(into):
        raise ctx.fail("'into' must list distinct new names")
    clash = [n for n in into if n in ctx.state.recipes]
    if clash:
        raise ctx.fail(f"copy would create a name that exists: {clash[0]!r}")
    copies = {name: original}
    for new in into:
        copies[new] = replace(original, spec=replace(original.spec, name=new))
    ctx.state.recipes = _splice(ctx.state.recipes, [name], copies)


ROW_LAYOUTS = (
    "interleaved_to_halves",
    "halves_to_interleaved",
    "blocks_to_heads",
    "heads_to_blocks",
)
"""The row orders ``permute_rows`` converts between (see :func:`weightfit.values.rows_permuted`)."""


def permute_rows(ctx: OpContext) -> None:
    """Reorder rows by head: RoPE layouts (Meta ↔ HF Llama), fused q, k, v per head or in blocks."""
    name = ctx.arg("name", str)
    shape = ctx.recipe(name).spec.shape
    heads, layout = ctx.arg("heads", int), ctx.arg("layout", str)
    if layout not in ROW_LAYOUTS:
        raise ctx.fail(f"layout must be one of {', '.join(ROW_LAYOUTS)}, not {layout!r}")
    parts = 3 if layout in ("blocks_to_heads", "heads_to_blocks") else 2
    if not shape or heads < 1 or shape[0] % (parts * heads):
        raise ctx.fail(f"{name}: {shape[0] if shape else 0} rows do not split into {heads} heads")
    permuted = ctx.values()

    def fn(values: list[torch.Tensor]) -> torch.Tensor:
        return permuted(values[0], heads, layout)

    ctx.replace_one(name, shape, fn)
