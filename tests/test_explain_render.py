"""How ``weightfit explain`` shows what an error text leaves unknown: no nulls, no fake scalars."""

from __future__ import annotations

from pathlib import Path

LOG = """\
RuntimeError: Error(s) in loading state_dict for Net:
\tMissing key(s) in state_dict: "head.weight", "head.bias".
\tUnexpected key(s) in state_dict: "fc.weight".
"""


def test_params_once_and_a_question_mark_for_an_unknown_shape(tmp_path: Path, run_cli) -> None:
    log = tmp_path / "error.log"
    log.write_text(LOG)
    result = run_cli("explain", log)
    assert result.code == 1
    lines = [line.split() for line in result.out.splitlines()]
    assert [words for words in lines if words[:1] == ["params"]] == [
        ["params", "head.weight,", "head.bias"],
        ["params", "fc.weight"],
    ]
    assert not [words for words in lines if words[1:] == ["null"]]
    missing = next(words for words in lines if words[:2] == ["missing", "head.bias"])
    assert missing == ["missing", "head.bias", "—", "?", "missing"]
    assert "[]" not in result.out
