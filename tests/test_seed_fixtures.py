"""The seed-case builders in ``tests/seeds.py`` give what the seeds describe."""

from __future__ import annotations

import json
import re

import pytest
import torch
import transformers
from safetensors import safe_open

import seeds
import weightfit
from weightfit.targets import resolve

SPARSE_LIMIT = 2 * 1024 * 1024
"""Most disk a sparse fixture may use (headers and indexes only)."""


def disk_bytes(path):
    return path.stat().st_blocks * 512


def header(path):
    with safe_open(path, "pt") as handle:
        slices = {name: handle.get_slice(name) for name in handle.keys()}  # noqa: SIM118
        return {name: (tuple(s.get_shape()), s.get_dtype()) for name, s in slices.items()}


@pytest.mark.parametrize(
    ("case", "checkpoint", "model"), [(1, 318, 318), (2, 292, 293), (3, 396, 396), (4, 130, 419)]
)
def test_seed_manifests_have_the_seed_counts(case, checkpoint, model):
    ckpt, target = seeds.seed_manifest(case, "checkpoint"), seeds.seed_manifest(case, "model")
    assert (len(ckpt), len(target)) == (checkpoint, model)
    assert all(spec.is_buffer is None for spec in ckpt.tensors.values())
    assert all(spec.is_buffer is not None for spec in target.tensors.values())
    assert ckpt.source == f"seed case {case} checkpoint"


def test_seed_manifest_dtypes_and_buffers():
    model = seeds.seed_manifest(1, "model")
    assert model["pos_embed"].is_buffer is True
    assert model["y_embedder.y_embedding"].is_buffer is True
    assert model["x_embedder.proj.weight"].is_buffer is False
    assert model["x_embedder.proj.weight"].dtype == "BF16"
    assert seeds.seed_manifest(1, "checkpoint")["y_embedder.y_embedding"].shape == (300, 2304)
    assert model["y_embedder.y_embedding"].shape == (300, 1536)
    assert seeds.seed_manifest(2, "model")["pos_embed_temporal"].is_buffer is True


def test_sparse_safetensors_is_valid_full_size_and_takes_no_disk(tmp_path):
    tensors = {"a": ((1000, 1000, 100), "F32"), "b": ((3,), "bfloat16"), "c": ((), "I64")}
    path = seeds.write_sparse_safetensors(tmp_path / "x.safetensors", tensors, metadata={"k": "v"})
    data = 4 * 10**8 + 6 + 8
    raw_header = path.read_bytes()[:4096]
    size = int.from_bytes(raw_header[:8], "little")
    assert size % 8 == 0
    assert path.stat().st_size == 8 + size + data
    assert disk_bytes(path) < SPARSE_LIMIT
    assert header(path) == {
        "a": ((1000, 1000, 100), "F32"), "b": ((3,), "BF16"), "c": ((), "I64")
    }  # fmt: skip
    with safe_open(path, "pt") as handle:
        assert handle.metadata() == {"k": "v"}
        assert handle.get_tensor("b").tolist() == [0.0, 0.0, 0.0]
    manifest = weightfit.read(path)
    assert manifest.shapes() == {"a": (1000, 1000, 100), "b": (3,), "c": ()}


def test_sparse_shards_and_index_follow_the_hub_rule(tmp_path):
    tensors = {f"w{i}": ((250, 1000, 1000), "F32") for i in range(6)}  # 1 GB each
    index = seeds.write_sparse_sharded(tmp_path, tensors, variant="fp32")
    assert index.name == "model.safetensors.index.fp32.json"
    body = json.loads(index.read_text())
    assert body["metadata"]["total_size"] == 6 * 10**9
    files = sorted(set(body["weight_map"].values()))
    assert files == [
        "model.fp32-00001-of-00002.safetensors",
        "model.fp32-00002-of-00002.safetensors",
    ]
    assert list(header(tmp_path / files[0])) == ["w0", "w1", "w2", "w3", "w4"]
    assert weightfit.read(index).shapes() == {n: s for n, (s, _) in tensors.items()}


# --- case 1 ------------------------------------------------------------------------------


