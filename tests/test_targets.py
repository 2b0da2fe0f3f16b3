"""Targets: expected manifests from configs, modules and factories, built on meta."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import torch
import transformers
import yaml
from diffusers import AutoencoderKL, SanaTransformer2DModel, UNet2DConditionModel
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from weightfit import dtypes
from weightfit.errors import (
    InvalidHeader,
    MissingDependency,
    TargetNotFound,
    TargetUnavailable,
    UsageError,
)
from weightfit.manifest import Manifest, from_shapes
from weightfit.targets import config_hash, resolve

TINY_LLAMA = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "vocab_size": 128,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "tie_word_embeddings": False,
}
LLAMA_70B = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 8192,
    "intermediate_size": 28672,
    "num_hidden_layers": 80,
    "num_attention_heads": 64,
    "num_key_value_heads": 8,
    "vocab_size": 32000,
    "tie_word_embeddings": False,
}
SANA_1600M = {
    "_class_name": "SanaTransformer2DModel",
    "attention_bias": False,
    "attention_head_dim": 32,
    "caption_channels": 2304,
    "cross_attention_dim": 2240,
    "cross_attention_head_dim": 112,
    "in_channels": 32,
    "mlp_ratio": 2.5,
    "norm_elementwise_affine": False,
    "norm_eps": 1e-06,
    "num_attention_heads": 70,
    "num_cross_attention_heads": 20,
    "num_layers": 20,
    "out_channels": 32,
    "patch_size": 1,
    "sample_size": 32,
}
TINY_SANA = {
    **SANA_1600M,
    "attention_head_dim": 8,
    "num_attention_heads": 2,
    "cross_attention_dim": 16,
    "cross_attention_head_dim": 8,
    "num_cross_attention_heads": 2,
    "caption_channels": 24,
    "in_channels": 4,
    "out_channels": 4,
    "num_layers": 2,
    "sample_size": 8,
}
TINY_UNET = {
    "_class_name": "UNet2DConditionModel",
    "sample_size": 8,
    "block_out_channels": [8, 16],
    "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
    "layers_per_block": 1,
    "cross_attention_dim": 12,
    "attention_head_dim": 2,
    "norm_num_groups": 4,
}


def write_json(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def assert_same_as(manifest: Manifest, model: nn.Module) -> None:
    """Names, order, shapes and dtypes equal to the real model's state_dict."""
    state = model.state_dict()
    assert list(manifest.tensors) == list(state)
    for name, tensor in state.items():
        assert manifest[name].shape == tuple(tensor.shape), name
        assert manifest[name].dtype == dtypes.canonical(str(tensor.dtype)), name


# --- transformers --------------------------------------------------------------------------


def test_tiny_llama_config_matches_the_materialised_model(tmp_path):
    config = write_json(tmp_path / "config.json", TINY_LLAMA)
    manifest = resolve(config)
    assert_same_as(manifest, transformers.LlamaForCausalLM(transformers.LlamaConfig(**TINY_LLAMA)))
    assert manifest.format == "transformers-config"
    assert manifest.source == str(config)
    assert manifest.extras["target_class"] == (
        "transformers.models.llama.modeling_llama.LlamaForCausalLM"
    )
    assert manifest.config["hidden_size"] == 32
    assert manifest.extras["config_hash"] == config_hash(manifest.config)
    assert all(spec.is_buffer is False for spec in manifest.tensors.values())
    assert all(spec.location is None for spec in manifest.tensors.values())
    assert "tied" not in manifest.extras


def test_tied_embeddings_are_reported_and_save_pretrained_drops_the_copy(tmp_path):
    tied = {**TINY_LLAMA, "tie_word_embeddings": True}
    manifest = resolve(write_json(tmp_path / "cfg" / "config.json", tied))
    assert manifest.extras["tied"] == {"lm_head.weight": "model.embed_tokens.weight"}
    assert "lm_head.weight" in manifest
    assert any("tied copy out of saved files" in note for note in manifest.notes)

    model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**tied))
    model.save_pretrained(tmp_path / "saved")
    with safe_open(tmp_path / "saved" / "model.safetensors", "pt") as handle:
        saved = set(handle.keys())
    assert saved == set(manifest.tensors) - {"lm_head.weight"}


