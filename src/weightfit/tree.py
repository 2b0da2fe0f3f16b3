"""Module trees and templated names: many tensor names, shown in a few lines.

Two pure-data helpers over dotted tensor names (``model.layers.3.mlp.up_proj.weight``):

- :func:`build_tree` turns names into a tree of modules with parameter counts,
  where numbered children with the same structure (``layers.0`` ... ``layers.27``)
  fold into one node ``layers.{0..27}`` that stands for all of them.
- :func:`collapse_names` turns a flat list of names into templates with counts
  (``blocks.{0..27}.attn.qkv.weight ×28``), for reports of differences.

Nothing here prints: :mod:`weightfit.report` draws the results.
"""

from __future__ import annotations

import fnmatch
import itertools
import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import cast

from weightfit.manifest import Kind, Manifest, TensorSpec, TensorTable, gc_paused


@dataclass
class TreeNode:
    """One module (or tensor) in a module tree.

    Attributes:
        name: The node's own dotted segment(s): ``"attn"``, ``"{0..27}"``, or
            ``"layers.{0..27}"`` once single-child chains are joined.
        path: Full dotted name from the root, templated where collapsed
            (``"model.layers.{0..27}.attn"``); ``""`` for the root.
        params: Elements under this node, over the ``count`` copies it stands for,
            in one copy of its parent (so a parent's ``params`` is the sum of its
            children's, times its own ``count``).
        tensors: Tensors under this node, counted the same way as ``params``.
        count: How many identical numbered siblings this node stands for (1 if none).
        tensor: The tensor stored at exactly this name, if there is one (a leaf).
        children: Child nodes in first-seen order (numbered ones in numeric order).

    """

    name: str
    path: str
    params: int = 0
    tensors: int = 0
    count: int = 1
    tensor: TensorSpec | None = None
    children: list[TreeNode] = field(default_factory=list)

    @property
    def params_each(self) -> int:
        """Elements in one of the ``count`` copies this node stands for."""
        return self.params // self.count

    def to_dict(self) -> dict[str, object]:
        """Plain data for JSON (see ``report/inspect.schema.json``)."""
        data = self.to_dict_shallow()
        data["children"] = [child.to_dict() for child in self.children]
        return data

    def to_dict_shallow(self) -> dict[str, object]:
        """:meth:`to_dict` without ``children`` (for writers that stream them)."""
        data: dict[str, object] = {
            "name": self.name,
            "path": self.path,
            "params": self.params,
            "tensors": self.tensors,
            "count": self.count,
        }
        if self.tensor is not None:
            data["shape"] = list(self.tensor.shape)
            data["dtype"] = self.tensor.dtype
        return data

    def __repr__(self) -> str:
        times = f" ×{self.count}" if self.count > 1 else ""
        return f"<TreeNode {self.path or '<root>'}{times} {self.params} params>"


@dataclass(frozen=True)
class NameGroup:
    """Names that differ only in their layer numbers, under one template.

    Attributes:
        template: The name with numbered segments replaced by sets, e.g.
            ``"blocks.{0..27}.attn.qkv.weight"``.
        names: Every name the template stands for, in input order.

    """

    template: str
    names: tuple[str, ...]

    @property
    def count(self) -> int:
        """How many names the template stands for."""
        return len(self.names)

    def __str__(self) -> str:
        return self.template if self.count == 1 else f"{self.template} ×{self.count}"


def filter_names(names: Iterable[str], pattern: str | None) -> list[str]:
    """Keep the names that match a shell-style ``pattern`` on the full name (all if ``None``)."""
    if pattern is None:
        return list(names)
    return [name for name in names if fnmatch.fnmatchcase(name, pattern)]


