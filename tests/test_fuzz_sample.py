"""A small sample of the reader fuzzer (``fuzz/readers.py``): no non-weightfit exception."""

from __future__ import annotations

from fuzz import readers


def test_a_fuzz_sample_ends_in_results_or_weightfit_errors() -> None:
    stats = readers.fuzz(3000, seed=14)
    assert stats.inputs == 3000
    assert [trace for trace, _ in stats.findings] == []
    assert stats.files == 600


def test_a_sample_of_mutated_error_texts_ends_in_reports_or_no_loading_error() -> None:
    from fuzz import texts

    stats = texts.fuzz(1500, seed=3)
    assert stats.inputs == 1500
    assert [trace for trace, _ in stats.findings] == []
    assert stats.reports and stats.no_error
