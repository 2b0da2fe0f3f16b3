"""Knowledge tables: every row sourced and unique, and the facts checked against real classes."""

from __future__ import annotations

import re
from collections import Counter

import pytest
import transformers
from diffusers import AutoencoderKL

from small_configs import llava_configs
from weightfit import knowledge
from weightfit.targets.factory import build_from

DIM_TABLES = ("hidden_sizes", "latent_channels", "vocab_sizes", "class_counts")
DIM_FIELDS = {"model", "family", "kind", "field", "value", "source", "note"}
FAMILY_FIELDS = {
    "family",
    "model",
    "library",
    "class",
    "dims",
    "config",
    "params",
    "signature",
    "source",
    "note",
}
FAMILY_DIMS = {
    "hidden_size", "num_layers", "num_single_layers", "num_heads", "num_kv_heads",
    "intermediate_size", "vocab_size", "context_dim", "caption_channels", "pooled_dim",
    "add_embedding_dim", "in_channels", "out_channels", "model_channels", "patch_size",
    "image_size",
}  # fmt: skip
CHANGE_KINDS = {
    "buffer-nonpersistent",
    "buffer-added",
    "rename",
    "prefix",
    "fused",
    "attribute",
    "api",
    "entry",
    "entry-renamed",
}


@pytest.mark.parametrize("table", knowledge.TABLES)
def test_every_row_has_a_source(table):
    for row in knowledge.load_table(table):
        assert isinstance(row.get("source"), str), row
        assert len(row["source"].strip()) >= 10, row


@pytest.mark.parametrize("table", DIM_TABLES)
def test_dimension_rows_are_unique_and_well_formed(table):
    rows = knowledge.load_table(table)
    keys = Counter((row["model"], row["field"]) for row in rows)
    assert [key for key, count in keys.items() if count > 1] == []
    for row in rows:
        assert set(row) <= DIM_FIELDS, row
        assert DIM_FIELDS - {"note"} <= set(row), row
        assert isinstance(row["value"], int) and row["value"] > 0, row


def test_family_rows_are_unique_and_use_the_shared_vocabulary():
    rows = knowledge.load_table("families")
    assert [f for f, n in Counter(row["family"] for row in rows).items() if n > 1] == []
    for row in rows:
        assert set(row) <= FAMILY_FIELDS, row
        assert set(row["dims"]) <= FAMILY_DIMS, row["family"]
        assert ("config" in row) == ("class" in row) == ("library" in row), row["family"]


def test_version_change_rows_are_unique_and_compile():
    rows = knowledge.load_table("version_changes")
    assert [
        k
        for k, n in Counter((r["library"], r["pattern"], r["kind"]) for r in rows).items()
        if n > 1
    ] == []
    for row in rows:
        assert row["kind"] in CHANGE_KINDS, row
        re.compile(row["pattern"])
        assert isinstance(row["benign"], bool)


BUILDABLE = [f for f in knowledge.families() if f.config is not None]


@pytest.mark.parametrize("family", BUILDABLE, ids=[f.family for f in BUILDABLE])
def test_family_signature_and_parameter_count_match_the_real_class(family):
    library = transformers if family.library == "transformers" else __import__("diffusers")
    manifest = build_from(getattr(library, family.model_class), config=family.config)
    for name, shape in family.signature.items():
        assert manifest[name].shape == shape, name
    if family.params is not None:
        assert manifest.extras["parameters"] == family.params


def test_family_dims_agree_with_the_width_and_vocab_tables():
    widths = {row.model: row.value for row in knowledge.hidden_sizes()}
    vocabs = {row.model: row.value for row in knowledge.vocab_sizes()}
    checked = 0
    for family in knowledge.families():
        if family.model in widths and "hidden_size" in family.dims:
            assert widths[family.model] == family.dims["hidden_size"], family.family
            checked += 1
        if family.model in vocabs and "vocab_size" in family.dims:
            assert vocabs[family.model] == family.dims["vocab_size"], family.family
            checked += 1
    assert checked >= 8


def test_widths_name_the_seed_text_encoders():
    assert [d.label for d in knowledge.candidates_for_width(2304)] == [
        "google/gemma-2-2b-it hidden_size"
    ]
    assert "Qwen/Qwen2.5-1.5B" in [d.model for d in knowledge.candidates_for_width(1536)]
    assert {d.family for d in knowledge.candidates_for_width(4096)} >= {"T5 v1.1", "Llama 2"}
    assert knowledge.candidates_for_width(12345) == []


def test_latent_channels_name_the_autoencoders():
    assert {d.family for d in knowledge.latent_models(4)} >= {"SD VAE", "SDXL VAE"}
    assert [d.family for d in knowledge.latent_models(32)] == ["DC-AE"]
    assert {d.family for d in knowledge.latent_models(16)} >= {"SD3 VAE", "Flux VAE", "Wan VAE"}
    assert [d.family for d in knowledge.latent_models(128)] == ["DC-AE", "LTX VAE"]


def test_vocab_sizes_name_the_seed_vocabularies():
    assert [d.model for d in knowledge.vocab_candidates(151665)] == ["Qwen/Qwen2.5 tokenizer"]
    assert [d.model for d in knowledge.vocab_candidates(152064)] == ["Qwen/Qwen2.5-7B"]
    near = [d.model for d in knowledge.vocab_candidates(32001, within=8)]
    assert near == ["meta-llama/Llama-2-7b-hf", "mistralai/Mistral-7B-v0.1"]


