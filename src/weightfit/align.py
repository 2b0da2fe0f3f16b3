"""Line up a checkpoint's manifest with a target's: which tensor is which.

Four passes, each on what the previous ones left:

1. **exact** names;
2. the **one global prefix transform** (strip / add / replace a leading run of
   dotted segments: ``module.``, ``_orig_mod.``, ``base_model.model.`` ...) that
   maps the most leftovers, derived from the names themselves, not from a list;
3. **rename inference**: names are folded into templates over layer indices
   (``blocks.{i}.attn.proj.weight``), templates are bucketed by shape, and
   paired by name tokens, dtype and position inside their layer; each pairing
   becomes a :class:`~weightfit.alignment.RenameRule` with a score. A second
   round pairs templates whose shapes differ when their names agree strongly;
4. **many-to-one structure**: sibling tensors whose first dimensions add up to a
   fused one (q, k, v ↔ qkv; k, v ↔ kv; gate, up ↔ gate_up), either direction.

Pairs may differ in shape: explaining shape differences is :mod:`weightfit.diagnose`'s
job. Rename templates are written over source names *after* the prefix transform,
the order in which a plan applies them. Every pass works on hash buckets (by name,
prefix split, shape signature or parent module), never on all pairs of tensors.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from weightfit.alignment import (
    Alignment,
    FusedGroup,
    MatchKind,
    Pair,
    PrefixTransform,
    RenameRule,
)
from weightfit.manifest import Manifest, TensorSpec

MAX_PREFIX_SEGMENTS = 4
"""Longest prefix (in dotted segments) the prefix pass considers on either side."""

PREFIX_SAMPLE = 4096
"""How many source names (evenly spread) vote for the prefix transform."""

MAX_PREFIX_COMBINATIONS = 64
"""Skip a shared name tail claimed by more prefix pairs than this (``weight``-like noise)."""

WRAPPER_SEGMENTS = frozenset(
    {
        "module",
        "_orig_mod",
        "_fsdp_wrapped_module",
        "_checkpoint_wrapped_module",
        "model",
        "base_model",
        "diffusion_model",
        "state_dict",
        "transformer",
        "ema",
        "ema_model",
        "net",
        "network",
    }
)
"""Segments that wrap a whole model (DDP, torch.compile, FSDP, PEFT, LDM, EMA ...).