def test_a_folder_with_weights_is_read_and_its_config_json_is_built(tmp_path):
    model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**TINY_LLAMA))
    model.save_pretrained(tmp_path / "saved")
    read = resolve(tmp_path / "saved")
    assert read.format == "transformers-folder"
    assert all(spec.location is not None for spec in read.tensors.values())
    built = resolve(tmp_path / "saved" / "config.json")
    assert built.format == "transformers-config"
    assert read.shapes() == built.shapes()


def test_a_folder_with_only_a_config_is_built(tmp_path):
    write_json(tmp_path / "model" / "config.json", TINY_LLAMA)
    manifest = resolve(tmp_path / "model", kwargs={"vocab_size": 200})
    assert manifest.format == "transformers-config"
    assert manifest["model.embed_tokens.weight"].shape == (200, 32)


def test_a_config_without_architectures_builds_the_base_model(tmp_path):
    bare = {k: v for k, v in TINY_LLAMA.items() if k != "architectures"}
    manifest = resolve(write_json(tmp_path / "config.json", bare))
    assert manifest.extras["target_class"].endswith("LlamaModel")
    assert "embed_tokens.weight" in manifest


def test_llama_class_with_default_config_is_7b_on_meta():
    manifest = resolve("transformers:LlamaForCausalLM")
    assert len(manifest) == 291
    assert manifest.extras["parameters"] == 6_738_415_616
    assert manifest["lm_head.weight"].shape == (32000, 4096)
    assert manifest.format == "transformers-config"


def test_transformers_class_with_a_config_file_and_kwargs(tmp_path):
    config = write_json(tmp_path / "c.json", TINY_LLAMA)
    manifest = resolve("transformers:LlamaModel", config=config, kwargs={"num_hidden_layers": 1})
    assert manifest.extras["target_class"].endswith(".LlamaModel")
    assert "layers.0.mlp.up_proj.weight" in manifest
    assert "layers.1.mlp.up_proj.weight" not in manifest


def test_70b_config_builds_without_allocating(tmp_path):
    """The meta device holds no bytes: a 70B model costs megabytes (bench/check.py times it)."""
    resolve(write_json(tmp_path / "tiny.json", TINY_LLAMA))  # imports done before measuring
    config = write_json(tmp_path / "config.json", LLAMA_70B)
    process = psutil.Process()
    before = process.memory_info().rss
    manifest = resolve(config)
    grown = process.memory_info().rss - before
    assert manifest.extras["parameters"] == 68_976_648_192
    assert len(manifest) == 723
    assert manifest.total_bytes == 4 * 68_976_648_192
    assert grown < 200e6


# --- diffusers --------------------------------------------------------------------------------


def test_sana_1600m_config_on_meta_and_the_caption_width_override(tmp_path):
    config = write_json(tmp_path / "transformer" / "config.json", SANA_1600M)
    gemma = resolve(config)
    assert gemma.format == "diffusers-config"
    assert len(gemma) == 396
    assert gemma.extras["parameters"] == 1_604_462_752
    assert gemma["caption_projection.linear_1.weight"].shape == (2240, 2304)
    qwen = resolve(tmp_path / "transformer", kwargs={"caption_channels": 1536})
    assert qwen["caption_projection.linear_1.weight"].shape == (2240, 1536)
    # the parameter count the Sana issue logs for the model built for Qwen2.5-1.5B
    assert qwen.extras["parameters"] == 1_602_742_432
    assert qwen.extras["config_hash"] != gemma.extras["config_hash"]
    assert qwen.config["caption_channels"] == 1536


