"""Seed case 3 (diffusers#10634): the Sana 2K BF16 pipeline folder, linted and fixed.

The folder is rebuilt with its real file names, its real index and sparse
safetensors files of the real sizes (headers written, data left as holes).
The transformer's tensor names and shapes are the seed's; the Gemma 2 text
encoder's follow ``Gemma2Model`` 2B; the VAE's names are not in the seed, only
its size, so a few real ``AutoencoderDC`` names carry the right byte count.
"""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path

from weightfit import dtypes
from weightfit.lint import apply_fixes, lint
from weightfit.lint.resolution import NEW, OLD

SEED = Path(__file__).parent / "data" / "seeds" / "case3-diffusers-variant-mix.json"
TORCH_TO_ST = {"bfloat16": "BF16", "float32": "F32", "float16": "F16"}

GEMMA2_2B = {
    "architectures": ["Gemma2Model"],
    "model_type": "gemma2",
    "hidden_size": 2304,
    "intermediate_size": 9216,
    "num_hidden_layers": 26,
    "num_attention_heads": 8,
    "num_key_value_heads": 4,
    "head_dim": 256,
    "vocab_size": 256000,
    "torch_dtype": "bfloat16",
}
VAE_CONFIG = {"_class_name": "AutoencoderDC", "in_channels": 3, "latent_channels": 32}
VAE_PARAMS = 312_250_275


def write_sparse(path: Path, tensors: dict[str, tuple[tuple[int, ...], str]]) -> int:
    """A real safetensors header over a sparse data section; returns the file size."""
    header: dict[str, object] = {}
    offset = 0
    for name, (shape, dtype) in tensors.items():
        size = dtypes.nbytes(dtype, shape) or 0
        header[name] = {
            "dtype": dtype,
            "shape": list(shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with path.open("wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
    os.truncate(path, 8 + len(raw) + offset)
    return 8 + len(raw) + offset


def gemma2_tensors(dtype: str = "BF16") -> dict[str, tuple[tuple[int, ...], str]]:
    c = GEMMA2_2B
    h, i, q, kv = c["hidden_size"], c["intermediate_size"], 8 * 256, 4 * 256
    t: dict[str, tuple[tuple[int, ...], str]] = {
        "embed_tokens.weight": ((c["vocab_size"], h), dtype)
    }
    for n in range(c["num_hidden_layers"]):
        p = f"layers.{n}."
        t |= {
            p + "self_attn.q_proj.weight": ((q, h), dtype),
            p + "self_attn.k_proj.weight": ((kv, h), dtype),
            p + "self_attn.v_proj.weight": ((kv, h), dtype),
            p + "self_attn.o_proj.weight": ((h, q), dtype),
            p + "mlp.gate_proj.weight": ((i, h), dtype),
            p + "mlp.up_proj.weight": ((i, h), dtype),
            p + "mlp.down_proj.weight": ((h, i), dtype),
        }
        for norm in ("input", "post_attention", "pre_feedforward", "post_feedforward"):
            t[p + f"{norm}_layernorm.weight"] = ((h,), dtype)
    t["norm.weight"] = ((h,), dtype)
    return t


def vae_tensors() -> dict[str, tuple[tuple[int, ...], str]]:
    t = {
        "encoder.conv_in.weight": ((128, 3, 3, 3), "F32"),
        "encoder.conv_out.weight": ((32, 1024, 3, 3), "F32"),
        "decoder.conv_in.weight": ((1024, 32, 3, 3), "F32"),
        "decoder.conv_out.weight": ((3, 128, 3, 3), "F32"),
    }
    rest = VAE_PARAMS - sum(math.prod(s) for s, _ in t.values())
    t["decoder.stages.5.2.conv_out.conv.weight"] = ((rest,), "F32")
    return t


def split(tensors: dict[str, tuple[tuple[int, ...], str]], limit: int) -> list[dict]:
    shards: list[dict] = [{}]
    used = 0
    for name, (shape, dtype) in tensors.items():
        size = dtypes.nbytes(dtype, shape) or 0
        if used + size > limit and shards[-1]:
            shards.append({})
            used = 0
        shards[-1][name] = (shape, dtype)
        used += size
    return shards


def write_sharded(folder: Path, stem: str, variant: str | None, shards: list[dict]) -> None:
    count = len(shards)
    weight_map, total = {}, 0
    for n, shard in enumerate(shards, 1):
        label = f".{variant}" if variant else ""
        name = f"{stem}{label}-{n:05d}-of-{count:05d}.safetensors"
        write_sparse(folder / name, shard)
        for key, (shape, dtype) in shard.items():
            weight_map[key] = name
            total += dtypes.nbytes(dtype, shape) or 0
    index = (
        f"{stem}.safetensors.index.{variant}.json" if variant else f"{stem}.safetensors.index.json"
    )
    data = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / index).write_text(json.dumps(data, indent=2))


def build_seed3(root: Path) -> Path:
    """The Sana_1600M_2Kpx_BF16_diffusers layout at revision 9282f24 (seed case 3)."""
    seed = json.loads(SEED.read_text())
    layout = seed["file_layout"]
    root.mkdir(parents=True, exist_ok=True)
    (root / "model_index.json").write_text(json.dumps(layout["/"][3]["content"], indent=2))
    for name in ("scheduler", "text_encoder", "tokenizer", "transformer", "vae"):
        (root / name).mkdir()
    (root / "scheduler" / "scheduler_config.json").write_text(
        '{"_class_name": "DPMSolverMultistepScheduler"}'
    )
    (root / "tokenizer" / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "added_tokens_decoder": {
                    str(i): {"content": f"<t{i}>"} for i in (0, 1, 2, 3, 106, 107)
                }
            }
        )
    )
    te = root / "text_encoder"
    (te / "config.json").write_text(json.dumps(GEMMA2_2B, indent=2))
    shards = split(gemma2_tensors(), 4_990_000_000)
    write_sharded(te, "model", None, shards)
    write_sharded(te, "model", "bf16", shards)
    tr = root / "transformer"
    config = seed["transformer_config"]["2K"]
    (tr / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True))
    bf16 = {
        n: (tuple(v["shape"]), TORCH_TO_ST[v["dtype"]])
        for n, v in seed["checkpoint_manifest"].items()
    }
    write_sparse(tr / "diffusion_pytorch_model.bf16.safetensors", bf16)
    weight_map = seed["fp32_shard_weight_map_simulated"]["weight_map"]
    for shard in sorted(set(weight_map.values())):
        write_sparse(
            tr / shard, {n: (s, "F32") for n, (s, _) in bf16.items() if weight_map[n] == shard}
        )
    (tr / "diffusion_pytorch_model.safetensors.index.json").write_text(
        json.dumps(seed["fp32_shard_weight_map_simulated"], indent=2)
    )
    vae = root / "vae"
    (vae / "config.json").write_text(json.dumps(VAE_CONFIG, indent=2))
    write_sparse(vae / "diffusion_pytorch_model.safetensors", vae_tensors())
    write_sparse(vae / "diffusion_pytorch_model.bf16.safetensors", vae_tensors())
    return root


