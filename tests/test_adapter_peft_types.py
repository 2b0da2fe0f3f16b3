"""Adapters of PEFT types other than LoRA, as PEFT saves them, checked by name and width.

Before, their tensors (``hada_w1_a``, ``lokr_w1``, ``ia3_l`` …) were "unexpected"
with confidence 1.0 and a strict load said to fail, against the very base they
were trained on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

import weightfit
from adapter_builders import tiny_llama


def configs() -> dict[str, Any]:
    from peft import AdaLoraConfig, IA3Config, LoHaConfig, LoKrConfig, OFTConfig, VeraConfig

    return {
        "LOHA": LoHaConfig(r=4, alpha=8, target_modules=["q_proj", "v_proj"]),
        "LOKR": LoKrConfig(r=4, alpha=8, target_modules=["q_proj", "v_proj"]),
        "IA3": IA3Config(
            target_modules=["k_proj", "v_proj", "down_proj"], feedforward_modules=["down_proj"]
        ),
        "ADALORA": AdaLoraConfig(r=4, target_modules=["q_proj", "v_proj"], total_step=10),
        "VERA": VeraConfig(r=8, target_modules=["q_proj", "o_proj"], save_projection=True),
        "OFT": OFTConfig(r=0, oft_block_size=8, target_modules=["q_proj"]),
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from peft import get_peft_model

    root = tmp_path_factory.mktemp("peft-types")
    tiny_llama(hidden=32).save_pretrained(root / "base")
    tiny_llama(hidden=48).save_pretrained(root / "wider")
    for kind, config in configs().items():
        model = get_peft_model(tiny_llama(hidden=32), config)
        model.save_pretrained(root / kind)
    return root


@pytest.mark.parametrize("kind", list(configs()))
def test_an_adapter_of_another_type_fits_its_own_base(built: Path, kind: str) -> None:
    report = weightfit.check_adapter(built / kind, built / "base")
    assert report.compatible, report.findings
    [finding] = report.findings
    assert (finding.category, finding.severity) == ("lora_mismatch", "info")
    assert finding.message.startswith(f"{kind} adapter: ")
    assert "modules fit the base (names and widths;" in finding.message
    assert report.summary.get("unexpected", 0) == 0, report.summary


@pytest.mark.parametrize("kind", list(configs()))
def test_an_adapter_of_another_type_for_a_wider_model_is_named(built: Path, kind: str) -> None:
    report = weightfit.check_adapter(built / kind, built / "wider")
    assert not report.compatible
    finding = report.findings[0]
    assert (finding.category, finding.severity) == ("lora_mismatch", "error")
    assert finding.message.startswith(f"{kind} widths of ")
    assert finding.message.endswith(": an adapter for another size")


def test_an_adapter_of_another_type_for_another_architecture(built: Path, tmp_path: Path) -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=2, n_head=4, vocab_size=1000)).save_pretrained(
        tmp_path / "gpt2"
    )
    report = weightfit.check_adapter(built / "LOHA", tmp_path / "gpt2")
    finding = report.findings[0]
    assert (finding.category, finding.severity) == ("lora_mismatch", "error")
    assert finding.message.startswith(
        "4 of 4 LOHA modules are not in the base (only 0 found): another model or another layout"
    )


def test_the_plain_check_and_the_cli_agree(built: Path, run_cli) -> None:
    assert weightfit.check(built / "LOKR", built / "base").compatible
    result = run_cli("adapter", "check", built / "IA3", "--base", built / "wider")
    assert result.code == 1
    assert "IA3 widths of" in result.out
