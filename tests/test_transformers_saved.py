"""Checks of folders transformers' own ``save_pretrained`` wrote, against other configs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import transformers
from safetensors.torch import load_file

import weightfit
from small_configs import SMALL_BERT as BERT
from small_configs import SMALL_LLAMA as LLAMA

GPT2 = {"vocab_size": 100, "n_embd": 32, "n_layer": 2, "n_head": 4}


def saved(model: torch.nn.Module, folder: Path) -> Path:
    """Save a transformers model as from_pretrained would find it."""
    model.save_pretrained(folder)  # type: ignore[operator]
    return folder


def loaded_strictly(model: torch.nn.Module, out: Path) -> None:
    """Load every tensor in ``out`` into ``model`` with ``strict=True``."""
    state = {}
    for file in sorted(out.glob("*.safetensors")):
        state.update(load_file(file))
    model.load_state_dict(state, strict=True)


def test_gpt2_position_table_of_another_length_is_truncated_not_reinitialised(
    tmp_path: Path,
) -> None:
    longer = saved(
        transformers.GPT2Model(transformers.GPT2Config(**GPT2, n_positions=64)), tmp_path / "a"
    )
    shorter = saved(
        transformers.GPT2Model(transformers.GPT2Config(**GPT2, n_positions=32)), tmp_path / "b"
    )
    for target in (shorter, shorter / "config.json"):
        report = weightfit.check(longer, target)
        (finding,) = report.findings
        assert finding.category == "pos_embed_resize"
        assert [op.kind for op in finding.fix] == ["truncate_rows"]
        assert "set n_positions to" in (finding.fix_note or "")
    result = weightfit.fix(longer, shorter, tmp_path / "out")
    assert result.applied is not None
    model = transformers.GPT2Model(transformers.GPT2Config(**GPT2, n_positions=32))
    loaded_strictly(model, tmp_path / "out")
    source = load_file(longer / "model.safetensors")["wpe.weight"]
    assert torch.equal(model.wpe.weight.detach(), source[:32])


@pytest.mark.parametrize("as_folder", [True, False])
def test_a_head_for_another_label_count_names_num_labels(tmp_path: Path, as_folder: bool) -> None:
    # Both configs have 2 layers and 2 token types: a 2-way head is num_labels' doing alone.
    five = transformers.BertForSequenceClassification(transformers.BertConfig(**BERT, num_labels=5))
    two = transformers.BertForSequenceClassification(transformers.BertConfig(**BERT, num_labels=2))
    checkpoint, target = saved(five, tmp_path / "five"), saved(two, tmp_path / "two")
    report = weightfit.check(checkpoint, target if as_folder else target / "config.json")
    (finding,) = report.findings
    assert finding.category == "num_classes"
    assert finding.evidence["config_option"] == "num_labels"
    assert "model built with num_labels=2" in (finding.fix_note or "")


def test_layer_count_is_not_blamed_on_a_token_id(tmp_path: Path) -> None:
    deeper = {**LLAMA, "num_hidden_layers": 3}
    checkpoint = saved(
        transformers.LlamaForCausalLM(transformers.LlamaConfig(**deeper)), tmp_path / "three"
    )
    built = transformers.LlamaForCausalLM(transformers.LlamaConfig(**LLAMA))
    target = saved(built, tmp_path / "two")
    (finding,) = weightfit.check(checkpoint, target).findings
    assert finding.category == "wrong_variant"
    assert "model built with num_hidden_layers=2" in (finding.fix_note or "")
    assert "token_id" not in (finding.fix_note or "")


@pytest.mark.parametrize("base", [False, True])
def test_a_tied_checkpoint_into_an_untied_model_copies_the_embedding(
    tmp_path: Path, base: bool
) -> None:
    tied = transformers.LlamaConfig(**LLAMA, tie_word_embeddings=True)
    model = transformers.LlamaModel(tied) if base else transformers.LlamaForCausalLM(tied)
    checkpoint = saved(model, tmp_path / "tied")
    untied = transformers.LlamaConfig(**LLAMA, tie_word_embeddings=False)
    target = saved(transformers.LlamaForCausalLM(untied), tmp_path / "untied")
    report = weightfit.check(checkpoint, target / "config.json")
    finding = next(f for f in report.findings if f.category == "tied_weights")
    assert [(op.kind, op.args["into"]) for op in finding.fix] == [("copy", ["lm_head.weight"])]
    assert report.summary["params_reinitialised"] == 0  # the copy fills the head
    result = weightfit.fix(checkpoint, target / "config.json", tmp_path / "out")
    assert result.applied is not None
    fixed = transformers.LlamaForCausalLM(untied)
    loaded_strictly(fixed, tmp_path / "out")
    assert torch.equal(fixed.lm_head.weight, fixed.model.embed_tokens.weight)


@pytest.mark.parametrize("bare_file", [False, True])
def test_another_number_of_key_value_heads_is_named_not_the_hidden_size(
    tmp_path: Path, bare_file: bool
) -> None:
    grouped = transformers.LlamaForCausalLM(transformers.LlamaConfig(**LLAMA))
    full = transformers.LlamaConfig(**{**LLAMA, "num_key_value_heads": 4})
    checkpoint = saved(grouped, tmp_path / "grouped")
    target = saved(transformers.LlamaForCausalLM(full), tmp_path / "full") / "config.json"
    report = weightfit.check(checkpoint / "model.safetensors" if bare_file else checkpoint, target)
    (finding,) = report.findings
    assert finding.category == "wrong_variant"
    assert finding.evidence["checkpoint_kv_heads"] == 2
    assert finding.evidence["model_kv_heads"] == 4
    assert "hidden_size" not in finding.message + (finding.fix_note or "")
    assert (finding.fix_note or "").endswith("num_key_value_heads=2")


def test_whisper_with_other_mel_bins_is_not_read_as_conditioning_channels(tmp_path: Path) -> None:
    whisper = {
        "vocab_size": 100,
        "d_model": 32,
        "encoder_layers": 1,
        "decoder_layers": 1,
        "encoder_attention_heads": 4,
        "decoder_attention_heads": 4,
        "encoder_ffn_dim": 64,
        "decoder_ffn_dim": 64,
        "max_source_positions": 50,
        "max_target_positions": 32,
        "pad_token_id": 0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "decoder_start_token_id": 1,
    }
    configs = [transformers.WhisperConfig(**whisper, num_mel_bins=n) for n in (128, 80)]
    large_v3, other = (
        saved(transformers.WhisperForConditionalGeneration(c), tmp_path / str(c.num_mel_bins))
        for c in configs
    )
    report = weightfit.check(large_v3, other / "config.json")
    finding = next(f for f in report.findings if "model.encoder.conv1.weight" in f.params)
    assert finding.category != "latent_channels"
    assert "num_mel_bins=80 (checkpoint: 128)" in (finding.fix_note or "")


def test_a_resized_llava_is_a_vocabulary_resize_and_its_plan_has_no_identity_renames(
    tmp_path: Path,
) -> None:
    from small_configs import llava_configs

    def config() -> transformers.LlavaConfig:
        return transformers.LlavaConfig(**llava_configs(100), image_token_index=99)

    resized = transformers.LlavaForConditionalGeneration(config())
    resized.resize_token_embeddings(102)  # updates the config it was built with
    checkpoint = saved(resized, tmp_path / "resized")
    target = saved(transformers.LlavaForConditionalGeneration(config()), tmp_path / "base")
    report = weightfit.check(checkpoint, target / "config.json")
    categories = [f.category for f in report.findings]
    assert "vocab_resize" in categories and "wrong_variant" not in categories
    result = weightfit.fix(checkpoint, target / "config.json", tmp_path / "out")
    assert result.applied is not None
    renames = [op.args for op in result.plan.ops if op.kind == "rename" and "pattern" in op.args]
    assert all(args["pattern"] != re.escape(args["replacement"]) for args in renames)
    loaded_strictly(transformers.LlavaForConditionalGeneration(config()), tmp_path / "out")


def test_a_base_model_into_its_task_class_reinitialises_the_head_and_back_drops_it(
    tmp_path: Path,
) -> None:
    base = saved(transformers.BertModel(transformers.BertConfig(**BERT)), tmp_path / "base")
    task_config = transformers.BertConfig(**BERT, num_labels=3)
    task = saved(transformers.BertForSequenceClassification(task_config), tmp_path / "task")

    into_task = weightfit.check(base, task / "config.json")
    head = next(f for f in into_task.findings if f.category == "missing")
    assert head.evidence["heads"] == ["classifier"] and head.confidence < 1
    assert {op.kind for op in head.fix} == {"reinit"}
    assert weightfit.fix(base, task / "config.json", tmp_path / "out1").applied is not None
    model = transformers.BertForSequenceClassification(task_config)
    state = load_file(tmp_path / "out1" / "model.safetensors")
    assert model.load_state_dict(state, strict=False).missing_keys == [
        "classifier.weight",
        "classifier.bias",
    ]

    into_base = weightfit.check(task, base / "config.json")
    extra = next(f for f in into_base.findings if f.category == "unexpected")
    assert {op.kind for op in extra.fix} == {"drop"}
    assert weightfit.fix(task, base / "config.json", tmp_path / "out2").applied is not None
    loaded_strictly(transformers.BertModel(transformers.BertConfig(**BERT)), tmp_path / "out2")


def test_an_encoder_into_an_encoder_decoder_is_no_task_head(tmp_path: Path) -> None:
    t5 = {"vocab_size": 100, "d_model": 32, "d_kv": 8, "d_ff": 64, "num_layers": 1, "num_heads": 4}
    encoder = saved(transformers.T5EncoderModel(transformers.T5Config(**t5)), tmp_path / "enc")
    whole = saved(
        transformers.T5ForConditionalGeneration(transformers.T5Config(**t5)), tmp_path / "t5"
    )
    report = weightfit.check(encoder, whole / "config.json")
    decoder = next(f for f in report.findings if f.category == "missing")
    assert decoder.confidence == 1.0 and not decoder.fix


@pytest.mark.parametrize("tower", ["text", "vision"])
def test_one_tower_of_a_clip_drops_the_other_without_calling_it_a_copy_of_the_model(
    tmp_path: Path, tower: str
) -> None:
    parts = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1}
    config = transformers.CLIPConfig(
        text_config={**parts, "vocab_size": 100, "num_attention_heads": 4},
        vision_config={**parts, "num_attention_heads": 4, "image_size": 32, "patch_size": 16},
        projection_dim=16,
    )
    checkpoint = saved(transformers.CLIPModel(config), tmp_path / "clip")
    part = getattr(config, f"{tower}_config")
    cls = transformers.CLIPTextModel if tower == "text" else transformers.CLIPVisionModel
    target = saved(cls(part), tmp_path / tower) / "config.json"
    report = weightfit.check(checkpoint, target)
    assert "extra_state" not in [f.category for f in report.findings]
    other = next(f for f in report.findings if f.category == "unexpected")
    assert other.evidence["part"] == f"{tower}_model." and other.confidence < 1
    assert weightfit.fix(checkpoint, target, tmp_path / "out").applied is not None
    loaded_strictly(cls(part), tmp_path / "out")


def test_a_built_model_as_the_target_carries_its_config(tmp_path: Path) -> None:
    tied = transformers.LlamaConfig(**LLAMA, tie_word_embeddings=True)
    checkpoint = saved(transformers.LlamaForCausalLM(tied), tmp_path / "tied")
    with torch.device("meta"):
        untied = transformers.LlamaForCausalLM(transformers.LlamaConfig(**LLAMA))
    (finding,) = weightfit.check(checkpoint, untied).findings
    # Not "nothing to convert: from_pretrained re-ties it": this model's head is its own.
    assert [op.kind for op in finding.fix] == ["copy"]


def test_lint_checks_a_learned_position_table_against_the_config(tmp_path: Path) -> None:
    folder = saved(
        transformers.GPT2LMHeadModel(transformers.GPT2Config(**GPT2, n_positions=32)),
        tmp_path / "gpt2",
    )
    assert not weightfit.lint(folder).violations
    longer = transformers.GPT2Config(**GPT2, n_positions=64)
    (folder / "config.json").write_text(longer.to_json_string())
    (violation,) = weightfit.lint(folder).violations
    assert violation.code == "WF401" and "n_positions 64" in violation.message


@pytest.mark.parametrize("with_index", [True, False])
def test_one_shard_read_alone_is_named_as_such_not_a_shared_module(
    tmp_path: Path, with_index: bool
) -> None:
    model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**LLAMA))
    model.save_pretrained(tmp_path / "sharded", max_shard_size="20KB")
    shards = sorted((tmp_path / "sharded").glob("model-*-of-*.safetensors"))
    shard = next(s for s in shards if "layers.0.self_attn" in str(load_file(s).keys()))
    if not with_index:
        (tmp_path / "sharded" / "model.safetensors.index.json").unlink()
    report = weightfit.check(shard, tmp_path / "sharded" / "config.json")
    (finding,) = report.findings
    assert finding.category == "missing" and not finding.fix
    assert f"of {len(shards)} of a sharded save" in finding.message


def test_a_vit_base_file_in_the_saved_layout_fits_the_image_classifier(tmp_path: Path) -> None:
    # transformers 5 writes ViT's layers as ``encoder.layer.N.attention.attention.query`` and
    # keeps them as ``vit.layers.N.attention.q_proj``; a base model's file lacks ``vit.`` too.
    # The layout is read under the files' own prefix, so the fix writes the classifier's names.
    config = transformers.ViTConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        image_size=32,
        patch_size=8,
        num_labels=10,
    )
    base = transformers.ViTModel(config)
    folder = saved(base, tmp_path / "base")
    task = saved(transformers.ViTForImageClassification(config), tmp_path / "task")
    report = weightfit.check(folder, task / "config.json")
    layout = [f for f in report.findings if f.evidence.get("library") == "transformers"]
    assert layout and layout[0].evidence["renamed"] >= 24  # every encoder layer's tensors
    assert weightfit.fix(folder, task / "config.json", tmp_path / "out").applied is not None
    model = transformers.ViTForImageClassification(config)
    state = load_file(tmp_path / "out" / "model.safetensors")
    result = model.load_state_dict(state, strict=False)
    assert sorted(result.missing_keys) == ["classifier.bias", "classifier.weight"]
    assert not result.unexpected_keys
    ours = model.state_dict()
    assert all(
        torch.equal(value, ours[f"vit.{name}"])
        for name, value in base.state_dict().items()
        if f"vit.{name}" in ours
    )