def build_tree(
    tensors: Manifest | Mapping[str, TensorSpec],
    *,
    pattern: str | None = None,
    collapse: bool = True,
    join_chains: bool = True,
) -> TreeNode:
    """Build the module tree of a manifest's tensors, with parameter counts per node.

    Args:
        tensors: A :class:`~weightfit.manifest.Manifest` or a name-to-spec mapping.
        pattern: Keep only tensors whose full name matches this glob (``fnmatch``).
        collapse: Fold numbered siblings with identical structure (same child names,
            shapes and dtypes) into one node; runs of consecutive numbers only.
        join_chains: Join a module with its only child (``model`` → ``model.layers.{0..27}``).

    Returns:
        The root :class:`TreeNode` (``name`` and ``path`` empty).

    Example:
        >>> root = build_tree(weightfit.read("model.safetensors"))  # doctest: +SKIP
        >>> [child.name for child in root.children]  # doctest: +SKIP
        ['model', 'lm_head.weight']

    """
    specs = tensors.tensors if isinstance(tensors, Manifest) else tensors
    with gc_paused():
        columns = specs.columns if isinstance(specs, TensorTable) and pattern is None else None
        if columns is not None:
            # A header read as columns: its tensors become specs only where the tree shows one.
            rows = _Rows(columns.names, columns.row_kinds(), columns.spec, {})
        else:
            names = filter_names(specs, pattern)
            listed = list(specs.values()) if pattern is None else [specs[n] for n in names]
            rows = _Rows(names, list(map(_SHAPE_AND_DTYPE, listed)), listed.__getitem__, {})
        return _build(rows, collapse, join_chains)


@dataclass(frozen=True)
class _Rows:
    """The tensors a tree is built over, by row: names, (shape, dtype) per row, spec of a row.

    Leaves of the raw tree are row numbers, so a header kept as columns
    (:class:`~weightfit.manifest.TensorColumns`) makes a spec only for the
    leaves the tree keeps. ``ids`` numbers subtree structures (:func:`_signature`).
    """

    names: Sequence[str]
    kinds: Sequence[Kind]
    spec: Callable[[int], TensorSpec]
    ids: Signatures


def _build(rows: _Rows, collapse: bool, join_chains: bool) -> TreeNode:
    """Build the tree (see :func:`build_tree`).

    One pass over the names; a tensor is its own leaf (its row number, no node
    object per tensor) until a longer name makes it a module too.
    """
    root = _Raw()
    # Parents by dotted prefix: most names share their parent with the name before.
    parents: dict[str, _Raw] = {"": root}
    previous, parent = "", root
    for row, name in enumerate(rows.names):
        prefix, _, last = name.rpartition(".")
        if prefix != previous:
            previous = prefix
            found = parents.get(prefix)
            parent = parents[prefix] = _walk(root, prefix) if found is None else found
        node = parent.children.setdefault(last, row)
        if node is not row:  # setdefault returns the row it stored, or the module there
            cast(_Raw, node).tensor = row  # a module made by a longer name seen first
    tree = _convert(root, "", "", collapse, rows)
    if join_chains:
        tree.children = [_join(child) for child in tree.children]
    return tree


def _walk(root: _Raw, prefix: str) -> _Raw:
    """The node at a dotted prefix, made along the way (a tensor there becomes a module)."""
    node = root
    for segment in prefix.split("."):
        child = node.children.get(segment)
        if not isinstance(child, _Raw):
            made = _Raw()
            made.tensor = child
            node.children[segment] = made  # an existing key keeps its place
            node.branches += 1
            child = made
        node = child
    return node


def limit_depth(node: TreeNode, depth: int | None) -> TreeNode:
    """Copy ``node`` without anything deeper than ``depth`` levels below it."""
    if depth is None:
        return node
    children = [limit_depth(child, depth - 1) for child in node.children] if depth > 0 else []
    return TreeNode(
        name=node.name,
        path=node.path,
        params=node.params,
        tensors=node.tensors,
        count=node.count,
        tensor=node.tensor,
        children=children,
    )


