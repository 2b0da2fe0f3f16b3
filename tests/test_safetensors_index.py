"""Sharded safetensors: real indexes from huggingface_hub and transformers, and hostile ones."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from huggingface_hub import save_torch_state_dict
from safetensors import safe_open

import weightfit
from attacks import safetensors as attacks
from weightfit import errors

INDEX = "model.safetensors.index.json"


def tensor_bytes(tensor: torch.Tensor) -> bytes:
    return tensor.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def read_location(manifest: weightfit.Manifest, name: str) -> bytes:
    location = manifest[name].location
    with open(location.file, "rb") as handle:
        handle.seek(location.offset)
        return handle.read(location.length)


@pytest.fixture
def state_dict() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {
        "embed.weight": torch.randn(64, 32, generator=generator),
        "layers.0.attn.weight": torch.randn(32, 32, generator=generator).to(torch.bfloat16),
        "layers.0.norm.weight": torch.ones(32, dtype=torch.float16),
        "layers.1.attn.weight": torch.randn(32, 32, generator=generator).to(torch.bfloat16),
        "layers.1.norm.weight": torch.ones(32, dtype=torch.float16),
        "head.weight": torch.randn(64, 32, generator=generator),
        "step": torch.tensor(7),
    }


def test_every_field_of_a_hub_sharded_checkpoint(
    tmp_path: Path, state_dict: dict[str, torch.Tensor]
) -> None:
    save_torch_state_dict(state_dict, tmp_path, max_shard_size=9000)
    index = json.loads((tmp_path / INDEX).read_text())
    shards = list(dict.fromkeys(index["weight_map"].values()))
    assert len(shards) >= 3

    manifest = weightfit.read(tmp_path / INDEX)

    assert manifest.format == "safetensors-sharded"
    assert manifest.source == str(tmp_path / INDEX)
    assert manifest.files == [str(tmp_path / shard) for shard in shards]
    assert manifest.metadata == {
        "format": "pt",
        "total_size": str(index["metadata"]["total_size"]),
    }
    assert manifest.notes == []
    assert set(manifest) == set(state_dict)
    expected_order = []
    for shard in shards:
        with safe_open(tmp_path / shard, "pt") as handle:
            names = set(handle.keys())
        expected_order += [name for name in manifest if name in names]
        for name in names:
            assert manifest[name].location.file == str(tmp_path / shard)
    assert list(manifest) == expected_order
    for name, tensor in state_dict.items():
        spec = manifest[name]
        assert spec.shape == tuple(tensor.shape)
        assert spec.dtype == {torch.float32: "F32", torch.bfloat16: "BF16"}.get(
            tensor.dtype, {torch.float16: "F16", torch.int64: "I64"}.get(tensor.dtype)
        )
        assert read_location(manifest, name) == tensor_bytes(tensor)
    assert manifest.total_bytes == index["metadata"]["total_size"]


def test_a_transformers_model_saved_in_shards(tmp_path: Path) -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=100, n_positions=32)
    model = GPT2LMHeadModel(config)
    model.save_pretrained(tmp_path, max_shard_size="20KB")
    assert (tmp_path / INDEX).is_file()

    manifest = weightfit.read(tmp_path / INDEX)

    saved = {}
    for shard in sorted(tmp_path.glob("model-*.safetensors")):
        with safe_open(shard, "pt") as handle:
            names = handle.keys()
            saved.update({name: handle.get_tensor(name) for name in names})
    assert set(manifest) == set(saved)
    state = model.state_dict()
    for name, tensor in saved.items():
        assert manifest[name].shape == tuple(state[name].shape)
        assert read_location(manifest, name) == tensor_bytes(tensor)
    assert weightfit.read(tmp_path).tensors == manifest.tensors


def test_the_index_is_recognised_by_content_not_name(tmp_path: Path) -> None:
    attacks.shard(tmp_path, "model-00001-of-00001.safetensors", {"a": 4})
    path = tmp_path / "weights.json"
    path.write_text(json.dumps({"weight_map": {"a": "model-00001-of-00001.safetensors"}}))
    assert list(weightfit.read(path)) == ["a"]
    other = tmp_path / "config.safetensors.index.json"
    other.write_text(json.dumps({"hidden_size": 8}))
    with pytest.raises(errors.NotACheckpoint):
        weightfit.read(other)


def test_an_empty_index(tmp_path: Path) -> None:
    manifest = weightfit.read(attacks.index(tmp_path, {}))
    assert len(manifest) == 0 and manifest.format == "safetensors-sharded"


def test_shards_beside_the_index_but_not_in_it_are_noted(tmp_path: Path) -> None:
    attacks.shard(tmp_path, "model-00001-of-00003.safetensors", {"a": 4})
    attacks.shard(tmp_path, "model-00002-of-00003.safetensors", {"b": 4})
    attacks.shard(tmp_path, "model-00003-of-00003.safetensors", {"c": 4})
    attacks.shard(tmp_path, "model.fp16-00001-of-00001.safetensors", {"a": 4})
    attacks.shard(tmp_path, "other.safetensors", {"a": 4})
    path = attacks.index(
        tmp_path,
        {"a": "model-00001-of-00003.safetensors", "b": "model-00002-of-00003.safetensors"},
    )
    manifest = weightfit.read(path)
    assert list(manifest) == ["a", "b"]
    assert manifest.notes == [
        "1 shard file(s) here are not in the index: model-00003-of-00003.safetensors"
    ]


def test_a_wrong_total_size_is_noted(tmp_path: Path) -> None:
    attacks.shard(tmp_path, "model-00001-of-00001.safetensors", {"a": 4, "b": 6})
    weight_map = dict.fromkeys(("a", "b"), "model-00001-of-00001.safetensors")
    manifest = weightfit.read(attacks.index(tmp_path, weight_map, total_size=11))
    assert manifest.notes == ["index metadata total_size is 11, but its tensors hold 10 bytes"]


def test_metadata_precedence(tmp_path: Path) -> None:
    for number, value in ((1, "one"), (2, "two")):
        header = {
            "__metadata__": {"format": "pt", "origin": value},
            f"t{number}": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
        }
        attacks.table(tmp_path / f"model-0000{number}-of-00002.safetensors", header, b"x")
    weight_map = {f"t{n}": f"model-0000{n}-of-00002.safetensors" for n in (1, 2)}
    manifest = weightfit.read(attacks.index(tmp_path, weight_map, total_size=2, format="index"))
    assert manifest.metadata == {"format": "index", "origin": "one", "total_size": "2"}
    assert manifest.notes == [
        "model-00002-of-00002.safetensors: __metadata__ 'origin' is 'two', "
        "not 'one' as in an earlier shard"
    ]


ATTACKS: list[tuple[Callable[[Path], Path], type[errors.InputError], str]] = [
    (
        attacks.index_names_missing_shard,
        errors.InconsistentShardIndex,
        "{index}: inconsistent shard index: shard 'model-00002-of-00002.safetensors' "
        "named by the index does not exist",
    ),
    (
        attacks.index_points_at_wrong_shard,
        errors.InconsistentShardIndex,
        "{index}: inconsistent shard index: tensor 'b' is in 'model-00001-of-00002.safetensors', "
        "but the index puts it in 'model-00002-of-00002.safetensors'",
    ),
    (
        attacks.index_tensor_in_no_shard,
        errors.InconsistentShardIndex,
        "{index}: inconsistent shard index: tensor 'ghost' is not in "
        "'model-00001-of-00001.safetensors', where the index puts it, nor in any other shard the "
        "index names",
    ),
    (
        attacks.tensor_in_two_shards,
        errors.InconsistentShardIndex,
        "{index}: inconsistent shard index: tensor 'a' is in two shards, "
        "'model-00001-of-00002.safetensors' and 'model-00002-of-00002.safetensors'",
    ),
    (
        attacks.shard_tensor_missing_from_index,
        errors.InconsistentShardIndex,
        "{index}: inconsistent shard index: 1 tensor(s) in the shards are not in the index, "
        "e.g. 'extra' in 'model-00001-of-00001.safetensors'",
    ),
    (
        attacks.shard_name_escapes_folder,
        errors.InvalidHeader,
        "{index}: invalid header: shard name '../outside.safetensors' leaves the index's folder",
    ),
    (
        attacks.weight_map_not_an_object,
        errors.InvalidHeader,
        "{index}: invalid header: index has no 'weight_map' object",
    ),
    (
        attacks.weight_map_value_not_a_name,
        errors.InvalidHeader,
        "{index}: invalid header: index maps 'a' to list ['model-00001-of-00001.safetensors'], "
        "not a shard file name",
    ),
    (
        attacks.broken_shard,
        errors.TruncatedFile,
        "{folder}/model-00001-of-00001.safetensors: truncated file: header length 1000 runs "
        "past the end of the 16-byte file (at byte 0)",
    ),
]


@pytest.mark.parametrize(
    ("build", "error", "message"), ATTACKS, ids=[build.__name__ for build, _, _ in ATTACKS]
)
def test_hostile_index(
    tmp_path: Path,
    run_cli,
    build: Callable[[Path], Path],
    error: type[errors.InputError],
    message: str,
) -> None:
    path = build(tmp_path)
    expected = message.format(index=path, folder=tmp_path)
    with pytest.raises(error) as caught:
        weightfit.read(path)
    assert type(caught.value) is error
    assert str(caught.value) == expected
    result = run_cli("inspect", path)
    assert result.code == 3
    assert f"error: {expected}" in result.err.replace("\n", "")


def test_an_index_that_is_not_json(tmp_path: Path, run_cli) -> None:
    path = tmp_path / INDEX
    path.write_text('{"weight_map": {"a": ')
    with pytest.raises(errors.InvalidHeader) as caught:
        weightfit.read(path)
    assert str(caught.value) == f"{path}: invalid header: invalid JSON (Expecting value at char 21)"
    assert run_cli("inspect", path).code == 3