Used only when no shared name tail reveals the prefix: see :func:`_wrapper_prefix`.
"""

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

MIN_RESHAPED_TOKEN_SIMILARITY = 0.7
"""Name-token similarity a pair of templates needs when their shapes differ."""

MAX_BUCKET_PAIRS = 40_000
"""Score at most this many template pairs in one bucket; larger buckets pair by tokens only."""

_SLOT_NAMES = "ijklmn"

# A dotted segment that is a plain decimal integer without leading zeros.
_INDEX = re.compile(r"(?<![^.])(?:0|[1-9][0-9]*)(?![^.])")
# Everything up to and including the last index segment: the layer a tensor sits in.
_LAYER = re.compile(r".*(?<![^.])(?:0|[1-9][0-9]*)(?![^.])")

# Segment spellings of the same role across libraries, folded before comparing
# tokens (diffusers to_q / transformers q_proj / timm qkv parts / old BERT gamma).
_SYNONYMS = {
    "query": "q",
    "to_q": "q",
    "q_proj": "q",
    "key": "k",
    "to_k": "k",
    "k_proj": "k",
    "value": "v",
    "to_v": "v",
    "v_proj": "v",
    "to_out": "out",
    "o_proj": "out",
    "out_proj": "out",
    "proj_attn": "out",
    "gamma": "weight",
    "beta": "bias",
    "gate_proj": "gate",
    "up_proj": "up",
    "down_proj": "down",
    "to_kv": "kv",
    "to_qkv": "qkv",
    "kv_proj": "kv",
    "qkv_proj": "qkv",
    "gate_up_proj": "gate_up",
}


def template(name: str) -> tuple[str, tuple[int, ...]]:
    """Fold the layer indices of a dotted name into placeholders.

    Args:
        name: A tensor or module name, e.g. ``"blocks.17.attn.qkv.weight"``.

    Returns:
        The template and the indices it replaced, in order:
        ``("blocks.{i}.attn.qkv.weight", (17,))``. Further indices use ``{j}``,
        ``{k}`` ...; a segment is an index only when it is a plain decimal
        integer without leading zeros.

    Example:
        >>> template("down.1.res.0.conv.weight")
        ('down.{i}.res.{j}.conv.weight', (1, 0))

    """
    indices: list[int] = []

    def placeholder(match: re.Match[str]) -> str:
        indices.append(int(match.group()))
        return "{" + _slot(len(indices) - 1) + "}"

    return _INDEX.sub(placeholder, name), tuple(indices)


def fill(pattern: str, indices: Sequence[int]) -> str:
    """Put ``indices`` back into a template made by :func:`template`."""
    return pattern.format(**{_slot(n): index for n, index in enumerate(indices)})


def align(source: Manifest, target: Manifest) -> Alignment:
    """Match a checkpoint's tensors to a target's, by name, prefix, rename and fusion.

    Args:
        source: The checkpoint's manifest.
        target: The target's manifest (a model built on ``meta``, another checkpoint).

    Returns:
        An :class:`~weightfit.alignment.Alignment`: matched pairs (shapes may differ),
        the prefix transform and rename rules that explain them, fused groups, and
        what is left on each side (``missing`` in target order, ``unexpected`` in
        source order).

    Example:
        >>> from weightfit.manifest import from_shapes
        >>> a = align(from_shapes({"module.fc.weight": (2, 3)}), from_shapes({"fc.weight": (2, 3)}))
        >>> a.prefix, len(a.pairs)
        (PrefixTransform(strip='module.', add=''), 1)

    """
    state = _State(source, target)
    state.match_exact()
    state.match_prefix()
    # Fusion before renames, so a rename never claims one part of a fused group.
    state.match_fused()
    state.match_renames()
    state.match_fused()
    return state.result()


@dataclass
class _Group:
    """The leftover names of one side that share a template."""

    template: str
    members: dict[tuple[int, ...], str]
    position: float
    shapes: dict[tuple[int, ...], tuple[int, ...]]
    dtype: str

    @property
    def leaf(self) -> str:
        """The parameter kind (``weight``, ``bias`` ...), or ``""`` for a free-form name."""
        leaf = _canonical_segment(self.template.rsplit(".", 1)[-1])
        return leaf if leaf in PARAMETER_LEAVES else ""

    def shape_key(self) -> tuple[object, ...]:
        """Slot count and shape(s): uniform groups pair on their index intersection."""
        distinct = set(self.shapes.values())
        if len(distinct) == 1:
            return (len(next(iter(self.members))), "uniform", next(iter(distinct)))
        return (len(next(iter(self.members))), "per-index", tuple(sorted(self.shapes.items())))


@dataclass
class _State:
    """Names still unmatched on each side, and what has been matched so far."""

    source: Manifest
    target: Manifest
    pairs: list[Pair] = field(default_factory=list)
    prefix: PrefixTransform | None = None
    renames: list[RenameRule] = field(default_factory=list)
    fused: list[FusedGroup] = field(default_factory=list)
    # Source leftovers keyed by their name after the prefix transform.
    left_source: dict[str, str] = field(default_factory=dict)
    left_target: dict[str, None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.left_source = {name: name for name in self.source.tensors}
        self.left_target = dict.fromkeys(self.target.tensors)

    def match_exact(self) -> None:
        for name in [n for n in self.left_source if n in self.left_target]:
            self._pair(name, name, "exact")

    def match_prefix(self) -> None:
        transform = _best_prefix(list(self.left_source), list(self.left_target))
        if transform is None:
            return
        self.prefix = transform
        renamed: dict[str, str] = {}
        for name, original in self.left_source.items():
            mapped = transform.apply(name)
            # A name that would collide with another leftover keeps its own spelling.
            if mapped is None or mapped in self.left_source or mapped in renamed:
                mapped = name
            renamed[mapped] = original
        self.left_source = renamed
        for canon in [c for c in self.left_source if c in self.left_target]:
            self._pair(canon, canon, "prefix")

    def match_renames(self) -> None:
        sources = _groups(self.left_source, self.source.tensors, self._source_positions())
        targets = _groups(
            {n: n for n in self.left_target}, self.target.tensors, _positions(self.target)
        )
        rules: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
        for same_shape in (True, False):
            matches = _pair_groups(sources, targets, same_shape=same_shape)
            for source_group, target_group, score in matches:
                count = 0
                for indices, canon in source_group.members.items():
                    target_name = target_group.members.get(indices)
                    if target_name is None or target_name not in self.left_target:
                        continue
                    self._pair(canon, target_name, "rename")
                    count += 1
                if count:
                    rule = _core_rule(source_group.template, target_group.template)
                    rules[rule].append((count, score))
            sources = [g for g in sources if any(c in self.left_source for c in g.members.values())]
            targets = [g for g in targets if any(t in self.left_target for t in g.members.values())]
            for group in sources:
                group.members = {i: c for i, c in group.members.items() if c in self.left_source}
            for group in targets:
                group.members = {i: t for i, t in group.members.items() if t in self.left_target}
        for (source_template, target_template), counts in rules.items():
            total = sum(count for count, _ in counts)
            score = sum(count * score for count, score in counts) / total
            self.renames.append(
                RenameRule(source_template, target_template, total, round(score, 3))
            )
        self.renames.sort(key=lambda rule: (-rule.count, rule.source))

    def match_fused(self) -> None:
        for parts_side in ("source", "target"):
            source_specs = {c: self.source[o] for c, o in self.left_source.items()}
            target_specs = {t: self.target[t] for t in self.left_target}
            if parts_side == "source":
                for part_names, fused_name in _fused_groups(source_specs, target_specs):
                    originals = tuple(self.left_source.pop(p) for p in part_names)
                    del self.left_target[fused_name]
                    self.fused.append(FusedGroup(originals, fused_name, "source"))
            else:
                for part_names, fused_name in _fused_groups(target_specs, source_specs):
                    for part in part_names:
                        del self.left_target[part]
                    original = self.left_source.pop(fused_name)
                    self.fused.append(FusedGroup(part_names, original, "target"))

    def result(self) -> Alignment:
        unexpected_set = set(self.left_source.values())
        return Alignment(
            source=self.source,
            target=self.target,
            pairs=self.pairs,
            prefix=self.prefix,
            renames=self.renames,
            fused=self.fused,
            missing=[n for n in self.target.tensors if n in self.left_target],
            unexpected=[n for n in self.source.tensors if n in unexpected_set],
        )

    def _pair(self, canon: str, target_name: str, via: MatchKind) -> None:
        original = self.left_source.pop(canon)
        del self.left_target[target_name]
        self.pairs.append(Pair(original, target_name, via))

    def _source_positions(self) -> dict[str, float]:
        by_original = _positions(self.source)
        return {canon: by_original[original] for canon, original in self.left_source.items()}


@lru_cache(maxsize=1 << 16)
def _is_index(segment: str) -> bool:
    return segment.isascii() and segment.isdigit() and (segment == "0" or segment[0] != "0")


def _slot(n: int) -> str:
    return _SLOT_NAMES[n] if n < len(_SLOT_NAMES) else f"i{n}"


def _canonical_segment(segment: str) -> str:
    return _SYNONYMS.get(segment.lower(), segment.lower())


def _best_prefix(sources: Sequence[str], targets: Sequence[str]) -> PrefixTransform | None:
    """Find the (strip, add) pair of leading segments that maps the most names onto targets.

    Every name is split after each of its first few non-index segments; a tail
    shared by a source and a target name votes for the pair of heads. The winner
    must map at least two names (or every name on the smaller side).
    """
    if not sources or not targets:
        return None
    # The prefix is global, so a sample of the source names votes as well as all of them.
    step = max(1, len(sources) // PREFIX_SAMPLE)
    source_heads = _heads_by_tail(sources[::step])
    target_heads = _heads_by_tail(targets)
    votes: Counter[tuple[str, str]] = Counter()
    for tail, heads in source_heads.items():
        others = target_heads.get(tail)
        if not others or len(heads) * len(others) > MAX_PREFIX_COMBINATIONS:
            continue
        for strip in heads:
            for add in others:
                if strip != add:
                    votes[(strip, add)] += 1
    if not votes:
        return _wrapper_prefix(sources, targets)
    # Most names mapped first; among equals, the shortest (most general) change.
    (strip, add), count = min(
        votes.items(), key=lambda item: (-item[1], len(item[0][0]) + len(item[0][1]), item[0])
    )
    if count < min(2, len(sources), len(targets)):
        return _wrapper_prefix(sources, targets)
    return PrefixTransform(strip=strip, add=add)


def _wrapper_prefix(sources: Sequence[str], targets: Sequence[str]) -> PrefixTransform | None:
    """Fall back to a run of wrapper segments that every name on one side starts with.

    When renames hide every tail (nothing maps exactly), a head made only of
    wrapper words (``module.``, ``_orig_mod.`` ...) shared by all names of one
    side and absent from the other is still the prefix; renames then run on
    the stripped names.
    """
    strip, add = _wrapper_head(sources), _wrapper_head(targets)
    if strip == add:
        return None
    if any(name.startswith(strip) for name in targets) and strip:
        return None
    if any(name.startswith(add) for name in sources) and add:
        return None
    return PrefixTransform(strip=strip, add=add)


def _wrapper_head(names: Sequence[str]) -> str:
    """Return the longest run of wrapper segments every name starts with (``""`` if none)."""
    segments = [name.split(".") for name in names]
    head: list[str] = []
    for position in range(MAX_PREFIX_SEGMENTS):
        words = {s[position] for s in segments if len(s) > position + 1}
        if len(words) != 1 or any(len(s) <= position + 1 for s in segments):
            break
        word = words.pop()
        if word not in WRAPPER_SEGMENTS:
            break
        head.append(word)
    return "".join(f"{word}." for word in head)


def _heads_by_tail(names: Iterable[str]) -> dict[str, list[str]]:
    """Map each tail (of two or more segments) to the leading runs that precede it."""
    heads: dict[str, list[str]] = defaultdict(list)
    for name in names:
        heads[name].append("")
        start = 0
        for _ in range(MAX_PREFIX_SEGMENTS):
            dot = name.find(".", start)
            if dot < 0 or _is_index(name[start:dot]) or name.find(".", dot + 1) < 0:
                break
            heads[name[dot + 1 :]].append(name[: dot + 1])
            start = dot + 1
    return heads


def _positions(manifest: Manifest) -> dict[str, float]:
    """Relative position of each tensor inside its layer (or the whole file if unindexed)."""
    layer_of: dict[str, str] = {}
    sizes: Counter[str] = Counter()
    for name in manifest.tensors:
        match = _LAYER.match(name)
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


def _groups(
    names: Mapping[str, str], specs: Mapping[str, TensorSpec], positions: Mapping[str, float]
) -> list[_Group]:
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
        groups.append(_Group(pattern, members, position, shapes, dtype))
    return groups


def _keep_slots(name: str, varying: Sequence[int]) -> str:
    """Template ``name`` with placeholders only at the given index slots (renumbered)."""
    segments = name.split(".")
    slot = kept = 0
    for position, segment in enumerate(segments):
        if _is_index(segment):
            if slot in varying:
                segments[position] = "{" + _slot(kept) + "}"
                kept += 1
            slot += 1
    return ".".join(segments)


def _pair_groups(
    sources: list[_Group], targets: list[_Group], *, same_shape: bool
) -> list[tuple[_Group, _Group, float]]:
    """Pair source and target templates one-to-one, best score first."""
    buckets: dict[object, tuple[list[_Group], list[_Group]]] = defaultdict(lambda: ([], []))
    for side, groups in ((0, sources), (1, targets)):
        for group in groups:
            key = group.shape_key() if same_shape else (len(next(iter(group.members))), group.leaf)
            buckets[key][side].append(group)
    weights = _token_weights([*sources, *targets])
    candidates: list[tuple[float, int, int, _Group, _Group]] = []
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
                score = 0.4 + 0.4 * tokens + 0.1 * (s.dtype == t.dtype)
                score += 0.1 * (1 - abs(s.position - t.position))
                if unique:
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


def _ndim(group: _Group) -> int:
    return len(next(iter(group.shapes.values())))


def _pairs_by_tokens(left: list[_Group], right: list[_Group]) -> list[tuple[_Group, _Group]]:
    """In an oversized bucket, only pair templates with identical canonical tokens."""
    by_tokens: dict[frozenset[str], list[_Group]] = defaultdict(list)
    for group in right:
        by_tokens[frozenset(_tokens(group.template))].append(group)
    return [(s, t) for s in left for t in by_tokens.get(frozenset(_tokens(s.template)), [])]


def _indices_overlap(source: _Group, target: _Group) -> bool:
    """Whether most of the smaller group's layer indices exist in the other."""
    shared = len(source.members.keys() & target.members.keys())
    return shared > 0 and 2 * shared >= min(len(source.members), len(target.members))


