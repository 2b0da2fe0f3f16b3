"""Shared steps of the ``test_diagnose_*`` files: save real weights, read them back, diagnose.

Checkpoints are written with real libraries (safetensors ``save_file``,
``torch.save``, ``save_pretrained``) into ``tmp_path`` and read back with
``weightfit.read``; targets are real modules (or configs built on ``meta``)
resolved with ``weightfit.targets.resolve``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

import weightfit
from weightfit.align import align
from weightfit.diagnose import diagnose
from weightfit.findings import Finding, Report
from weightfit.fix import plan_from_report
from weightfit.manifest import Manifest
from weightfit.ops import predict
from weightfit.targets import resolve


def save_safetensors(path: Path, state: Mapping[str, torch.Tensor]) -> Path:
    """Write a state dict with safetensors (contiguous, untied copies)."""
    save_file({k: v.detach().clone().contiguous() for k, v in state.items()}, str(path))
    return path


def save_torch(path: Path, obj: Any) -> Path:
    """Write anything with ``torch.save`` (the zip format)."""
    torch.save(obj, path)
    return path


def findings_for(checkpoint: Path | Manifest, target: object, **target_args: Any) -> list[Finding]:
    """Read a checkpoint, resolve a target, align them and run every rule."""
    source = checkpoint if isinstance(checkpoint, Manifest) else weightfit.read(checkpoint)
    return diagnose(align(source, resolve(target, **target_args)))


def after_fix(checkpoint: Path | Manifest, target: object) -> list[Finding]:
    """Diagnose, merge every finding's ops into a plan, predict its output, diagnose again.

    The second diagnosis shows whether the ops the rules emit mean what the
    applier (:mod:`weightfit.ops`) does with them. Tensors a plan leaves to the
    model (``reinit``) come back as missing.
    """
    source = checkpoint if isinstance(checkpoint, Manifest) else weightfit.read(checkpoint)
    expected = resolve(target)
    findings = diagnose(align(source, expected))
    plan = plan_from_report(Report("checkpoint", "target", findings), source)
    return diagnose(align(predict(plan, source), expected))


def categories(findings: list[Finding]) -> list[str]:
    """The categories of the findings, in order."""
    return [f.category for f in findings]


def only(findings: list[Finding], category: str) -> Finding:
    """The one finding of ``category`` (fails when there are none or several)."""
    found = [f for f in findings if f.category == category]
    assert len(found) == 1, f"expected one {category!r} finding, got {categories(findings)}"
    return found[0]


def blocking(findings: list[Finding]) -> list[Finding]:
    """Findings that are not merely informational."""
    return [f for f in findings if f.severity != "info"]
