"""Model folders saved by the real libraries, read header-only through ``weightfit.read``."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import torch

import weightfit
from weightfit.dtypes import canonical
from weightfit.errors import (
    ContainerKeyNotFound,
    InvalidHeader,
    NotACheckpoint,
    VariantNotFound,
)
from weightfit.manifest import Manifest


def expected(state_dict: dict[str, torch.Tensor], prefix: str = "") -> dict[str, object]:
    return {
        prefix + name: (tuple(t.shape), canonical(str(t.dtype))) for name, t in state_dict.items()
    }


def seen(manifest: Manifest) -> dict[str, object]:
    return {name: (spec.shape, spec.dtype) for name, spec in manifest.tensors.items()}


def tiny_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=3,
        num_attention_heads=2,
        num_key_value_heads=1,
        tie_word_embeddings=False,
    )
    return LlamaForCausalLM(config)


def tiny_vae():
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(8, 16),
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=8,
        layers_per_block=1,
    )


@pytest.fixture(scope="module")
def llama_folder(tmp_path_factory: pytest.TempPathFactory):
    """A transformers folder: fp32 in shards with an index, plus a bf16 single file."""
    folder = tmp_path_factory.mktemp("llama")
    model = tiny_llama()
    model.save_pretrained(folder, max_shard_size="8KB")
    fp32 = {k: v.clone() for k, v in model.state_dict().items()}
    model.to(torch.bfloat16).save_pretrained(folder, variant="bf16")
    return folder, fp32, model.state_dict()


@pytest.fixture(scope="module")
def pipeline_folder(tmp_path_factory: pytest.TempPathFactory):
    """A pipeline-like root: model_index.json, vae (+fp16), text_encoder, scheduler."""
    from diffusers import DDIMScheduler
    from transformers import CLIPTextConfig, CLIPTextModel

    root = tmp_path_factory.mktemp("pipeline")
    vae = tiny_vae()
    vae.save_pretrained(root / "vae")
    vae_fp32 = {k: v.clone() for k, v in vae.state_dict().items()}
    vae.to(torch.float16).save_pretrained(root / "vae", variant="fp16")
    encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=50,
            hidden_size=8,
            intermediate_size=16,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=16,
        )
    )
    encoder.save_pretrained(root / "text_encoder")
    DDIMScheduler().save_pretrained(root / "scheduler")
    model_index = {
        "_class_name": "StableDiffusionPipeline",
        "_diffusers_version": "0.42.1",
        "scheduler": ["diffusers", "DDIMScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": [None, None],
        "vae": ["diffusers", "AutoencoderKL"],
    }
    (root / "model_index.json").write_text(json.dumps(model_index))
    return root, vae_fp32, vae.state_dict(), encoder.state_dict()


def test_transformers_folder_reads_the_unlabelled_shards(llama_folder) -> None:
    folder, fp32, _ = llama_folder
    manifest = weightfit.read(folder)
    assert manifest.format == "transformers-folder"
    assert manifest.source == str(folder)
    assert seen(manifest) == expected(fp32)
    assert manifest.config == json.loads((folder / "config.json").read_text())
    shards = sorted(str(p) for p in folder.glob("model-*-of-*.safetensors"))
    assert len(shards) > 1 and sorted(manifest.files) == shards
    assert manifest.notes[:2] == [
        f"read weight set model (safetensors, {len(shards)} shards + index): unlabelled",
        "other weight sets here: model.bf16 (safetensors, 1 file)",
    ]
    sets = manifest.extras["weight_sets"]
    assert [(s["variant"], s["chosen"]) for s in sets] == [(None, True), ("bf16", False)]
    assert sets[0]["index"] == "model.safetensors.index.json"


def test_transformers_folder_variant_bf16(llama_folder) -> None:
    folder, _, bf16 = llama_folder
    manifest = weightfit.read(folder, variant="bf16")
    assert seen(manifest) == expected(bf16)
    assert {spec.dtype for spec in manifest.tensors.values()} == {"BF16"}
    assert manifest.files == [str(folder / "model.bf16.safetensors")]
    assert manifest.extras["file_format"] == "safetensors"
    assert (
        manifest.notes[0]
        == "read weight set model.bf16 (safetensors, 1 file): variant 'bf16' as asked"
    )


def test_missing_variant_lists_what_exists(llama_folder, run_cli) -> None:
    folder, _, _ = llama_folder
    shards = len(list(folder.glob("model-*-of-*.safetensors")))
    message = (
        f"{folder}: variant not found: no 'fp16' weights; found: model (safetensors, "
        f"{shards} shards + index), model.bf16 (safetensors, 1 file)"
    )
    with pytest.raises(VariantNotFound) as caught:
        weightfit.read(folder, variant="fp16")
    assert str(caught.value) == message
    result = run_cli("inspect", folder, "--variant", "fp16")
    assert result.code == 3
    assert result.err.splitlines()[0] == f"error: {message}"


def test_a_damaged_index_in_a_folder_is_a_bad_index(llama_folder, tmp_path: Path, run_cli) -> None:
    """The folder's layout names the index: damaged JSON is an invalid header, not unknown bytes."""
    folder = tmp_path / "llama"
    shutil.copytree(llama_folder[0], folder)
    index = folder / "model.safetensors.index.json"
    index.write_text("{not json")
    result = run_cli("inspect", folder)
    assert result.code == 3
    assert result.err.splitlines()[0] == (
        f"error: {index}: invalid header: invalid JSON (Expecting property name enclosed in "
        "double quotes at char 1)"
    )


