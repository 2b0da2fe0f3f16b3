"""Run a library's converter over shape-only tensors and record what it does to each one.

A :class:`Traced` tensor is a ``torch.Tensor`` subclass on the ``meta`` device:
it has a shape and a dtype and no data. Its ``__torch_function__`` lets through
what only reads shapes (``.shape``, ``.ndim``, ``.size()``) and what only moves
bytes: slicing and indexing, ``narrow``, ``chunk`` / ``split`` / ``unbind``,
``cat`` / ``stack``, ``reshape`` / ``view`` / ``(un)squeeze`` / ``flatten``,
``transpose`` / ``permute`` / ``.T``, and copies that keep the values
(``clone``, ``detach``, ``contiguous``, ``.to`` of the same dtype). Each result
carries an expression :class:`Node` over the checkpoint's tensors. Anything
else (arithmetic, comparisons, casts, reading a value) raises
:class:`TraceRefused`, naming the operation and the tensors it touched: a plan
can only rearrange bytes, so a converter that computes is not traced.

Running a converter this way costs no memory (meta tensors) and reads no tensor
data; :mod:`weightfit.converters.to_plan` turns the record into plan ops.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from weightfit.manifest import Manifest

if TYPE_CHECKING:
    import torch


class TraceRefused(Exception):
    """The converter did something a plan cannot express (``detail`` says what)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True, eq=False)
class Node:
    """One value in the record: a checkpoint tensor, or a rearrangement of others.

    Attributes:
        kind: ``leaf`` (a checkpoint tensor), ``narrow``, ``view``, ``permute`` or ``cat``.
        shape: The value's shape.
        dtype: Its dtype, in safetensors spelling.
        inputs: The nodes it is made from.
        name: The checkpoint name (``leaf``).
        dim: The axis (``narrow``, ``cat``).
        start: First index kept (``narrow``).
        dims: The permutation (``permute``).

    """

    kind: str
    shape: tuple[int, ...]
    dtype: str
    inputs: tuple[Node, ...] = ()
    name: str = ""
    dim: int = 0
    start: int = 0
    dims: tuple[int, ...] = ()

    def leaves(self) -> Iterator[Node]:
        """Every checkpoint tensor this value is made from."""
        if self.kind == "leaf":
            yield self
        for node in self.inputs:
            yield from node.leaves()


@dataclass
class Trace:
    """What a converter made: each output name's expression, and the checkpoint it read.

    Attributes:
        outputs: Output name to the :class:`Node` its value is.
        source: The manifest the converter ran over.
        converter: The converter's qualified name and library version.

    """

    outputs: dict[str, Node]
    source: Manifest
    converter: str = ""
    notes: list[str] = field(default_factory=list)


def leaf(name: str, shape: tuple[int, ...], dtype: str) -> Node:
    """A checkpoint tensor."""
    return Node("leaf", tuple(shape), dtype, name=name)


def narrow(node: Node, dim: int, start: int, length: int) -> Node:
    """``node.narrow(dim, start, length)``, folded: a full slice is ``node`` itself."""
    if start == 0 and length == node.shape[dim]:
        return node
    if node.kind == "narrow" and node.dim == dim:
        return narrow(node.inputs[0], dim, node.start + start, length)
    shape = (*node.shape[:dim], length, *node.shape[dim + 1 :])
    return Node("narrow", shape, node.dtype, (node,), dim=dim, start=start)


def view(node: Node, shape: tuple[int, ...]) -> Node:
    """``node.reshape(shape)``, folded: views of views are one view; no change is ``node``."""
    shape = tuple(int(s) for s in shape)
    if node.kind == "view":
        node = node.inputs[0]
    if shape == node.shape:
        return node
    return Node("view", shape, node.dtype, (node,))


def permute(node: Node, dims: tuple[int, ...]) -> Node:
    """``node.permute(dims)``, folded: permutations compose; the identity is ``node``."""
    if node.kind == "permute":
        dims = tuple(node.dims[d] for d in dims)
        node = node.inputs[0]
    if dims == tuple(range(len(dims))):
        return node
    shape = tuple(node.shape[d] for d in dims)
    return Node("permute", shape, node.dtype, (node,), dims=dims)


