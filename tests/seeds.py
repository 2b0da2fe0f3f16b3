"""Builders for the four seed cases (``tests/data/seeds/*.json``), for everyone's tests.

Each seed case is a real loading failure with its real tensor names and shapes.
These builders turn the JSON into what tests need:

- :func:`seed_manifest` — the checkpoint or model side as a :class:`Manifest`;
- :func:`write_sparse_safetensors` / :func:`write_sparse_sharded` — real-sized
  safetensors files written header-first, then extended with ``os.truncate``
  (sparse: gigabytes of apparent size, no disk use), single or sharded + index;
- per case, files and folders at the real names and sizes, and small REAL torch /
  transformers / diffusers / PEFT models that reproduce the failure numerically.

Nothing is cached on disk outside the ``tmp_path`` given; torch, transformers,
diffusers and PEFT are imported only by the builders that need them.
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from weightfit import dtypes
from weightfit.manifest import Manifest, TensorSpec

SEEDS = Path(__file__).parent / "data" / "seeds"
CASES = {
    1: "case1-sana-text-encoder",
    2: "case2-opensora-patch-embed",
    3: "case3-diffusers-variant-mix",
    4: "case4-autotrain-vocab-resize",
}
Side = Literal["checkpoint", "model"]
Tensors = Mapping[str, tuple[Sequence[int], str]] | Manifest
"""Name to (shape, dtype), or a manifest (its shapes and dtypes are used)."""

HF_SHARD_BYTES = 5 * 10**9
"""``max_shard_size="5GB"`` as huggingface_hub counts it (decimal)."""

_MODEL_BUFFERS = {
    1: {"pos_embed", "y_embedder.y_embedding"},
    2: {"pos_embed_spatial", "pos_embed_temporal"},
    3: set(),
    4: set(),
}
"""Persistent buffers of each seed's model side (from the seeds' *_scope notes)."""


# --- the JSON -------------------------------------------------------------------------


@cache
def seed_json(case: int | str) -> dict[str, Any]:
    """The parsed JSON of a seed case (1-4 or its file stem)."""
    stem = CASES[case] if isinstance(case, int) else case
    return json.loads((SEEDS / f"{stem}.json").read_text(encoding="utf-8"))


def seed_manifest(case: int | str, side: Side) -> Manifest:
    """The checkpoint or model manifest of a seed case, as the JSON lists it.

    The model side has ``is_buffer`` set (persistent buffers per the seed's notes);
    the checkpoint side leaves it unknown, as a file does.
    """
    number = case if isinstance(case, int) else _number(case)
    rows = seed_json(number)[f"{side}_manifest"]
    buffers = _MODEL_BUFFERS[number]
    tensors = {
        name: TensorSpec(
            name=name,
            shape=tuple(row["shape"]),
            dtype=dtypes.canonical(row["dtype"]),
            is_buffer=(name in buffers) if side == "model" else None,
        )
        for name, row in rows.items()
    }
    return Manifest(tensors=tensors, source=f"seed case {number} {side}", format="seed")


def _number(stem: str) -> int:
    return next(n for n, s in CASES.items() if s == stem)


# --- sparse safetensors -----------------------------------------------------------------


def write_sparse_safetensors(
    path: str | Path, tensors: Tensors, *, metadata: Mapping[str, str] | None = None
) -> Path:
    """Write a valid safetensors file of full size without writing its data.

    The header is written, then the file is extended to its full length with
    ``os.truncate``: the data reads as zeros and takes no disk space.

    Args:
        path: Where to write.
        tensors: Name to (shape, dtype) in file order, or a manifest.
        metadata: ``__metadata__`` strings.

    Returns:
        ``path``.
    """
    path = Path(path)
    header: dict[str, Any] = {"__metadata__": dict(metadata)} if metadata else {}
    offset = 0
    for name, shape, dtype in _entries(tensors):
        size = dtypes.nbytes(dtype, shape)
        assert size is not None, f"unknown dtype {dtype}"
        header[name] = {
            "dtype": dtype,
            "shape": list(shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)  # safetensors pads the header to 8 bytes with spaces
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.write(struct.pack("<Q", len(raw)) + raw)
    os.truncate(path, 8 + len(raw) + offset)
    return path


def write_sparse_sharded(
    folder: str | Path,
    tensors: Tensors,
    *,
    prefix: str = "model",
    variant: str | None = None,
    max_shard_bytes: int = HF_SHARD_BYTES,
    weight_map: Mapping[str, str] | None = None,
    index: bool = True,
) -> Path:
    """Write sparse safetensors shards and their index, named as transformers names them.

    Shards are ``<prefix>[.<variant>]-0000i-of-0000n.safetensors``, the index
    ``<prefix>.safetensors.index[.<variant>].json``. Tensors go into shards in
    order, a new shard starting when the next tensor would pass ``max_shard_bytes``
    (huggingface_hub's rule), unless ``weight_map`` (name to shard file) says where.

    Returns:
        The index path (or the folder when ``index=False``).
    """
    folder = Path(folder)
    entries = list(_entries(tensors))
    if weight_map is None:
        groups = _split(entries, max_shard_bytes)
        tag = f".{variant}" if variant else ""
        files = [
            f"{prefix}{tag}-{i + 1:05d}-of-{len(groups):05d}.safetensors"
            for i in range(len(groups))
        ]
        placed = {name: files[i] for i, group in enumerate(groups) for name, _, _ in group}
    else:
        placed = dict(weight_map)
    by_file: dict[str, list[tuple[str, Sequence[int], str]]] = {}
    for entry in entries:
        by_file.setdefault(placed[entry[0]], []).append(entry)
    for file, group in by_file.items():
        write_sparse_safetensors(folder / file, {n: (s, d) for n, s, d in group})
    if not index:
        return folder
    total = sum(dtypes.nbytes(d, s) or 0 for _, s, d in entries)
    name = (
        f"{prefix}.safetensors.index.{variant}.json"
        if variant
        else f"{prefix}.safetensors.index.json"
    )
    body = {"metadata": {"total_size": total}, "weight_map": {n: placed[n] for n, _, _ in entries}}
    (folder / name).write_text(json.dumps(body, indent=2), encoding="utf-8")
    return folder / name


def _entries(tensors: Tensors) -> Iterable[tuple[str, Sequence[int], str]]:
    if isinstance(tensors, Manifest):
        return [(s.name, s.shape, s.dtype) for s in tensors.tensors.values()]
    return [(n, tuple(shape), dtypes.canonical(d)) for n, (shape, d) in tensors.items()]


def _split(
    entries: list[tuple[str, Sequence[int], str]], limit: int
) -> list[list[tuple[str, Sequence[int], str]]]:
    groups: list[list[tuple[str, Sequence[int], str]]] = [[]]
    size = 0
    for entry in entries:
        nbytes = dtypes.nbytes(entry[2], entry[1]) or 0
        if groups[-1] and size + nbytes > limit:
            groups.append([])
            size = 0
        groups[-1].append(entry)
        size += nbytes
    return groups


def with_dtype(manifest: Manifest, dtype: str) -> dict[str, tuple[tuple[int, ...], str]]:
    """The manifest's names and shapes, every tensor in ``dtype``."""
    return {name: (spec.shape, dtypes.canonical(dtype)) for name, spec in manifest.tensors.items()}


# --- case 1: Sana text-encoder swap (2304 -> 1536) ----------------------------------------


def case1_checkpoint(tmp_path: Path) -> Path:
    """Sparse safetensors of the Sana 1600M checkpoint at its real names and shapes (6.4 GB).

    The real file is a ``.pth`` holding ``{"state_dict": ...}``; see :func:`case1_pth`.
    """
    return write_sparse_safetensors(
        tmp_path / "Sana_1600M_1024px.safetensors", seed_manifest(1, "checkpoint")
    )


def case1_pth(tmp_path: Path, *, scale: int = 70) -> Path:
    """A REAL ``torch.save`` file ``{"state_dict": OrderedDict}``: seed names, shapes / ``scale``.

    Every dimension above 64 is divided by ``scale`` (2240 → 32, 2304 → 33, 1536 → 22),
    so the text-encoder width still differs from :func:`case1_scaled_model`'s.
    """
    import collections

    import torch

    state = collections.OrderedDict(
        (name, torch.zeros(_scaled(spec.shape, scale), dtype=torch.float32))
        for name, spec in seed_manifest(1, "checkpoint").tensors.items()
    )
    path = tmp_path / "Sana_1600M_1024px.pth"
    torch.save({"state_dict": state}, path)
    return path


def case1_scaled_model(*, scale: int = 70) -> Manifest:
    """The seed's model side (caption 1536) scaled like :func:`case1_pth`."""
    model = seed_manifest(1, "model")
    tensors = {
        name: TensorSpec(name, _scaled(s.shape, scale), s.dtype, is_buffer=s.is_buffer)
        for name, s in model.tensors.items()
    }
    return Manifest(tensors=tensors, source=f"seed case 1 model / {scale}", format="seed")


def _scaled(shape: Sequence[int], scale: int) -> tuple[int, ...]:
    return tuple(d if d <= 64 else max(2, round(d / scale)) for d in shape)


def sana_diffusers_config(*, caption_channels: int = 2304, sample_size: int = 32) -> dict[str, Any]:
    """diffusers ``SanaTransformer2DModel`` config of Sana 1600M (1024px by default)."""
    config = dict(seed_json(3)["transformer_config"]["2K"])
    config.pop("interpolation_scale")
    config.update(caption_channels=caption_channels, sample_size=sample_size)
    return config


@dataclass
class Case1Diffusers:
    """Case 1 under diffusers names: a 2304 checkpoint against a 1536 model config."""

    checkpoint: Path
    """``transformer/diffusion_pytorch_model.safetensors`` (sparse, F32, caption 2304)."""
    folder: Path
    """The checkpoint's component folder (its ``config.json`` says 2304)."""
    target: Path
    """A ``config.json`` with ``caption_channels`` 1536, for ``targets.resolve``."""


def case1_diffusers(tmp_path: Path) -> Case1Diffusers:
    """Case 1 in diffusers form: ``caption_projection.linear_1.weight`` [2240, 2304] vs 1536.

    The checkpoint's names and shapes are the seed's diffusers transformer (case 3
    lists all 396), written sparse in F32; the target is a diffusers config that
    ``weightfit.targets.resolve`` builds on the meta device.
    """
    folder = tmp_path / "Sana_1600M_1024px_diffusers" / "transformer"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(sana_diffusers_config(), indent=2))
    checkpoint = write_sparse_safetensors(
        folder / "diffusion_pytorch_model.safetensors",
        with_dtype(seed_manifest(3, "checkpoint"), "F32"),
    )
    model = tmp_path / "sana_qwen_model"
    model.mkdir()
    target = model / "config.json"
    target.write_text(json.dumps(sana_diffusers_config(caption_channels=1536), indent=2))
    return Case1Diffusers(checkpoint=checkpoint, folder=folder, target=target)


# --- case 2: Open-Sora 2D -> 3D patch embedding ----------------------------------------------


def case2_checkpoint(tmp_path: Path) -> Path:
    """Sparse safetensors of Meta's DiT-XL-2-256x256 (292 tensors, 2.7 GB, real names).

    The real file is a raw ``torch.save`` state dict (``.pt``).
    """
    return write_sparse_safetensors(
        tmp_path / "DiT-XL-2-256x256.safetensors", seed_manifest(2, "checkpoint")
    )


def tiny_dit2d(**kwargs: Any) -> Any:
    """A REAL tiny DiT with Meta's names: ``x_embedder.proj`` is ``Conv2d(4, C, 2, 2)``.

    Keyword arguments: ``hidden`` (16), ``depth`` (2), ``in_channels`` (4),
    ``patch`` (2), ``grid`` (4: latent is ``grid * patch`` square), ``num_classes`` (10).
    """
    return _dit_classes()[0](**kwargs)


def tiny_dit3d(**kwargs: Any) -> Any:
    """The Open-Sora analog of :func:`tiny_dit2d`: ``Conv3d(4, C, (1, 2, 2))`` patch embedding.

    ``pos_embed`` becomes the buffers ``pos_embed_spatial`` / ``pos_embed_temporal``
    (the temporal one unused, as Open-Sora's ``no_temporal_pos_emb``), so on one
    frame, with the patch kernel unsqueezed, it computes what the 2D model does.
    Extra keyword argument: ``frames`` (1).
    """
    return _dit_classes()[1](**kwargs)


@cache
def _dit_classes() -> tuple[type, type]:
    import torch
    from torch import nn

    def sincos(tokens: int, width: int) -> torch.Tensor:
        position = torch.arange(tokens, dtype=torch.float64)[:, None]
        freq = 1.0 / 10000 ** (torch.arange(width // 2, dtype=torch.float64) / (width // 2))
        angles = position * freq[None, :]
        return torch.cat([angles.sin(), angles.cos()], dim=1).float()[None]

    class Block(nn.Module):
        def __init__(self, hidden: int) -> None:
            super().__init__()
            self.attn = nn.Module()
            self.attn.qkv = nn.Linear(hidden, 3 * hidden)
            self.attn.proj = nn.Linear(hidden, hidden)
            self.mlp = nn.Module()
            self.mlp.fc1 = nn.Linear(hidden, 4 * hidden)
            self.mlp.fc2 = nn.Linear(4 * hidden, hidden)
            self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 6 * hidden))

        def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
            shift1, scale1, gate1, shift2, scale2, gate2 = self.adaLN_modulation(c).chunk(6, dim=1)
            h = nn.functional.layer_norm(x, x.shape[-1:]) * (1 + scale1[:, None]) + shift1[:, None]
            q, k, v = self.attn.qkv(h).chunk(3, dim=-1)
            attn = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(q.shape[-1]), dim=-1) @ v
            x = x + gate1[:, None] * self.attn.proj(attn)
            h = nn.functional.layer_norm(x, x.shape[-1:]) * (1 + scale2[:, None]) + shift2[:, None]
            return x + gate2[:, None] * self.mlp.fc2(nn.functional.gelu(self.mlp.fc1(h)))

    class TinyDiT2D(nn.Module):
        spatial_dims = 2

        def __init__(
            self,
            hidden: int = 16,
            depth: int = 2,
            in_channels: int = 4,
            patch: int = 2,
            grid: int = 4,
            num_classes: int = 10,
        ) -> None:
            super().__init__()
            self.patch, self.grid, self.out_channels = patch, grid, 2 * in_channels
            self.x_embedder = nn.Module()
            self.x_embedder.proj = self._patch_conv(in_channels, hidden, patch)
            self._position(hidden, grid * grid)
            self.t_embedder = nn.Module()
            self.t_embedder.mlp = nn.Sequential(
                nn.Linear(16, hidden), nn.SiLU(), nn.Linear(hidden, hidden)
            )
            self.y_embedder = nn.Module()
            self.y_embedder.embedding_table = nn.Embedding(num_classes + 1, hidden)
            self.blocks = nn.ModuleList(Block(hidden) for _ in range(depth))
            self.final_layer = nn.Module()
            self.final_layer.linear = nn.Linear(hidden, patch * patch * self.out_channels)
            self.final_layer.adaLN_modulation = nn.Sequential(
                nn.SiLU(), nn.Linear(hidden, 2 * hidden)
            )

        def _patch_conv(self, cin: int, hidden: int, patch: int) -> nn.Module:
            return nn.Conv2d(cin, hidden, patch, patch)

        def _position(self, hidden: int, tokens: int) -> None:
            self.pos_embed = nn.Parameter(sincos(tokens, hidden), requires_grad=False)

        def _pos(self) -> torch.Tensor:
            return self.pos_embed

        def _condition(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            half = torch.arange(8, dtype=torch.float32)
            angles = t.float()[:, None] * torch.exp(-math.log(10000) * half / 8)[None]
            frequency = torch.cat([angles.cos(), angles.sin()], dim=1)
            return self.t_embedder.mlp(frequency) + self.y_embedder.embedding_table(y)

        def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            tokens = self.x_embedder.proj(x)
            batch, hidden = tokens.shape[:2]
            spatial = tokens.shape[2:]
            tokens = tokens.flatten(2).transpose(1, 2) + self._pos()
            c = self._condition(t, y)
            for block in self.blocks:
                tokens = block(tokens, c)
            shift, scale = self.final_layer.adaLN_modulation(c).chunk(2, dim=1)
            tokens = (
                nn.functional.layer_norm(tokens, (hidden,)) * (1 + scale[:, None]) + shift[:, None]
            )
            out = self.final_layer.linear(tokens)
            return self._unpatchify(out, batch, spatial)

        def _unpatchify(
            self, out: torch.Tensor, batch: int, spatial: Sequence[int]
        ) -> torch.Tensor:
            h, w = spatial[-2:]
            p, c = self.patch, self.out_channels
            out = out.reshape(batch, *spatial, p, p, c)
            if len(spatial) == 2:
                return out.permute(0, 5, 1, 3, 2, 4).reshape(batch, c, h * p, w * p)
            frames = spatial[0]
            return out.permute(0, 6, 1, 2, 4, 3, 5).reshape(batch, c, frames, h * p, w * p)

    class TinyDiT3D(TinyDiT2D):
        spatial_dims = 3

        def __init__(self, frames: int = 1, **kwargs: Any) -> None:
            self.frames = frames
            super().__init__(**kwargs)

        def _patch_conv(self, cin: int, hidden: int, patch: int) -> nn.Module:
            return nn.Conv3d(cin, hidden, (1, patch, patch), (1, patch, patch))

        def _position(self, hidden: int, tokens: int) -> None:
            self.register_buffer("pos_embed_spatial", sincos(tokens, hidden))
            self.register_buffer("pos_embed_temporal", sincos(self.frames, hidden))

        def _pos(self) -> torch.Tensor:
            return self.pos_embed_spatial.repeat(1, self.frames, 1)

    return TinyDiT2D, TinyDiT3D


# --- case 3: diffusers variant mix (Sana 2K BF16 repo) ------------------------------------------


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
"""transformers config of the seed's ``text_encoder`` (gemma-2-2b-it as ``Gemma2Model``)."""

DC_AE_F32C32 = {
    "_class_name": "AutoencoderDC",
    "latent_channels": 32,
    "encoder_block_types": ["ResBlock"] * 3 + ["EfficientViTBlock"] * 3,
    "decoder_block_types": ["ResBlock"] * 3 + ["EfficientViTBlock"] * 3,
    "encoder_block_out_channels": [128, 256, 512, 512, 1024, 1024],
    "decoder_block_out_channels": [128, 256, 512, 512, 1024, 1024],
    "encoder_qkv_multiscales": [[], [], [], [5], [5], [5]],
    "decoder_qkv_multiscales": [[], [], [], [5], [5], [5]],
    "encoder_layers_per_block": [2, 2, 2, 3, 3, 3],
    "decoder_layers_per_block": [3, 3, 3, 3, 3, 3],
    "downsample_block_type": "conv",
    "upsample_block_type": "interpolate",
    "decoder_norm_types": "rms_norm",
    "decoder_act_fns": "silu",
    "scaling_factor": 0.41407,
}
"""diffusers config of the seed's ``vae`` (DC-AE f32c32 Sana 1.0: 312,250,275 parameters)."""


def gemma2_2b_tensors(dtype: str = "BF16") -> dict[str, tuple[tuple[int, ...], str]]:
    """``Gemma2Model`` state-dict names and shapes for :data:`GEMMA2_2B`, in order.

    Written out by hand so the case-3 folder needs no transformers import;
    ``tests/test_seed_fixtures.py`` checks them against the real class.
    """
    h, inter, heads, kv, head_dim = 2304, 9216, 8, 4, 256
    out: dict[str, tuple[tuple[int, ...], str]] = {"embed_tokens.weight": ((256000, h), dtype)}
    for i in range(26):
        layer = f"layers.{i}"
        out[f"{layer}.self_attn.q_proj.weight"] = ((heads * head_dim, h), dtype)
        out[f"{layer}.self_attn.k_proj.weight"] = ((kv * head_dim, h), dtype)
        out[f"{layer}.self_attn.v_proj.weight"] = ((kv * head_dim, h), dtype)
        out[f"{layer}.self_attn.o_proj.weight"] = ((h, heads * head_dim), dtype)
        out[f"{layer}.mlp.gate_proj.weight"] = ((inter, h), dtype)
        out[f"{layer}.mlp.up_proj.weight"] = ((inter, h), dtype)
        out[f"{layer}.mlp.down_proj.weight"] = ((h, inter), dtype)
        for norm in ("input", "post_attention", "pre_feedforward", "post_feedforward"):
            out[f"{layer}.{norm}_layernorm.weight"] = ((h,), dtype)
    out["norm.weight"] = ((h,), dtype)
    return out


def dc_ae_manifest() -> Manifest:
    """The DC-AE f32c32 VAE built on ``meta`` by the real diffusers class (F32)."""
    from weightfit.targets import build_config

    return build_config(DC_AE_F32C32, source="AutoencoderDC dc-ae-f32c32-sana-1.0")


def case3_folder(tmp_path: Path, *, text_encoder: bool = True, vae: bool = True) -> Path:
    """The seed's ``Sana_1600M_2Kpx_BF16_diffusers`` folder, real file names and sizes, sparse.

    - ``transformer/``: unlabelled F32 shards (5.00 GB + 1.42 GB) with
      ``diffusion_pytorch_model.safetensors.index.json``, beside the single
      ``diffusion_pytorch_model.bf16.safetensors`` (3.21 GB, BF16);
    - ``vae/``: ``diffusion_pytorch_model.safetensors`` and ``...bf16.safetensors``,
      BOTH holding F32 (1.25 GB each; the "bf16" label is wrong);
    - ``text_encoder/``: ``model-0000i-of-00002`` and ``model.bf16-0000i-of-00002``
      shard sets, both BF16, each with its index;
    - ``model_index.json``, ``scheduler/``, ``tokenizer/`` (small JSON stand-ins: the
      real ``tokenizer.json`` / ``tokenizer.model`` are not reproduced).

    ``vae=False`` skips the VAE (which imports torch + diffusers to get its names);
    ``text_encoder=False`` skips the 10 GB (apparent) text encoder.
    """
    seed = seed_json(3)
    root = tmp_path / "Sana_1600M_2Kpx_BF16_diffusers"
    root.mkdir(parents=True)
    _write_json(root / "model_index.json", seed["file_layout"]["/"][3]["content"])
    for name, text in (
        (".gitattributes", "*.safetensors filter=lfs diff=lfs merge=lfs -text\n"),
        ("README.md", "# Sana_1600M_2Kpx_BF16_diffusers (weightfit test fixture)\n"),
        ("LICENSE.txt", "test fixture\n"),
    ):
        (root / name).write_text(text)
    _write_json(
        root / "scheduler" / "scheduler_config.json",
        {"_class_name": "DPMSolverMultistepScheduler", "_diffusers_version": "0.32.0.dev0"},
    )
    _write_json(root / "tokenizer" / "tokenizer_config.json", {"tokenizer_class": "GemmaTokenizer"})
    _write_json(
        root / "tokenizer" / "special_tokens_map.json", {"bos_token": "<bos>", "eos_token": "<eos>"}
    )

    transformer = root / "transformer"
    _write_json(transformer / "config.json", seed["transformer_config"]["2K"])
    bf16 = seed_manifest(3, "checkpoint")
    write_sparse_sharded(
        transformer,
        with_dtype(bf16, "F32"),
        prefix="diffusion_pytorch_model",
        weight_map=seed["fp32_shard_weight_map_simulated"]["weight_map"],
    )
    write_sparse_safetensors(transformer / "diffusion_pytorch_model.bf16.safetensors", bf16)

    if vae:
        folder = root / "vae"
        _write_json(folder / "config.json", DC_AE_F32C32)
        f32 = with_dtype(dc_ae_manifest(), "F32")
        write_sparse_safetensors(folder / "diffusion_pytorch_model.safetensors", f32)
        write_sparse_safetensors(folder / "diffusion_pytorch_model.bf16.safetensors", f32)
    if text_encoder:
        folder = root / "text_encoder"
        _write_json(folder / "config.json", GEMMA2_2B)
        write_sparse_sharded(folder, gemma2_2b_tensors(), prefix="model")
        write_sparse_sharded(folder, gemma2_2b_tensors(), prefix="model", variant="bf16")
    return root


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


# --- case 4: vocabulary resize behind a PEFT adapter ----------------------------------------------


def case4_adapter_folder(tmp_path: Path) -> Path:
    """The seed's adapter folder: ``adapter_config.json`` + sparse ``adapter_model.safetensors``.

    130 F32 tensors at the real names (embed_tokens / lm_head [32001, 4096] and the
    LoRA A/B of q_proj, v_proj for 32 layers); the base model's side is
    ``seed_manifest(4, "model")``.
    """
    folder = tmp_path / "autotrain-project"
    content = seed_json(4)["adapter_folder_layout"]["files"][0]["content"]
    _write_json(folder / "adapter_config.json", content)
    write_sparse_safetensors(folder / "adapter_model.safetensors", seed_manifest(4, "checkpoint"))
    return folder


@dataclass
class Case4Peft:
    """A real tiny Llama and a real PEFT LoRA adapter trained after adding tokens."""

    base: Path
    """The un-resized base model (``save_pretrained``, ``base_vocab`` rows)."""
    adapter: Path
    """The adapter folder (``save_pretrained``): LoRA on q_proj / v_proj, full
    ``embed_tokens`` and ``lm_head`` copies with ``new_vocab`` rows."""
    base_vocab: int
    new_vocab: int


def build_case4_peft(
    tmp_path: Path,
    *,
    vocab: int = 32000,
    added: int = 1,
    pad_to_multiple_of: int | None = None,
    hidden: int = 32,
    layers: int = 2,
    train_steps: int = 1,
    seed: int = 0,
) -> Case4Peft:
    """Reproduce case 4 with real libraries, small.

    A tiny ``LlamaForCausalLM`` (``vocab`` rows) is saved as the base; then
    ``resize_token_embeddings(vocab + added, pad_to_multiple_of=...)``, a LoRA with
    ``modules_to_save=["embed_tokens", "lm_head"]`` on q_proj / v_proj,
    ``train_steps`` SGD steps (so B is not zero), and ``save_pretrained``.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=4,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    base = tmp_path / "base"
    model.save_pretrained(base)
    model.resize_token_embeddings(vocab + added, pad_to_multiple_of=pad_to_multiple_of)
    new_vocab = model.get_input_embeddings().weight.shape[0]
    lora = LoraConfig(
        r=4,
        lora_alpha=8,
        target_modules=["q_proj", "v_proj"],
        modules_to_save=["embed_tokens", "lm_head"],
        task_type="CAUSAL_LM",
    )
    peft_model = get_peft_model(model, lora)
    optimizer = torch.optim.SGD([p for p in peft_model.parameters() if p.requires_grad], lr=0.1)
    for _ in range(train_steps):
        ids = torch.randint(0, new_vocab, (2, 8))
        loss = peft_model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    adapter = tmp_path / "adapter"
    peft_model.save_pretrained(adapter)
    return Case4Peft(base=base, adapter=adapter, base_vocab=vocab, new_vocab=new_vocab)
