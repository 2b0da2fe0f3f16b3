"""Calibrate the ``text`` profile's confidences by each rule's measured precision.

``knowledge/calibration.yaml`` holds, per text rule, how many of its top findings were
right on the development part of ``tests/data/errors-real/`` (``bench/explain_real.py
--calibrate`` measures it). A finding's confidence is capped at what the rule has earned:

- the lower bound of the Wilson score interval of its precision (:data:`Z`: a 90 %
  one-sided bound), never its raw hit rate: a rule right on 3 of 3 texts earns 0.65, on
  10 of 10 0.86, and one often wrong earns little;
- nothing above :data:`UNMEASURED` for a rule seen on fewer than :data:`MIN_SEEN` dev texts:
  rules are written while reading the dev texts, so a rule's first hits are the texts that
  motivated it, not evidence that it generalises. Below that, the few texts seen move the
  cap from :data:`UNMEASURED` as :data:`PRIOR_TEXTS` texts of that precision would weigh
  against them: a first miss is no more evidence than a first hit (one miss of one: 0.30).

A rule never measured stays below 0.5 (:data:`UNMEASURED`): its precision is not known.
The cap never raises a confidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from weightfit.findings import NO_SPECIFIC_CAUSE, Finding

UNMEASURED = 0.45
"""The highest confidence of a rule with no measured finding (or too few)."""

MIN_SEEN = 3
"""Fewest dev texts on which a rule's top findings were measured for its cap to pass 0.5."""

PRIOR_TEXTS = 2
"""How many texts at :data:`UNMEASURED` precision a rule seen on fewer than :data:`MIN_SEEN`
dev texts is assumed to have before them: one miss in one text bounds its precision at 0,
but says little of the next text."""

Z = 1.28
"""Standard deviations below the measured precision the cap sits (Wilson score bound)."""

PARTLY_EXPLAINED = 0.6
"""The highest confidence of a cause when the text shows differences no rule explained:
the cause may be only part of the story (a symbol table that differs beside decoder
widths that differ too is one older code version, not added tokens)."""


@dataclass(frozen=True)
class Measured:
    """A rule's top findings on the development texts: how many, how many right."""

    seen: int
    right: int

    @property
    def cap(self) -> float:
        """The most confidence the rule has earned: a lower bound of its precision."""
        if not self.seen:
            return UNMEASURED
        n, p, z2 = self.seen, self.right / self.seen, Z * Z
        centre = p + z2 / (2 * n)
        spread = Z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
        bound = (centre - spread) / (1 + z2 / n)
        if n >= MIN_SEEN:
            return bound
        return min((self.right + PRIOR_TEXTS * UNMEASURED) / (n + PRIOR_TEXTS), UNMEASURED)


@cache
def _measured() -> dict[str, dict[str, Measured]]:
    """``knowledge/calibration.yaml``'s sections, each a name to its measured findings."""
    text = resources.files("weightfit.knowledge").joinpath("calibration.yaml").read_text("utf-8")
    return {
        section: {name: Measured(int(row["seen"]), int(row["right"])) for name, row in rows.items()}
        for section, rows in yaml.safe_load(text).items()
    }


def table() -> dict[str, Measured]:
    """Every measured rule (``knowledge/calibration.yaml``)."""
    return _measured()["rules"]


def rival_table() -> dict[str, Measured]:
    """Every measured rival cause, keyed ``answered>rival`` (:mod:`.rivals`)."""
    return _measured().get("rivals", {})


def resemblance_table() -> dict[str, Measured]:
    """Resemblance's answers to errors no rule explains, under ``unknown`` (``explain``)."""
    return _measured().get("resemblance", {})


def calibrate(rule: str, findings: list[Finding]) -> None:
    """Cap the confidence of ``findings`` (made by ``rule``) at the rule's measured precision."""
    cap = table().get(rule, Measured(0, 0)).cap
    for finding in findings:
        if finding.category == "unknown":
            continue  # no cause claimed: its confidence is not a precision to cap
        finding.confidence = round(min(finding.confidence, cap), 2)


def cap_partly_explained(findings: list[Finding]) -> None:
    """Cap every named cause at :data:`PARTLY_EXPLAINED` beside differences none explained."""
    if not any(f.evidence.get(NO_SPECIFIC_CAUSE) for f in findings):
        return
    for finding in findings:
        if not finding.evidence.get(NO_SPECIFIC_CAUSE) and finding.category != "unknown":
            finding.confidence = min(finding.confidence, PARTLY_EXPLAINED)
