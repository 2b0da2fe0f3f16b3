"""Calibrate the ``text`` profile's confidences by each rule's measured precision.

``knowledge/calibration.yaml`` holds, per text rule, how many of its top findings were
right on the development part of ``tests/data/errors-real/`` (``bench/explain_real.py
--calibrate`` measures it). A finding's confidence is capped at the rule's smoothed
precision ``(right + 1) / (seen + 2)``: a rule seen rarely cannot claim much, one that
was often wrong cannot claim more than it earned. A rule never measured stays below 0.5
(:data:`UNMEASURED`): its precision is not known. The cap never raises a confidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from weightfit.findings import Finding

UNMEASURED = 0.45
"""The highest confidence of a rule with no measured finding."""


@dataclass(frozen=True)
class Measured:
    """A rule's top findings on the development texts: how many, how many right."""

    seen: int
    right: int

    @property
    def cap(self) -> float:
        """The smoothed precision (Laplace): the most confidence the rule has earned."""
        return (self.right + 1) / (self.seen + 2) if self.seen else UNMEASURED


@cache
def table() -> dict[str, Measured]:
    """Every measured rule (``knowledge/calibration.yaml``)."""
    text = resources.files("weightfit.knowledge").joinpath("calibration.yaml").read_text("utf-8")
    rows = yaml.safe_load(text)["rules"]
    return {name: Measured(int(row["seen"]), int(row["right"])) for name, row in rows.items()}


def calibrate(rule: str, findings: list[Finding]) -> None:
    """Cap the confidence of ``findings`` (made by ``rule``) at the rule's measured precision."""
    cap = table().get(rule, Measured(0, 0)).cap
    for finding in findings:
        finding.confidence = round(min(finding.confidence, cap), 2)
