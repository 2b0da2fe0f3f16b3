"""Rival causes: what the same reading of a pasted text supports beside an uncertain answer.

A text that shows layers of other sizes reads the same whether the file is another
configuration of the model or was saved by another release of its code; a loading error
that names no tensor is most often a release mismatch, or another configuration or file.
When the top cause is uncertain, :func:`rivals` names the causes an expert would list beside
it (``knowledge/rivals.yaml``), each with what would tell them apart, at the confidence its
measured precision earns: the lower bound :mod:`.calibration` takes of how often the rival
was right on the dev texts that got it (``bench/explain_real.py --calibrate``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal, cast

from weightfit import knowledge
from weightfit.diagnose.calibration import rival_table
from weightfit.findings import Category, Finding, Report

RIVALS_BELOW = 0.6
"""Confidence under which the top cause gets its rivals: a cause named surely stands alone."""

UNMEASURED_RIVAL = 0.1
"""The confidence of a rival whose precision was never measured."""

TENSOR_COUNTS = ("shape_mismatches", "missing", "unexpected")
"""Summary counts of a report whose text lists tensors: its answer rests on them."""

Basis = Literal["tensors", "file"]


@dataclass(frozen=True)
class Rival:
    """A cause the same reading supports beside another (a row of ``rivals.yaml``).

    Attributes:
        of: The category answered.
        basis: ``tensors`` when the answer rests on tensor names or shapes, ``file`` when
            on what a reader said of the file itself.
        rival: The other cause's category.
        why: How the same text arises from the rival cause.
        settle: What tells the two apart.
    """

    of: str
    basis: Basis
    rival: Category
    why: str
    settle: str


@cache
def table() -> tuple[Rival, ...]:
    """The rows of ``knowledge/rivals.yaml``, read once."""
    return tuple(
        Rival(
            of=str(row["of"]),
            basis=cast(Basis, row["basis"]),
            rival=cast(Category, row["rival"]),
            why=str(row["why"]),
            settle=str(row["settle"]),
        )
        for row in knowledge.load_table("rivals")
    )


def rivals(report: Report) -> list[Finding]:
    """Findings for the causes that the top finding's reading supports as well.

    Args:
        report: A report of pasted text, its findings most explanatory first.

    Returns:
        One finding per rival of the top finding's category and basis that no finding
        names yet; none when the top finding is sure (:data:`RIVALS_BELOW`).
    """
    ranked = report.findings
    if not ranked or ranked[0].confidence >= RIVALS_BELOW:
        return []
    top = ranked[0]
    listed = any(report.summary.get(key) for key in TENSOR_COUNTS)
    basis: Basis = "tensors" if top.params or listed else "file"
    named = {finding.category for finding in ranked}
    # A named cause's rivals stay below it; `unknown` claims no cause to stay below.
    ceiling = 1.0 if top.category == "unknown" else top.confidence
    found = [
        Finding(
            category=row.rival,
            severity=top.severity,
            message=f"rival of {top.category}: {row.why}",
            params=list(top.params),
            evidence={"rival_of": top.category, "read_from": basis},
            confidence=min(_earned(rival_key(top.category, row.rival, basis)), ceiling),
            fix_note=f"What would settle {row.rival}: {row.settle}.",
        )
        for row in table()
        if row.of == top.category and row.basis == basis and row.rival not in named
    ]
    return sorted(found, key=lambda finding: -finding.confidence)


def rival_key(answered: str, rival: str, basis: str) -> str:
    """How a rival is keyed in ``calibration.yaml``: ``tensors:wrong_variant>version``."""
    return f"{basis}:{answered}>{rival}"


def _earned(key: str) -> float:
    """The confidence a rival has earned: a lower bound of its measured precision."""
    measured = rival_table().get(key)
    return round(measured.cap, 2) if measured and measured.seen else UNMEASURED_RIVAL
