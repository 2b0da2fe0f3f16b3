"""``weightfit adapter check``: real PEFT adapters against real tiny bases.

The seed case (``case4-autotrain-vocab-resize``): a LoRA trained after tokens
were added, with ``modules_to_save=["embed_tokens", "lm_head"]``, checked against
the un-resized base; then adapters for another base, with a nesting offset, for
another architecture and for a deeper model, each diagnosed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

import seeds
import weightfit
from adapter_builders import rename_weights, save_tokenizer, tiny_gpt2, tiny_llama, train_lora
from weightfit.findings import Finding, Report
from weightfit.plan import Plan
from weightfit.report.check import SCHEMA_PATH

VALIDATOR = jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))


def only(report: Report, category: str, severity: str | None = None) -> Finding:
    found = [f for f in report.by_category(category) if severity is None or f.severity == severity]
    assert len(found) == 1, [(f.category, f.severity, f.message) for f in report.findings]
    return found[0]


@pytest.fixture(scope="module")
def case4(tmp_path_factory: pytest.TempPathFactory) -> seeds.Case4Peft:
    """One token added, no padding: 1001 rows against the base's 1000."""
    return seeds.build_case4_peft(tmp_path_factory.mktemp("case4"), vocab=1000, added=1)


@pytest.fixture(scope="module")
def case4_padded(tmp_path_factory: pytest.TempPathFactory) -> seeds.Case4Peft:
    """One token added with pad_to_multiple_of=8 (1008 rows), the tokenizer saved beside."""
    case = seeds.build_case4_peft(
        tmp_path_factory.mktemp("case4p"), vocab=1000, added=1, pad_to_multiple_of=8
    )
    save_tokenizer(case.adapter, 1000, 1)
    return case


def test_seed_case_names_the_vocab_resize_with_its_evidence(case4: seeds.Case4Peft) -> None:
    report = weightfit.check_adapter(case4.adapter, case4.base)
    assert not report.compatible
    resize = only(report, "vocab_resize")
    assert sorted(resize.params) == [
        "base_model.model.lm_head.weight",
        "base_model.model.model.embed_tokens.weight",
    ]
    assert (resize.evidence["checkpoint_rows"], resize.evidence["model_rows"]) == (1001, 1000)
    assert "not a multiple of 8: added tokens, no padding" in resize.message
    assert "resize_token_embeddings(1001)" in resize.fix_note
    assert "adapter merge" in resize.fix_note
    assert resize.fix == []  # truncating the adapter's trained rows is no fix
    fits = only(report, "lora_mismatch", "info")
    assert "4 of 4 modules fit" in fits.message
    assert (fits.evidence["r"], fits.evidence["lora_alpha"], fits.evidence["scales"]) == (
        4,
        8.0,
        {"2.0": 4},
    )
    assert sorted(fits.evidence["modules_to_save"]) == ["embed_tokens", "lm_head"]
    assert report.summary["unexpected"] == 0
    assert [f.category for f in report.findings if f.severity == "error"] == ["vocab_resize"]


def test_tokenizer_in_the_adapter_explains_pad_to_multiple_of(
    case4_padded: seeds.Case4Peft,
) -> None:
    report = weightfit.check_adapter(case4_padded.adapter, case4_padded.base)
    resize = only(report, "vocab_resize")
    assert resize.evidence["checkpoint_rows"] == 1008
    assert resize.evidence["tokenizer_vocab"] == 1001
    assert resize.evidence["tokenizer_pad_to_multiple_of"] == 8
    assert resize.evidence["pad_to_multiple_of"] == 8  # not 16, which 1000 → 1008 suggests
    assert "resize_token_embeddings(1001, pad_to_multiple_of=8)" in resize.message
    assert "multiple of 16" not in resize.message
    assert "(= 1008 rows)" in resize.fix_note


def test_tokenizer_alone_warns_when_the_adapter_saved_no_embeddings(tmp_path: Path) -> None:
    model = tiny_llama()
    model.save_pretrained(tmp_path / "base")
    train_lora(model, tmp_path / "adapter", target_modules=["q_proj"])
    save_tokenizer(tmp_path / "adapter", 1000, 3)
    report = weightfit.check_adapter(tmp_path / "adapter", tmp_path / "base")
    resize = only(report, "vocab_resize")
    assert resize.severity == "warning"
    assert (resize.evidence["tokenizer_vocab"], resize.evidence["base_rows"]) == (1003, 1000)


