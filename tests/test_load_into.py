"""``weightfit.load_into``: streaming a checkpoint into a model, with or without a plan."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

import weightfit
from weightfit.errors import CheckpointMismatch, UsageError
from weightfit.load import LoadReport, load_into
from weightfit.plan import Op, Plan


class Net(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.embed = nn.Embedding(20, 8)
        self.body = nn.Linear(8, 8)
        self.norm = nn.LayerNorm(8)
        self.head = nn.Linear(8, classes)
        self.register_buffer("scale", torch.ones(1))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.body(self.embed(ids)))) * self.scale


@pytest.fixture
def source() -> Net:
    torch.manual_seed(0)
    return Net()


def save(model: nn.Module, path: Path, prefix: str = "") -> Path:
    save_file({prefix + k: v.contiguous() for k, v in model.state_dict().items()}, path)
    return path


def test_plain_load_equals_the_source(tmp_path: Path, source: Net) -> None:
    path = save(source, tmp_path / "m.safetensors")
    model = Net()
    report = load_into(model, path, fix="none")
    ids = torch.tensor([[1, 2, 3]])
    assert torch.equal(model(ids), source(ids))
    assert sorted(report.loaded) == sorted(source.state_dict())
    assert report.to_train == [] and report.left_out == [] and report.share_to_train == 0.0


def test_meta_model_is_materialised_with_its_dtype(tmp_path: Path, source: Net) -> None:
    path = save(source, tmp_path / "m.safetensors")
    with torch.device("meta"):
        model = Net().to(torch.bfloat16)
    load_into(model, path)
    assert all(not p.is_meta and p.dtype == torch.bfloat16 for p in model.parameters())
    assert model.head.weight.requires_grad
    assert torch.equal(model.head.weight, source.head.weight.bfloat16())


def test_auto_fix_strips_a_prefix(tmp_path: Path, source: Net) -> None:
    path = save(source, tmp_path / "m.safetensors", prefix="module.")
    model = Net()
    report = load_into(model, path)
    assert report.plan.ops[0].kind == "rename"
    ids = torch.tensor([[4, 5]])
    assert torch.equal(model(ids), source(ids))
    assert report.adapted == {}


def test_strict_without_fix_raises_with_the_diagnosis(tmp_path: Path, source: Net) -> None:
    path = save(source, tmp_path / "m.safetensors", prefix="module.")
    model = Net()
    before = model.head.weight.detach().clone()
    with pytest.raises(CheckpointMismatch) as info:
        load_into(model, path, fix="none")
    message = str(info.value)
    assert message.startswith(f"{path}: checkpoint mismatch: 8 missing (scale, embed.weight")
    assert "Diagnosis: prefix:" in message and "Pass fix='auto' to repair" in message
    assert torch.equal(model.head.weight, before)


def test_plan_with_reinit_reports_parameters_to_train(tmp_path: Path, source: Net) -> None:
    path = save(source, tmp_path / "m.safetensors")
    torch.manual_seed(1)
    model = Net(classes=3)
    own_head = model.head.weight.detach().clone()
    plan = Plan([Op("reinit", {"name": "head.weight"}), Op("reinit", {"name": "head.bias"})])
    report = load_into(model, path, fix=plan)
    assert report.reinitialised == ["head.weight", "head.bias"]
    assert report.to_train == ["head.weight", "head.bias"]
    assert report.params_to_train == 3 * 8 + 3
    total = sum(p.numel() for p in model.parameters())
    assert report.total_params == total
    assert report.share_to_train == pytest.approx(27 / total)
    assert torch.equal(model.head.weight, own_head)
    assert torch.equal(model.body.weight, source.body.weight)
    assert (
        repr(report)
        == f"<LoadReport 6 loaded, 0 adapted, 2 to train (27 params, {27 / total:.2%})>"
    )


def test_reinit_on_meta_uses_the_modules_own_initialisation(tmp_path: Path, source: Net) -> None:
    path = save(source, tmp_path / "m.safetensors")
    with torch.device("meta"):
        model = Net(classes=3)
    plan = Plan([Op("reinit", {"pattern": r"head\..*"})])
    report = load_into(model, path, fix=plan)
    assert not model.head.weight.is_meta and model.head.weight.abs().sum() > 0
    assert report.uninitialised == []
    assert torch.equal(model.body.weight, source.body.weight)


def test_non_strict_lists_missing_and_left_out(tmp_path: Path, source: Net) -> None:
    state = {k: v for k, v in source.state_dict().items() if not k.startswith("norm.")}
    state["extra.weight"] = torch.zeros(2)
    save_file(state, tmp_path / "m.safetensors")
    model = Net()
    report = load_into(model, tmp_path / "m.safetensors", fix="none", strict=False)
    assert report.missing == ["norm.weight", "norm.bias"]
    assert report.left_out == ["extra.weight"]
    assert report.params_to_train == 16


def test_shape_mismatch_without_a_place_is_left_out(tmp_path: Path, source: Net) -> None:
    path = save(source, tmp_path / "m.safetensors")
    report = load_into(Net(classes=4), path, fix="none", strict=False)
    assert sorted(report.left_out) == ["head.bias", "head.weight"]
    assert report.missing == ["head.weight", "head.bias"]


def test_adapted_tensors_name_their_ops(tmp_path: Path) -> None:
    torch.manual_seed(0)
    conv2d = nn.Conv2d(4, 8, 2, 2)
    save_file(dict(conv2d.state_dict()), tmp_path / "c.safetensors")
    conv3d = nn.Conv3d(4, 8, (1, 2, 2), (1, 2, 2))
    report = load_into(conv3d, tmp_path / "c.safetensors")
    assert report.adapted == {"weight": ["unsqueeze"]}
    frame = torch.randn(1, 4, 4, 4)
    assert torch.equal(conv3d(frame.unsqueeze(2)).squeeze(2), conv2d(frame))


def test_tied_weights_stay_tied_on_meta(tmp_path: Path) -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(tmp_path / "llama")
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    report = load_into(model, tmp_path / "llama")
    assert model.lm_head.weight is model.model.embed_tokens.weight
    assert not model.lm_head.weight.is_meta
    assert report.missing == []


def test_plan_file_is_accepted(tmp_path: Path, source: Net) -> None:
    path = save(source, tmp_path / "m.safetensors", prefix="module.")
    Plan([Op("rename", {"strip": "module.", "add": ""})]).dump(tmp_path / "plan.yaml")
    report = load_into(Net(), path, fix=tmp_path / "plan.yaml")
    assert len(report.loaded) == 8


def test_unknown_fix_value_is_a_usage_error(tmp_path: Path, source: Net) -> None:
    path = save(source, tmp_path / "m.safetensors")
    with pytest.raises(UsageError) as info:
        load_into(Net(), path, fix="please")
    assert (
        str(info.value)
        == "usage error: fix must be 'auto', 'none', a Plan or a plan file, not 'please'"
    )


def test_public_api_exposes_load_into() -> None:
    assert weightfit.load_into is load_into
    assert isinstance(LoadReport(), LoadReport)
