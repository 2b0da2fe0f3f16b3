"""Rename inference: pair leftover templates by shape, name words, dtype and position.

Leftovers are grouped by template (``blocks.{i}.attn.proj.weight``); groups are
bucketed by shape signature, scored, and paired one-to-one, best first. A second
round pairs groups whose shapes differ when their words agree strongly and the
pairing is the only plausible one on both sides.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from weightfit.align.names import LAYER, canonical_segment, slot_name, template, tokens
from weightfit.manifest import TensorSpec
from weightfit.tree import is_layer_index

PARAMETER_LEAVES = frozenset(
    {
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "num_batches_tracked",
        "in_proj_weight",
        "in_proj_bias",
        "scale",
        "absmax",
        "quant_map",
    }
)
"""Last segments naming a kind of parameter: only the same kind can be renamed into it."""

MIN_RENAME_SCORE = 0.6
"""Lowest score at which a pair of same-shape templates counts as a rename."""

DISTINCTIVE_NUMEL = 256
"""Elements from which a shape alone, unique on both sides, suggests a rename."""

MIN_RESHAPED_TOKEN_SIMILARITY = 0.7
"""Name-token similarity a pair of templates needs when their shapes differ."""

MAX_BUCKET_PAIRS = 40_000
"""Score at most this many template pairs in one bucket; larger buckets pair by tokens only."""


@dataclass
class Group:
    """The leftover names of one side that share a template."""

    template: str
    members: dict[tuple[int, ...], str]
    position: float
    shapes: dict[tuple[int, ...], tuple[int, ...]]
    dtype: str

    @property
    def leaf(self) -> str:
        """The parameter kind (``weight``, ``bias`` ...), or ``""`` for a free-form name."""
        leaf = canonical_segment(self.template.rsplit(".", 1)[-1])
        return leaf if leaf in PARAMETER_LEAVES else ""

    def shape_key(self) -> tuple[object, ...]:
        """Slot count and shape(s): uniform groups pair on their index intersection."""
        distinct = set(self.shapes.values())
        if len(distinct) == 1:
            return (len(next(iter(self.members))), "uniform", next(iter(distinct)))
        return (len(next(iter(self.members))), "per-index", tuple(sorted(self.shapes.items())))


def positions(names: Iterable[str]) -> dict[str, float]:
    """Relative position of each leftover inside its layer's leftovers (in file order).

    Names without a layer index share one "layer": the whole file.
    """
    layer_of: dict[str, str] = {}
    sizes: Counter[str] = Counter()
    for name in names:
        match = LAYER.match(name)
        layer = match.group() if match is not None else ""
        layer_of[name] = layer
        sizes[layer] += 1
    seen: Counter[str] = Counter()
    positions = {}
    for name, layer in layer_of.items():
        size = sizes[layer]
        positions[name] = seen[layer] / (size - 1) if size > 1 else 0.0
        seen[layer] += 1
    return positions


def groups(
    names: Mapping[str, str], specs: Mapping[str, TensorSpec], positions: Mapping[str, float]
) -> list[Group]:
    """Group leftover names (keyed by comparable name, valued by real name) by template.

    Index slots that hold the same value in every member (``to_out.0``) are put
    back as literals, so only real layer indices remain placeholders.
    """
    raw: dict[str, dict[tuple[int, ...], str]] = defaultdict(dict)
    for canon in names:
        pattern, indices = template(canon)
        raw[pattern][indices] = canon
    groups = []
    for pattern, members in raw.items():
        first = next(iter(members))
        varying = [slot for slot in range(len(first)) if len({idx[slot] for idx in members}) > 1]
        if len(varying) < len(first):
            pattern = _keep_slots(next(iter(members.values())), varying)
            members = {tuple(idx[s] for s in varying): canon for idx, canon in members.items()}
        shapes = {idx: specs[names[canon]].shape for idx, canon in members.items()}
        position = sum(positions[canon] for canon in members.values()) / len(members)
        dtype = specs[names[next(iter(members.values()))]].dtype
        groups.append(Group(pattern, members, position, shapes, dtype))
    return groups


def _keep_slots(name: str, varying: Sequence[int]) -> str:
    """Template ``name`` with placeholders only at the given index slots (renumbered)."""
    segments = name.split(".")
    slot = kept = 0
    for position, segment in enumerate(segments):
        if is_layer_index(segment):
            if slot in varying:
                segments[position] = "{" + slot_name(kept) + "}"
                kept += 1
            slot += 1
    return ".".join(segments)


def pair_groups(
    sources: list[Group], targets: list[Group], *, same_shape: bool
) -> list[tuple[Group, Group, float]]:
    """Pair source and target templates one-to-one, best score first."""
    buckets: dict[object, tuple[list[Group], list[Group]]] = defaultdict(lambda: ([], []))
    for side, groups in ((0, sources), (1, targets)):
        for group in groups:
            key = group.shape_key() if same_shape else (len(next(iter(group.members))), group.leaf)
            buckets[key][side].append(group)
    weights = _token_weights([*sources, *targets])
    candidates: list[tuple[float, int, int, Group, Group]] = []
    order = 0
    for left, right in buckets.values():
        if not left or not right:
            continue
        unique = len(left) == 1 and len(right) == 1
        if len(left) * len(right) > MAX_BUCKET_PAIRS:
            pairs = _pairs_by_tokens(left, right)
        else:
            pairs = [(s, t) for s in left for t in right]
        for s, t in pairs:
            if s.leaf != t.leaf or not _indices_overlap(s, t):
                continue
            tokens = _token_similarity(s.template, t.template, weights)
            if same_shape:
                score = 0.35 + 0.45 * tokens + 0.1 * (s.dtype == t.dtype)
                score += 0.1 * (1 - abs(s.position - t.position))
                # The only pair of a shape is a rename when names share a word or
                # the shape is distinctive; lone scalars of unrelated names are not.
                if unique and (tokens > 0 or _numel(s) >= DISTINCTIVE_NUMEL):
                    score = max(score, MIN_RENAME_SCORE)
                if score < MIN_RENAME_SCORE:
                    continue
            else:
                if tokens < MIN_RESHAPED_TOKEN_SIMILARITY or _ndim(s) != _ndim(t):
                    continue
                score = 0.3 + 0.3 * tokens + 0.1 * (s.dtype == t.dtype)
            candidates.append((score, order, id(t), s, t))
            order += 1
    if not same_shape:
        # Without shape evidence a pairing must be the only plausible one on both sides.
        per_source = Counter(id(c[3]) for c in candidates)
        per_target = Counter(id(c[4]) for c in candidates)
        candidates = [c for c in candidates if per_source[id(c[3])] == per_target[id(c[4])] == 1]
    candidates.sort(key=lambda c: (-c[0], c[1]))
    used_source: set[int] = set()
    used_target: set[int] = set()
    chosen = []
    for score, _, _, s, t in candidates:
        if id(s) in used_source or id(t) in used_target:
            continue
        used_source.add(id(s))
        used_target.add(id(t))
        chosen.append((s, t, round(min(score, 1.0), 3)))
    return chosen


def _numel(group: Group) -> int:
    return math.prod(next(iter(group.shapes.values())))


def _ndim(group: Group) -> int:
    return len(next(iter(group.shapes.values())))


def _pairs_by_tokens(left: list[Group], right: list[Group]) -> list[tuple[Group, Group]]:
    """In an oversized bucket, only pair templates with identical canonical tokens."""
    by_tokens: dict[frozenset[str], list[Group]] = defaultdict(list)
    for group in right:
        by_tokens[frozenset(tokens(group.template))].append(group)
    return [(s, t) for s in left for t in by_tokens.get(frozenset(tokens(s.template)), [])]


def _indices_overlap(source: Group, target: Group) -> bool:
    """Whether most of the smaller group's layer indices exist in the other."""
    shared = len(source.members.keys() & target.members.keys())
    return shared > 0 and 2 * shared >= min(len(source.members), len(target.members))


