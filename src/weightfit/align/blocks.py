"""Leftover names cut into blocks and stacks, and whole stacks paired, for the structural matcher.

A **block** is the module under a name's last varying index (``layers.7``,
``layers.7.mlp.experts.3``), a **stack** the blocks of one template
(``layers.{i}``). A block weighs its subtree's elements, the blocks nested in it
included; stacks pair when their blocks weigh the same in index order (or
reversed). :mod:`weightfit.align.structure` describes the whole matcher.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from weightfit.align.roles import roles, similarity
from weightfit.manifest import TensorSpec
from weightfit.tree import is_layer_index as is_index


@dataclass
class Block:
    """The tensors under one index of a stack (``layers.{}`` at 7), its subtree weighed."""

    stack: str
    index: tuple[int, ...]
    names: list[str] = field(default_factory=list)
    numel: int = 0
    first: int = 1 << 62
    path: str = ""
    nested: list[Block] = field(default_factory=list)


@dataclass
class Side:
    """One manifest's leftovers cut into stacks of blocks."""

    specs: Mapping[str, TensorSpec]
    blocks: dict[tuple[str, tuple[int, ...]], Block] = field(default_factory=dict)
    order: dict[str, int] = field(default_factory=dict)
    ordered: bool = True

    def stacks(self) -> dict[str, list[Block]]:
        """The blocks of each stack, in index order."""
        found: dict[str, list[Block]] = defaultdict(list)
        for block in self.blocks.values():
            found[block.stack].append(block)
        for blocks in found.values():
            blocks.sort(key=lambda b: b.index)
        return found


def cut_blocks(specs: Mapping[str, TensorSpec]) -> Side:
    """Cut names into blocks at their last varying index."""
    side = Side(specs)
    names = list(specs)
    side.ordered = names != sorted(names)
    side.order = {name: position for position, name in enumerate(names)}
    # Each index slot is keyed by the name up to it, every index folded.
    slots: dict[str, list[tuple[int, str]]] = {}
    values: dict[str, set[str]] = defaultdict(set)
    for name in names:
        found = []
        folded: list[str] = []
        for segment in name.split("."):
            if is_index(segment):
                slot = ".".join(folded)
                values[slot].add(segment)
                found.append((len(folded), slot))
                folded.append("{}")
            else:
                folded.append(segment)
        slots[name] = found
    for name in names:
        segments = name.split(".")
        varying = [p for p, slot in slots[name] if len(values[slot]) > 1]
        if not varying:
            key: tuple[str, tuple[int, ...]] = ("", ())
        else:
            head = segments[: varying[-1] + 1]
            marked = set(varying)
            stack = ".".join("{}" if p in marked else s for p, s in enumerate(head))
            key = (stack, tuple(int(segments[p]) for p in varying))
        block = side.blocks.get(key)
        if block is None:
            block = side.blocks[key] = Block(key[0], key[1])
        block.names.append(name)
    # A nested stack's parent blocks exist even when none of their own tensors is
    # left over (the experts of a layer whose attention matched by name).
    for block in list(side.blocks.values()):
        up = _parent_key(block)
        if up is not None and up not in side.blocks:
            side.blocks[up] = Block(*up)
    # A block's size counts the blocks nested in it: experts stacked on one side
    # and kept apart on the other still weigh the same.
    for block in side.blocks.values():
        block.numel = sum(_numel(specs[n]) for n in block.names)
        block.first = min((side.order[n] for n in block.names), default=block.first)
    nested = [b for b in side.blocks.values() if b.stack]
    by_prefix = {block_prefix(b): b for b in nested}
    for block in sorted(nested, key=lambda b: -len(b.index)):
        parent = _parent(block, by_prefix)
        if parent is not None:
            parent.numel += block.numel
            parent.first = min(parent.first, block.first)
            parent.nested.append(block)
            parent.nested.extend(block.nested)
    return side


def _parent_key(block: Block) -> tuple[str, tuple[int, ...]] | None:
    """The key of the block one varying index up (``layers.{}`` for ``layers.{}.experts.{}``)."""
    if len(block.index) < 2:
        return None
    segments = block.stack.split(".")
    slots = [position for position, segment in enumerate(segments) if segment == "{}"]
    return ".".join(segments[: slots[-2] + 1]), block.index[:-1]


def block_prefix(block: Block) -> str:
    """The path of a block's module (``layers.7``), its indices filled in."""
    if block.path:
        return block.path
    parts = iter(str(i) for i in block.index)
    return ".".join(next(parts) if s == "{}" else s for s in block.stack.split("."))


def _parent(block: Block, by_prefix: Mapping[str, Block]) -> Block | None:
    segments = block_prefix(block).split(".")
    for cut in range(len(segments) - 1, 0, -1):
        found = by_prefix.get(".".join(segments[:cut]))
        if found is not None and found is not block:
            return found
    return None


