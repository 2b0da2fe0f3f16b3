"""Render a check :class:`~weightfit.findings.Report`: a terminal report, or JSON.

The terminal report reads top-down: the verdict and the counts, then each finding
(most explanatory first) with its cause, evidence and fix, then one folded table
of the tensors that differ (``summary["differences"]``, folded by
:func:`weightfit.ranking.differences`), where repeated layers collapse into one row
(``blocks.{0..27}.attn.qkv.weight ×28``). Every name and message is escaped.

The JSON shape is ``Report.to_dict()`` plus ``schema_version``, published in
``check.schema.json`` and documented in ``docs/json-schema.md``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.padding import Padding
from rich.table import Table

from weightfit.findings import Finding, Report
from weightfit.manifest import UNKNOWN_DTYPE, human_count
from weightfit.plan import Op
from weightfit.report import counted, sanitize_name
from weightfit.tree import collapse_names

SCHEMA_VERSION = 1
"""Version of the JSON shape :func:`report_to_dict` returns."""

SCHEMA_PATH = Path(__file__).with_name("check.schema.json")
"""The published JSON Schema (draft 2020-12) of that shape."""

MAX_PARAMS_SHOWN = 6
"""Collapsed parameter names listed per finding (the JSON has all of them)."""

MAX_EVIDENCE_ROWS = 8
"""Evidence entries shown per finding."""

MAX_INFERRED_ROWS = 12
"""Inferred rules shown per finding (one line each, folded over layers)."""

MAX_VALUE_CHARS = 90
"""Longest evidence or argument value shown on one line."""

MAX_DIFFERENCE_ROWS = 40
"""Rows of the differences table before the rest are summarised in one line."""

_VERDICT = {True: "[bold green]✓ compatible[/]", False: "[bold red]✗ incompatible[/]"}
_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}
_ROW_LABELS = frozenset({"params", "fix", "note"})
"""Labels of a finding's own rows, which evidence keys must not repeat."""


def report_to_dict(report: Report) -> dict[str, Any]:
    """Turn a report into the plain data ``weightfit check --json`` prints.

    Args:
        report: The report of :func:`weightfit.check`.

    Returns:
        A JSON-ready dict following ``report/check.schema.json``.

    Example:
        >>> report_to_dict(weightfit.check("ckpt.pth", "cfg.json"))["compatible"]  # doctest: +SKIP
        False

    """
    return {"schema_version": SCHEMA_VERSION, **report.to_dict()}


def render_report(console: Console, report: Report) -> None:
    """Draw the terminal report of ``weightfit check`` on ``console``.

    Args:
        console: Where to draw (fixed width and no colour in tests).
        report: The report to show; its ``summary["differences"]`` (folded rows,
            see :func:`weightfit.ranking.differences`) become the closing table.

    """
    console.print(_verdict(report))
    if counts := _counts(report.summary):
        console.print(counts)
    for number, finding in enumerate(report.findings, start=1):
        console.print()
        _render_finding(console, number, finding)
    rows = report.summary.get("differences") or []
    if rows:
        console.print()
        console.print("[bold]differences[/] (repeated layers folded)")
        console.print(_differences_table(rows))
    if report.hints:
        console.print()
        for hint in report.hints:
            console.print(f"[bold]hint[/] {sanitize_name(hint)}")


def _verdict(report: Report) -> str:
    causes = [f for f in report.findings if "rival_of" not in f.evidence]
    blocking = sum(1 for f in causes if f.severity in ("error", "warning"))
    findings = counted(len(causes), "finding")
    if blocking:
        findings += f", {blocking} blocking"
    if rivals := len(report.findings) - len(causes):
        findings += f", {counted(rivals, 'rival cause')}"
    return (
        f"{_VERDICT[report.compatible]}  {sanitize_name(report.source)} → "
        f"{sanitize_name(report.target)}  ({findings})"
    )


