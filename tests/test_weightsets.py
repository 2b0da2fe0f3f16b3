"""Weight-set discovery: file names grouped by prefix, variant, format and sharding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from weightfit.errors import CheckpointNotFound, VariantNotFound
from weightfit.weightsets import (
    IndexFile,
    WeightFile,
    WeightSet,
    discover,
    group,
    parse_name,
    select,
)

# transformer/ of Efficient-Large-Model/Sana_1600M_2Kpx_BF16_diffusers (seed case 3).
SANA_TRANSFORMER = {
    "config.json": 526,
    "diffusion_pytorch_model-00001-of-00002.safetensors": 4_999_733_760,
    "diffusion_pytorch_model-00002-of-00002.safetensors": 1_418_117_248,
    "diffusion_pytorch_model.bf16.safetensors": 3_208_925_504,
    "diffusion_pytorch_model.safetensors.index.json": 40_200,
}


def labels(sets: list[WeightSet]) -> list[str]:
    return [s.label for s in sets]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "model.safetensors",
            WeightFile("model.safetensors", "model", None, "safetensors", "single"),
        ),
        (
            "model.bf16.safetensors",
            WeightFile("model.bf16.safetensors", "model", "bf16", "safetensors", "single"),
        ),
        (
            "model-00001-of-00002.safetensors",
            WeightFile(
                "model-00001-of-00002.safetensors", "model", None, "safetensors", "sharded", 1, 2
            ),
        ),
        (
            "model.fp16-00002-of-00002.safetensors",
            WeightFile(
                "model.fp16-00002-of-00002.safetensors",
                "model",
                "fp16",
                "safetensors",
                "sharded",
                2,
                2,
            ),
        ),
        (
            "diffusion_pytorch_model-00001-of-00003.fp16.safetensors",
            WeightFile(
                "diffusion_pytorch_model-00001-of-00003.fp16.safetensors",
                "diffusion_pytorch_model",
                "fp16",
                "safetensors",
                "legacy-sharded",
                1,
                3,
            ),
        ),
        (
            "pytorch_model.bin",
            WeightFile("pytorch_model.bin", "pytorch_model", None, "pickle", "single"),
        ),
        ("last.ckpt", WeightFile("last.ckpt", "last", None, "pickle", "single")),
        ("ggml-model.gguf", WeightFile("ggml-model.gguf", "ggml-model", None, "gguf", "single")),
        # A dotted stem that is not a variant stays whole.
        (
            "sd-v1.5.safetensors",
            WeightFile("sd-v1.5.safetensors", "sd-v1.5", None, "safetensors", "single"),
        ),
        # After an unknown prefix only known labels count as variants.
        (
            "unet.fp16.safetensors",
            WeightFile("unet.fp16.safetensors", "unet", "fp16", "safetensors", "single"),
        ),
        (
            "model.safetensors.index.json",
            IndexFile("model.safetensors.index.json", "model", None, "safetensors"),
        ),
        (
            "model.safetensors.index.bf16.json",
            IndexFile("model.safetensors.index.bf16.json", "model", "bf16", "safetensors"),
        ),
        (
            "diffusion_pytorch_model.safetensors.fp16.index.json",
            IndexFile(
                "diffusion_pytorch_model.safetensors.fp16.index.json",
                "diffusion_pytorch_model",
                "fp16",
                "safetensors",
                legacy=True,
            ),
        ),
        (
            "pytorch_model.bin.index.json",
            IndexFile("pytorch_model.bin.index.json", "pytorch_model", None, "pickle"),
        ),
        ("config.json", None),
        ("tokenizer.model", None),
        ("README.md", None),
        ("model.onnx", None),
    ],
)
def test_parse_name(name: str, expected: object) -> None:
    assert parse_name(name) == expected


def test_seed3_sana_transformer_folder_has_two_sets() -> None:
    sets = group(SANA_TRANSFORMER, folder="transformer", sizes=SANA_TRANSFORMER)
    assert labels(sets) == [
        "diffusion_pytorch_model (safetensors, 2 shards + index)",
        "diffusion_pytorch_model.bf16 (safetensors, 1 file)",
    ]
    fp32, bf16 = sets
    assert fp32.files == (
        "diffusion_pytorch_model-00001-of-00002.safetensors",
        "diffusion_pytorch_model-00002-of-00002.safetensors",
    )
    assert fp32.index == "diffusion_pytorch_model.safetensors.index.json"
    assert fp32.total_bytes == 6_417_851_008
    assert fp32.sharded and fp32.shards == 2 and fp32.missing_shards == []
    assert bf16.variant == "bf16" and bf16.index is None and bf16.total_bytes == 3_208_925_504
    assert fp32.paths[0] == Path("transformer/diffusion_pytorch_model-00001-of-00002.safetensors")
    assert fp32.index_path == Path("transformer/diffusion_pytorch_model.safetensors.index.json")


def test_seed3_selection_by_variant() -> None:
    sets = group(SANA_TRANSFORMER, folder="transformer")
    chosen, reason = select(sets, variant="bf16", prefer_sharded=True)
    assert chosen.label == "diffusion_pytorch_model.bf16 (safetensors, 1 file)"
    assert reason == "variant 'bf16' as asked"
    chosen, reason = select(sets, prefer_sharded=True)
    assert chosen.variant is None and reason == "unlabelled"


def test_text_encoder_variant_and_unlabelled_shards_each_get_their_index() -> None:
    names = [
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
        "model.bf16-00001-of-00002.safetensors",
        "model.bf16-00002-of-00002.safetensors",
        "model.safetensors.index.bf16.json",
        "model.safetensors.index.json",
    ]
    sets = group(names)
    assert [(s.variant, s.index) for s in sets] == [
        (None, "model.safetensors.index.json"),
        ("bf16", "model.safetensors.index.bf16.json"),
    ]


def test_legacy_index_joins_legacy_shards() -> None:
    names = [
        "diffusion_pytorch_model-00001-of-00002.fp16.safetensors",
        "diffusion_pytorch_model-00002-of-00002.fp16.safetensors",
        "diffusion_pytorch_model.safetensors.fp16.index.json",
    ]
    (only,) = group(names)
    assert only.layout == "legacy-sharded"
    assert only.index == "diffusion_pytorch_model.safetensors.fp16.index.json"
    assert (
        only.label == "diffusion_pytorch_model.fp16 (safetensors, 2 shards + index, legacy names)"
    )


def test_stale_shard_count_is_a_separate_set_and_missing_shards_are_named() -> None:
    names = [
        "model-00001-of-00003.safetensors",
        "model-00003-of-00003.safetensors",
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
        "model.safetensors.index.json",
    ]
    stale, current = sorted(group(names), key=lambda s: -(s.shards or 0))
    assert stale.missing_shards == [2]
    assert stale.label == "model (safetensors, 2 of 3 shards, no index)"
    assert current.label == "model (safetensors, 2 shards + index)"


def test_an_index_without_shards_is_a_set_with_no_files() -> None:
    (orphan,) = group(["model.safetensors.index.json", "config.json"])
    assert orphan.files == () and orphan.index == "model.safetensors.index.json"
    assert orphan.label == "model (safetensors, index only, no shards)"


def test_select_prefers_safetensors_over_pickles() -> None:
    sets = group(["model.safetensors", "pytorch_model.bin"])
    chosen, reason = select(sets, prefixes=("model", "pytorch_model"))
    assert chosen.prefix == "model" and reason == "unlabelled, safetensors preferred"
    chosen, reason = select(sets, weights_format="pickle")
    assert chosen.prefix == "pytorch_model" and reason == "unlabelled, pickle as asked"


def test_select_single_or_sharded_follows_the_library() -> None:
    sets = group(
        ["model.safetensors", "model-00001-of-00001.safetensors", "model.safetensors.index.json"]
    )
    assert not select(sets)[0].sharded
    chosen, reason = select(sets, prefer_sharded=True)
    assert chosen.sharded and reason == "unlabelled, sharded preferred"


def test_select_prefers_weights_over_an_index_without_shards() -> None:
    sets = group(
        ["diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.safetensors.index.json"]
    )
    chosen, _ = select(sets, prefer_sharded=True)
    assert chosen.files == ("diffusion_pytorch_model.safetensors",)


def test_select_leaves_out_trainer_state() -> None:
    sets = group(
        ["checkpoint.pth", "optimizer.pt", "scheduler.pt", "rng_state.pth", "training_args.bin"]
    )
    chosen, reason = select(sets)
    assert chosen.prefix == "checkpoint"
    assert reason == "unlabelled, prefix 'checkpoint' preferred"


def test_select_the_only_labelled_set() -> None:
    sets = group(["diffusion_pytorch_model.fp16.safetensors"], folder="unet")
    chosen, reason = select(sets)
    assert chosen.variant == "fp16" and reason == "the only weight set"


def test_select_missing_variant_lists_what_exists() -> None:
    sets = group(["model.safetensors", "model.bf16.safetensors"], folder="m")
    with pytest.raises(VariantNotFound) as caught:
        select(sets, variant="fp16")
    assert str(caught.value) == (
        "m: variant not found: no 'fp16' weights; found: model (safetensors, 1 file), "
        "model.bf16 (safetensors, 1 file)"
    )


def test_select_only_variants_and_none_asked() -> None:
    sets = group(["model.bf16.safetensors", "model.fp16.safetensors"], folder="m")
    with pytest.raises(VariantNotFound) as caught:
        select(sets)
    assert str(caught.value) == (
        "m: variant not found: no unlabelled weights; pass a variant "
        "(found: model.bf16 (safetensors, 1 file), model.fp16 (safetensors, 1 file))"
    )


def test_select_ambiguous_sets() -> None:
    sets = group(["a.safetensors", "b.safetensors"], folder="m")
    with pytest.raises(VariantNotFound) as caught:
        select(sets)
    assert str(caught.value) == (
        "m: variant not found: several weight sets fit equally: "
        "a (safetensors, 1 file), b (safetensors, 1 file); pass the path of one file "
        "(or its shard index) to read it"
    )


def test_select_format_absent() -> None:
    sets = group(["model.safetensors"], folder="m")
    with pytest.raises(VariantNotFound, match="no pickle weights; found: model"):
        select(sets, weights_format="pickle")


def test_to_dict_is_plain_data() -> None:
    (only,) = group(
        ["model.bf16-00001-of-00002.safetensors"],
        sizes={"model.bf16-00001-of-00002.safetensors": 7},
    )
    assert json.loads(json.dumps(only.to_dict())) == {
        "prefix": "model",
        "variant": "bf16",
        "format": "safetensors",
        "layout": "sharded",
        "files": ["model.bf16-00001-of-00002.safetensors"],
        "index": None,
        "shards": 2,
        "missing_shards": [2],
        "total_bytes": 7,
    }
    assert repr(only) == "<WeightSet model.bf16 (safetensors, 1 of 2 shards, no index) 7 B>"


def test_discover_a_real_transformers_folder(tmp_path: Path) -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=64,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(tmp_path, max_shard_size="8KB")
    model.to(torch.bfloat16).save_pretrained(tmp_path, variant="bf16")
    sets = discover(tmp_path)
    unlabelled, bf16 = sets
    assert unlabelled.variant is None and unlabelled.index == "model.safetensors.index.json"
    assert unlabelled.shards == len(unlabelled.files) > 1
    assert unlabelled.total_bytes == sum(p.stat().st_size for p in unlabelled.paths)
    assert bf16.variant == "bf16" and bf16.files == ("model.bf16.safetensors",)
    assert bf16.folder == tmp_path


def test_discover_ignores_subfolders_and_other_files(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "model.safetensors").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("x")
    assert discover(tmp_path) == []


def test_discover_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(CheckpointNotFound) as caught:
        discover(tmp_path / "nope")
    assert str(caught.value) == f"{tmp_path / 'nope'}: checkpoint not found: no such folder"
