"""Known library-version changes (``knowledge/version_changes.yaml``) met in real loads.

Each test builds today's model with the real library (or a module with the same
names where the library is not a dependency), writes the state dict the older
version saved, and checks that ``check`` and ``explain`` of the real
``load_state_dict`` error name the change.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import transformers
from torch import nn

import weightfit
from diagnose_helpers import after_fix, blocking, categories, findings_for, only, save_safetensors
from small_configs import llava_configs
from weightfit import knowledge
from weightfit.findings import Finding
from weightfit.targets.factory import build_from


def _load_error(model: nn.Module, state: dict[str, torch.Tensor]) -> str:
    """The message a strict ``load_state_dict`` raises, as a user would paste it."""
    with pytest.raises(RuntimeError) as raised:
        model.load_state_dict(state)
    return str(raised.value)


def _top(text: str) -> Finding:
    return weightfit.explain(text).findings[0]


def _gpt2() -> transformers.GPT2Model:
    config = transformers.GPT2Config(
        vocab_size=64, n_positions=16, n_embd=16, n_layer=2, n_head=2, n_inner=32
    )
    return transformers.GPT2Model(config)


def _with_gpt2_attention_buffers(model: transformers.GPT2Model) -> dict[str, torch.Tensor]:
    """The state dict transformers < 4.30 saved: each layer's causal mask and masked bias."""
    state = dict(model.state_dict())
    causal = torch.tril(torch.ones(16, 16, dtype=torch.bool)).view(1, 1, 16, 16)
    for i in range(2):
        state[f"h.{i}.attn.bias"] = causal
        state[f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    return state


def test_gpt2_checkpoint_with_the_old_persistent_attention_buffers(tmp_path: Path) -> None:
    model = _gpt2()
    assert not any(re.search(r"h\.\d+\.attn\.(masked_)?bias$", n) for n in model.state_dict())
    state = _with_gpt2_attention_buffers(model)
    path = save_safetensors(tmp_path / "gpt2-old.safetensors", state)

    findings = findings_for(path, _gpt2())

    assert blocking(findings) == []
    finding = only(findings, "version")
    assert "transformers 4.30.0" in finding.message
    assert len(finding.params) == 4
    assert after_fix(path, _gpt2()) == []

    top = _top(_load_error(_gpt2(), state))
    assert top.category == "version"
    assert "transformers 4.30.0" in top.message


class _SwinBlock(nn.Module):
    """timm's Swin v1 block names (``attn.relative_position_index``, ``attn_mask``)."""

    def __init__(self, shifted: bool) -> None:
        super().__init__()
        self.attn = nn.Module()
        self.attn.relative_position_bias_table = nn.Parameter(torch.zeros(9, 2))
        self.attn.register_buffer(
            "relative_position_index", torch.zeros(4, 4, dtype=torch.long), persistent=False
        )
        self.attn.qkv = nn.Linear(8, 24)
        self.register_buffer("attn_mask", torch.zeros(1, 4, 4) if shifted else None, False)


class _Swin(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        stage = nn.Module()
        stage.blocks = nn.ModuleList([_SwinBlock(False), _SwinBlock(True)])
        self.layers = nn.ModuleList([stage])


def test_swin_checkpoint_from_before_timm_0_9_6_holds_rebuilt_buffers(tmp_path: Path) -> None:
    state = dict(_Swin().state_dict())
    for i in range(2):
        state[f"layers.0.blocks.{i}.attn.relative_position_index"] = torch.zeros(
            4, 4, dtype=torch.long
        )
    state["layers.0.blocks.1.attn_mask"] = torch.zeros(1, 4, 4)
    path = save_safetensors(tmp_path / "swin-old.safetensors", state)

    findings = findings_for(path, _Swin())

    assert blocking(findings) == []
    assert categories(findings) == ["version", "version"]
    assert all("timm 0.9.6" in f.message for f in findings)
    assert after_fix(path, _Swin()) == []
    assert _top(_load_error(_Swin(), state)).category == "version"


class _DenseLayer(nn.Sequential):
    """torchvision's ``_DenseLayer`` names since PyTorch 0.4 (``norm1``, ``conv1`` ...)."""

    def __init__(self) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(8)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(8, 16, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(16)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(16, 4, 3, padding=1, bias=False)


class _DenseNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential()
        block = nn.Sequential()
        for i in range(1, 4):
            block.add_module(f"denselayer{i}", _DenseLayer())
        self.features.add_module("denseblock1", block)


def _dotted(name: str) -> str:
    """The name torchvision's DenseNet had before PyTorch 0.4 (``norm1`` → ``norm.1``)."""
    for part in ("norm", "relu", "conv"):
        for index in ("1", "2"):
            name = name.replace(f".{part}{index}.", f".{part}.{index}.")
    return name


def test_densenet_checkpoint_with_dotted_layer_names(tmp_path: Path) -> None:
    state = {
        _dotted(k): v
        for k, v in _DenseNet().state_dict().items()
        if not k.endswith("num_batches_tracked")
    }
    assert "features.denseblock1.denselayer2.norm.1.weight" in state
    path = save_safetensors(tmp_path / "densenet-old.safetensors", state)

    findings = findings_for(path, _DenseNet())
    assert categories(findings) == ["version", "version"]  # and num_batches_tracked, then new
    finding = next(f for f in findings if "torchvision 0.2.1" in f.message)
    assert len(finding.params) == 3 * 10  # per layer: 2 norms × 4 tensors, 2 convs
    assert all(op.kind == "rename" for op in finding.fix)
    left = after_fix(path, _DenseNet())
    assert [(f.severity, f.evidence.get("buffer")) for f in left] == [
        ("info", "num_batches_tracked")
    ]

    top = _top(_load_error(_DenseNet(), state))
    assert top.category == "version"
    assert "torchvision 0.2.1" in top.message


class _FairseqEncoderLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.self_attn_layer_norm = nn.LayerNorm(8)
        self.final_layer_norm = nn.LayerNorm(8)


class _FairseqModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.layers = nn.ModuleList([_FairseqEncoderLayer() for _ in range(2)])


def test_fairseq_encoder_checkpoint_with_the_layer_norms_list() -> None:
    old = {"self_attn_layer_norm": "layer_norms.0", "final_layer_norm": "layer_norms.1"}
    state = {}
    for name, tensor in _FairseqModel().state_dict().items():
        for new, before in old.items():
            name = name.replace(f".{new}.", f".{before}.")
        state[name] = tensor

    top = _top(_load_error(_FairseqModel(), state))

    assert top.category == "version"
    assert "fairseq" in top.message and "final_layer_norm" in top.message


def _rename(old: str) -> str | None:
    changes = [c for c in knowledge.changes_for(old) if c.replacement]
    assert len(changes) == 1, old
    return changes[0].renamed(old)


def test_prefix_changes_land_on_names_todays_classes_have() -> None:
    text = build_from(
        transformers.CLIPTextModel,
        config={
            "model_type": "clip_text_model", "hidden_size": 16, "intermediate_size": 32,
            "num_hidden_layers": 1, "num_attention_heads": 2, "vocab_size": 50,
            "max_position_embeddings": 8, "projection_dim": 8,
        },
    )  # fmt: skip
    assert _rename("text_model.encoder.layers.0.mlp.fc1.weight") in text.tensors
    assert _rename("text_model.final_layer_norm.bias") in text.tensors
    assert knowledge.changes_for("text_model.model.layers.0.mlp.up_proj.weight") == []

    qwen = build_from(
        transformers.Qwen2VLForConditionalGeneration,
        config={
            "model_type": "qwen2_vl",
            "text_config": {
                "model_type": "qwen2_vl_text", "hidden_size": 16, "intermediate_size": 32,
                "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 2,
                "vocab_size": 64, "rope_scaling": {"type": "mrope", "mrope_section": [1, 1, 2]},
            },
            "vision_config": {
                "depth": 1, "embed_dim": 16, "hidden_size": 16, "num_heads": 2,
                "mlp_ratio": 2, "patch_size": 2, "spatial_merge_size": 2,
            },
        },
    )  # fmt: skip
    for old in ("visual.blocks.0.attn.qkv.weight", "visual.merger.mlp.0.weight"):
        assert _rename(old) in qwen.tensors, old


def test_processor_lora_names_land_on_the_peft_names_diffusers_uses() -> None:
    from diffusers import UNet2DConditionModel
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    unet = UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4,
        cross_attention_dim=8, attention_head_dim=2, sample_size=8,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
    )  # fmt: skip
    unet.add_adapter(LoraConfig(r=2, target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    names = set(get_peft_model_state_dict(unet))

    prefix = "down_blocks.0.attentions.0.transformer_blocks.0.attn2"
    for projection in ("to_q", "to_k", "to_v", "to_out"):
        for side in ("down", "up"):
            old = f"{prefix}.processor.{projection}_lora.{side}.weight"
            assert _rename(old) in names, old


def test_text_encoder_lora_names_land_on_the_peft_names() -> None:
    from peft import LoraConfig, get_peft_model
    from peft.utils import get_peft_model_state_dict

    text = transformers.CLIPTextModel(
        transformers.CLIPTextConfig(
            hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
            vocab_size=50, max_position_embeddings=8, projection_dim=8,
        )
    )  # fmt: skip
    config = LoraConfig(r=2, target_modules=["q_proj", "k_proj", "v_proj", "out_proj"])
    names = set(get_peft_model_state_dict(get_peft_model(text, config)))

    for projection in ("to_q", "to_k", "to_v", "to_out"):
        for side in ("down", "up"):
            old = f"base_model.model.encoder.layers.0.self_attn.{projection}_lora.{side}.weight"
            assert _rename(old) in names, old


def test_llava_next_image_newline_moves_under_the_base_model() -> None:
    llava_next = build_from(
        transformers.LlavaNextForConditionalGeneration,
        config={**llava_configs(vocab_size=64), "image_grid_pinpoints": [[28, 28]]},
    )
    assert _rename("image_newline") in llava_next.tensors
    assert _rename("language_model.model.embed_tokens.weight") in llava_next.tensors


def test_gpt_neo_and_neox_checkpoints_with_their_old_attention_buffers(tmp_path: Path) -> None:
    neo_config = transformers.GPTNeoConfig(
        vocab_size=64, max_position_embeddings=16, hidden_size=16, num_layers=2, num_heads=2,
        attention_types=[[["global", "local"], 1]], window_size=4,
    )  # fmt: skip
    neox_config = transformers.GPTNeoXConfig(
        vocab_size=64, max_position_embeddings=16, hidden_size=16, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=32,
    )  # fmt: skip
    causal = torch.tril(torch.ones(16, 16, dtype=torch.bool)).view(1, 1, 16, 16)
    cases = [
        (transformers.GPTNeoModel, neo_config, "h.{}.attn.attention.{}"),
        (transformers.GPTNeoXForCausalLM, neox_config, "gpt_neox.layers.{}.attention.{}"),
    ]
    for cls, config, template in cases:
        state = dict(cls(config).state_dict())
        for i in range(2):
            state[template.format(i, "bias")] = causal
            state[template.format(i, "masked_bias")] = torch.tensor(-1e9)
        path = save_safetensors(tmp_path / f"{cls.__name__}.safetensors", state)

        findings = findings_for(path, cls(config))

        assert blocking(findings) == [], cls
        assert len(only(findings, "version").params) == 4
        assert _top(_load_error(cls(config), state)).category == "version"


class _ConvBN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(8, 8, 1)
        self.bn = nn.BatchNorm1d(8)


class _VoteHead(nn.Module):
    """mmdet3d >= 0.6.0 VoteNet prediction head names (``conv_pred.shared_convs.layerN``)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv_pred = nn.Module()
        self.conv_pred.shared_convs = nn.Sequential()
        for i in range(2):
            self.conv_pred.shared_convs.add_module(f"layer{i}", _ConvBN())
        self.conv_pred.conv_cls = nn.Conv1d(8, 2 + 3, 1)
        self.conv_pred.conv_reg = nn.Conv1d(8, 6, 1)


class _VoteNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.bbox_head = _VoteHead()


def test_votenet_checkpoint_from_before_mmdet3d_0_6_0(tmp_path: Path) -> None:
    state = {}
    for name, tensor in _VoteNet().state_dict().items():
        if ".conv_cls." in name or ".conv_reg." in name:
            continue
        state[name.replace("shared_convs.layer", "")] = tensor
    state["bbox_head.conv_pred.conv_out.weight"] = torch.zeros(11, 8, 1)
    state["bbox_head.conv_pred.conv_out.bias"] = torch.zeros(11)
    path = save_safetensors(tmp_path / "votenet-old.safetensors", state)

    renamed = next(f for f in findings_for(path, _VoteNet()) if "mmdet3d 0.6.0" in f.message)
    assert renamed.category == "version"
    assert "bbox_head.conv_pred.0.conv.weight" in renamed.params
    for i in range(2):
        for leaf in ("conv.weight", "conv.bias", "bn.weight", "bn.bias", "bn.running_var"):
            assert f"bbox_head.conv_pred.{i}.{leaf}" in renamed.params

    top = _top(_load_error(_VoteNet(), state))
    assert top.category == "version"
    assert "mmdet3d 0.6.0" in top.message


# Rows taken from the libraries' own load-time upgrades. Each is checked on real names:
# today's class built with the installed library where it is a dependency, else the
# names the upstream fix-up itself spells (its URL kept beside them).


def _change(old: str) -> knowledge.VersionChange:
    """The one known change that matches the old-layout name ``old``."""
    changes = knowledge.changes_for(old)
    assert len(changes) == 1, (old, [c.summary for c in changes])
    return changes[0]


def _built(cls: type, **config: object) -> set[str]:
    return set(build_from(cls, config=config).tensors)


def _observed() -> set[str]:
    """A module holding a per-channel observer, as ``prepare`` leaves one in a quantized model."""
    model = nn.Module()
    model.fc = nn.Linear(4, 4)
    model.fc.activation_post_process = torch.ao.quantization.PerChannelMinMaxObserver()
    return set(model.state_dict())


TINY_MOE = {
    "vocab_size": 64,
    "hidden_size": 16,
    "intermediate_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
}
LAYER_RENAMES = [
    pytest.param(
        _observed,
        ["fc.activation_post_process.min_vals", "fc.activation_post_process.max_vals"],
        id="torch-observer-min_vals",
    ),
    pytest.param(
        lambda: _built(
            transformers.GraniteMoeForCausalLM,
            **TINY_MOE,
            num_local_experts=2,
            num_experts_per_tok=1,
        ),
        [
            f"model.layers.0.block_sparse_moe.{part}.weight"
            for part in ("input_linear", "output_linear", "router.layer")
        ],
        id="transformers-granitemoe",
    ),
    pytest.param(
        lambda: _built(
            transformers.AriaTextForCausalLM,
            **TINY_MOE,
            moe_intermediate_size=8,
            moe_num_experts=2,
            moe_topk=1,
        ),
        ["model.layers.0.mlp.experts.fc1.weight", "model.layers.0.mlp.experts.fc2.weight"],
        id="transformers-aria",
    ),
    pytest.param(
        lambda: _built(
            transformers.VideoMAEModel,
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=32,
            image_size=8,
            patch_size=4,
            num_frames=2,
            tubelet_size=2,
            qkv_bias=True,
        ),
        [
            "encoder.layer.0.attention.attention.q_bias",
            "encoder.layer.0.attention.attention.v_bias",
        ],
        id="transformers-videomae",
    ),
    pytest.param(
        lambda: _built(
            transformers.YolosModel,
            hidden_size=16,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=32,
            image_size=[16, 16],
            patch_size=4,
            num_detection_tokens=2,
            use_mid_position_embeddings=True,
        ),
        ["encoder.mid_position_embeddings"],
        id="transformers-yolos",
    ),
    pytest.param(
        lambda: _built(transformers.FuyuForCausalLM),
        ["vision_embed_tokens.weight", "vision_embed_tokens.bias"],
        id="transformers-fuyu-meta",
    ),
    pytest.param(
        lambda: _built(transformers.Qwen2AudioForConditionalGeneration),
        ["audio_tower.conv1.weight", "audio_tower.layers.0.self_attn.k_proj.weight"],
        id="transformers-qwen2-audio-meta",
    ),
]


@pytest.mark.parametrize(("build", "olds"), LAYER_RENAMES)
def test_library_renames_land_on_todays_real_names(build, olds: list[str]) -> None:
    names = build()
    for old in olds:
        assert old not in names, old
        assert _change(old).renamed(old) in names, old


def test_video_llava_towers_move_under_the_base_model() -> None:
    names = _built(transformers.VideoLlavaForConditionalGeneration)
    for tower in ("image_tower", "video_tower"):
        old = f"{tower}.vision_model.post_layernorm.weight"  # 4.x: a whole CLIPVisionModel
        new = _change(old).renamed(old)
        assert new == f"model.{tower}.vision_model.post_layernorm.weight"
        # ... and today's CLIPVisionModel drops its own vision_model level.
        assert new.replace(".vision_model.", ".") in names


def test_jamba_experts_are_fused_today() -> None:
    names = _built(
        transformers.JambaForCausalLM, **TINY_MOE | {"num_hidden_layers": 2}, num_experts=2,
        expert_layer_period=2, expert_layer_offset=1, attn_layer_period=2, attn_layer_offset=1,
        mamba_d_state=4, mamba_expand=2, mamba_dt_rank=2,
    )  # fmt: skip
    old = "model.layers.1.feed_forward.experts.0.gate_proj.weight"
    assert _change(old).kind == "fused"
    assert old not in names
    assert {"model.layers.1.feed_forward.experts.gate_up_proj"} <= names


def _gpt2_cross() -> set[str]:
    return _built(
        transformers.GPT2LMHeadModel,
        vocab_size=64,
        n_positions=16,
        n_embd=16,
        n_layer=1,
        n_head=2,
        add_cross_attention=True,
    )


DROPPED_BUFFERS = [
    pytest.param(
        lambda: _built(
            transformers.CodeGenForCausalLM,
            vocab_size=64,
            n_positions=16,
            n_embd=16,
            n_layer=1,
            n_head=2,
            rotary_dim=4,
        ),
        "transformer.h.0.attn.qkv_proj.weight",
        ["transformer.h.0.attn.causal_mask"],
        id="transformers-codegen",
    ),
    pytest.param(
        _gpt2_cross,
        "transformer.h.0.crossattention.c_attn.weight",
        ["transformer.h.0.crossattention.bias", "transformer.h.0.crossattention.masked_bias"],
        id="transformers-gpt2-cross-attention",
    ),
    pytest.param(
        lambda: _built(
            transformers.BeitModel,
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=32,
            image_size=8,
            patch_size=4,
            use_relative_position_bias=True,
        ),
        "layers.0.relative_position_bias.relative_position_bias_table",
        [
            "layers.0.relative_position_bias.relative_position_index",
            "beit.encoder.layer.0.attention.attention.relative_position_bias.relative_position_index",
        ],
        id="transformers-beit",
    ),
    pytest.param(
        lambda: _built(
            transformers.T5ForConditionalGeneration,
            vocab_size=64,
            d_model=16,
            d_kv=8,
            d_ff=32,
            num_layers=1,
            num_heads=2,
        ),
        "decoder.block.0.layer.1.EncDecAttention.q.weight",
        ["decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight"],
        id="transformers-t5",
    ),
    pytest.param(
        lambda: _built(
            transformers.BartForConditionalGeneration,
            vocab_size=64,
            d_model=16,
            encoder_layers=1,
            decoder_layers=1,
            encoder_attention_heads=2,
            decoder_attention_heads=2,
            encoder_ffn_dim=32,
            decoder_ffn_dim=32,
            max_position_embeddings=16,
        ),
        "model.encoder.layers.0.fc1.weight",
        ["model.encoder.version", "model.decoder.version"],
        id="transformers-bart-fairseq-version",
    ),
]


@pytest.mark.parametrize(("build", "sibling", "olds"), DROPPED_BUFFERS)
def test_buffers_todays_classes_no_longer_save(build, sibling: str, olds: list[str]) -> None:
    names = build()
    assert sibling in names
    for old in olds:
        change = _change(old)
        assert change.kind == "buffer-nonpersistent" and change.benign, old
        assert old not in names, old


@pytest.mark.parametrize(
    ("module", "attribute", "sample", "version"),
    [
        (nn.GELU, "approximate", (2, 3), "1.12.0"),
        (lambda: nn.BatchNorm2d(3), "track_running_stats", (2, 3, 4, 4), "0.4.0"),
        (nn.Hardswish, "inplace", (2, 3), "1.7.0"),
        (nn.Hardsigmoid, "inplace", (2, 3), "1.7.0"),
        (lambda: nn.LSTM(2, 3), "proj_size", (4, 1, 2), "1.8.0"),
        (lambda: nn.LSTM(2, 3), "_flat_weights_names", (4, 1, 2), "1.4.0"),
        (lambda: nn.GRU(2, 3), "_flat_weights", (4, 1, 2), "1.4.0"),
    ],
)
def test_modules_pickled_before_they_gained_an_attribute(module, attribute, sample, version):
    old = module()
    # An object unpickled from the older release: its __dict__ never had the attribute.
    del old.__dict__[attribute]
    with pytest.raises(AttributeError) as raised:
        old(torch.zeros(sample))
    top = _top(f"Traceback (most recent call last):\nAttributeError: {raised.value}")
    assert top.category == "version"
    assert f"torch older than {version}" in top.message


def _module_with(names: dict[str, tuple[int, ...]]) -> nn.Module:
    """A module tree with exactly these parameters (numbered children allowed)."""
    root = nn.Module()
    for name, shape in names.items():
        *path, leaf = name.split(".")
        node = root
        for part in path:
            if part not in node._modules:
                node.add_module(part, nn.Module())
            node = node._modules[part]  # type: ignore[assignment]
        node.register_parameter(leaf, nn.Parameter(torch.zeros(shape)))
    return root


TORCHVISION = "https://github.com/pytorch/vision/blob/main/torchvision"
FAIRSEQ = "https://github.com/facebookresearch/fairseq/blob/main/fairseq"
SWIN = (
    "https://github.com/huggingface/pytorch-image-models/blob/main/timm/models/"
    "swin_transformer.py"  # checkpoint_filter_fn
)
UPSTREAM_RENAMES = [
    ("rpn.head.conv.weight", "rpn.head.conv.0.0.weight", f"{TORCHVISION}/models/detection/rpn.py"),
    ("backbone.fpn.inner_blocks.2.weight", "backbone.fpn.inner_blocks.2.0.weight",
     f"{TORCHVISION}/ops/feature_pyramid_network.py"),
    ("backbone.fpn.layer_blocks.0.bias", "backbone.fpn.layer_blocks.0.0.bias",
     f"{TORCHVISION}/ops/feature_pyramid_network.py"),
    ("roi_heads.mask_head.mask_fcn1.weight", "roi_heads.mask_head.0.0.weight",
     f"{TORCHVISION}/models/detection/mask_rcnn.py"),
    ("roi_heads.mask_head.mask_fcn4.bias", "roi_heads.mask_head.3.0.bias",
     f"{TORCHVISION}/models/detection/mask_rcnn.py"),
    ("head.classification_head.conv.6.weight", "head.classification_head.conv.3.0.weight",
     f"{TORCHVISION}/models/detection/retinanet.py"),
    ("head.regression_head.conv.2.bias", "head.regression_head.conv.1.0.bias",
     f"{TORCHVISION}/models/detection/retinanet.py"),
    ("layers.2.downsample.reduction.weight", "layers.3.downsample.reduction.weight", SWIN),
    ("decoder.layers.3.layer_norms.1.weight", "decoder.layers.3.encoder_attn_layer_norm.weight",
     f"{FAIRSEQ}/models/transformer/transformer_decoder.py"),
    ("decoder.embed_out", "decoder.output_projection.weight",
     f"{FAIRSEQ}/models/transformer/transformer_decoder.py"),
    ("backbone.layer2.0.conv2_offset.weight", "backbone.layer2.0.conv2.conv_offset.weight",
     "https://github.com/open-mmlab/mmcv/blob/main/mmcv/ops/deform_conv.py"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("old", "new", "url"), UPSTREAM_RENAMES, ids=[r[0] for r in UPSTREAM_RENAMES]
)
def test_upstream_renames_as_their_fix_ups_spell_them(old: str, new: str, url: str) -> None:
    assert _change(old).renamed(old) == new, url
    assert knowledge.changes_for(new) == [], new

    model = _module_with({new: (2, 2), "other.weight": (2,)})
    top = _top(_load_error(model, {old: torch.zeros(2, 2), "other.weight": torch.zeros(2)}))
    assert top.category == "version", url
    assert _change(old).library in top.message


_SWIN_V2_BLOCK = {"attn.qkv.weight": (24, 8), "attn.proj.weight": (8, 8), "mlp.fc1.weight": (32, 8)}
_FAIRSEQ = {
    f"{side}.{name}": shape
    for side in ("encoder", "decoder")
    for name, shape in (
        ("embed_tokens.weight", (64, 16)), ("layers.0.fc1.weight", (32, 16)),
        ("layers.0.fc2.weight", (16, 32)),
    )
}  # fmt: skip
UPSTREAM_BUFFERS = [
    pytest.param(
        {f"layers.0.blocks.{i}.attn.relative_coords_table": (1, 15, 15, 2) for i in range(2)},
        {f"layers.0.blocks.{i}.{n}": s for i in range(2) for n, s in _SWIN_V2_BLOCK.items()},
        "https://github.com/huggingface/pytorch-image-models/blob/main/timm/models/"
        "swin_transformer_v2.py",
        id="timm-swin-v2-relative_coords_table",
    ),
    pytest.param(
        {"model.24.anchor_grid": (3, 1, 3, 1, 1, 2)},
        {
            "model.24.anchors": (3, 3, 2),
            "model.0.conv.weight": (16, 3, 6, 6),
            **{f"model.24.m.{i}.weight": (255, 64 * 2**i, 1, 1) for i in range(3)},
        },
        "https://github.com/ultralytics/yolov5/blob/master/models/yolo.py",
        id="yolov5-anchor_grid",
    ),
    pytest.param(
        {"attn_mask": (77, 77)},
        {
            "positional_embedding": (77, 16),
            "token_embedding.weight": (64, 16),
            "ln_final.weight": (16,),
            "text_projection": (16, 8),
            "transformer.resblocks.0.attn.in_proj_weight": (48, 16),
            "visual.conv1.weight": (16, 3, 4, 4),
        },
        "https://github.com/mlfoundations/open_clip/blob/main/src/open_clip/model.py",
        id="open_clip-attn_mask",
    ),
    pytest.param(
        {f"{side}.embed_positions._float_tensor": (1,) for side in ("encoder", "decoder")},
        _FAIRSEQ,
        f"{FAIRSEQ}/modules/sinusoidal_positional_embedding.py",
        id="fairseq-_float_tensor",
    ),
    pytest.param(
        {f"{side}.embed_positions.weights": (1026, 16) for side in ("encoder", "decoder")},
        _FAIRSEQ,
        f"{FAIRSEQ}/modules/sinusoidal_positional_embedding.py",
        id="fairseq-sinusoidal-weights",
    ),
]


@pytest.mark.parametrize(("olds", "kept", "url"), UPSTREAM_BUFFERS)
def test_upstream_buffers_no_longer_saved(
    olds: dict[str, tuple[int, ...]], kept: dict[str, tuple[int, ...]], url: str, tmp_path: Path
) -> None:
    change = _change(next(iter(olds)))
    assert all(_change(old) == change for old in olds), url
    assert change.kind == "buffer-nonpersistent" and change.benign, url

    state = {name: torch.zeros(shape) for name, shape in {**kept, **olds}.items()}
    path = save_safetensors(tmp_path / "old.safetensors", state)
    findings = findings_for(path, _module_with(kept))
    assert blocking(findings) == []
    assert change.library in only(findings, "version").message
    assert _top(_load_error(_module_with(kept), state)).category == "version"


def _bert() -> set[str]:
    return _built(
        transformers.BertForMaskedLM,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        vocab_size=50,
    )


def _unet() -> set[str]:
    from diffusers import UNet2DConditionModel

    unet = UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4,
        cross_attention_dim=8, attention_head_dim=2, sample_size=8,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
    )  # fmt: skip
    return set(unet.state_dict())


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: _built(transformers.LlamaForCausalLM), id="llama-7b-meta"),
        pytest.param(_bert, id="bert"),
        pytest.param(_unet, id="diffusers-unet"),
        pytest.param(lambda: _built(transformers.GPT2LMHeadModel), id="gpt2-meta"),
        pytest.param(lambda: _built(transformers.ViTForImageClassification), id="vit-meta"),
        pytest.param(
            lambda: set(nn.Transformer(16, 2, 1, 1, 32).state_dict()), id="torch-nn-transformer"
        ),
        pytest.param(
            lambda: _built(
                transformers.DetrForObjectDetection,
                use_timm_backbone=False,
                use_pretrained_backbone=False,
            ),
            id="detr-meta",
        ),
    ],
)
def test_no_change_matches_todays_names_of_unrelated_models(build) -> None:
    hits = {name: [c.summary for c in knowledge.changes_for(name)] for name in build()}
    assert {name: found for name, found in hits.items() if found} == {}


def test_open_clip_old_format_text_tower_moves_under_text() -> None:
    # open_clip's convert_to_custom_text_state_dict prefixes these top-level keys with "text.".
    url = "https://github.com/mlfoundations/open_clip/blob/main/src/open_clip/model.py"
    for old in (
        "text_projection", "positional_embedding", "token_embedding.weight", "ln_final.bias",
        "transformer.resblocks.11.mlp.c_fc.weight",
    ):  # fmt: skip
        change = _change(old)
        assert (change.library, change.kind) == ("open_clip", "prefix"), url
        assert change.renamed(old) == f"text.{old}", url
    for kept in ("visual.transformer.resblocks.0.ln_1.weight", "text.positional_embedding"):
        assert knowledge.changes_for(kept) == [], kept


def test_bart_heads_own_a_bias_buffer_fairseq_files_lack(tmp_path: Path) -> None:
    config = transformers.BartConfig(
        vocab_size=64, d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32,
        max_position_embeddings=16,
    )  # fmt: skip
    state = dict(transformers.BartForConditionalGeneration(config).state_dict())
    assert _change("final_logits_bias").kind == "buffer-added"
    del state["final_logits_bias"]
    path = save_safetensors(tmp_path / "bart-from-fairseq.safetensors", state)

    findings = findings_for(path, transformers.BartForConditionalGeneration(config))

    assert blocking(findings) == []
    assert "final_logits_bias" in only(findings, "version").message
    top = _top(_load_error(transformers.BartForConditionalGeneration(config), state))
    assert top.category == "version"


def test_dora_magnitude_moved_into_its_layer() -> None:
    from peft import LoraConfig, get_peft_model

    config = transformers.LlamaConfig(
        vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2,
    )  # fmt: skip
    model = get_peft_model(
        transformers.LlamaForCausalLM(config),
        LoraConfig(r=2, target_modules=["q_proj"], use_dora=True),
    )
    names = set(model.state_dict())
    old = "base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector.default"
    assert old not in names
    assert _change(old).renamed(old) in names
    # The adapter file's own spelling (no adapter name) is PEFT's business, not a version change.
    assert knowledge.changes_for(old.removesuffix(".default")) == []


def test_a_yolov5_head_pickled_before_it_gained_inplace() -> None:
    # As ultralytics/yolov5 issue #3725 quotes it (https://github.com/ultralytics/yolov5/issues/3725).
    text = (
        "torch.nn.modules.module.ModuleAttributeError: 'Detect' object has no attribute 'inplace'"
    )
    top = _top(text)
    assert top.category == "version"
    assert "yolov5 older than 6.0" in top.message


def test_fairseq_fused_cross_attention_is_fairseqs_own_spelling() -> None:
    # fairseq/modules/multihead_attention.py upgrade_state_dict_named splits these in three.
    for old in (
        "decoder.layers.5.encoder_attn.in_proj_weight",
        "decoder.layers.0.encoder_attn.in_proj_bias",
    ):
        change = _change(old)
        assert (change.library, change.kind) == ("fairseq", "fused")
    # torch's own MultiheadAttention keeps the fused name: not a version change.
    torch_names = set(nn.Transformer(16, 2, 1, 1, 32).state_dict())
    assert "decoder.layers.0.multihead_attn.in_proj_weight" in torch_names
    assert all(knowledge.changes_for(name) == [] for name in torch_names)
