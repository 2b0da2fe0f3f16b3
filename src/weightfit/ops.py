"""The one registry of plan operations, and what each one means on names and on values.

Each op is declared once, by an :class:`OpSpec` row in :data:`REGISTRY`: its
argument schema, its safety, its shape function and the arithmetic its values
stream through. Everything else follows from the row: the kinds a plan file may
name (``plan.OpKind``, :meth:`weightfit.plan.Plan.from_dict`), each op's
:class:`Safety` (``Op.safety``), and the dispatch of :func:`run`; the schema's
op enum (``report/check.schema.json``) and ``docs/plans.md`` are kept equal to
it by ``tests/test_plan_ops.py``.

Running a plan over a :class:`~weightfit.manifest.Manifest` (no tensor data, no
torch) gives, for every output tensor, a :class:`Recipe`: the spec it will be
written with, and how its value is made from source tensors. That is the dry run
(:func:`predict`); :mod:`weightfit.apply` and :mod:`weightfit.load` evaluate the
recipes tensor by tensor. This module knows plans only through :class:`OpLike`
and :class:`PlanLike`, so that :mod:`weightfit.plan` can derive its kinds from it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from weightfit import dtypes
from weightfit import values as compute
from weightfit.errors import InvalidPlan, UnsupportedTensor
from weightfit.manifest import Manifest, TensorSpec

if TYPE_CHECKING:
    import torch

ValueFn = Callable[[list["torch.Tensor"]], "torch.Tensor"]
"""Makes a tensor's value from its inputs' values (torch is imported inside)."""

_PLACEHOLDER = re.compile(r"\\\{([ijk])\\\}")
_UNWRITABLE = frozenset({"F4", "F6_E2M3", "F6_E3M2"})
"""Packed sub-byte dtypes: bytes can be copied, but torch cannot compute on them."""


class Safety(StrEnum):
    """Whether an operation keeps every value exactly or needs a person's review."""

    EXACT = "exact"
    NEEDS_REVIEW = "needs-review"


class OpLike(Protocol):
    """What :func:`run` reads of an op (:class:`weightfit.plan.Op`)."""

    @property
    def kind(self) -> str: ...  # noqa: D102

    @property
    def args(self) -> dict[str, Any]: ...  # noqa: D102


class PlanLike(Protocol):
    """What :func:`run` reads of a plan (:class:`weightfit.plan.Plan`)."""

    @property
    def ops(self) -> Sequence[OpLike]: ...  # noqa: D102


@dataclass(frozen=True)
class Recipe:
    """How one output tensor is made.

    Attributes:
        spec: Name, shape and dtype it is written with (``location`` is ``None``).
        source: For a tensor whose bytes are a source tensor's bytes unchanged
            (renamed, reshaped, unsqueezed), that source tensor; else ``None``.
        inputs: The recipes whose values ``fn`` combines, when ``source`` is ``None``.
        fn: Computes the value from the inputs' values.
        ops: Kinds of the ops that changed its shape or values, in order (renames
            are not counted): what ``load_into`` reports as *adapted*.

    """

    spec: TensorSpec
    source: TensorSpec | None = None
    inputs: tuple[Recipe, ...] = ()
    fn: ValueFn | None = field(default=None, compare=False)
    ops: tuple[str, ...] = ()

    @property
    def copyable(self) -> bool:
        """Whether the output bytes are one contiguous source byte range, copied as is."""
        source = self.source
        return (
            source is not None
            and source.location is not None
            and source.is_contiguous
            and source.location.length == source.nbytes
        )

    def leaves(self) -> Iterator[TensorSpec]:
        """Every source tensor this one is made from."""
        if self.source is not None:
            yield self.source
        for recipe in self.inputs:
            yield from recipe.leaves()

    def evaluate(self, read: Callable[[TensorSpec], torch.Tensor]) -> torch.Tensor:
        """Compute the value, reading source tensors with ``read`` (contiguous, CPU)."""
        if self.source is not None:
            return read(self.source).reshape(self.spec.shape)
        assert self.fn is not None
        return self.fn([recipe.evaluate(read) for recipe in self.inputs]).reshape(self.spec.shape)