def test_case1_sparse_checkpoint_has_the_real_size(tmp_path):
    path = seeds.case1_checkpoint(tmp_path)
    manifest = weightfit.read(path)
    assert len(manifest) == 318
    assert manifest.total_bytes == 6_429_790_848  # the seed's size check
    assert manifest["y_embedder.y_proj.fc1.weight"].shape == (2240, 2304)
    assert disk_bytes(path) < SPARSE_LIMIT


def test_case1_pth_is_a_real_state_dict_container_at_scaled_shapes(tmp_path):
    path = seeds.case1_pth(tmp_path)
    manifest = weightfit.read(path)
    assert manifest.container == "state_dict"
    assert list(manifest.tensors) == list(seeds.seed_manifest(1, "checkpoint").tensors)
    assert manifest["y_embedder.y_proj.fc1.weight"].shape == (32, 33)
    scaled = seeds.case1_scaled_model()
    assert scaled["y_embedder.y_proj.fc1.weight"].shape == (32, 22)
    differing = [n for n in scaled if scaled[n].shape != manifest[n].shape]
    assert differing == ["y_embedder.y_embedding", "y_embedder.y_proj.fc1.weight"]


def test_case1_diffusers_analog_fails_on_the_caption_projection_only(tmp_path):
    case = seeds.case1_diffusers(tmp_path)
    checkpoint = weightfit.read(case.checkpoint)
    model = resolve(case.target)
    assert model.format == "diffusers-config"
    assert list(model.tensors) == list(checkpoint.tensors)
    differing = {n: (checkpoint[n].shape, model[n].shape) for n in model if
                 checkpoint[n].shape != model[n].shape}  # fmt: skip
    assert differing == {"caption_projection.linear_1.weight": ((2240, 2304), (2240, 1536))}
    # the seed's diffusers manifest is exactly what the real class builds at 2304
    assert resolve(case.folder / "config.json").shapes() == checkpoint.shapes()


# --- case 2 ------------------------------------------------------------------------------


def test_case2_sparse_checkpoint_has_the_real_size(tmp_path):
    manifest = weightfit.read(seeds.case2_checkpoint(tmp_path))
    assert len(manifest) == 292
    assert manifest.total_bytes == 2_700_518_528
    assert manifest.num_params == 675_129_632
    assert manifest["x_embedder.proj.weight"].shape == (1152, 4, 2, 2)


def _templates(names):
    return {re.sub(r"\.\d+\.", ".{i}.", name) for name in names}


def test_case2_tiny_dits_mirror_the_seed_names():
    small_2d, small_3d = seeds.tiny_dit2d(), seeds.tiny_dit3d()
    assert _templates(small_2d.state_dict()) == _templates(seeds.seed_manifest(2, "checkpoint"))
    assert _templates(small_3d.state_dict()) == _templates(seeds.seed_manifest(2, "model"))
    assert small_2d.state_dict()["x_embedder.proj.weight"].shape == (16, 4, 2, 2)
    assert small_3d.state_dict()["x_embedder.proj.weight"].shape == (16, 4, 1, 2, 2)


def test_case2_unsqueezed_kernel_makes_the_3d_model_equal_the_2d_one():
    torch.manual_seed(0)
    flat, video = seeds.tiny_dit2d(), seeds.tiny_dit3d()
    state = {k: v for k, v in flat.state_dict().items() if k != "pos_embed"}
    state["x_embedder.proj.weight"] = state["x_embedder.proj.weight"].unsqueeze(2)
    result = video.load_state_dict(state, strict=False)
    assert result.missing_keys == ["pos_embed_spatial", "pos_embed_temporal"]
    x, t, y = torch.randn(2, 4, 8, 8), torch.tensor([3, 700]), torch.tensor([1, 10])
    with torch.no_grad():
        expected, got = flat(x, t, y), video(x[:, :, None], t, y)
    assert got.shape == (2, 8, 1, 8, 8)
    torch.testing.assert_close(got[:, :, 0], expected, rtol=0, atol=1e-6)


def test_case2_factory_targets_resolve_on_meta():
    manifest = resolve("seeds:tiny_dit3d")
    assert manifest["x_embedder.proj.weight"].shape == (16, 4, 1, 2, 2)
    assert len(manifest) == 33


# --- case 3 ------------------------------------------------------------------------------