def test_sd15_unet_config_on_meta(tmp_path):
    sd15 = {
        "_class_name": "UNet2DConditionModel",
        "sample_size": 64,
        "cross_attention_dim": 768,
        "attention_head_dim": 8,
        "block_out_channels": [320, 640, 1280, 1280],
    }
    manifest = resolve(write_json(tmp_path / "unet" / "config.json", sd15))
    assert len(manifest) == 686
    assert manifest.extras["parameters"] == 859_520_964
    assert manifest["conv_in.weight"].shape == (320, 4, 3, 3)
    assert manifest.extras["target_class"] == (
        "diffusers.models.unets.unet_2d_condition.UNet2DConditionModel"
    )


@pytest.mark.parametrize(
    ("config", "cls"),
    [(TINY_UNET, UNet2DConditionModel), (TINY_SANA, SanaTransformer2DModel)],
    ids=["unet", "sana"],
)
def test_tiny_diffusers_configs_match_the_materialised_models(tmp_path, config, cls):
    manifest = resolve(write_json(tmp_path / "config.json", config))
    assert_same_as(manifest, cls.from_config(config))


def test_a_pipeline_folder_of_configs_builds_every_component(tmp_path):
    root = tmp_path / "pipe"
    write_json(
        root / "model_index.json",
        {
            "_class_name": "SanaPipeline",
            "transformer": ["diffusers", "SanaTransformer2DModel"],
            "vae": ["diffusers", "AutoencoderKL"],
            "scheduler": ["diffusers", "DPMSolverMultistepScheduler"],
        },
    )
    write_json(root / "transformer" / "config.json", TINY_SANA)
    vae = {"_class_name": "AutoencoderKL", "block_out_channels": [8], "norm_num_groups": 4}
    write_json(root / "vae" / "config.json", vae)
    write_json(root / "scheduler" / "scheduler_config.json", {"_class_name": "X"})
    manifest = resolve(root)
    assert manifest.format == "diffusers-pipeline-config"
    assert set(manifest.extras["components"]) == {"transformer", "vae"}
    vae_names = [n.removeprefix("vae.") for n in manifest if n.startswith("vae.")]
    assert vae_names == list(AutoencoderKL.from_config(vae).state_dict())
    only_vae = resolve(root, key="vae")
    assert list(only_vae.tensors) == vae_names


# --- modules, state dicts and factories ----------------------------------------------------------


class WithBuffers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.norm = nn.BatchNorm2d(4)
        self.register_buffer("scratch", torch.zeros(5), persistent=False)
        self.register_buffer("table", torch.zeros(2, 2))


def test_a_module_lists_persistent_buffers_only_and_flags_them():
    with torch.device("meta"):
        model = WithBuffers()
    manifest = resolve(model)
    assert manifest.format == "module"
    assert list(manifest.tensors) == list(model.state_dict())
    assert "scratch" not in manifest
    flags = {name: spec.is_buffer for name, spec in manifest.tensors.items()}
    assert flags["conv.weight"] is False
    assert flags["table"] is True
    assert flags["norm.running_mean"] is True
    assert flags["norm.num_batches_tracked"] is True
    assert manifest["norm.num_batches_tracked"].dtype == "I64"
    assert manifest.extras["target_class"] == "test_targets.WithBuffers"
    assert manifest.config is None
    assert "config_hash" not in manifest.extras


def test_a_state_dict_mapping_is_a_target():
    manifest = resolve({"w": torch.zeros(2, 3, dtype=torch.bfloat16)})
    assert manifest["w"].shape == (2, 3)
    assert manifest["w"].dtype == "BF16"


def test_a_manifest_is_its_own_target_and_takes_no_kwargs():
    manifest = from_shapes({"a": (1,)})
    assert resolve(manifest) is manifest
    with pytest.raises(UsageError):
        resolve(manifest, kwargs={"x": 1})


def test_factory_string_with_kwargs():
    manifest = resolve("seeds:tiny_dit3d", kwargs={"hidden": 8, "depth": 1})
    assert manifest.format == "module"
    assert manifest["x_embedder.proj.weight"].shape == (8, 4, 1, 2, 2)
    assert manifest["pos_embed_spatial"].is_buffer is True
    assert "blocks.1.attn.qkv.weight" not in manifest
    assert manifest.config == {"hidden": 8, "depth": 1}
    assert manifest.extras["config_hash"] == config_hash({"depth": 1, "hidden": 8})
    assert manifest.source == 'seeds:tiny_dit3d {"depth":1,"hidden":8}'
    assert not any("off the meta device" in note for note in manifest.notes)