def _token_weights(groups: Sequence[Group]) -> dict[str, float]:
    """Inverse document frequency of each token over all templates of both sides.

    Tokens every template has (``weight``, ``blocks``) say little about which
    template is which; rare ones (``q``, ``proj``, ``y_embedder``) say a lot.
    """
    frequency: Counter[str] = Counter()
    for group in groups:
        frequency.update(set(tokens(group.template)))
    total = len(groups) + 1
    return {token: math.log(total / count) for token, count in frequency.items()}


def _token_similarity(a: str, b: str, weights: Mapping[str, float]) -> float:
    """Dice coefficient of the two templates' canonical token sets, weighted by rarity."""
    left, right = set(tokens(a)), set(tokens(b))
    size = sum(weights.get(t, 1.0) for t in left) + sum(weights.get(t, 1.0) for t in right)
    if size == 0:
        return 1.0
    return 2 * sum(weights.get(t, 1.0) for t in left & right) / size


def core_rule(source: str, target: str) -> tuple[str, str]:
    """Drop the trailing segments two templates share (``a.x.weight`` → ``a.x``)."""
    left, right = source.split("."), target.split(".")
    while len(left) > 1 and len(right) > 1 and left[-1] == right[-1]:
        left.pop()
        right.pop()
    return ".".join(left), ".".join(right)
