"""The ``inferred`` rules: mappings between naming schemes the structural matcher chose.

:mod:`weightfit.align.structure` maps tensors by the model's structure when the
names say nothing (another codebase's naming). Every such mapping is a guess
with evidence, so every op it asks for is *inferred* (``Op.inferred``: evidence
and score), never exact. One-to-one mappings (with a transpose or reshape where
shapes say so) make one ``rename`` finding, many-to-one ones (fused, stacked
experts) one ``fused_split`` finding, each folded by template: one line per
rule, not per layer. What the matcher could not decide is reported with its
candidates and no fix. Known value permutations (RoPE rows) come from
:mod:`weightfit.knowledge.permutations`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from weightfit.align.names import template
from weightfit.align.rename import core_rule
from weightfit.align.roles import roles
from weightfit.alignment import Inferred, Pair
from weightfit.converters import EVIDENCE_KEY
from weightfit.diagnose._context import Context, is_float
from weightfit.findings import Finding
from weightfit.knowledge.permutations import (
    FUSED_QKV_WARNING,
    permutation_for,
    suspected_permutation,
    value_change_for,
)
from weightfit.manifest import counted
from weightfit.plan import Op
from weightfit.tree import collapse_names

_PLACEHOLDERS = "ijk"


@dataclass
class _Rule:
    """Inferred mappings that share a template on both sides."""

    source: str
    target: str
    kind: str
    evidence: str
    items: list[Inferred] = field(default_factory=list)

    @property
    def score(self) -> float:
        return round(min(item.score for item in self.items), 3)

    def evidence_row(self) -> dict[str, Any]:
        return {
            "checkpoint": self.source,
            "model": self.target,
            "count": len(self.items),
            "kind": self.kind,
            "evidence": self.evidence,
            "score": self.score,
        }


def inferred(ctx: Context) -> None:
    """Report the structural matcher's mappings and ambiguities, folded by template."""
    if any(EVIDENCE_KEY in f.evidence for f in ctx.findings):
        return  # a library's own converter explains the layout: nothing to infer
    items = ctx.alignment.inferred
    open_sources = {p.source for p in ctx.pairs()}
    one = [
        i
        for i in items
        if len(i.sources) == 1 and len(i.targets) == 1 and i.sources[0] in open_sources
    ]
    many = [i for i in items if len(i.sources) > 1 or len(i.targets) > 1]
    if one:
        _one_to_one(ctx, one)
    if many:
        _many(ctx, many)
    _named_permutations(ctx)
    _ambiguous(ctx)
    _shared(ctx)


def _shared(ctx: Context) -> None:
    """One tensor the checkpoint keeps once, the model once per block: copy it into each.

    The model's tensors of one template are missing in every block but one, whose
    tensor the checkpoint has (T5 keeps its relative position bias in block 0 and
    every layer uses it; UMT5 keeps one per layer).
    """
    missing = ctx.missing()
    by_template: dict[str, list[str]] = defaultdict(list)
    for name in missing:
        by_template[template(name)[0]].append(name)
    present: dict[str, list[str]] = defaultdict(list)
    wanted = set(by_template)
    for name in ctx.target.tensors:
        folded = template(name)[0]
        if folded in wanted and name not in set(missing):
            present[folded].append(name)
    paired = {p.target for p in ctx.alignment.pairs}
    fix: list[Op] = []
    params: list[str] = []
    covered: list[str] = []
    for folded, names in by_template.items():
        kept = present.get(folded, [])
        if len(kept) != 1 or kept[0] not in paired or len(names) < 1:
            continue
        spec = ctx.target[kept[0]]
        if any(
            ctx.target[n].shape != spec.shape or ctx.target[n].dtype != spec.dtype for n in names
        ):
            continue
        note = {
            "evidence": f"{folded}: the checkpoint has one ({kept[0]}), the model one per block",
            "score": 0.7,
        }
        fix.append(Op("copy", {"name": kept[0], "into": names}, "shared module", note))
        params.append(next(p.source for p in ctx.alignment.pairs if p.target == kept[0]))
        covered.extend(names)
    if not fix:
        return
    shown = ", ".join(str(g) for g in collapse_names(covered)[:3])
    ctx.add(
        Finding(
            category="tied_weights",
            severity="error",
            message=(
                f"{len(covered)} model tensor(s) are one shared tensor in the checkpoint, kept "
                f"once per block in the model (inferred): {shown}"
            ),
            params=params,
            evidence={"copies": {op.args["name"]: len(op.args["into"]) for op in fix}},
            confidence=0.7,
            fix=fix,
            fix_note=(
                "the checkpoint's code uses one tensor for every block; copying it into each "
                "block computes the same (review: a model that trains them apart may diverge)"
            ),
        )
    )
    ctx.consume(missing=covered)


