"""kohya LoRA files (``lora_unet_…``, ``lora_down`` / ``lora_up`` / ``alpha``) against real UNets.

The files are written in kohya's layout and checked against what diffusers itself
makes of them: ``lora_state_dict`` names their modules, ``load_lora_adapter`` and
``fuse_lora`` merge them. SDXL's files name the UNet's blocks as the original
release does (``input_blocks_4_1_…``); the full-size SDXL UNet is built on meta.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")
from diffusers import UNet2DConditionModel  # noqa: E402
from diffusers.loaders.lora_pipeline import StableDiffusionXLLoraLoaderMixin  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

import weightfit  # noqa: E402
from seeds import write_sparse_safetensors  # noqa: E402
from weightfit import converters  # noqa: E402
from weightfit.adapters.check import read_adapter  # noqa: E402
from weightfit.targets import resolve  # noqa: E402

SMALL_UNET = {
    "sample_size": 8,
    "layers_per_block": 1,
    "block_out_channels": (32, 64),
    "down_block_types": ("CrossAttnDownBlock2D", "DownBlock2D"),
    "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D"),
    "attention_head_dim": 8,
    "norm_num_groups": 8,
}
SDXL_UNET = {
    "sample_size": 128,
    "layers_per_block": 2,
    "block_out_channels": (320, 640, 1280),
    "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    "transformer_layers_per_block": (1, 2, 10),
    "cross_attention_dim": 2048,
    "attention_head_dim": (5, 10, 20),
    "use_linear_projection": True,
    "addition_embed_type": "text_time",
    "addition_time_embed_dim": 256,
    "projection_class_embeddings_input_dim": 2816,
}
TARGETS = ("to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out", "ff.net.2")


def _linears(unet: torch.nn.Module) -> dict[str, torch.nn.Linear]:
    return {
        name: module
        for name, module in unet.named_modules()
        if isinstance(module, torch.nn.Linear) and name.endswith(TARGETS)
    }


def kohya_file(
    path: Path,
    unet: torch.nn.Module,
    rank: int = 4,
    alpha: float = 2.0,
    *,
    convolutions: bool = False,
) -> Path:
    """A kohya SD 1.x LoRA of every attention projection: diffusers' module names, flattened."""
    generator = torch.Generator().manual_seed(0)
    state = {}
    for name, linear in _linears(unet).items():
        flat = "lora_unet_" + name.replace(".", "_")
        state[f"{flat}.lora_down.weight"] = torch.randn(
            rank, linear.in_features, generator=generator
        )
        state[f"{flat}.lora_up.weight"] = torch.randn(
            linear.out_features, rank, generator=generator
        )
        state[f"{flat}.alpha"] = torch.tensor(alpha)
    if convolutions:  # LoCon: a k×k down and a 1×1 up on each resnet convolution
        for name, conv in unet.named_modules():
            if isinstance(conv, torch.nn.Conv2d) and name.endswith(("resnets.0.conv1", "conv2")):
                flat = "lora_unet_" + name.replace(".", "_")
                down = (rank, conv.in_channels, *conv.kernel_size)
                state[f"{flat}.lora_down.weight"] = torch.randn(down, generator=generator)
                up = (conv.out_channels, rank, 1, 1)
                state[f"{flat}.lora_up.weight"] = torch.randn(up, generator=generator)
                state[f"{flat}.alpha"] = torch.tensor(alpha)
    save_file(state, path)
    return path