@dataclass
class Outcome:
    """A plan run over a manifest: the output tensors and what was left out.

    Attributes:
        recipes: Output name to :class:`Recipe`, in output order.
        reinit: Names left to the model's own initialisation (parameters to train).
        source: The manifest the plan ran over.

    """

    recipes: dict[str, Recipe]
    reinit: list[str]
    source: Manifest

    @property
    def left_out(self) -> list[str]:
        """Source tensors no output tensor is made from (dropped, reinitialised)."""
        used = {leaf.name for recipe in self.recipes.values() for leaf in recipe.leaves()}
        return [name for name in self.source.tensors if name not in used]

    def manifest(self) -> Manifest:
        """Return the predicted output manifest (no byte locations)."""
        return Manifest(
            tensors={name: recipe.spec for name, recipe in self.recipes.items()},
            source=self.source.source,
            format="plan-output",
            metadata=dict(self.source.metadata),
        )


def run(plan: PlanLike, manifest: Manifest) -> Outcome:
    """Run ``plan`` over ``manifest`` by name and shape, without reading tensor data.

    Raises:
        InvalidPlan: an op's arguments are wrong for the tensors it names.
        UnsupportedTensor: a value op on a dtype torch cannot compute on, or an
            output dtype safetensors cannot store.

    """
    state = _State(
        recipes={
            name: Recipe(spec=replace(spec, location=None), source=spec)
            for name, spec in manifest.tensors.items()
        }
    )
    for index, op in enumerate(plan.ops):
        spec = OPS.get(op.kind)
        if spec is None:
            raise InvalidPlan(f"op #{index} ({op.kind}) is not implemented")
        spec.shape(OpContext(state, op, index, spec))
    for recipe in state.recipes.values():
        if dtypes.lookup(recipe.spec.dtype) is None:
            raise UnsupportedTensor(
                f"{recipe.spec.name}: dtype {recipe.spec.dtype} cannot be written to "
                "safetensors; drop it or select around it"
            )
    return Outcome(recipes=state.recipes, reinit=state.reinit, source=manifest)


def predict(plan: PlanLike, manifest: Manifest) -> Manifest:
    """Return the manifest ``plan`` would produce from ``manifest`` (a dry run)."""
    return run(plan, manifest).manifest()


@dataclass
class _State:
    recipes: dict[str, Recipe]
    reinit: list[str] = field(default_factory=list)