def _counts(summary: dict[str, Any]) -> str:
    """One line of counts from the summary, skipping what it does not hold.

    Empty when neither side holds a tensor (an error text naming none): zeros tell nothing.
    """
    if summary.get("source_tensors") == 0 and summary.get("target_tensors") == 0:
        return ""
    facts = []
    if "source_tensors" in summary and "target_tensors" in summary:
        facts.append(
            f"{counted(summary['source_tensors'], 'tensor')} vs {summary['target_tensors']}"
        )
    for key, label, one in (
        ("exact", "match exactly", "matches exactly"),
        ("renamed", "renamed", "renamed"),
        ("fused_groups", "fused groups", "fused group"),
        ("shape_mismatches", "differ in shape", "differs in shape"),
        ("dtype_mismatches", "differ in dtype only", "differs in dtype only"),
        ("missing", "missing", "missing"),
        ("unexpected", "unexpected", "unexpected"),
    ):
        value = summary.get(key)
        if value or (key == "exact" and value is not None):
            facts.append(f"{value} {one if value == 1 else label}")
    reinit = summary.get("params_reinitialised")
    if reinit:
        facts.append(f"{human_count(reinit)} model params would be freshly initialised")
    return "[dim]" + " · ".join(facts) + "[/]" if facts else ""


def _render_finding(console: Console, number: int, finding: Finding) -> None:
    style = _SEVERITY_STYLE.get(finding.severity, "")
    console.print(
        f"[bold]{number}. {sanitize_name(finding.category)}[/]  [{style}]{finding.severity}[/]  "
        f"confidence {finding.confidence:.2f}"
    )
    console.print(Padding(sanitize_name(finding.message), (0, 0, 0, 3)))
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    if finding.params:
        groups = collapse_names(finding.params)
        shown = [sanitize_name(str(group)) for group in groups[:MAX_PARAMS_SHOWN]]
        more = len(groups) - len(shown)
        grid.add_row("   params", ", ".join(shown) + (f" … (+{more} more)" if more else ""))
    # A null or an empty list says nothing, and an evidence key must not repeat a row's
    # label (``params``: the names above; the evidence's ``params`` is a count).
    evidence = [(k, v) for k, v in finding.evidence.items() if v not in (None, [], {}, "")]
    for key, value in evidence[:MAX_EVIDENCE_ROWS]:
        if key == "inferred" and isinstance(value, list):
            for index, rule in enumerate(value[:MAX_INFERRED_ROWS]):
                grid.add_row("   inferred" if index == 0 else "", _inferred_rule(rule))
            if len(value) > MAX_INFERRED_ROWS:
                grid.add_row("", f"… (+{len(value) - MAX_INFERRED_ROWS} more rules)")
            continue
        label = f"{key} (evidence)" if key in _ROW_LABELS else str(key)
        grid.add_row(f"   {sanitize_name(label)}", _evidence(value))
    for index, (op, count) in enumerate(_folded(finding.fix)):
        grid.add_row("   fix" if index == 0 else "", _op(op) + (f" ×{count}" if count > 1 else ""))
    if finding.fix_note:
        grid.add_row("   note", sanitize_name(finding.fix_note))
    console.print(grid)


def _inferred_rule(rule: Any) -> str:
    """One inferred rule: ``ckpt → model ×N  rename, score 0.85: evidence``."""
    if not isinstance(rule, dict):
        return _short(rule)
    return (
        f"{sanitize_name(str(rule.get('checkpoint')))} → {sanitize_name(str(rule.get('model')))} "
        f"×{rule.get('count')}  {sanitize_name(str(rule.get('kind')))}, score "
        f"{rule.get('score')}: {sanitize_name(str(rule.get('evidence')))}"
    )


_LAYER = re.compile(r"(?<=\.)\d+(?=\.)")


