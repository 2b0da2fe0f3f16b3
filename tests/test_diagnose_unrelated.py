"""``unrelated``: a checkpoint checked against a different model altogether (issue 11).

Before, a small CNN checked against an MLP came out as a ``prefix`` at confidence 1.00,
a rename and a DeepSpeed save; two models sharing almost no module names and shapes
are different models, and the report says so instead.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn
from transformers import LlamaConfig, LlamaForCausalLM, ViTConfig, ViTModel

from diagnose_helpers import categories, findings_for, save_safetensors, save_torch


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
