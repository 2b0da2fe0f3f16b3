"""Library converters, traced into plans: ``weightfit fix`` equals the library's own output.

Each case is a small real model (diffusers or transformers class, seeded
values), its weights laid out as the original code saves them
(``tests/original_layouts.py``), and the library converter that maps them back.
The library runs its converter in memory; weightfit recognises it from the
headers, traces it over shape-only tensors and applies the plan streaming. The
two outputs must be equal bit for bit and load strict into the model class.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file

from original_layouts import ldm_clip, ldm_unet, ldm_vae, mmdit, open_clip_text, tiny_unet

diffusers = pytest.importorskip("diffusers")
transformers = pytest.importorskip("transformers")
from diffusers.loaders import single_file_utils as sfu  # noqa: E402


@dataclass
class Case:
    """One converter: the model, its original-layout weights, and the library's conversion."""

    converter: str
    model: Any
    source: dict[str, torch.Tensor]
    library: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]

    def fresh(self) -> Any:
        if isinstance(self.model, diffusers.ModelMixin):
            return type(self.model).from_config(self.model.config)
        return type(self.model)(self.model.config)

    def save_target(self, folder: Path) -> Path:
        folder.mkdir()
        if isinstance(self.model, diffusers.ModelMixin):
            self.model.save_config(folder)
        else:
            self.model.config.architectures = [type(self.model).__name__]
            self.model.config.save_pretrained(folder)
        return folder / "config.json"


