"""``adapter_config.json`` parsing and the scale PEFT gives each module."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from weightfit.errors import CheckpointNotFound, InvalidHeader
from weightfit.manifest import TensorSpec
from weightfit.peft import config as adapter_config
from weightfit.peft.layout import lora_target, split

SEED = Path(__file__).parent / "data" / "seeds" / "case4-autotrain-vocab-resize.json"


def seed_config() -> dict:
    layout = json.loads(SEED.read_text())["adapter_folder_layout"]
    return layout["files"][0]["content"]


def test_the_seed_config_parses() -> None:
    config = adapter_config.parse(seed_config())
    assert (config.peft_type, config.r, config.lora_alpha) == ("LORA", 16, 32.0)
    assert config.target_modules == ["q_proj", "v_proj"]
    assert config.modules_to_save == []
    assert config.base_model_name_or_path == "meta-llama/Llama-2-7b-hf"
    assert config.scale("model.layers.0.self_attn.q_proj") == 2.0
    assert repr(config) == "<AdapterConfig LORA r=16 alpha=32 base='meta-llama/Llama-2-7b-hf'>"


def test_rslora_scales_by_the_square_root_of_the_rank() -> None:
    config = adapter_config.parse(
        {"peft_type": "LORA", "r": 16, "lora_alpha": 8, "use_rslora": True}
    )
    assert config.scale("model.layers.0.mlp.up_proj") == pytest.approx(8 / math.sqrt(16))


def test_rank_and_alpha_patterns_match_the_end_of_module_names() -> None:
    config = adapter_config.parse(
        {
            "peft_type": "lora",
            "r": 8,
            "lora_alpha": 16,
            "rank_pattern": {"q_proj": 4, r"layers\.1\.self_attn\.v_proj": 2},
            "alpha_pattern": {"v_proj": 4},
        }
    )
    assert config.peft_type == "LORA"
    assert config.rank("model.layers.0.self_attn.q_proj") == 4
    assert config.rank("model.layers.1.self_attn.v_proj") == 2
    assert config.rank("model.layers.0.self_attn.v_proj") == 8
    assert config.rank("model.layers.0.self_attn.xq_proj") == 8  # a suffix, not a substring
    assert config.scale("model.layers.1.self_attn.v_proj") == 4 / 2
    assert config.scale("model.layers.0.self_attn.q_proj") == 16 / 4


def test_trainable_token_indices_list_means_the_input_embedding() -> None:
    listed = adapter_config.parse({"peft_type": "LORA", "trainable_token_indices": [3, 5]})
    assert listed.token_indices() == {"embed_tokens": [3, 5]}
    mapped = adapter_config.parse({"peft_type": "LORA", "trainable_token_indices": {"wte": [1]}})
    assert mapped.token_indices() == {"wte": [1]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "invalid header: expected a JSON object, found list"),
        ({"r": 8}, "invalid header: 'peft_type' is missing or not a string"),
        ({"peft_type": "LORA", "r": 0}, "invalid header: 'r' must be a positive number, not 0"),
        (
            {"peft_type": "LORA", "r": float("nan")},
            "invalid header: 'r' must be a positive number, not nan",
        ),
        (
            {"peft_type": "LORA", "lora_alpha": float("inf")},
            "invalid header: 'lora_alpha' must be a positive number, not inf",
        ),
        (
            {"peft_type": "LORA", "rank_pattern": {"q": "x"}},
            "invalid header: 'rank_pattern' must map module names to positive numbers",
        ),
        (
            {"peft_type": "LORA", "modules_to_save": "lm_head"},
            "invalid header: 'modules_to_save' must be a list of module names",
        ),
    ],
)
def test_bad_fields_are_invalid_headers(data: object, message: str) -> None:
    with pytest.raises(InvalidHeader) as info:
        adapter_config.parse(data)
    assert info.value.message == message


def test_load_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(CheckpointNotFound):
        adapter_config.load(tmp_path)
    (tmp_path / "adapter_config.json").write_text("{not json")
    with pytest.raises(InvalidHeader) as info:
        adapter_config.load(tmp_path)
    assert info.value.path == str(tmp_path / "adapter_config.json")


def test_layout_sorts_tensors_by_role() -> None:
    prefix = "base_model.model.model."
    specs = [
        TensorSpec(f"{prefix}layers.0.self_attn.q_proj.lora_A.weight", (4, 32), "F32"),
        TensorSpec(f"{prefix}layers.0.self_attn.q_proj.lora_B.weight", (32, 4), "F32"),
        TensorSpec(f"{prefix}embed_tokens.lora_embedding_A", (4, 1000), "F32"),
        TensorSpec(f"{prefix}embed_tokens.lora_embedding_B", (32, 4), "F32"),
        TensorSpec(f"{prefix}norm.token_adapter.trainable_tokens_delta", (2, 32), "F32"),
        TensorSpec("base_model.model.lm_head.weight", (1001, 32), "F32"),
    ]
    layout = split(specs)
    q_proj = layout.lora[f"{prefix}layers.0.self_attn.q_proj"]
    assert (q_proj.rank, q_proj.delta_shape(False), q_proj.delta_shape(True)) == (
        4,
        (32, 32),
        (32, 32),
    )
    embedding = layout.lora[f"{prefix}embed_tokens"]
    assert embedding.embedding and embedding.delta_shape(False) == (1000, 32)
    assert [t.module for t in layout.tokens] == [f"{prefix}norm"]
    assert [c.spec.name for c in layout.whole] == ["base_model.model.lm_head.weight"]


def test_wrapper_copies_stand_for_one_base_tensor() -> None:
    """PEFT ≥ 0.13 with ``save_embedding_layers``: a copy, its wrapper twin and the original."""
    prefix = "base_model.model."
    specs = [
        TensorSpec(f"{prefix}lm_head.modules_to_save.weight", (321, 32), "F32"),
        TensorSpec(f"{prefix}lm_head.original_module.weight", (321, 32), "F32"),
        TensorSpec(f"{prefix}lm_head.weight", (321, 32), "F32"),
        TensorSpec(f"{prefix}model.embed_tokens.base_layer.weight", (320, 32), "F32"),
        TensorSpec(f"{prefix}model.layers.0.q_proj.base_layer.bias", (32,), "F32"),
    ]
    layout = split(specs)
    assert [(c.spec.name, c.base) for c in layout.whole] == [
        (f"{prefix}lm_head.weight", "lm_head.weight"),
        (f"{prefix}model.embed_tokens.base_layer.weight", "model.embed_tokens.weight"),
        (f"{prefix}model.layers.0.q_proj.base_layer.bias", "model.layers.0.q_proj.bias"),
    ]
    assert layout.wrapper_names == [
        f"{prefix}lm_head.modules_to_save.weight",
        f"{prefix}lm_head.original_module.weight",
    ]


def test_parameter_lora_finds_its_expert_stack_by_shape_then_nesting() -> None:
    """``target_parameters``: nested ``ParamWrapper``s, A ``[r·E, in]``, B ``[out, r·E]``."""
    module = "base_model.model.model.layers.0.feed_forward.experts"
    specs = [
        TensorSpec(f"{module}.base_layer.lora_A.weight", (16, 48), "F32"),
        TensorSpec(f"{module}.base_layer.lora_B.weight", (32, 16), "F32"),
        TensorSpec(f"{module}.lora_A.weight", (16, 32), "F32"),
        TensorSpec(f"{module}.lora_B.weight", (24, 16), "F32"),
    ]
    base = {
        name: TensorSpec(name, shape, "F32")
        for name, shape in {
            "model.layers.0.feed_forward.experts.gate_up_proj": (4, 32, 48),
            "model.layers.0.feed_forward.experts.down_proj": (4, 24, 32),
        }.items()
    }
    parameters = ["feed_forward.experts.gate_up_proj", "feed_forward.experts.down_proj"]
    layout = split(specs)
    inner, outer = layout.lora[f"{module}.base_layer"], layout.lora[module]
    stack = module.removeprefix("base_model.model.")
    assert (inner.depth, outer.depth, inner.module) == (1, 0, stack)
    assert lora_target(inner, base, parameters) == f"{stack}.gate_up_proj"
    assert lora_target(outer, base, parameters) == f"{stack}.down_proj"
    assert inner.rank_on((4, 32, 48)) == 4
    assert inner.expert_layout((4, 32, 48)) == "out_in"
    assert inner.expert_layout((4, 48, 32)) == "in_out"
    assert inner.expert_layout((4, 24, 32)) is None
    assert lora_target(outer, base) is None  # without target_parameters nothing is adapted


def test_legacy_alpha_reads_patterns_as_peft_before_0_15() -> None:
    config = adapter_config.parse(
        {
            "peft_type": "LORA",
            "r": 4,
            "lora_alpha": 8,
            "rank_pattern": {"v_proj": 2},
            "alpha_pattern": {"self_attn.v_proj": 16, "model.layers.1.mlp.down_proj": 3},
        }
    )
    v_proj, down = "model.layers.0.self_attn.v_proj", "model.layers.1.mlp.down_proj"
    assert (config.alpha(v_proj), config.legacy_alpha(v_proj)) == (16.0, 8.0)
    assert (config.alpha(down), config.legacy_alpha(down)) == (3.0, 8.0)
    assert config.alpha("model.layers.0.mlp.down_proj") == 8.0
