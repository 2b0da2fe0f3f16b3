"""Geometry: rank_inflate, transpose, pos_embed_resize and fused_split on real modules."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from transformers import GPT2Config, GPT2Model, SwinConfig, SwinModel, ViTConfig, ViTModel

from diagnose_helpers import (
    after_fix,
    blocking,
    categories,
    findings_for,
    only,
    save_safetensors,
)
from seeds import tiny_dit2d, tiny_dit3d

# --- rank_inflate ---------------------------------------------------------------------


def test_2d_patch_embedding_into_3d_model_is_an_exact_unsqueeze(tmp_path: Path) -> None:
    path = save_safetensors(tmp_path / "dit2d.safetensors", tiny_dit2d().state_dict())

    findings = findings_for(path, tiny_dit3d())

    finding = only(findings, "rank_inflate")
    assert finding.params == ["x_embedder.proj.weight"]
    assert finding.evidence["tensors"][0] == {
        "name": "x_embedder.proj.weight",
        "checkpoint": [16, 4, 2, 2],
        "model": [16, 4, 1, 2, 2],
    }
    assert "Conv2d kernel (2, 2) → Conv3d kernel (1, 2, 2)" in finding.message
    assert [(op.kind, op.args, op.safety.value) for op in finding.fix] == [
        ("unsqueeze", {"name": "x_embedder.proj.weight", "dim": 2}, "exact")
    ]
    # pos_embed → pos_embed_spatial + pos_embed_temporal is one position finding, not leftovers.
    position = only(findings, "pos_embed_resize")
    assert position.evidence["kind"] == "factorized"
    assert position.params == ["pos_embed", "pos_embed_temporal"]
    assert "missing" not in categories(findings) and "rename" not in categories(findings)


def test_temporal_kernel_longer_than_one_needs_inflation(tmp_path: Path) -> None:
    class Embed2D(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = nn.Conv2d(3, 8, 4, 4)

    class Embed3D(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = nn.Conv3d(3, 8, (3, 4, 4), (1, 4, 4))

    path = save_safetensors(tmp_path / "2d.safetensors", Embed2D().state_dict())

    finding = only(findings_for(path, Embed3D()), "rank_inflate")

    (op,) = finding.fix
    assert (op.kind, op.args) == (
        "inflate",
        {"name": "proj.weight", "dim": 2, "size": 3, "mode": "center"},
    )
    assert op.safety.value == "needs-review"
    assert finding.confidence < 0.9


def test_3d_checkpoint_into_2d_model_squeezes(tmp_path: Path) -> None:
    path = save_safetensors(tmp_path / "dit3d.safetensors", tiny_dit3d().state_dict())

    finding = only(findings_for(path, tiny_dit2d()), "rank_inflate")

    assert [(op.kind, op.args) for op in finding.fix] == [
        ("squeeze", {"name": "x_embedder.proj.weight", "dim": 2})
    ]


# --- transpose ------------------------------------------------------------------------


class LinearGPT2(nn.Module):
    """GPT-2 re-implemented with nn.Linear (``[out, in]``), same names as transformers'."""

    def __init__(self, width: int = 32, depth: int = 2, vocab: int = 100, positions: int = 64):
        super().__init__()
        self.wte = nn.Embedding(vocab, width)
        self.wpe = nn.Embedding(positions, width)
        self.h = nn.ModuleList(self._block(width) for _ in range(depth))
        self.ln_f = nn.LayerNorm(width)

    @staticmethod
    def _block(width: int) -> nn.Module:
        block = nn.Module()
        block.ln_1 = nn.LayerNorm(width)
        block.attn = nn.Module()
        block.attn.c_attn = nn.Linear(width, 3 * width)
        block.attn.c_proj = nn.Linear(width, width)
        block.ln_2 = nn.LayerNorm(width)
        block.mlp = nn.Module()
        block.mlp.c_fc = nn.Linear(width, 4 * width)
        block.mlp.c_proj = nn.Linear(4 * width, width)
        return block


def _gpt2() -> GPT2Model:
    config = GPT2Config(n_embd=32, n_layer=2, n_head=2, vocab_size=100, n_positions=64)
    config.bos_token_id = config.eos_token_id = 0
    return GPT2Model(config)


def test_gpt2_conv1d_against_linear_is_transposed_consistently(tmp_path: Path) -> None:
    path = save_safetensors(tmp_path / "gpt2.safetensors", _gpt2().state_dict())

    findings = findings_for(path, LinearGPT2())

    assert categories(findings) == ["transpose"]
    finding = findings[0]
    assert finding.evidence["transposed"] == 6
    assert set(finding.evidence["templates"]) == {
        "h.{i}.attn.c_attn.weight",
        "h.{i}.mlp.c_fc.weight",
        "h.{i}.mlp.c_proj.weight",
    }
    # The square attn.c_proj is Conv1D too: transposed with the rest of its layers.
    assert finding.evidence["square_assumed_transposed"] == ["h.{i}.attn.c_proj.weight"]
    assert {op.args["name"] for op in finding.fix} == {
        f"h.{i}.{m}.weight"
        for i in range(2)
        for m in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")
    }
    assert all(op.kind == "transpose" and op.args["dims"] == [1, 0] for op in finding.fix)
    assert "h.0.attn.c_attn.weight [32, 96] → [96, 32]" in finding.message


# --- pos_embed_resize ------------------------------------------------------------------


