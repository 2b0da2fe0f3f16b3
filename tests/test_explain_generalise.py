"""The text rules that reason from structure and knowledge, on errors real loads raise.

Each text here is the message PyTorch itself raises when a small real model loads a
real state dict (no invented strings): a diffusers UNet built for another text encoder,
a transformer stack of another depth, a CNN's weights loaded into an MLP, bitsandbytes
4-bit names. Plus the calibration table's contract (``knowledge/calibration.yaml``).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import weightfit
from weightfit.diagnose import calibration
from weightfit.diagnose.registry import REGISTRY, rules
from weightfit.findings import Finding


def load_error(model: nn.Module, state: dict[str, torch.Tensor]) -> str:
    """The text ``model.load_state_dict(state)`` raises."""
    with pytest.raises(RuntimeError) as raised:
        model.load_state_dict(state)
    return str(raised.value)


def tiny_unet(cross_attention_dim: int) -> nn.Module:
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    return UNet2DConditionModel(
        sample_size=8,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=cross_attention_dim,
        attention_head_dim=8,
        norm_num_groups=8,
    )


def fragment(text: str, word: str) -> str:
    """The one line of a real error that names ``word``: what people often paste."""
    return next(line.strip() for line in text.splitlines() if word in line)


def test_sd1_unet_weights_in_an_sd2_unet_are_an_encoder_swap_and_a_variant() -> None:
    text = load_error(tiny_unet(1024), tiny_unet(768).state_dict())
    top = weightfit.explain(text).findings[0]
    assert top.category == "encoder_swap"
    assert "SD 1.x against SD 2.x" in top.message


def test_one_cross_attention_line_with_known_encoder_widths_is_an_encoder_swap() -> None:
    line = fragment(load_error(tiny_unet(1024), tiny_unet(768).state_dict()), "attn2.to_k")
    top = weightfit.explain(line).findings[0]
    assert top.category == "encoder_swap"
    assert (top.evidence["checkpoint_width"], top.evidence["model_width"]) == (768, 1024)
    assert top.evidence["also_acceptable"] == ["wrong_variant"]
    assert top.confidence < 0.8  # one line, one kind of cue


def test_t5_conditioning_in_a_clip_model_names_both_encoders() -> None:
    line = fragment(load_error(tiny_unet(768), tiny_unet(4096).state_dict()), "attn2.to_v")
    top = weightfit.explain(line).findings[0]
    assert top.category == "encoder_swap"
    assert any("t5" in label.lower() for label in top.evidence["checkpoint_width_matches"])
    assert top.evidence.get("also_acceptable", []) == []


def test_one_conditioning_line_with_widths_no_encoder_has_stays_below_half() -> None:
    line = fragment(load_error(tiny_unet(40), tiny_unet(24).state_dict()), "attn2.to_k")
    top = weightfit.explain(line).findings[0]
    assert top.confidence < 0.5
    assert not top.evidence.get("checkpoint_width_matches")


def encoder(layers: int) -> nn.Module:
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(d_model=16, nhead=2, dim_feedforward=32)
    return nn.TransformerEncoder(layer, num_layers=layers, enable_nested_tensor=False)


def test_layers_beyond_the_checkpoints_depth_are_another_variant() -> None:
    text = load_error(encoder(4), encoder(2).state_dict())
    top = weightfit.explain(text).findings[0]
    assert top.category == "wrong_variant"
    assert (top.evidence["stack"], top.evidence["first"], top.evidence["last"]) == ("layers", 2, 3)


def test_a_deeper_checkpoint_is_another_variant() -> None:
    text = load_error(encoder(2), encoder(3).state_dict())
    top = weightfit.explain(text).findings[0]
    assert top.category == "wrong_variant"
    assert top.evidence["side"] == "checkpoint"


def test_missing_tail_layers_with_shards_in_the_log_are_a_missing_shard() -> None:
    log = "Loading checkpoint shards: model-00001-of-00002.safetensors\n"
    text = log + load_error(encoder(4), encoder(2).state_dict())
    assert weightfit.explain(text).findings[0].category == "partitioned"


class Cnn(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(nn.Conv2d(3, 3, 3) for _ in range(3))
        self.norms = nn.ModuleList(nn.BatchNorm2d(3) for _ in range(3))


class Mlp(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(8, 8) for _ in range(3))
        self.out_proj = nn.Linear(8, 2)


def test_a_cnns_weights_in_an_mlp_are_unrelated() -> None:
    text = load_error(Mlp(), Cnn().state_dict())
    top = weightfit.explain(text).findings[0]
    assert top.category == "unrelated"
    assert top.confidence < 0.5  # a rule no real dev text has measured yet


def test_a_backbone_without_its_classifier_is_not_unrelated() -> None:
    backbone = nn.Sequential()
    backbone.add_module("blocks", nn.ModuleList(nn.Linear(4, 4) for _ in range(2)))
    backbone.add_module("outnorm", nn.LayerNorm(4))
    state = {k: v for k, v in backbone.state_dict().items() if not k.startswith("outnorm")}
    state |= {f"classifier.{k}": v for k, v in nn.Linear(4, 10).state_dict().items()}
    state |= {f"classifier.norm.{k}": v for k, v in nn.LayerNorm(4).state_dict().items()}
    text = load_error(backbone, state)
    assert "unrelated" not in [f.category for f in weightfit.explain(text).findings]


def test_bitsandbytes_4bit_names_are_quantization() -> None:
    model = nn.Sequential(nn.Linear(8, 8))
    state = {
        "0.weight": torch.zeros(32, 1, dtype=torch.uint8),
        "0.weight.absmax": torch.zeros(1),
        "0.weight.quant_map": torch.zeros(16),
        "0.weight.quant_state.bitsandbytes__nf4": torch.zeros(8, dtype=torch.uint8),
        "0.bias": torch.zeros(8),
    }
    text = load_error(model, state)
    assert weightfit.explain(text).findings[0].category == "quantization"


def test_every_text_rule_confidence_is_capped_by_its_measured_precision() -> None:
    text_rules = {rule.name for rule in rules("text")}
    assert set(calibration.table()) <= text_rules  # no stale rows
    for name, measured in calibration.table().items():
        assert 0 <= measured.right <= measured.seen, name
        assert measured.cap <= (measured.right + 1) / (measured.seen + 2) + 1e-9
    assert calibration.Measured(0, 0).cap < 0.5  # unmeasured: never 0.5 or more
    assert calibration.Measured(1, 1).cap < 0.8  # one right text is not yet 0.8
    assert all(rule.name for rule in REGISTRY)


def test_the_calibration_table_is_what_the_dev_texts_measure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each rule's row counts its top findings on the real dev texts (held-back unread)."""
    from pathlib import Path

    import yaml

    import weightfit.diagnose as diagnose_module

    made: dict[int, str] = {}
    capped = diagnose_module.calibrate

    def recording(rule: str, findings: list[Finding]) -> None:
        made.update((id(finding), rule) for finding in findings)
        capped(rule, findings)

    monkeypatch.setattr(diagnose_module, "calibrate", recording)
    from weightfit.explain.resemblance import withheld

    counts: dict[str, list[int]] = {}
    resemblances: dict[str, list[int]] = {}
    bands = {"high": [0, 0], "middle": [0, 0]}
    for meta_path in sorted((Path(__file__).parent / "data" / "errors-real").glob("*.yaml")):
        meta = yaml.safe_load(meta_path.read_text(encoding="utf-8"))
        if meta["split"] != "dev":
            continue
        right = {meta["category"], *(meta.get("also_acceptable") or [])}
        try:
            with withheld([meta["repo"]]):
                text = meta_path.with_suffix(".txt").read_text("utf-8")
                top = weightfit.explain(text).findings[0]
        except weightfit.errors.NoLoadingErrorFound:
            continue
        resembled = "resembles" in top.evidence
        row = (resemblances if resembled else counts).setdefault(
            "unknown" if resembled else made[id(top)], [0, 0]
        )
        row[0] += 1
        row[1] += top.category in right
        band = "high" if top.confidence >= 0.8 else "middle" if top.confidence >= 0.5 else ""
        if band:
            bands[band][0] += 1
            bands[band][1] += top.category in right
    table = {name: [m.seen, m.right] for name, m in calibration.table().items()}
    assert counts == table  # rerun bench/explain_real.py --calibrate after changing a rule
    measured = {kind: [m.seen, m.right] for kind, m in calibration.resemblance_table().items()}
    assert resemblances == measured
    assert bands["high"][1] >= 0.9 * bands["high"][0]
    assert bands["middle"][1] >= 0.5 * bands["middle"][0]


