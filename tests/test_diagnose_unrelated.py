"""``unrelated``: a checkpoint checked against a different model altogether (issue 11).

Before, a small CNN checked against an MLP came out as a ``prefix`` at confidence 1.00,
a rename and a DeepSpeed save; two models sharing almost no module names and shapes
are different models, and the report says so instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from torch import nn
from transformers import BertConfig, GPT2Config, LlamaConfig, LlamaForCausalLM, ViTConfig, ViTModel

from diagnose_helpers import categories, findings_for, save_safetensors, save_torch
from seeds import write_sparse_safetensors
from weightfit.targets import resolve


class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3)
        self.bn2 = nn.BatchNorm2d(32)
        self.fc = nn.Linear(32, 10)


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)
        )


def test_cnn_checked_against_mlp_is_unrelated(tmp_path: Path) -> None:
    path = save_torch(tmp_path / "cnn.pt", SmallCNN().state_dict())

    findings = findings_for(path, MLP())

    assert categories(findings) == ["unrelated"]
    finding = findings[0]
    assert finding.severity == "error" and finding.confidence >= 0.8
    assert "different models" in finding.message
    assert not finding.fix


def test_vit_checked_against_llama_is_unrelated(tmp_path: Path) -> None:
    vit = ViTModel(
        ViTConfig(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            image_size=32,
            patch_size=8,
        )
    )
    llama = LlamaForCausalLM(
        LlamaConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=2,
            vocab_size=128,
        )
    )
    path = save_safetensors(tmp_path / "vit.safetensors", vit.state_dict())

    findings = findings_for(path, llama)

    assert categories(findings) == ["unrelated"]
    assert findings[0].evidence["shared_module_names"] < 0.2


def test_same_model_with_a_prefix_is_not_unrelated(tmp_path: Path) -> None:
    state = {f"module.{k}": v for k, v in SmallCNN().state_dict().items()}
    path = save_torch(tmp_path / "ddp.pt", state)

    assert "unrelated" not in categories(findings_for(path, SmallCNN()))


SD_VAE = {
    "_class_name": "AutoencoderKL",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "latent_channels": 4,
    "layers_per_block": 2,
    "sample_size": 512,
}
SD1_UNET = {
    "_class_name": "UNet2DConditionModel",
    "block_out_channels": [320, 640, 1280, 1280],
    "cross_attention_dim": 768,
    "attention_head_dim": 8,
    "sample_size": 64,
}


def _sparse_of(tmp_path: Path, name: str, config: dict[str, object]) -> tuple[Path, Path]:
    """A config folder and a sparse safetensors file of exactly the tensors its model holds."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    checkpoint = write_sparse_safetensors(tmp_path / f"{name}.safetensors", resolve(folder))
    return folder / "config.json", checkpoint


@pytest.mark.parametrize("checkpoint_side", ["vae", "unet"])
def test_a_vae_and_a_unet_are_unrelated_not_a_prefix(tmp_path: Path, checkpoint_side: str) -> None:
    # diffusers builds both of the same blocks (down_blocks.N.resnets.N.conv1 …): a VAE's
    # decoder.up_blocks lined up with a UNet's up_blocks by name, never by shape.
    vae_config, vae = _sparse_of(tmp_path, "vae", SD_VAE)
    unet_config, unet = _sparse_of(tmp_path, "unet", SD1_UNET)
    checkpoint, target = (vae, unet_config) if checkpoint_side == "vae" else (unet, vae_config)

    findings = findings_for(checkpoint, target)

    assert categories(findings) == ["unrelated"]
    assert findings[0].evidence["shared_shapes"] < 0.01
    assert not findings[0].fix


def test_bert_checked_against_gpt2_of_the_same_width_is_unrelated(tmp_path: Path) -> None:
    # Both 768 wide: 61 % of their shapes agree, but no module name does and the structural
    # matcher pairs 48 of 149 tensors (before: a 0.68 inferred rename encoder.layer.N.… → h.N.…).
    bert_config = BertConfig(architectures=["BertModel"]).to_dict()
    gpt2_config = GPT2Config(architectures=["GPT2LMHeadModel"]).to_dict()
    _, bert = _sparse_of(tmp_path, "bert", bert_config)
    gpt2_target, _ = _sparse_of(tmp_path, "gpt2", gpt2_config)

    findings = findings_for(bert, gpt2_target)

    assert categories(findings) == ["unrelated"]
    assert findings[0].evidence["shared_module_names"] == 0
    assert findings[0].evidence["shared_shapes"] > 0.5


@pytest.mark.parametrize("checkpoint_side", ["controlnet", "unet"])
def test_a_controlnet_and_its_unet_are_two_models(tmp_path: Path, checkpoint_side: str) -> None:
    # diffusers' from_pretrained loads either into the other with only a warning; before,
    # check said 386 missing and 40 unexpected tensors, and a prefix at confidence 1.0.
    controlnet = {k: v for k, v in SD1_UNET.items() if k != "sample_size"}
    cn_config, cn = _sparse_of(tmp_path, "cn", {**controlnet, "_class_name": "ControlNetModel"})
    unet_config, unet = _sparse_of(tmp_path, "unet", SD1_UNET)
    checkpoint, target = (cn, unet_config) if checkpoint_side == "controlnet" else (unet, cn_config)

    findings = findings_for(checkpoint, target)

    assert categories(findings) == ["unrelated"]
    control = "checkpoint" if checkpoint_side == "controlnet" else "model"
    assert findings[0].evidence["control_side"] == control
    assert "ControlNet" in findings[0].message and not findings[0].fix