def _vit(image_size: int) -> ViTModel:
    config = ViTConfig(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        image_size=image_size,
        patch_size=8,
    )
    return ViTModel(config, add_pooling_layer=False)


def test_vit_position_grid_for_another_image_size(tmp_path: Path) -> None:
    path = save_safetensors(tmp_path / "vit32.safetensors", _vit(32).state_dict())

    findings = findings_for(path, _vit(48))

    assert categories(blocking(findings)) == ["pos_embed_resize"]
    finding = only(findings, "pos_embed_resize")
    assert finding.params == ["embeddings.position_embeddings"]
    (evidence,) = finding.evidence["tensors"]
    assert evidence["from_grid"] == [4, 4] and evidence["to_grid"] == [6, 6]
    assert evidence["prefix_tokens"] == 1
    assert evidence["image_size"] == [32, 48] and evidence["patch_size"] == 8
    assert "4×4 + 1 prefix token in the checkpoint" in finding.message
    assert [(op.kind, op.args) for op in finding.fix] == [
        (
            "resample_pos_embed",
            {
                "name": "embeddings.position_embeddings",
                "from_grid": [4, 4],
                "to_grid": [6, 6],
                "prefix_tokens": 1,
                "mode": "bicubic",
            },
        )
    ]


def test_swin_relative_position_table_for_another_window(tmp_path: Path) -> None:
    def swin(window: int) -> SwinModel:
        config = SwinConfig(
            image_size=56,
            patch_size=4,
            embed_dim=16,
            depths=[1],
            num_heads=[2],
            window_size=window,
        )
        return SwinModel(config, add_pooling_layer=False)

    path = save_safetensors(tmp_path / "swin7.safetensors", swin(7).state_dict())

    finding = only(findings_for(path, swin(14)), "pos_embed_resize")

    kinds = {t["kind"] for t in finding.evidence["tensors"]}
    assert "relative_table" in kinds
    table = next(t for t in finding.evidence["tensors"] if t["kind"] == "relative_table")
    assert (table["from_window"], table["to_window"]) == (7, 14)
    resample = next(op for op in finding.fix if op.kind == "resample_pos_embed")
    assert resample.args["from_grid"] == [13, 13] and resample.args["to_grid"] == [27, 27]


# --- fused_split ------------------------------------------------------------------------


class Fused(nn.Module):
    def __init__(self, width: int = 16, depth: int = 2) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(self._block(width) for _ in range(depth))

    @staticmethod
    def _block(width: int) -> nn.Module:
        block = nn.Module()
        block.attn = nn.Module()
        block.attn.qkv = nn.Linear(width, 3 * width)
        block.attn.proj = nn.Linear(width, width)
        return block


class Separate(nn.Module):
    def __init__(self, width: int = 16, depth: int = 2) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(self._block(width) for _ in range(depth))

    @staticmethod
    def _block(width: int) -> nn.Module:
        block = nn.Module()
        block.attn = nn.Module()
        for name in ("q", "k", "v", "proj"):
            setattr(block.attn, name, nn.Linear(width, width))
        return block


@pytest.mark.parametrize("fused_checkpoint", [True, False])
def test_fused_against_separate_qkv(tmp_path: Path, fused_checkpoint: bool) -> None:
    source, target = (Fused(), Separate()) if fused_checkpoint else (Separate(), Fused())
    path = save_safetensors(tmp_path / "attn.safetensors", source.state_dict())

    findings = findings_for(path, target)

    assert categories(findings) == ["fused_split"]
    finding = findings[0]
    assert finding.evidence["groups"] == 4  # weight and bias of 2 layers
    if fused_checkpoint:
        assert {op.kind for op in finding.fix} == {"split"}
        op = next(o for o in finding.fix if o.args["name"] == "blocks.0.attn.qkv.weight")
        assert op.args == {
            "name": "blocks.0.attn.qkv.weight",
            "into": ["blocks.0.attn.q.weight", "blocks.0.attn.k.weight", "blocks.0.attn.v.weight"],
            "sizes": [16, 16, 16],
            "dim": 0,
        }
    else:
        assert {op.kind for op in finding.fix} == {"concat"}
        op = next(o for o in finding.fix if o.args["into"] == "blocks.1.attn.qkv.bias")
        assert op.args["names"] == [f"blocks.1.attn.{p}.bias" for p in "qkv"]


def test_compatible_geometry_yields_no_finding(tmp_path: Path) -> None:
    torch.manual_seed(0)
    path = save_safetensors(tmp_path / "vit.safetensors", _vit(32).state_dict())

    assert findings_for(path, _vit(32)) == []


def test_exact_geometry_ops_make_the_shapes_fit(tmp_path: Path) -> None:
    gpt2 = save_safetensors(tmp_path / "gpt2.safetensors", _gpt2().state_dict())
    fused = save_safetensors(tmp_path / "fused.safetensors", Fused().state_dict())
    separate = save_safetensors(tmp_path / "separate.safetensors", Separate().state_dict())
    dit3d = save_safetensors(tmp_path / "dit3d.safetensors", tiny_dit3d().state_dict())

    assert after_fix(gpt2, LinearGPT2()) == []
    assert after_fix(fused, Separate()) == []
    assert after_fix(separate, Fused()) == []
    assert after_fix(dit3d, tiny_dit2d()) == []


def test_resample_op_makes_the_position_grid_fit(tmp_path: Path) -> None:
    path = save_safetensors(tmp_path / "vit32.safetensors", _vit(32).state_dict())

    assert after_fix(path, _vit(48)) == []
