"""The real-error corpus keeps the shape issue 11 asks for: verbatim texts with a source,
a settled cause and a fixed split by repository."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import pytest
import yaml

from weightfit.findings import CATEGORIES

CORPUS = Path(__file__).parent / "data" / "errors-real"
EXTRA_CATEGORIES = {"unrelated", "unknown"}


def _records() -> list[tuple[Path, dict[str, object]]]:
    return [(path, yaml.safe_load(path.read_text())) for path in sorted(CORPUS.glob("*.yaml"))]


def _split_of(repo: str) -> str:
    """The corpus's one split rule: by repository, on the first hex digit of its sha1."""
    digest = hashlib.sha1(repo.lower().encode()).hexdigest()
    return "heldback" if digest[0] in "012345" else "dev"


def test_size_and_spread() -> None:
    records = _records()
    repos = Counter(str(record["repo"]) for _, record in records)
    splits = Counter(str(record["split"]) for _, record in records)
    assert len(records) >= 150
    assert len(repos) >= 60
    assert max(repos.values()) <= 5
    assert splits["heldback"] >= 50
    urls = Counter(str(record["source_url"]) for _, record in records)
    assert [url for url, count in urls.items() if count > 1] == []  # one text per thread


@pytest.mark.parametrize(
    ("path", "record"), _records(), ids=lambda value: getattr(value, "stem", "")
)
def test_record(path: Path, record: dict[str, object]) -> None:
    text = path.with_suffix(".txt")
    assert text.is_file() and text.read_text().strip(), f"{text.name} is missing or empty"
    repo = str(record["repo"])
    assert str(record["source_url"]).startswith(f"https://github.com/{repo}/")
    assert path.stem.startswith(repo.replace("/", "__") + "__")
    assert record["split"] == _split_of(repo)
    assert record["category"] in set(CATEGORIES) | EXTRA_CATEGORIES
    assert set(record.get("also_acceptable") or []) <= set(CATEGORIES) | EXTRA_CATEGORIES
    assert record["settled_by"] in {"maintainer", "fix_pr", "user_confirmed"}
    assert str(record["settled_cause"]).strip()


def test_first_sight_records_only_dev_texts_of_the_corpus() -> None:
    """``bench/data/first_sight.yaml`` scores texts that are in the corpus, on the dev side."""
    sight = yaml.safe_load(
        (Path(__file__).parents[1] / "bench" / "data" / "first_sight.yaml").read_text()
    )
    for batch in sight["batches"]:
        for ident in batch["texts"]:
            record = yaml.safe_load((CORPUS / f"{ident}.yaml").read_text())
            assert record["split"] == "dev", ident
        # A text answered "no loading error found" was answered wrong, in the same batch.
        absent = batch.get("no_error_at_first_sight") or []
        for ident in absent:
            assert batch["texts"][ident] is False, ident
        # Every other text of a batch that kept confidences had a top finding, in (0, 1].
        stated = batch.get("top_confidence_at_first_sight")
        if stated is not None:
            assert set(stated) | set(absent) == set(batch["texts"]), batch["name"]
            assert all(0 < confidence <= 1 for confidence in stated.values()), batch["name"]
