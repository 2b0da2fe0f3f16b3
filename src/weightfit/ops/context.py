"""What a plan op is declared with and what its shape function receives.

An :class:`OpSpec` (its :class:`Arg` schema, its :class:`Safety`, its shape function and
value arithmetic) is one row of :data:`weightfit.ops.REGISTRY`; a shape function runs over an
:class:`OpContext`. This module knows plans only through :class:`OpLike` and
:class:`PlanLike`, so that :mod:`weightfit.plan` can derive its kinds from the registry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from weightfit import dtypes
from weightfit.errors import InvalidPlan, UnsupportedTensor
from weightfit.ops.recipes import DryState, Recipe, ValueFn

if TYPE_CHECKING:
    import torch

UNWRITABLE = frozenset({"F4", "F6_E2M3", "F6_E3M2"})
"""Packed sub-byte dtypes: bytes can be copied, but torch cannot compute on them."""


class Safety(StrEnum):
    """Whether an operation keeps every value exactly or needs a person's review."""

    EXACT = "exact"
    INFERRED = "inferred"
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


@dataclass
class OpContext:
    """One op being applied: the state, the op, and helpers that name it in errors.

    What a shape function (:attr:`OpSpec.shape`) receives: it reads its arguments
    with :meth:`arg`/:meth:`ints`, finds tensors with :meth:`recipe`/:meth:`matching`,
    and changes them with :meth:`replace_one`, :meth:`rename_all` or ``state``.
    """

    state: DryState
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
        if dtypes.lookup(dtype) is None or dtype in UNWRITABLE:
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


def axis(ctx: OpContext, dim: int, rank: int) -> int:
    """``dim`` normalised for a tensor of ``rank`` axes (negative counts from the end)."""
    if not -rank <= dim < rank:
        raise ctx.fail(f"dim {dim} is out of range for {rank} axes")
    return dim % rank


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
