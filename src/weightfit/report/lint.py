"""Render lint results: ``path:CODE name: message`` lines, JSON, or SARIF 2.1.0.

SARIF is the OASIS Static Analysis Results Interchange Format
(https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html): one run
whose ``tool.driver.rules`` lists every code checked, and one result per
violation with its file as ``physicalLocation.artifactLocation.uri``, relative
to ``%SRCROOT%`` (the linted folder). Renderers only: every fact shown is in
the result object.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from weightfit._version import __version__
from weightfit.lint import registry
from weightfit.manifest import human_bytes
from weightfit.report import counted, sanitize_name

if TYPE_CHECKING:
    from rich.console import Console

    from weightfit.lint import FixOutcome, LintResult

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
INFORMATION_URI = "https://github.com/weightfit/weightfit"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def display_path(result: LintResult, rel: str) -> str:
    """A violation's path as printed: the linted root joined with the relative path."""
    root = result.root.rstrip("/") or "/"
    return f"{root}/{rel}" if rel else root


def lines(result: LintResult) -> list[str]:
    """``path:CODE name: message`` for every violation (names from files escaped)."""
    return [
        f"{sanitize_name(display_path(result, v.path))}:{v.code} {v.name}: "
        + sanitize_name(v.message)
        for v in result.violations
    ]


def render_text(console: Console, result: LintResult, *, verbose: bool = False) -> None:
    """Print the violation lines, then a summary; ``verbose`` adds the resolution table."""
    for line in lines(result):
        console.print(line, highlight=False, soft_wrap=True)
    if verbose:
        for r in result.resolutions:
            variant = r.variant or "-"
            state = f"error: {r.error}" if r.error else f"reads {counted(len(r.loaded), 'file')}"
            needless = f", {len(r.needless)} fetched needlessly" if r.needless else ""
            console.print(
                sanitize_name(
                    f"  {r.rules:16} {variant:6} {r.component or '.'}: {state}{needless}"
                ),
                highlight=False,
                soft_wrap=True,
            )
    safe = sum(
        1 for v in result.violations if v.fixes and all(op.safety == "safe" for op in v.fixes)
    )
    unsafe = sum(1 for v in result.violations if any(op.safety == "unsafe" for op in v.fixes))
    count = len(result.violations)
    if count:
        hints = [f"{safe} fixable with --fix"] if safe else []
        hints += [f"{unsafe} with --fix --unsafe-fixes"] if unsafe else []
        hint = f" ({', '.join(hints)})" if hints else ""
        console.print(f"Found {counted(count, 'problem')}{hint}.", highlight=False)
    else:
        console.print("All checks passed.", highlight=False)


def render_fixes(console: Console, outcome: FixOutcome) -> None:
    """Print the file operations of a fix (or a dry run), one per line."""
    verb = "would" if outcome.dry_run else "did"
    for op in outcome.applied:
        console.print(
            sanitize_name(f"{verb} {op.describe()}  [{op.reason}]"), highlight=False, soft_wrap=True
        )
    for op, why in outcome.skipped:
        console.print(
            sanitize_name(f"skipped {op.describe()}: {why}"), highlight=False, soft_wrap=True
        )
    if outcome.withheld:
        size = sum(op.size for op in outcome.withheld)
        console.print(
            f"{counted(len(outcome.withheld), 'unsafe operation')} on weight files "
            f"({human_bytes(size)}) withheld; add --unsafe-fixes to apply them:",
            highlight=False,
        )
        for op in outcome.withheld:
            console.print(
                sanitize_name(f"  {op.describe()}  [{op.reason}]"), highlight=False, soft_wrap=True
            )


def to_json(result: LintResult, outcome: FixOutcome | None = None) -> dict[str, Any]:
    """Plain data: the result, plus the fix outcome when ``--fix`` ran."""
    data = result.to_dict()
    if outcome is not None:
        data["fix"] = outcome.to_dict()
    return data


def _rule(code: registry.Code) -> dict[str, Any]:
    text = registry.doc(code.code)
    summary = text.split("\n\n")[0].replace("What it checks:", "").strip()
    return {
        "id": code.code,
        "name": code.name,
        "shortDescription": {"text": code.name.replace("-", " ")},
        "fullDescription": {"text": " ".join(summary.split())},
        "help": {"text": text},
        "defaultConfiguration": {"level": _LEVEL[code.severity]},
        "properties": {"category": code.category, "fix": code.fix, "status": code.status},
    }


def to_sarif(result: LintResult) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run: every checked rule and every violation."""
    codes = [registry.BY_CODE[c] for c in result.codes]
    index = {c.code: i for i, c in enumerate(codes)}
    results = []
    for v in result.violations:
        uri = str(PurePosixPath(v.path)) if v.path else "."
        entry: dict[str, Any] = {
            "ruleId": v.code,
            "ruleIndex": index[v.code],
            "level": _LEVEL[v.severity],
            "message": {"text": v.message},
            "locations": [
                {"physicalLocation": {"artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"}}}
            ],
        }
        if v.fixes:
            entry["properties"] = {"fixes": [op.to_dict() for op in v.fixes]}
        results.append(entry)
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "weightfit",
                        "version": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [_rule(c) for c in codes],
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": _root_uri(result.root)}},
                "results": results,
            }
        ],
    }


def _root_uri(root: str) -> str:
    """The linted folder as an absolute ``file://`` URI ending in ``/`` (SARIF §3.14.14)."""
    return Path(root).resolve().as_uri() + "/"