@dataclass
class OpContext:
    """One op being applied: the state, the op, and helpers that name it in errors.

    What a shape function (:attr:`OpSpec.shape`) receives: it reads its arguments
    with :meth:`arg`/:meth:`ints`, finds tensors with :meth:`recipe`/:meth:`matching`,
    and changes them with :meth:`replace_one`, :meth:`rename_all` or ``state``.
    """

    state: _State
    op: OpLike
    index: int
    spec: OpSpec

    def values(self) -> Callable[..., torch.Tensor]:
        """The op's arithmetic (:attr:`OpSpec.values`), for the value functions it makes."""
        assert self.spec.values is not None, f"{self.spec.kind} declares no values function"
        return self.spec.values

    def fail(self, detail: str) -> InvalidPlan:
        """An :class:`InvalidPlan` naming this op, to raise."""
        return InvalidPlan(f"op #{self.index} ({self.op.kind}): {detail}")

    def arg(self, key: str, kind: type | tuple[type, ...], default: Any = ...) -> Any:
        """Argument ``key``, checked against ``kind``; required unless ``default`` is given."""
        if key not in self.op.args or self.op.args[key] is None:
            if default is ...:
                raise self.fail(f"needs argument '{key}'")
            return default
        value = self.op.args[key]
        if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
            raise self.fail(f"argument '{key}' must be {_kind_name(kind)}, not {value!r}")
        return value

    def ints(self, key: str, default: Any = ...) -> tuple[int, ...]:
        """Argument ``key``, a list of integers; required unless ``default`` is given."""
        value = self.arg(key, (list, tuple), default)
        if value is default:
            return value  # type: ignore[no-any-return]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise self.fail(f"argument '{key}' must be a list of integers, not {value!r}")
        return tuple(value)

    def recipe(self, name: str) -> Recipe:
        """The recipe of tensor ``name`` as the plan stands."""
        if name not in self.state.recipes:
            raise self.fail(f"no tensor named {name!r}")
        return self.state.recipes[name]

    def matching(self) -> list[str]:
        """Names the op's ``name`` or ``pattern`` selects (at least one)."""
        if "name" in self.op.args:
            return [self.recipe(self.arg("name", str)).spec.name]
        pattern = self.regex("pattern")
        names = [name for name in self.state.recipes if pattern.fullmatch(name)]
        if not names:
            raise self.fail(f"pattern {pattern.pattern!r} matches no tensor")
        return names

    def regex(self, key: str) -> re.Pattern[str]:
        """Argument ``key``, compiled as a regex."""
        text = self.arg(key, str)
        try:
            return re.compile(text)
        except re.error as error:
            raise self.fail(f"argument '{key}' is not a valid regex ({error})") from error

    def computable(self, recipe: Recipe) -> None:
        """Refuse a value op on a dtype torch cannot compute on."""
        dtype = recipe.spec.dtype
        if dtypes.lookup(dtype) is None or dtype in _UNWRITABLE:
            raise UnsupportedTensor(
                f"{recipe.spec.name}: op #{self.index} ({self.op.kind}) cannot compute on "
                f"dtype {dtype}"
            )

    def replace_one(
        self, name: str, shape: tuple[int, ...], fn: ValueFn | None, *, dtype: str | None = None
    ) -> None:
        """Give ``name`` a new shape; ``fn is None`` means the bytes are unchanged."""
        old = self.state.recipes[name]
        spec = replace(old.spec, shape=shape, dtype=dtype or old.spec.dtype)
        ops = (*old.ops, self.op.kind)
        if fn is None:
            new = replace(old, spec=spec, ops=ops)
        else:
            self.computable(old)
            new = Recipe(spec=spec, inputs=(old,), fn=fn, ops=ops)
        self.state.recipes[name] = new

    def rename_all(self, mapping: dict[str, str]) -> None:
        """Rename at once, refusing two tensors that would share one name."""
        renamed: dict[str, Recipe] = {}
        for name, recipe in self.state.recipes.items():
            new = mapping.get(name, name)
            if new in renamed:
                raise self.fail(f"two tensors would be named {new!r}")
            renamed[new] = replace(recipe, spec=replace(recipe.spec, name=new))
        self.state.recipes = renamed


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", list: "a list", bool: "true or false"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _axis(ctx: OpContext, dim: int, rank: int) -> int:
    """``dim`` normalised for a tensor of ``rank`` axes (negative counts from the end)."""
    if not -rank <= dim < rank:
        raise ctx.fail(f"dim {dim} is out of range for {rank} axes")
    return dim % rank


# --- name-level ops ---------------------------------------------------------


def _rename(ctx: OpContext) -> None:
    args = ctx.op.args
    names = list(ctx.state.recipes)
    if "strip" in args or "add" in args:
        strip, add = ctx.arg("strip", str, ""), ctx.arg("add", str, "")
        mapping = {n: add + n[len(strip) :] for n in names if n.startswith(strip)}
        if not mapping:
            raise ctx.fail(f"no tensor name starts with {strip!r}")
    elif "pattern" in args:
        pattern, replacement = ctx.regex("pattern"), ctx.arg("replacement", str)
        mapping = {}
        for name in names:
            match = pattern.fullmatch(name)
            if match:
                try:
                    mapping[name] = match.expand(replacement)
                except (re.error, IndexError) as error:
                    raise ctx.fail(f"bad replacement {replacement!r} ({error})") from error
        if not mapping:
            raise ctx.fail(f"pattern {pattern.pattern!r} matches no tensor")
    else:
        source, target = ctx.arg("from", str), ctx.arg("to", str)
        mapping = _template_mapping(ctx, source, target, names)
    ctx.rename_all(mapping)