def test_an_adapter_that_fits_is_compatible_and_the_cli_exits_0(tmp_path: Path, run_cli) -> None:
    model = tiny_llama()
    model.save_pretrained(tmp_path / "base")
    train_lora(model, tmp_path / "adapter", target_modules=["q_proj", "v_proj"])
    result = run_cli("adapter", "check", tmp_path / "adapter", "--base", tmp_path / "base")
    assert result.code == 0, result.out + result.err
    assert "✓ compatible" in result.out
    assert "4 of 4 modules fit" in result.out


def test_cli_json_follows_the_check_schema(case4: seeds.Case4Peft, run_cli) -> None:
    result = run_cli("adapter", "check", case4.adapter, "--base", case4.base, "--json")
    assert result.code == 1, result.err
    data = json.loads(result.out)
    VALIDATOR.validate(data)
    assert {f["category"] for f in data["findings"]} == {"vocab_resize", "lora_mismatch"}
    text = run_cli("adapter", "check", case4.adapter, "--base", case4.base)
    assert text.code == 1
    assert "vocabulary resized" in text.out


def test_a_config_base_is_built_on_meta(case4: seeds.Case4Peft) -> None:
    report = weightfit.check_adapter(case4.adapter, case4.base / "config.json")
    assert only(report, "vocab_resize").evidence["model_rows"] == 1000


def test_adapter_for_another_base_is_diagnosed(case4: seeds.Case4Peft, tmp_path: Path) -> None:
    tiny_llama(hidden=64).save_pretrained(tmp_path / "wide")
    report = weightfit.check_adapter(case4.adapter, tmp_path / "wide")
    widths = only(report, "lora_mismatch", "error")
    assert "do not fit the base" in widths.message
    assert (widths.evidence["adapter_width"], widths.evidence["base_width"]) == (32, 64)
    assert "another size" in widths.message
    assert len(widths.params) == 8  # A and B of 4 modules
    assert not report.compatible


def test_prefix_offset_is_diagnosed_and_its_rename_fixes_it(
    case4: seeds.Case4Peft, tmp_path: Path
) -> None:
    nested = rename_weights(
        case4.base / "model.safetensors",
        tmp_path / "nested" / "model.safetensors",
        "model.",
        "model.language_model.",
    )
    report = weightfit.check_adapter(case4.adapter, nested)
    offset = only(report, "lora_mismatch", "error")
    assert "offset" in offset.message and "attaches to nothing" in offset.message
    assert offset.evidence["adapter_prefix"] == "model."
    assert offset.evidence["base_prefix"] == "model.language_model."
    assert offset.evidence["whole_tensors_offset"] == ["base_model.model.model.embed_tokens.weight"]
    (rename,) = offset.fix
    assert rename.args == {
        "strip": "base_model.model.model.",
        "add": "base_model.model.model.language_model.",
    }
    # The plan's rename, applied to the adapter's weights, makes an adapter that attaches.
    fixed = tmp_path / "fixed"
    weightfit.apply(
        Plan([rename]), case4.adapter / "adapter_model.safetensors", fixed, basename="adapter_model"
    )
    shutil.copy(case4.adapter / "adapter_config.json", fixed)
    again = weightfit.check_adapter(fixed, nested)
    assert not [f for f in again.by_category("lora_mismatch") if f.severity == "error"]
    assert "4 of 4 modules fit" in only(again, "lora_mismatch", "info").message


def test_modules_the_base_lacks_are_diagnosed(case4: seeds.Case4Peft, tmp_path: Path) -> None:
    gpt2 = tiny_gpt2()
    train_lora(gpt2, tmp_path / "gpt2-adapter", target_modules=["c_attn"])
    report = weightfit.check_adapter(tmp_path / "gpt2-adapter", case4.base)
    missing = only(report, "lora_mismatch", "error")
    assert missing.evidence["module_kinds_absent_from_base"] == ["c_attn"]
    assert missing.evidence["modules_found"] == 0
    assert "2 of 2 LoRA modules are not in the base" in missing.message
    assert "no module named c_attn" in missing.message


def test_an_adapter_for_a_deeper_model_is_diagnosed(case4: seeds.Case4Peft, tmp_path: Path) -> None:
    tiny_llama(layers=1).save_pretrained(tmp_path / "shallow")
    report = weightfit.check_adapter(case4.adapter, tmp_path / "shallow")
    missing = only(report, "lora_mismatch", "error")
    assert (missing.evidence["modules_found"], missing.evidence["modules_missing"]) == (2, 2)
    assert "reaches layer 1, the base has 1 layers" in missing.message


