"""``quantization``: packed and quantized state dicts (built tensor by tensor as each scheme
writes them, since bitsandbytes / GPTQ kernels are not installed) against float models."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from torch import nn

from diagnose_helpers import categories, findings_for, only, save_safetensors

WIDTH, HIDDEN, DEPTH = 64, 128, 2


class Mlp(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(100, WIDTH)
        self.layers = nn.ModuleList(self._layer() for _ in range(DEPTH))
        self.norm = nn.LayerNorm(WIDTH)

    @staticmethod
    def _layer() -> nn.Module:
        layer = nn.Module()
        layer.up_proj = nn.Linear(WIDTH, HIDDEN)
        layer.down_proj = nn.Linear(HIDDEN, WIDTH)
        return layer


LINEARS = [f"layers.{i}.{m}" for i in range(DEPTH) for m in ("up_proj", "down_proj")]


def _quantized(replace: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The float state dict with every Linear weight replaced by ``replace``'s entries."""
    state = {k: v for k, v in Mlp().state_dict().items() if k.rsplit(".", 1)[0] not in LINEARS}
    state.update({k: v for k, v in Mlp().state_dict().items() if k.endswith(".bias")})
    state.update(replace)
    return state


def _bnb4(blocksize: int = 64) -> dict[str, torch.Tensor]:
    """What transformers saves for a bitsandbytes Linear4bit (NF4) weight."""
    tensors = {}
    for name in LINEARS:
        numel = math.prod(Mlp().get_submodule(name).weight.shape)
        quant_state = json.dumps({"quant_type": "nf4", "blocksize": blocksize}).encode()
        tensors[f"{name}.weight"] = torch.zeros(numel // 2, 1, dtype=torch.uint8)
        tensors[f"{name}.weight.absmax"] = torch.ones(numel // blocksize)
        tensors[f"{name}.weight.quant_map"] = torch.linspace(-1, 1, 16)
        tensors[f"{name}.weight.quant_state.bitsandbytes__nf4"] = torch.tensor(
            list(quant_state), dtype=torch.uint8
        )
    return tensors


def test_bitsandbytes_nf4_state_dict_against_a_float_model(tmp_path: Path) -> None:
    path = save_safetensors(tmp_path / "nf4.safetensors", _quantized(_bnb4()))

    findings = findings_for(path, Mlp())

    assert categories(findings) == ["quantization"]
    finding = findings[0]
    assert finding.evidence["scheme"] == "bitsandbytes 4-bit (NF4)"
    assert finding.evidence["weights"] == 4
    assert finding.evidence["side_tensors"] == 12
    assert finding.evidence["numel_ratios"] == [0.5]
    assert set(finding.evidence["side_tensor_kinds"]) == {
        "absmax",
        "quant_map",
        "bitsandbytes__nf4",
    }
    assert "layers.0.up_proj.weight" in finding.params
    assert "layers.0.up_proj.weight.absmax" in finding.params
    assert "U8[4096, 1]" in finding.message and "1/2" in finding.message
    assert finding.fix == [] and "dequantize" in finding.fix_note


def test_bitsandbytes_int8_state_dict(tmp_path: Path) -> None:
    tensors = {}
    for name in LINEARS:
        shape = Mlp().get_submodule(name).weight.shape
        tensors[f"{name}.weight"] = torch.zeros(shape, dtype=torch.int8)
        tensors[f"{name}.SCB"] = torch.ones(shape[0])
        tensors[f"{name}.weight_format"] = torch.tensor(0, dtype=torch.uint8)
    path = save_safetensors(tmp_path / "int8.safetensors", _quantized(tensors))

    finding = only(findings_for(path, Mlp()), "quantization")

    assert finding.evidence["scheme"] == "bitsandbytes 8-bit (LLM.int8)"
    assert finding.evidence["weights"] == 4 and finding.evidence["side_tensors"] == 8


def test_gptq_packed_int32_weights(tmp_path: Path) -> None:
    bits, group = 4, 32
    tensors = {}
    for name in LINEARS:
        out_features, in_features = Mlp().get_submodule(name).weight.shape
        tensors[f"{name}.qweight"] = torch.zeros(
            in_features * bits // 32, out_features, dtype=torch.int32
        )
        tensors[f"{name}.qzeros"] = torch.zeros(
            in_features // group, out_features * bits // 32, dtype=torch.int32
        )
        tensors[f"{name}.scales"] = torch.ones(
            in_features // group, out_features, dtype=torch.float16
        )
        tensors[f"{name}.g_idx"] = torch.arange(in_features, dtype=torch.int32) // group
    path = save_safetensors(tmp_path / "gptq.safetensors", _quantized(tensors))

    findings = findings_for(path, Mlp())

    assert categories(findings) == ["quantization"]
    finding = findings[0]
    assert finding.evidence["scheme"] == "GPTQ"
    assert finding.evidence["bits"] == [4]
    assert finding.evidence["weights"] == 4  # the model's missing .weight tensors, explained
    assert "layers.0.up_proj.qweight" in finding.params


def test_fp8_block_scaled_weights(tmp_path: Path) -> None:
    tensors = {}
    for name in LINEARS:
        weight = Mlp().get_submodule(name).weight
        tensors[f"{name}.weight"] = weight.detach().to(torch.float8_e4m3fn)
        tensors[f"{name}.weight_scale_inv"] = torch.ones(
            math.ceil(weight.shape[0] / 128), math.ceil(weight.shape[1] / 128)
        )
    path = save_safetensors(tmp_path / "fp8.safetensors", _quantized(tensors))

    finding = only(findings_for(path, Mlp()), "quantization")

    assert finding.evidence["scheme"] == "fp8 with block scales (weight_scale_inv)"
    assert finding.severity == "error"
    assert "scale" in finding.fix_note


def test_quantized_model_against_a_float_checkpoint(tmp_path: Path) -> None:
    path = save_safetensors(tmp_path / "float.safetensors", Mlp().state_dict())
    int8_model = {
        k: v.to(torch.int8) if k.endswith(".weight") and k.rsplit(".", 1)[0] in LINEARS else v
        for k, v in Mlp().state_dict().items()
    }

    finding = only(findings_for(path, int8_model), "quantization")

    assert finding.message.startswith("model is quantized (I8 storage), checkpoint is float")
    assert "quantization_config" in finding.fix_note


def test_float_checkpoint_and_model_yield_no_finding(tmp_path: Path) -> None:
    path = save_safetensors(tmp_path / "float.safetensors", Mlp().state_dict())

    assert findings_for(path, Mlp()) == []


def test_awq_packs_along_the_output_axis(tmp_path: Path) -> None:
    bits, group = 4, 32
    tensors = {}
    for name in LINEARS:
        out_features, in_features = Mlp().get_submodule(name).weight.shape
        packed = out_features * bits // 32
        tensors[f"{name}.qweight"] = torch.zeros(in_features, packed, dtype=torch.int32)
        tensors[f"{name}.qzeros"] = torch.zeros(in_features // group, packed, dtype=torch.int32)
        tensors[f"{name}.scales"] = torch.ones(
            in_features // group, out_features, dtype=torch.float16
        )
    path = save_safetensors(tmp_path / "awq.safetensors", _quantized(tensors))

    finding = only(findings_for(path, Mlp()), "quantization")

    assert finding.evidence["scheme"] == "AWQ"
    assert finding.evidence["bits"] == [4]
    assert "autoawq" in finding.fix_note
