"""WF5xx: how a diffusers pipeline's components fit together, from configs alone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from weightfit.lint.context import Context, Folder
from weightfit.lint.registry import Violation, implements
from weightfit.tokenizer_size import added_decoder_ids, id_span, tokenizer_json_ids, vocab_json_ids

DENOISERS = ("transformer", "unet", "prior", "decoder")
"""Component names diffusers pipelines give the denoising network."""
CONDITIONING_KEYS = ("caption_channels", "joint_attention_dim", "cross_attention_dim")
"""Denoiser config fields that take the text encoder's width, most specific first.

PixArt and Sana use ``caption_channels`` (their ``cross_attention_dim`` is the
inner width); SD3 and Flux ``joint_attention_dim``; UNets ``cross_attention_dim``.
"""
WIDTH_KEYS = ("hidden_size", "d_model", "n_embd")
"""Text encoder config fields that give its output width (CLIP/Gemma/Llama, T5, GPT-2)."""
POOLED_KEY = "pooled_projection_dim"
"""Denoiser config field that takes the CLIP encoders' pooled embedding (SD3, Flux)."""
PACKED_DENOISERS = {
    "FluxTransformer2DModel": "diffusers FluxPipeline._pack_latents",
    "ChromaTransformer2DModel": "diffusers ChromaPipeline._pack_latents",
    "QwenImageTransformer2DModel": "diffusers QwenImagePipeline._pack_latents",
}
"""Denoiser classes whose pipeline packs 2×2 latent pixels into channels (``in_channels``
is at least 4 × the VAE's ``latent_channels``), with where the pipeline does it."""


def _int(config: dict[str, Any] | None, key: str) -> int | None:
    value = (config or {}).get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _folders(ctx: Context, prefix: str) -> list[Folder]:
    return [f for f in ctx.folders if f.rel == prefix or f.rel.startswith(prefix + "_")]


def _denoiser(ctx: Context) -> Folder | None:
    for name in DENOISERS:
        folder = next((f for f in ctx.folders if f.rel == name and f.config), None)
        if folder is not None:
            return folder
    return None


def text_width(config: dict[str, Any] | None) -> int | None:
    """A text encoder's output width, looking into ``text_config`` too."""
    for source in (config, (config or {}).get("text_config")):
        if isinstance(source, dict):
            for key in WIDTH_KEYS:
                width = _int(source, key)
                if width is not None:
                    return width
    return None


def pooled_width(config: dict[str, Any] | None) -> int | None:
    """A CLIP text encoder's pooled output width; ``None`` for other encoders (T5 …).

    ``CLIPTextModelWithProjection`` pools through its projection (``projection_dim``);
    ``CLIPTextModel``'s ``pooler_output`` has its ``hidden_size``.
    """
    if not isinstance(config, dict) or config.get("model_type") != "clip_text_model":
        return None
    projected = any("WithProjection" in str(a) for a in config.get("architectures") or [])
    return _int(config, "projection_dim") if projected else _int(config, "hidden_size")


def _vocab(config: dict[str, Any] | None) -> int | None:
    for source in (config, (config or {}).get("text_config")):
        if isinstance(source, dict) and _int(source, "vocab_size") is not None:
            return _int(source, "vocab_size")
    return None


@implements("WF501")
def text_encoder_width_mismatch(ctx: Context) -> Iterator[Violation]:
    """What it checks:
        The denoiser's text input width (``caption_channels``, else
        ``joint_attention_dim``, else ``cross_attention_dim``) against the
        hidden size of the pipeline's text encoders: one of them, or all of
        them concatenated (SDXL), must match. Its ``pooled_projection_dim``
        (SD3, Flux) likewise against the CLIP encoders' pooled widths
        (``projection_dim`` with a projection, else ``hidden_size``).

    Why it matters:
        A text encoder swapped for another (Gemma 2 2B for a 1536-wide one,
        T5 for CLIP) loads without complaint and fails at the first prompt
        with a matmul shape error, or the transformer's checkpoint fails to
        load into a pipeline built for the other encoder.

    Example:
        ``transformer/config.json`` ``caption_channels: 1536`` while
        ``text_encoder/config.json`` (Gemma2Model) has ``hidden_size: 2304``.

    Fix:
        Use the text encoder the transformer was trained with.

    Fix safety:
        No automatic fix.

    References:
        diffusers ``SanaTransformer2DModel`` / ``PixArtTransformer2DModel``
        (``caption_channels``), ``SD3Transformer2DModel`` /
        ``FluxTransformer2DModel`` (``joint_attention_dim``),
        ``UNet2DConditionModel`` (``cross_attention_dim``).

    """
    if ctx.kind != "diffusers-pipeline":
        return
    denoiser = _denoiser(ctx)
    encoders = [(f, text_width(f.config)) for f in _folders(ctx, "text_encoder")]
    widths = {f.rel: w for f, w in encoders if w is not None}
    if denoiser is None or not widths:
        return
    pooled = {f.rel: w for f, _ in encoders if (w := pooled_width(f.config)) is not None}
    key = next((k for k in CONDITIONING_KEYS if _int(denoiser.config, k) is not None), None)
    for name, found in ((key, widths), (POOLED_KEY, pooled)):
        expected = _int(denoiser.config, name) if name else None
        if name is None or expected is None or not found:
            continue
        if expected in found.values() or expected == sum(found.values()):
            continue
        what = "pooled text embedding" if name == POOLED_KEY else "text encoder width"
        shown = ", ".join(f"{rel} {w}" for rel, w in found.items())
        yield Violation(
            "WF501",
            denoiser.relpath("config.json"),
            f"{denoiser.rel} {name} is {expected} but the {what} is {shown}",
            evidence={"key": name, "expected": expected, "text_encoders": found},
            fix_note="use the text encoder the denoiser was trained with",
        )


