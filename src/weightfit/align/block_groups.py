"""Inside a pair of matched blocks: tensors grouped by template, and which group is which.

Steps 1–5 of :mod:`weightfit.align.structure`: the same name below the block; the
same shape and kind (alone, or by registration order and role words by a margin,
else ambiguous); a transposed matrix or singleton axes; fused ↔ split;
per-expert ↔ stacked. Decisions name groups by position, so blocks of one
structure share them.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from weightfit.align.blocks import Side
from weightfit.align.roles import conflict, leaf_kind, roles, similarity
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
class Group:
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
        """How many tensors the group holds (one per expert, or one)."""
        return len(self.members)

    @property
    def nested(self) -> bool:
        """Whether the members sit under nested indices (``experts.{j}``)."""
        return bool(next(iter(self.members)))

    def stacked_shape(self) -> tuple[int, ...]:
        """The shape of the members stacked on a new first axis."""
        return (len(self.members), *self.shape)


def template_groups(side: Side, names: Iterable[str], prefix: str) -> list[Group]:
    """Group a block's names by their template below the block (nested indices folded)."""
    found: dict[str, Group] = {}
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
            group = found[inner] = Group(
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
    out: list[Group] = []
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
                Group(
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


Decision = tuple[str, list[int], list[int], str, float]


def decide(
    groups_s: list[Group], groups_t: list[Group], ordered_s: bool, ordered_t: bool, root: bool
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


def _square_transposes(decisions: list[Decision], groups_s: list[Group]) -> list[Decision]:
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


def _fits(source: Group, target: Group) -> str | None:
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


def _class_keys(group: Group, transform: str, *, source: bool) -> list[object]:
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
    groups_s: list[Group],
    groups_t: list[Group],
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
    groups_s: list[Group],
    groups_t: list[Group],
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
    whole: Group, parts: list[Group], candidates: list[int]
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
