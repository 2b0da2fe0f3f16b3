"""``wrong_variant``: another size or configuration, inferred from both sides.

Full-size models are built from their configs on the ``meta`` device; their
checkpoints are sparse safetensors files at the real names and shapes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from torch import nn
from transformers import LlamaConfig, MistralConfig, MixtralConfig, PretrainedConfig, T5Config

from diagnose_helpers import categories, findings_for, only, save_safetensors
from seeds import write_sparse_safetensors
from weightfit.targets import resolve

SD_UNET = {
    "_class_name": "UNet2DConditionModel",
    "block_out_channels": [320, 640, 1280, 1280],
}
SD1 = {**SD_UNET, "sample_size": 64, "cross_attention_dim": 768, "attention_head_dim": 8}
SD2 = {
    **SD_UNET,
    "sample_size": 96,
    "cross_attention_dim": 1024,
    "attention_head_dim": [5, 10, 20, 20],
    "use_linear_projection": True,
}


def _config(path: Path, data: dict[str, Any]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(data))
    return path / "config.json"


def _sparse_checkpoint_of(config: Path, path: Path) -> Path:
    """A sparse safetensors file with exactly the tensors the config's model holds."""
    return write_sparse_safetensors(path, resolve(config))


def test_sd2_unet_checkpoint_against_an_sd1_model(tmp_path: Path) -> None:
    checkpoint = _sparse_checkpoint_of(_config(tmp_path / "sd2", SD2), tmp_path / "sd2.safetensors")

    findings = findings_for(checkpoint, _config(tmp_path / "sd1", SD1))

    assert categories(findings) == ["wrong_variant"]
    finding = findings[0]
    assert finding.evidence["checkpoint_family"] == ["SD 2.x UNet"]
    assert finding.evidence["model_family"] == ["SD 1.x UNet"]
    assert finding.evidence["checkpoint_dims"]["context_dim"] == 1024
    assert finding.evidence["model_dims"]["context_dim"] == 768
    assert finding.message.endswith(
        "checkpoint: SD 2.x UNet (context 1024); model built as SD 1.x UNet (context 768)"
    )
    assert "cross_attention_dim=768→1024" in finding.evidence["config_changes"]
    # attn2 keys/values (context width) and proj_in/proj_out (linear projection) differ.
    assert any(".attn2.to_k.weight" in name for name in finding.params)
    assert any(".proj_in.weight" in name for name in finding.params)
    assert finding.fix == []


LLAMA_13B = {
    "hidden_size": 5120,
    "intermediate_size": 13824,
    "num_hidden_layers": 40,
    "num_attention_heads": 40,
    "num_key_value_heads": 40,
}


def _llama_config(path: Path, **overrides: int) -> Path:
    config = LlamaConfig(**overrides).to_dict()
    config["architectures"] = ["LlamaForCausalLM"]
    return _config(path, config)


def test_llama_2_13b_checkpoint_against_a_7b_model(tmp_path: Path) -> None:
    checkpoint = _sparse_checkpoint_of(
        _llama_config(tmp_path / "13b", **LLAMA_13B), tmp_path / "13b.safetensors"
    )

    findings = findings_for(checkpoint, _llama_config(tmp_path / "7b"))

    assert categories(findings) == ["wrong_variant"]
    finding = findings[0]
    assert finding.evidence["checkpoint_width"] == 5120
    assert finding.evidence["model_width"] == 4096
    assert finding.evidence["checkpoint_depths"] == {"model.layers": 40}
    assert finding.evidence["model_depths"] == {"model.layers": 32}
    assert finding.evidence["checkpoint_family"] == ["Llama 2 13B"]
    assert finding.evidence["model_family"] == ["Llama 2 7B"]
    assert finding.evidence["layers_only_in_checkpoint"] == 8 * 9  # layers 32..39, 9 tensors each
    assert "hidden_size=4096→5120" in finding.evidence["config_changes"]
    assert "num_hidden_layers=32→40" in finding.evidence["config_changes"]
    assert finding.message.endswith(
        "checkpoint: Llama 2 13B (width 5120, 40 layers, MLP 13824); "
        "model built as Llama 2 7B (width 4096, 32 layers, MLP 11008)"
    )


