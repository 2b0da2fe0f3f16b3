"""Recognition from headers only: full-size checkpoints written sparse (no tensor data on disk).

Each checkpoint is the original layout of a real full-size model (its config on
the ``meta`` device, laid out by ``tests/original_layouts.py``, or transformers'
own ``revert_weight_conversion`` for its saved layouts), written as a safetensors
header followed by a hole. ``check`` must name the right library converter, the
layout the library calls it, and plan a conversion whose predicted output loads
strict into the target.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

import weightfit
from original_layouts import flux, ldm_clip, ldm_unet, ldm_vae, mmdit, open_clip_text
from seeds import write_sparse_safetensors
from weightfit import converters, ops
from weightfit.apply import differences
from weightfit.plan import Plan
from weightfit.targets import resolve

diffusers = pytest.importorskip("diffusers")
transformers = pytest.importorskip("transformers")

SD15_UNET = {
    "block_out_channels": [320, 640, 1280, 1280],
    "cross_attention_dim": 768,
    "attention_head_dim": 8,
    "layers_per_block": 2,
}
SD_VAE = {
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "layers_per_block": 2,
    "latent_channels": 4,
}
CLIP_L = {
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "vocab_size": 49408,
    "max_position_embeddings": 77,
    "projection_dim": 768,
}
OPEN_CLIP_BIG_G = {
    "hidden_size": 1280,
    "intermediate_size": 5120,
    "num_hidden_layers": 32,
    "num_attention_heads": 20,
    "vocab_size": 49408,
    "max_position_embeddings": 77,
    "projection_dim": 1280,
}
SD3_MEDIUM = {
    "sample_size": 128,
    "patch_size": 2,
    "in_channels": 16,
    "num_layers": 24,
    "attention_head_dim": 64,
    "num_attention_heads": 24,
    "joint_attention_dim": 4096,
    "caption_projection_dim": 1536,
    "pooled_projection_dim": 2048,
    "out_channels": 16,
    "pos_embed_max_size": 192,
}


def _meta(cls: Any, config: dict[str, Any]) -> dict[str, torch.Tensor]:
    with torch.device("meta"):
        model = (
            cls(**config)
            if isinstance(cls, type) and issubclass(cls, diffusers.ModelMixin)
            else cls
        )
    return dict(model.state_dict())


def _diffusers_target(folder: Path, cls: Any, config: dict[str, Any]) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"_class_name": cls.__name__, **config}))
    return folder / "config.json"


def _clip_target(folder: Path, cls: Any, config: dict[str, Any]) -> tuple[Path, Any]:
    settings = transformers.CLIPTextConfig(**config)
    settings.architectures = [cls.__name__]
    settings.save_pretrained(folder)
    with torch.device("meta"):
        model = cls(settings)
    return folder / "config.json", model


def _sparse(path: Path, state: dict[str, torch.Tensor], dtype: str = "F32") -> Path:
    return write_sparse_safetensors(path, {k: (tuple(v.shape), dtype) for k, v in state.items()})


def _named(source: Path, target: Path) -> weightfit.Finding:
    expected = resolve(target)
    report = weightfit.check(source, expected)
    [finding] = [f for f in report.findings if "converter" in f.evidence]
    plan = Plan(finding.fix)
    outcome = ops.run(plan, weightfit.read(source))
    assert differences(outcome.manifest(), expected, outcome.reinit) == ""
    assert all(op.safety.value == "exact" for op in plan.ops)
    return finding


@pytest.fixture(scope="module")
def sd15(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A whole Stable Diffusion 1.5 checkpoint (UNet, VAE, CLIP-L) in the original layout."""
    folder = tmp_path_factory.mktemp("sd15")
    unet = _meta(diffusers.UNet2DConditionModel, SD15_UNET)
    vae = _meta(diffusers.AutoencoderKL, SD_VAE)
    with torch.device("meta"):
        clip = transformers.CLIPTextModel(transformers.CLIPTextConfig(**CLIP_L))
    with torch.device("meta"):
        config = dict(diffusers.UNet2DConditionModel(**SD15_UNET).config)
        vae_config = dict(diffusers.AutoencoderKL(**SD_VAE).config)
    state = {
        **ldm_unet(unet, config),
        **ldm_vae(vae, vae_config),
        **ldm_clip(dict(clip.state_dict())),
    }
    return _sparse(folder / "v1-5-pruned.safetensors", state)


def test_sd15_unet_is_named(sd15: Path, tmp_path: Path) -> None:
    target = _diffusers_target(tmp_path / "unet", diffusers.UNet2DConditionModel, SD15_UNET)
    finding = _named(sd15, target)
    assert finding.evidence["converter"] == "convert_ldm_unet_checkpoint"
    assert finding.evidence["layout"] == "v1"
    assert finding.evidence["library"] == f"diffusers {diffusers.__version__}"
    assert finding.message.startswith(
        "a 'v1' layout that diffusers "
        f"{diffusers.__version__} converts into UNet2DConditionModel (convert_ldm_unet_checkpoint)"
    )


