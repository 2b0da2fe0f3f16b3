"""The structural matcher, one capability per test, each on a real pair of layouts.

Sources are made by the libraries' own converters (transformers 5's conversion
mappings and GGUF loader, gguf-py's name tables) on tagged values, every element a
distinct integer; targets are the real transformers classes. A plan is right when
running it over the source gives the converter's values.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from tagged_values import tagged
from weightfit import ops
from weightfit.align import align
from weightfit.check import check
from weightfit.fix import plan_from_report
from weightfit.manifest import Manifest, from_shapes
from weightfit.plan import Plan, Safety

transformers = pytest.importorskip("transformers")
gguf = pytest.importorskip("gguf")


@pytest.fixture(autouse=True)
def _matcher_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Library converters off: these tests are about the structural matcher's own answers."""
    monkeypatch.setenv("WEIGHTFIT_NO_LIBRARY_CONVERTERS", "1")


SMALL = {
    "hidden_size": 32,
    "intermediate_size": 48,
    "num_hidden_layers": 3,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 96,
    "num_local_experts": 4,
    "num_experts_per_tok": 2,
    "max_position_embeddings": 64,
    "n_head": 4,
    "n_layer": 3,
    "n_embd": 32,
    "pad_token_id": 0,
    "bos_token_id": 1,
    "eos_token_id": 2,
}


def _model(model_type: str, **extra: Any) -> Any:
    config = transformers.AutoConfig.for_model(model_type, **{**SMALL, **extra})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return transformers.AutoModelForCausalLM.from_config(config)


def _manifest(values: dict[str, torch.Tensor], *, sort: bool = False) -> Manifest:
    names = sorted(values) if sort else list(values)
    return from_shapes({n: tuple(values[n].shape) for n in names})


def _target(model: Any) -> Manifest:
    manifest = from_shapes({k: tuple(v.shape) for k, v in model.state_dict().items()})
    manifest.config = model.config.to_dict()
    return manifest


def _plan(source: Manifest, target: Manifest) -> Plan:
    return plan_from_report(check(source, target), source)


def _written(
    plan: Plan, source: Manifest, values: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    outcome = ops.run(plan, source)
    return {
        name: recipe.evaluate(lambda spec: values[spec.name])
        for name, recipe in outcome.recipes.items()
    }


@functools.cache
def _gguf_pair(model_type: str) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], Any]:
    """A GGUF-layout source and what transformers' GGUF loader makes of it (built once)."""
    from transformers.modeling_gguf_pytorch_utils import (
        TENSOR_PROCESSORS,
        TensorProcessor,
        get_gguf_hf_weights_map,
    )

    model = _model(model_type)
    config = model.config.to_dict()
    processor = TENSOR_PROCESSORS.get(model_type, TensorProcessor)(config=config)
    to_model = get_gguf_hf_weights_map(model, processor)
    state = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    shapes = {}
    for name, model_name in to_model.items():
        if model_name not in state:
            continue
        shape = state[model_name]
        stored = _process(processor, np.zeros(shape, np.float32), name)[0].shape
        shapes[name] = shape if tuple(stored) == shape else shape[::-1]
    source = tagged(shapes)
    truth = {}
    for name, value in source.items():
        made, model_name = _process(processor, value.numpy().copy(), name)
        truth[model_name or to_model[name]] = torch.from_numpy(np.ascontiguousarray(made))
    return source, truth, model


def _process(processor: Any, value: np.ndarray, name: str) -> tuple[np.ndarray, str | None]:
    """The processor's value; GPT-2's ``output.weight`` comes back as ``lm_head.weight``."""
    parsed: dict[str, Any] = {"tensors": {}}
    made = processor.process(weights=value, name=name, parsed_parameters=parsed)
    for extra, tensor in parsed["tensors"].items():
        return tensor.numpy(), extra
    return made.weights, None


def _right(written: dict[str, torch.Tensor], truth: dict[str, torch.Tensor]) -> list[str]:
    return [n for n, v in truth.items() if n in written and torch.equal(written[n], v)]