def _template_mapping(ctx: OpContext, source: str, target: str, names: list[str]) -> dict[str, str]:
    """``from``/``to`` names, where ``{i}``, ``{j}``, ``{k}`` stand for layer indices."""
    regex, count = _PLACEHOLDER.subn(lambda m: f"(?P<{m[1]}>[0-9]+)", re.escape(source))
    if count == 0:
        ctx.recipe(source)
        return {source: target}
    pattern = re.compile(regex)
    mapping = {}
    for name in names:
        match = pattern.fullmatch(name)
        if match:
            try:
                mapping[name] = target.format(**match.groupdict())
            except (KeyError, IndexError, ValueError) as error:
                raise ctx.fail(f"'to' template {target!r} does not fit ({error})") from error
    if not mapping:
        raise ctx.fail(f"template {source!r} matches no tensor")
    return mapping


def _drop(ctx: OpContext) -> None:
    for name in ctx.matching():
        del ctx.state.recipes[name]


def _select(ctx: OpContext) -> None:
    prefix = ctx.arg("prefix", str)
    kept = {n: r for n, r in ctx.state.recipes.items() if n.startswith(prefix) and n != prefix}
    if not kept:
        raise ctx.fail(f"no tensor name starts with {prefix!r}")
    ctx.state.recipes = kept
    ctx.rename_all({name: name[len(prefix) :] for name in kept})


def _reinit(ctx: OpContext) -> None:
    names = [ctx.arg("name", str)] if "name" in ctx.op.args else ctx.matching()
    for name in names:
        ctx.state.recipes.pop(name, None)
        if name not in ctx.state.reinit:
            ctx.state.reinit.append(name)


# --- exact shape ops --------------------------------------------------------


def _unsqueeze(ctx: OpContext) -> None:
    name = ctx.arg("name", str)
    shape = ctx.recipe(name).spec.shape
    dim = _axis(ctx, ctx.arg("dim", int), len(shape) + 1)
    ctx.replace_one(name, (*shape[:dim], 1, *shape[dim:]), None)


def _squeeze(ctx: OpContext) -> None:
    name = ctx.arg("name", str)
    shape = ctx.recipe(name).spec.shape
    dim = _axis(ctx, ctx.arg("dim", int), len(shape))
    if shape[dim] != 1:
        raise ctx.fail(f"{name}: axis {dim} has size {shape[dim]}, not 1")
    ctx.replace_one(name, shape[:dim] + shape[dim + 1 :], None)


def _reshape(ctx: OpContext) -> None:
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


def _transpose(ctx: OpContext) -> None:
    name = ctx.arg("name", str)
    shape = ctx.recipe(name).spec.shape
    dims = ctx.ints("dims", (1, 0) if len(shape) == 2 else ...)
    if sorted(d % len(shape) if len(shape) else d for d in dims) != list(range(len(shape))):
        raise ctx.fail(f"{name}: dims {list(dims)} are not a permutation of {len(shape)} axes")
    dims = tuple(d % len(shape) for d in dims)

    def fn(values: list[torch.Tensor]) -> torch.Tensor:
        return values[0].permute(dims).contiguous()

    ctx.replace_one(name, tuple(shape[d] for d in dims), fn)


def _split(ctx: OpContext) -> None:
    name = ctx.arg("name", str)
    parent = ctx.recipe(name)
    into, sizes = ctx.arg("into", list), ctx.ints("sizes")
    shape = parent.spec.shape
    dim = _axis(ctx, ctx.arg("dim", int, 0), len(shape))
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


