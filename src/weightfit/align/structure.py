"""The structural matcher: map two naming schemes by the shape of the model, not its words.

Both sides' leftover names are cut into **blocks** (the module under a name's
last varying index: ``layers.7``, ``layers.7.mlp.experts.3``) and **stacks** of
them (``layers.{i}``). Stacks are paired when their blocks carry the same
numbers of elements in the same order (a block's subtree, so fused projections,
transposed matrices and stacked experts do not change it); blocks are paired by
index order (offsets and an added or removed nesting level drop out; a reversed
stack is found when only the reversed order fits). Inside a pair of blocks,
tensors that share a template below the block (``attention.wq.weight``,
``mlp.experts.{j}.w1.weight``) are matched as groups:

1. the same name below the block;
2. the same shape and kind (``weight``/``bias``): alone, or among several by
   registration order and role words (:mod:`weightfit.align.roles`), where
   both must pick one assignment by a margin, or the group stays unmapped and
   is reported as ambiguous with its candidates;
3. a transposed matrix (GPT-2 ``Conv1D``), singleton axes (1×1 conv ↔ linear);
4. fused ↔ split by sums of first dimensions (q, k, v ↔ qkv, grouped-query
   sizes included; gate, up ↔ gate_up);
5. per-expert tensors ↔ one stacked tensor (``experts.{j}.w1`` ↔
   ``experts.gate_up_proj[E, …]``).

A manifest whose names are sorted (safetensors, GGUF) says nothing about
registration order, so order counts only where names are not sorted. Blocks
with the same structure are matched once; the answer is reused for the others.
Every mapping is *inferred*: it carries its evidence and a score.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import get_args

from weightfit.align.roles import conflict, leaf_kind, roles, similarity
from weightfit.align.sequence import match_sequences
from weightfit.alignment import Ambiguity, Inferred, InferredKind
from weightfit.manifest import TensorSpec
from weightfit.tree import is_layer_index as is_index

ROLE_WEIGHT = 3.0
"""Weight of role words against registration order (1) when same-shape tensors are assigned.

Roles decide where they tell tensors apart (``query`` is ``q_proj`` whatever the
order); order decides among tensors whose roles are alike (``w1``, ``w3`` of a
Meta MLP, or experts).
"""

MIN_MARGIN = 0.25
"""How much better (in those weights) the chosen assignment must be than the next."""

MAX_PERMUTED = 6
"""Largest set of same-shape groups whose assignments are all scored."""

PLAIN_LEAVES = frozenset({"weight", "bias", "gamma", "beta", "scale"})
"""Leaf names that say what kind of parameter a tensor is, not what it is for."""

DISTINCTIVE_NUMEL = 256
"""Elements from which a shape, unique on both sides of a root, is evidence alone."""


@dataclass
class _Group:
    """Tensors of one block that share a template below it (experts folded to ``{j}``)."""

    inner: str
    members: dict[tuple[int, ...], str]
    shape: tuple[int, ...]
    dtype: str
    order: int
    kind: str
    roles: frozenset[str]

    @property
    def count(self) -> int:
        return len(self.members)

    @property
    def nested(self) -> bool:
        return bool(next(iter(self.members)))

    def stacked_shape(self) -> tuple[int, ...]:
        return (len(self.members), *self.shape)


@dataclass
class _Block:
    stack: str
    index: tuple[int, ...]
    names: list[str] = field(default_factory=list)
    numel: int = 0
    first: int = 1 << 62
    path: str = ""
    nested: list[_Block] = field(default_factory=list)


@dataclass
class _Side:
    """One manifest's leftovers cut into stacks of blocks."""

    specs: Mapping[str, TensorSpec]
    blocks: dict[tuple[str, tuple[int, ...]], _Block] = field(default_factory=dict)
    order: dict[str, int] = field(default_factory=dict)
    ordered: bool = True

    def stacks(self) -> dict[str, list[_Block]]:
        found: dict[str, list[_Block]] = defaultdict(list)
        for block in self.blocks.values():
            found[block.stack].append(block)
        for blocks in found.values():
            blocks.sort(key=lambda b: b.index)
        return found


@dataclass
class StructureResult:
    """What the structural matcher mapped, and what it could not decide."""

    inferred: list[Inferred] = field(default_factory=list)
    ambiguous: list[Ambiguity] = field(default_factory=list)


