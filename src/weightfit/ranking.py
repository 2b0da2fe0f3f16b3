"""Ranking and counting: findings into a :class:`~weightfit.findings.Report`.

``check``, ``explain`` and ``check_adapter`` all end here: findings sort most
explanatory first (severity, a cause named surely before unexplained differences, then parameters
covered), the ``summary`` counts
what the alignment and the findings cover, and ``differences`` folds the
tensors that differ into rows (repeated layers collapse into one).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from weightfit.alignment import Alignment
from weightfit.findings import LIST_CUT, NO_SPECIFIC_CAUSE, Finding, Report
from weightfit.fix_hint import FixHint, FixTarget, spell
from weightfit.manifest import Manifest, TensorSpec
from weightfit.tree import collapse_names

SEVERITY_RANK = {"error": 0, "warning": 1, "info": 2}
"""Findings sort by severity first: what blocks a load, then what is probably wrong."""

UNPAIRED = frozenset({"missing", "unexpected"})
"""Categories saying a tensor has no counterpart: never shown as one side of a pair."""

BLOCKING_SEVERITIES = frozenset({"error", "warning"})
"""A report is compatible only when no finding has one of these severities."""


def build_report(
    alignment: Alignment, findings: Iterable[Finding], *, fix_target: FixTarget | None = None
) -> Report:
    """Rank findings and count what they cover into a :class:`~weightfit.findings.Report`.

    Args:
        alignment: The alignment the findings were drawn from.
        findings: Findings from :func:`weightfit.diagnose.diagnose` (and provenance).
        fix_target: The inputs ``weightfit fix`` would repeat this check on as a
            repair, for the fix hint; ``None`` when they have no command-line form.

    Returns:
        The report; ``compatible`` is ``True`` when no finding is an error or warning.

    """
    source, target = alignment.source, alignment.target
    findings = list(findings)
    demoted = _unexplained_after(findings)
    ranked = sorted(
        findings,
        key=lambda f: (
            SEVERITY_RANK.get(f.severity, 3),
            f.confidence < DOUBTFUL_CAUSE and _named(f),
            id(f) in demoted,
            -_params(f.params, alignment),
            -len(f.params),  # what explains more tensors, where shapes are unknown (explain)
            # Between leftovers rule order decides: their calibrated confidences measure
            # how often a bare list was the cause, not which of two lists comes first.
            -f.confidence if _named(f) else 0.0,
        ),
    )
    fix_hint = _fix_hint(ranked, fix_target)
    return Report(
        source=source.source,
        target=target.source,
        findings=ranked,
        compatible=not any(f.severity in BLOCKING_SEVERITIES for f in ranked),
        summary=summarize(alignment, ranked),
        hints=_hints(source, fix_hint),
        fix_hint=fix_hint,
    )


LEFTOVER_CATEGORIES = frozenset({"missing", "unexpected", "unknown"})
"""Categories that say what differs, not why."""

DOUBTFUL_CAUSE = 0.25
"""Confidence below which a named cause ranks after every other account: more often wrong
than right by its calibration, however much it would explain."""

SURE_CAUSE = 0.5
"""Confidence from which a named cause ranks before the differences no rule explained."""


def _named(finding: Finding) -> bool:
    return finding.category not in LEFTOVER_CATEGORIES and not finding.evidence.get(
        NO_SPECIFIC_CAUSE
    )


def _unexplained_after(findings: list[Finding]) -> set[int]:
    """The catch-all findings that rank after the rest: some cause was named surely.

    Differences no rule explained beside a cause named at :data:`SURE_CAUSE` or more
    are most often that cause's reach (a layer fed the classes), not a cause of their
    own, so long as they are no more tensors than it explains: more of them say the
    named cause is a part of the story (a symbol table beside decoder widths that differ
    too: another version of the model). Beside leftovers alone they are the best account
    of what differs. Beside a sure cause that pairs names across the sides (a prefix, a
    rename), names left over from lists the paste cut short (``list_cut``) count for
    nothing: their partners may be in the part cut away. Beside any other cause a cut list
    only means more leftovers than were read.
    """
    sure = [f for f in findings if _named(f) and f.confidence >= SURE_CAUSE]
    if not sure:
        return set()
    reach = max(len(f.params) for f in sure)
    pairing = any(f.category in PAIRING_CATEGORIES for f in sure)
    return {
        id(f)
        for f in findings
        if (pairing and f.evidence.get(LIST_CUT))
        or (f.evidence.get(NO_SPECIFIC_CAUSE) and len(f.params) <= reach)
    }


PAIRING_CATEGORIES = frozenset({"prefix", "rename"})
"""Causes that pair a checkpoint's names with the model's: what a cut list may hide."""


def summarize(alignment: Alignment, findings: list[Finding]) -> dict[str, Any]:
    """Count what a report's ``summary`` holds (see ``docs/json-schema.md``)."""
    source, target = alignment.source, alignment.target
    mismatched = alignment.shape_mismatches()
    exact = sum(
        1
        for p in alignment.pairs
        if p.via == "exact" and source[p.source].shape == target[p.target].shape
    )
    by_category: Counter[str] = Counter()
    findings_by_category: Counter[str] = Counter()
    for finding in findings:
        by_category[finding.category] += _params(finding.params, alignment)
        findings_by_category[finding.category] += 1
    return {
        "source_tensors": len(source),
        "target_tensors": len(target),
        "source_params": source.num_params,
        "target_params": target.num_params,
        "matched": len(alignment.pairs),
        "exact": exact,
        "renamed": sum(1 for p in alignment.pairs if p.via != "exact"),
        "fused_groups": len(alignment.fused),
        "shape_mismatches": len(mismatched),
        "dtype_mismatches": sum(
            1
            for p in alignment.pairs
            if source[p.source].shape == target[p.target].shape
            and source[p.source].dtype != target[p.target].dtype
        ),
        "missing": len(alignment.missing),
        "unexpected": len(alignment.unexpected),
        "findings": dict(findings_by_category),
        "params_by_category": dict(by_category),
        "params_reinitialised": _reinitialised(alignment, findings),
        "differences": differences(alignment, findings),
    }