def collapse_names(names: Iterable[str]) -> list[NameGroup]:
    """Fold names that differ only in numbered segments into templated names.

    ``blocks.0.attn.qkv.weight`` ... ``blocks.27.attn.qkv.weight`` become one
    group ``blocks.{0..27}.attn.qkv.weight`` of 28 names. With several numbered
    segments, the groups are as large as a cartesian product allows
    (``down.{0..3}.res.{0..1}.w``); gaps give sets such as ``{0..3,5}``.

    Args:
        names: Dotted names, in the order they should be reported.

    Returns:
        The groups, ordered by the first name of each; every name lands in
        exactly one group.

    Example:
        >>> [str(g) for g in collapse_names(["b.0.w", "b.1.w", "b.2.w", "head.w"])]
        ['b.{0..2}.w ×3', 'head.w']

    """
    skeletons: dict[tuple[str, ...], dict[tuple[int, ...], str]] = {}
    for name in names:
        segments = name.split(".")
        numbers = tuple(int(s) for s in segments if is_layer_index(s))
        skeleton = tuple("{}" if is_layer_index(s) else s for s in segments)
        skeletons.setdefault(skeleton, {}).setdefault(numbers, name)
    groups: list[NameGroup] = []
    for skeleton, by_numbers in skeletons.items():
        if not by_numbers or () in by_numbers:
            groups.extend(NameGroup(name, (name,)) for name in by_numbers.values())
            continue
        for slots in _factor(list(by_numbers)):
            members = tuple(
                by_numbers[combo] for combo in itertools.product(*slots) if combo in by_numbers
            )
            groups.append(NameGroup(_fill(skeleton, slots), members))
    order = {name: i for i, name in enumerate(n for g in groups for n in g.names)}
    firsts = {g.template: min(order[n] for n in g.names) for g in groups}
    return sorted(groups, key=lambda g: firsts[g.template])


def format_numbers(numbers: Iterable[int]) -> str:
    """Write a set of layer numbers as text: ``{0..27}``, ``{0..3,5}``, or ``7`` alone."""
    values = sorted(set(numbers))
    if len(values) == 1:
        return str(values[0])
    runs: list[str] = []
    start = previous = values[0]
    for value in [*values[1:], None]:
        if value is not None and value == previous + 1:
            previous = value
            continue
        runs.append(str(start) if start == previous else f"{start}..{previous}")
        if value is not None:
            start = previous = value
    return "{" + ",".join(runs) + "}"


class _Raw:
    """A module before collapsing: children by segment, in insertion order.

    A child is a row number (:class:`_Rows`) while it is only a tensor, a
    ``_Raw`` once it is a module; ``tensor`` is the row of the tensor stored at
    the module's own name; ``branches`` counts the modules among the children.
    """

    __slots__ = ("branches", "children", "signature", "tensor")

    def __init__(self) -> None:
        self.children: dict[str, _Raw | int] = {}
        self.tensor: int | None = None
        self.signature: int | None = None
        self.branches = 0


def stack_of(name: str) -> tuple[str, int] | None:
    """Return the layer stack a name belongs to and its index: ``("model.layers", 3)``."""
    segments = name.split(".")
    for position, segment in enumerate(segments):
        if position > 0 and is_layer_index(segment):
            return ".".join(segments[:position]), int(segment)
    return None


@lru_cache(maxsize=1 << 16)
def is_layer_index(segment: str) -> bool:
    """Whether a dotted segment is a layer index: ASCII digits, no leading zero.

    The one definition (``align``, ``diagnose`` and the tree use it): ``"12"`` is
    one, ``"٣"`` (non-ASCII) and ``"01"`` (it would not survive ``int`` and back)
    are not.
    """
    return segment.isascii() and segment.isdigit() and (segment == "0" or segment[0] != "0")


Signatures = dict[object, int]
"""Each distinct subtree structure, numbered: equal subtrees get equal numbers."""
_SHAPE_AND_DTYPE = operator.attrgetter("shape", "dtype")


def _signature(node: _Raw | int, rows: _Rows) -> int:
    """Number a subtree's structure (names, shapes, dtypes): equal numbers, equal structure.

    Children are compared as sets of (name, structure): shards and pickles may
    list a block's tensors in any order. A module whose children are all tensors
    of one shape and dtype (most of a million-tensor header) is keyed by its
    names and that one kind, without a pair per child.
    """
    ids, kinds = rows.ids, rows.kinds
    if not isinstance(node, _Raw):
        return ids.setdefault(("leaf", *kinds[node]), len(ids))
    if node.signature is None:
        own = None if node.tensor is None else kinds[node.tensor]
        children = node.children
        key: object
        if not children:
            key = ("leaf", *own) if own is not None else ("empty",)
        elif node.branches == 0:
            # No module among the children: every child is a row.
            child_kinds = list(map(kinds.__getitem__, cast(dict[str, int], children).values()))
            found = set(child_kinds)
            if len(found) == 1:
                key = ("uniform", own, frozenset(children), found.pop())
            else:
                key = ("tensors", own, frozenset(zip(children, child_kinds, strict=True)))
        else:
            key = (
                "modules",
                own,
                frozenset((name, _signature(child, rows)) for name, child in children.items()),
            )
        node.signature = ids.setdefault(key, len(ids))
    return node.signature