def test_meta_llama_names_map_by_order_and_roles_with_the_known_rope_permutation() -> None:
    # Meta's names from gguf-py's table; values as transformers' GGUF loader reads them.
    source, truth, model = _gguf_pair("llama")
    table = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, 3)
    meta = {}
    for key, (_, name) in table.mapping.items():
        if key in ("tok_embeddings", "norm", "output") or (
            key.startswith("layers.")
            and ("attention" in key or "feed_forward" in key or "ffn_norm" in key)
        ):
            meta.setdefault(name, key)
    source = {f"{meta[n.rsplit('.', 1)[0]]}.{n.rsplit('.', 1)[1]}": v for n, v in source.items()}
    manifest = _manifest(source)
    plan = _plan(manifest, _target(model))
    written = _written(plan, manifest, source)
    assert sorted(_right(written, truth)) == sorted(truth)
    permutes = [op for op in plan.ops if op.kind == "permute_rows"]
    assert len(permutes) == 6 and {op.args["heads"] for op in permutes} == {4, 2}
    # The norms of one shape are told apart by order and roles, never by words alone.
    assert written["model.layers.1.input_layernorm.weight"].equal(
        source["layers.1.attention_norm.weight"]
    )
    assert all(op.safety is Safety.INFERRED for op in plan.ops if op.kind == "rename")


def test_gguf_names_map_by_role_words_when_the_file_order_is_sorted() -> None:
    source, truth, model = _gguf_pair("llama")
    manifest = _manifest(source, sort=True)
    written = _written(_plan(manifest, _target(model)), manifest, source)
    assert sorted(_right(written, truth)) == sorted(truth)


def test_gpt2_conv1d_transposes_including_square_matrices() -> None:
    source, truth, model = _gguf_pair("gpt2")
    manifest = _manifest(source, sort=True)
    plan = _plan(manifest, _target(model))
    written = _written(plan, manifest, source)
    assert sorted(_right(written, truth)) == sorted(truth)
    transposed = {op.args["name"] for op in plan.ops if op.kind == "transpose"}
    # attn.c_proj is square: only the block's other matrices say it is transposed.
    assert "transformer.h.0.attn.c_proj.weight" in transposed


def test_mixtral_per_expert_tensors_stack_into_fused_experts() -> None:
    from transformers.core_model_loading import revert_weight_conversion

    model = _model("mixtral")
    truth = tagged({k: tuple(v.shape) for k, v in model.state_dict().items()})
    source = {k: v.contiguous() for k, v in revert_weight_conversion(model, dict(truth)).items()}
    manifest = _manifest(source, sort=True)
    plan = _plan(manifest, _target(model))
    written = _written(plan, manifest, source)
    assert sorted(_right(written, truth)) == sorted(truth)
    assert {"stack", "concat"} <= {op.kind for op in plan.ops}


def test_phi3_fused_projections_split_into_llama_grouped_query_ones() -> None:
    phi3 = _model("phi3")
    llama = _model("llama", tie_word_embeddings=phi3.config.tie_word_embeddings)
    source = tagged({k: tuple(v.shape) for k, v in phi3.state_dict().items()})
    manifest = _manifest(source)
    plan = _plan(manifest, _target(llama))
    written = _written(plan, manifest, source)
    q, k, v = source["model.layers.2.self_attn.qkv_proj.weight"].split([32, 16, 16])
    assert written["model.layers.2.self_attn.q_proj.weight"].equal(q)
    assert written["model.layers.2.self_attn.k_proj.weight"].equal(k)
    assert written["model.layers.2.self_attn.v_proj.weight"].equal(v)
    gate, up = source["model.layers.0.mlp.gate_up_proj.weight"].chunk(2)
    assert written["model.layers.0.mlp.gate_proj.weight"].equal(gate)
    assert written["model.layers.0.mlp.up_proj.weight"].equal(up)
    assert set(written) == set(llama.state_dict())


def test_layer_numbers_shifted_or_nested_one_level_deeper_still_line_up() -> None:
    source, truth, model = _gguf_pair("llama")
    # Blocks numbered from 1 (an offset), and grouped two levels deep (stage.layer).
    shifted = {
        n.replace(f"blk.{i}.", f"blk.{i + 1}."): v
        for i in range(3)
        for n, v in source.items()
        if n.startswith(f"blk.{i}.")
    }
    shifted.update({n: v for n, v in source.items() if not n.startswith("blk.")})
    nested = {
        n.replace(f"blk.{i}.", f"stage.{i // 2}.blk.{i % 2}."): v
        for i in range(3)
        for n, v in source.items()
        if n.startswith(f"blk.{i}.")
    }
    nested.update({n: v for n, v in source.items() if not n.startswith("blk.")})
    for layout in (shifted, nested):
        manifest = _manifest(layout, sort=True)
        written = _written(_plan(manifest, _target(model)), manifest, layout)
        assert sorted(_right(written, truth)) == sorted(truth)


