"""Files older releases of transformers and PEFT saved, checked against today's libraries.

The fixtures under ``tests/data/saved-by/`` were written by transformers 4.46.3
and PEFT 0.10.0 (``SOURCE.md`` there: the versions and the script). Today's
libraries are the reference: what they load, weightfit must not call broken,
and what they refuse, weightfit must name with the cause (``version``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import weightfit
from weightfit.cli import main

transformers = pytest.importorskip("transformers")
peft = pytest.importorskip("peft")

SAVED_BY = Path(__file__).parent / "data" / "saved-by"
MODELS = SAVED_BY / "transformers-4.46.3"
ADAPTERS = SAVED_BY / "peft-0.10.0"
CLASSES = {"mixtral": "MixtralForCausalLM", "qwen2moe": "Qwen2MoeForCausalLM"}
PARTIAL_ERROR = (
    "Cannot convert PEFT target(s) w1 without also targeting w3 because they are fused "
    "into gate_up_proj."
)
"""What PEFT 0.22 raised loading ``mixtral-lora-w1`` onto today's Mixtral (SOURCE.md)."""


def _peft_load(adapter: str, base: str) -> object:
    model = getattr(transformers, CLASSES[base]).from_pretrained(MODELS / base)
    return peft.PeftModel.from_pretrained(model, ADAPTERS / adapter)


@pytest.mark.parametrize(
    ("adapter", "base"), [("mixtral-lora", "mixtral"), ("qwen2moe-lora", "qwen2moe")]
)
def test_an_adapter_on_transformers_4_experts_is_a_version_peft_converts(
    adapter: str, base: str
) -> None:
    _peft_load(adapter, base)  # today's PEFT attaches it: the reference
    report = weightfit.check_adapter(ADAPTERS / adapter, MODELS / base / "config.json")
    assert report.compatible
    assert not [f for f in report.findings if f.severity == "error"]
    (version,) = [f for f in report.findings if f.category == "version"]
    assert version.severity == "info"
    assert "per-expert layout" in version.message
    assert "PEFT converts it on load" in version.message
    assert "mlp.experts.gate_up_proj" in version.evidence["stacked_into"][1]


def test_an_adapter_on_some_of_the_fused_experts_is_what_peft_refuses() -> None:
    with pytest.raises(ValueError, match=PARTIAL_ERROR.replace("(", r"\(").replace(")", r"\)")):
        _peft_load("mixtral-lora-w1", "mixtral")
    report = weightfit.check_adapter(
        ADAPTERS / "mixtral-lora-w1", MODELS / "mixtral" / "config.json"
    )
    assert not report.compatible
    top = report.findings[0]
    assert (top.category, top.severity) == ("version", "error")
    assert top.evidence["load_error"] == f"ValueError: {PARTIAL_ERROR}"
    assert "another architecture" not in " ".join(f.message for f in report.findings)
    args = ["adapter", "check", str(ADAPTERS / "mixtral-lora-w1")]
    assert main([*args, "--base", str(MODELS / "mixtral" / "config.json")]) == 1
    assert main([*args, "--base", str(MODELS / "mixtral")]) == 0  # the files' own names


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_a_transformers_4_moe_file_is_compatible_and_fixes_to_a_strict_load(
    name: str, tmp_path: Path
) -> None:
    config = MODELS / name / "config.json"
    report = weightfit.check(MODELS / name, config)
    assert report.compatible
    (version,) = [f for f in report.findings if f.category == "version"]
    assert version.severity == "info" and "converts on load" in version.message
    shutil.copy(config, tmp_path / "config.json")
    result = weightfit.fix(MODELS / name, config, tmp_path / "out")
    cls = getattr(transformers, CLASSES[name])
    reference = cls.from_pretrained(MODELS / name).state_dict()
    model = cls(transformers.AutoConfig.from_pretrained(MODELS / name))
    written = load_file(next((tmp_path / "out").glob("*.safetensors")))
    model.load_state_dict(written, strict=True)
    assert result.applied is not None
    assert all(torch.equal(value, reference[key]) for key, value in model.state_dict().items())


