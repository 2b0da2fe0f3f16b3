"""Render ``weightfit adapter merge``: what was merged and written, or the check that stopped it.

``weightfit adapter check`` prints the check report itself (:mod:`weightfit.report.check`).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console

from weightfit.adapters.merge import MergeResult
from weightfit.report import counted, sanitize_name
from weightfit.report.check import render_report, report_to_dict
from weightfit.report.fix import render_apply


def merge_to_dict(result: MergeResult) -> dict[str, Any]:
    """The plain data ``weightfit adapter merge --json`` prints."""
    return {
        "merged": result.merged,
        "modules": result.modules,
        "resized": {
            name: {"rows_before": old, "rows_after": new}
            for name, (old, new) in (result.resized or {}).items()
        },
        "added_rows": result.added_rows,
        "replaced": result.replaced or [],
        "added": result.added or [],
        "ignored": result.ignored or [],
        "output": result.applied.to_dict() if result.applied else None,
        "report": report_to_dict(result.report),
    }


def render_merge(console: Console, result: MergeResult) -> None:
    """Print the merge: modules, resized and replaced tensors, files; or why it stopped."""
    if result.applied is None:
        render_report(console, result.report)
        console.print()
        console.print("[bold red]Not merged[/]: the adapter does not fit this base (see above)")
        return
    console.print(f"Merged {counted(result.modules, 'LoRA module')}")
    for name, (old, new) in sorted((result.resized or {}).items()):
        console.print(f"  resized {sanitize_name(name)} from {old} to {new} rows", soft_wrap=True)
    shapes = result.applied.manifest.tensors
    for name in result.replaced or []:
        shape = list(shapes[name].shape) if name in shapes else "?"
        console.print(
            f"  replaced {sanitize_name(name)} by the adapter's copy {shape}", soft_wrap=True
        )
    render_apply(console, result.applied)
