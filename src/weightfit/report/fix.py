"""Render what ``weightfit fix`` and ``weightfit apply`` did: the plan, then the output."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from weightfit.apply import ApplyResult
from weightfit.fix import FixResult
from weightfit.manifest import human_bytes
from weightfit.plan import Plan, Safety
from weightfit.report import counted, sanitize_name
from weightfit.report.check import report_to_dict

MAX_NAMES = 8
"""Names listed per group (re-initialised, left out) before the rest are counted."""


def fix_to_dict(result: FixResult) -> dict[str, Any]:
    """The plain data ``weightfit fix --json`` prints (``fix.schema.json``).

    The embedded ``report`` is exactly ``weightfit check --json`` (with ``schema_version``).
    """
    return {**result.to_dict(), "report": report_to_dict(result.report)}


def render_plan(console: Console, plan: Plan) -> None:
    """Print the plan's ops in order, needs-review ones marked."""
    if not plan.ops:
        console.print("Plan: nothing to change.")
        return
    review = len(plan.needs_review)
    console.print(f"Plan: {counted(len(plan.ops), 'op')}, {review} need review")
    width = max(len(op.kind) for op in plan.ops)
    for index, op in enumerate(plan.ops):
        args = ", ".join(f"{k}={v!r}" for k, v in op.args.items())
        style = "yellow" if op.safety is Safety.NEEDS_REVIEW else "green"
        safety = f"[{style}]{op.safety.value:<12}[/]"
        console.print(
            f"{index:>3}. {op.kind:<{width}}  {safety}  {sanitize_name(args)}", soft_wrap=True
        )
        if op.reason:
            console.print(
                f"{'':>5}{'':<{width}}  {'':<12}  [dim]{sanitize_name(op.reason)}[/]",
                soft_wrap=True,
            )


def render_apply(console: Console, result: ApplyResult) -> None:
    """Print the files written, what was left for training, and the verification."""
    rate = human_bytes(int(result.throughput))
    console.print(
        f"Wrote {counted(result.tensors, 'tensor')} ({human_bytes(result.bytes)}) in "
        f"{result.seconds:.1f} s ({rate}/s) to {sanitize_name(str(result.out))}",
        soft_wrap=True,
    )
    for name in result.files:
        console.print(f"  {sanitize_name(name)}")
    _names(console, "Re-initialised (to train)", result.reinitialised)
    _names(console, "Left out of the output", result.left_out)
    if result.verified_against and result.reinitialised:
        console.print(
            f"[green]Verified[/]: fits {sanitize_name(result.verified_against)} exactly, except "
            f"the {counted(len(result.reinitialised), 'tensor')} left to the model's "
            "initialisation (load with weightfit.load_into, or load_state_dict(strict=False))"
            f"{_tied_note(result.tied)}",
            soft_wrap=True,
        )
    elif result.verified_against and result.plan.inferred:
        console.print(
            f"[yellow]Verified names and shapes[/]: fits {sanitize_name(result.verified_against)}; "
            f"{len(result.plan.inferred)} op(s) rest on an inferred mapping between naming "
            f"schemes: review them (and compare outputs) before trusting the values"
            f"{_tied_note(result.tied)}",
            soft_wrap=True,
        )
    elif result.verified_against and result.tied:
        console.print(
            f"[green]Verified[/]: fits {sanitize_name(result.verified_against)}"
            f"{_tied_note(result.tied)}",
            soft_wrap=True,
        )
    elif result.verified_against and result.verified_model:
        console.print(
            f"[green]Verified[/]: loads strict into {sanitize_name(result.verified_against)}",
            soft_wrap=True,
        )
    elif result.verified_against:
        console.print(
            "[green]Verified[/]: the same tensor names and shapes as "
            f"{sanitize_name(result.verified_against)}",
            soft_wrap=True,
        )
    else:
        console.print("[green]Verified[/]: the files hold exactly what the plan makes")


def _tied_note(tied: dict[str, str]) -> str:
    """Say which tensors are left to the model's weight tying, and which loaders tie them."""
    if not tied:
        return ""
    pairs = [f"{sanitize_name(name)} to {sanitize_name(partner)}" for name, partner in tied.items()]
    more = f" (+{len(pairs) - 2} more)" if len(pairs) > 2 else ""
    return (
        f"; {counted(len(tied), 'tied copy', 'tied copies')} left to the model, which ties "
        f"{', '.join(pairs[:2])}{more}: from_pretrained ties them, a plain "
        "load_state_dict(strict=True) reports them missing (tie the weights after it, or "
        "pass strict=False)"
    )


def render_fix(console: Console, result: FixResult) -> None:
    """Print the diagnosis count, the plan, and what was written (or why not)."""
    report = result.report
    verdict = "compatible" if report.compatible else "incompatible"
    console.print(f"Checked: {verdict}, {counted(len(report.findings), 'finding')}")
    render_plan(console, result.plan)
    console.print(f"Plan written to {sanitize_name(str(result.plan_path))}", soft_wrap=True)
    if result.unfixed:
        console.print("[bold red]Not applied[/]: no operation fixes these findings:")
        for finding in result.unfixed:
            note = f" — {finding.fix_note}" if finding.fix_note else ""
            console.print(
                f"  {finding.category}: {sanitize_name(finding.message)}{sanitize_name(note)}"
            )
        return
    if result.applied is None:
        console.print(
            f"Review it, then: weightfit apply {sanitize_name(str(result.plan_path))} …",
            soft_wrap=True,
        )
        return
    render_apply(console, result.applied)


def _names(console: Console, title: str, names: list[str]) -> None:
    if not names:
        return
    shown = ", ".join(sanitize_name(name) for name in names[:MAX_NAMES])
    more = f" (+{len(names) - MAX_NAMES} more)" if len(names) > MAX_NAMES else ""
    console.print(f"{title}: {len(names)}: {shown}{more}", soft_wrap=True)