def test_sd15_vae_is_named(sd15: Path, tmp_path: Path) -> None:
    target = _diffusers_target(tmp_path / "vae", diffusers.AutoencoderKL, SD_VAE)
    finding = _named(sd15, target)
    assert finding.evidence["converter"] == "convert_ldm_vae_checkpoint"
    assert finding.evidence["layout"] == "v1"


def test_sd15_text_encoder_is_named(sd15: Path, tmp_path: Path) -> None:
    target, _ = _clip_target(tmp_path / "text_encoder", transformers.CLIPTextModel, CLIP_L)
    finding = _named(sd15, target)
    assert finding.evidence["converter"] == "convert_ldm_clip_checkpoint"


def test_sdxl_open_clip_text_encoder_is_named(tmp_path: Path) -> None:
    target, model = _clip_target(
        tmp_path / "text_encoder_2", transformers.CLIPTextModelWithProjection, OPEN_CLIP_BIG_G
    )
    state = open_clip_text(dict(model.state_dict()), "conditioner.embedders.1.model.")
    source = _sparse(tmp_path / "sd_xl_base.safetensors", state, "F16")
    finding = _named(source, target)
    assert finding.evidence["converter"] == "convert_open_clip_checkpoint"
    assert finding.evidence["layout"] == "xl_base"


def test_sd3_medium_is_named(tmp_path: Path) -> None:
    state = _meta(diffusers.SD3Transformer2DModel, SD3_MEDIUM)
    layout = {f"model.diffusion_model.{k}": v for k, v in mmdit(state, 24).items()}
    source = _sparse(tmp_path / "sd3_medium.safetensors", layout, "F16")
    target = _diffusers_target(
        tmp_path / "transformer", diffusers.SD3Transformer2DModel, SD3_MEDIUM
    )
    finding = _named(source, target)
    assert finding.evidence["converter"] == "convert_sd3_transformer_checkpoint_to_diffusers"
    assert finding.evidence["layout"] == "sd3"


def test_flux_dev_is_named_and_planned(tmp_path: Path) -> None:
    """Flux's converter hard-codes the width (3072): full width, fewer blocks."""
    config = {"guidance_embeds": True, "num_layers": 2, "num_single_layers": 3}
    source = _sparse(
        tmp_path / "flux1-dev.safetensors",
        flux(_meta(diffusers.FluxTransformer2DModel, config)),
        "BF16",
    )
    target = _diffusers_target(tmp_path / "transformer", diffusers.FluxTransformer2DModel, config)
    finding = _named(source, target)
    assert finding.evidence["converter"] == "convert_flux_transformer_checkpoint_to_diffusers"
    assert finding.evidence["layout"] == "flux-dev"
    kinds = {op.kind for op in finding.fix}
    assert {"split", "concat", "rename"} <= kinds


@pytest.mark.parametrize(
    ("name", "config"),
    [
        (
            "mixtral",
            transformers.MixtralConfig(
                hidden_size=4096,
                intermediate_size=14336,
                num_hidden_layers=32,
                num_attention_heads=32,
                num_key_value_heads=8,
                num_local_experts=8,
                vocab_size=32000,
            ),
        ),
        (
            "olmoe",
            transformers.OlmoeConfig(
                hidden_size=2048,
                intermediate_size=1024,
                num_hidden_layers=16,
                num_attention_heads=16,
                num_experts=64,
                num_experts_per_tok=8,
                vocab_size=50304,
            ),
        ),
        ("vit", transformers.ViTConfig()),
    ],
)
def test_transformers_saved_layout_is_named(name: str, config: Any, tmp_path: Path) -> None:
    from transformers.core_model_loading import revert_weight_conversion

    cls = {
        "mixtral": transformers.MixtralForCausalLM,
        "olmoe": transformers.OlmoeForCausalLM,
        "vit": transformers.ViTForImageClassification,
    }[name]
    config.architectures = [cls.__name__]
    config.save_pretrained(tmp_path / "target")
    with torch.device("meta"):
        model = cls(config)
    saved = revert_weight_conversion(model, dict(model.state_dict()))
    source = _sparse(tmp_path / "model.safetensors", saved, "BF16")
    finding = _named(source, tmp_path / "target" / "config.json")
    assert finding.severity == "info"
    assert finding.evidence["library"] == f"transformers {transformers.__version__}"
    assert finding.evidence["converter"].startswith("conversion_mapping (")


def test_nothing_is_named_when_library_converters_are_off(sd15: Path, tmp_path: Path) -> None:
    target = _diffusers_target(tmp_path / "unet", diffusers.UNet2DConditionModel, SD15_UNET)
    with converters.disabled():
        report = weightfit.check(sd15, target)
    assert not [f for f in report.findings if "converter" in f.evidence]