_TOKEN_SPLIT = re.compile(r"[._]+")


def _tokens(pattern: str) -> list[str]:
    """Canonical word tokens of a template, without slots and numbers."""
    tokens: list[str] = []
    for segment in pattern.split("."):
        if segment.startswith("{") or segment.isdigit():
            continue
        canon = _canonical_segment(segment)
        tokens.extend(t for t in _TOKEN_SPLIT.split(canon) if t and not t.isdigit())
    return tokens


def _token_weights(groups: Sequence[_Group]) -> dict[str, float]:
    """Inverse document frequency of each token over all templates of both sides.

    Tokens every template has (``weight``, ``blocks``) say little about which
    template is which; rare ones (``q``, ``proj``, ``y_embedder``) say a lot.
    """
    frequency: Counter[str] = Counter()
    for group in groups:
        frequency.update(set(_tokens(group.template)))
    total = len(groups) + 1
    return {token: math.log(total / count) for token, count in frequency.items()}


def _token_similarity(a: str, b: str, weights: Mapping[str, float]) -> float:
    """Dice coefficient of the two templates' canonical token sets, weighted by rarity."""
    left, right = set(_tokens(a)), set(_tokens(b))
    size = sum(weights.get(t, 1.0) for t in left) + sum(weights.get(t, 1.0) for t in right)
    if size == 0:
        return 1.0
    return 2 * sum(weights.get(t, 1.0) for t in left & right) / size