def cat(nodes: list[Node], dim: int) -> Node:
    """``torch.cat(nodes, dim)``; a single part is itself."""
    if len(nodes) == 1:
        return nodes[0]
    first = nodes[0].shape
    size = sum(n.shape[dim] for n in nodes)
    shape = (*first[:dim], size, *first[dim + 1 :])
    return Node("cat", shape, nodes[0].dtype, tuple(nodes), dim=dim)


def trace(
    converter: Callable[..., Mapping[str, Any]],
    source: Manifest,
    *,
    names: list[str] | None = None,
    label: str = "",
    **kwargs: Any,
) -> Trace:
    """Run ``converter(checkpoint, **kwargs)`` over shape-only stand-ins for ``source``.

    Args:
        converter: The library function; its first argument is the state dict.
        source: The checkpoint's manifest (no tensor data is read).
        names: Only these tensors are handed to the converter (default: all).
        label: How reasons and refusals name the converter.
        **kwargs: Passed to the converter (``config=...``).

    Returns:
        A :class:`Trace` of every output the converter returned.

    Raises:
        TraceRefused: the converter computes on values, makes tensors from
            nothing, or returns something a plan cannot name.

    """
    label = label or getattr(converter, "__name__", "converter")
    checkpoint = stand_ins(source, names)
    try:
        result = converter(checkpoint, **kwargs)
    except TraceRefused as refused:
        raise TraceRefused(f"{label} {refused.detail}") from None
    if not isinstance(result, Mapping):
        raise TraceRefused(f"{label} returned {type(result).__name__}, not a state dict")
    return Trace(outputs=collect(result, label), source=source, converter=label)


def stand_ins(source: Manifest, names: list[str] | None = None) -> dict[str, torch.Tensor]:
    """A state dict of :class:`Traced` tensors, one per checkpoint tensor (in file order)."""
    from weightfit.tensor_io import torch_dtype

    wanted = source.tensors if names is None else {n: source.tensors[n] for n in names}
    checkpoint: dict[str, torch.Tensor] = {}
    for name, spec in wanted.items():
        try:
            dtype = torch_dtype(spec.dtype)
        except Exception as error:
            raise TraceRefused(f"cannot stand in for {name}: dtype {spec.dtype}") from error
        checkpoint[name] = _traced_class().wrap(leaf(name, spec.shape, spec.dtype), dtype)
    return checkpoint


def collect(result: Mapping[str, Any], label: str) -> dict[str, Node]:
    """The expression of every returned tensor; a tensor made from nothing is refused."""
    outputs: dict[str, Node] = {}
    for key, value in result.items():
        node = getattr(value, "node", None)
        if not isinstance(node, Node):
            made = type(value).__name__
            raise TraceRefused(
                f"{label} returns {key!r} as a {made} not made from checkpoint tensors "
                "(new values, which a plan cannot make)"
            )
        outputs[str(key)] = node
    return outputs


_CLASS: list[Any] = []


def _traced_class() -> Any:
    """The :class:`Traced` class, built on first use (torch stays out of module import)."""
    if not _CLASS:
        _CLASS.append(_build_traced())
    return _CLASS[0]


# Shape queries: their answer does not depend on values.
_QUERIES = frozenset(
    {
        "shape",
        "ndim",
        "dim",
        "size",
        "numel",
        "nelement",
        "dtype",
        "device",
        "is_contiguous",
        "__len__",
        "element_size",
        "requires_grad",
        "is_floating_point",
        "layout",
        "is_meta",
        "is_cuda",
        "is_sparse",
        "is_quantized",
        "stride",
        "storage_offset",
        "__hash__",
        "__format__",
        "__repr__",
        "data_ptr",
        "_is_view",
        "names",
        "grad_fn",
    }
)
# Copies that keep every value.
_SAME = frozenset({"clone", "detach", "contiguous", "detach_", "requires_grad_", "cpu", "data"})
_VIEWS = frozenset(
    {"view", "reshape", "flatten", "unflatten", "unsqueeze", "squeeze", "view_as", "reshape_as"}
)


def _name_of(func: Any) -> str:
    name = str(getattr(func, "__name__", func))
    if name in ("__get__", "__set__"):
        owner = getattr(func, "__self__", None)
        name = str(getattr(owner, "__name__", name))
    return name