def _one(result, rules, variant, component):
    return next(
        r
        for r in result.resolutions
        if (r.rules, r.variant, r.component) == (rules, variant, component)
    )


def test_seed3_folder_has_the_real_sizes(tmp_path):
    root = build_seed3(tmp_path / "sana")
    tr = root / "transformer"
    sizes = {p.name: p.stat().st_size for p in tr.iterdir()}
    assert (
        4_999_733_760 < sizes["diffusion_pytorch_model-00001-of-00002.safetensors"] < 5_000_000_000
    )
    assert (
        1_418_117_248 < sizes["diffusion_pytorch_model-00002-of-00002.safetensors"] < 1_418_200_000
    )
    assert 3_208_925_504 < sizes["diffusion_pytorch_model.bf16.safetensors"] < 3_209_100_000
    assert (
        root / "vae" / "diffusion_pytorch_model.bf16.safetensors"
    ).stat().st_size > 1_249_000_000


def test_seed3_resolution_matches_diffusers_0_32_and_current(tmp_path):
    seed = json.loads(SEED.read_text())["variant_resolution_on_2K_listing"]
    result = lint(build_seed3(tmp_path / "sana"))
    for rules, key in (
        (OLD, "diffusers_0.32.2"),
        (NEW, "diffusers_current_(0.42.1_installed_and_HEAD)"),
    ):
        fetched = sorted(
            f
            for r in result.resolutions
            if r.rules == rules and r.variant == "bf16"
            for f in r.fetched
        )
        assert fetched == seed[key]["usable_filenames"]
        assert bool(_one(result, rules, "bf16", "transformer").warnings) is seed[key]["warns"]
    for rules in (OLD, NEW):
        assert _one(result, rules, "bf16", "transformer").loaded == (
            "transformer/diffusion_pytorch_model.bf16.safetensors",
        )
        assert _one(result, rules, None, "transformer").loaded == (
            "transformer/diffusion_pytorch_model.safetensors.index.json",
            "transformer/diffusion_pytorch_model-00001-of-00002.safetensors",
            "transformer/diffusion_pytorch_model-00002-of-00002.safetensors",
        )
        assert _one(result, rules, "bf16", "vae").loaded == (
            "vae/diffusion_pytorch_model.bf16.safetensors",
        )
        assert _one(result, rules, "bf16", "text_encoder").loaded[0] == (
            "text_encoder/model.safetensors.index.bf16.json"
        )