def _core_rule(source: str, target: str) -> tuple[str, str]:
    """Drop the trailing segments two templates share (``a.x.weight`` → ``a.x``)."""
    left, right = source.split("."), target.split(".")
    while len(left) > 1 and len(right) > 1 and left[-1] == right[-1]:
        left.pop()
        right.pop()
    return ".".join(left), ".".join(right)


def _fused_groups(
    parts: Mapping[str, TensorSpec], whole: Mapping[str, TensorSpec]
) -> list[tuple[tuple[str, ...], str]]:
    """Sibling tensors on one side that concatenate (axis 0) into one tensor on the other.

    Siblings share a parent module and a leaf (``weight``/``bias``); the fused
    module's name must spell the parts' names in order (``qkv`` = ``q``+``k``+``v``,
    ``gate_up`` = ``gate``+``up``) and the first dimensions must add up.
    """
    siblings: dict[tuple[str, str], list[str]] = defaultdict(list)
    for name in parts:
        parent, module, leaf = _split_module(name)
        if module is not None:
            siblings[(parent, leaf)].append(name)
    found = []
    for name, spec in whole.items():
        parent, module, leaf = _split_module(name)
        if module is None or not spec.shape:
            continue
        candidates = siblings.get((parent, leaf), [])
        spelled = _fused_spelling(module)
        for size in (3, 2):
            match = _find_parts(candidates, parts, spec, spelled, size)
            if match is not None:
                found.append((match, name))
                candidates[:] = [c for c in candidates if c not in match]
                break
    return found