class Mlp(nn.Module):
    def __init__(self, width: int = 16, hidden: int = 64, depth: int = 3) -> None:
        super().__init__()
        self.layers = nn.ModuleList(self._layer(width, hidden) for _ in range(depth))
        self.norm = nn.LayerNorm(width)

    @staticmethod
    def _layer(width: int, hidden: int) -> nn.Module:
        layer = nn.Module()
        layer.norm = nn.LayerNorm(width)
        layer.up = nn.Linear(width, hidden)
        layer.down = nn.Linear(hidden, width)
        return layer


def test_unexplained_size_change_is_reported_with_the_sizes(tmp_path: Path) -> None:
    path = save_safetensors(tmp_path / "mlp.safetensors", Mlp(hidden=64).state_dict())

    finding = only(findings_for(path, Mlp(hidden=48)), "wrong_variant")

    assert finding.confidence <= 0.5
    assert len(finding.params) == 9  # up.weight, up.bias, down.weight of 3 layers
    changes = finding.evidence["size_changes"]
    assert changes[0]["checkpoint"] == 64 and changes[0]["model"] == 48
    assert "64→48" in finding.message


def test_same_variant_yields_no_finding(tmp_path: Path) -> None:
    checkpoint = _sparse_checkpoint_of(_config(tmp_path / "sd1", SD1), tmp_path / "sd1.safetensors")

    assert findings_for(checkpoint, _config(tmp_path / "sd1b", SD1)) == []


def test_three_faults_get_three_findings_not_one_variant(tmp_path: Path) -> None:
    config = _llama_config(
        tmp_path / "small",
        hidden_size=256,
        intermediate_size=512,
        num_hidden_layers=6,
        num_attention_heads=4,
    )
    shapes = {name: spec.shape for name, spec in resolve(config).tensors.items()}
    for name in ("model.embed_tokens.weight", "lm_head.weight"):
        shapes[name] = (32001, 256)
    for name in [n for n in shapes if n.startswith("model.layers.5.")]:
        del shapes[name]
    shapes["model.layers.2.mlp.down_proj.weight"] = (512, 256)
    checkpoint = write_sparse_safetensors(
        tmp_path / "faulty.safetensors", {n: (s, "F32") for n, s in shapes.items()}
    )

    findings = findings_for(checkpoint, config)

    assert sorted(categories(findings)) == ["transpose", "vocab_resize", "wrong_variant"]
    depth = only(findings, "wrong_variant")
    assert depth.message.startswith("layer count differs: model.layers has 5 layers")
    assert depth.evidence["layers_only_in_model"] == 9
    assert "num_hidden_layers=6" in depth.fix_note
    assert only(findings, "transpose").params == ["model.layers.2.mlp.down_proj.weight"]


FLUX = {
    "_class_name": "FluxTransformer2DModel",
    "attention_head_dim": 128,
    "in_channels": 64,
    "joint_attention_dim": 4096,
    "num_attention_heads": 24,
    "num_layers": 19,
    "num_single_layers": 38,
    "patch_size": 1,
    "pooled_projection_dim": 768,
}


def test_flux_dev_checkpoint_against_a_schnell_model(tmp_path: Path) -> None:
    # dev is guidance-distilled: its guidance embedder is the only difference (before: four
    # unexpected tensors and a hint to drop them).
    checkpoint = _sparse_checkpoint_of(
        _config(tmp_path / "dev", {**FLUX, "guidance_embeds": True}), tmp_path / "dev.safetensors"
    )

    findings = findings_for(checkpoint, _config(tmp_path / "schnell", FLUX))

    assert categories(findings) == ["wrong_variant"]
    assert findings[0].evidence["side"] == "file"
    assert "guidance embedder" in findings[0].message
    assert all(".guidance_embedder." in name for name in findings[0].params)
    assert findings[0].confidence >= 0.8 and not findings[0].fix


SDXL = {
    "_class_name": "UNet2DConditionModel",
    "addition_embed_type": "text_time",
    "addition_embed_type_num_heads": 64,
    "addition_time_embed_dim": 256,
    "attention_head_dim": [5, 10, 20],
    "block_out_channels": [320, 640, 1280],
    "cross_attention_dim": 2048,
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    "projection_class_embeddings_input_dim": 2816,
    "sample_size": 128,
    "transformer_layers_per_block": [1, 2, 10],
    "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    "use_linear_projection": True,
}