def _numel(spec: TensorSpec) -> int:
    return math.prod(spec.shape) if spec.shape_known else 0


def pair_stacks(left: Side, right: Side) -> list[tuple[list[tuple[Block, Block]], str]]:
    """Pair whole stacks whose blocks weigh the same, in order (or reversed).

    Top-level stacks first; then what is left at any depth, and the root's
    modules in registration order as one more stack: a level of nesting added
    or removed (``stage.{i}.blk.{j}`` ↔ ``layers.{k}``, a ``Sequential``'s ``0``,
    ``2`` ↔ ``fc1``, ``fc2``) lines up by the sequence of block sizes.
    """
    stacks_s = {k: v for k, v in left.stacks().items() if k}
    stacks_t = {k: v for k, v in right.stacks().items() if k}
    # Blocks nested in a block of the same side are matched inside it.
    top_s = {k: v for k, v in stacks_s.items() if not _is_nested(k, stacks_s)}
    top_t = {k: v for k, v in stacks_t.items() if not _is_nested(k, stacks_t)}
    paired = _pair_round(top_s, top_t)
    done_s = {ks for ks, _, _ in paired}
    done_t = {kt for _, kt, _ in paired}
    rest_s = {k: v for k, v in stacks_s.items() if not _under(k, done_s)}
    rest_t = {k: v for k, v in stacks_t.items() if not _under(k, done_t)}
    rest_s.update(_root_modules(left))
    rest_t.update(_root_modules(right))
    paired += _pair_round(rest_s, rest_t)
    return [(pairs, evidence) for _, _, (pairs, evidence) in paired]


def _pair_round(
    stacks_s: Mapping[str, list[Block]], stacks_t: Mapping[str, list[Block]]
) -> list[tuple[str, str, tuple[list[tuple[Block, Block]], str]]]:
    rank_s = {k: i for i, k in enumerate(sorted(stacks_s, key=lambda k: stacks_s[k][0].first))}
    rank_t = {k: i for i, k in enumerate(sorted(stacks_t, key=lambda k: stacks_t[k][0].first))}
    candidates: list[tuple[float, int, str, str, bool]] = []
    for ks, blocks_s in stacks_s.items():
        weights_s = [b.numel for b in blocks_s]
        for kt, blocks_t in stacks_t.items():
            if len(blocks_t) != len(blocks_s) or (ks == ROOT_STACK and kt == ROOT_STACK):
                continue
            weights_t = [b.numel for b in blocks_t]
            if weights_s == weights_t:
                reverse = False
            elif weights_s == weights_t[::-1]:
                reverse = True
            else:
                continue
            words = similarity(roles(ks), roles(kt))
            candidates.append((words, -abs(rank_s[ks] - rank_t[kt]), ks, kt, reverse))
    candidates.sort(key=lambda c: (-c[0], -c[1]))
    used_s: set[str] = set()
    used_t: set[str] = set()
    paired = []
    for _words, _, ks, kt, reverse in candidates:
        if ks in used_s or kt in used_t:
            continue
        used_s.add(ks)
        used_t.add(kt)
        blocks_t = stacks_t[kt][::-1] if reverse else stacks_t[kt]
        order = "reversed order" if reverse else "index order"
        evidence = f"stack {ks} ↔ {kt}: {len(blocks_t)} blocks of equal size, {order}"
        paired.append((ks, kt, (list(zip(stacks_s[ks], blocks_t, strict=True)), evidence)))
    return paired


ROOT_STACK = "<root modules>"
"""The stack the root's top-level modules make, in registration order."""


def _root_modules(side: Side) -> dict[str, list[Block]]:
    """The root block's names split by top-level module, as one stack (two modules or more)."""
    root = side.blocks.get(("", ()))
    if root is None:
        return {}
    modules: dict[str, list[str]] = {}
    for name in root.names:
        head = name.split(".", 1)[0] if "." in name else ""
        if head:
            modules.setdefault(head, []).append(name)
    if len(modules) < 2:
        return {}
    blocks = []
    for position, (head, names) in enumerate(modules.items()):
        block = Block(ROOT_STACK, (position,), names, path=head)
        block.numel = sum(_numel(side.specs[n]) for n in names)
        block.first = min(side.order[n] for n in names)
        blocks.append(block)
    return {ROOT_STACK: blocks}


def _under(stack: str, done: set[str]) -> bool:
    return stack in done or any(stack.startswith(d + ".") for d in done)


def _is_nested(stack: str, stacks: Mapping[str, object]) -> bool:
    segments = stack.split(".")
    return any(".".join(segments[:cut]) in stacks for cut in range(1, len(segments)))


def subtree(side: Side, block: Block, root: bool) -> list[str]:
    """Names in a block and the blocks nested in it (the root: only its own)."""
    if root:
        return list(block.names)
    names = list(block.names)
    for other in block.nested:
        names.extend(other.names)
    names.sort(key=lambda n: side.order[n])
    return names
