"""Turn a traced converter run into weightfit plan ops.

Each output of a :class:`~weightfit.converters.trace.Trace` is an expression
over checkpoint tensors (narrows, views, permutations, concatenations). The
plan made here computes the same values with our ops, in order, each naming the
tensors as the ops before it left them:

1. ``drop`` every checkpoint tensor the converter does not use;
2. per output, in the converter's order: the ops that make its value
   (``split`` for the narrows of one tensor, ``concat``, ``reshape``,
   ``transpose``), then a ``rename`` to its output name. A name still held by a
   tensor waiting its turn is freed first by renaming that tensor aside.

A plan only rearranges bytes and cannot copy a tensor, so a record that uses one
value twice (or slices one tensor into overlapping parts) is refused.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from weightfit.converters.trace import Node, Trace, TraceRefused, node_leaves
from weightfit.plan import Op


def plan_ops(trace: Trace, reason: str) -> list[Op]:
    """Return the ops that turn ``trace.source`` into the converter's output.

    Args:
        trace: The converter's record.
        reason: Every op's reason (names the converter and library version).

    Raises:
        TraceRefused: the converter uses a value twice or slices one tensor
            into overlapping parts (a plan cannot copy).

    """
    uses = _consumers(trace.outputs)
    groups = _split_groups(uses)
    emitter = _Emitter(reason=reason, outputs=set(trace.outputs), groups=groups)
    used = {leaf.name for node in trace.outputs.values() for leaf in node.leaves()}
    for name in trace.source.tensors:
        if name not in used:
            emitter.ops.append(Op("drop", {"name": name}, reason))
        else:
            emitter.live[name] = None
    for leaf in (n for node in trace.outputs.values() for n in node.leaves()):
        emitter.where[id(leaf)] = leaf.name
        emitter.live[leaf.name] = id(leaf)
    _prefix_renames(trace.outputs, emitter)
    for out, node in trace.outputs.items():
        emitter.dest.setdefault(id(node), out)
        while node.kind in ("view", "permute"):
            node = node.inputs[0]
            emitter.dest.setdefault(id(node), out)
    for out, node in trace.outputs.items():
        current = emitter.materialize(node, out)
        emitter.rename(current, out)
        emitter.done.add(out)
    return emitter.ops


def _prefix_renames(outputs: dict[str, Node], emitter: _Emitter) -> None:
    """One ``strip``/``add`` rename for each module the converter only renames.

    Tensors renamed alike (``…input_blocks.1.1.X`` → ``down_blocks.0.attentions.0.X``
    for every ``X``) move in one op when no other tensor starts with the old
    prefix and no new name is taken; the rest are renamed one by one later.
    """
    groups: dict[tuple[str, str], list[tuple[Node, str]]] = defaultdict(list)
    for out, node in outputs.items():
        if node.kind == "leaf" and node.name != out:
            groups[_prefixes(node.name, out)].append((node, out))
    for (strip, add), members in groups.items():
        if len(members) < 2:
            continue
        moved = {node.name for node, _ in members}
        others = [name for name in emitter.live if name not in moved]
        if any(name.startswith(strip) for name in others):
            continue
        if any(out in others for _, out in members):
            continue
        emitter.ops.append(Op("rename", {"strip": strip, "add": add}, emitter.reason))
        for node, _ in members:
            del emitter.live[node.name]
        for node, out in members:
            emitter.live[out] = id(node)
            emitter.where[id(node)] = out


def _prefixes(old: str, new: str) -> tuple[str, str]:
    """The prefixes before the longest common suffix of two names that starts a name part."""
    size = 0
    while size < min(len(old), len(new)) and old[-1 - size] == new[-1 - size]:
        size += 1
    while size:
        at_old, at_new = len(old) - size, len(new) - size
        if (at_old == 0 or old[at_old - 1] == ".") and (at_new == 0 or new[at_new - 1] == "."):
            break
        dot = old.find(".", at_old)
        size = len(old) - dot - 1 if dot != -1 else 0
    return old[: len(old) - size], new[: len(new) - size]


def _consumers(outputs: dict[str, Node]) -> dict[int, list[Node | str]]:
    """Who uses each node: the nodes made from it, and the outputs it is."""
    uses: dict[int, list[Node | str]] = defaultdict(list)
    seen: set[int] = set()

    def visit(node: Node) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        for child in node.inputs:
            uses[id(child)].append(node)
            visit(child)

    for out, node in outputs.items():
        uses[id(node)].append(out)
        visit(node)
    return uses


def _split_groups(uses: dict[int, list[Node | str]]) -> dict[int, list[Node]]:
    """For each tensor cut into narrows, its narrows by start; refuse any other reuse."""
    groups: dict[int, list[Node]] = {}
    for users in uses.values():
        narrows = [u for u in users if isinstance(u, Node) and u.kind == "narrow"]
        if narrows and len(narrows) == len(users):
            parent = narrows[0].inputs[0]
            ordered = sorted(narrows, key=lambda n: n.start)
            if len({n.dim for n in ordered}) > 1:
                raise TraceRefused(
                    f"slices {node_leaves(parent)} along two axes (a plan cannot copy it)"
                )
            for before, after in itertools.pairwise(ordered):
                if before.start + before.shape[before.dim] > after.start:
                    raise TraceRefused(
                        f"slices {node_leaves(parent)} into overlapping parts "
                        "(a plan cannot copy a tensor)"
                    )
            groups[id(parent)] = ordered
        elif len(users) > 1:
            node = next(u for u in users if isinstance(u, Node)) if narrows else None
            what = node_leaves(node.inputs[0]) if node is not None else _described(users)
            raise TraceRefused(f"uses {what} more than once (a plan cannot copy a tensor)")
    return groups


def _described(users: list[Node | str]) -> str:
    outs = [u for u in users if isinstance(u, str)]
    return "one value for " + ", ".join(outs[:3]) if outs else "one value"


@dataclass
class _Emitter:
    """Writes ops while tracking which name holds which value."""

    reason: str
    outputs: set[str]
    groups: dict[int, list[Node]]
    ops: list[Op] = field(default_factory=list)
    where: dict[int, str] = field(default_factory=dict)
    live: dict[str, int | None] = field(default_factory=dict)
    dest: dict[int, str] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)

    def materialize(self, node: Node, want: str) -> str:
        """Make ``node``'s value a tensor of the plan; return its current name."""
        if id(node) in self.where:
            return self.where[id(node)]
        if node.kind in ("view", "permute"):
            name = self.materialize(node.inputs[0], want)
            if node.kind == "view":
                self.ops.append(
                    Op("reshape", {"name": name, "shape": list(node.shape)}, self.reason)
                )
            else:
                args = {"name": name, "dims": list(node.dims)}
                self.ops.append(Op("transpose", args, self.reason))
            self._hold(name, node)
            return name
        if node.kind == "narrow":
            self._split(node.inputs[0], want)
            return self.where[id(node)]
        if node.kind == "cat":
            parts = [
                self.materialize(part, f"{want}~{index}") for index, part in enumerate(node.inputs)
            ]
            into = self._free(want)
            joined: dict[str, Any] = {"names": parts, "into": into, "dim": node.dim}
            self.ops.append(Op("concat", joined, self.reason))
            for part in parts:
                del self.live[part]
            self._hold(into, node)
            return into
        raise TraceRefused(f"recorded an unknown step {node.kind!r}")

    def _split(self, parent: Node, want: str) -> None:
        """One ``split`` of ``parent`` into its narrows (gaps become parts that are dropped)."""
        name = self.materialize(parent, want)
        narrows = self.groups[id(parent)]
        dim = narrows[0].dim
        into: list[str] = []
        sizes: list[int] = []
        gaps: list[str] = []
        position = 0
        for part in narrows:
            if part.start > position:
                gap = self._free(f"{name}~gap{len(gaps)}")
                self.live[gap] = None
                gaps.append(gap)
                into.append(gap)
                sizes.append(part.start - position)
            length = part.shape[dim]
            part_name = self._free(self.dest.get(id(part), f"{name}~{part.start}"))
            self.live[part_name] = id(part)
            self.where[id(part)] = part_name
            into.append(part_name)
            sizes.append(length)
            position = part.start + length
        if position < parent.shape[dim]:
            gap = self._free(f"{name}~gap{len(gaps)}")
            self.live[gap] = None
            gaps.append(gap)
            into.append(gap)
            sizes.append(parent.shape[dim] - position)
        del self.live[name]
        self.ops.append(
            Op("split", {"name": name, "into": into, "sizes": sizes, "dim": dim}, self.reason)
        )
        for gap in gaps:
            del self.live[gap]
            self.ops.append(Op("drop", {"name": gap}, self.reason))

    def _hold(self, name: str, node: Node) -> None:
        self.where[id(node)] = name
        self.live[name] = id(node)

    def _free(self, want: str) -> str:
        """``want`` if no tensor holds it and no later output needs it, else a fresh name."""
        if want not in self.live:
            return want
        index = 1
        while f"{want}~{index}" in self.live or f"{want}~{index}" in self.outputs:
            index += 1
        return f"{want}~{index}"

    def rename(self, current: str, out: str) -> None:
        """Give the value at ``current`` the output name ``out``, moving a blocker aside first."""
        if current == out:
            return
        if out in self.live:
            aside = self._free(f"{out}~moved")
            self._rename_op(out, aside)
            holder = self.live.pop(out)
            self.live[aside] = holder
            for key, name in self.where.items():
                if name == out:
                    self.where[key] = aside
        self._rename_op(current, out)
        holder = self.live.pop(current)
        self.live[out] = holder
        for key, name in self.where.items():
            if name == current:
                self.where[key] = out

    def _rename_op(self, old: str, new: str) -> None:
        if "{" in old or "}" in old:
            args = {"pattern": re.escape(old), "replacement": new.replace("\\", "\\\\")}
        else:
            args = {"from": old, "to": new}
        self.ops.append(Op("rename", args, self.reason))