def _build_traced() -> Any:
    import torch
    from torch._C import DisableTorchFunctionSubclass

    class Traced(torch.Tensor):
        """A meta tensor that records how it was made (see the module docstring)."""

        node: Node

        @classmethod
        def wrap(cls, node: Node, dtype: torch.dtype | None = None) -> Traced:
            base = torch.empty(node.shape, dtype=dtype, device="meta")
            tensor = torch.Tensor._make_subclass(cls, base)
            tensor.node = node
            return tensor

        @classmethod
        def __torch_function__(
            cls,
            func: Any,
            types: Any,
            args: tuple[Any, ...] = (),
            kwargs: dict[str, Any] | None = None,
        ) -> Any:
            kwargs = kwargs or {}
            name = _name_of(func)
            if name in _QUERIES:
                with DisableTorchFunctionSubclass():
                    return func(*args, **kwargs)
            handler = _HANDLERS.get(name)
            if handler is None:
                raise TraceRefused(_refusal(name, args, kwargs))
            with DisableTorchFunctionSubclass():
                result = func(*args, **kwargs)
            return handler(cls, args, kwargs, result)

    def same(cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> Any:
        return cls.wrap(args[0].node, result.dtype)

    def to(cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> Any:
        source = args[0]
        if result.dtype != source.dtype:
            raise TraceRefused(
                f"casts {_leaf_names(args)} from {source.dtype} to {result.dtype} "
                "(a cast is not a rearrangement)"
            )
        return cls.wrap(source.node, result.dtype)

    def reshaped(cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> Any:
        return cls.wrap(view(args[0].node, tuple(result.shape)), result.dtype)

    def transposed(cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> Any:
        node = args[0].node
        rank = len(node.shape)
        order = list(range(rank))
        if rank >= 2:
            dim0 = _arg(args, kwargs, 1, "dim0", 0) % rank
            dim1 = _arg(args, kwargs, 2, "dim1", 1) % rank
            order[dim0], order[dim1] = order[dim1], order[dim0]
        return cls.wrap(permute(node, tuple(order)), result.dtype)

    def reversed_axes(cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> Any:
        node = args[0].node
        return cls.wrap(permute(node, tuple(reversed(range(len(node.shape))))), result.dtype)

    def matrix_t(cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> Any:
        node = args[0].node
        order = list(range(len(node.shape)))
        order[-1], order[-2] = order[-2], order[-1]
        return cls.wrap(permute(node, tuple(order)), result.dtype)

    def permuted(cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> Any:
        node = args[0].node
        dims = kwargs.get("dims", args[1:])
        if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
            dims = dims[0]
        rank = len(node.shape)
        return cls.wrap(permute(node, tuple(int(d) % rank for d in dims)), result.dtype)

    def narrowed(cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> Any:
        node = args[0].node
        dim = _arg(args, kwargs, 1, "dim", 0) % len(node.shape)
        start = _arg(args, kwargs, 2, "start", 0)
        start = start % node.shape[dim] if start < 0 else start
        return cls.wrap(narrow(node, dim, start, result.shape[dim]), result.dtype)

    def selected(cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> Any:
        node = args[0].node
        dim = _arg(args, kwargs, 1, "dim", 0) % len(node.shape)
        index = _arg(args, kwargs, 2, "index", 0) % node.shape[dim]
        return cls.wrap(view(narrow(node, dim, index, 1), tuple(result.shape)), result.dtype)

    def pieces(cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> Any:
        """``chunk``, ``split``, ``tensor_split``: consecutive narrows along one axis."""
        node = args[0].node
        dim = _arg(args, kwargs, 2, "dim", 0) % len(node.shape)
        start, parts = 0, []
        for piece in result:
            length = piece.shape[dim]
            parts.append(cls.wrap(narrow(node, dim, start, length), piece.dtype))
            start += length
        return type(result)(parts)

    def unbound(cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> Any:
        node = args[0].node
        dim = _arg(args, kwargs, 1, "dim", 0) % len(node.shape)
        return tuple(
            cls.wrap(view(narrow(node, dim, i, 1), tuple(piece.shape)), piece.dtype)
            for i, piece in enumerate(result)
        )

    def joined(cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> Any:
        tensors = list(args[0] if args else kwargs["tensors"])
        nodes = _nodes(tensors, "concatenates")
        dim = _arg(args, kwargs, 1, "dim", 0) % len(result.shape)
        return cls.wrap(cat(nodes, dim), result.dtype)

    def stacked(cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> Any:
        tensors = list(args[0] if args else kwargs["tensors"])
        nodes = _nodes(tensors, "stacks")
        dim = _arg(args, kwargs, 1, "dim", 0) % len(result.shape)
        parts = [view(n, (*n.shape[:dim], 1, *n.shape[dim:])) for n in nodes]
        return cls.wrap(cat(parts, dim), result.dtype)

    def indexed(cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> Any:
        node = _index(args[0].node, args[1])
        if node.shape != tuple(result.shape):
            raise TraceRefused(f"indexes {_leaf_names(args)} in a way not followed ({args[1]!r})")
        return cls.wrap(node, result.dtype)

    _HANDLERS.update(
        {
            **dict.fromkeys(_SAME, same),
            "to": to,
            "type_as": to,
            **dict.fromkeys(_VIEWS, reshaped),
            "transpose": transposed,
            "swapaxes": transposed,
            "swapdims": transposed,
            "t": reversed_axes,
            "T": reversed_axes,
            "mT": matrix_t,
            "permute": permuted,
            "narrow": narrowed,
            "select": selected,
            "chunk": pieces,
            "split": pieces,
            "tensor_split": pieces,
            "unbind": unbound,
            "cat": joined,
            "concat": joined,
            "concatenate": joined,
            "stack": stacked,
            "__getitem__": indexed,
        }
    )
    return Traced


_HANDLERS: dict[str, Callable[[Any, tuple[Any, ...], dict[str, Any], Any], Any]] = {}


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, key: str, default: int) -> int:
    value = kwargs.get(key, args[index] if len(args) > index else default)
    return int(value)


def _nodes(tensors: list[Any], verb: str) -> list[Node]:
    nodes = []
    for tensor in tensors:
        node = getattr(tensor, "node", None)
        if not isinstance(node, Node):
            raise TraceRefused(f"{verb} a checkpoint tensor with a tensor made from nothing")
        nodes.append(node)
    return nodes


def _index(node: Node, index: Any) -> Node:
    """``node[index]`` for basic indexing: ints, slices of step 1, ``None`` and ``...``."""
    items = list(index) if isinstance(index, tuple) else [index]
    if any(not isinstance(i, (int, slice)) and i is not None and i is not Ellipsis for i in items):
        kinds = sorted({type(i).__name__ for i in items})
        raise TraceRefused(f"indexes {node_leaves(node)} with {', '.join(kinds)} (not a slice)")
    explicit = sum(1 for i in items if i is not None and i is not Ellipsis)
    if Ellipsis in items:
        at = items.index(Ellipsis)
        items[at : at + 1] = [slice(None)] * (len(node.shape) - explicit)
    items += [slice(None)] * (len(node.shape) - sum(1 for i in items if i is not None))
    shape: list[int] = []
    axis = 0
    for item in items:
        if item is None:
            shape.append(1)
            continue
        size = node.shape[axis]
        if isinstance(item, int):
            node = narrow(node, axis, item % size, 1)
        else:
            start, stop, step = item.indices(size)
            if step != 1:
                raise TraceRefused(f"indexes {node_leaves(node)} with step {step}")
            node = narrow(node, axis, start, max(stop - start, 0))
            shape.append(max(stop - start, 0))
        axis += 1
    return view(node, tuple(shape))


def node_leaves(node: Node) -> str:
    """The checkpoint names a value is made from, for messages."""
    names = sorted({n.name for n in node.leaves()})
    return ", ".join(names[:3]) + (f" (+{len(names) - 3})" if len(names) > 3 else "")


def _leaf_names(args: Any) -> str:
    found: list[str] = []
    stack = list(args) if isinstance(args, (tuple, list)) else [args]
    while stack:
        item = stack.pop(0)
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        node = getattr(item, "node", None)
        if isinstance(node, Node):
            found.extend(n.name for n in node.leaves())
    unique = list(dict.fromkeys(found))
    return ", ".join(unique[:3]) + (f" (+{len(unique) - 3})" if len(unique) > 3 else "")


_READS = frozenset({"item", "tolist", "__bool__", "__float__", "__int__", "__index__", "numpy"})
"""Operations that hand a tensor's value to Python: what follows depends on data."""


def _refusal(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """Say what the converter did that a plan cannot: the operation and the tensors."""
    touched = _leaf_names((*args, *kwargs.values())) or "a checkpoint tensor"
    if name in _READS:
        return (
            f"reads the value of {touched} (`{name}`) to compute with it, which a plan "
            "cannot express"
        )
    return f"computes `{name}` on the values of {touched}, which a plan cannot express"
