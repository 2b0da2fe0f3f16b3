"""Flattened ↔ nested index remaps: line up two sequences of subtrees.

One codebase numbers a model's modules in one run (``input_blocks.4.1``), another
nests them by stage and kind (``down_blocks.1.attentions.0``). Each side's
indexed containers are read as sequences: a *flattened* one is a run of
subtrees (**units**) in index order; a *nested* one is a run of **segments**,
each a module whose children are indexed containers of one kind each
(``resnets``, ``attentions``, ``downsamplers``). Read in order, a nested
segment's units may interleave in any way, but each kind keeps its own order.

A unit's signature is the multiset of its leaf shapes (singleton axes dropped,
so a 1×1 convolution and a linear layer look alike). A flattened sequence is
aligned with a nested one by dynamic programming over the order: every nested
unit must be matched to a flattened unit of equal signature; flattened units may
be left over. A pair of containers is kept only when exactly one alignment
matches the most units, and no other container fits as well: where signatures
repeat and order does not decide, nothing is mapped. Leaves inside the matched
units are then matched by the structural matcher's leaf rules.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache

from weightfit.manifest import TensorSpec
from weightfit.tree import is_layer_index as is_index


@dataclass
class _Node:
    path: str
    children: dict[str, _Node] = field(default_factory=dict)
    tensor: str | None = None


@dataclass(frozen=True)
class Unit:
    """One subtree: its path and the tensor names under it, in registration order."""

    path: str
    names: tuple[str, ...]


@dataclass(frozen=True)
class UnitPair:
    """Two units the sequence alignment matched, and why."""

    source: Unit
    target: Unit
    evidence: str


Segment = list[list[Unit]]
"""Kinds of units (each in index order) whose order among each other is free."""


def match_sequences(
    source: Mapping[str, TensorSpec], target: Mapping[str, TensorSpec]
) -> list[UnitPair]:
    """Pair units of flattened and nested containers of two manifests' leftovers.

    Args:
        source: Leftover checkpoint tensors by name, in file order.
        target: Leftover model tensors by name, in registration order.

    Returns:
        The matched units, source to target.
    """
    views_s = _containers(_tree(source))
    views_t = _containers(_tree(target))
    candidates: list[tuple[tuple[int, int], str, str, list[UnitPair]]] = []
    for path_s, (flat_s, nested_s) in views_s.items():
        for path_t, (flat_t, nested_t) in views_t.items():
            evidence = f"sequence {path_s} ↔ {path_t}"
            if flat_s is not None and nested_t is not None:
                found = _align_views(flat_s, source, nested_t, target, evidence)
                if found is not None:
                    candidates.append((found[0], path_s, path_t, found[1]))
            if nested_s is not None and flat_t is not None:
                found = _align_views(flat_t, target, nested_s, source, evidence)
                if found is not None:
                    pairs = [UnitPair(p.target, p.source, p.evidence) for p in found[1]]
                    candidates.append((found[0], path_s, path_t, pairs))
    candidates.sort(key=lambda c: (-c[0][0], -c[0][1]))
    used_s: list[str] = []
    used_t: list[str] = []
    out: list[UnitPair] = []
    for score, path_s, path_t, pairs in candidates:
        if _overlaps(path_s, used_s) or _overlaps(path_t, used_t):
            continue
        rivals = [
            c
            for c in candidates
            if c[0] == score
            and (c[1] == path_s) != (c[2] == path_t)
            and not _overlaps(c[1], used_s)
            and not _overlaps(c[2], used_t)
        ]
        used_s.append(path_s)
        used_t.append(path_t)
        if not rivals:
            out.extend(pairs)
    return out


def _overlaps(path: str, taken: list[str]) -> bool:
    """Whether a container is, contains or lies in one already taken."""
    return any(
        path == other or path.startswith(other + ".") or other.startswith(path + ".")
        for other in taken
    )


def _tree(specs: Mapping[str, TensorSpec]) -> _Node:
    root = _Node("")
    for name in specs:
        node = root
        for segment in name.split("."):
            child = node.children.get(segment)
            if child is None:
                path = f"{node.path}.{segment}" if node.path else segment
                child = node.children[segment] = _Node(path)
            node = child
        node.tensor = name
    return root


def _is_container(node: _Node) -> bool:
    """A module whose children are all indexed modules (a ``ModuleList``/``Sequential``)."""
    return bool(node.children) and all(
        is_index(key) and child.tensor is None and child.children
        for key, child in node.children.items()
    )


def _is_group(node: _Node) -> bool:
    """A module whose children are all containers, one per kind (``resnets``, ``attentions``)."""
    return (
        bool(node.children)
        and not _is_container(node)
        and all(not is_index(key) and _is_container(c) for key, c in node.children.items())
    )


def _names(node: _Node) -> tuple[str, ...]:
    if node.tensor is not None:
        return (node.tensor,)
    return tuple(n for child in node.children.values() for n in _names(child))


def _indexed(node: _Node) -> list[_Node]:
    return [node.children[k] for k in sorted(node.children, key=int)]


def _units(node: _Node) -> list[Unit]:
    """A container's units, nested containers read in index order."""
    out: list[Unit] = []
    for child in _indexed(node):
        out.extend(_units(child) if _is_container(child) else [Unit(child.path, _names(child))])
    return out