def _split_module(name: str) -> tuple[str, str | None, str]:
    segments = name.split(".")
    if len(segments) < 2:
        return "", None, name
    return ".".join(segments[:-2]), segments[-2], segments[-1]


def _fused_spelling(module: str) -> str:
    return _canonical_segment(module).replace("_", "")


def _find_parts(
    candidates: list[str],
    specs: Mapping[str, TensorSpec],
    fused: TensorSpec,
    spelled: str,
    size: int,
) -> tuple[str, ...] | None:
    """Pick ``size`` candidates whose names spell, and first dims sum to, ``fused``."""
    if len(candidates) < size or len(spelled) < size:
        return None
    words = {c: _fused_spelling(_split_module(c)[1] or "") for c in candidates}
    ordered = _spelling_order(candidates, words, spelled, size)
    if ordered is None:
        return None
    shapes = [specs[c].shape for c in ordered]
    if any(len(s) != len(fused.shape) or s[1:] != fused.shape[1:] for s in shapes):
        return None
    if sum(s[0] for s in shapes) != fused.shape[0]:
        return None
    return tuple(ordered)


def _spelling_order(
    candidates: list[str], words: Mapping[str, str], spelled: str, size: int
) -> list[str] | None:
    """Candidates whose words, concatenated, spell ``spelled`` exactly (depth-first)."""

    def search(rest: str, chosen: list[str]) -> list[str] | None:
        if not rest:
            return chosen if len(chosen) == size else None
        if len(chosen) == size:
            return None
        for candidate in candidates:
            word = words[candidate]
            if candidate not in chosen and word and rest.startswith(word):
                found = search(rest[len(word) :], [*chosen, candidate])
                if found is not None:
                    return found
        return None

    return search(spelled, [])