def match_structure(
    source: Mapping[str, TensorSpec],
    target: Mapping[str, TensorSpec],
    whole: tuple[Mapping[str, TensorSpec], Mapping[str, TensorSpec]] | None = None,
) -> StructureResult:
    """Map leftover source names to leftover target names by structure.

    Args:
        source: Leftover checkpoint tensors by (prefix-transformed) name, in file order.
        target: Leftover model tensors by name, in registration order.
        whole: Both sides' tensors, matched or not (same naming): subtrees are
            compared whole when sequences are aligned (:mod:`.sequence`).

    Returns:
        A :class:`StructureResult` whose names are the keys given.
    """
    result = StructureResult()
    if not source or not target:
        return result
    left, right = _cut(source), _cut(target)
    cache: dict[tuple[object, object], list[Decision]] = {}
    for block_pairs, stack_evidence in _pair_stacks(left, right):
        for block_s, block_t in block_pairs:
            _match_blocks(left, right, block_s, block_t, stack_evidence, cache, result)
    _match_sequences(left, right, cache, result, whole)
    root_s = left.blocks.get(("", ()))
    root_t = right.blocks.get(("", ()))
    if root_s is not None and root_t is not None and (result.inferred or _balanced(root_s, root_t)):
        used = {n for item in result.inferred for n in (*item.sources, *item.targets)}
        used.update(n for doubt in result.ambiguous for n in (*doubt.candidates, *doubt.targets))
        root_s = _Block("", (), [n for n in root_s.names if n not in used])
        root_t = _Block("", (), [n for n in root_t.names if n not in used])
        _match_blocks(left, right, root_s, root_t, "", cache, result, root=True)
    return result


def _match_sequences(
    left: _Side,
    right: _Side,
    cache: dict[tuple[object, object], list[Decision]],
    result: StructureResult,
    whole: tuple[Mapping[str, TensorSpec], Mapping[str, TensorSpec]] | None,
) -> None:
    """Flattened ↔ nested containers (:mod:`.sequence`), on what stacks left unmatched.

    Subtrees are compared whole (what other passes matched inside them still
    counts for their signatures); only leftovers are mapped.
    """
    used = {n for item in result.inferred for n in (*item.sources, *item.targets)}
    used.update(n for doubt in result.ambiguous for n in (*doubt.candidates, *doubt.targets))
    rest_s = {n: s for n, s in left.specs.items() if n not in used}
    rest_t = {n: s for n, s in right.specs.items() if n not in used}
    if not rest_s or not rest_t:
        return
    for pair in match_sequences(*(whole or (rest_s, rest_t))):
        names_s = [n for n in pair.source.names if n in rest_s]
        names_t = [n for n in pair.target.names if n in rest_t]
        if not names_s or not names_t:
            continue
        block_s = _Block("", (), names_s, path=pair.source.path)
        block_t = _Block("", (), names_t, path=pair.target.path)
        _match_blocks(left, right, block_s, block_t, pair.evidence, cache, result)


def _balanced(root_s: _Block, root_t: _Block) -> bool:
    """Whether the roots' leftovers could be one-to-one (as many on each side).

    Without a matched stack (no other sign of a change of naming scheme), a
    root tensor of unique shape is mapped only when nothing is left over beside
    it: ``pos_embed`` against ``pos_embed_spatial`` and ``pos_embed_temporal`` is
    another cause (a factorised table), not a rename.
    """
    return len(root_s.names) == len(root_t.names)


# --- blocks and stacks -----------------------------------------------------------


def _cut(specs: Mapping[str, TensorSpec]) -> _Side:
    """Cut names into blocks at their last varying index."""
    side = _Side(specs)
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
            block = side.blocks[key] = _Block(key[0], key[1])
        block.names.append(name)
    # A nested stack's parent blocks exist even when none of their own tensors is
    # left over (the experts of a layer whose attention matched by name).
    for block in list(side.blocks.values()):
        up = _parent_key(block)
        if up is not None and up not in side.blocks:
            side.blocks[up] = _Block(*up)
    # A block's size counts the blocks nested in it: experts stacked on one side
    # and kept apart on the other still weigh the same.
    for block in side.blocks.values():
        block.numel = sum(_numel(specs[n]) for n in block.names)
        block.first = min((side.order[n] for n in block.names), default=block.first)
    nested = [b for b in side.blocks.values() if b.stack]
    by_prefix = {_prefix(b): b for b in nested}
    for block in sorted(nested, key=lambda b: -len(b.index)):
        parent = _parent(block, by_prefix)
        if parent is not None:
            parent.numel += block.numel
            parent.first = min(parent.first, block.first)
            parent.nested.append(block)
            parent.nested.extend(block.nested)
    return side


