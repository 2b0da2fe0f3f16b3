"""How ``weightfit explain`` shows what an error text leaves unknown: no nulls, no fake scalars."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
import torch
from torch import nn

from weightfit.explain import explain
from weightfit.findings import Finding, Report

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


def _load_error(checkpoint: nn.Module, model: nn.Module) -> str:
    """The message ``load_state_dict`` raises when ``checkpoint``'s weights meet ``model``."""
    with pytest.raises(RuntimeError) as raised:
        model.load_state_dict(checkpoint.state_dict())
    return f"RuntimeError: {raised.value}"


class Stack(nn.Module):
    def __init__(self, depth: int, width: int = 4) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))


@pytest.mark.parametrize(("saved", "built"), [(6, 3), (3, 6)])
def test_the_depth_to_build_is_the_checkpoints(saved: int, built: int) -> None:
    report = explain(_load_error(Stack(saved), Stack(built)))
    (finding,) = report.findings
    assert finding.category == "wrong_variant"
    assert (
        finding.fix_note
        == f"build the model with {saved} layers in layers, or use the matching file"
    )


class Attention(nn.Module):
    """An attention's key projection with a LoRA on it, as PEFT names the pair."""

    def __init__(self, context: int) -> None:
        super().__init__()
        self.to_k = nn.Module()
        self.to_k.lora_A = nn.Linear(context, 8, bias=False)
        self.to_k.lora_B = nn.Linear(8, 320, bias=False)


@pytest.mark.parametrize(
    ("checkpoint", "model"),
    [(Stack(2, width=8), Stack(2)), (Attention(768), Attention(1024))],
    ids=["depth", "lora-width"],
)
def test_a_log_naming_no_model_shows_none_of_our_placeholders(
    tmp_path: Path, run_cli, checkpoint: nn.Module, model: nn.Module
) -> None:
    error = _load_error(checkpoint, model)
    # Pasted without its first line, the message names no model class.
    log = tmp_path / "error.log"
    log.write_text("\n".join(line for line in error.splitlines() if "size mismatch" in line))
    result = run_cli("explain", log)
    assert result.code == 1
    assert "#1" not in result.out and "MODEL" not in result.out and "(text)" not in result.out
    assert "TARGET: the model's config.json or folder" in result.out
    report = explain(log.read_text())
    assert all("model" not in finding.evidence for finding in report.findings)


def test_one_hint_per_checkpoint_for_the_whole_picture(run_cli, tmp_path: Path) -> None:
    log = tmp_path / "error.log"
    log.write_text(_load_error(Stack(2, width=8), Stack(2)) + "\n" + LOG)
    result = run_cli("explain", log)
    hints = [line for line in result.out.splitlines() if "for the whole picture" in line]
    assert hints == [
        "hint the log names only the tensors that differ; for the whole picture run: weightfit "
        "check CKPT --against TARGET (TARGET: the config.json or model folder of Stack or Net, "
        "or a factory pkg.module:Callable)"
    ]


def test_a_text_naming_no_tensor_prints_no_zero_counts(tmp_path: Path, run_cli) -> None:
    log = tmp_path / "error.log"
    log.write_text(
        "RuntimeError: PytorchStreamReader failed reading zip archive: "
        "failed finding central directory\n"
    )
    result = run_cli("explain", log)
    assert result.code == 1
    assert "0 tensors vs 0" not in result.out
    assert result.out.splitlines()[1] == ""


def test_counts_agree_with_their_nouns() -> None:
    missing = explain(_load_error(nn.Linear(4, 4, bias=False), nn.Linear(4, 4)))
    assert missing.findings[0].message == (
        "1 model tensor has no counterpart in the checkpoint: bias"
    )
    shape = explain(_load_error(nn.Conv2d(3, 8, 3), nn.Conv2d(3, 8, 7)))
    assert shape.findings[0].message.startswith("1 tensor differs in shape")


def test_evidence_lists_show_whole_names_and_empty_ones_not_at_all() -> None:
    names = [f"model.layers.{i}.self_attn.q_proj.weight" for i in range(6)]
    finding = Finding(
        category="rename",
        severity="error",
        message="m",
        evidence={
            "names": names,
            "nothing": [],
            "none": {},
            "shape": [1, 257, 384],
            "groups": [{"template": name, "count": 1, "shape": None} for name in names],
            "sizes": [{"checkpoint": 2048, "model": 1280}],
        },
    )
    text = Report(source="a", target="b", findings=[finding], compatible=False).to_text()
    (row,) = [line for line in text.splitlines() if line.strip().startswith("names")]
    assert row.split(None, 1)[1] == f"{names[0]}, {names[1]} … (+4 more)"
    assert "nothing" not in text and "none" not in text
    assert "   shape  [1, 257, 384]\n" in text
    assert "   groups 6 entries; see --json\n" in text
    assert '   sizes  [{"checkpoint": 2048, "model": 1280}]\n' in text
    assert "\n\n\n" not in text  # no empty line of counts


