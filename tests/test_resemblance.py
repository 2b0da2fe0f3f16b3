"""Resemblance: a text no rule reads a cause from is answered by the settled threads like it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

import weightfit
from weightfit.errors import NoLoadingErrorFound
from weightfit.explain import explained, readable
from weightfit.explain.resemblance import (
    MIN_SHARE,
    earned,
    neighbours,
    resembling,
    withheld,
)

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "errors-real"
INDEX = ROOT / "src" / "weightfit" / "knowledge" / "settled_threads.json"

# A loading error no rule explains (rockchip-linux/rknn-toolkit2#6): a model converted by
# another toolkit release.
UNEXPLAINED = "rockchip-linux__rknn-toolkit2__6"

NOT_LOADING = {
    "out of memory": "RuntimeError: CUDA out of memory. Tried to allocate 20.00 MiB "
    "(GPU 0; 7.79 GiB total capacity; 6.10 GiB already allocated)",
    "training log": "Epoch 1/10 loss: 0.532 acc: 0.81\nEpoch 2/10 loss: 0.451 acc: 0.84\n",
    "a name error": 'Traceback (most recent call last):\n  File "train.py", line 3, in '
    "<module>\n    x = foo()\nNameError: name 'foo' is not defined",
    "prose": "hello world, nothing went wrong here",
}


def _text(ident: str) -> str:
    return (CORPUS / f"{ident}.txt").read_text(encoding="utf-8")


def _repo(ident: str) -> str:
    return str(yaml.safe_load((CORPUS / f"{ident}.yaml").read_text(encoding="utf-8"))["repo"])


def test_an_unexplained_loading_error_is_answered_before_its_unknown() -> None:
    with withheld([_repo(UNEXPLAINED)]):
        report = weightfit.explain(_text(UNEXPLAINED))
    top = report.findings[0]
    assert top.category == "version"
    assert report.findings[1].category == "unknown"
    # The unknown's rivals stay beside it, but for the cause resemblance answered.
    rivals = [f.category for f in report.findings if f.evidence.get("rival_of") == "unknown"]
    assert rivals and "version" not in rivals
    alike = top.evidence["resembles"]
    assert alike and all("rknn-toolkit2" not in row["url"] for row in alike)
    assert [row["similarity"] for row in alike] == sorted(
        (row["similarity"] for row in alike), reverse=True
    )
    assert top.evidence["share"] >= MIN_SHARE
    assert top.confidence == earned() < 0.5
    voters = [row["url"] for row in alike if row["category"] == "version"]
    assert voters[0] in top.fix_note


def test_rules_only_keeps_to_the_rules() -> None:
    report = weightfit.explain(_text(UNEXPLAINED), resemble=False)
    assert report.findings[0].category == "unknown"
    assert not any("resembles" in f.evidence for f in report.findings)


@pytest.mark.parametrize("text", NOT_LOADING.values(), ids=NOT_LOADING.keys())
def test_a_text_with_no_loading_error_resembles_no_thread(text: str) -> None:
    with pytest.raises(NoLoadingErrorFound):
        weightfit.explain(text)


def test_a_texts_own_repository_is_withheld() -> None:
    text = readable(_text(UNEXPLAINED))
    assert neighbours(text)[0].url.endswith("rockchip-linux/rknn-toolkit2/issues/6")
    with withheld(["Rockchip-Linux/RKNN-Toolkit2"]):
        assert all("rknn-toolkit2" not in n.url for n in neighbours(text))
    assert neighbours(text)[0].similarity == 1.0


def test_threads_settled_outside_every_category_name_no_cause() -> None:
    # Most threads like this one (bourdakos1/Custom-Object-Detection#20) were settled as
    # none of the categories: they vote for no cause, and the rules' `unknown` stands.
    ident = "bourdakos1__Custom-Object-Detection__20"
    text = readable(_text(ident))
    with withheld([_repo(ident)]):
        votes: Counter[str] = Counter()
        for neighbour in neighbours(text):
            votes[neighbour.category] += neighbour.similarity
        assert votes.most_common(1)[0][0] == "unknown"
        assert resembling(text) is None
        assert weightfit.explain(_text(ident)).findings[0].category == "unknown"


def test_explained_keeps_to_the_rules() -> None:
    with pytest.raises(RuntimeError) as raised, explained():
        raise RuntimeError(_text(UNEXPLAINED))
    assert "- unknown:" in str(raised.value)
    assert "settled threads" not in str(raised.value)


def test_the_cli_answers_from_resemblance_unless_rules_only(run_cli) -> None:
    log = CORPUS / f"{UNEXPLAINED}.txt"
    result = run_cli("explain", log, "--json")
    assert result.code == 1
    top = json.loads(result.out)["findings"][0]
    assert top["category"] == "version" and top["evidence"]["resembles"]
    rules_only = json.loads(run_cli("explain", log, "--json", "--rules-only").out)
    assert rules_only["findings"][0]["category"] == "unknown"


def test_the_index_holds_every_dev_thread_and_no_held_back_one() -> None:
    index = json.loads(INDEX.read_text(encoding="utf-8"))
    split = {
        meta["source_url"]: meta["split"]
        for meta in (yaml.safe_load(p.read_text(encoding="utf-8")) for p in CORPUS.glob("*.yaml"))
        if isinstance(meta, dict) and "split" in meta
    }
    urls = [thread["url"] for thread in index["threads"]]
    assert sorted(urls) == sorted(url for url, part in split.items() if part == "dev")


def test_the_index_is_current_with_the_corpus() -> None:
    check = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "settled_threads.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, "run bench/settled_threads.py: " + check.stdout