def _named_permutations(ctx: Context) -> None:
    """Known row permutations for pairs the names matched (``attn_qkv`` ↔ ``query_key_value``).

    The name-based ``rename`` finding carries them, as structure's own renames do.
    """
    named = next((f for f in ctx.findings if f.category == "rename" and f.fix), None)
    if named is None:
        return
    covered = set(named.params)
    wanted = [
        p for p in ctx.alignment.pairs if p.via in ("rename", "structure") and p.source in covered
    ]
    _value_changes(ctx, named, wanted)
    wanted = [p for p in wanted if p.via == "rename"]
    for pair in wanted:
        permute = permutation_for(ctx.renamed(pair.source), pair.target, ctx.target)
        if permute is None:
            suspect = _suspected(ctx.renamed(pair.source), pair.target)
            warnings = named.evidence.setdefault("suspected_permutation", [])
            if suspect and suspect not in warnings:
                warnings.append(suspect)
                named.fix_note = " ".join(filter(None, [named.fix_note, suspect]))
            if not warnings:
                del named.evidence["suspected_permutation"]
            continue
        note = {"evidence": f"known layout pair: {permute.reason}", "score": 0.9}
        named.fix.append(
            Op("permute_rows", {"name": pair.target, **permute.args}, permute.reason, note)
        )


def _rules(ctx: Context, items: Sequence[Inferred]) -> list[_Rule]:
    """Fold mappings into rules: one per module-level template pair, kind and evidence."""
    rules: dict[tuple[str, str, str, str], _Rule] = {}
    for item in items:
        source, target = core_rule(
            template(ctx.renamed(item.sources[0]))[0], template(item.targets[0])[0]
        )
        key = (source, target, item.kind, item.evidence)
        if key not in rules:
            rules[key] = _Rule(source, target, item.kind, item.evidence)
        rules[key].items.append(item)
    return list(rules.values())


def _note(rule: _Rule) -> dict[str, Any]:
    return {"evidence": rule.evidence, "score": rule.score}


def _one_to_one(ctx: Context, items: list[Inferred]) -> None:
    rules = _rules(ctx, items)
    fix: list[Op] = []
    shape_ops: list[Op] = []
    warnings: list[str] = []
    for rule in rules:
        note = _note(rule)
        reason = f"inferred: {rule.source} → {rule.target}"
        fix.extend(_rename_ops(ctx, rule, reason, note))
        for item in rule.items:
            target = item.targets[0]
            if item.kind == "transpose":
                shape_ops.append(Op("transpose", {"name": target, "dims": [1, 0]}, reason, note))
            elif item.kind == "reshape":
                shape = list(ctx.target[target].shape)
                shape_ops.append(Op("reshape", {"name": target, "shape": shape}, reason, note))
            permute = permutation_for(ctx.renamed(item.sources[0]), target, ctx.target)
            if permute is not None:
                shape_ops.append(
                    Op("permute_rows", {"name": target, **permute.args}, permute.reason, note)
                )
            elif (suspect := _suspected(ctx.renamed(item.sources[0]), target)) and (
                suspect not in warnings
            ):
                warnings.append(suspect)
    pairs = _pairs(ctx, items)
    covered = [p.source for p in pairs]
    score = sum(item.score for item in items) / len(items)
    shown = [f"{r.source} → {r.target} ×{len(r.items)}" for r in rules]
    more = f" and {counted(len(shown) - 1, 'more rule')}" if len(shown) > 1 else ""
    evidence: dict[str, Any] = {
        "inferred": [rule.evidence_row() for rule in rules],
        "tensors": len(items),
    }
    note_text = (
        "inferred from structure (block sizes, shapes, registration order, role words), not "
        "from names: review the rules before trusting the values"
    )
    if warnings:
        evidence["suspected_permutation"] = warnings
        note_text += "; " + " ".join(warnings)
    named = next((f for f in ctx.findings if f.category == "rename" and f.fix), None)
    if named is not None:
        # One cause (another implementation's naming): the rules the names gave and
        # the ones structure inferred make one finding.
        _merge(named, rules, covered, score, fix + shape_ops, evidence, note_text)
    else:
        ctx.add(
            Finding(
                category="rename",
                severity="error",
                message=(
                    f"{len(items)} tensors map by structure from another naming scheme "
                    f"(inferred, score {score:.2f}): {shown[0]}{more}"
                ),
                params=covered,
                evidence=evidence,
                confidence=round(score, 3),
                fix=fix + shape_ops,
                fix_note=note_text,
            )
        )
    # A pair stored quantized on one side (GGUF's Q4_0 blocks) is renamed here; its storage
    # is another cause, left open for the quantization rule.
    ctx.consume(
        pairs=[p for p in pairs if is_float(ctx.src(p).dtype) == is_float(ctx.tgt(p).dtype)]
    )


