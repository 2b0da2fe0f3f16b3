"""A small sample of the reader fuzzer (``fuzz/readers.py``): no non-weightfit exception."""

from __future__ import annotations

from fuzz import readers
from weightfit.explain._text import Section
from weightfit.explain.key_lists import read_one_headed_listings


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


def test_a_version_dotted_like_a_name_before_a_listed_name_is_no_crash() -> None:
    """Fuzz seed 53: ``v1.0`` is listed like a name but is none; the next line's name opens a
    listing of its own (it used to append to a listing never opened)."""
    section = Section(model="", origin="text", start=0)
    read_one_headed_listings("Model keys:\nv1.0\nencoder.layer.0.weight\n", section)
    assert section.missing == section.unexpected == []