def _folded(ops: list[Op]) -> list[tuple[Op, int]]:
    """Ops that differ only in layer numbers, as one row with a count (first op shown templated)."""
    rows: dict[str, list[Any]] = {}
    for op in ops:
        text = json.dumps([op.kind, op.args, op.safety.value], sort_keys=True, default=str)
        key = _LAYER.sub("{i}", text)
        if key in rows:
            rows[key][1] += 1
        else:
            templated = json.loads(_LAYER.sub("{i}", json.dumps(op.args, default=str)))
            rows[key] = [Op(op.kind, templated, op.reason, op.inferred), 1]
    return [(op, count) for op, count in rows.values()]


def _op(op: Op) -> str:
    args = " ".join(f"{sanitize_name(str(k))}={_short(v)}" for k, v in op.args.items())
    safety = op.safety.value
    style = "green" if safety == "exact" else "yellow"
    return f"{sanitize_name(op.kind)} {args}  [{style}]({safety})[/]"


def _evidence(value: Any) -> str:
    """An evidence value on one line: a list of names as its items, cut between two of them.

    Records (a list of objects, an object) too long for the line are counted, not cut
    mid-field: the JSON holds them whole.
    """
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return _items(value)
    records = isinstance(value, dict) or (
        isinstance(value, list) and all(isinstance(v, dict) for v in value)
    )
    if records and len(json.dumps(value, default=str)) > MAX_VALUE_CHARS:
        return f"{counted(len(value), 'entry', 'entries')}; see --json"
    return _short(value)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if len(text) > MAX_VALUE_CHARS:
        text = text[: MAX_VALUE_CHARS - 1] + "…"
    return sanitize_name(text)


def _items(items: list[str]) -> str:
    """``a, b … (+3 more)``: as many whole items as fit, the first one cut only when alone."""
    shown = [items[0]]
    for item in items[1:]:
        if len(", ".join([*shown, item])) > MAX_VALUE_CHARS:
            break
        shown.append(item)
    more = len(items) - len(shown)
    text = ", ".join(shown)
    if len(text) > MAX_VALUE_CHARS:
        text = text[: MAX_VALUE_CHARS - 1] + "…"
    return sanitize_name(text) + (f" … (+{more} more)" if more else "")


def _differences_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(box=None, pad_edge=False, show_edge=False)
    table.add_column("", no_wrap=True)
    table.add_column("tensor", overflow="fold")
    table.add_column("×", justify="right", no_wrap=True)
    table.add_column("checkpoint", no_wrap=True)
    table.add_column("model", no_wrap=True)
    table.add_column("explained by", no_wrap=True)
    for row in rows[:MAX_DIFFERENCE_ROWS]:
        checkpoint, model = row["checkpoint"], row["model"]
        # Dtypes are shown only where they tell something: absent side, or they differ.
        dtypes = checkpoint is None or model is None or checkpoint["dtype"] != model["dtype"]
        table.add_row(
            row["kind"],
            sanitize_name(row["name"]),
            str(row["count"]) if row["count"] > 1 else "",
            _side(checkpoint, dtypes),
            _side(model, dtypes),
            sanitize_name(row["category"]) if row["category"] else "[yellow]unexplained[/]",
        )
    if len(rows) > MAX_DIFFERENCE_ROWS:
        rest = rows[MAX_DIFFERENCE_ROWS:]
        tensors = sum(r["count"] for r in rest)
        table.add_row("", f"… {len(rest)} more rows; see --json", str(tensors), "", "", "")
    return table


def _side(spec: dict[str, Any] | None, dtype: bool) -> str:
    """Shape (and dtype) of one side of a difference, ``—`` when the tensor is absent."""
    if spec is None:
        return "—"
    if spec["dtype"] == UNKNOWN_DTYPE:  # known by name only (an error text): not a scalar
        return "?"
    shape = f"[{', '.join(map(str, spec['shape']))}]"
    return sanitize_name(f"{shape} {spec['dtype']}" if dtype else shape)