def _parent_key(block: _Block) -> tuple[str, tuple[int, ...]] | None:
    """The key of the block one varying index up (``layers.{}`` for ``layers.{}.experts.{}``)."""
    if len(block.index) < 2:
        return None
    segments = block.stack.split(".")
    slots = [position for position, segment in enumerate(segments) if segment == "{}"]
    return ".".join(segments[: slots[-2] + 1]), block.index[:-1]


def _prefix(block: _Block) -> str:
    if block.path:
        return block.path
    parts = iter(str(i) for i in block.index)
    return ".".join(next(parts) if s == "{}" else s for s in block.stack.split("."))


def _parent(block: _Block, by_prefix: Mapping[str, _Block]) -> _Block | None:
    segments = _prefix(block).split(".")
    for cut in range(len(segments) - 1, 0, -1):
        found = by_prefix.get(".".join(segments[:cut]))
        if found is not None and found is not block:
            return found
    return None


def _numel(spec: TensorSpec) -> int:
    return math.prod(spec.shape) if spec.shape_known else 0


def _pair_stacks(left: _Side, right: _Side) -> list[tuple[list[tuple[_Block, _Block]], str]]:
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
    stacks_s: Mapping[str, list[_Block]], stacks_t: Mapping[str, list[_Block]]
) -> list[tuple[str, str, tuple[list[tuple[_Block, _Block]], str]]]:
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


def _root_modules(side: _Side) -> dict[str, list[_Block]]:
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
        block = _Block(ROOT_STACK, (position,), names, path=head)
        block.numel = sum(_numel(side.specs[n]) for n in names)
        block.first = min(side.order[n] for n in names)
        blocks.append(block)
    return {ROOT_STACK: blocks}


def _under(stack: str, done: set[str]) -> bool:
    return stack in done or any(stack.startswith(d + ".") for d in done)


def _is_nested(stack: str, stacks: Mapping[str, object]) -> bool:
    segments = stack.split(".")
    return any(".".join(segments[:cut]) in stacks for cut in range(1, len(segments)))


# --- inside a pair of blocks ----------------------------------------------------


def _subtree(side: _Side, block: _Block, root: bool) -> list[str]:
    """Names in a block and the blocks nested in it (the root: only its own)."""
    if root:
        return list(block.names)
    names = list(block.names)
    for other in block.nested:
        names.extend(other.names)
    names.sort(key=lambda n: side.order[n])
    return names


def _groups(side: _Side, names: Iterable[str], prefix: str) -> list[_Group]:
    """Group a block's names by their template below the block (nested indices folded)."""
    found: dict[str, _Group] = {}
    for name in names:
        spec = side.specs[name]
        rest = name[len(prefix) :] if prefix else name
        segments = rest.split(".")
        index = tuple(int(s) for s in segments if is_index(s))
        inner = ".".join("{}" if is_index(s) else s for s in segments)
        group = found.get(inner)
        if group is None:
            # The roles are the module's; a leaf named after its role (``q_bias``) adds its own.
            module, _, leaf = inner.rpartition(".")
            if leaf.lower() not in PLAIN_LEAVES:
                module = inner
            group = found[inner] = _Group(
                inner=inner,
                members={},
                shape=spec.shape,
                dtype=spec.dtype,
                order=side.order[name],
                kind=leaf_kind(inner),
                roles=roles(module),
            )
        if spec.shape != group.shape:
            group.shape = ()  # members disagree: only name equality can match it
        group.members[index] = name
    out: list[_Group] = []
    for group in found.values():
        if len(group.members) == 1:
            group.members = {(): next(iter(group.members.values()))}
        if group.shape or not group.nested:
            out.append(group)
            continue
        # Members of differing shapes (a ``Sequential``'s norm and conv folded to
        # ``in_layers.{}.weight``) are not one group: each stands alone, by its full name.
        for name in group.members.values():
            spec = side.specs[name]
            inner = name[len(prefix) :] if prefix else name
            module, _, leaf = inner.rpartition(".")
            out.append(
                _Group(
                    inner=inner,
                    members={(): name},
                    shape=spec.shape,
                    dtype=spec.dtype,
                    order=side.order[name],
                    kind=leaf_kind(inner),
                    roles=roles(module if leaf.lower() in PLAIN_LEAVES else inner),
                )
            )
    out.sort(key=lambda g: g.order)
    return out