def tiny_llama(layers: int) -> nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        hidden_size=16, intermediate_size=32, num_hidden_layers=layers, num_attention_heads=2,
        num_key_value_heads=2, vocab_size=64, tie_word_embeddings=False,
    )  # fmt: skip
    return LlamaForCausalLM(config)


def test_a_state_dict_that_stops_before_the_last_layers_and_the_head_is_a_truncated_file() -> None:
    model = tiny_llama(4)
    whole = model.state_dict()
    cut = {n: t for n, t in whole.items() if not n.startswith(("model.layers.3.", "model.norm"))}
    cut.pop("lm_head.weight")
    top = weightfit.explain(load_error(model, cut)).findings[0]
    assert top.category == "partitioned"
    assert top.evidence["first_missing_layer"] == 3


def test_a_shallower_model_keeps_its_head_so_missing_last_layers_are_not_a_truncated_file() -> None:
    model = tiny_llama(4)
    shallow = tiny_llama(3).state_dict()
    categories = [f.category for f in weightfit.explain(load_error(model, shallow)).findings]
    assert "partitioned" not in categories


def test_empty_parameters_in_the_model_are_zero3_placeholders() -> None:
    model = tiny_llama(1)
    state = {n: t.clone() for n, t in model.state_dict().items()}
    for parameter in model.parameters():
        parameter.data = torch.empty(0)  # what ZeRO-3 leaves in a partitioned module
    top = weightfit.explain(load_error(model, state)).findings[0]
    assert top.category == "partitioned"
    assert top.evidence["side"] == "model"


def test_a_keyerror_on_one_model_dot_name_is_not_read_as_a_prefix() -> None:
    text = "KeyError: 'model.layers.0.self_attn.qkv_proj.weight'"
    assert "prefix" not in [f.category for f in weightfit.explain(text).findings]