def _merge(
    finding: Finding,
    rules: list[_Rule],
    covered: list[str],
    score: float,
    fix: list[Op],
    evidence: dict[str, Any],
    note: str,
) -> None:
    """Add structural rules to the name-based ``rename`` finding."""
    before = len(finding.params)
    total = before + len(covered)
    finding.confidence = round((finding.confidence * before + score * len(covered)) / total, 3)
    finding.params = [*finding.params, *covered]
    finding.fix = [*finding.fix, *fix]
    finding.evidence.setdefault("rules", []).extend(
        {"checkpoint": r.source, "model": r.target, "count": len(r.items), "score": r.score}
        for r in rules
    )
    finding.evidence["inferred"] = evidence["inferred"]
    finding.evidence["tensors"] = total
    if "suspected_permutation" in evidence:
        finding.evidence["suspected_permutation"] = evidence["suspected_permutation"]
    head = finding.message.split(" tensors ", 1)
    if head[0].isdigit():
        finding.message = f"{total} tensors " + head[1]
    finding.message += f"; {len(covered)} of them inferred by structure (score {score:.2f})"
    finding.fix_note = note


def _pairs(ctx: Context, items: list[Inferred]) -> list[Pair]:
    wanted = {(item.sources[0], item.targets[0]) for item in items}
    return [p for p in ctx.pairs() if (p.source, p.target) in wanted]


def _rename_ops(ctx: Context, rule: _Rule, reason: str, note: dict[str, Any]) -> list[Op]:
    """One templated ``rename`` per leaf where indices carry over unchanged, else one per tensor."""
    by_leaf: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for item in rule.items:
        source, target = ctx.renamed(item.sources[0]), item.targets[0]
        by_leaf[(template(source)[0], template(target)[0])].append((source, target))
    ops = []
    for names in by_leaf.values():
        folded = _templates(names)
        if folded is not None:
            ops.append(Op("rename", {"from": folded[0], "to": folded[1]}, reason, note))
        else:
            ops.extend(Op("rename", {"from": s, "to": t}, reason, note) for s, t in names if s != t)
    return ops


def _templates(names: list[tuple[str, str]]) -> tuple[str, str] | None:
    """``from``/``to`` templates covering exactly these renames, if indices carry over."""
    if len(names) == 1:
        source, target = names[0]
        if "{" in source or "{" in target:
            return None
        return source, target
    parsed = [(template(s), template(t)) for s, t in names]
    (source, _), (target, _) = parsed[0]
    slots_s = len(parsed[0][0][1])
    varying = [k for k in range(slots_s) if len({p[0][1][k] for p in parsed}) > 1]
    if len(varying) > len(_PLACEHOLDERS):
        return None
    for (tmpl_s, idx_s), (tmpl_t, idx_t) in parsed:
        if tmpl_s != source or tmpl_t != target:
            return None
        if tuple(idx_s[k] for k in varying) != idx_t:
            return None
    sample_s, sample_t = names[0]
    return (
        _fill(sample_s, varying, len(parsed[0][0][1])),
        _fill(sample_t, list(range(len(parsed[0][1][1]))), len(parsed[0][1][1])),
    )


def _fill(name: str, varying: list[int], slots: int) -> str:
    """``name`` with the index segments at ``varying`` slots as ``{i}``, ``{j}``, ``{k}``."""
    segments = name.split(".")
    slot = 0
    for position, segment in enumerate(segments):
        if segment.isdigit() and (segment == "0" or segment[0] != "0"):
            if slot in varying:
                segments[position] = "{" + _PLACEHOLDERS[varying.index(slot)] + "}"
            slot += 1
    return ".".join(segments)


def _many(ctx: Context, items: list[Inferred]) -> None:
    rules = _rules(ctx, items)
    fix: list[Op] = []
    for rule in rules:
        note = _note(rule)
        reason = f"inferred: {rule.kind} {rule.source} → {rule.target}"
        for item in rule.items:
            fix.extend(_many_ops(ctx, item, reason, note))
    params = [name for item in items for name in item.sources]
    score = sum(item.score for item in items) / len(items)
    shown = [f"{r.kind} {r.source} → {r.target} ×{len(r.items)}" for r in rules]
    more = f" and {counted(len(shown) - 1, 'more rule')}" if len(shown) > 1 else ""
    ctx.add(
        Finding(
            category="fused_split",
            severity="error",
            message=(
                f"{len(items)} tensor groups are fused, split or stacked otherwise in the model "
                f"(inferred, score {score:.2f}): {shown[0]}{more}"
            ),
            params=params,
            evidence={"inferred": [rule.evidence_row() for rule in rules], "groups": len(items)},
            confidence=round(score, 3),
            fix=fix,
            fix_note=(
                "inferred from sums of dimensions; assumes plain concatenation or stacking "
                "(layouts interleaved per head need a reshape first)"
            ),
        )
    )


