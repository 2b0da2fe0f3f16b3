"""``weightfit.explain`` and ``weightfit.explained``: parsing details and the context manager."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import weightfit
from weightfit.diagnose.text_messages import implied_shapes
from weightfit.errors import NoLoadingErrorFound
from weightfit.explain import diagnosis_text, explain, explained, sections
from weightfit.explain._text import clean, expand_braces, names_in

MISMATCH = (
    "RuntimeError: Error(s) in loading state_dict for DiT:\n\tsize mismatch for "
    "x_embedder.proj.weight: copying a param with shape torch.Size([1152, 4, 2, 2]) from "
    "checkpoint, the shape in current model is torch.Size([1152, 4, 1, 2, 2])."
)


def test_public_names() -> None:
    assert weightfit.explain is explain
    assert weightfit.explained is explained


def test_report_is_shaped_like_check() -> None:
    report = explain(MISMATCH)
    assert report.source == "<error text>"
    assert report.target == "DiT"
    assert not report.compatible
    assert report.summary["shape_mismatches"] == 1
    assert report.summary["differences"][0]["category"] == "rank_inflate"


def test_ansi_and_progress_redraws_are_removed() -> None:
    assert clean("\x1b[1;31mError\x1b[0m\nshards\r50%\r100%") == "Error\n100%"


def test_hard_wrapped_lines_are_joined() -> None:
    line = MISMATCH.replace("\n\t", " ")
    wrapped = "\n".join(line[i : i + 80] for i in range(0, len(line), 80))
    assert explain(wrapped).findings[0].category == "rank_inflate"


def test_padded_table_rows_are_not_joined() -> None:
    rows = ["a.weight | MISSING    |  " + " " * 40, "b.weight | UNEXPECTED |  " + " " * 40]
    assert clean("\n".join(rows)).count("\n") == 1


def test_truncated_list_is_noted_and_hinted() -> None:
    text = (
        "RuntimeError: Error(s) in loading state_dict for Net:\n\tMissing key(s) in state_dict: "
        '"fc.weight", "fc.bias", ... \n\tUnexpected key(s) in state_dict: "module.fc.weight", '
        '"module.fc.bias". '
    )
    (section,) = sections(text)
    assert section.truncated
    assert section.missing == ["fc.weight", "fc.bias"]
    report = explain(text)
    assert report.findings[0].category == "prefix"
    assert any("cut a list short" in hint for hint in report.hints)


def test_names_in_reads_each_list_style() -> None:
    assert names_in("'a.b', 'c'")[0] == ["a.b", "c"]
    assert names_in("['a.b, c.d']")[0] == ["a.b", "c.d"]
    assert names_in("a.b, c.d")[0] == ["a.b", "c.d"]
    assert names_in('"a", ...')[1] is True


def test_fvcore_braces_expand() -> None:
    assert expand_braces("h.{cls, box}.{weight, bias}") == [
        "h.cls.weight",
        "h.cls.bias",
        "h.box.weight",
        "h.box.bias",
    ]


def test_reshape_factoring_recovers_the_width() -> None:
    assert ((320, 2048), 2048, 1) in implied_shapes((320, 768), 655360)
    assert implied_shapes((4, 4), 17) == []


def test_names_without_shapes_are_not_guessed_renames() -> None:
    text = (
        "_IncompatibleKeys(missing_keys=['blocks.0.norm.weight', 'blocks.1.norm.weight'], "
        "unexpected_keys=['blocks.0.ln.weight', 'blocks.1.ln.weight'])"
    )
    findings = explain(text).findings
    # One word renamed in every block is the cause; no mapping is guessed from names alone.
    # (Its rivals, a release's renaming or a wrapper path, follow it: it is uncertain.)
    assert [f.category for f in findings if "rival_of" not in f.evidence] == ["rename"]
    assert findings[0].evidence["old"] == "ln" and findings[0].evidence["new"] == "norm"
    assert findings[0].fix == [] and findings[0].confidence < 0.5


def test_no_loading_error_raises() -> None:
    with pytest.raises(NoLoadingErrorFound, match="no loading error found"):
        explain("all good\n")
    with pytest.raises(NoLoadingErrorFound, match="binary"):
        explain(b"\x00\x01\x02")


def test_explained_reraises_same_type_with_diagnosis_chained() -> None:
    class Net(nn.Module):
        def __init__(self, classes: int) -> None:
            super().__init__()
            self.classifier = nn.Linear(8, classes)

    state = Net(10).state_dict()
    with pytest.raises(RuntimeError) as caught, explained():
        Net(3).load_state_dict(state)
    message = str(caught.value)
    assert message.startswith("Error(s) in loading state_dict for Net")
    assert "weightfit explain: " in message
    assert "num_classes: classification head sized for 10 classes" in message
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert "weightfit" not in str(caught.value.__cause__)


def test_explained_leaves_other_errors_alone() -> None:
    with pytest.raises(KeyError) as caught, explained():
        raise KeyError("lr")
    assert caught.value.args == ("lr",)
    assert caught.value.__cause__ is None


def test_explained_passes_silently_without_error() -> None:
    with explained():
        value = torch.zeros(1)
    assert value.shape == (1,)


def test_diagnosis_text_lists_findings_and_hints() -> None:
    text = diagnosis_text(explain(MISMATCH))
    assert text.splitlines()[0] == "weightfit explain: 1 finding"
    assert "- rank_inflate: " in text
    assert "hint: " in text


def test_sequential_keys_starting_with_a_digit_are_names() -> None:
    # nn.Sequential under DataParallel: "0.weight" vs "module.0.weight" is a prefix.
    model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))
    wrapped = {f"module.{k}": v for k, v in model.state_dict().items()}
    with pytest.raises(RuntimeError) as raised:
        model.load_state_dict(wrapped)
    report = explain(str(raised.value))
    assert [f.category for f in report.findings] == ["prefix"]
    assert names_in('"0.weight", "32000", "1.5"') == (["0.weight"], False)


def test_tensors_known_only_by_name_are_not_counted_as_parameters() -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))
    state = {"0.weight": torch.zeros(8, 4), "0.bias": torch.zeros(8), "2.weight": torch.zeros(1)}
    with pytest.raises(RuntimeError) as raised:
        model.load_state_dict(state)
    report = explain(str(raised.value))
    missing = report.by_category("missing")[0]
    assert missing.message.startswith("2 model tensors have no counterpart")
    assert missing.evidence["params"] is None
    assert "params" not in report.findings[0].message.split(":")[0]