def _match_blocks(
    left: _Side,
    right: _Side,
    block_s: _Block,
    block_t: _Block,
    stack_evidence: str,
    cache: dict[tuple[object, object], list[tuple[str, list[int], list[int], str, float]]],
    result: StructureResult,
    *,
    root: bool = False,
) -> None:
    prefix_s = "" if root else _prefix(block_s) + "."
    prefix_t = "" if root else _prefix(block_t) + "."
    groups_s = _groups(left, _subtree(left, block_s, root), prefix_s)
    groups_t = _groups(right, _subtree(right, block_t, root), prefix_t)
    key = (_signature(groups_s), _signature(groups_t))
    if key not in cache:
        cache[key] = _decide(groups_s, groups_t, left.ordered, right.ordered, root)
    for kind, picked_s, picked_t, evidence, score in cache[key]:
        parts_s = [groups_s[i] for i in picked_s]
        parts_t = [groups_t[i] for i in picked_t]
        full = f"{stack_evidence}; {evidence}" if stack_evidence else evidence
        if kind == "ambiguous":
            result.ambiguous.append(
                Ambiguity(
                    targets=tuple(n for g in parts_t for n in g.members.values()),
                    candidates=tuple(n for g in parts_s for n in g.members.values()),
                    evidence=full,
                )
            )
            continue
        result.inferred.extend(_expand(kind, parts_s, parts_t, full, score))


def _signature(groups: list[_Group]) -> tuple[object, ...]:
    return tuple((g.inner, g.shape, g.dtype, tuple(sorted(g.members))) for g in groups)


Decision = tuple[str, list[int], list[int], str, float]