def _many_ops(ctx: Context, item: Inferred, reason: str, note: dict[str, Any]) -> list[Op]:
    sources = [ctx.renamed(name) for name in item.sources]
    targets = list(item.targets)
    if item.kind == "concat":
        return [Op("concat", {"names": sources, "into": targets[0], "dim": 0}, reason, note)]
    if item.kind == "split":
        sizes = [ctx.target[t].shape[0] for t in targets]
        args = {"name": sources[0], "into": targets, "sizes": sizes, "dim": 0}
        return [Op("split", args, reason, note)]
    if item.kind == "stack":
        return [Op("stack", {"names": sources, "into": targets[0], "dim": 0}, reason, note)]
    if item.kind == "unstack":
        return [Op("unstack", {"name": sources[0], "into": targets, "dim": 0}, reason, note)]
    if item.kind == "stack_concat":
        experts = len(sources) // item.parts
        parts = [f"{targets[0]}.part{k}" for k in range(item.parts)]
        ops = [
            Op(
                "stack",
                {"names": sources[k * experts : (k + 1) * experts], "into": part, "dim": 0},
                reason,
                note,
            )
            for k, part in enumerate(parts)
        ]
        ops.append(Op("concat", {"names": parts, "into": targets[0], "dim": 1}, reason, note))
        return ops
    # unstack_split: one stacked tensor fused on axis 1 → per-expert parts
    experts = len(targets) // item.parts
    sizes = [ctx.target[targets[k * experts]].shape[0] for k in range(item.parts)]
    parts = [f"{sources[0]}.part{k}" for k in range(item.parts)]
    ops = [Op("split", {"name": sources[0], "into": parts, "sizes": sizes, "dim": 1}, reason, note)]
    ops.extend(
        Op(
            "unstack",
            {"name": part, "into": targets[k * experts : (k + 1) * experts], "dim": 0},
            reason,
            note,
        )
        for k, part in enumerate(parts)
    )
    return ops


def _ambiguous(ctx: Context) -> None:
    groups = ctx.alignment.ambiguous
    if not groups:
        return
    targets = [t for g in groups for t in g.targets if t in set(ctx.missing())]
    candidates = [c for g in groups for c in g.candidates if c in set(ctx.unexpected())]
    if not targets:
        return
    by_evidence: dict[str, list[str]] = defaultdict(list)
    for group in groups:
        by_evidence[group.evidence].extend(group.targets)
    examples = [
        {
            "model": [str(g) for g in collapse_names(list(group.targets))][:4],
            "candidates": [str(g) for g in collapse_names(list(group.candidates))][:4],
            "evidence": group.evidence,
        }
        for group in groups[:4]
    ]
    ctx.add(
        Finding(
            category="rename",
            severity="error",
            message=(
                f"{len(targets)} model tensor(s) fit {len(candidates)} checkpoint tensor(s) "
                "equally well; the mapping is left for review"
            ),
            params=candidates,
            evidence={"ambiguous": examples, "groups": len(groups)},
            confidence=0.5,
            fix_note=(
                "add a rename for each model tensor in the plan by hand: the candidates have the "
                "same shape and neither registration order nor role words tell them apart"
            ),
        )
    )
    ctx.consume(missing=targets, unexpected=candidates)


def _suspected(source: str, target: str) -> str | None:
    """A warning for a mapping whose values may need a permutation no table row knows."""
    if "qkv" in roles(source) and "qkv" in roles(target):
        return FUSED_QKV_WARNING
    return suspected_permutation(source, target)


def _value_changes(ctx: Context, named: Finding, pairs: list[Pair]) -> None:
    """Leave to the model the tensors a known layout stores with changed values.

    The rename still moves them; a ``reinit`` then leaves them out, so no wrong
    value is written, and the finding says why.
    """
    reasons = []
    for pair in pairs:
        change = value_change_for(ctx.renamed(pair.source), ctx.target)
        if change is None:
            continue
        named.fix.append(Op("reinit", {"name": pair.target}, f"values differ: {change}"))
        if change not in reasons:
            reasons.append(change)
    if reasons:
        named.evidence["value_changes"] = reasons
        named.fix_note = " ".join(
            [named.fix_note, "Left to the model (values stored changed, no exact op):", *reasons]
        ).strip()
