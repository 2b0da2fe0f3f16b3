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

Names are cut into blocks and stacks, and stacks paired, in
:mod:`weightfit.align.blocks`; the groups inside a pair of blocks are decided in
:mod:`weightfit.align.block_groups`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import get_args

from weightfit.align.block_groups import Decision, Group, decide, template_groups
from weightfit.align.blocks import Block, Side, block_prefix, cut_blocks, pair_stacks, subtree
from weightfit.align.sequence import match_sequences
from weightfit.alignment import Ambiguity, Inferred, InferredKind
from weightfit.manifest import TensorSpec


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
    left, right = cut_blocks(source), cut_blocks(target)
    cache: dict[tuple[object, object], list[Decision]] = {}
    for block_pairs, stack_evidence in pair_stacks(left, right):
        for block_s, block_t in block_pairs:
            _match_blocks(left, right, block_s, block_t, stack_evidence, cache, result)
    _match_sequences(left, right, cache, result, whole)
    root_s = left.blocks.get(("", ()))
    root_t = right.blocks.get(("", ()))
    if root_s is not None and root_t is not None and (result.inferred or _balanced(root_s, root_t)):
        used = {n for item in result.inferred for n in (*item.sources, *item.targets)}
        used.update(n for doubt in result.ambiguous for n in (*doubt.candidates, *doubt.targets))
        root_s = Block("", (), [n for n in root_s.names if n not in used])
        root_t = Block("", (), [n for n in root_t.names if n not in used])
        _match_blocks(left, right, root_s, root_t, "", cache, result, root=True)
    return result


def _match_sequences(
    left: Side,
    right: Side,
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
        block_s = Block("", (), names_s, path=pair.source.path)
        block_t = Block("", (), names_t, path=pair.target.path)
        _match_blocks(left, right, block_s, block_t, pair.evidence, cache, result)


def _balanced(root_s: Block, root_t: Block) -> bool:
    """Whether the roots' leftovers could be one-to-one (as many on each side).

    Without a matched stack (no other sign of a change of naming scheme), a
    root tensor of unique shape is mapped only when nothing is left over beside
    it: ``pos_embed`` against ``pos_embed_spatial`` and ``pos_embed_temporal`` is
    another cause (a factorised table), not a rename.
    """
    return len(root_s.names) == len(root_t.names)


def _match_blocks(
    left: Side,
    right: Side,
    block_s: Block,
    block_t: Block,
    stack_evidence: str,
    cache: dict[tuple[object, object], list[tuple[str, list[int], list[int], str, float]]],
    result: StructureResult,
    *,
    root: bool = False,
) -> None:
    prefix_s = "" if root else block_prefix(block_s) + "."
    prefix_t = "" if root else block_prefix(block_t) + "."
    groups_s = template_groups(left, subtree(left, block_s, root), prefix_s)
    groups_t = template_groups(right, subtree(right, block_t, root), prefix_t)
    key = (_signature(groups_s), _signature(groups_t))
    if key not in cache:
        cache[key] = decide(groups_s, groups_t, left.ordered, right.ordered, root)
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


def _signature(groups: list[Group]) -> tuple[object, ...]:
    return tuple((g.inner, g.shape, g.dtype, tuple(sorted(g.members))) for g in groups)


# --- results --------------------------------------------------------------------


def _expand(
    kind: str, parts_s: list[Group], parts_t: list[Group], evidence: str, score: float
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
