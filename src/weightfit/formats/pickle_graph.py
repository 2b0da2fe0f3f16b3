"""Walking the object graph a pickle VM built: dict-like nodes, containers, tensors under them.

Shared by :mod:`weightfit.formats.containers` (which finds state dicts) for
what is not itself about state dicts: every walk is bounded in visits and depth.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from weightfit.formats.pickle_nodes import Call, TensorRecord

MAX_DEPTH = 100
"""Deepest nesting of containers walked; real checkpoints nest fewer than 10 levels."""
MIN_VISITS = 10_000
"""Walk budget floor, for tiny pickles."""


def entries_of(node: Any) -> dict[Any, Any] | None:
    """Return the entries of a dict-like node: a dict, a dict subclass, an object's state."""
    if isinstance(node, dict):
        return node
    if isinstance(node, Call):
        if node.items is not None:
            return node.items
        if isinstance(node.state, dict):
            return node.state
    return None


def is_optimizer(mapping: dict[Any, Any]) -> bool:
    """``torch.optim.Optimizer.state_dict()``: ``{"state": ..., "param_groups": [...]}``."""
    return "state" in mapping and "param_groups" in mapping


def is_container(value: Any) -> bool:
    """Whether ``value`` can hold other values: a dict, list, tuple or reconstructed object."""
    return isinstance(value, dict | list | tuple | Call)


def count_tensors(node: Any) -> int:
    """Tensors under ``node`` (optimizer state), within a visit budget."""
    count, pending, visits = 0, [node], 0
    while pending and visits < MIN_VISITS * 10:
        item = pending.pop()
        visits += 1
        if isinstance(item, TensorRecord):
            count += 1
        elif (mapping := entries_of(item)) is not None:
            pending.extend(mapping.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return count


def loose_tensors(node: Any, path: str, seen: set[int], depth: int = 0) -> Iterator[str]:
    """Dotted paths of the tensors under ``node``, within the depth and visit limits."""
    if id(node) in seen or len(seen) > MIN_VISITS or depth > MAX_DEPTH:
        return
    seen.add(id(node))
    mapping = entries_of(node)
    items = (
        mapping.items()
        if mapping is not None
        else enumerate(node)
        if isinstance(node, list | tuple)
        else ()
    )
    for key, value in items:
        if isinstance(value, TensorRecord):
            yield f"{path}{key}"
        elif is_container(value):
            yield from loose_tensors(value, f"{path}{key}.", seen, depth + 1)