def test_factory_with_a_yaml_config_and_kwargs_on_top(tmp_path):
    config = tmp_path / "model.yaml"
    config.write_text(yaml.safe_dump({"hidden": 12, "depth": 3}))
    manifest = resolve("seeds:tiny_dit2d", config=config, kwargs={"depth": 1})
    assert manifest["x_embedder.proj.weight"].shape == (12, 4, 2, 2)
    assert manifest.config == {"hidden": 12, "depth": 1}


def test_factory_from_a_python_file_is_built_on_meta(tmp_path):
    (tmp_path / "mymodel.py").write_text(
        "import torch\n"
        "def build(width=3):\n"
        "    return torch.nn.Sequential(torch.nn.Linear(width, 2))\n"
        "def allocating():\n"
        "    model = torch.nn.Linear(2, 2)\n"
        "    model.register_buffer('b', torch.zeros(4, device='cpu'))\n"
        "    return model\n"
    )
    manifest = resolve(f"{tmp_path / 'mymodel.py'}:build", kwargs={"width": 5})
    assert manifest["0.weight"].shape == (2, 5)
    allocating = resolve(f"{tmp_path / 'mymodel.py'}:allocating")
    assert allocating.notes == ["1 tensor(s) were created off the meta device (16 bytes)"]


def test_a_callable_is_a_factory():
    manifest = resolve(nn.Linear, kwargs={"in_features": 3, "out_features": 2})
    assert manifest["weight"].shape == (2, 3)
    assert manifest.source == 'torch.nn.modules.linear.Linear {"in_features":3,"out_features":2}'


def test_config_hash_ignores_who_saved_the_config():
    base = {"hidden_size": 64, "layers": [1, 2]}
    assert config_hash(base) == config_hash(
        {**base, "transformers_version": "4.40", "_name_or_path": "x"}
    )
    assert config_hash(base) != config_hash({**base, "hidden_size": 65})
    assert config_hash({"a": 1, "b": 2}) == config_hash({"b": 2, "a": 1})


# --- failures ------------------------------------------------------------------------------------


def test_factory_module_that_does_not_exist():
    with pytest.raises(TargetUnavailable) as caught:
        resolve("pkg.nope:build")
    assert caught.value.exit_code == 3
    assert str(caught.value) == (
        "target unavailable: factory 'pkg.nope:build': cannot import module 'pkg.nope' "
        "(No module named 'pkg')"
    )


def test_factory_attribute_that_does_not_exist():
    with pytest.raises(TargetUnavailable) as caught:
        resolve("seeds:nope")
    assert (
        str(caught.value)
        == "target unavailable: factory 'seeds:nope': 'seeds' has no attribute 'nope'"
    )


def test_factory_that_raises_names_the_cause(tmp_path):
    (tmp_path / "broken.py").write_text(
        "def build(**kw):\n    raise ValueError('depth must be even')\n"
    )
    spec = f"{tmp_path / 'broken.py'}:build"
    with pytest.raises(TargetUnavailable) as caught:
        resolve(spec, kwargs={"depth": 3})
    assert str(caught.value) == (
        f'target unavailable: calling {spec} {{"depth":3}} failed: ValueError: depth must be even'
    )
    assert isinstance(caught.value.__cause__, ValueError)


def test_factory_that_returns_something_else(tmp_path):
    (tmp_path / "other.py").write_text("def build():\n    return 42\n")
    spec = f"{tmp_path / 'other.py'}:build"
    with pytest.raises(TargetUnavailable) as caught:
        resolve(spec)
    assert str(caught.value) == f"target unavailable: {spec} returned a int, not a torch.nn.Module"