def differences(alignment: Alignment, findings: list[Finding]) -> list[dict[str, Any]]:
    """Fold the tensors that differ into rows, one per collapsed name and difference.

    Renamed tensors with equal shapes are not differences (a ``module.`` prefix is
    one finding, never 2×N rows); neither are dtype-only differences, which
    ``summary["dtype_mismatches"]`` counts and a ``dtype_variant`` finding
    explains. Names that differ only in layer numbers, differ the same way (same
    shapes and dtypes on both sides) and are explained by the same finding share
    one row: ``blocks.{0..27}.attn.qkv.weight`` with ``count`` 28.

    Returns:
        Rows in checkpoint order: ``kind`` (``shape``, ``missing``, ``unexpected``),
        ``name`` (collapsed), ``count``, ``checkpoint`` and ``model``
        (``{"shape", "dtype"}`` or ``None`` where absent) and ``category`` (of the
        most severe, then most specific, finding covering it; ``""`` if none does).

    """
    source, target = alignment.source, alignment.target
    # The most severe, then most specific, finding explains a tensor: a prefix
    # finding covers every renamed name, but a width finding on two of them says
    # why their shapes differ, and a benign dtype note never hides a real cause.
    explained: dict[str, str] = {}
    ranked = sorted(findings, key=lambda f: (SEVERITY_RANK.get(f.severity, 3), len(f.params)))
    for finding in reversed(ranked):
        for name in finding.params:
            explained[name] = finding.category
    buckets: dict[tuple[str, str, str, str], list[str]] = {}
    sides: dict[tuple[str, str, str, str], tuple[Any, Any]] = {}
    order: dict[str, int] = {}

    def add(kind: str, name: str, left: TensorSpec | None, right: TensorSpec | None) -> None:
        category = explained.get(name, "")
        key = (kind, _side_key(left), _side_key(right), category)
        buckets.setdefault(key, []).append(name)
        sides.setdefault(key, (_side(left), _side(right)))
        order.setdefault(name, len(order))

    for pair in alignment.pairs:
        left, right = source[pair.source], target[pair.target]
        if explained.get(pair.source) in UNPAIRED or explained.get(pair.target) in UNPAIRED:
            # A pairing the alignment guessed and a finding undid (names alone, from a text):
            # each side has no counterpart, as the finding says.
            add("unexpected", pair.source, left, None)
            add("missing", pair.target, None, right)
        elif left.shape != right.shape:
            add("shape", pair.source, left, right)
    for name in alignment.missing:
        add("missing", name, None, target[name])
    for name in alignment.unexpected:
        add("unexpected", name, source[name], None)
    rows = []
    for key, names in buckets.items():
        kind, _, _, category = key
        checkpoint, model = sides[key]
        for group in collapse_names(names):
            row = {
                "kind": kind,
                "name": group.template,
                "count": group.count,
                "checkpoint": checkpoint,
                "model": model,
                "category": category,
            }
            rows.append((order[group.names[0]], row))
    return [row for _, row in sorted(rows, key=lambda item: item[0])]


