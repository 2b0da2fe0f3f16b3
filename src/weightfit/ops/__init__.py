"""The one registry of plan operations, and what each one means on names and on values.

Each op is declared once, by an :class:`OpSpec` row in :data:`REGISTRY`: its
argument schema, its safety, its shape function and the arithmetic its values
stream through. Everything else follows from the row: the kinds a plan file may
name (``plan.OpKind``, :meth:`weightfit.plan.Plan.from_dict`), each op's
:class:`Safety` (``Op.safety``), and the dispatch of :func:`run`; the schema's
op enum (``report/check.schema.json``) and ``docs/plans.md`` are kept equal to
it by ``tests/test_plan_ops.py``.

Running a plan over a :class:`~weightfit.manifest.Manifest` (no tensor data, no
torch) gives, for every output tensor, a :class:`~weightfit.ops.recipes.Recipe`: the
spec it will be written with, and how its value is made from source tensors. That is the
dry run (:func:`predict`); :mod:`weightfit.apply` and :mod:`weightfit.load` evaluate the
recipes tensor by tensor. This package knows plans only through :class:`OpLike` and
:class:`PlanLike`, so that :mod:`weightfit.plan` can derive its kinds from it.

The shape functions live by kind of op: :mod:`~weightfit.ops.name_ops`,
:mod:`~weightfit.ops.shape_ops` (exact) and :mod:`~weightfit.ops.value_ops` (new values),
over :mod:`~weightfit.ops.context` (what an op is declared with and receives) and
:mod:`~weightfit.ops.recipes` (what a dry run makes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from weightfit import dtypes
from weightfit import values as compute
from weightfit.errors import InvalidPlan, UnsupportedTensor
from weightfit.manifest import Manifest
from weightfit.ops.context import Arg, OpContext, OpLike, OpSpec, PlanLike, Safety
from weightfit.ops.name_ops import drop, reinit, rename, select
from weightfit.ops.recipes import DryState, Outcome, start
from weightfit.ops.shape_ops import (
    concat,
    copy,
    permute_rows,
    reshape,
    split,
    squeeze,
    stack,
    transpose,
    unsqueeze,
    unstack,
)
from weightfit.ops.value_ops import (
    cast,
    cast_safety,
    copy_overlap,
    inflate,
    inflate_safety,
    pad_rows,
    resample_pos_embed,
    truncate_rows,
)


def run(plan: PlanLike, manifest: Manifest) -> Outcome:
    """Run ``plan`` over ``manifest`` by name and shape, without reading tensor data.

    Raises:
        InvalidPlan: an op's arguments are wrong for the tensors it names.
        UnsupportedTensor: a value op on a dtype torch cannot compute on, or an
            output dtype safetensors cannot store.

    """
    state = start(manifest)
    for index, op in enumerate(plan.ops):
        step(state, op, index)
    for recipe in state.recipes.values():
        if recipe.spec.dtype in dtypes.BLOCK_TYPES:
            # A GGML block type holds scales and codes, not values: no op stores it as is.
            raise UnsupportedTensor(
                f"{recipe.spec.name}: dtype {recipe.spec.dtype} cannot be written to "
                "safetensors: GGML block quantization, which PyTorch cannot hold either; "
                "dequantize the GGUF first (transformers' from_pretrained(folder, "
                "gguf_file=...)) or drop it"
            )
        if recipe.spec.dtype not in dtypes.SAFETENSORS_DTYPES:
            raise UnsupportedTensor(
                f"{recipe.spec.name}: dtype {recipe.spec.dtype} cannot be written to "
                "safetensors; drop it or select around it"
            )
    return Outcome(recipes=state.recipes, reinit=state.reinit, source=manifest)


def predict(plan: PlanLike, manifest: Manifest) -> Manifest:
    """Return the manifest ``plan`` would produce from ``manifest`` (a dry run)."""
    return run(plan, manifest).manifest()


def step(state: DryState, op: OpLike, index: int) -> None:
    """Run one op (number ``index`` in its plan) over ``state``, in place.

    Raises:
        InvalidPlan: the op does not fit the tensors as they are.
    """
    spec = OPS.get(op.kind)
    if spec is None:
        raise InvalidPlan(f"op #{index} ({op.kind}) is not implemented")
    spec.shape(OpContext(state, op, index, spec))


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
        rename,
    ),
    OpSpec("drop", _name_or_pattern(), Safety.EXACT, drop),
    OpSpec("select", (Arg("prefix", "string"),), Safety.EXACT, select),
    OpSpec("unsqueeze", (_name(), Arg("dim", "integer")), Safety.EXACT, unsqueeze),
    OpSpec("squeeze", (_name(), Arg("dim", "integer")), Safety.EXACT, squeeze),
    OpSpec(
        "inflate",
        (_name(), Arg("dim", "integer"), Arg("size", "integer"), Arg("mode", "string", False)),
        inflate_safety,
        inflate,
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
        pad_rows,
        compute.padded,
    ),
    OpSpec("truncate_rows", (_name(), Arg("rows", "integer")), Safety.NEEDS_REVIEW, truncate_rows),
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
        copy_overlap,
        compute.overlapped,
    ),
    OpSpec("transpose", (_name(), Arg("dims", "list of integers", False)), Safety.EXACT, transpose),
    OpSpec("reshape", (_name(), Arg("shape", "list of integers")), Safety.EXACT, reshape),
    OpSpec(
        "split",
        (
            _name(),
            Arg("into", "list of strings"),
            Arg("sizes", "list of integers"),
            Arg("dim", "integer", False),
        ),
        Safety.EXACT,
        split,
    ),
    OpSpec(
        "concat",
        (Arg("names", "list of strings"), Arg("into", "string"), Arg("dim", "integer", False)),
        Safety.EXACT,
        concat,
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
        resample_pos_embed,
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
        cast_safety,
        cast,
        compute.cast,
    ),
    OpSpec("reinit", _name_or_pattern(), Safety.NEEDS_REVIEW, reinit),
    OpSpec(
        "stack",
        (Arg("names", "list of strings"), Arg("into", "string"), Arg("dim", "integer", False)),
        Safety.EXACT,
        stack,
    ),
    OpSpec(
        "unstack",
        (_name(), Arg("into", "list of strings"), Arg("dim", "integer", False)),
        Safety.EXACT,
        unstack,
    ),
    OpSpec(
        "permute_rows",
        (_name(), Arg("heads", "integer"), Arg("layout", "string")),
        Safety.EXACT,
        permute_rows,
        compute.rows_permuted,
    ),
    OpSpec("copy", (_name(), Arg("into", "list of strings")), Safety.EXACT, copy),
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