def test_missing_transformers_is_a_missing_dependency(tmp_path, monkeypatch):
    config = write_json(tmp_path / "config.json", TINY_LLAMA)
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(MissingDependency) as caught:
        resolve(config)
    assert caught.value.exit_code == 2
    assert str(caught.value) == (
        "missing dependency: building a transformers model from its config needs "
        "transformers; install it with: pip install 'weightfit[hf]'"
    )


def test_a_factory_whose_module_needs_a_missing_framework(tmp_path, monkeypatch):
    (tmp_path / "needs.py").write_text("import diffusers\ndef build():\n    pass\n")
    monkeypatch.setitem(sys.modules, "diffusers", None)
    with pytest.raises(MissingDependency) as caught:
        resolve(f"{tmp_path / 'needs.py'}:build")
    assert caught.value.package == "diffusers"


def test_an_architecture_transformers_does_not_have(tmp_path):
    config = write_json(tmp_path / "config.json", {**TINY_LLAMA, "architectures": ["NopeLM"]})
    with pytest.raises(TargetUnavailable) as caught:
        resolve(config)
    assert str(caught.value) == (
        f"target unavailable: transformers {transformers.__version__} has no model class 'NopeLM'"
    )


def test_remote_code_is_refused(tmp_path):
    remote = {**TINY_LLAMA, "architectures": ["MyLM"], "auto_map": {"AutoModel": "m.MyLM"}}
    with pytest.raises(TargetUnavailable, match="remote code, which is never run"):
        resolve(write_json(tmp_path / "config.json", remote))


def test_a_pipeline_class_is_not_a_model(tmp_path):
    config = write_json(tmp_path / "config.json", {"_class_name": "SanaPipeline"})
    with pytest.raises(TargetUnavailable, match="has a pipeline, not a model named 'SanaPipeline'"):
        resolve(config)


def test_a_config_the_class_rejects(tmp_path):
    bad = {**TINY_SANA, "num_layers": "many"}
    with pytest.raises(
        TargetUnavailable, match="building SanaTransformer2DModel on the meta device failed"
    ):
        resolve(write_json(tmp_path / "config.json", bad))


def test_a_path_that_is_neither_file_nor_factory(tmp_path):
    with pytest.raises(TargetNotFound) as caught:
        resolve(str(tmp_path / "missing.safetensors"))
    assert str(caught.value) == (
        f"{tmp_path / 'missing.safetensors'}: target not found: "
        "no such file or folder, nor a 'pkg.module:Callable'"
    )


def test_kwargs_for_a_checkpoint_target_are_a_usage_error(tmp_path):
    save_file({"w": torch.zeros(2)}, tmp_path / "w.safetensors")
    with pytest.raises(UsageError):
        resolve(tmp_path / "w.safetensors", kwargs={"x": 1})


def test_invalid_yaml_config(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("hidden: [1, 2\n")
    with pytest.raises(InvalidHeader) as caught:
        resolve("seeds:tiny_dit2d", config=config)
    assert str(caught.value).startswith(f"{config}: invalid header: invalid YAML (")


def test_a_yaml_config_that_is_not_a_mapping(tmp_path):
    config = tmp_path / "list.yaml"
    config.write_text("- 1\n- 2\n")
    with pytest.raises(InvalidHeader) as caught:
        resolve("seeds:tiny_dit2d", config=config)
    assert str(caught.value) == f"{config}: invalid header: expected a mapping, found list"


def test_cli_exits_3_for_an_unavailable_factory(tmp_path, run_cli):
    pytest.importorskip("weightfit.cli.check")
    save_file({"w": torch.zeros(2)}, tmp_path / "w.safetensors")
    result = run_cli("check", tmp_path / "w.safetensors", "--against", "pkg.nope:build")
    assert result.code == 3
    assert "target unavailable: factory 'pkg.nope:build': cannot import module 'pkg.nope'" in (
        result.err.replace("\n", " ")
    )


def test_importing_targets_and_knowledge_does_not_import_torch():
    code = (
        "import sys, weightfit.targets, weightfit.knowledge\n"
        "weightfit.knowledge.candidates_for_width(2304)\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules\n"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
