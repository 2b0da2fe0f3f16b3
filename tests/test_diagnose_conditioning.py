"""What a model is fed: encoder_swap (Sana, real names) and latent_channels (diffusers models)."""

from __future__ import annotations

from pathlib import Path

from diffusers import DiTTransformer2DModel, UNet2DConditionModel

from diagnose_helpers import blocking, categories, findings_for, only, save_safetensors
from seeds import case1_checkpoint, case1_diffusers, seed_manifest


def test_sana_diffusers_caption_width_2304_against_1536(tmp_path: Path) -> None:
    case = case1_diffusers(tmp_path)

    findings = findings_for(case.checkpoint, case.target)

    assert categories(blocking(findings)) == ["encoder_swap"]
    finding = only(findings, "encoder_swap")
    assert "caption_projection.linear_1.weight" in finding.params
    assert finding.evidence["checkpoint_width"] == 2304
    assert finding.evidence["model_width"] == 1536
    assert "google/gemma-2-2b-it hidden_size" in finding.evidence["checkpoint_width_matches"]
    assert "Qwen/Qwen2.5-1.5B hidden_size" in finding.evidence["model_width_matches"]
    assert finding.evidence["model_hidden_size"] == 2240
    assert finding.evidence["config_option"] == "caption_channels"
    assert "built with caption_channels=1536; the checkpoint needs 2304" in finding.fix_note
    assert "not shape-repairable" in finding.fix_note
    assert {op.kind for op in finding.fix} == {"reinit"}
    assert finding.confidence >= 0.9


def test_sana_original_names_name_both_encoders(tmp_path: Path) -> None:
    path = case1_checkpoint(tmp_path)

    findings = findings_for(path, seed_manifest(1, "model"))

    finding = only(findings, "encoder_swap")
    assert finding.params == ["y_embedder.y_embedding", "y_embedder.y_proj.fc1.weight"]
    assert [t["checkpoint"] for t in finding.evidence["tensors"]] == [[300, 2304], [2240, 2304]]
    assert [t["model"] for t in finding.evidence["tensors"]] == [[300, 1536], [2240, 1536]]
    assert "2304-wide" in finding.message and "google/gemma-2-2b-it" in finding.message
    assert "Qwen/Qwen2.5-1.5B" in finding.message
    assert [op.args["name"] for op in finding.fix] == finding.params
    # The checkpoint is float32, the model bfloat16: informational only.
    assert categories(blocking(findings)) == ["encoder_swap"]


def _dit(in_channels: int) -> DiTTransformer2DModel:
    return DiTTransformer2DModel(
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=in_channels,
        num_layers=2,
        sample_size=8,
        patch_size=2,
        num_embeds_ada_norm=10,
        norm_num_groups=4,
    )


def test_diffusers_transformer_for_another_latent_channel_count(tmp_path: Path) -> None:
    _dit(4).save_pretrained(tmp_path / "dit4")
    _dit(16).save_config(tmp_path / "model16")  # the target: a diffusers config, built on meta

    findings = findings_for(tmp_path / "dit4", tmp_path / "model16" / "config.json")

    assert categories(findings) == ["latent_channels"]
    finding = findings[0]
    assert finding.evidence["checkpoint_channels"] == 4
    assert finding.evidence["model_channels"] == 16
    assert finding.evidence["patch_size"] == 2
    assert finding.evidence["first_layer"] == ["pos_embed.proj.weight"]
    assert set(finding.evidence["last_layer"]) == {"proj_out_2.weight", "proj_out_2.bias"}
    assert "SD VAE" in finding.evidence["checkpoint_channels_match"]
    assert "SD3 VAE" in finding.evidence["model_channels_match"]
    assert finding.evidence["config_option"] == "in_channels"
    assert "not shape-repairable" in finding.fix_note


def _unet(in_channels: int) -> UNet2DConditionModel:
    return UNet2DConditionModel(
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=16,
        attention_head_dim=2,
        norm_num_groups=4,
        sample_size=8,
        in_channels=in_channels,
    )


def test_inpainting_unet_takes_extra_input_channels(tmp_path: Path) -> None:
    path = save_safetensors(tmp_path / "unet.safetensors", _unet(4).state_dict())

    finding = only(findings_for(path, _unet(9)), "latent_channels")

    assert finding.params == ["conv_in.weight"]
    assert (finding.evidence["checkpoint_channels"], finding.evidence["model_channels"]) == (4, 9)
    assert [(op.kind, op.args) for op in finding.fix] == [
        ("copy_overlap", {"name": "conv_in.weight", "shape": [8, 9, 3, 3], "init": "zeros"})
    ]


def test_same_conditioning_yields_no_finding(tmp_path: Path) -> None:
    _dit(4).save_pretrained(tmp_path / "dit4")

    assert findings_for(tmp_path / "dit4", _dit(4)) == []