def test_bin_beside_safetensors(tmp_path: Path) -> None:
    model = tiny_llama()
    model.save_pretrained(tmp_path)
    # How transformers < 4.35 (and every model repo of that time) wrote its pickles.
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    default = weightfit.read(tmp_path)
    assert default.files == [str(tmp_path / "model.safetensors")]
    assert default.notes[0] == (
        "read weight set model (safetensors, 1 file): unlabelled, safetensors preferred"
    )
    pickled = weightfit.read(tmp_path, weights_format="pickle")
    assert pickled.format == "transformers-folder"
    assert pickled.files == [str(tmp_path / "pytorch_model.bin")]
    assert seen(pickled) == seen(default) == expected(model.state_dict())
    assert pickled.security == "safe"


def test_sharded_pickles_with_an_index(tmp_path: Path) -> None:
    from huggingface_hub import save_torch_state_dict

    state_dict = {f"blocks.{i}.w": torch.randn(16, 16) for i in range(4)}
    save_torch_state_dict(state_dict, tmp_path, safe_serialization=False, max_shard_size="2KB")
    manifest = weightfit.read(tmp_path)
    assert manifest.format == "folder"
    assert seen(manifest) == expected(state_dict)
    assert len(manifest.files) == 4
    assert manifest.extras["weight_sets"][0]["index"] == "pytorch_model.bin.index.json"


def test_a_pickle_shard_index_that_misplaces_a_tensor(tmp_path: Path, run_cli) -> None:
    """transformers opens only the shards the index names: a misplaced tensor would go missing."""
    from huggingface_hub import save_torch_state_dict

    state_dict = {f"blocks.{i}.w": torch.randn(16, 16) for i in range(4)}
    save_torch_state_dict(state_dict, tmp_path, safe_serialization=False, max_shard_size="2KB")
    index = tmp_path / "pytorch_model.bin.index.json"
    data = json.loads(index.read_text())
    right = data["weight_map"]["blocks.3.w"]
    wrong = data["weight_map"]["blocks.3.w"] = data["weight_map"]["blocks.0.w"]
    index.write_text(json.dumps(data))
    result = run_cli("inspect", tmp_path)
    assert result.code == 3
    assert result.err.splitlines()[0] == (
        f"error: {index}: inconsistent shard index: tensor 'blocks.3.w' is in {right!r}, "
        f"but the index puts it in {wrong!r}"
    )


def test_diffusers_component(tmp_path: Path) -> None:
    vae = tiny_vae()
    vae.save_pretrained(tmp_path)
    manifest = weightfit.read(tmp_path)
    assert manifest.format == "diffusers-component"
    assert manifest.config is not None and manifest.config["_class_name"] == "AutoencoderKL"
    assert seen(manifest) == expected(vae.state_dict())