def _convert(raw: _Raw | int, name: str, path: str, collapse: bool, rows: _Rows) -> TreeNode:
    """Turn a raw subtree into :class:`TreeNode`s, collapsing numbered runs.

    Children keep first-seen order; numbered ones appear in numeric order where
    the first of them was seen.
    """
    if not isinstance(raw, _Raw):
        spec = rows.spec(raw)
        return TreeNode(name=name, path=path, params=spec.numel, tensors=1, tensor=spec)
    tensor = None if raw.tensor is None else rows.spec(raw.tensor)
    node = TreeNode(name=name, path=path, tensor=tensor)
    if tensor is not None:
        node.params, node.tensors = tensor.numel, 1
    numbered = sorted((int(s), s) for s in raw.children if is_layer_index(s))
    runs = _runs(raw, numbered, rows) if collapse else [[s] for _, s in numbered]
    emitted_numbered = False
    for segment in raw.children:
        if not is_layer_index(segment):
            groups = [[segment]]
        elif emitted_numbered:
            continue
        else:
            groups, emitted_numbered = runs, True
        for run in groups:
            label = format_numbers(int(s) for s in run) if len(run) > 1 else run[0]
            child = _convert(
                raw.children[run[0]], label, f"{path}.{label}" if path else label, collapse, rows
            )
            child.count = len(run)
            child.params *= len(run)
            child.tensors *= len(run)
            node.children.append(child)
            node.params += child.params
            node.tensors += child.tensors
    return node


def _runs(raw: _Raw, numbered: Sequence[tuple[int, str]], rows: _Rows) -> list[list[str]]:
    """Consecutive numbered children with the same signature, as runs of segments."""
    runs: list[list[str]] = []
    previous: tuple[int, int] | None = None
    for number, segment in numbered:
        signature = _signature(raw.children[segment], rows)
        if previous is not None and previous == (number - 1, signature):
            runs[-1].append(segment)
        else:
            runs.append([segment])
        previous = (number, signature)
    return runs


def _join(node: TreeNode) -> TreeNode:
    """Join a node with its only child while it holds no tensor of its own."""
    while len(node.children) == 1 and node.tensor is None:
        child = node.children[0]
        node = TreeNode(
            name=f"{node.name}.{child.name}",
            path=child.path,
            params=node.params,
            tensors=node.tensors,
            count=node.count * child.count,
            tensor=child.tensor,
            children=child.children,
        )
    node.children = [_join(child) for child in node.children]
    return node


def _factor(combos: list[tuple[int, ...]]) -> list[list[list[int]]]:
    """Split number tuples into blocks, each the cartesian product of per-slot sets."""
    slots = [sorted({combo[i] for combo in combos}) for i in range(len(combos[0]))]
    if math.prod(len(s) for s in slots) == len(combos):
        return [slots]
    by_first: dict[int, list[tuple[int, ...]]] = {}
    for combo in combos:
        by_first.setdefault(combo[0], []).append(combo[1:])
    merged: dict[str, tuple[list[int], list[list[list[int]]]]] = {}
    for first in sorted(by_first):
        rest = _factor(by_first[first])
        key = repr(rest)
        if key in merged:
            merged[key][0].append(first)
        else:
            merged[key] = ([first], rest)
    return [[firsts, *block] for firsts, rest in merged.values() for block in rest]


def _fill(skeleton: tuple[str, ...], slots: list[list[int]]) -> str:
    """Put each slot's numbers into the ``{}`` places of a skeleton."""
    values = iter(slots)
    return ".".join(format_numbers(next(values)) if s == "{}" else s for s in skeleton)