def _unet() -> Case:
    model = tiny_unet()
    config = dict(model.config)
    source = ldm_unet(model.state_dict(), config)
    # A full SD checkpoint holds the other components too: the UNet converter leaves them.
    source["first_stage_model.quant_conv.weight"] = torch.randn(8, 8, 1, 1)
    source["model_ema.decay"] = torch.tensor(0.9999)

    def library(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return dict(sfu.convert_ldm_unet_checkpoint(state, config))

    return Case("convert_ldm_unet_checkpoint", model, source, library)


def _vae() -> Case:
    model = diffusers.AutoencoderKL(
        block_out_channels=(16, 32),
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        norm_num_groups=8,
        latent_channels=4,
        layers_per_block=1,
    )
    config = dict(model.config)

    def library(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return dict(sfu.convert_ldm_vae_checkpoint(state, config))

    return Case("convert_ldm_vae_checkpoint", model, ldm_vae(model.state_dict(), config), library)


def _text_config() -> Any:
    return transformers.CLIPTextConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        vocab_size=100,
        max_position_embeddings=16,
        projection_dim=24,
        bos_token_id=0,
        eos_token_id=1,
        pad_token_id=1,
    )


def _clip() -> Case:
    model = transformers.CLIPTextModel(_text_config())

    def library(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        converted = sfu.convert_ldm_clip_checkpoint(state)
        # diffusers' create_diffusers_clip_model_from_ldm for a CLIPTextModel without text_model.
        return {k.removeprefix("text_model."): v for k, v in converted.items()}

    return Case("convert_ldm_clip_checkpoint", model, ldm_clip(model.state_dict()), library)


def _open_clip() -> Case:
    model = transformers.CLIPTextModelWithProjection(_text_config())
    prefix = "conditioner.embedders.1.model."

    def library(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return dict(sfu.convert_open_clip_checkpoint(model, state, prefix=prefix))

    source = open_clip_text(model.state_dict(), prefix)
    return Case("convert_open_clip_checkpoint", model, source, library)


def _sd3() -> Case:
    model = diffusers.SD3Transformer2DModel(
        sample_size=8,
        patch_size=2,
        in_channels=4,
        num_layers=2,
        attention_head_dim=8,
        num_attention_heads=2,
        joint_attention_dim=16,
        caption_projection_dim=16,
        pooled_projection_dim=8,
        out_channels=4,
        pos_embed_max_size=8,
        qk_norm="rms_norm",
    )

    def library(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return dict(sfu.convert_sd3_transformer_checkpoint_to_diffusers(state))

    source = {f"model.diffusion_model.{k}": v for k, v in mmdit(model.state_dict(), 2).items()}
    return Case("convert_sd3_transformer_checkpoint_to_diffusers", model, source, library)


CASES = {"unet": _unet, "vae": _vae, "clip": _clip, "open_clip": _open_clip, "sd3": _sd3}


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> Case:
    torch.manual_seed(0)
    return CASES[request.param]()


def _same(one: dict[str, torch.Tensor], other: dict[str, torch.Tensor]) -> None:
    assert sorted(one) == sorted(other)
    for name, value in one.items():
        theirs = other[name]
        assert value.dtype == theirs.dtype and value.shape == theirs.shape, name
        assert value.contiguous().view(torch.uint8).equal(theirs.contiguous().view(torch.uint8)), (
            name
        )


def _written(out: Path) -> dict[str, torch.Tensor]:
    """The one weights file ``fix`` wrote (``diffusion_pytorch_model`` for a diffusers model)."""
    (path,) = out.glob("*.safetensors")
    return load_file(path)


def test_fix_equals_the_library_converter_and_loads_strict(
    case: Case, tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    source = tmp_path / "original.safetensors"
    save_file(case.source, source)
    target = case.save_target(tmp_path / "target")
    expected = case.library(load_file(source))
    expected = {k: v for k, v in expected.items() if k in case.model.state_dict()}

    result = run_cli("fix", source, "--against", target, "-o", tmp_path / "out")
    assert result.code == 0, result.out + result.err
    # named as the target's library loads them: diffusion_pytorch_model for diffusers
    (weights,) = (tmp_path / "out").glob("*.safetensors")
    diffusers_model = isinstance(case.model, diffusers.ModelMixin)
    assert weights.stem == ("diffusion_pytorch_model" if diffusers_model else "model")
    written = load_file(weights)
    _same(written, expected)
    fresh = case.fresh()
    fresh.load_state_dict(written, strict=True)

    plan = yaml.safe_load((tmp_path / "out" / "weightfit-plan.yaml").read_text())
    assert all(case.converter in op["reason"] for op in plan["ops"])
    assert all(op["safety"] == "exact" for op in plan["ops"])
    applied = run_cli(
        "apply", tmp_path / "out" / "weightfit-plan.yaml", source, "-o", tmp_path / "applied"
    )
    assert applied.code == 0, applied.err
    _same(load_file(tmp_path / "applied" / "model.safetensors"), expected)  # apply: no target


def test_check_names_the_converter(case: Case, tmp_path: Path) -> None:
    import weightfit

    source = tmp_path / "original.safetensors"
    save_file(case.source, source)
    report = weightfit.check(source, case.save_target(tmp_path / "target"))
    [finding] = [f for f in report.findings if f.severity != "info"]
    assert finding.category == "version"
    assert finding.evidence["converter"] == case.converter
    assert finding.evidence["library"] == f"diffusers {diffusers.__version__}"


def test_export_key_mapping_loads_with_from_pretrained(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    torch.manual_seed(0)
    case = _clip()
    source = tmp_path / "original.safetensors"
    save_file(case.source, source)
    target = case.save_target(tmp_path / "target")
    result = run_cli(
        "fix", source, "--against", target, "-o", tmp_path / "out", "--export", "key-mapping"
    )
    assert result.code == 0, result.err
    mapping = json.loads((tmp_path / "out" / "key_mapping.json").read_text())
    assert json.loads(result.out) == mapping
    assert not (tmp_path / "out" / "model.safetensors").exists()
    # A folder holding the original-layout weights as they are, loaded with the mapping.
    folder = tmp_path / "hub"
    folder.mkdir()
    save_file(case.source, folder / "model.safetensors", metadata={"format": "pt"})
    case.model.config.save_pretrained(folder)
    loaded = transformers.CLIPTextModel.from_pretrained(folder, key_mapping=mapping)
    _same(loaded.state_dict(), case.model.state_dict())


def test_export_refuses_a_plan_that_is_not_only_renames(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    torch.manual_seed(0)
    case = _sd3()
    source = tmp_path / "original.safetensors"
    save_file(case.source, source)
    target = case.save_target(tmp_path / "target")
    result = run_cli(
        "fix", source, "--against", target, "-o", tmp_path / "out", "--export", "key-mapping"
    )
    assert result.code == 2
    assert "only a plan of renames exports as a key_mapping" in result.err


def test_no_library_converters_leaves_weightfit_inference(
    tmp_path: Path, run_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.manual_seed(0)
    case = _unet()
    source = tmp_path / "original.safetensors"
    save_file(case.source, source)
    target = case.save_target(tmp_path / "target")
    on = run_cli("check", source, "--against", target, "--json")
    off = run_cli("check", source, "--against", target, "--json", "--no-library-converters")
    assert "convert_ldm_unet_checkpoint" in on.out
    assert "convert_ldm_unet_checkpoint" not in off.out
    monkeypatch.setenv("WEIGHTFIT_NO_LIBRARY_CONVERTERS", "1")
    env = run_cli("check", source, "--against", target, "--json")
    assert env.out == off.out


def _tiny_transformers(name: str) -> Any:
    if name == "mixtral":
        config = transformers.MixtralConfig(
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            num_local_experts=4,
            num_experts_per_tok=2,
            vocab_size=64,
            max_position_embeddings=32,
        )
        return transformers.MixtralForCausalLM(config)
    if name == "olmoe":
        config = transformers.OlmoeConfig(
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            num_experts=4,
            num_experts_per_tok=2,
            vocab_size=64,
            max_position_embeddings=32,
        )
        return transformers.OlmoeForCausalLM(config)
    config = transformers.ViTConfig(
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        image_size=8,
        patch_size=4,
        num_labels=3,
    )
    return transformers.ViTForImageClassification(config)


@pytest.mark.parametrize("name", ["mixtral", "olmoe", "vit"])
def test_transformers_conversion_mapping_equals_from_pretrained(
    name: str, tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    """The source is what ``save_pretrained`` writes (transformers' own reverse conversion)."""
    torch.manual_seed(0)
    model = _tiny_transformers(name)
    model.save_pretrained(tmp_path / "saved")
    expected = type(model).from_pretrained(tmp_path / "saved").state_dict()
    source = tmp_path / "saved" / "model.safetensors"
    assert set(load_file(source)) != set(expected)

    result = run_cli(
        "fix", source, "--against", tmp_path / "saved" / "config.json", "-o", tmp_path / "out"
    )
    assert result.code == 0, result.out + result.err
    written = _written(tmp_path / "out")
    tied = {k: v for k, v in expected.items() if k not in written}
    _same(written, {k: v for k, v in expected.items() if k not in tied})
    fresh = type(model)(model.config)
    fresh.load_state_dict(written, strict=not tied)
    plan = yaml.safe_load((tmp_path / "out" / "weightfit-plan.yaml").read_text())
    assert all(f"transformers {transformers.__version__}" in op["reason"] for op in plan["ops"])
    applied = run_cli(
        "apply", tmp_path / "out" / "weightfit-plan.yaml", source, "-o", tmp_path / "applied"
    )
    assert applied.code == 0, applied.err
    _same(load_file(tmp_path / "applied" / "model.safetensors"), written)


def test_load_into_applies_the_traced_plan(tmp_path: Path) -> None:
    """``load_into`` fills a live model from the original layout with the converter's plan."""
    import weightfit

    torch.manual_seed(0)
    case = _open_clip()
    source = tmp_path / "original.safetensors"
    save_file(case.source, source)
    fresh = case.fresh()
    weightfit.load_into(fresh, source)
    _same(dict(fresh.state_dict()), case.library(load_file(source)))


def test_fix_against_a_diffusers_folder_with_weights(
    tmp_path: Path, run_cli: Callable[..., Any]
) -> None:
    """A downloaded component folder (config and weights) is a target as its config is."""
    torch.manual_seed(0)
    case = _vae()
    source = tmp_path / "original.safetensors"
    save_file(case.source, source)
    case.model.save_pretrained(tmp_path / "vae")
    result = run_cli("fix", source, "--against", tmp_path / "vae", "-o", tmp_path / "out")
    assert result.code == 0, result.out + result.err
    written = load_file(tmp_path / "out" / "diffusion_pytorch_model.safetensors")
    _same(written, case.library(load_file(source)))