def test_diffusers_component_prefers_its_sharded_set(tmp_path: Path) -> None:
    vae = tiny_vae()
    vae.save_pretrained(tmp_path, max_shard_size="20KB")
    shutil.copy(
        tmp_path
        / "diffusion_pytorch_model-00001-of-{:05d}.safetensors".format(
            len(list(tmp_path.glob("*-of-*.safetensors")))
        ),
        tmp_path / "diffusion_pytorch_model.safetensors",
    )
    manifest = weightfit.read(tmp_path)
    assert manifest.notes[0].endswith(": unlabelled, sharded preferred")
    assert seen(manifest) == expected(vae.state_dict())


def test_pipeline_root_prefixes_each_component(pipeline_folder) -> None:
    root, vae_fp32, _, encoder = pipeline_folder
    manifest = weightfit.read(root)
    assert manifest.format == "diffusers-pipeline"
    assert seen(manifest) == {**expected(encoder, "text_encoder."), **expected(vae_fp32, "vae.")}
    assert next(iter(manifest.tensors)).startswith("text_encoder.")
    assert (
        manifest.config is not None and manifest.config["_class_name"] == "StableDiffusionPipeline"
    )
    components = manifest.extras["components"]
    assert list(components) == ["scheduler", "text_encoder", "vae"]
    assert components["scheduler"] == {
        "library": "diffusers",
        "class": "DDIMScheduler",
        "weights": False,
    }
    assert components["vae"]["format"] == "diffusers-component"
    assert components["vae"]["tensors"] == len(vae_fp32)
    assert components["text_encoder"]["format"] == "transformers-folder"
    assert "vae: other weight sets here: diffusion_pytorch_model.fp16 (safetensors, 1 file)" in (
        manifest.notes
    )


def test_pipeline_variant_falls_back_per_component(pipeline_folder) -> None:
    root, _, vae_fp16, encoder = pipeline_folder
    manifest = weightfit.read(root, variant="fp16")
    assert seen(manifest) == {**expected(encoder, "text_encoder."), **expected(vae_fp16, "vae.")}
    assert "text_encoder: no 'fp16' weights; read the unlabelled set" in manifest.notes
    assert manifest.extras["components"]["vae"]["variant"] == "fp16"
    assert manifest.extras["components"]["text_encoder"]["variant"] is None


def test_pipeline_variant_nowhere(pipeline_folder) -> None:
    root = pipeline_folder[0]
    with pytest.raises(VariantNotFound) as caught:
        weightfit.read(root, variant="bf16")
    assert str(caught.value) == f"{root}: variant not found: no component has 'bf16' weights"


def test_pipeline_key_reads_one_component(pipeline_folder) -> None:
    root, vae_fp32, _, _ = pipeline_folder
    manifest = weightfit.read(root, key="vae")
    assert manifest.format == "diffusers-component"
    assert manifest.source == str(root / "vae")
    assert seen(manifest) == expected(vae_fp32)
    with pytest.raises(ContainerKeyNotFound) as caught:
        weightfit.read(root, key="unet")
    assert str(caught.value) == (
        f"{root}: container key not found: no component 'unet'; "
        "components: scheduler, text_encoder, vae"
    )