def test_plain_check_explains_lora_tensors_instead_of_calling_them_unexpected(
    case4: seeds.Case4Peft,
) -> None:
    report = weightfit.check(case4.adapter, case4.base)
    assert not report.by_category("unexpected")
    assert "4 of 4 modules fit" in only(report, "lora_mismatch", "info").message


def test_not_an_adapter_folder_exits_3(case4: seeds.Case4Peft, run_cli) -> None:
    result = run_cli("adapter", "check", case4.base, "--base", case4.base)
    assert result.code == 3
    assert "not a PEFT adapter folder (no adapter_config.json)" in result.err


def test_seed_case_at_its_real_names_and_sizes(tmp_path: Path) -> None:
    """The seed's own adapter folder (Llama-2-7B, sparse) against the seed's PeftModel side."""
    folder = seeds.case4_adapter_folder(tmp_path)
    report = weightfit.check_adapter(folder, seeds.seed_manifest(4, "model"))
    resize = only(report, "vocab_resize")
    assert (resize.evidence["checkpoint_rows"], resize.evidence["model_rows"]) == (32001, 32000)
    assert "resize_token_embeddings(32001)" in resize.fix_note
    fits = only(report, "lora_mismatch", "info")
    assert "64 of 64 modules fit" in fits.message
    assert (fits.evidence["r"], fits.evidence["scales"]) == (16, {"2.0": 64})
    assert fits.evidence["base_model_name_or_path"] == "meta-llama/Llama-2-7b-hf"


def test_adapter_without_an_action_is_a_usage_error(run_cli) -> None:
    assert run_cli("adapter").code == 2


def test_trainable_tokens_on_resized_embeddings_fit_the_resized_base(tmp_path: Path) -> None:
    """PEFT saves the resized embedding as ``embed_tokens.token_adapter.base_layer.weight``."""
    from safetensors import safe_open
    from safetensors.torch import load_file
    from transformers import LlamaForCausalLM

    from adapter_builders import peft_merged

    tiny_llama().save_pretrained(tmp_path / "base")
    # As users start: from_pretrained (PEFT then sees the vocabulary grew and saves it).
    resized = LlamaForCausalLM.from_pretrained(tmp_path / "base")
    resized.resize_token_embeddings(1002)
    resized.save_pretrained(tmp_path / "resized")
    train_lora(
        resized,
        tmp_path / "adapter",
        target_modules=["q_proj"],
        trainable_token_indices={"embed_tokens": [1000, 1001]},
    )
    with safe_open(tmp_path / "adapter" / "adapter_model.safetensors", "pt") as saved:
        assert "base_model.model.model.embed_tokens.token_adapter.base_layer.weight" in set(
            saved.keys()
        )
    report = weightfit.check_adapter(tmp_path / "adapter", tmp_path / "resized")
    assert report.compatible, [f.message for f in report.findings]
    assert report.summary["unexpected"] == 0
    assert "vocab_resize" in [
        f.category
        for f in weightfit.check_adapter(tmp_path / "adapter", tmp_path / "base").findings
    ]
    result = weightfit.merge_adapter(tmp_path / "adapter", tmp_path / "resized", tmp_path / "m")
    assert result.merged
    got = load_file(tmp_path / "m" / "model.safetensors")
    want = peft_merged(tmp_path / "resized", tmp_path / "adapter")
    assert max(float((got[n] - want[n]).abs().max()) for n in got) <= 1e-6


def test_layer_replication_layers_are_copies_of_base_layers(tmp_path: Path) -> None:
    """``layer_replication=[[0, 2], [1, 2]]``: a 2-layer base attached as 3 layers (0, 1, 1)."""
    from peft import PeftModel
    from transformers import LlamaForCausalLM

    from weightfit.errors import UnsupportedAdapter

    tiny_llama().save_pretrained(tmp_path / "base")
    train_lora(
        LlamaForCausalLM.from_pretrained(tmp_path / "base"),
        tmp_path / "adapter",
        target_modules=["q_proj"],
        layer_replication=[[0, 2], [1, 2]],
    )
    attached = PeftModel.from_pretrained(
        LlamaForCausalLM.from_pretrained(tmp_path / "base"), tmp_path / "adapter"
    )
    assert len(attached.base_model.model.model.layers) == 3
    report = weightfit.check_adapter(tmp_path / "adapter", tmp_path / "base")
    assert report.compatible, [f.message for f in report.findings]
    assert report.findings[0].message.startswith("LoRA adapter: 3 of 3 modules fit")
    with pytest.raises(UnsupportedAdapter, match="layer_replication"):
        weightfit.merge_adapter(tmp_path / "adapter", tmp_path / "base", tmp_path / "out")