def _concat(ctx: OpContext) -> None:
    names, into = ctx.arg("names", list), ctx.arg("into", str)
    if len(names) < 2 or not all(isinstance(n, str) for n in names):
        raise ctx.fail("'names' must list at least two tensors")
    parts = [ctx.recipe(n) for n in names]
    first = parts[0].spec
    dim = _axis(ctx, ctx.arg("dim", int, 0), len(first.shape))
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
    for name, recipe in recipes.items():
        if name == remove[0]:
            result.update(insert)
        elif name not in remove:
            result[name] = recipe
    return result


# --- value ops (need review) ------------------------------------------------


def _inflate(ctx: OpContext) -> None:
    name = ctx.arg("name", str)
    shape = ctx.recipe(name).spec.shape
    dim = _axis(ctx, ctx.arg("dim", int), len(shape) + 1)
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


def _pad_rows(ctx: OpContext) -> None:
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


def _truncate_rows(ctx: OpContext) -> None:
    name = ctx.arg("name", str)
    shape = ctx.recipe(name).spec.shape
    rows = ctx.arg("rows", int)
    if not shape or not 0 <= rows < shape[0]:
        raise ctx.fail(f"{name}: cannot truncate {list(shape)} to {rows} rows")

    def fn(values: list[torch.Tensor]) -> torch.Tensor:
        return values[0][:rows].contiguous()

    ctx.replace_one(name, (rows, *shape[1:]), fn)


def _copy_overlap(ctx: OpContext) -> None:
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


def _resample_pos_embed(ctx: OpContext) -> None:
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


def _cast(ctx: OpContext) -> None:
    target = dtype_named(ctx.arg("to", str))
    if target is None or target.name in _UNWRITABLE or not target.is_float:
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


def _cast_safety(args: Mapping[str, Any]) -> Safety:
    exact = (args.get("from"), args.get("to")) in LOSSLESS_CASTS
    return Safety.EXACT if exact else Safety.NEEDS_REVIEW


def _inflate_safety(args: Mapping[str, Any]) -> Safety:
    return Safety.EXACT if int(args.get("size", 1)) == 1 else Safety.NEEDS_REVIEW


# --- the registry -----------------------------------------------------------


@dataclass(frozen=True)
class Arg:
    """One argument of an op, as a plan file spells it.

    Attributes:
        name: The key in the op's ``args``.
        type: What it holds, in JSON words (``"string"``, ``"integer"``,
            ``"list of integers"`` ...).
        required: Whether every op of the kind must give it (``False`` for
            defaults and for one of several forms, as ``rename``'s).

    """

    name: str
    type: str
    required: bool = True


@dataclass(frozen=True)
class OpSpec:
    """One plan operation, declared once.

    Attributes:
        kind: Its name in plan files (``Op.kind``); ``docs/plans.md`` has a
            section ``### `kind` — safety`` for it.
        args: Its argument schema.
        safety: :class:`Safety`, or a function of the op's ``args`` where it
            depends on them (``inflate`` of size 1 is exact).
        shape: The shape function: runs the op over the recipes by name and
            shape (the dry run, no tensor data), validating its arguments, and
            gives each tensor it changes the function that streams its value.
        values: The arithmetic those value functions call (in
            :mod:`weightfit.values`, torch imported when called), reached through
            :meth:`OpContext.values`; ``None`` when bytes only move or the value is
            a one-line torch call.

    """

    kind: str
    args: tuple[Arg, ...]
    safety: Safety | Callable[[Mapping[str, Any]], Safety]
    shape: Callable[[OpContext], None]
    values: Callable[..., torch.Tensor] | None = None

    def safety_of(self, args: Mapping[str, Any]) -> Safety:
        """The safety of an op of this kind with these arguments."""
        return self.safety if isinstance(self.safety, Safety) else self.safety(args)


def _name() -> Arg:
    return Arg("name", "string")


def _name_or_pattern() -> tuple[Arg, ...]:
    return Arg("name", "string", False), Arg("pattern", "regex", False)


