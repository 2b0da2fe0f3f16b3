"""``weightfit.fix``: check a checkpoint, plan the repair, apply it, verify it.

The plan is the findings' own operations, merged (an op two findings ask for is
kept once) and put in the order ``docs/plans.md`` gives: drops on checkpoint
names, then the renames that turn checkpoint names into model names, then the
shape and value ops, casts and re-initialisations on model names. It is written
to ``OUT/weightfit-plan.yaml`` for review before (``plan_only``) or with the
weights it made.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from weightfit import atomic
from weightfit.apply import (
    DEFAULT_SHARD_SIZE,
    PLAN_FILE,
    ApplyResult,
    ProgressFn,
    WriteOptions,
    apply,
    chosen,
    named_for,
)
from weightfit.errors import DestinationExists
from weightfit.findings import LOADER_ONLY, Finding, Report
from weightfit.manifest import Manifest
from weightfit.placement import place, stage
from weightfit.plan import Op, Plan
from weightfit.source_identity import identify
from weightfit.tensor_io import writing


@dataclass
class FixResult:
    """What :func:`fix` found, planned and wrote.

    Attributes:
        report: The check of the checkpoint against the target.
        plan: The plan made from the report's findings.
        plan_path: Where the plan was written (``OUT/weightfit-plan.yaml``).
        applied: What applying wrote, or ``None`` (``plan_only``, or unfixed findings).
        unfixed: Findings that block a load and that no operation can fix.

    """

    report: Report
    plan: Plan
    plan_path: Path
    applied: ApplyResult | None = None
    unfixed: list[Finding] = field(default_factory=list)

    @property
    def fixed(self) -> bool:
        """Whether a verified checkpoint was written."""
        return self.applied is not None

    def to_dict(self) -> dict[str, Any]:
        """Plain data; ``--json`` prints :func:`weightfit.report.fix.fix_to_dict`."""
        return {
            "fixed": self.fixed,
            "plan_path": str(self.plan_path),
            "plan": self.plan.to_dict(),
            "unfixed": [finding.to_dict() for finding in self.unfixed],
            "report": self.report.to_dict(),
            "applied": self.applied.to_dict() if self.applied is not None else None,
        }

    def __repr__(self) -> str:
        state = "fixed" if self.fixed else f"{len(self.unfixed)} unfixed"
        return f"<FixResult {len(self.plan.ops)} ops, {state}>"


def plan_from_report(report: Report, source: Manifest | None = None) -> Plan:
    """Merge the findings' fix operations into one ordered plan.

    Identical operations (same kind and arguments) are kept once, with the
    first reason; kinds run in the order of :data:`weightfit.placement.STAGES`. Given the
    checkpoint's manifest, the ops are placed (:func:`weightfit.placement.place`):
    each names tensors as the ops before it left them, checked by a dry run, and
    ops that fit nowhere are left out (see :func:`left_out_findings`).

    Args:
        report: A report from :func:`weightfit.check`.
        source: The checkpoint's manifest, to place the ops against.

    Returns:
        The :class:`~weightfit.plan.Plan`, with the report's source and target.

    """
    merged = _merged(report)
    ops = sorted(merged, key=stage) if source is None else place(merged, source).ops
    return Plan(ops=ops, source=report.source, target=report.target)


def _identity(op: Op) -> str:
    return json.dumps([op.kind, op.args], sort_keys=True, default=str)


def _merged(report: Report) -> list[Op]:
    """The findings' ops, each kept once (same kind and arguments), first reason kept."""
    seen: set[str] = set()
    merged: list[Op] = []
    for finding in report.findings:
        for op in finding.fix:
            if _identity(op) not in seen:
                seen.add(_identity(op))
                merged.append(op)
    return merged


def left_out_findings(report: Report, source: Manifest) -> list[Finding]:
    """Blocking findings with a fix op that fits nowhere in the plan (see ``place``)."""
    left_out = {_identity(op) for op in place(_merged(report), source).left_out}
    return [
        finding
        for finding in report.findings
        if finding.severity == "error" and any(_identity(op) in left_out for op in finding.fix)
    ]


def unfixed_findings(report: Report) -> list[Finding]:
    """Return the findings that block a strict load and carry no operation to fix them.

    A benign finding whose tensors only their own library's loader reads
    (``LOADER_ONLY``) counts too: its loader takes the checkpoint as it is, a copy
    would not fit the model built here.
    """
    return [
        f
        for f in report.findings
        if (f.severity == "error" or f.evidence.get(LOADER_ONLY)) and not f.fix
    ]