def test_peft_adapter(tmp_path: Path) -> None:
    from peft import LoraConfig, get_peft_model, get_peft_model_state_dict

    model = get_peft_model(tiny_llama(), LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    model.save_pretrained(tmp_path)
    manifest = weightfit.read(tmp_path)
    assert manifest.format == "peft-adapter"
    assert seen(manifest) == expected(get_peft_model_state_dict(model))
    assert manifest.config is not None and manifest.config["peft_type"] == "LORA"
    assert manifest.files == [str(tmp_path / "adapter_model.safetensors")]


def test_a_deleted_pickle_shard_is_named(tmp_path: Path, run_cli) -> None:
    """accelerate's save_model in .bin shards, one shard gone: named, as for safetensors."""
    from accelerate import Accelerator

    model = torch.nn.Sequential(*(torch.nn.Linear(8, 8) for _ in range(4)))
    Accelerator(cpu=True).save_model(model, tmp_path, max_shard_size=400, safe_serialization=False)
    shard = sorted(tmp_path.glob("pytorch_model-*-of-*.bin"))[1]
    shard.unlink()
    result = run_cli("inspect", tmp_path)
    assert result.code == 3
    assert result.err.splitlines()[0] == (
        f"error: {tmp_path / 'pytorch_model.bin.index.json'}: inconsistent shard index: "
        f"shard {shard.name!r} named by the index does not exist"
    )


def test_bare_folder_with_one_checkpoint_and_trainer_state(tmp_path: Path) -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
    optimizer = torch.optim.AdamW(model.parameters())
    torch.save(model.state_dict(), tmp_path / "last.pth")
    torch.save(optimizer.state_dict(), tmp_path / "optimizer.pt")
    manifest = weightfit.read(tmp_path)
    assert manifest.format == "folder"
    assert manifest.config is None
    assert seen(manifest) == expected(model.state_dict())
    assert manifest.notes[:2] == [
        "read weight set last (pickle, 1 file): unlabelled, prefix 'last' preferred",
        "other weight sets here: optimizer (pickle, 1 file)",
    ]


def test_folder_without_weights_names_subfolders_that_have_some(tmp_path: Path, run_cli) -> None:
    (tmp_path / "checkpoint-500").mkdir()
    torch.save({"w": torch.zeros(2)}, tmp_path / "checkpoint-500" / "model.pt")
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    with pytest.raises(NotACheckpoint) as caught:
        weightfit.read(tmp_path)
    message = (
        f"{tmp_path}: not a checkpoint: transformers-folder config but no weight files; "
        "subfolders with weights: checkpoint-500"
    )
    assert str(caught.value) == message
    result = run_cli("inspect", tmp_path)
    assert (result.code, result.err.splitlines()[0]) == (3, f"error: {message}")


def test_folder_with_weights_only_in_subfolders_names_them(tmp_path: Path, run_cli) -> None:
    """No config here either: a pipeline copied without model_index.json, a runs folder."""
    from safetensors.torch import save_file

    (tmp_path / "unet").mkdir()
    save_file({"w": torch.zeros(2)}, tmp_path / "unet" / "diffusion_pytorch_model.safetensors")
    result = run_cli("inspect", tmp_path)
    assert (result.code, result.err.splitlines()[0]) == (
        3,
        f"error: {tmp_path}: not a checkpoint: no weight files; subfolders with weights: unet",
    )


def test_empty_folder(tmp_path: Path, run_cli) -> None:
    result = run_cli("inspect", tmp_path)
    assert result.code == 3
    assert result.err.splitlines()[0] == (
        f"error: {tmp_path}: not a checkpoint: folder holds no weights weightfit can read"
    )


def test_invalid_config_json(tmp_path: Path, run_cli) -> None:
    torch.save({"w": torch.zeros(2)}, tmp_path / "model.pt")
    (tmp_path / "config.json").write_text('{"model_type": ')
    with pytest.raises(InvalidHeader) as caught:
        weightfit.read(tmp_path)
    message = (
        f"{tmp_path / 'config.json'}: invalid header: invalid JSON (Expecting value at char 15)"
    )
    assert str(caught.value) == message
    assert run_cli("inspect", tmp_path).code == 3


def test_config_json_that_is_not_an_object(tmp_path: Path) -> None:
    torch.save({"w": torch.zeros(2)}, tmp_path / "model.pt")
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(InvalidHeader) as caught:
        weightfit.read(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path / 'config.json'}: invalid header: expected a JSON object, found list"
    )


def test_a_pipeline_keeps_how_each_components_bytes_decode(tmp_path: Path) -> None:
    """A component's neg view (torch.save keeps its storage and a flag) stays one in a pipeline."""
    root = tmp_path / "pipeline"
    vae = tiny_vae()
    vae.save_config(root / "vae")
    state = {**vae.state_dict(), "extra.im": torch.randn(4, dtype=torch.complex64).conj().imag}
    assert state["extra.im"].is_neg()
    torch.save(state, root / "vae" / "diffusion_pytorch_model.bin")
    index = {"_class_name": "StableDiffusionPipeline", "vae": ["diffusers", "AutoencoderKL"]}
    (root / "model_index.json").write_text(json.dumps(index))

    alone = weightfit.read(root / "vae").tensors["extra.im"]
    within = weightfit.read(root).tensors["vae.extra.im"]
    assert "neg" in alone.decode
    assert within == dataclasses.replace(alone, name="vae.extra.im")
