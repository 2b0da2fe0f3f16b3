"""``check`` of a real diffusers component folder against its config with one field changed.

The checkpoint is a model folder, so its own ``config.json`` says which fields did
not change: a field the model holds the new size in, but the checkpoint holds
unchanged, is no cause (the VAE's ``sample_size`` equals twice its new latent
channels by chance; SD3's ``joint_attention_dim`` equals its new pooled width).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

import weightfit


def changed(folder: Path, out: Path, **fields: Any) -> Path:
    config = json.loads((folder / "config.json").read_text())
    out.write_text(json.dumps({**config, **fields}))
    return out


def test_vae_latent_channels_is_not_blamed_on_an_unchanged_sample_size(tmp_path: Path) -> None:
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    AutoencoderKL(
        block_out_channels=(8, 16),
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=32,  # 32 = 2 × 16, the new encoder output width
    ).save_pretrained(tmp_path / "vae")
    target = changed(tmp_path / "vae", tmp_path / "config.json", latent_channels=16)
    report = weightfit.check(tmp_path / "vae", target)
    [finding] = report.findings
    assert finding.evidence["config_fields"] == ["latent_channels=16 (checkpoint: 4)"]
    assert "sample_size" not in finding.fix_note


def test_sd3_pooled_width_names_pooled_projection_dim(tmp_path: Path) -> None:
    from diffusers import SD3Transformer2DModel

    torch.manual_seed(0)
    SD3Transformer2DModel(
        sample_size=16,
        patch_size=2,
        in_channels=4,
        num_layers=1,
        attention_head_dim=8,
        num_attention_heads=2,
        joint_attention_dim=32,
        caption_projection_dim=16,
        pooled_projection_dim=24,
        out_channels=4,
        pos_embed_max_size=32,
    ).save_pretrained(tmp_path / "sd3")
    target = changed(tmp_path / "sd3", tmp_path / "config.json", pooled_projection_dim=32)
    finding = weightfit.check(tmp_path / "sd3", target).findings[0]
    assert finding.category == "encoder_swap"
    assert finding.evidence["config_option"] == "pooled_projection_dim"


def test_flux_packed_latents_are_read_packed(tmp_path: Path) -> None:
    from diffusers import FluxTransformer2DModel

    torch.manual_seed(0)
    FluxTransformer2DModel(
        patch_size=1,
        in_channels=16,  # 4-channel latents packed 2×2, as Flux packs its 16 into 64
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=8,
        num_attention_heads=2,
        joint_attention_dim=32,
        pooled_projection_dim=24,
        axes_dims_rope=(2, 2, 4),
    ).save_pretrained(tmp_path / "flux")
    target = changed(tmp_path / "flux", tmp_path / "config.json", in_channels=64)
    finding = weightfit.check(tmp_path / "flux", target).findings[0]
    assert finding.category == "latent_channels"
    assert finding.message.startswith(
        "latent channels differ: the checkpoint was trained on 4-channel latents (SD VAE"
    )
    assert "Flux VAE" in finding.evidence["model_channels_match"]
    assert finding.evidence["patch_size"] == 2


def test_diffusers_dit_label_tables_in_every_block_are_a_class_count(tmp_path: Path) -> None:
    from diffusers import DiTTransformer2DModel

    torch.manual_seed(0)
    DiTTransformer2DModel(
        num_attention_heads=2,
        attention_head_dim=8,
        in_channels=4,
        num_layers=2,
        sample_size=8,
        patch_size=2,
        num_embeds_ada_norm=1000,
        norm_num_groups=8,
    ).save_pretrained(tmp_path / "dit")
    target = changed(tmp_path / "dit", tmp_path / "config.json", num_embeds_ada_norm=10)
    [finding] = weightfit.check(tmp_path / "dit", target).findings
    assert finding.category == "num_classes"
    assert finding.message.startswith(
        "label embedding (class-conditional input) sized for 1000 classes in the checkpoint, "
        "10 in the model (each with a null-label row for classifier-free guidance)"
    )
    assert finding.evidence["config_option"] == "num_embeds_ada_norm"
    assert "reinitialise it" in finding.fix_note


def test_a_unet_output_of_other_channels_is_no_classification_head(tmp_path: Path) -> None:
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=16,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=24,
        attention_head_dim=8,
        norm_num_groups=8,
    ).save_pretrained(tmp_path / "unet")
    target = changed(tmp_path / "unet", tmp_path / "config.json", out_channels=8)
    [finding] = weightfit.check(tmp_path / "unet", target).findings
    assert finding.category != "num_classes"  # was "classification head ... 4 classes", 0.9
    assert finding.evidence["config_fields"] == ["out_channels=8 (checkpoint: 4)"]