@pytest.mark.parametrize("checkpoint_side", ["sd1", "sdxl"])
def test_sd1_and_sdxl_unets_are_two_variants_and_nothing_else(
    tmp_path: Path, checkpoint_side: str
) -> None:
    # Before: SD 1.x's down_blocks renamed onto SDXL's up_blocks (inferred, 0.9), one
    # transformer block copied into ten (tied_weights), the leftovers ranked first, and
    # "change in_channels=4→3" read from a depth of 4 down blocks.
    configs = {"sd1": _config(tmp_path / "sd1", SD1), "sdxl": _config(tmp_path / "sdxl", SDXL)}
    model_side = "sdxl" if checkpoint_side == "sd1" else "sd1"
    checkpoint = _sparse_checkpoint_of(configs[checkpoint_side], tmp_path / "ckpt.safetensors")

    findings = findings_for(checkpoint, configs[model_side])

    assert categories(findings) == ["wrong_variant"]
    finding = findings[0]
    families = {"sd1": ["SD 1.x UNet"], "sdxl": ["SDXL UNet"]}
    assert finding.evidence["checkpoint_family"] == families[checkpoint_side]
    assert finding.evidence["model_family"] == families[model_side]
    assert finding.evidence["checkpoint_dims"].get("intermediate_size") in (None, 10240)
    changes = finding.evidence["config_changes"]
    assert changes == [f"cross_attention_dim={'2048→768' if model_side == 'sdxl' else '768→2048'}"]
    assert finding.fix == []


MISTRAL_7B = {
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
}


def _transformers_config(path: Path, config: PretrainedConfig, architecture: str) -> Path:
    data = config.to_dict()
    data["architectures"] = [architecture]
    return _config(path, data)


@pytest.mark.parametrize("checkpoint_side", ["mixtral", "mistral"])
def test_mixtral_and_mistral_are_the_sparse_and_dense_variants(
    tmp_path: Path, checkpoint_side: str
) -> None:
    # Before: the router mlp.gate [8, 4096] renamed onto the dense mlp.gate_proj [14336, 4096]
    # (inferred, 0.6), then "intermediate_size=14336 (checkpoint: 8)".
    configs = {
        "mixtral": _transformers_config(
            tmp_path / "mixtral", MixtralConfig(**MISTRAL_7B), "MixtralForCausalLM"
        ),
        "mistral": _transformers_config(
            tmp_path / "mistral", MistralConfig(**MISTRAL_7B), "MistralForCausalLM"
        ),
    }
    model_side = "mistral" if checkpoint_side == "mixtral" else "mixtral"
    checkpoint = _sparse_checkpoint_of(configs[checkpoint_side], tmp_path / "ckpt.safetensors")

    findings = findings_for(checkpoint, configs[model_side])

    assert categories(findings) == ["wrong_variant"]
    sparse = "checkpoint" if checkpoint_side == "mixtral" else "model"
    assert findings[0].evidence["sparse_side"] == sparse
    assert findings[0].evidence["experts_per_layer"] == 8
    assert findings[0].evidence["layers"] == 32
    assert findings[0].fix == []


def test_t5_v1_1_against_t5_is_another_variant_not_an_encoder_swap(tmp_path: Path) -> None:
    # T5 v1.1 small gates its MLP (wi_0, wi_1; d_ff 1024) and keeps 6 heads; before, wo's
    # input (1024 against 2048, made by the unpaired wi_0) and the per-head position bias
    # table (6 against 8) were read as text-encoder widths, with reinit ops for both.
    v1_1 = T5Config(
        d_model=512, d_ff=1024, num_layers=8, num_heads=6, feed_forward_proj="gated-gelu"
    )
    checkpoint = _sparse_checkpoint_of(
        _transformers_config(tmp_path / "v1_1", v1_1, "T5ForConditionalGeneration"),
        tmp_path / "v1_1.safetensors",
    )
    t5_small = _transformers_config(
        tmp_path / "t5", T5Config(d_model=512, d_ff=2048), "T5ForConditionalGeneration"
    )

    findings = findings_for(checkpoint, t5_small)

    assert "encoder_swap" not in categories(findings)
    assert categories(findings)[0] == "wrong_variant"
    assert not any(op.kind == "reinit" for finding in findings for op in finding.fix)