def test_reversed_stack_is_found_when_only_reversed_order_fits() -> None:
    # An encoder whose blocks narrow, saved by a codebase that numbers them from the top.
    encoder = nn.ModuleDict(
        {"down": nn.ModuleList(nn.Linear(8 * 2 ** (i + 1), 8 * 2**i) for i in range(3))}
    )
    source = {
        f"stages.{2 - i}.proj.{leaf}": value.detach()
        for name, value in encoder.state_dict().items()
        for i, leaf in [(int(name.split(".")[1]), name.rsplit(".", 1)[1])]
    }
    target = from_shapes({k: tuple(v.shape) for k, v in encoder.state_dict().items()})
    alignment = align(_manifest(source), target)
    pairs = {i.sources[0]: i.targets[0] for i in alignment.inferred}
    assert pairs["stages.0.proj.weight"] == "down.2.weight"
    assert pairs["stages.2.proj.bias"] == "down.0.bias"
    assert all("reversed" in i.evidence for i in alignment.inferred)


def test_one_by_one_convolutions_reshape_into_linear_layers() -> None:
    conv = nn.Sequential(nn.Conv2d(16, 32, 1), nn.GELU(), nn.Conv2d(32, 16, 1))
    linear = nn.ModuleDict({"fc1": nn.Linear(16, 32), "fc2": nn.Linear(32, 16)})
    source = {k: v.detach() for k, v in conv.state_dict().items()}
    manifest = _manifest(source)
    target = from_shapes({k: tuple(v.shape) for k, v in linear.state_dict().items()})
    plan = _plan(manifest, target)
    written = _written(plan, manifest, source)
    assert written["fc1.weight"].equal(source["0.weight"].reshape(32, 16))
    assert written["fc2.bias"].equal(source["2.bias"])
    assert "reshape" in {op.kind for op in plan.ops}


def test_same_shaped_tensors_no_evidence_separates_are_left_for_review() -> None:
    # Gemma 2 has four norms per block; GGUF files list names sorted (no order)
    # and its norm names share no role words with transformers' ones.
    source, _, model = _gguf_pair("gemma2")
    manifest = _manifest(source, sort=True)
    report = check(manifest, _target(model))
    plan = plan_from_report(report, manifest)
    renamed = {op.args.get("to") for op in plan.ops}
    assert "model.layers.0.pre_feedforward_layernorm.weight" not in renamed
    doubts = [f for f in report.findings if "ambiguous" in f.evidence]
    assert doubts and not doubts[0].fix and doubts[0].severity == "error"
    assert not report.compatible


def test_a_permutation_suspected_but_not_known_is_a_warning_not_an_op() -> None:
    # Qwen2 GGUF files are not RoPE-permuted (llama.cpp permutes only Llama-family
    # models); their q/k names look like Llama's, so weightfit warns.
    source, truth, model = _gguf_pair("qwen2")
    manifest = _manifest(source, sort=True)
    report = check(manifest, _target(model))
    plan = plan_from_report(report, manifest)
    assert "permute_rows" not in {op.kind for op in plan.ops}
    notes = [f.evidence.get("suspected_permutation") for f in report.findings]
    assert any(notes)
    written = _written(plan, manifest, source)
    assert sorted(_right(written, truth)) == sorted(truth)


def test_check_report_shows_each_inferred_rule_once_with_its_score() -> None:
    from rich.console import Console

    from weightfit.report.check import render_report

    source, _, model = _gguf_pair("llama")
    manifest = _manifest(source, sort=True)
    report = check(manifest, _target(model))
    assert not report.compatible
    console = Console(width=200, record=True, color_system=None)
    render_report(console, report)
    text = console.export_text()
    # One line per rule folded over the 3 layers, never one per layer.
    assert text.count("blk.{i}.attn_q → model.layers.{i}.self_attn.q_proj ×3") == 1
    assert "score 0." in text and "(inferred)" in text
    assert "blk.0.attn_q" not in text and "blk.2.attn_q" not in text
    assert "loads strict" not in text