@implements("WF502")
def latent_channels_mismatch(ctx: Context) -> Iterator[Violation]:
    """What it checks:
        The VAE's ``latent_channels`` (L) against the denoiser's channels: its
        output must be L, 2L (a learned variance, as in PixArt) or 4L (2×2
        patches packed into channels, as in Flux: 64 = 16×2×2), and its input
        at least L (extra input channels carry masks or images, as in
        inpainting UNets: 9 = 4+4+1), at least 4L for a denoiser whose
        pipeline packs 2×2 latent pixels into channels (Flux, Chroma,
        Qwen-Image: :data:`PACKED_DENOISERS`).

    Why it matters:
        A VAE from another family (4-channel SD VAE for a 32-channel Sana
        DC-AE) loads fine and decodes noise, or fails at the first step.

    Example:
        ``vae/config.json`` ``latent_channels: 4`` with a Sana transformer whose
        ``in_channels`` and ``out_channels`` are 32.

    Fix:
        Use the VAE the denoiser was trained with.

    Fix safety:
        No automatic fix.

    References:
        diffusers ``AutoencoderKL`` / ``AutoencoderDC`` (``latent_channels``);
        ``FluxPipeline._pack_latents``.

    """
    if ctx.kind != "diffusers-pipeline":
        return
    denoiser = _denoiser(ctx)
    vae = next((f for f in ctx.folders if f.rel == "vae"), None)
    latent = _int(vae.config, "latent_channels") if vae else None
    if denoiser is None or latent is None:
        return
    inputs = _int(denoiser.config, "in_channels")
    outputs = _int(denoiser.config, "out_channels") or inputs
    allowed = (latent, 2 * latent, 4 * latent)
    packed = (denoiser.config or {}).get("_class_name") in PACKED_DENOISERS
    least = 4 * latent if packed else latent
    problems = []
    if outputs is not None and outputs not in allowed:
        problems.append(f"out_channels {outputs} is none of {', '.join(map(str, allowed))}")
    if inputs is not None and inputs < least:
        packing = " (its pipeline packs 2×2 latent pixels into channels)" if packed else ""
        problems.append(f"in_channels {inputs} is below {least}{packing}")
    if problems:
        yield Violation(
            "WF502",
            denoiser.relpath("config.json"),
            f"vae latent_channels is {latent} but {denoiser.rel} " + " and ".join(problems),
            evidence={"latent_channels": latent, "in_channels": inputs, "out_channels": outputs},
            fix_note="use the VAE the denoiser was trained with",
        )


def tokenizer_size(ctx: Context, folder: Folder) -> int | None:
    """Token ids a tokenizer can produce, from its JSON files.

    The id span (largest id + 1, :func:`weightfit.tokenizer_size.id_span`), not
    the count of distinct ids: every id the tokenizer emits must index a row.
    """
    ids: set[int] = set()
    if "tokenizer.json" in folder.names:
        data, _ = ctx.json(folder.relpath("tokenizer.json"))
        ids |= tokenizer_json_ids(data or {})
    elif "vocab.json" in folder.names:
        data, _ = ctx.json(folder.relpath("vocab.json"))
        ids |= vocab_json_ids(data or {})
    if "tokenizer_config.json" in folder.names:
        data, _ = ctx.json(folder.relpath("tokenizer_config.json"))
        ids |= added_decoder_ids(data or {})
    return id_span(ids)


@implements("WF503")
def tokenizer_exceeds_vocab(ctx: Context) -> Iterator[Violation]:
    """What it checks:
        Each tokenizer's largest token id against its text encoder's
        ``vocab_size`` (``tokenizer`` with ``text_encoder``, ``tokenizer_2``
        with ``text_encoder_2`` ...). A vocabulary larger than the tokenizer
        (padded embeddings) is fine.

    Why it matters:
        A token id past the embedding table raises "index out of range" on
        the prompts that contain it, often only with rare words or added
        tokens.

    Example:
        A tokenizer with added tokens up to id 256,002 beside a Gemma 2 text
        encoder with ``vocab_size: 256000``.

    Fix:
        Use the tokenizer saved with the text encoder, or resize the
        encoder's embeddings and save them.

    Fix safety:
        No automatic fix.

    References:
        huggingface tokenizers ``tokenizer.json`` (``model.vocab``,
        ``added_tokens``); transformers ``resize_token_embeddings``.

    """
    if ctx.kind != "diffusers-pipeline":
        return
    for tokenizer in _folders(ctx, "tokenizer"):
        suffix = tokenizer.rel[len("tokenizer") :]
        encoder = next((f for f in ctx.folders if f.rel == "text_encoder" + suffix), None)
        vocab = _vocab(encoder.config) if encoder else None
        size = tokenizer_size(ctx, tokenizer) if vocab is not None else None
        if vocab is None or size is None or size <= vocab:
            continue
        yield Violation(
            "WF503",
            tokenizer.rel,
            f"token ids go up to {size - 1} but {encoder.rel if encoder else ''} "
            f"vocab_size is {vocab}",
            evidence={"tokenizer_size": size, "vocab_size": vocab},
            fix_note="use the tokenizer saved with the text encoder",
        )