@pytest.fixture
def small_unet(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    UNet2DConditionModel(cross_attention_dim=32, **SMALL_UNET).save_pretrained(tmp_path / "unet")
    return tmp_path / "unet"


def test_a_kohya_file_fits_its_unet_module_by_module(small_unet: Path, tmp_path: Path) -> None:
    unet = UNet2DConditionModel.from_pretrained(small_unet)
    lora = kohya_file(tmp_path / "style_v2.safetensors", unet)
    report = weightfit.check(lora, small_unet)
    assert report.compatible
    (fitted,) = report.findings
    modules = len(_linears(unet))
    assert fitted.category == "lora_mismatch" and fitted.severity == "info"
    assert f"{modules} of {modules} modules fit" in fitted.message
    assert "scale alpha/r = 0.5" in fitted.message
    assert "a kohya-named LORA file" in report.hints[0]


def test_a_kohya_merge_equals_diffusers_own_fuse(small_unet: Path, tmp_path: Path) -> None:
    unet = UNet2DConditionModel.from_pretrained(small_unet)
    lora = kohya_file(tmp_path / "style_v2.safetensors", unet, convolutions=True)
    weightfit.merge_adapter(lora, small_unet, tmp_path / "merged")

    named, alphas = StableDiffusionXLLoraLoaderMixin.lora_state_dict(str(lora))
    unet.load_lora_adapter(named, network_alphas=alphas, prefix="unet", adapter_name="kohya")
    unet.fuse_lora(lora_scale=1.0)
    unet.unload_lora()
    expected = unet.state_dict()
    merged = load_file(tmp_path / "merged" / "diffusion_pytorch_model.safetensors")
    assert merged.keys() == expected.keys()
    for name, value in expected.items():
        torch.testing.assert_close(merged[name], value, rtol=0, atol=0, msg=name)
    base = UNet2DConditionModel.from_pretrained(small_unet).state_dict()
    changed = {n for n in base if not torch.equal(base[n], merged[n])}
    assert len(changed) == len(load_file(lora)) // 3 > len(_linears(unet))
    assert any(n.endswith("resnets.0.conv1.weight") for n in changed)


def test_an_alpha_of_zero_is_kohyas_alpha_equal_to_rank(small_unet: Path, tmp_path: Path) -> None:
    unet = UNet2DConditionModel.from_pretrained(small_unet)
    lora = kohya_file(tmp_path / "zero.safetensors", unet, rank=4, alpha=0.0)
    (fitted,) = weightfit.check(lora, small_unet).findings
    assert "r=4, alpha=4, scale alpha/r = 1" in fitted.message


def test_a_kohya_file_of_a_wider_unet_is_an_adapter_for_another_size(
    small_unet: Path, tmp_path: Path
) -> None:
    wider = UNet2DConditionModel(cross_attention_dim=48, **SMALL_UNET)
    report = weightfit.check(kohya_file(tmp_path / "wide.safetensors", wider), small_unet)
    assert not report.compatible
    (error,) = [f for f in report.findings if f.severity == "error"]
    assert error.category == "lora_mismatch"
    assert "an adapter for another size" in error.message
    assert all(".attn2.to_k." in p or ".attn2.to_v." in p for p in error.params)


def _sgm(name: str) -> str:
    """The original SDXL release's block of a diffusers UNet module (kohya's SDXL names)."""
    parts = name.split(".")
    if parts[0] == "mid_block":
        return "middle_block_1_" + "_".join(parts[3:])
    block, index, rest = int(parts[1]), int(parts[3]), "_".join(parts[4:])
    if parts[0] == "down_blocks":
        return f"input_blocks_{1 + block * 3 + index}_1_{rest}"
    return f"output_blocks_{block * 3 + index}_1_{rest}"


@pytest.fixture
def sdxl(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """A full-size SDXL UNet config, and a sparse kohya file in the original block names."""
    with torch.device("meta"):
        unet = UNet2DConditionModel(**SDXL_UNET)
    unet.save_config(tmp_path / "sdxl_unet")
    tensors, modules = {}, {}
    for name, linear in _linears(unet).items():
        if ".attentions." not in name:
            continue
        flat = "lora_unet_" + _sgm(name)
        modules[flat] = name
        tensors[f"{flat}.lora_down.weight"] = ((8, linear.in_features), "F16")
        tensors[f"{flat}.lora_up.weight"] = ((linear.out_features, 8), "F16")
        tensors[f"{flat}.alpha"] = ((), "F16")
    lora = write_sparse_safetensors(tmp_path / "sdxl_style.safetensors", tensors)
    return lora, tmp_path / "sdxl_unet" / "config.json", modules


def test_sdxl_block_names_are_found_as_diffusers_names_them(
    sdxl: tuple[Path, Path, dict[str, str]],
) -> None:
    lora, config, modules = sdxl
    adapter = read_adapter(lora, resolve(config))
    ending = ".lora_A.weight"
    found = {
        n.removeprefix("base_model.model.").removesuffix(ending)
        for n in adapter.tensors
        if n.endswith(ending)
    }
    assert found == set(modules.values())
    report = weightfit.check(lora, config)
    assert report.compatible
    assert f"{len(modules)} of {len(modules)} modules fit" in report.findings[0].message


def test_without_library_converters_sdxl_block_names_stay_unfound(
    sdxl: tuple[Path, Path, dict[str, str]],
) -> None:
    lora, config, modules = sdxl
    with converters.disabled():
        report = weightfit.check(lora, config)
    (error,) = [f for f in report.findings if f.severity == "error"]
    assert error.category == "lora_mismatch"
    assert f"{len(modules)} of {len(modules)} LoRA modules are not in the base" in error.message


def test_a_file_with_other_tensors_is_no_kohya_adapter(small_unet: Path, tmp_path: Path) -> None:
    unet = UNet2DConditionModel.from_pretrained(small_unet)
    lora = kohya_file(tmp_path / "mixed.safetensors", unet)
    state = load_file(lora)
    state["model.diffusion_model.out.0.weight"] = torch.zeros(4)
    save_file(state, lora)
    report = weightfit.check(lora, small_unet)
    assert not any("kohya" in hint for hint in report.hints)


def test_a_negative_alpha_is_refused(small_unet: Path, tmp_path: Path, run_cli) -> None:
    unet = UNet2DConditionModel.from_pretrained(small_unet)
    lora = kohya_file(tmp_path / "negative.safetensors", unet, alpha=-1.0)
    result = run_cli("adapter", "check", lora, "--base", small_unet)
    assert result.code == 3, result.err
    assert "no LoRA alpha" in result.err and "negative.safetensors" in result.err
    assert json.loads(run_cli("check", lora, "--against", small_unet, "--json").out or "{}") == {}


def test_fix_writes_a_peft_adapter_folder_peft_loads(small_unet: Path, tmp_path: Path) -> None:
    from peft import PeftModel

    unet = UNet2DConditionModel.from_pretrained(small_unet)
    lora = kohya_file(tmp_path / "style_v2.safetensors", unet)
    weightfit.fix(lora, small_unet, tmp_path / "adapter")
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA" and "inferred_by" not in config

    named, alphas = StableDiffusionXLLoraLoaderMixin.lora_state_dict(str(lora))
    unet.load_lora_adapter(named, network_alphas=alphas, prefix="unet", adapter_name="kohya")
    unet.fuse_lora(lora_scale=1.0)
    unet.unload_lora()
    base = UNet2DConditionModel.from_pretrained(small_unet)
    merged = PeftModel.from_pretrained(base, tmp_path / "adapter").merge_and_unload()
    for name, value in unet.state_dict().items():
        torch.testing.assert_close(merged.state_dict()[name], value, rtol=0, atol=0, msg=name)


def loha_file(path: Path, unet: torch.nn.Module, rank: int = 4, alpha: float = 2.0) -> Path:
    """A LyCORIS LoHa file in kohya's names: ``hada_w1_a`` … on each attention query and key."""
    generator = torch.Generator().manual_seed(0)
    state = {}
    for name, linear in _linears(unet).items():
        if name.endswith(("to_q", "to_k")):
            flat = "lora_unet_" + name.replace(".", "_")
            for pair in ("w1", "w2"):
                a = torch.randn(linear.out_features, rank, generator=generator)
                state[f"{flat}.hada_{pair}_a"] = a
                state[f"{flat}.hada_{pair}_b"] = torch.randn(
                    rank, linear.in_features, generator=generator
                )
            state[f"{flat}.alpha"] = torch.tensor(alpha)
    save_file(state, path)
    return path


def test_a_loha_file_in_kohyas_names_fits_and_peft_merges_its_fix(
    small_unet: Path, tmp_path: Path
) -> None:
    from peft import PeftModel

    unet = UNet2DConditionModel.from_pretrained(small_unet)
    loha = loha_file(tmp_path / "loha.safetensors", unet)
    report = weightfit.check(loha, small_unet)
    assert report.compatible
    assert "LOHA adapter: 16 of 16 modules fit" in report.findings[0].message
    weightfit.fix(loha, small_unet, tmp_path / "adapter")
    merged = PeftModel.from_pretrained(unet, tmp_path / "adapter").merge_and_unload().state_dict()
    base = UNet2DConditionModel.from_pretrained(small_unet).state_dict()
    state = load_file(loha)
    for name, weight in base.items():
        flat = "lora_unet_" + name.removesuffix(".weight").replace(".", "_")
        if f"{flat}.hada_w1_a" not in state:
            assert torch.equal(merged[name], weight), name
            continue
        w1 = state[f"{flat}.hada_w1_a"] @ state[f"{flat}.hada_w1_b"]
        w2 = state[f"{flat}.hada_w2_a"] @ state[f"{flat}.hada_w2_b"]
        torch.testing.assert_close(merged[name], weight + w1 * w2 * 2.0 / 4, msg=name)


def test_a_file_mixing_lora_and_loha_modules_is_no_kohya_adapter(
    small_unet: Path, tmp_path: Path
) -> None:
    unet = UNet2DConditionModel.from_pretrained(small_unet)
    state = {**load_file(kohya_file(tmp_path / "a.safetensors", unet))}
    state.update(load_file(loha_file(tmp_path / "b.safetensors", unet)))
    save_file(state, tmp_path / "mixed.safetensors")
    report = weightfit.check(tmp_path / "mixed.safetensors", small_unet)
    assert not any("kohya" in hint for hint in report.hints)