def test_fix_of_an_inferred_mapping_never_reports_a_plain_strict_load(tmp_path: Any) -> None:
    from rich.console import Console
    from safetensors.torch import save_file

    import weightfit
    from weightfit.report.fix import render_fix

    source, _, model = _gguf_pair("gpt2")
    save_file(source, tmp_path / "gpt2.safetensors")
    result = weightfit.fix(tmp_path / "gpt2.safetensors", _target(model), tmp_path / "out")
    assert result.fixed and result.plan.inferred
    console = Console(width=200, record=True, color_system=None)
    render_fix(console, result)
    text = console.export_text()
    assert "loads strict" not in text
    assert "inferred mapping" in text


def test_a_module_shared_by_every_block_is_copied_into_each() -> None:
    # T5 keeps its relative position bias in block 0 and every layer uses it;
    # UMT5 keeps one per layer: the same numbers, copied, compute the same.
    kw = {"vocab_size": 64, "d_model": 16, "d_kv": 4, "d_ff": 32, "num_layers": 3, "num_heads": 2}
    kw["feed_forward_proj"] = "gated-gelu"
    torch.manual_seed(0)
    t5 = transformers.T5EncoderModel(transformers.T5Config(**kw)).eval()
    umt5 = transformers.UMT5EncoderModel(transformers.UMT5Config(**kw)).eval()
    source = {k: v.detach().clone() for k, v in t5.state_dict().items()}
    manifest = _manifest(source)
    report = check(manifest, _target(umt5))
    plan = plan_from_report(report, manifest)
    (copy,) = [op for op in plan.ops if op.kind == "copy"]
    assert copy.safety is Safety.INFERRED
    written = _written(plan, manifest, source)
    assert set(written) == set(umt5.state_dict())
    umt5.load_state_dict(written, strict=True)
    ids = torch.tensor([[3, 7, 11, 2, 5]])
    with torch.no_grad():
        assert torch.allclose(umt5(ids).last_hidden_state, t5(ids).last_hidden_state, atol=1e-6)


def test_flattened_block_numbers_line_up_with_nested_stages_and_kinds() -> None:
    # The original LDM UNet numbers its blocks in one run (input_blocks.N.M);
    # diffusers nests them (down_blocks.i.{resnets,attentions,downsamplers}.j).
    # Ground truth: diffusers' own convert_ldm_unet_checkpoint on tagged values.
    import re

    pytest.importorskip("diffusers")
    from diffusers.loaders import single_file_utils as sfu

    from original_layouts import ldm_unet, tiny_unet

    model = tiny_unet()
    config = dict(model.config)
    state = tagged({k: tuple(v.shape) for k, v in model.state_dict().items()})
    # In the order ldm's UNetModel registers its modules.
    heads = ["time_embed", "input_blocks", "middle_block", "output_blocks", "out"]

    def registered(name: str) -> tuple[int, list[int]]:
        head, _, rest = name.removeprefix("model.diffusion_model.").partition(".")
        return heads.index(head), [int(n) for n in re.findall(r"\d+", rest)[:2]]

    source = dict(sorted(ldm_unet(state, config).items(), key=lambda kv: registered(kv[0])))
    truth = dict(sfu.convert_ldm_unet_checkpoint(dict(source), config))
    manifest = _manifest(source)
    target = from_shapes({k: tuple(v.shape) for k, v in model.state_dict().items()})
    written = _written(_plan(manifest, target), manifest, source)
    right = _right(written, truth)
    wrong = [n for n in truth if n in written and n not in right]
    assert wrong == []
    assert len(right) >= 150, f"{len(right)} of {len(truth)} right"
    for name in (
        "down_blocks.0.downsamplers.0.conv.weight",
        "down_blocks.0.attentions.0.proj_in.weight",
        "mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight",
        "up_blocks.0.upsamplers.0.conv.bias",
        "up_blocks.1.attentions.1.proj_out.weight",
    ):
        assert name in right