def _decide(
    groups_s: list[_Group], groups_t: list[_Group], ordered_s: bool, ordered_t: bool, root: bool
) -> list[Decision]:
    """Decide which groups of two matched blocks are which (by group positions)."""
    decisions: list[Decision] = []
    open_s = set(range(len(groups_s)))
    open_t = set(range(len(groups_t)))

    def take(kind: str, s: list[int], t: list[int], evidence: str, score: float) -> None:
        decisions.append((kind, s, t, evidence, score))
        open_s.difference_update(s)
        open_t.difference_update(t)

    # 1. the same name below the block
    by_inner = {groups_t[i].inner: i for i in open_t}
    for i in sorted(open_s):
        j = by_inner.get(groups_s[i].inner)
        if j is not None and j in open_t and _fits(groups_s[i], groups_t[j]) is not None:
            take(
                _fits(groups_s[i], groups_t[j]) or "rename",
                [i],
                [j],
                "same name in matched blocks",
                0.97,
            )
    use_order = ordered_s and ordered_t
    # 2. same shape, then a transposed matrix, then singleton axes
    for transform in ("rename", "transpose", "reshape"):
        classes: dict[object, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
        for i in open_s:
            for key in _class_keys(groups_s[i], transform, source=True):
                classes[key][0].append(i)
        for j in open_t:
            for key in _class_keys(groups_t[j], transform, source=False):
                classes[key][1].append(j)
        for members_s, members_t in classes.values():
            members_s = sorted(i for i in members_s if i in open_s)
            members_t = sorted(j for j in members_t if j in open_t)
            if not members_s or not members_t:
                continue
            for decision in _assign(
                groups_s, groups_t, members_s, members_t, transform, use_order, root
            ):
                take(*decision)
    # 3. fused ↔ split, 4. per-expert ↔ stacked
    for decision in _many(groups_s, groups_t, open_s, open_t, use_order):
        take(*decision)
    return _square_transposes(decisions, groups_s)


def _square_transposes(decisions: list[Decision], groups_s: list[_Group]) -> list[Decision]:
    """Transpose square matrices too when every other matrix of the blocks is transposed.

    A square matrix's shape cannot tell ``[out, in]`` from ``[in, out]``; a
    codebase stores all its matrices one way (GPT-2's ``Conv1D``), so the
    non-square ones of the same blocks decide.
    """

    def matrix(decision: Decision) -> tuple[int, ...] | None:
        shape = groups_s[decision[1][0]].shape if len(decision[1]) == 1 else ()
        return shape if len(shape) == 2 and groups_s[decision[1][0]].kind == "weight" else None

    kinds = {d[0] for d in decisions if (m := matrix(d)) is not None and m[0] != m[1]}
    if kinds != {"transpose"}:
        return decisions
    changed = []
    for decision in decisions:
        kind, picked_s, picked_t, evidence, score = decision
        shape = matrix(decision)
        if kind == "rename" and shape is not None and shape[0] == shape[1]:
            evidence += "; square, and every other matrix of the block is transposed"
            decision = ("transpose", picked_s, picked_t, evidence, min(score, 0.75))
        changed.append(decision)
    return changed


def _fits(source: _Group, target: _Group) -> str | None:
    """The one-to-one op kind that turns a source group into a target group, if any."""
    if source.kind != target.kind or source.count != target.count:
        return None
    if set(source.members) != set(target.members) and source.nested:
        return None
    if source.shape == target.shape:
        return "rename"
    if len(source.shape) == 2 and source.shape[::-1] == target.shape:
        return "transpose"
    if source.shape and _squeezed(source.shape) == _squeezed(target.shape):
        return "reshape"
    return None


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(s for s in shape if s != 1)


def _class_keys(group: _Group, transform: str, *, source: bool) -> list[object]:
    if not group.shape and group.nested:
        return []
    shape = group.shape
    if transform == "transpose":
        if len(shape) != 2 or shape[0] == shape[1]:
            return []
        shape = shape[::-1] if source else shape
    elif transform == "reshape":
        shape = _squeezed(shape)
    return [(group.kind, shape, group.count, tuple(sorted(group.members)) if group.nested else ())]


def _assign(
    groups_s: list[_Group],
    groups_t: list[_Group],
    members_s: list[int],
    members_t: list[int],
    transform: str,
    use_order: bool,
    root: bool,
) -> list[Decision]:
    """Assign same-shape groups one to one, or leave them ambiguous."""
    if len(members_s) == 1 and len(members_t) == 1:
        s, t = groups_s[members_s[0]], groups_t[members_t[0]]
        words = similarity(s.roles, t.roles)
        if conflict(s.roles, t.roles):
            return []
        if root and words == 0 and math.prod(s.shape) < DISTINCTIVE_NUMEL:
            return []
        score = 0.9 if words > 0 else 0.8
        what = "the only tensor of its shape" + (" and role" if words > 0 else "")
        return [(transform, members_s, members_t, f"{what} in matched blocks", score)]
    if len(members_s) != len(members_t) or len(members_s) > MAX_PERMUTED:
        return [
            ("ambiguous", members_s, members_t, _ambiguous(len(members_s), len(members_t)), 0.0)
        ]
    scored = []
    for perm in itertools.permutations(range(len(members_t))):
        words = sum(
            similarity(groups_s[members_s[a]].roles, groups_t[members_t[b]].roles)
            - conflict(groups_s[members_s[a]].roles, groups_t[members_t[b]].roles)
            for a, b in enumerate(perm)
        ) / len(perm)
        order = float(use_order and perm == tuple(range(len(perm))))
        scored.append((ROLE_WEIGHT * words + order, words, order, perm))
    scored.sort(key=lambda item: -item[0])
    best, second = scored[0], scored[1]
    if best[0] - second[0] < MIN_MARGIN:
        return [
            ("ambiguous", members_s, members_t, _ambiguous(len(members_s), len(members_t)), 0.0)
        ]
    _, words, order, perm = best
    if order == 1.0 and words >= 0.5:
        evidence, score = f"registration order and roles agree among {len(perm)} of one shape", 0.85
    elif order == 1.0:
        evidence, score = f"registration order among {len(perm)} of one shape", 0.75
    else:
        evidence, score = f"roles among {len(perm)} of one shape", 0.7
    return [
        (transform, [members_s[a]], [members_t[b]], evidence, score) for a, b in enumerate(perm)
    ]


def _ambiguous(left: int, right: int) -> str:
    return (
        f"{left} checkpoint and {right} model tensors of one shape; neither order nor roles "
        "decide which is which"
    )


def _many(
    groups_s: list[_Group],
    groups_t: list[_Group],
    open_s: set[int],
    open_t: set[int],
    use_order: bool,
) -> list[Decision]:
    """Fused ↔ split and per-expert ↔ stacked groups, by sums of dimensions."""
    decisions: list[Decision] = []
    for fused_side in ("target", "source"):
        wholes, parts = (groups_t, groups_s) if fused_side == "target" else (groups_s, groups_t)
        open_w, open_p = (open_t, open_s) if fused_side == "target" else (open_s, open_t)
        for w in sorted(open_w):
            whole = wholes[w]
            if not whole.shape or w not in open_w:
                continue
            found = _parts_for(whole, parts, sorted(open_p))
            if found is None:
                continue
            kind, picked, evidence = found
            if fused_side == "target":
                decisions.append((kind, picked, [w], evidence, 0.8))
                open_s.difference_update(picked)
                open_t.discard(w)
            else:
                decisions.append((_reverse(kind), [w], picked, evidence, 0.8))
                open_t.difference_update(picked)
                open_s.discard(w)
    return decisions


def _reverse(kind: str) -> str:
    return {"concat": "split", "stack": "unstack", "stack_concat": "unstack_split"}[kind]


def _parts_for(
    whole: _Group, parts: list[_Group], candidates: list[int]
) -> tuple[str, list[int], str] | None:
    """Parts (in order) that concatenate or stack into ``whole``, with the op kind."""
    pool = [i for i in candidates if parts[i].kind == whole.kind and parts[i].shape]
    # per-expert groups stacked into one tensor, possibly fused along axis 1
    if not whole.nested and len(whole.shape) >= 2:
        experts = whole.shape[0]
        stacked = [i for i in pool if parts[i].nested and parts[i].count == experts]
        for size in (1, 2):
            for combo in itertools.combinations(stacked, size):
                shapes = [parts[i].shape for i in combo]
                if any(len(s) != len(whole.shape) - 1 or s[1:] != whole.shape[2:] for s in shapes):
                    continue
                if sum(s[0] for s in shapes) == whole.shape[1]:
                    kind = "stack" if size == 1 else "stack_concat"
                    return kind, list(combo), f"{experts} per-expert tensors stacked on axis 0"
    # parts concatenated on axis 0 (q, k, v ↔ qkv)
    same = [
        i
        for i in pool
        if parts[i].count == whole.count
        and set(parts[i].members) == set(whole.members)
        and len(parts[i].shape) == len(whole.shape)
        and parts[i].shape[1:] == whole.shape[1:]
        and parts[i].shape[0] < whole.shape[0]
    ]
    same.sort(key=lambda i: parts[i].order)
    for size in (3, 2):
        matches = [
            combo
            for combo in itertools.combinations(same, size)
            if sum(parts[i].shape[0] for i in combo) == whole.shape[0]
            and len({parts[i].inner.rsplit(".", 2)[0] for i in combo}) == 1
        ]
        if len(matches) == 1:
            sizes = [parts[i].shape[0] for i in matches[0]]
            return "concat", list(matches[0]), f"sibling tensors whose rows {sizes} add up"
    return None


# --- results --------------------------------------------------------------------


def _expand(
    kind: str, parts_s: list[_Group], parts_t: list[_Group], evidence: str, score: float
) -> list[Inferred]:
    """Turn a group decision into one :class:`Inferred` per tensor (or per fused set)."""
    out: list[Inferred] = []
    if kind in ("rename", "transpose", "reshape"):
        (s,), (t,) = parts_s, parts_t
        for index, name in s.members.items():
            target = t.members.get(index) if t.nested else next(iter(t.members.values()))
            if target is not None:
                out.append(Inferred((name,), (target,), _kind(kind), evidence, score))
        return out
    if kind == "concat":
        (t,) = parts_t
        for index, target in t.members.items():
            out.append(
                Inferred(
                    tuple(p.members[index] for p in parts_s), (target,), "concat", evidence, score
                )
            )
        return out
    if kind == "split":
        (s,) = parts_s
        for index, name in s.members.items():
            out.append(
                Inferred(
                    (name,), tuple(p.members[index] for p in parts_t), "split", evidence, score
                )
            )
        return out
    if kind in ("stack", "stack_concat"):
        (t,) = parts_t
        (target,) = t.members.values()
        sources = tuple(p.members[i] for p in parts_s for i in sorted(p.members))
        out.append(Inferred(sources, (target,), _kind(kind), evidence, score, parts=len(parts_s)))
        return out
    (s,) = parts_s
    (name,) = s.members.values()
    targets = tuple(p.members[i] for p in parts_t for i in sorted(p.members))
    out.append(Inferred((name,), targets, _kind(kind), evidence, score, parts=len(parts_t)))
    return out


def _kind(kind: str) -> InferredKind:
    assert kind in get_args(InferredKind)
    return kind  # type: ignore[return-value]