def test_a_diffusers_0_14_vae_fixes_to_a_folder_diffusers_loads(tmp_path: Path) -> None:
    diffusers = pytest.importorskip("diffusers")
    folder = SAVED_BY / "diffusers-0.14.0" / "vae"
    report = weightfit.check(folder, folder / "config.json")
    (version,) = [f for f in report.findings if f.category == "version"]
    assert "query/key/value/proj_attn" in version.message
    assert "converts these names" in version.fix_note
    out = tmp_path / "out"
    weightfit.fix(folder, folder / "config.json", out)
    shutil.copy(folder / "config.json", out / "config.json")
    fixed, info = diffusers.AutoencoderKL.from_pretrained(out, output_loading_info=True)
    assert not any(info.values())
    reference = diffusers.AutoencoderKL.from_pretrained(folder).state_dict()
    assert all(torch.equal(value, reference[key]) for key, value in fixed.state_dict().items())


def test_an_older_transformers_refusing_a_newer_model_type_is_a_version() -> None:
    text = (MODELS / "loading-a-5.25-qwen3-moe.txt").read_text()
    top = weightfit.explain(text).findings[0]
    assert top.category == "version"
    assert "qwen3_moe" in top.message


def test_an_older_diffusers_missing_the_old_attention_names_says_to_upgrade_it() -> None:
    text = (SAVED_BY / "diffusers-0.14.0" / "loading-a-0.42-vae.txt").read_text()
    top = weightfit.explain(text).findings[0]
    assert top.category == "version"
    assert "query/key/value/proj_attn" in top.message
    assert "upgrade diffusers to 0.17.0 or later" in top.fix_note


def test_merging_an_adapter_on_transformers_4_experts_equals_todays_peft(tmp_path: Path) -> None:
    reference = _peft_load("mixtral-lora", "mixtral").merge_and_unload().state_dict()  # type: ignore[attr-defined]
    weightfit.merge_adapter(ADAPTERS / "mixtral-lora", MODELS / "mixtral", tmp_path / "merged")
    merged, info = transformers.MixtralForCausalLM.from_pretrained(
        tmp_path / "merged", output_loading_info=True
    )
    assert not any(info.values())
    for key, value in merged.state_dict().items():
        torch.testing.assert_close(value, reference[key], atol=1e-5, rtol=0)


def test_an_adapter_on_a_transformers_4_llava_vision_tower_attaches_as_peft_says(
    tmp_path: Path,
) -> None:
    """transformers 4 files keep the vision tower's own prefix (``vision_tower.vision_model.``),
    which a fresh transformers 5 save drops: the loader's renaming reads both."""
    base = MODELS / "llava" / "config.json"
    config = transformers.AutoConfig.from_pretrained(base)
    model = transformers.LlavaForConditionalGeneration(config)
    peft.PeftModel.from_pretrained(model, ADAPTERS / "llava-lora")  # the reference: it attaches
    report = weightfit.check_adapter(ADAPTERS / "llava-lora", base)
    assert report.compatible, report.to_text()
    (version,) = [f for f in report.findings if f.category == "version"]
    assert "vision_tower.vision_model.encoder" in version.message
    weightfit.fix(ADAPTERS / "llava-lora", base, tmp_path / "fixed")
    fixed = peft.PeftModel.from_pretrained(
        transformers.LlavaForConditionalGeneration(config), tmp_path / "fixed"
    )
    saved = load_file(ADAPTERS / "llava-lora" / "adapter_model.safetensors")
    loaded = {k: v for k, v in fixed.state_dict().items() if "lora_B" in k}
    assert sorted(v.sum().item() for v in loaded.values()) == sorted(
        v.sum().item() for k, v in saved.items() if "lora_B" in k
    )