def fix(
    checkpoint: str | Path | Manifest,
    target: object,
    out: str | Path,
    *,
    plan_only: bool = False,
    shard_size: int | str = DEFAULT_SHARD_SIZE,
    dtype: str | None = None,
    overwrite: bool = False,
    hash_sources: bool = True,
    kwargs: Mapping[str, Any] | None = None,
    config: str | Path | Mapping[str, Any] | None = None,
    key: str | None = None,
    variant: str | None = None,
    progress: ProgressFn | None = None,
    options: WriteOptions | None = None,
    in_memory_converter: bool = False,
) -> FixResult:
    """Check ``checkpoint`` against ``target``, then write a fixed copy into ``out``.

    Args:
        checkpoint: A checkpoint path (anything :func:`weightfit.read` takes) or manifest.
        target: Anything :func:`weightfit.targets.resolve` takes.
        out: The output folder: weights, index and ``weightfit-plan.yaml``.
        plan_only: Write only the plan, for review; apply it later with
            :func:`weightfit.apply`.
        shard_size: Largest output shard (``"5GB"``).
        dtype: Cast floating-point tensors to this dtype (``"bf16"``).
        overwrite: Replace an existing ``out``.
        hash_sources: Record the sources' SHA-256 in the provenance stamp.
        kwargs: Keyword arguments for a factory target.
        config: A config file or mapping for a factory target.
        key: Which state dict to use inside the checkpoint.
        variant: Precision variant of folder weights.
        progress: Called after each tensor with (tensors written, tensors in all,
            bytes written, bytes in all).
        options: ``shard_size``, ``overwrite``, ``hash_sources`` and ``progress`` as
            one :class:`~weightfit.apply.WriteOptions`, instead of as keywords.
        in_memory_converter: When ``check`` names a library converter the tracer
            refused, run it in memory instead (the whole checkpoint in memory).

    Returns:
        A :class:`FixResult`. Nothing is applied when a blocking finding has no
        fix (``unfixed``): the plan is written so a person can finish it. A PEFT
        adapter folder is repaired itself (its tensors renamed, as its check
        says) and written as an adapter folder; its vocabulary resize stays unfixed
        (``weightfit.merge_adapter`` resizes the base).

    Raises:
        UsageError: writer options given both as ``options`` and as keywords.
        InputError: the checkpoint or target cannot be read.
        InvalidPlan: the merged plan does not fit the checkpoint.
        DestinationExists: ``out`` exists and ``overwrite`` is false.
        OutputError: writing or verifying the output failed; nothing is left behind.

    Example:
        >>> result = weightfit.fix("DiT-XL-2.pt", "opensora:STDiT_XL_2", "out/")  # doctest: +SKIP
        >>> [op.kind for op in result.plan.ops]  # doctest: +SKIP
        ['drop', 'unsqueeze']

    """
    from weightfit.check import adapter_folder, check, mark_lone_shard
    from weightfit.converters import plan_for as converter_plan
    from weightfit.formats import read
    from weightfit.targets import resolve

    options = chosen(options, WriteOptions(shard_size, overwrite, hash_sources, progress=progress))
    source = (
        checkpoint
        if isinstance(checkpoint, Manifest)
        else read(checkpoint, key=key, variant=variant)
    )
    mark_lone_shard(checkpoint, source)
    expected = resolve(
        target, kwargs=dict(kwargs) if kwargs is not None else None, config=config, variant=variant
    )
    report = check(source, expected)
    adapter = adapter_folder(source, expected)
    if adapter is not None:
        return _fix_adapter(report, adapter, Path(out), plan_only, dtype, options)
    options = named_for(expected, options)
    traced = converter_plan(report)
    plan = replace(traced or plan_from_report(report, source), source_files=identify(source))
    out = Path(out)
    unfixed = unfixed_findings(report)
    if traced is None:
        unfixed += left_out_findings(report, source)
    if in_memory_converter and not plan_only:
        from weightfit.apply import target_config, write_outcome
        from weightfit.converters.memory import STAMP_KEY, fallback

        made = fallback(report, source, expected)
        if made is not None:
            outcome, label = made
            done = write_outcome(
                outcome,
                out,
                plan=Plan(source=report.source, target=report.target),
                options=options,
                target=expected,
                stamp={STAMP_KEY: label},
                extra_files=target_config(expected),
            )
            return FixResult(report=report, plan=done.plan, plan_path=out / PLAN_FILE, applied=done)
    if plan_only or unfixed:
        path = write_plan(plan, out, overwrite=options.overwrite)
        return FixResult(report=report, plan=plan, plan_path=path, unfixed=unfixed)
    applied = apply(
        plan,
        source,
        out,
        dtype=dtype,
        target=expected,
        options=options,
    )
    return FixResult(report=report, plan=applied.plan, plan_path=out / PLAN_FILE, applied=applied)


def _fix_adapter(
    report: Report,
    adapter: Manifest,
    out: Path,
    plan_only: bool,
    dtype: str | None,
    options: WriteOptions,
) -> FixResult:
    """Repair a PEFT adapter folder itself: its renames applied, written as an adapter folder.

    ``check`` reads an adapter as PEFT attaches it to the target; what its
    findings fix are the adapter's own names. A resized vocabulary has no op
    here: the base is resized when the adapter is merged (``adapter merge``).
    """
    from weightfit.adapters.rewrite import write_adapter

    plan = plan_from_report(report, adapter)
    unfixed = unfixed_findings(report) + left_out_findings(report, adapter)
    if plan_only or unfixed:
        path = write_plan(plan, out, overwrite=options.overwrite)
        return FixResult(report=report, plan=plan, plan_path=path, unfixed=unfixed)
    applied = write_adapter(plan, adapter, out, options=options, dtype=dtype)
    return FixResult(report=report, plan=applied.plan, plan_path=out / PLAN_FILE, applied=applied)


def write_plan(plan: Plan, out: Path, *, overwrite: bool = False) -> Path:
    """Write ``plan`` to ``out/weightfit-plan.yaml`` (atomically), creating ``out``.

    Raises:
        DestinationExists: the plan file exists and ``overwrite`` is false.
        DestinationNotWritable: ``out`` cannot be written.

    """
    path = out / PLAN_FILE
    if path.exists() and not overwrite:
        raise DestinationExists("pass overwrite=True (--overwrite) to replace it", path=path)
    with writing(out):
        out.mkdir(parents=True, exist_ok=True)
        atomic.write_text(path, plan.dumps(path.suffix))
    return path
