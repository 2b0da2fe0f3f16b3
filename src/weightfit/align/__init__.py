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

One module per pass: :mod:`~weightfit.align.prefix`, :mod:`~weightfit.align.rename`,
:mod:`~weightfit.align.fused`; :mod:`~weightfit.align.names` holds the template
helpers (:func:`template`, :func:`fill`) other modules use.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace

from weightfit.align.fused import fused_groups
from weightfit.align.names import fill, template
from weightfit.align.prefix import best_prefix
from weightfit.align.rename import core_rule, groups, pair_groups, positions
from weightfit.align.structure import match_structure
from weightfit.alignment import (
    Alignment,
    Ambiguity,
    FusedGroup,
    Inferred,
    MatchKind,
    Pair,
    PrefixTransform,
    RenameRule,
)
from weightfit.manifest import Manifest

__all__ = ["align", "fill", "template"]

PARTIAL_FORMATS = frozenset({"error-text"})
"""Manifest formats that hold only the tensors an error names: no structure to match."""


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
    state.match_structure()
    state.release()
    return state.result()


@dataclass
class _State:
    """Names still unmatched on each side, and what has been matched so far."""

    source: Manifest
    target: Manifest
    pairs: list[Pair] = field(default_factory=list)
    prefix: PrefixTransform | None = None
    renames: list[RenameRule] = field(default_factory=list)
    fused: list[FusedGroup] = field(default_factory=list)
    inferred: list[Inferred] = field(default_factory=list)
    ambiguous: list[Ambiguity] = field(default_factory=list)
    held_source: dict[str, str] = field(default_factory=dict)
    held_target: list[str] = field(default_factory=list)
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
        transform = best_prefix(list(self.left_source), list(self.left_target))
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

    @property
    def structural(self) -> bool:
        """Whether both manifests are whole (not the few tensors an error text names)."""
        return not {self.source.format, self.target.format} & PARTIAL_FORMATS

    def match_structure(self) -> None:
        """Map what names could not, by the model's structure (:mod:`.structure`).

        One-to-one mappings become pairs (``via="structure"``); every mapping is
        kept as :class:`~weightfit.alignment.Inferred`. Tensors it found ambiguous
        are held back from the later passes, which decide by names alone.
        """
        if not self.left_source or not self.left_target or not self.structural:
            return
        # The layout the target's own library writes (and converts on load) is
        # known, not inferred: leave it to the ``saved_layout`` rule.
        layout = self.target.extras.get("saved_layout")
        known = set(layout) if isinstance(layout, dict) else set()
        written = {str(n) for k in known for n in (layout or {}).get(k, {}) or {}}
        source_specs = {c: self.source[o] for c, o in self.left_source.items() if c not in written}
        target_specs = {t: self.target[t] for t in self.left_target if t not in known}
        prefix = self.prefix
        whole_source = {
            (prefix.apply(n) or n) if prefix is not None else n: s
            for n, s in self.source.tensors.items()
        }
        whole_target = {n: s for n, s in self.target.tensors.items() if n not in known}
        found = match_structure(source_specs, target_specs, (whole_source, whole_target))
        originals = dict(self.left_source)
        for item in found.inferred:
            if len(item.sources) == 1 and len(item.targets) == 1:
                self._pair(item.sources[0], item.targets[0], "structure")
            else:
                for name in item.sources:
                    self.left_source.pop(name)
                for name in item.targets:
                    del self.left_target[name]
            self.inferred.append(replace(item, sources=tuple(originals[n] for n in item.sources)))
        for doubt in found.ambiguous:
            self.ambiguous.append(
                replace(doubt, candidates=tuple(originals[n] for n in doubt.candidates))
            )
            for name in doubt.candidates:
                if name in self.left_source:
                    self.held_source[name] = self.left_source.pop(name)
            for name in doubt.targets:
                if name in self.left_target:
                    del self.left_target[name]
                    self.held_target.append(name)

    def release(self) -> None:
        """Put back what the structural matcher held as ambiguous: it stays unmatched."""
        self.left_source.update(self.held_source)
        self.left_target.update(dict.fromkeys(self.held_target))

    def match_renames(self) -> None:
        if not self.left_source or not self.left_target:
            return
        target_names = {n: n for n in self.left_target}
        sources = groups(self.left_source, self.source.tensors, positions(self.left_source))
        targets = groups(target_names, self.target.tensors, positions(target_names))
        rules: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
        for same_shape in (True, False):
            matches = pair_groups(sources, targets, same_shape=same_shape, defer=self.structural)
            for source_group, target_group, score in matches:
                count = 0
                for indices, canon in source_group.members.items():
                    target_name = target_group.members.get(indices)
                    if target_name is None or target_name not in self.left_target:
                        continue
                    self._pair(canon, target_name, "rename")
                    count += 1
                if count:
                    rule = core_rule(source_group.template, target_group.template)
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
        if not self.left_source or not self.left_target:
            return
        for parts_side in ("source", "target"):
            source_specs = {c: self.source[o] for c, o in self.left_source.items()}
            target_specs = {t: self.target[t] for t in self.left_target}
            if parts_side == "source":
                for part_names, fused_name in fused_groups(source_specs, target_specs):
                    originals = tuple(self.left_source.pop(p) for p in part_names)
                    del self.left_target[fused_name]
                    self.fused.append(FusedGroup(originals, fused_name, "source"))
            else:
                for part_names, fused_name in fused_groups(target_specs, source_specs):
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
            inferred=self.inferred,
            ambiguous=self.ambiguous,
            missing=[n for n in self.target.tensors if n in self.left_target],
            unexpected=[n for n in self.source.tensors if n in unexpected_set],
        )

    def _pair(self, canon: str, target_name: str, via: MatchKind) -> None:
        original = self.left_source.pop(canon)
        del self.left_target[target_name]
        self.pairs.append(Pair(original, target_name, via))