def test_families_matching_tells_unet_generations_apart():
    def named(**dims):
        return [f.family for f in knowledge.families_matching(**dims)]

    assert named(model_channels=320, context_dim=768) == ["SD 1.x UNet"]
    assert named(model_channels=320, context_dim=1024) == ["SD 2.x UNet"]
    assert named(context_dim=2048, add_embedding_dim=2816) == ["SDXL UNet"]
    assert named(hidden_size=2240, caption_channels=2304) == ["Sana 1600M"]
    assert named(hidden_size=4096, num_layers=32, num_kv_heads=32) == ["Llama 2 7B"]
    assert named(hidden_size=1152, num_layers=28) == [
        "DiT-XL/2", "PixArt-α XL/2", "PixArt-Σ XL/2", "Sana 600M"
    ]  # fmt: skip


def test_version_changes_between_releases():
    found = knowledge.version_changes_between("transformers", "4.30.2", "4.33.0")
    assert [c.source.split(" ")[2] for c in found] == ["#24505", "#24998"]
    assert found[0].summary.startswith("transformers 4.31.0: position_ids buffers")
    assert found[0].fix_note == "drop these entries: the model recomputes them"
    downgrade = knowledge.version_changes_between("transformers", "4.33.0", "4.30.2")
    assert downgrade == found
    assert knowledge.version_changes_between("transformers", "4.32.0", "4.32.1") == []
    assert knowledge.version_changes_between("torch", "0.4.0", "2.0.0")[0].kind == "buffer-added"


def _named(cls, **config):
    return set(build_from(cls, config=config).tensors)


def _rename(old):
    changes = [c for c in knowledge.changes_for(old) if c.replacement]
    assert len(changes) == 1, old
    return changes[0].renamed(old)


def test_dropped_buffers_are_absent_from_todays_state_dicts():
    bert = _named(
        transformers.BertModel, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, vocab_size=50,
    )  # fmt: skip
    assert "embeddings.position_embeddings.weight" in bert
    assert "embeddings.position_ids" not in bert
    assert [c.version for c in knowledge.changes_for("bert.embeddings.position_ids")] == [
        "4.31.0",
        "3.1.0",
    ]
    llama = _named(
        transformers.LlamaModel, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, vocab_size=50,
    )  # fmt: skip
    assert not any(name.endswith("inv_freq") for name in llama)
    assert knowledge.changes_for("layers.0.self_attn.rotary_emb.inv_freq")[0].benign


def test_renames_land_on_names_the_real_classes_have():
    vae = _named(AutoencoderKL, block_out_channels=[8], norm_num_groups=4)
    assert _rename("encoder.mid_block.attentions.0.query.weight") in vae
    assert _rename("decoder.mid_block.attentions.0.proj_attn.bias") == (
        "decoder.mid_block.attentions.0.to_out.0.bias"
    )
    assert _rename("decoder.mid_block.attentions.0.proj_attn.bias") in vae
    bert = _named(
        transformers.BertModel, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, vocab_size=50,
    )  # fmt: skip
    assert _rename("embeddings.LayerNorm.gamma") in bert
    assert _rename("encoder.layer.0.output.LayerNorm.beta") in bert
    wav2vec2 = _named(
        transformers.Wav2Vec2Model, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, conv_dim=[8], conv_stride=[5], conv_kernel=[10],
        num_conv_pos_embeddings=4, num_conv_pos_embedding_groups=2,
    )  # fmt: skip
    assert _rename("encoder.pos_conv_embed.conv.weight_g") in wav2vec2
    assert _rename("encoder.pos_conv_embed.conv.weight_v") in wav2vec2
    configs = llava_configs(vocab_size=50)
    llava = _named(transformers.LlavaForConditionalGeneration, **configs)
    assert _rename("language_model.model.layers.0.mlp.up_proj.weight") in llava
    assert _rename("language_model.lm_head.weight") in llava
    assert _rename("multi_modal_projector.linear_1.weight") in llava
    clip = _named(transformers.CLIPVisionModel, **configs["vision_config"])
    assert _rename("vision_model.embeddings.patch_embedding.weight") in clip


def test_fused_expert_layouts_are_todays_layouts():
    mixtral = _named(
        transformers.MixtralForCausalLM, hidden_size=16, intermediate_size=32,
        num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2,
        num_local_experts=2, vocab_size=50,
    )  # fmt: skip
    assert {"model.layers.0.mlp.experts.gate_up_proj", "model.layers.0.mlp.experts.down_proj"} <= (
        mixtral
    )
    old = "model.layers.0.block_sparse_moe.experts.1.w3.weight"
    assert [c.kind for c in knowledge.changes_for(old)] == ["fused"]
    qwen = "model.layers.3.mlp.experts.17.gate_proj.weight"
    assert [c.kind for c in knowledge.changes_for(qwen)] == ["fused"]


def test_version_changes_between_unparseable_versions_is_empty() -> None:
    assert knowledge.version_changes_between("transformers", "main", "4.40.0") == []
    assert knowledge.version_changes_between("transformers", "4.30.0", "legacy") == []


def test_model_types_are_the_ones_transformers_registers() -> None:
    """``model_types.yaml`` lists transformers' own ``model_type`` names, nothing invented."""
    auto = pytest.importorskip("transformers.models.auto.configuration_auto")
    assert knowledge.model_types() <= set(auto.CONFIG_MAPPING_NAMES)
    assert {"llama", "qwen2", "gemma2"} <= knowledge.model_types()
