"""Benign differences: ``version`` (known library changes), ``extra_state`` (other entries)."""

from __future__ import annotations

import re
from pathlib import Path

import torch
from diffusers import AutoencoderKL
from torch import nn
from transformers import BertConfig, BertModel

from diagnose_helpers import (
    after_fix,
    blocking,
    categories,
    findings_for,
    only,
    save_safetensors,
    save_torch,
)


class ConvNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 2)


def test_batchnorm_checkpoint_from_before_num_batches_tracked(tmp_path: Path) -> None:
    state = {k: v for k, v in ConvNet().state_dict().items() if "num_batches_tracked" not in k}
    path = save_safetensors(tmp_path / "old.safetensors", state)

    findings = findings_for(path, ConvNet())

    assert blocking(findings) == []
    finding = only(findings, "version")
    assert finding.params == ["bn.num_batches_tracked"]
    assert finding.evidence["model_only"] == ["bn.num_batches_tracked"]
    assert "torch 0.4.1" in finding.evidence["known_change"]
    assert "benign" in finding.message and "fills it in" in finding.fix_note


def _bert() -> BertModel:
    config = BertConfig(
        vocab_size=100,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    return BertModel(config, add_pooling_layer=False)


def test_bert_checkpoint_with_the_old_persistent_position_ids(tmp_path: Path) -> None:
    state = dict(_bert().state_dict())
    assert "embeddings.position_ids" not in state  # non-persistent since transformers 4.31
    state["embeddings.position_ids"] = torch.arange(64)[None]
    path = save_safetensors(tmp_path / "bert-old.safetensors", state)

    findings = findings_for(path, _bert())

    assert blocking(findings) == []
    finding = only(findings, "version")
    assert finding.params == ["embeddings.position_ids"]
    assert "transformers 4.31.0" in finding.evidence["known_change"]
    assert [(op.kind, op.args) for op in finding.fix] == [
        ("drop", {"pattern": r".*\.position_ids"})
    ]
    assert re.fullmatch(finding.fix[0].args["pattern"], "embeddings.position_ids")


def test_tensorflow_layernorm_gamma_beta_names_are_a_known_rename(tmp_path: Path) -> None:
    state = {
        re.sub(
            r"LayerNorm\.weight$",
            "LayerNorm.gamma",
            re.sub(r"LayerNorm\.bias$", "LayerNorm.beta", k),
        ): v
        for k, v in _bert().state_dict().items()
    }
    path = save_safetensors(tmp_path / "bert-tf.safetensors", state)

    findings = findings_for(path, _bert())

    assert categories(findings) == ["version"]
    finding = findings[0]
    assert "gamma/beta" in finding.message
    assert finding.severity == "error"  # a raw load_state_dict still fails
    assert len(finding.params) == 6  # 3 LayerNorms × (gamma, beta)
    assert all(op.kind == "rename" for op in finding.fix)


def _vae() -> AutoencoderKL:
    return AutoencoderKL(
        block_out_channels=(8,),
        down_block_types=("DownEncoderBlock2D",),
        up_block_types=("UpDecoderBlock2D",),
        latent_channels=4,
        norm_num_groups=4,
        layers_per_block=1,
    )


def test_diffusers_vae_attention_names_before_0_17(tmp_path: Path) -> None:
    old_names = {"to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"}
    state = {}
    for name, tensor in _vae().state_dict().items():
        for new, old in old_names.items():
            name = name.replace(f".attentions.0.{new}.", f".attentions.0.{old}.")
        state[name] = tensor
    path = save_safetensors(tmp_path / "vae-old.safetensors", state)

    findings = findings_for(path, _vae())

    assert categories(findings) == ["version"]
    assert "diffusers 0.17.0" in findings[0].message
    assert len(findings[0].params) == 16  # 4 projections × (weight, bias) × (encoder, decoder)


def test_optimizer_ema_and_counters_around_the_weights(tmp_path: Path) -> None:
    model = ConvNet()
    state = dict(model.state_dict())
    state.update({f"ema.{k}": v.clone() for k, v in model.state_dict().items()})
    state["global_step"] = torch.tensor(1000)
    optimizer = torch.optim.Adam(model.parameters())
    model.fc(torch.zeros(1, 8)).sum().backward()
    optimizer.step()
    path = save_torch(
        tmp_path / "train.pt", {"model": state, "optimizer": optimizer.state_dict(), "epoch": 3}
    )

    findings = findings_for(path, ConvNet())

    assert blocking(findings) == []
    ema = next(f for f in findings if f.evidence.get("head") == "ema.")
    assert ema.category == "extra_state" and len(ema.params) == len(model.state_dict())
    assert [(op.kind, op.args) for op in ema.fix] == [("drop", {"pattern": r"ema\..*"})]
    counter = next(f for f in findings if f.params == ["global_step"])
    assert counter.category == "extra_state"
    container = next(f for f in findings if not f.params)
    assert container.category == "extra_state"
    assert "epoch" in container.evidence["values"] or "optimizer" in container.message


def test_current_checkpoint_yields_no_finding(tmp_path: Path) -> None:
    path = save_safetensors(tmp_path / "bert.safetensors", _bert().state_dict())

    assert findings_for(path, _bert()) == []


def test_drop_and_rename_ops_make_old_checkpoints_fit(tmp_path: Path) -> None:
    state = dict(_bert().state_dict())
    state["embeddings.position_ids"] = torch.arange(64)[None]
    state = {re.sub(r"LayerNorm\.weight$", "LayerNorm.gamma", k): v for k, v in state.items()}
    path = save_safetensors(tmp_path / "bert-old.safetensors", state)

    assert after_fix(path, _bert()) == []


def test_llama_checkpoint_with_the_old_rotary_inv_freq_buffers(tmp_path: Path) -> None:
    from transformers import LlamaConfig, LlamaModel

    config = LlamaConfig(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
    )
    state = dict(LlamaModel(config).state_dict())
    for i in range(2):
        state[f"layers.{i}.self_attn.rotary_emb.inv_freq"] = torch.ones(4)
    path = save_safetensors(tmp_path / "llama-old.safetensors", state)

    findings = findings_for(path, LlamaModel(config))

    finding = only(findings, "version")
    assert finding.severity == "info"
    assert "transformers 4.32.0" in finding.message
    assert len(finding.params) == 2
    assert after_fix(path, LlamaModel(config)) == []
