"""One folder per lint code that must fire, and one near miss that must not.

Weight files are real safetensors files written by ``safetensors.torch``;
shard indexes are written as transformers writes them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from safetensors.torch import save_file  # noqa: E402

from weightfit.lint import (  # noqa: E402
    apply_fixes,
    lint,
    registry,
)

DIFFUSERS_CONFIG = {"_class_name": "UNet2DModel"}
F32, F16, BF16 = torch.float32, torch.float16, torch.bfloat16


def st(path: Path, tensors: dict[str, tuple[tuple[int, ...], torch.dtype]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({n: torch.zeros(s, dtype=d) for n, (s, d) in tensors.items()}, str(path))


def cfg(folder: Path, data: dict, name: str = "config.json") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(data))


def index(folder: Path, name: str, weight_map: dict[str, str], total: int | None = None) -> None:
    meta = {"total_size": total} if total is not None else {}
    (folder / name).write_text(json.dumps({"metadata": meta, "weight_map": weight_map}))


def sharded(folder: Path, stem: str, label: str, dtype=F32, legacy=False, total=None) -> None:
    """Two shards ``a``/``b`` (8 and 4 floats) with their index."""
    names = []
    for n, key, size in ((1, "a", 8), (2, "b", 4)):
        if legacy:
            name = f"{stem}-{n:05d}-of-00002.{label}.safetensors"
        else:
            name = f"{stem}{'.' + label if label else ''}-{n:05d}-of-00002.safetensors"
        st(folder / name, {key: ((size,), dtype)})
        names.append(name)
    itemsize = torch.tensor([], dtype=dtype).element_size()
    total = 12 * itemsize if total is None else total
    if legacy:
        idx = f"{stem}.safetensors.{label}.index.json"
    else:
        idx = (
            f"{stem}.safetensors.index.{label}.json" if label else f"{stem}.safetensors.index.json"
        )
    index(folder, idx, {"a": names[0], "b": names[1]}, total)


AB = {"a": ((8,), F32), "b": ((4,), F32)}


def codes(folder: Path, code: str) -> list[str]:
    return [v.code for v in lint(folder, select=[code]).violations]


def test_every_code_has_a_documented_check():
    checks = registry.checks()
    assert list(checks) == [c.code for c in registry.CODES]
    for code in checks:
        text = registry.doc(code)
        positions = [text.find(f"{section}:") for section in registry.DOC_SECTIONS]
        assert all(p >= 0 for p in positions) and positions == sorted(positions), code
    assert len({c.name for c in registry.CODES}) == len(registry.CODES)


def test_select_and_ignore_prefixes():
    assert registry.selected(["WF1"], ["WF105"]) == [
        "WF101",
        "WF102",
        "WF103",
        "WF104",
        "WF106",
        "WF107",
    ]
    assert registry.selected(["WF105"], ["WF1"]) == ["WF105"]
    assert registry.selected(None, ["duplicate-weight-sets"])[:7] == [
        "WF101",
        "WF102",
        "WF103",
        "WF104",
        "WF105",
        "WF106",
        "WF201",
    ]


# WF1xx ------------------------------------------------------------------------------------


def test_wf101_fires_on_variant_single_beside_unlabelled_shards(tmp_path):
    cfg(tmp_path, DIFFUSERS_CONFIG)
    sharded(tmp_path, "diffusion_pytorch_model", "")
    st(tmp_path / "diffusion_pytorch_model.fp16.safetensors", {"a": ((8,), F16), "b": ((4,), F16)})
    (v,) = lint(tmp_path, select=["WF101"]).violations
    assert v.message.startswith("diffusers<=0.32 with variant='fp16' fetches 2 weight sets")
    apply_fixes(lint(tmp_path))
    assert codes(tmp_path, "WF101") == []
    assert (tmp_path / "diffusion_pytorch_model.safetensors.index.fp16.json").is_file()


def test_wf101_near_miss_variant_with_its_own_index(tmp_path):
    cfg(tmp_path, DIFFUSERS_CONFIG)
    sharded(tmp_path, "diffusion_pytorch_model", "")
    sharded(tmp_path, "diffusion_pytorch_model", "fp16", F16)
    assert codes(tmp_path, "WF101") == []


def test_wf102_fires_on_single_file_beside_shards_of_the_same_label(tmp_path):
    cfg(tmp_path, {"architectures": ["LlamaModel"]})
    st(tmp_path / "model.safetensors", AB)
    sharded(tmp_path, "model", "")
    (v,) = lint(tmp_path, select=["WF102"]).violations
    assert "transformers reads model (safetensors, 1 file)" in v.message
    assert "diffusers reads model (safetensors, 2 shards + index)" in v.message


def test_wf102_near_miss_precision_variants(tmp_path):
    cfg(tmp_path, {"architectures": ["LlamaModel"]})
    st(tmp_path / "model.safetensors", AB)
    st(tmp_path / "model.fp16.safetensors", {"a": ((8,), F16), "b": ((4,), F16)})
    assert codes(tmp_path, "WF102") == []


def test_wf103_fires_on_variant_shards_without_index_and_fix_writes_it(tmp_path):
    cfg(tmp_path, DIFFUSERS_CONFIG)
    st(tmp_path / "diffusion_pytorch_model.safetensors", AB)
    sharded(tmp_path, "diffusion_pytorch_model", "fp16", F16)
    (tmp_path / "diffusion_pytorch_model.safetensors.index.fp16.json").unlink()
    found = lint(tmp_path, select=["WF103"]).violations
    assert [v.message.split(": ")[0] for v in found] == [
        "diffusers<=0.32 with variant='fp16' cannot load",
        "diffusers>=0.33 with variant='fp16' cannot load",
    ]
    apply_fixes(lint(tmp_path))
    assert codes(tmp_path, "WF103") == []


def test_wf103_near_miss_single_files(tmp_path):
    cfg(tmp_path, DIFFUSERS_CONFIG)
    st(tmp_path / "diffusion_pytorch_model.safetensors", AB)
    st(tmp_path / "diffusion_pytorch_model.fp16.safetensors", {"a": ((8,), F16), "b": ((4,), F16)})
    assert codes(tmp_path, "WF103") == []


def test_wf104_fires_on_legacy_names_and_unsafe_fix_renames(tmp_path):
    cfg(tmp_path, DIFFUSERS_CONFIG)
    st(tmp_path / "diffusion_pytorch_model.safetensors", AB)
    sharded(tmp_path, "diffusion_pytorch_model", "fp16", F16, legacy=True)
    assert codes(tmp_path, "WF104") == ["WF104"]
    safe = apply_fixes(lint(tmp_path))
    assert safe.applied == [] and len(safe.withheld) == 4
    apply_fixes(lint(tmp_path), unsafe=True)
    assert codes(tmp_path, "WF104") == []
    after = lint(tmp_path)
    fp16 = [r for r in after.resolutions if r.variant == "fp16"]
    assert fp16 and all(r.error is None for r in fp16)
    assert fp16[0].loaded[0] == "diffusion_pytorch_model.safetensors.index.fp16.json"


def test_wf104_near_miss_current_names(tmp_path):
    cfg(tmp_path, DIFFUSERS_CONFIG)
    sharded(tmp_path, "diffusion_pytorch_model", "fp16", F16)
    assert codes(tmp_path, "WF104") == []


def test_wf105_fires_on_bf16_label_holding_f32(tmp_path):
    cfg(tmp_path, DIFFUSERS_CONFIG)
    st(tmp_path / "diffusion_pytorch_model.bf16.safetensors", AB)
    (v,) = lint(tmp_path, select=["WF105"]).violations
    assert v.message == (
        "diffusion_pytorch_model.bf16 (safetensors, 1 file) is labelled bf16 but 100% of its "
        f"float bytes are F32 ({v.message.split('(')[2].split(',')[0]}, no other copy)"
    )
    assert [op.target for op in v.fixes] == ["diffusion_pytorch_model.fp32.safetensors"]


def test_wf105_near_miss_honest_label(tmp_path):
    cfg(tmp_path, DIFFUSERS_CONFIG)
    st(tmp_path / "diffusion_pytorch_model.bf16.safetensors", {"a": ((8,), BF16)})
    assert codes(tmp_path, "WF105") == []


def test_wf106_fires_on_mixed_floats(tmp_path):
    st(tmp_path / "model.safetensors", {"a": ((8,), F16), "b": ((4,), F32)})
    (v,) = lint(tmp_path, select=["WF106"]).violations
    assert (
        v.message
        == "model (safetensors, 1 file) mixes floating-point dtypes: 1 F16 (16 B), 1 F32 (16 B)"
    )


def test_wf106_near_miss_integer_buffer(tmp_path):
    st(tmp_path / "model.safetensors", {"a": ((8,), F32), "position_ids": ((1, 4), torch.int64)})
    assert codes(tmp_path, "WF106") == []


def test_wf107_fires_on_identical_sets(tmp_path):
    st(tmp_path / "model.safetensors", AB)
    st(tmp_path / "model.fp32.safetensors", AB)
    (v,) = lint(tmp_path, select=["WF107"]).violations
    assert v.path == "model.fp32.safetensors"
    assert [op.path for op in v.fixes] == ["model.fp32.safetensors"]


def test_wf107_near_miss_other_precision(tmp_path):
    st(tmp_path / "model.safetensors", AB)
    st(tmp_path / "model.fp16.safetensors", {"a": ((8,), F16), "b": ((4,), F16)})
    assert codes(tmp_path, "WF107") == []


# WF2xx ------------------------------------------------------------------------------------


def test_wf201_fires_on_missing_shard(tmp_path):
    sharded(tmp_path, "model", "")
    (tmp_path / "model-00002-of-00002.safetensors").unlink()
    (v,) = lint(tmp_path, select=["WF201"]).violations
    assert (
        v.message == "names 1 missing file(s) holding 1 tensors: model-00002-of-00002.safetensors"
    )


def test_wf2xx_near_miss_consistent_index(tmp_path):
    sharded(tmp_path, "model", "")
    assert codes(tmp_path, "WF2") == []


def test_wf202_fires_on_unindexed_shard_and_fix_rebuilds(tmp_path):
    sharded(tmp_path, "model", "")
    index(tmp_path, "model.safetensors.index.json", {"a": "model-00001-of-00002.safetensors"}, 32)
    assert "WF202" in codes(tmp_path, "WF202")
    apply_fixes(lint(tmp_path))
    assert codes(tmp_path, "WF2") == []


def test_wf203_fires_on_misplaced_tensor_and_fix_rebuilds(tmp_path):
    sharded(tmp_path, "model", "")
    both = "model-00001-of-00002.safetensors"
    index(tmp_path, "model.safetensors.index.json", {"a": both, "b": both}, 48)
    (v,) = lint(tmp_path, select=["WF203"]).violations
    assert (
        v.message == "tensors not where the index says: 1 in another shard than indexed (e.g. 'b')"
    )
    apply_fixes(lint(tmp_path))
    assert codes(tmp_path, "WF2") == []


def test_wf204_fires_on_tensor_in_two_shards(tmp_path):
    sharded(tmp_path, "model", "")
    st(tmp_path / "model-00002-of-00002.safetensors", {"a": ((8,), F32), "b": ((4,), F32)})
    assert codes(tmp_path, "WF204") == ["WF204"]


def test_wf205_fires_on_wrong_total_and_fix_corrects(tmp_path):
    sharded(tmp_path, "model", "", total=999)
    (v,) = lint(tmp_path, select=["WF205"]).violations
    assert v.message == "metadata.total_size is 999 but the shards hold 48 bytes of tensors (48 B)"
    apply_fixes(lint(tmp_path))
    assert json.loads((tmp_path / "model.safetensors.index.json").read_text())["metadata"] == {
        "total_size": 48
    }


def test_wf206_fires_on_index_over_two_variants(tmp_path):
    st(tmp_path / "model-00001-of-00002.safetensors", {"a": ((8,), F32)})
    st(tmp_path / "model.fp16-00002-of-00002.safetensors", {"b": ((4,), F16)})
    index(
        tmp_path,
        "model.safetensors.index.json",
        {"a": "model-00001-of-00002.safetensors", "b": "model.fp16-00002-of-00002.safetensors"},
        40,
    )
    assert codes(tmp_path, "WF206") == ["WF206"]


def test_wf207_fires_on_unlabelled_index_over_fp16_shards_and_fix_relabels(tmp_path):
    sharded(tmp_path, "model", "fp16", F16)
    os.rename(
        tmp_path / "model.safetensors.index.fp16.json", tmp_path / "model.safetensors.index.json"
    )
    (v,) = lint(tmp_path, select=["WF207"]).violations
    assert v.message.endswith("loaders look for it as model.safetensors.index.fp16.json")
    apply_fixes(lint(tmp_path))
    assert sorted(p.name for p in tmp_path.glob("*.json")) == ["model.safetensors.index.fp16.json"]
    assert codes(tmp_path, "WF207") == []


def test_wf208_fires_on_broken_index(tmp_path):
    sharded(tmp_path, "model", "")
    (tmp_path / "model.safetensors.index.json").write_text('{"weight_map": {')
    (v,) = lint(tmp_path, select=["WF208"]).violations
    assert v.message.startswith("unreadable index: invalid JSON")


# WF3xx ------------------------------------------------------------------------------------


def test_wf301_fires_on_pickle_beside_safetensors(tmp_path):
    st(tmp_path / "model.safetensors", AB)
    torch.save({"a": torch.zeros(8), "b": torch.zeros(4)}, tmp_path / "pytorch_model.bin")
    (v,) = lint(tmp_path, select=["WF301"]).violations
    assert v.path == "pytorch_model.bin"


def test_wf301_near_miss_trainer_state(tmp_path):
    st(tmp_path / "model.safetensors", AB)
    torch.save({"step": torch.zeros(1)}, tmp_path / "optimizer.pt")
    assert codes(tmp_path, "WF301") == []


def test_wf302_fires_on_lfs_pointer(tmp_path):
    (tmp_path / "model.safetensors").write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:" + "0" * 64 + "\nsize 12345\n"
    )
    assert codes(tmp_path, "WF3") == ["WF302"]


def test_wf303_fires_on_empty_file(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    assert codes(tmp_path, "WF3") == ["WF303"]


def test_wf304_fires_on_truncated_file(tmp_path):
    st(tmp_path / "model.safetensors", {"a": ((1024,), F32)})
    size = (tmp_path / "model.safetensors").stat().st_size
    os.truncate(tmp_path / "model.safetensors", size - 100)
    assert codes(tmp_path, "WF3") == ["WF304"]


def test_wf305_fires_on_unrecognised_bytes(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"\x00\x01not a checkpoint at all")
    assert codes(tmp_path, "WF3") == ["WF305"]


def test_wf306_fires_on_missing_shard_without_index(tmp_path):
    st(tmp_path / "model-00001-of-00003.safetensors", {"a": ((8,), F32)})
    st(tmp_path / "model-00002-of-00003.safetensors", {"b": ((8,), F32)})
    (v,) = lint(tmp_path, select=["WF306"]).violations
    assert v.message == "model (safetensors, 2 of 3 shards, no index): shard(s) 3 of 3 are missing"


def test_wf3xx_near_miss_healthy_file(tmp_path):
    st(tmp_path / "model.safetensors", AB)
    assert codes(tmp_path, "WF3") == []


# WF4xx ------------------------------------------------------------------------------------

LLAMA = {
    "architectures": ["LlamaForCausalLM"],
    "vocab_size": 10,
    "hidden_size": 4,
    "num_hidden_layers": 2,
}


def llama(folder: Path, *, hidden=4, layers=2, head=True) -> None:
    t = {"model.embed_tokens.weight": ((10, hidden), F32)}
    for i in range(layers):
        t[f"model.layers.{i}.mlp.up_proj.weight"] = ((8, hidden), F32)
    if head:
        t["lm_head.weight"] = ((10, hidden), F32)
    st(folder / "model.safetensors", t)


def test_wf401_fires_on_hidden_size(tmp_path):
    cfg(tmp_path, LLAMA)
    llama(tmp_path, hidden=6)
    (v,) = lint(tmp_path, select=["WF401"]).violations
    assert (
        v.message == "hidden_size 4 expects 4 but model.embed_tokens.weight [10, 6] has 6 on axis 1"
    )


def test_wf402_fires_on_layer_count(tmp_path):
    cfg(tmp_path, LLAMA)
    llama(tmp_path, layers=1)
    (v,) = lint(tmp_path, select=["WF402"]).violations
    assert v.message == "num_hidden_layers is 2 but the weights hold 1 numbered blocks (0..0)"


def test_wf403_fires_on_untied_without_head(tmp_path):
    cfg(tmp_path, {**LLAMA, "tie_word_embeddings": False})
    llama(tmp_path, head=False)
    assert codes(tmp_path, "WF403") == ["WF403"]


def test_wf403_survives_architectures_that_are_not_a_list(tmp_path):
    cfg(tmp_path, {**LLAMA, "tie_word_embeddings": False, "architectures": 7})
    llama(tmp_path, head=False)
    assert codes(tmp_path, "WF403") == []


def test_wf4xx_near_miss_matching_config(tmp_path):
    cfg(tmp_path, {**LLAMA, "tie_word_embeddings": True})
    llama(tmp_path, head=False)
    assert codes(tmp_path, "WF4") == []


# WF5xx ------------------------------------------------------------------------------------


def pipeline(
    root: Path, *, caption=8, width=8, latent=4, channels=4, vocab=16, top_token=15
) -> Path:
    cfg(
        root,
        {
            "_class_name": "SanaPipeline",
            "transformer": ["diffusers", "SanaTransformer2DModel"],
            "vae": ["diffusers", "AutoencoderDC"],
            "text_encoder": ["transformers", "Gemma2Model"],
            "tokenizer": ["transformers", "GemmaTokenizerFast"],
        },
        "model_index.json",
    )
    cfg(
        root / "transformer",
        {
            "_class_name": "SanaTransformer2DModel",
            "caption_channels": caption,
            "in_channels": channels,
            "out_channels": channels,
        },
    )
    cfg(root / "vae", {"_class_name": "AutoencoderDC", "latent_channels": latent})
    cfg(
        root / "text_encoder",
        {"architectures": ["Gemma2Model"], "hidden_size": width, "vocab_size": vocab},
    )
    cfg(
        root / "tokenizer",
        {"added_tokens_decoder": {str(top_token): {"content": "<x>"}}},
        "tokenizer_config.json",
    )
    return root


def test_wf501_fires_on_swapped_text_encoder(tmp_path):
    (v,) = lint(pipeline(tmp_path, caption=1536, width=2304), select=["WF501"]).violations
    assert (
        v.message
        == "transformer caption_channels is 1536 but the text encoder width is text_encoder 2304"
    )


def test_wf502_fires_on_vae_of_another_family(tmp_path):
    (v,) = lint(pipeline(tmp_path, latent=32, channels=4), select=["WF502"]).violations
    assert v.message == (
        "vae latent_channels is 32 but transformer out_channels 4 is none of 32, 64, 128 "
        "and in_channels 4 is below 32"
    )


def test_wf502_near_miss_flux_packing(tmp_path):
    assert codes(pipeline(tmp_path, latent=16, channels=64), "WF502") == []


def test_wf503_fires_on_tokenizer_past_vocab(tmp_path):
    (v,) = lint(pipeline(tmp_path, top_token=20), select=["WF503"]).violations
    assert v.message == "token ids go up to 20 but text_encoder vocab_size is 16"


def test_wf5xx_near_miss_matching_pipeline(tmp_path):
    assert codes(pipeline(tmp_path), "WF5") == []
