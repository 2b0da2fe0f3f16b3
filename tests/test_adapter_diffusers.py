"""diffusers LoRA files (``save_lora_weights`` / ``save_lora_adapter``) checked and merged.

The adapters come from diffusers' own savers on a real tiny UNet and CLIP text
encoder; the expected merge is diffusers' own ``load_lora_adapter`` +
``fuse_lora`` of the same file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

import weightfit
from weightfit.errors import NotACheckpoint, UsageError

LORA_FILE = "pytorch_lora_weights.safetensors"


def tiny_unet() -> Any:
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    return UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=16,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=8,
    )


def tiny_text_encoder() -> Any:
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    config = CLIPTextConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        vocab_size=1000,
        max_position_embeddings=77,
    )
    return CLIPTextModel(config)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``unet/``, ``text_encoder/`` and two LoRA folders: a pipeline's (with metadata), a UNet's."""
    from diffusers import StableDiffusionPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    root = tmp_path_factory.mktemp("diffusers-lora")
    tiny_unet().save_pretrained(root / "unet")
    tiny_text_encoder().save_pretrained(root / "text_encoder")
    # The same two as a pipeline folder (model_index.json + one folder per component).
    tiny_unet().save_pretrained(root / "pipeline" / "unet")
    tiny_text_encoder().save_pretrained(root / "pipeline" / "text_encoder")
    index = {
        "_class_name": "StableDiffusionPipeline",
        "unet": ["diffusers", "UNet2DConditionModel"],
        "text_encoder": ["transformers", "CLIPTextModel"],
    }
    (root / "pipeline" / "model_index.json").write_text(json.dumps(index))
    unet, encoder = tiny_unet(), tiny_text_encoder()
    unet_config = LoraConfig(
        r=4, lora_alpha=16, target_modules=["to_k", "to_v", "conv1"], init_lora_weights=False
    )
    encoder_config = LoraConfig(
        r=2, lora_alpha=8, target_modules=["q_proj", "k_proj"], init_lora_weights=False
    )
    unet.add_adapter(unet_config)
    encoder.add_adapter(encoder_config)
    StableDiffusionPipeline.save_lora_weights(
        root / "pipeline-lora",
        unet_lora_layers=get_peft_model_state_dict(unet),
        text_encoder_lora_layers=get_peft_model_state_dict(encoder),
        unet_lora_adapter_metadata=unet_config.to_dict(),
        text_encoder_lora_adapter_metadata=encoder_config.to_dict(),
    )
    # A UNet's own LoRA, saved without its config: diffusers scales it by 1.
    StableDiffusionPipeline.save_lora_weights(
        root / "bare-lora", unet_lora_layers=get_peft_model_state_dict(unet)
    )
    # Ranks that differ by module, saved without a config: each module's scale is 1.
    mixed = tiny_unet()
    mixed.add_adapter(
        LoraConfig(
            r=4,
            lora_alpha=8,
            rank_pattern={"to_v": 2},
            target_modules=["to_k", "to_v"],
            init_lora_weights=False,
        )
    )
    StableDiffusionPipeline.save_lora_weights(
        root / "mixed-lora", unet_lora_layers=get_peft_model_state_dict(mixed)
    )
    return root


def diffusers_fused(root: Path, lora: str, prefix: str) -> dict[str, torch.Tensor]:
    from diffusers import UNet2DConditionModel

    model = UNet2DConditionModel.from_pretrained(root / "unet")
    model.load_lora_adapter(str(root / lora), prefix=prefix, weight_name=LORA_FILE)
    model.fuse_lora()
    model.unload_lora()
    return {name: value.detach() for name, value in model.state_dict().items()}


@pytest.mark.parametrize("lora", ["pipeline-lora", "bare-lora", "mixed-lora"])
def test_merge_equals_diffusers_fuse_lora_and_loads(built: Path, lora: str, tmp_path: Path) -> None:
    from diffusers import UNet2DConditionModel

    result = weightfit.merge_adapter(built / lora, built / "unet", tmp_path / "merged")
    assert result.merged and result.modules == (16 if lora == "mixed-lora" else 24)
    assert (tmp_path / "merged" / "diffusion_pytorch_model.safetensors").is_file()
    got = load_file(tmp_path / "merged" / "diffusion_pytorch_model.safetensors")
    want = diffusers_fused(built, lora, "unet")
    assert set(got) == set(want)
    assert max(float((got[n] - want[n]).abs().max()) for n in want) <= 1e-6
    UNet2DConditionModel.from_pretrained(tmp_path / "merged")


def test_check_reads_the_component_the_base_is_with_its_saved_scale(built: Path) -> None:
    unet = weightfit.check_adapter(built / "pipeline-lora", built / "unet")
    assert unet.compatible
    assert unet.findings[0].message.startswith(
        "LoRA adapter: 24 of 24 modules fit their base layers (r=4, alpha=16, scale alpha/r = 4)"
    )
    encoder = weightfit.check_adapter(built / "pipeline-lora" / LORA_FILE, built / "text_encoder")
    assert encoder.compatible
    assert encoder.findings[0].message.startswith(
        "LoRA adapter: 2 of 2 modules fit their base layers (r=2, alpha=8, scale alpha/r = 4)"
    )
    bare = weightfit.check_adapter(built / "bare-lora", built / "unet")
    assert "(r=4, alpha=4, scale alpha/r = 1)" in bare.findings[0].message


def test_plain_check_and_cli_read_it_as_an_adapter(built: Path, run_cli) -> None:
    report = weightfit.check(built / "pipeline-lora" / LORA_FILE, built / "unet")
    assert report.compatible
    assert report.hints[0].startswith("read as a PEFT adapter (a diffusers LoRA file)")
    result = run_cli("adapter", "check", built / "pipeline-lora", "--base", built / "unet")
    assert result.code == 0, result.err


def test_a_lora_file_in_another_layout_is_named_not_guessed(built: Path, tmp_path: Path) -> None:
    folder = tmp_path / "kohya"
    folder.mkdir()
    tensors = {
        "lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": torch.zeros(4, 32),
        "lora_unet_down_blocks_0_attentions_0_proj_in.alpha": torch.tensor(4.0),
    }
    save_file(tensors, folder / LORA_FILE)
    with pytest.raises(NotACheckpoint) as info:
        weightfit.check_adapter(folder, built / "unet")
    assert (
        "a LoRA file not in diffusers' PEFT layout (lora_unet_down_blocks_0" in info.value.message
    )


def test_ranks_inferred_per_module_carry_no_peft_version_warning(built: Path) -> None:
    report = weightfit.check_adapter(built / "mixed-lora", built / "unet")
    assert report.compatible, [f.message for f in report.findings]
    assert [f.severity for f in report.findings] == ["info"]


def test_against_a_pipeline_every_component_is_checked_and_merging_is_refused(
    built: Path, tmp_path: Path
) -> None:
    report = weightfit.check_adapter(built / "pipeline-lora", built / "pipeline")
    assert report.compatible, [f.message for f in report.findings]
    assert report.findings[0].message.startswith(
        "LoRA adapter: 26 of 26 modules fit their base layers"
    )
    with pytest.raises(UsageError) as info:
        weightfit.merge_adapter(built / "pipeline-lora", built / "pipeline", tmp_path / "out")
    assert info.value.message.endswith(
        "merge into one of its component folders (text_encoder, unet)"
    )
