"""Embeddings and heads: vocab_resize, num_classes and tied_weights on real transformers models."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM, ViTConfig, ViTForImageClassification

from diagnose_helpers import (
    after_fix,
    blocking,
    categories,
    findings_for,
    only,
    save_safetensors,
)
from seeds import tiny_dit2d


def _llama(vocab: int = 32000, *, tied: bool = False) -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        tie_word_embeddings=tied,
    )
    return LlamaForCausalLM(config)


def test_added_tokens_padded_to_a_multiple_of_8(tmp_path: Path) -> None:
    trained = _llama()
    trained.resize_token_embeddings(32005, pad_to_multiple_of=8)
    trained.save_pretrained(tmp_path / "trained")
    base = _llama()
    base.resize_token_embeddings(32005)  # len(tokenizer), without the padding

    findings = findings_for(tmp_path / "trained", base)

    assert categories(blocking(findings)) == ["vocab_resize"]
    finding = only(findings, "vocab_resize")
    assert set(finding.params) == {"model.embed_tokens.weight", "lm_head.weight"}
    assert finding.evidence["checkpoint_rows"] == 32008
    assert finding.evidence["model_rows"] == 32005
    assert finding.evidence["pad_to_multiple_of"] == 8
    assert finding.evidence["input_embeddings"] == ["model.embed_tokens.weight"]
    assert finding.evidence["output_heads"] == ["lm_head.weight"]
    assert "pad_to_multiple_of=8" in finding.message
    assert "resize_token_embeddings(32005, pad_to_multiple_of=8)" in finding.fix_note
    assert finding.confidence >= 0.9
    assert {(op.kind, op.args["rows"]) for op in finding.fix} == {("truncate_rows", 32005)}


def test_one_added_token_without_padding_names_the_base_vocabulary(tmp_path: Path) -> None:
    trained = _llama()
    trained.resize_token_embeddings(32001)
    path = save_safetensors(tmp_path / "trained.safetensors", trained.state_dict())

    finding = only(findings_for(path, _llama()), "vocab_resize")

    assert finding.evidence["pad_to_multiple_of"] is None
    assert finding.evidence["model_multiple_of"] == 128  # 32000 = 250 × 128
    assert finding.evidence["checkpoint_multiple_of"] is None
    assert "meta-llama/Llama-2-7b-hf vocab_size" in " ".join(finding.evidence["model_rows_match"])
    assert "32001 = 32000 + 1" in finding.message
    assert "resize_token_embeddings(32001)" in finding.fix_note


def test_fewer_rows_in_the_checkpoint_pads(tmp_path: Path) -> None:
    path = save_safetensors(tmp_path / "base.safetensors", _llama().state_dict())
    bigger = _llama()
    bigger.resize_token_embeddings(32064)

    finding = only(findings_for(path, bigger), "vocab_resize")

    assert {(op.kind, op.args["rows"], op.args["init"]) for op in finding.fix} == {
        ("pad_rows", 32064, "mean")
    }
    # 32000 = 500 × 64 is padded already: the message must not call it unpadded.
    assert "both are multiples of 64: 64 rows added" in finding.message
    assert "32000 is not" not in finding.message


def test_tied_lm_head_left_out_by_save_pretrained_is_benign(tmp_path: Path) -> None:
    model = _llama(tied=True)
    model.save_pretrained(tmp_path / "tied")

    findings = findings_for(tmp_path / "tied", _llama(tied=True))

    assert blocking(findings) == []
    finding = only(findings, "tied_weights")
    assert finding.severity == "info"
    assert finding.params == ["lm_head.weight"]
    assert finding.evidence["tied"] == {"lm_head.weight": "model.embed_tokens.weight"}


def test_tied_copy_kept_by_torch_save_against_a_saved_folder_is_benign(tmp_path: Path) -> None:
    model = _llama(tied=True)
    model.save_pretrained(tmp_path / "tied")
    torch.save(model.state_dict(), tmp_path / "tied.pt")

    findings = findings_for(tmp_path / "tied.pt", tmp_path / "tied")

    assert blocking(findings) == []
    finding = only(findings, "tied_weights")
    assert finding.params == ["lm_head.weight"]
    assert finding.evidence["tied"] == {"lm_head.weight": "model.embed_tokens.weight"}
    assert [(op.kind, op.args) for op in finding.fix] == [("drop", {"name": "lm_head.weight"})]


def _vit_classifier(labels: int) -> ViTForImageClassification:
    config = ViTConfig(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        image_size=32,
        patch_size=8,
        num_labels=labels,
    )
    return ViTForImageClassification(config)


def test_classifier_head_for_another_number_of_classes(tmp_path: Path) -> None:
    path = save_safetensors(tmp_path / "vit1000.safetensors", _vit_classifier(1000).state_dict())

    findings = findings_for(path, _vit_classifier(10))

    assert categories(findings) == ["num_classes"]
    finding = findings[0]
    assert set(finding.params) == {"classifier.weight", "classifier.bias"}
    assert finding.evidence["checkpoint_classes"] == 1000
    assert finding.evidence["model_classes"] == 10
    assert finding.evidence["input_width"] == 32
    assert finding.evidence["bias_follows"] is True
    assert "1000 classes in the checkpoint, 10 in the model" in finding.message
    assert [op.kind for op in finding.fix] == ["reinit", "reinit"]


def test_label_embedding_of_a_class_conditional_model(tmp_path: Path) -> None:
    path = save_safetensors(tmp_path / "dit.safetensors", tiny_dit2d(num_classes=1000).state_dict())

    finding = only(findings_for(path, tiny_dit2d(num_classes=10)), "num_classes")

    assert finding.params == ["y_embedder.embedding_table.weight"]
    # 1000 and 10 classes, as the models were built, each with a null-label row for CFG.
    assert (finding.evidence["checkpoint_classes"], finding.evidence["model_classes"]) == (1000, 10)
    assert finding.evidence["null_label_row"] is True
    assert finding.message.startswith("label embedding")


def test_compatible_language_model_yields_no_finding(tmp_path: Path) -> None:
    path = save_safetensors(tmp_path / "llama.safetensors", _llama().state_dict())

    assert findings_for(path, _llama()) == []


def test_row_ops_make_the_vocabulary_fit(tmp_path: Path) -> None:
    trained = _llama()
    trained.resize_token_embeddings(32001)
    path = save_safetensors(tmp_path / "trained.safetensors", trained.state_dict())

    assert after_fix(path, _llama()) == []
    assert after_fix(path, _llama(32064)) == []
