"""Every error text of the corpus (``tests/data/errors``) is explained as expected.

The texts come from really running failing loads (``make_corpus.py``), reshaped
as people paste them (wrapped, coloured, truncated), plus the seed cases. The
top finding must have the expected category, and a finding of that category
must hold the expected evidence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from weightfit.explain import explain
from weightfit.findings import Report

CORPUS = Path(__file__).parent / "data" / "errors"
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load((CORPUS / "expected.yaml").read_text())
MIN_CASES = 40


def holds(evidence: Any, expected: Any) -> bool:
    """Whether ``evidence`` contains ``expected`` (dict subsets, list items in order-free form)."""
    if isinstance(expected, dict):
        return isinstance(evidence, dict) and all(
            k in evidence and holds(evidence[k], v) for k, v in expected.items()
        )
    if isinstance(expected, list) and isinstance(evidence, list):
        return all(any(holds(e, x) for e in evidence) for x in expected)
    return evidence == expected


def verdict(name: str) -> tuple[bool, str]:
    """Explain one case; return whether it passes and what was found."""
    want = EXPECTED[name]
    report: Report = explain((CORPUS / f"{name}.txt").read_bytes())
    found = [f.category for f in report.findings]
    if not found or found[0] != want["category"]:
        return False, f"top finding {found[:3]}, expected {want['category']}"
    if not any(holds(f.evidence, want["evidence"]) for f in report.by_category(want["category"])):
        shown = [f.evidence for f in report.by_category(want["category"])]
        return False, f"evidence {shown!r} lacks {want['evidence']!r}"
    for category, evidence in want["also"].items():
        if not any(holds(f.evidence, evidence) for f in report.by_category(category)):
            return False, f"no {category} finding with {evidence!r} among {found}"
    return True, found[0]


def test_corpus_is_large_and_mixed() -> None:
    kinds = {row["kind"] for row in EXPECTED.values()}
    assert len(EXPECTED) >= MIN_CASES
    assert {"generated", "variant", "hand", "seed"} <= kinds
    assert sorted(p.stem for p in CORPUS.glob("*.txt")) == sorted(EXPECTED)


def test_accuracy_is_total(capsys: pytest.CaptureFixture[str]) -> None:
    failures = {}
    for name in sorted(EXPECTED):
        ok, detail = verdict(name)
        if not ok:
            failures[name] = detail
    passed = len(EXPECTED) - len(failures)
    with capsys.disabled():
        print(f"\nexplain corpus accuracy: {passed}/{len(EXPECTED)} = {passed / len(EXPECTED):.1%}")
    assert failures == {}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_case(name: str) -> None:
    ok, detail = verdict(name)
    assert ok, detail
