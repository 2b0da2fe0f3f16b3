"""Rival causes: an uncertain answer comes with the causes the same reading supports."""

from __future__ import annotations

from pathlib import Path

import pytest

import weightfit
from weightfit import knowledge
from weightfit.diagnose.calibration import Measured, rival_table
from weightfit.diagnose.rivals import RIVALS_BELOW, rival_key, table
from weightfit.findings import CATEGORIES

CORPUS = Path(__file__).parent / "data" / "errors-real"


def _explain(ident: str) -> weightfit.Report:
    return weightfit.explain((CORPUS / f"{ident}.txt").read_text(encoding="utf-8"))


def test_another_size_comes_with_another_release() -> None:
    # Layers of other widths no rule explains: the thread settled a release of the code.
    report = _explain("syr-cn__SimSGT__8")
    top, rival = report.findings[:2]
    assert (top.category, top.confidence < RIVALS_BELOW) == ("wrong_variant", True)
    assert rival.category == "version"
    assert rival.evidence == {"rival_of": "wrong_variant", "read_from": "tensors"}
    assert rival.confidence < top.confidence
    assert rival.params == top.params
    assert "release" in rival.fix_note


def test_an_error_naming_no_tensor_lists_the_commonest_causes() -> None:
    report = _explain("AI-Hypercomputer__maxtext__2935")
    assert report.findings[0].category == "unknown"
    rivals = [f for f in report.findings[1:] if f.evidence.get("rival_of") == "unknown"]
    assert {f.category for f in rivals} == {"version", "wrong_variant", "unrelated"}
    assert all(f.evidence["read_from"] == "file" for f in rivals)
    confidences = [f.confidence for f in rivals]
    assert confidences == sorted(confidences, reverse=True)


def test_a_sure_cause_stands_alone() -> None:
    report = _explain("152334H__tortoise-tts-fast__117")
    assert report.findings[0].confidence >= RIVALS_BELOW
    assert not any("rival_of" in f.evidence for f in report.findings)


def test_a_rival_already_named_is_not_repeated() -> None:
    for ident in ("syr-cn__SimSGT__8", "AI-Hypercomputer__maxtext__2935"):
        categories = [f.category for f in _explain(ident).findings]
        assert len(categories) == len(set(categories)), ident


@pytest.mark.parametrize("row", table(), ids=lambda row: rival_key(row.of, row.rival, row.basis))
def test_every_rival_is_a_measured_pair_of_categories(row) -> None:
    assert {row.of, row.rival} <= set(CATEGORIES) and row.of != row.rival
    assert row.basis in ("tensors", "file")
    measured = rival_table().get(rival_key(row.of, row.rival, row.basis))
    assert isinstance(measured, Measured) and measured.seen >= 3, "run explain_real --calibrate"


def test_every_rival_row_cites_where_the_confusion_shows() -> None:
    rows = knowledge.load_table("rivals")
    assert len(rows) == len(table())
    keys = [(row["of"], row["rival"], row["basis"]) for row in rows]
    assert len(keys) == len(set(keys))


def test_the_verdict_counts_rivals_apart_from_causes(run_cli) -> None:
    result = run_cli("explain", CORPUS / "syr-cn__SimSGT__8.txt")
    assert result.code == 1
    assert "(1 finding, 1 blocking, 1 rival cause)" in result.out.splitlines()[0]
    assert "rival of wrong_variant:" in result.out