def test_seed3_lint_reports_the_mix_the_bytes_and_the_vae_label(tmp_path):
    result = lint(build_seed3(tmp_path / "sana"))
    codes = [(v.code, v.path) for v in result.violations]
    assert ("WF101", "transformer") in codes
    assert ("WF105", "vae/diffusion_pytorch_model.bf16.safetensors") in codes
    assert ("WF107", "vae/diffusion_pytorch_model.bf16.safetensors") in codes
    assert ("WF107", "text_encoder/model.bf16-00001-of-00002.safetensors") in codes
    assert len(codes) == 4
    mix = next(v for v in result.violations if v.code == "WF101")
    assert mix.message.startswith(
        "diffusers<=0.32 with variant='bf16' fetches 2 weight sets "
        "(diffusion_pytorch_model.bf16 (safetensors, 1 file), "
        "diffusion_pytorch_model (safetensors, 2 shards + index)) but reads only "
        "diffusion_pytorch_model.bf16 (safetensors, 1 file): 6.4 GB fetched needlessly"
    )
    assert 6_417_851_008 < mix.evidence["needless_bytes"] < 6_418_100_000
    assert (
        "diffusers>=0.33 fetches diffusion_pytorch_model.bf16 (safetensors, 1 file)" in mix.message
    )
    label = next(v for v in result.violations if v.code == "WF105")
    assert "labelled bf16 but 100% of its float bytes are F32" in label.message


def _sets_per_variant(result):
    """For every rule set, variant and component: the weight sets fetched."""
    seen = {}
    for r in result.resolutions:
        assert r.error is None, r
        sets = {
            f.rsplit("/", 1)[-1].split("-")[0].replace(".safetensors.index", "") for f in r.fetched
        }
        seen[(r.rules, r.variant, r.component)] = {
            s.removesuffix(".json").removesuffix(".safetensors") for s in sets
        }
    return seen


def test_seed3_fix_then_unsafe_fix_leaves_one_weight_set_per_variant(tmp_path):
    root = build_seed3(tmp_path / "sana")
    dry = apply_fixes(lint(root), dry_run=True)
    assert [op.describe().split(" (")[0] for op in dry.applied] == [
        "write transformer/diffusion_pytorch_model.safetensors.index.bf16.json"
    ]
    assert not (
        root / "transformer" / "diffusion_pytorch_model.safetensors.index.bf16.json"
    ).exists()
    # The unlabelled text encoder shards hold bf16 too (seed: "both ... hold bf16"): a duplicate.
    assert {op.path for op in dry.withheld} == {
        "vae/diffusion_pytorch_model.bf16.safetensors",
        "text_encoder/model.bf16-00001-of-00002.safetensors",
        "text_encoder/model.bf16-00002-of-00002.safetensors",
        "text_encoder/model.safetensors.index.bf16.json",
    }

    apply_fixes(lint(root))
    after = lint(root)
    assert "WF101" not in [v.code for v in after.violations]
    for r in after.resolutions:
        assert (not r.needless and not r.warnings) or r.component != "transformer", r
    old_bf16 = _one(after, OLD, "bf16", "transformer")
    assert old_bf16.fetched == (
        "transformer/diffusion_pytorch_model.bf16.safetensors",
        "transformer/diffusion_pytorch_model.safetensors.index.bf16.json",
    )

    apply_fixes(after, unsafe=True)
    final = lint(root)
    assert [v.code for v in final.violations] == []
    for r in final.resolutions:
        assert r.error is None and not r.needless, r