def test_a_message_printed_twice_is_one_load() -> None:
    error = _load_error(nn.Conv2d(3, 8, 3), nn.Conv2d(3, 8, 7))
    # Logged by the loader, then raised: the same lines twice, with the traceback between.
    log = f"{error}\nTraceback (most recent call last):\n  File 'train.py', line 3\n{error}"
    report = explain(log)
    assert [f.category for f in report.findings if "rival_of" not in f.evidence] == [
        "wrong_variant"
    ]
    assert report.findings[0].params == ["weight"]
    assert report.summary["shape_mismatches"] == 1


def test_the_counts_line_agrees_in_number(tmp_path: Path, run_cli) -> None:
    log = tmp_path / "error.log"
    log.write_text(_load_error(nn.Conv2d(3, 8, 3), nn.Conv2d(3, 8, 7)))
    result = run_cli("explain", log)
    assert result.out.splitlines()[1].startswith(
        "1 tensor vs 1 · 0 match exactly · 1 differs in shape"
    )


class Classifier(nn.Module):
    def __init__(self, classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(16, classes)


class Detector(Classifier):
    pass


def test_two_models_keep_their_own_names_and_head_counts() -> None:
    log = (
        _load_error(Stack(2, width=8), Stack(2)) + "\n" + _load_error(Classifier(10), Classifier(2))
    )
    report = explain(log)
    params = [name for finding in report.findings for name in finding.params]
    assert "fc.weight" in params and not [name for name in params if "/" in name]
    assert report.summary["params_reinitialised"] == 2 * 16 + 2


def test_two_models_naming_one_tensor_are_told_apart() -> None:
    log = _load_error(Classifier(10), Classifier(2)) + "\n" + _load_error(Detector(80), Detector(3))
    names = [row["name"] for row in explain(log).summary["differences"]]
    assert sorted(names) == [
        "Classifier/fc.bias",
        "Classifier/fc.weight",
        "Detector/fc.bias",
        "Detector/fc.weight",
    ]


def test_the_differences_list_every_name_a_finding_leaves_unpaired(tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
    )
    transformers.BertForMaskedLM(config).save_pretrained(tmp_path / "mlm")
    logged = io.StringIO()
    handler = logging.StreamHandler(logged)
    logger = transformers.logging.get_logger()
    logger.addHandler(handler)
    try:
        transformers.BertForSequenceClassification.from_pretrained(tmp_path / "mlm")
    finally:
        logger.removeHandler(handler)
    # The load report pairs no name; names alone may be paired by the alignment's guess.
    report = explain(logged.getvalue())
    rows = {(row["kind"], row["name"]) for row in report.summary["differences"]}
    unpaired = [f for f in report.findings if f.category in ("missing", "unexpected")]
    assert unpaired
    for finding in unpaired:
        assert {(finding.category, name) for name in finding.params} <= rows


def _emptied(module: nn.Linear) -> nn.Linear:
    """``module`` with its bias as DeepSpeed ZeRO-3 leaves it on a rank: an empty tensor."""
    module.bias = nn.Parameter(torch.empty(0))
    return module


@pytest.mark.parametrize(
    ("checkpoint", "model"),
    [
        (nn.Linear(4, 4, bias=False), nn.Linear(4, 4)),
        (nn.Linear(4, 4), nn.Linear(4, 4, bias=False)),
        (nn.Conv2d(3, 8, 3), nn.Conv2d(3, 8, 7)),
        (nn.Linear(4, 527), _emptied(nn.Linear(4, 527))),
        (nn.Embedding(32000, 8), nn.Embedding(32001, 8)),
    ],
    ids=["missing", "unexpected", "shape", "empty", "vocab"],
)
def test_one_tensor_is_never_counted_as_tensor_s(checkpoint: nn.Module, model: nn.Module) -> None:
    report = explain(_load_error(checkpoint, model))
    assert report.findings
    for finding in report.findings:
        assert "(s)" not in finding.message + finding.fix_note