def test_case3_folder_has_the_real_layout_sizes_and_dtypes(tmp_path):
    root = seeds.case3_folder(tmp_path)
    seed = seeds.seed_json(3)
    listed = {
        f"{folder}/{entry['name']}" if folder != "/" else entry["name"]
        for folder, entries in seed["file_layout"].items()
        for entry in entries
    }
    written = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    assert written == listed - {"tokenizer/tokenizer.json", "tokenizer/tokenizer.model"}
    assert sum(disk_bytes(p) for p in root.rglob("*")) < 10 * SPARSE_LIMIT

    transformer = root / "transformer"
    shards = seed["file_layout"]["transformer"]
    for entry in shards[1:3]:
        data = weightfit.read(transformer / entry["name"]).total_bytes
        assert data == entry["bytes_simulated"]
    bf16 = weightfit.read(transformer / "diffusion_pytorch_model.bf16.safetensors")
    assert (bf16.total_bytes, bf16.bytes_by_dtype()) == (3_208_925_504, {"BF16": 3_208_925_504})
    index = json.loads((transformer / "diffusion_pytorch_model.safetensors.index.json").read_text())
    assert index["metadata"]["total_size"] == 6_417_851_008

    for name in ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bf16.safetensors"):
        vae = weightfit.read(root / "vae" / name)
        assert set(vae.bytes_by_dtype()) == {"F32"}  # the "bf16" file holds F32
        assert vae.num_params == 312_250_275

    text = root / "text_encoder"
    for name, kb in (
        ("model.safetensors.index.json", 22.5),
        ("model.safetensors.index.bf16.json", 23.9),
    ):
        assert round((text / name).stat().st_size / 1000, 1) == kb
    sizes = sorted(p.stat().st_size for p in text.glob("model-*.safetensors"))
    assert [round(s / 10**9, 2) for s in sizes] == [0.24, 4.99]


def test_case3_text_encoder_names_are_the_real_gemma2_model():
    built = resolve(transformers.Gemma2Model, config=seeds.GEMMA2_2B)
    hand = seeds.gemma2_2b_tensors("F32")
    assert list(built.tensors) == list(hand)
    assert {n: s.shape for n, s in built.tensors.items()} == {n: s for n, (s, _) in hand.items()}
    assert built.extras["parameters"] == 2_614_341_888


def test_case3_variant_read_picks_the_bf16_file(tmp_path):
    root = seeds.case3_folder(tmp_path, text_encoder=False, vae=False)
    manifest = weightfit.read(root / "transformer", variant="bf16")
    assert len(manifest) == 396
    assert set(manifest.bytes_by_dtype()) == {"BF16"}


# --- case 4 ------------------------------------------------------------------------------


def test_case4_adapter_folder(tmp_path):
    folder = seeds.case4_adapter_folder(tmp_path)
    config = json.loads((folder / "adapter_config.json").read_text())
    assert (config["r"], config["target_modules"]) == (16, ["q_proj", "v_proj"])
    adapter = weightfit.read(folder / "adapter_model.safetensors")
    model = seeds.seed_manifest(4, "model")
    for name, shapes in seeds.seed_json(4)["mismatched_tensors"].items():
        assert adapter[name].shape == tuple(shapes["checkpoint"])
        assert model[name].shape == tuple(shapes["model"])


def test_case4_real_peft_adapter_after_adding_a_token(tmp_path):
    case = seeds.build_case4_peft(tmp_path, vocab=1000, added=1, pad_to_multiple_of=8)
    assert (case.base_vocab, case.new_vocab) == (1000, 1008)
    adapter = header(case.adapter / "adapter_model.safetensors")
    assert adapter["base_model.model.model.embed_tokens.weight"][0] == (1008, 32)
    assert adapter["base_model.model.lm_head.weight"][0] == (1008, 32)
    assert adapter["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"][0] == (4, 32)
    lora_b = "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"
    with safe_open(case.adapter / "adapter_model.safetensors", "pt") as handle:
        assert handle.get_tensor(lora_b).abs().sum() > 0  # one training step moved B
    base = header(case.base / "model.safetensors")
    assert base["model.embed_tokens.weight"][0] == (1000, 32)
    config = json.loads((case.adapter / "adapter_config.json").read_text())
    assert sorted(config["modules_to_save"]) == ["embed_tokens", "lm_head"]