REGISTRY: tuple[OpSpec, ...] = (
    OpSpec(
        "rename",
        (
            Arg("from", "string", False),
            Arg("to", "string", False),
            Arg("pattern", "regex", False),
            Arg("replacement", "string", False),
            Arg("strip", "string", False),
            Arg("add", "string", False),
        ),
        Safety.EXACT,
        _rename,
    ),
    OpSpec("drop", _name_or_pattern(), Safety.EXACT, _drop),
    OpSpec("select", (Arg("prefix", "string"),), Safety.EXACT, _select),
    OpSpec("unsqueeze", (_name(), Arg("dim", "integer")), Safety.EXACT, _unsqueeze),
    OpSpec("squeeze", (_name(), Arg("dim", "integer")), Safety.EXACT, _squeeze),
    OpSpec(
        "inflate",
        (_name(), Arg("dim", "integer"), Arg("size", "integer"), Arg("mode", "string", False)),
        _inflate_safety,
        _inflate,
        compute.inflated,
    ),
    OpSpec(
        "pad_rows",
        (
            _name(),
            Arg("rows", "integer", False),
            Arg("pad_to_multiple_of", "integer", False),
            Arg("init", "string", False),
            Arg("seed", "integer", False),
        ),
        Safety.NEEDS_REVIEW,
        _pad_rows,
        compute.padded,
    ),
    OpSpec("truncate_rows", (_name(), Arg("rows", "integer")), Safety.NEEDS_REVIEW, _truncate_rows),
    OpSpec(
        "copy_overlap",
        (
            _name(),
            Arg("shape", "list of integers"),
            Arg("init", "string", False),
            Arg("std", "number", False),
            Arg("seed", "integer", False),
        ),
        Safety.NEEDS_REVIEW,
        _copy_overlap,
        compute.overlapped,
    ),
    OpSpec(
        "transpose", (_name(), Arg("dims", "list of integers", False)), Safety.EXACT, _transpose
    ),
    OpSpec("reshape", (_name(), Arg("shape", "list of integers")), Safety.EXACT, _reshape),
    OpSpec(
        "split",
        (
            _name(),
            Arg("into", "list of strings"),
            Arg("sizes", "list of integers"),
            Arg("dim", "integer", False),
        ),
        Safety.EXACT,
        _split,
    ),
    OpSpec(
        "concat",
        (Arg("names", "list of strings"), Arg("into", "string"), Arg("dim", "integer", False)),
        Safety.EXACT,
        _concat,
    ),
    OpSpec(
        "resample_pos_embed",
        (
            _name(),
            Arg("from_grid", "list of integers"),
            Arg("to_grid", "list of integers"),
            Arg("prefix_tokens", "integer", False),
            Arg("mode", "string", False),
        ),
        Safety.NEEDS_REVIEW,
        _resample_pos_embed,
        compute.resampled,
    ),
    OpSpec(
        "cast",
        (
            Arg("to", "string"),
            Arg("pattern", "regex", False),
            Arg("from", "string", False),
            Arg("clamp", "boolean", False),
        ),
        _cast_safety,
        _cast,
        compute.cast,
    ),
    OpSpec("reinit", _name_or_pattern(), Safety.NEEDS_REVIEW, _reinit),
)
"""Every plan op, in the order ``docs/plans.md`` describes them."""

OPS: dict[str, OpSpec] = {spec.kind: spec for spec in REGISTRY}
"""Kind to :class:`OpSpec`: what :func:`run`, ``Op.safety`` and plan loading look up."""

KINDS: tuple[str, ...] = tuple(OPS)
"""The built-in kinds, in registry order (``plan.OpKind``, the schema's enum)."""


def safety_of(kind: str, args: Mapping[str, Any]) -> Safety:
    """The safety of an op; an unknown kind needs review."""
    spec = OPS.get(kind)
    return Safety.NEEDS_REVIEW if spec is None else spec.safety_of(args)
