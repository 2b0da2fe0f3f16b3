"""What the rules share while they run: the alignment, and what is already explained.

Rules run in order over one :class:`Context`. Each rule reads the *open* facts
(shape mismatches, missing and unexpected names that no earlier rule explained),
adds its findings and *consumes* what it explained, so later rules and the
missing/unexpected leftovers never repeat a cause.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from weightfit import dtypes
from weightfit.align import template
from weightfit.alignment import Alignment, Pair
from weightfit.findings import Finding
from weightfit.manifest import Manifest, TensorSpec
from weightfit.tree import stack_of

# Pairs are keyed by their source name: an alignment pairs each source name once.


@dataclass
class Context:
    """The alignment under diagnosis, the findings so far, and what they explain."""

    alignment: Alignment
    profile: str = "check"
    """The profile running (``diagnose.registry.PROFILES``)."""
    facts: Mapping[str, Any] = field(default_factory=dict)
    """What the caller knows besides the manifests (see each rule's module)."""
    findings: list[Finding] = field(default_factory=list)
    done_pairs: set[str] = field(default_factory=set)
    done_missing: set[str] = field(default_factory=set)
    done_unexpected: set[str] = field(default_factory=set)
    _mismatched: list[Pair] = field(default_factory=list, repr=False)
    _widths: dict[str, int | None] = field(default_factory=dict, repr=False)
    _order: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        # Shapes never change while rules run: compare them once.
        source, target = self.source.tensors, self.target.tensors
        self._mismatched = [
            p for p in self.alignment.pairs if source[p.source].shape != target[p.target].shape
        ]

    def realign(self, alignment: Alignment) -> None:
        """Diagnose another alignment from here on (the ``text`` profile's first rule)."""
        self.alignment = alignment
        self._widths.clear()
        self._order.clear()
        self.__post_init__()

    @property
    def source(self) -> Manifest:
        """The checkpoint's manifest."""
        return self.alignment.source

    @property
    def target(self) -> Manifest:
        """The target's manifest."""
        return self.alignment.target

    def pairs(self) -> list[Pair]:
        """Return the matched pairs no rule has explained yet (equal shapes included)."""
        return [p for p in self.alignment.pairs if p.source not in self.done_pairs]

    def mismatches(self) -> list[Pair]:
        """Return the open pairs whose shapes differ."""
        return [p for p in self._mismatched if p.source not in self.done_pairs]

    def missing(self) -> list[str]:
        """Return target names nothing matched and no rule explained, in target order."""
        return [n for n in self.alignment.missing if n not in self.done_missing]

    def unexpected(self) -> list[str]:
        """Return checkpoint names nothing matched and no rule explained, in source order."""
        return [n for n in self.alignment.unexpected if n not in self.done_unexpected]

    def src(self, pair: Pair) -> TensorSpec:
        """Return the checkpoint side of a pair."""
        return self.alignment.source.tensors[pair.source]

    def tgt(self, pair: Pair) -> TensorSpec:
        """Return the model side of a pair."""
        return self.alignment.target.tensors[pair.target]

    def consume(
        self,
        pairs: Iterable[Pair] = (),
        missing: Iterable[str] = (),
        unexpected: Iterable[str] = (),
    ) -> None:
        """Mark pairs and leftovers as explained by a finding."""
        self.done_pairs.update(p.source for p in pairs)
        self.done_missing.update(missing)
        self.done_unexpected.update(unexpected)

    def add(self, finding: Finding) -> None:
        """Record a finding."""
        self.findings.append(finding)

    def variant_found(self) -> Finding | None:
        """The first finding so far reading the checkpoint as another variant of the model.

        A setting that differs beside it (a conditioning width, a position grid) is most
        often that variant's own, not a change made to the same model by hand.
        """
        return next((f for f in self.findings if f.category == "wrong_variant"), None)

    def changed_by(self, change: int, taken: Iterable[Pair] = ()) -> list[Pair]:
        """Return the open mismatches but ``taken`` whose one differing axis changes by ``change``.

        A layer fed a cause's output grows with it: a decoder reading a one-hot of the
        classes beside its hidden state, a first convolution reading the image beside a
        noise map. Such a layer is the same cause's reach.
        """
        skip = set(taken)
        found = []
        for pair in self.mismatches():
            have, want = self.src(pair).shape, self.tgt(pair).shape
            if pair in skip or len(have) != len(want):
                continue
            if [a - b for a, b in zip(have, want, strict=True) if a != b] == [change]:
                found.append(pair)
        return found

    def renamed(self, source_name: str) -> str:
        """Spell a checkpoint name as the prefix transform leaves it (what later ops see)."""
        prefix = self.alignment.prefix
        if prefix is None:
            return source_name
        mapped = prefix.apply(source_name)
        return source_name if mapped is None else mapped

    def position(self, target_name: str) -> float:
        """Return where a model tensor sits in the model's order, from 0 (first) to 1 (last).

        A partial manifest does not say: a tensor outside every layer stack counts
        as last (a head, the usual unstacked change), one inside a stack as mid-way.
        """
        if self.partial:
            return 1.0 if stack_of(target_name) is None else 0.5
        if not self._order:
            self._order = {name: i for i, name in enumerate(self.target.tensors)}
        return self._order[target_name] / max(len(self._order) - 1, 1)

    def config_keys(self, want: int, have: int | None = None) -> list[str]:
        """Return the model's config fields that hold ``want`` and may explain ``have``.

        A field the checkpoint's own config holds at ``want`` too did not change (both
        configs' ``num_hidden_layers=2`` says nothing of a 5-way against a 2-way head);
        fields that hold ``have`` there come first. Without a model config on the
        checkpoint's side (a bare file, an adapter's config), every field holding ``want``.
        """
        keys = config_keys_with(self.target.config, want)
        theirs = self.source.config
        if not isinstance(theirs, Mapping) or not theirs or "peft_type" in theirs:
            return keys  # no model config on the checkpoint's side (an adapter's says nothing)
        kept = [k for k in keys if config_value(theirs, k) != want]
        if have is not None:
            kept.sort(key=lambda k: config_value(theirs, k) != have)
        return kept

    @property
    def partial(self) -> bool:
        """Whether the manifests hold only the tensors that differ (the ``text`` profile)."""
        return self.profile == "text"

    def main_width(self, side: str) -> int | None:
        """Return one side's hidden width (see :func:`main_width`), computed once.

        Partial manifests lack the tensors that agree, which carry the width; the
        axes the differing tensors keep on both sides vote for it instead.
        """
        if side not in self._widths:
            if self.partial:
                self._widths[side] = kept_width(
                    (self.src(p).shape, self.tgt(p).shape) for p in self._mismatched
                )
            else:
                manifest = self.source if side == "source" else self.target
                self._widths[side] = main_width(manifest.tensors.values())
        return self._widths[side]


def shape_text(shape: tuple[int, ...]) -> str:
    """Write a shape as ``[1152, 4, 2, 2]``."""
    return "[" + ", ".join(str(s) for s in shape) + "]"


def shapes_of(ctx: Context, pair: Pair) -> dict[str, list[int]]:
    """A pair's two shapes as evidence: ``{"checkpoint": [...], "model": [...]}``."""
    return {"checkpoint": list(ctx.src(pair).shape), "model": list(ctx.tgt(pair).shape)}


def main_width(specs: Iterable[TensorSpec]) -> int | None:
    """Return the size most weight axes share: a model's hidden width.

    Every axis of size > 1 of every floating tensor votes once; the hidden size
    wins because norms, biases and both sides of square projections all carry it.
    """
    votes: Counter[int] = Counter()
    for spec in specs:
        if spec.numel == 0 or not is_float(spec.dtype):
            continue
        for size in set(spec.shape):
            if size > 1:
                votes[size] += 1
    if not votes:
        return None
    # On a tie the larger size wins: a LoRA pair [r, d] / [d, r] is d wide, not r.
    return max(votes.items(), key=lambda item: (item[1], item[0]))[0]


def kept_width(shapes: Iterable[tuple[tuple[int, ...], tuple[int, ...]]]) -> int | None:
    """Return the size most axes keep on both sides of differing pairs (ties: the larger)."""
    votes: Counter[int] = Counter()
    for have, want in shapes:
        if len(have) == len(want):
            for size in {a for a, b in zip(have, want, strict=True) if a == b and a > 1}:
                votes[size] += 1
    if not votes:
        return None
    return max(votes.items(), key=lambda item: (item[1], item[0]))[0]


@cache
def is_float(dtype: str) -> bool:
    """Whether a dtype name is a known floating-point type."""
    known = dtypes.lookup(dtype)
    return known is not None and known.is_float


def depths(names: Iterable[str]) -> dict[str, int]:
    """Count the layers of each repeated stack (``{"model.layers": 32}``)."""
    seen: dict[str, set[int]] = {}
    for name in names:
        found = stack_of(name)
        if found is not None:
            seen.setdefault(found[0], set()).add(found[1])
    return {stack: len(indices) for stack, indices in seen.items()}


def layer_template(name: str) -> str:
    """Fold a name's layer indices (``h.{i}.attn.c_attn.weight``)."""
    return template(name)[0]


NOT_A_SIZE = re.compile(r"(?:^|_)(?:id|index|idx)$")
"""Config fields that name a token or a position, never a size (``eos_token_id``,
``image_token_index``)."""

LABEL_TABLES = ("id2label", "label2id")
"""transformers' label maps: their length is ``num_labels``, which ``config.json`` omits."""

DEFAULT_LABELS = 2
"""transformers' ``num_labels`` when a config saves no ``id2label`` (5.x leaves the default out)."""


def label_count(config: Mapping[str, Any]) -> int | None:
    """Return a transformers config's ``num_labels``: ``id2label``'s length, else the default."""
    table = config.get(LABEL_TABLES[0])
    if isinstance(table, Mapping):
        return len(table)
    return DEFAULT_LABELS if "model_type" in config else None


def config_keys_with(config: Mapping[str, Any] | None, value: int) -> list[str]:
    """Config fields (one level of nesting) that hold ``value``: ``["caption_channels"]``.

    ``num_labels`` comes last, read as :func:`label_count` (``config.json`` never stores it).
    """
    if not config:
        return []
    found = []
    for key, item in config.items():
        if isinstance(item, bool) or str(key).startswith("_") or NOT_A_SIZE.search(str(key)):
            continue
        if key in LABEL_TABLES:
            continue
        if isinstance(item, int) and item == value:
            found.append(str(key))
        elif isinstance(item, Mapping):
            found.extend(
                f"{key}.{sub}"
                for sub, inner in item.items()
                if isinstance(inner, int)
                and not isinstance(inner, bool)
                and inner == value
                and not NOT_A_SIZE.search(str(sub))
            )
    if label_count(config) == value:
        found.append("num_labels")
    return found


def config_value(config: Mapping[str, Any], key: str) -> object:
    """Return a field :func:`config_keys_with` named (``text_config.hidden_size``)."""
    if key == "num_labels":
        return label_count(config)
    head, _, sub = key.partition(".")
    item = config.get(head)
    return item.get(sub) if sub and isinstance(item, Mapping) else item


def escape_pattern(text: str) -> str:
    """Escape text for a plan ``pattern`` (Python ``re`` syntax)."""
    return re.escape(text)
