"""``weightfit adapter merge``: equal to PEFT's own ``merge_and_unload``, streamed to safetensors.

Every expected value comes from PEFT (``PeftModel.from_pretrained(...).merge_and_unload()``)
on the same real base and adapter, the base resized by hand first as the seed
case's fix says. Differences are measured in fp32.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

import seeds
import weightfit
from adapter_builders import (
    peft_merged,
    save_tokenizer,
    tiny_gpt2,
    tiny_llama,
    train_lora,
)
from weightfit.adapters.merge import ADAPTER_STAMP
from weightfit.errors import UnsupportedAdapter

TOLERANCE = 1e-5


def merged_tensors(out: Path) -> dict[str, torch.Tensor]:
    tensors: dict[str, torch.Tensor] = {}
    for path in sorted(out.glob("*.safetensors")):
        tensors.update(load_file(path))
    return tensors


def max_difference(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> float:
    assert set(got) <= set(want), set(got) - set(want)
    return max(float((got[name].float() - want[name].float()).abs().max()) for name in got)


@pytest.fixture(scope="module")
def case4(tmp_path_factory: pytest.TempPathFactory) -> seeds.Case4Peft:
    return seeds.build_case4_peft(tmp_path_factory.mktemp("case4"), vocab=1000, added=1)


def test_seed_case_merge_equals_peft_and_loads_strict(
    case4: seeds.Case4Peft, tmp_path: Path
) -> None:
    from transformers import LlamaForCausalLM

    steps: list[tuple[int, int, int, int]] = []
    result = weightfit.merge_adapter(
        case4.adapter, case4.base, tmp_path / "merged", progress=lambda *a: steps.append(a)
    )
    assert result.merged and result.modules == 4
    assert sorted(result.replaced or []) == ["lm_head.weight", "model.embed_tokens.weight"]
    # The adapter's own copies bring their 1001 rows: nothing padded, both resized.
    assert result.resized == {
        "lm_head.weight": (1000, 1001),
        "model.embed_tokens.weight": (1000, 1001),
    }
    assert result.applied.plan.ops == [] and result.added_rows == 1
    assert result.applied.left_out == []
    got = merged_tensors(tmp_path / "merged")
    want = peft_merged(case4.base, case4.adapter, rows=case4.new_vocab)
    assert set(got) == set(want)
    assert max_difference(got, want) <= TOLERANCE
    # Strict load into the resized model.
    model = tiny_llama()
    model.resize_token_embeddings(case4.new_vocab)
    model.load_state_dict(got, strict=True)
    # A model folder: config.json carries the new vocabulary; from_pretrained loads it.
    config = json.loads((tmp_path / "merged" / "config.json").read_text())
    assert config["vocab_size"] == 1001
    loaded = LlamaForCausalLM.from_pretrained(tmp_path / "merged")
    assert loaded.get_input_embeddings().weight.shape == (1001, 32)
    with safe_open(tmp_path / "merged" / "model.safetensors", "pt") as handle:
        stamp = json.loads(handle.metadata()[ADAPTER_STAMP])
    assert (stamp["r"], stamp["lora_alpha"], stamp["modules_merged"]) == (4, 8.0, 4)
    assert steps[-1][0] == steps[-1][1] == len(got)


def test_padded_case_merge_equals_peft_and_keeps_the_tokenizer(tmp_path: Path) -> None:
    case = seeds.build_case4_peft(tmp_path, vocab=1000, added=1, pad_to_multiple_of=8)
    save_tokenizer(case.adapter, 1000, 1)
    result = weightfit.merge_adapter(case.adapter, case.base, tmp_path / "merged")
    got = merged_tensors(tmp_path / "merged")
    assert got["model.embed_tokens.weight"].shape == (1008, 32)
    assert max_difference(got, peft_merged(case.base, case.adapter, rows=1008)) <= TOLERANCE
    assert {"tokenizer.json", "tokenizer_config.json"} <= set(result.applied.files)


def test_cli_merge_shards_and_reports(case4: seeds.Case4Peft, tmp_path: Path, run_cli) -> None:
    out = tmp_path / "merged"
    argv = ["adapter", "merge", case4.adapter, "--base", case4.base, "-o", out]
    result = run_cli(*argv, "--shard-size", "100kB", "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["merged"] and data["modules"] == 4
    assert "model.safetensors.index.json" in data["output"]["files"]
    assert len(list(out.glob("model-*.safetensors"))) > 1
    text = run_cli(*argv, "--overwrite")
    assert text.code == 0, text.err
    assert "Merged 4 LoRA modules" in text.out
    assert "replaced lm_head.weight by the adapter's copy [1001, 32]" in text.out


def test_gpt2_conv1d_fan_in_fan_out_merge_equals_peft(tmp_path: Path) -> None:
    from transformers import GPT2LMHeadModel

    model = tiny_gpt2()
    model.save_pretrained(tmp_path / "base")
    train_lora(
        model,
        tmp_path / "adapter",
        target_modules=["c_attn", "c_proj"],
        fan_in_fan_out=True,
    )
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert config["fan_in_fan_out"] is True
    result = weightfit.merge_adapter(tmp_path / "adapter", tmp_path / "base", tmp_path / "out")
    assert result.modules == 6  # c_attn, attn.c_proj and mlp.c_proj of two layers
    got = merged_tensors(tmp_path / "out")
    want = peft_merged(tmp_path / "base", tmp_path / "adapter", cls=GPT2LMHeadModel)
    assert max_difference(got, want) <= TOLERANCE
    moved = "transformer.h.0.attn.c_attn.weight"
    assert not torch.equal(got[moved], load_file(tmp_path / "base" / "model.safetensors")[moved])
    GPT2LMHeadModel.from_pretrained(tmp_path / "out")


def test_rslora_scale_merge_equals_peft(tmp_path: Path) -> None:
    model = tiny_llama()
    model.save_pretrained(tmp_path / "base")
    train_lora(model, tmp_path / "adapter", target_modules=["q_proj", "down_proj"], use_rslora=True)
    report = weightfit.check_adapter(tmp_path / "adapter", tmp_path / "base")
    fits = report.by_category("lora_mismatch")[0]
    assert fits.evidence["scales"] == {"4.0": 4}  # alpha 8 / sqrt(r 4), not 8 / 4
    assert "alpha/√r = 4" in fits.message
    weightfit.merge_adapter(tmp_path / "adapter", tmp_path / "base", tmp_path / "out")
    got = merged_tensors(tmp_path / "out")
    assert max_difference(got, peft_merged(tmp_path / "base", tmp_path / "adapter")) <= TOLERANCE


def test_trainable_tokens_past_the_base_rows_resize_then_overwrite(tmp_path: Path) -> None:
    model = tiny_llama()
    model.save_pretrained(tmp_path / "base")
    model.resize_token_embeddings(1002)
    train_lora(
        model, tmp_path / "adapter", target_modules=["q_proj"], trainable_token_indices=[1000, 1001]
    )
    report = weightfit.check_adapter(tmp_path / "adapter", tmp_path / "base")
    tokens = report.by_category("vocab_resize")[0]
    assert tokens.evidence["implied_rows"] == 1002
    result = weightfit.merge_adapter(tmp_path / "adapter", tmp_path / "base", tmp_path / "out")
    assert result.resized == {
        "model.embed_tokens.weight": (1000, 1002),
        "lm_head.weight": (1000, 1002),
    }
    got = merged_tensors(tmp_path / "out")
    want = peft_merged(tmp_path / "base", tmp_path / "adapter", rows=1002)
    # Every embedding row is the base's or a trained token's; lm_head's new rows are
    # transformers' random mean-resizing draws, so compare its original rows only.
    got["lm_head.weight"], want["lm_head.weight"] = (
        got["lm_head.weight"][:1000],
        want["lm_head.weight"][:1000],
    )
    assert max_difference(got, want) <= TOLERANCE


def test_dora_is_refused_with_a_clear_error(tmp_path: Path, run_cli) -> None:
    model = tiny_llama()
    model.save_pretrained(tmp_path / "base")
    train_lora(model, tmp_path / "adapter", target_modules=["q_proj"], use_dora=True)
    with pytest.raises(UnsupportedAdapter) as info:
        weightfit.merge_adapter(tmp_path / "adapter", tmp_path / "base", tmp_path / "out")
    assert "DoRA (use_dora)" in info.value.message
    result = run_cli(
        "adapter", "merge", tmp_path / "adapter", "--base", tmp_path / "base", "-o", tmp_path / "o"
    )
    assert result.code == 3
    assert "unsupported adapter: DoRA" in result.err
    assert not (tmp_path / "o").exists()


def test_a_lora_bias_on_a_layer_without_bias_is_refused_as_peft_refuses(
    tmp_path: Path, run_cli
) -> None:
    from peft import PeftModel
    from transformers import LlamaForCausalLM

    model = tiny_llama()  # Llama's projections have no bias
    model.save_pretrained(tmp_path / "base")
    train_lora(model, tmp_path / "adapter", target_modules=["q_proj"], lora_bias=True)
    attached = PeftModel.from_pretrained(
        LlamaForCausalLM.from_pretrained(tmp_path / "base"), tmp_path / "adapter"
    )
    with pytest.raises(RuntimeError, match="base layer has no bias"):
        attached.merge_and_unload()
    with pytest.raises(UnsupportedAdapter) as info:
        weightfit.merge_adapter(tmp_path / "adapter", tmp_path / "base", tmp_path / "out")
    assert info.value.message.startswith(
        "unsupported adapter: lora_bias: model.layers.0.self_attn.q_proj has a lora_B.bias "
        "but its base layer has no bias"
    )
    result = run_cli(
        "adapter", "merge", tmp_path / "adapter", "--base", tmp_path / "base", "-o", tmp_path / "o"
    )
    assert result.code == 3
    assert not (tmp_path / "o").exists()
    assert not (tmp_path / "out").exists()


def test_other_peft_types_are_refused(case4: seeds.Case4Peft, tmp_path: Path) -> None:
    adapter = tmp_path / "loha"
    shutil.copytree(case4.adapter, adapter)
    config = json.loads((adapter / "adapter_config.json").read_text())
    (adapter / "adapter_config.json").write_text(json.dumps({**config, "peft_type": "LOHA"}))
    with pytest.raises(UnsupportedAdapter) as info:
        weightfit.merge_adapter(adapter, case4.base, tmp_path / "out")
    assert info.value.message == (
        "unsupported adapter: peft_type LOHA: only LoRA adapters can be merged "
        "(use PEFT's merge_and_unload for this type)"
    )


def test_an_adapter_that_does_not_fit_is_not_merged(
    case4: seeds.Case4Peft, tmp_path: Path, run_cli
) -> None:
    gpt2 = tiny_gpt2()
    train_lora(gpt2, tmp_path / "gpt2-adapter", target_modules=["c_attn"])
    result = weightfit.merge_adapter(tmp_path / "gpt2-adapter", case4.base, tmp_path / "out")
    assert not result.merged and not (tmp_path / "out").exists()
    cli = run_cli(
        "adapter", "merge", tmp_path / "gpt2-adapter", "--base", case4.base, "-o", tmp_path / "o"
    )
    assert cli.code == 1
    assert "Not merged" in cli.out
    assert not (tmp_path / "o").exists()


def test_a_config_base_cannot_be_merged(case4: seeds.Case4Peft, tmp_path: Path) -> None:
    with pytest.raises(weightfit.WeightfitError) as info:
        weightfit.merge_adapter(case4.adapter, case4.base / "config.json", tmp_path / "out")
    assert info.value.exit_code in (2, 3)