def _segments(node: _Node) -> list[Segment]:
    """A container's (or a group's) segments: single units, or groups of kinds."""
    if _is_group(node):
        return [[_units(kind) for kind in node.children.values()]]
    out: list[Segment] = []
    for child in _indexed(node):
        if _is_container(child) or _is_group(child):
            out.extend(_segments(child))
        else:
            out.append([[Unit(child.path, _names(child))]])
    return out


View = tuple[list[Unit] | None, list[Segment] | None]
"""A container read flattened (its units in index order) and nested (its segments)."""


def _containers(root: _Node) -> dict[str, View]:
    """The containers and groups below the root, each read both ways where it can be.

    A container's flattened view is its units; its nested view, only when some
    segment groups two kinds or more (``resnets`` and ``attentions``).
    """
    found: dict[str, View] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        for child in node.children.values():
            if _is_container(child) or _is_group(child):
                flat = _units(child) if _is_container(child) else None
                segments = _segments(child)
                nested = segments if any(len(seg) > 1 for seg in segments) else None
                found[child.path] = (flat, nested)
            # A group's kinds may be containers of their own (a model's top-level lists).
            if not _is_container(child) and child.children:
                stack.append(child)
    return found


def _signature(unit: Unit, specs: Mapping[str, TensorSpec]) -> tuple[tuple[int, ...], ...]:
    shapes = []
    for name in unit.names:
        spec = specs[name]
        if not spec.shape_known:
            return ()
        shapes.append(tuple(s for s in spec.shape if s != 1) or (math.prod(spec.shape),))
    return tuple(sorted(shapes))


def _align_views(
    flat: list[Unit],
    flat_specs: Mapping[str, TensorSpec],
    nested: list[Segment],
    nested_specs: Mapping[str, TensorSpec],
    evidence: str,
) -> tuple[tuple[int, int], list[UnitPair]] | None:
    """Align a flattened view with a nested one: ((units matched, −left over), flat → nested)."""
    matched = _align([_signature(u, flat_specs) for u in flat], nested, nested_specs)
    if matched is None:
        return None
    evidence += (
        f": {len(matched)} subtrees of equal leaf shapes, one order of the flattened "
        "and nested indices fits"
    )
    pairs = [UnitPair(flat[position], unit, evidence) for position, unit in matched]
    return (len(matched), len(matched) - len(flat)), pairs


def _align(
    flat: Sequence[tuple[tuple[int, ...], ...]],
    segments: list[Segment],
    specs: Mapping[str, TensorSpec],
) -> list[tuple[int, Unit]] | None:
    """The one alignment matching every nested unit to a flattened one, or ``None``."""
    signatures = [[[_signature(u, specs) for u in kind] for kind in seg] for seg in segments]
    total = sum(len(kind) for seg in segments for kind in seg)
    if total < 2 or any(not sig for sig in flat):
        return None

    @cache
    def best(f: int, g: int, pointers: tuple[int, ...]) -> tuple[int, int]:
        """(units matched from here, number of alignments doing so, capped at 2)."""
        if g == len(segments):
            return 0, 1
        kinds = signatures[g]
        if all(p == len(k) for p, k in zip(pointers, kinds, strict=True)):
            nxt = signatures[g + 1] if g + 1 < len(segments) else []
            return best(f, g + 1, tuple(0 for _ in nxt))
        if f == len(flat):
            return -1, 0
        options = [best(f + 1, g, pointers)]
        for k, kind in enumerate(kinds):
            p = pointers[k]
            if p < len(kind) and kind[p] == flat[f]:
                moved = (*pointers[:k], p + 1, *pointers[k + 1 :])
                sub = best(f + 1, g, moved)
                options.append((sub[0] + 1, sub[1]) if sub[0] >= 0 else sub)
        top = max(o[0] for o in options)
        if top < 0:
            return -1, 0
        return top, min(2, sum(o[1] for o in options if o[0] == top))

    start = tuple(0 for _ in signatures[0])
    matched, ways = best(0, 0, start)
    if matched != total or ways != 1:
        return None
    out: list[tuple[int, Unit]] = []
    f, g, pointers = 0, 0, start
    while g < len(segments):
        kinds = signatures[g]
        if all(p == len(k) for p, k in zip(pointers, kinds, strict=True)):
            g += 1
            pointers = tuple(0 for _ in signatures[g]) if g < len(segments) else ()
            continue
        here = best(f, g, pointers)[0]
        for k, kind in enumerate(kinds):
            p = pointers[k]
            if p < len(kind) and kind[p] == flat[f]:
                moved = (*pointers[:k], p + 1, *pointers[k + 1 :])
                if best(f + 1, g, moved)[0] + 1 == here:
                    out.append((f, segments[g][k][p]))
                    pointers = moved
                    break
        f += 1
    return out