def _side_key(spec: TensorSpec | None) -> str:
    return "" if spec is None else f"{spec.shape}{spec.dtype}"


def _side(spec: TensorSpec | None) -> dict[str, Any] | None:
    return None if spec is None else {"shape": list(spec.shape), "dtype": spec.dtype}


def _params(names: Iterable[str], alignment: Alignment) -> int:
    """Elements of the named tensors, looked up on the checkpoint side first."""
    total = 0
    for name in names:
        spec = alignment.source.tensors.get(name) or alignment.target.tensors.get(name)
        if spec is not None and spec.shape_known:
            total += spec.numel
    return total


def _reinitialised(alignment: Alignment, findings: list[Finding]) -> int:
    """Target elements a load would leave freshly initialised.

    Missing target tensors and tensors a fix re-initialises count; tensors a
    benign (``info``) finding explains (tied copies, rebuilt buffers) or a fix
    copies from another (an untied head from its embedding) do not.
    """
    benign = {name for f in findings if f.severity == "info" for name in f.params}
    benign |= {
        str(name)
        for f in findings
        for op in f.fix
        if op.kind == "copy"
        for name in op.args.get("into", [])
    }
    names = {name for name in alignment.missing if name not in benign}
    for finding in findings:
        for op in finding.fix:
            name = op.args.get("name")
            if op.kind == "reinit" and isinstance(name, str):
                names.add(_target_name(name, alignment))
    specs = [alignment.target[n] for n in names if n in alignment.target.tensors]
    return sum(spec.numel for spec in specs if spec.shape_known)


def _target_name(name: str, alignment: Alignment) -> str:
    """Return the target name a checkpoint name is paired with (itself when unpaired)."""
    for pair in alignment.pairs:
        if pair.source == name:
            return pair.target
    return name


def _fix_hint(findings: list[Finding], target: FixTarget | None) -> FixHint | None:
    """The repair to suggest: the fix ops of the blocking findings, if any has one."""
    ops = [op for f in findings if f.severity in BLOCKING_SEVERITIES for op in f.fix]
    return FixHint(ops, target) if ops else None


def _hints(source: Manifest, fix_hint: FixHint | None) -> list[str]:
    """Commands or choices that would settle or repair what the report found."""
    hints = []
    if len(source.containers) > 1:
        keys = ", ".join(c.key or "<top level>" for c in source.containers)
        hints.append(
            f"the checkpoint holds {len(source.containers)} state dicts ({keys}); "
            f"{source.container or 'the top level'} was used ({source.container_reason}); "
            "choose another with --key"
        )
    if fix_hint is not None:
        hints.append(spell(fix_hint))
    return hints
