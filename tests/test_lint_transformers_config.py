"""WF405/WF406 on folders transformers' own ``save_pretrained`` wrote, then edited as users do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import transformers

import weightfit
from small_configs import SMALL_BERT as BERT
from small_configs import SMALL_LLAMA as LLAMA


def edit(folder: Path, **changes: object) -> None:
    """Rewrite keys of ``folder/config.json`` (``None`` deletes one)."""
    path = folder / "config.json"
    config = json.loads(path.read_text())
    config.update(changes)
    path.write_text(json.dumps({k: v for k, v in config.items() if v is not None}))


def codes(folder: Path) -> list[str]:
    return [v.code for v in weightfit.lint(folder, select=["WF4"]).violations]


def labels(n: int) -> dict[str, object]:
    return {
        "id2label": {str(i): f"L{i}" for i in range(n)},
        "label2id": {f"L{i}": i for i in range(n)},
    }


@pytest.mark.parametrize(("saved_as", "declared"), [("F32", "bfloat16"), ("BF16", "float32")])
def test_wf405_config_dtype_other_than_the_weights(
    tmp_path: Path, saved_as: str, declared: str
) -> None:
    model = transformers.BertModel(transformers.BertConfig(**BERT))
    if saved_as == "BF16":
        model = model.to(torch.bfloat16)
    model.save_pretrained(tmp_path)
    assert codes(tmp_path) == []
    edit(tmp_path, dtype=declared)
    (v,) = weightfit.lint(tmp_path, select=["WF4"]).violations
    assert v.code == "WF405" and v.evidence["weights_dtype"] == saved_as
    assert f"casts them to {declared}" in v.message
    # What the rule warns of: transformers 5 loads in the config's dtype.
    assert transformers.BertModel.from_pretrained(tmp_path).dtype == getattr(torch, declared)


def test_wf405_not_for_fp32_norms_in_a_bf16_model(tmp_path: Path) -> None:
    model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**LLAMA)).to(torch.bfloat16)
    for name, module in model.named_modules():
        if name.endswith("norm"):
            module.float()
    model.save_pretrained(tmp_path)
    edit(tmp_path, dtype="bfloat16")
    assert codes(tmp_path) == []


def test_wf405_leaves_a_variant_written_config_to_wf404(tmp_path: Path) -> None:
    model = transformers.BertModel(transformers.BertConfig(**BERT))
    model.save_pretrained(tmp_path)
    model.to(torch.bfloat16).save_pretrained(tmp_path, variant="bf16")
    assert json.loads((tmp_path / "config.json").read_text())["dtype"] == "bfloat16"
    assert codes(tmp_path) == ["WF404"]


@pytest.mark.parametrize(
    ("cls", "config", "head"),
    [
        (transformers.BertForSequenceClassification, transformers.BertConfig(**BERT), "classifier"),
        (transformers.BertForTokenClassification, transformers.BertConfig(**BERT), "classifier"),
        (transformers.LlamaForSequenceClassification, transformers.LlamaConfig(**LLAMA), "score"),
        (
            transformers.RobertaForSequenceClassification,
            transformers.RobertaConfig(**BERT),
            "classifier.out_proj",
        ),
        (
            transformers.ViTForImageClassification,
            transformers.ViTConfig(
                hidden_size=32,
                num_hidden_layers=1,
                num_attention_heads=4,
                intermediate_size=64,
                image_size=8,
                patch_size=4,
            ),
            "classifier",
        ),
        (
            transformers.ASTForAudioClassification,
            transformers.ASTConfig(
                hidden_size=32,
                num_hidden_layers=1,
                num_attention_heads=4,
                intermediate_size=64,
                num_mel_bins=16,
                max_length=16,
                patch_size=4,
            ),
            "classifier.dense",
        ),
        (
            transformers.ResNetForImageClassification,
            transformers.ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1]),
            "classifier.1",
        ),
    ],
)
def test_wf406_label_count_other_than_the_classifier_rows(
    tmp_path: Path, cls: type, config: transformers.PretrainedConfig, head: str
) -> None:
    config.update(labels(5))
    cls(config).save_pretrained(tmp_path)
    assert codes(tmp_path) == []
    edit(tmp_path, **labels(3))
    (v,) = weightfit.lint(tmp_path, select=["WF4"]).violations
    assert v.code == "WF406" and v.evidence["tensor"] == f"{head}.weight"
    assert v.evidence["labels"] == 3 and v.evidence["rows"] == 5
    # What the rule says: the real loader refuses the folder.
    with pytest.raises(RuntimeError, match="ignore_mismatched_sizes"):
        cls.from_pretrained(tmp_path)


def test_wf406_without_id2label_counts_transformers_default_of_two(tmp_path: Path) -> None:
    config = transformers.BertConfig(**BERT, **labels(3))
    transformers.BertForSequenceClassification(config).save_pretrained(tmp_path)
    edit(tmp_path, id2label=None, label2id=None)
    (v,) = weightfit.lint(tmp_path, select=["WF4"]).violations
    assert v.code == "WF406" and "defaults to 2 labels" in v.message


def test_wf406_a_hand_written_num_labels_wins_over_id2label(tmp_path: Path) -> None:
    config = transformers.BertConfig(**BERT, **labels(5))
    transformers.BertForSequenceClassification(config).save_pretrained(tmp_path)
    edit(tmp_path, id2label=None, label2id=None, num_labels=5)
    assert codes(tmp_path) == []
    transformers.BertForSequenceClassification.from_pretrained(tmp_path)
    edit(tmp_path, num_labels=3, **labels(5))
    (v,) = weightfit.lint(tmp_path, select=["WF4"]).violations
    assert v.code == "WF406" and "num_labels is 3" in v.message
    with pytest.raises(RuntimeError, match="ignore_mismatched_sizes"):
        transformers.BertForSequenceClassification.from_pretrained(tmp_path)


def test_wf406_a_regression_head_still_needs_its_one_label(tmp_path: Path) -> None:
    regression = transformers.BertConfig(**BERT, num_labels=1, problem_type="regression")
    transformers.BertForSequenceClassification(regression).save_pretrained(tmp_path)
    assert codes(tmp_path) == []
    edit(tmp_path, id2label=None, label2id=None)
    assert codes(tmp_path) == ["WF406"]
    with pytest.raises(RuntimeError, match="ignore_mismatched_sizes"):
        transformers.BertForSequenceClassification.from_pretrained(tmp_path)


def test_wf406_not_for_multiple_choice_regression_or_a_base_model(tmp_path: Path) -> None:
    config = transformers.BertConfig(**BERT, **labels(5))
    transformers.BertForMultipleChoice(config).save_pretrained(tmp_path / "choice")
    assert codes(tmp_path / "choice") == []
    regression = transformers.BertConfig(**BERT, num_labels=1, problem_type="regression")
    transformers.BertForSequenceClassification(regression).save_pretrained(tmp_path / "reg")
    assert codes(tmp_path / "reg") == []
    transformers.BertModel(config).save_pretrained(tmp_path / "base")
    edit(tmp_path / "base", **labels(3))
    assert codes(tmp_path / "base") == []
