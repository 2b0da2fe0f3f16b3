"""WF501/WF502 on SD3 and Flux pipelines saved by diffusers' own ``save_pretrained``.

The pooled text embedding (``pooled_projection_dim``: SD3's two CLIP projections
concatenated, Flux's CLIP pooler output) and Flux's packed latents (``in_channels``
= 4 × the VAE's ``latent_channels``) were not checked: a swapped CLIP or a
16-channel VAE beside a transformer built for 4 passed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

import weightfit


def clip(width: int, projection: int | None = None) -> Any:
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(
        hidden_size=width,
        projection_dim=projection or width,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        vocab_size=100,
        max_position_embeddings=77,
    )
    return CLIPTextModelWithProjection(config) if projection else CLIPTextModel(config)


def t5(width: int) -> Any:
    from transformers import T5Config, T5EncoderModel

    config = T5Config(d_model=width, d_ff=64, num_layers=1, num_heads=2, d_kv=8, vocab_size=100)
    return T5EncoderModel(config)


def vae(latents: int) -> Any:
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=(8, 16),
        latent_channels=latents,
        norm_num_groups=8,
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
    )


def sd3(folder: Path, second_projection: int) -> Path:
    from diffusers import (
        FlowMatchEulerDiscreteScheduler,
        SD3Transformer2DModel,
        StableDiffusion3Pipeline,
    )

    torch.manual_seed(0)
    transformer = SD3Transformer2DModel(
        sample_size=16,
        patch_size=2,
        in_channels=4,
        num_layers=1,
        attention_head_dim=8,
        num_attention_heads=2,
        joint_attention_dim=32,
        caption_projection_dim=16,
        pooled_projection_dim=24,  # 16 + 8: both CLIP projections
        out_channels=4,
        pos_embed_max_size=32,
    )
    StableDiffusion3Pipeline(
        transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae(4),
        text_encoder=clip(16, 16),
        tokenizer=None,
        text_encoder_2=clip(16, second_projection),
        tokenizer_2=None,
        text_encoder_3=t5(32),
        tokenizer_3=None,
    ).save_pretrained(folder)
    return folder


def flux(folder: Path, clip_width: int, latents: int) -> Path:
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel

    torch.manual_seed(0)
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=16,  # 4 latent channels packed 2×2
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=8,
        num_attention_heads=2,
        joint_attention_dim=32,
        pooled_projection_dim=24,
        axes_dims_rope=(2, 2, 4),
    )
    FluxPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae(latents),
        text_encoder=clip(clip_width),
        tokenizer=None,
        text_encoder_2=t5(32),
        tokenizer_2=None,
        transformer=transformer,
    ).save_pretrained(folder)
    return folder


def messages(folder: Path) -> list[str]:
    return [f"{v.code} {v.message}" for v in weightfit.lint(folder).violations]


@pytest.mark.filterwarnings("ignore")
def test_sd3_pooled_width_is_both_clip_projections(tmp_path: Path) -> None:
    assert messages(sd3(tmp_path / "good", second_projection=8)) == []
    assert messages(sd3(tmp_path / "swapped", second_projection=16)) == [
        "WF501 transformer pooled_projection_dim is 24 but the pooled text embedding is "
        "text_encoder 16, text_encoder_2 16"
    ]


@pytest.mark.filterwarnings("ignore")
def test_flux_pooled_width_and_packed_latents(tmp_path: Path) -> None:
    assert messages(flux(tmp_path / "good", clip_width=24, latents=4)) == []
    assert messages(flux(tmp_path / "clip", clip_width=16, latents=4)) == [
        "WF501 transformer pooled_projection_dim is 24 but the pooled text embedding is "
        "text_encoder 16"
    ]
    assert messages(flux(tmp_path / "vae", clip_width=24, latents=16)) == [
        "WF502 vae latent_channels is 16 but transformer in_channels 16 is below 64 "
        "(its pipeline packs 2×2 latent pixels into channels)"
    ]


@pytest.mark.filterwarnings("ignore")
def test_a_variant_saved_last_rewrites_the_config_dtype_of_the_plain_weights(
    tmp_path: Path,
) -> None:
    from transformers import CLIPTextModel

    encoder = clip(16)
    encoder.save_pretrained(tmp_path / "fp32-last")
    encoder.half().save_pretrained(tmp_path / "fp16-last", variant="fp16")
    encoder.float().save_pretrained(tmp_path / "fp16-last")
    assert messages(tmp_path / "fp16-last") == []  # config.json written by the float32 save
    encoder.half().save_pretrained(tmp_path / "fp32-last", variant="fp16")
    assert CLIPTextModel.from_pretrained(tmp_path / "fp32-last").dtype == torch.float16
    assert messages(tmp_path / "fp32-last") == [
        "WF404 config.json dtype is float16, as the fp16 variant beside the weights was saved, "
        "but 100% of the float bytes a plain from_pretrained reads are F32: transformers 5 "
        "casts them to float16 on load"
    ]
