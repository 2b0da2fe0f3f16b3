"""Rules for what a model is fed: latents from an autoencoder, features from an encoder.

- ``latent_channels``: the input channels of the first layer (and the output of
  the last) differ by an autoencoder's latent channel count (4, 16, 32 ...), with
  patch packing (×p²) and a doubled output for predicted variance accounted for.
- ``encoder_swap``: one width differs *consistently* on the input side of the
  layers fed by one source (cross-attention keys/values, caption projections),
  while the rest of the model agrees: another text encoder / LLM / CLIP / T5.

Neither is repairable by reshaping: the learned weights read another space.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from weightfit.alignment import Pair
from weightfit.diagnose import _known
from weightfit.diagnose._context import Context, shape_text, shapes_of
from weightfit.diagnose.cross_widths import SD_WIDTHS
from weightfit.findings import Finding
from weightfit.manifest import counted
from weightfit.plan import Op
from weightfit.tree import stack_of

_CONDITION_WORDS = (
    "caption",
    "context",
    "encoder_hid",
    "encoder_hidden",
    "text",
    "txt",
    "y_embed",
    "cross",
    "attn2",
    "add_k",
    "add_v",
    "kv_linear",
    "cond",
    "prompt",
    "pooled",
    "clip",
    "t5",
    "audio",
    "image_proj",
)
"""Name words of layers fed by a conditioning source; they raise confidence, never decide."""

_FEEDER_CLASS = re.compile(r"(image|img|vision|audio|clip)_?proj|resampler", re.IGNORECASE)
"""Model classes whose whole job is to project an encoder's features (IP-Adapter's
ImageProjModel and Resampler, Perceiver resamplers of vision-language models, audio
projections): every input width they read is the encoder's."""


@dataclass
class _End:
    """The first or last layer of the model, with the axis that differs."""

    pair: Pair
    have: int
    want: int


def latent_channels(ctx: Context) -> None:
    """Report a first layer (and last) built for another number of latent channels."""
    first_stacked, last_stacked = _stack_span(ctx)
    order = {name: i for i, name in enumerate(ctx.target.tensors)}
    inputs: list[_End] = []
    outputs: list[_End] = []
    for pair in ctx.mismatches():
        have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
        axes = _differing_axes(have, want)
        if len(axes) != 1:
            continue
        position = order[pair.target]
        if _conditioning_name(pair.target):
            continue
        if ctx.partial and axes[0] == 1 and _latent_input(have, want, pair.target):
            # A text names no neighbours: a convolution whose input channels are a known
            # latent count and its masked (c + 1), concatenated (2c) or inpainting (2c + 1)
            # form is the input.
            inputs.append(_End(pair, have[1], want[1]))
        elif position < first_stacked and len(want) >= 2 and axes[0] == 1:
            inputs.append(_End(pair, have[1], want[1]))
        elif position > last_stacked and axes[0] == 0:
            outputs.append(_End(pair, have[0], want[0]))
    if not inputs:
        return
    head = inputs[0]
    inputs = [i for i in inputs if (i.have, i.want) == (head.have, head.want)]
    if ctx.partial and _doubled_inputs(ctx) > len(inputs):
        return  # layers deep in the network read twice their inputs too: concatenations
    patch = _patch(ctx.tgt(head.pair).shape)
    channels = (head.have, head.want)
    if ctx.partial and max(channels) > MAX_LATENT_CHANNELS:
        return  # a text shows no layer order: 54953 "channels" of a [1, V] bias are tokens
    outputs = [o for o in outputs if o.have * head.want == o.want * head.have]
    if outputs:
        _report_latent(ctx, inputs, outputs, channels, patch)
    elif (
        len(inputs) == 1
        and len(ctx.tgt(head.pair).shape) >= 3
        and _conditioning_sized(head)
        and _image_or_latents(min(head.have, head.want))
    ):
        # Only a convolution's input channels read as image channels on their own, and only
        # when the fewer are image or latent channels: 32 against 64 is a width setting of
        # any first layer, Whisper's 80 against 128 mel bins another feature extractor.
        _report_extra_inputs(ctx, head)


MAX_LATENT_CHANNELS = 256
"""Most channels an autoencoder's latents have (SD 4, SD3/Flux 16, DC-AE 32-128)."""


def _doubled_inputs(ctx: Context) -> int:
    """How many mismatches read twice (or half) the input channels of the other side."""
    count = 0
    for pair in ctx.mismatches():
        have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
        if len(have) == len(want) >= 2 and _differing_axes(have, want) == [1]:
            small, large = sorted((have[1], want[1]))
            count += large in (2 * small, 2 * small + 1)
    return count


_LATENT_INPUT = re.compile(
    r"(^|\.)(conv_in|input_blocks\.0\.0|x_embedder\.proj|img_in(\.proj)?)\.weight$"
)
"""The input layer of a latent diffusion model (diffusers, LDM, DiT, Flux, HunyuanVideo's
3-D patch embedding): it reads latents."""


def _latent_input(have: tuple[int, ...], want: tuple[int, ...], name: str) -> bool:
    """Whether a kernel's input channels are a known latent count against its extended form.

    2c (masked-image latents) and 2c + 1 (inpainting) read as latents on any conv; c + 1
    (a mask channel) only on a latent model's named input layer, where c is latents for sure.
    """
    if len(want) < 4:
        return False  # a convolution (2-D, or 3-D over video latents), not a Linear
    small, large = sorted((have[1], want[1]))
    extended: tuple[int, ...] = (2 * small, 2 * small + 1)
    if _LATENT_INPUT.search(name):
        extended += (small + 1,)
    return bool(_known.latent_labels(small)) and large in extended


def _stack_span(ctx: Context) -> tuple[int, int]:
    """Return the target-order indices of the first and last tensor inside a layer stack."""
    stacked = [i for i, name in enumerate(ctx.target.tensors) if stack_of(name) is not None]
    if not stacked:
        middle = len(ctx.target) // 2
        return middle, middle
    return stacked[0], stacked[-1]


def _differing_axes(have: tuple[int, ...], want: tuple[int, ...]) -> list[int]:
    if len(have) != len(want):
        return []
    return [i for i, (a, b) in enumerate(zip(have, want, strict=True)) if a != b]


def _patch(shape: tuple[int, ...]) -> int:
    """Return the patch size of a patch-embedding convolution (1 for a Linear)."""
    if len(shape) >= 4 and shape[-1] == shape[-2]:
        return shape[-1]
    return 1


def _report_latent(
    ctx: Context,
    inputs: list[_End],
    outputs: list[_End],
    channels: tuple[int, int],
    patch: int,
) -> None:
    have, want = channels
    out = outputs[0]
    labels = {side: _known.latent_labels(c) for side, c in (("checkpoint", have), ("model", want))}
    if len(ctx.tgt(inputs[0].pair).shape) == 2:
        # A Linear patch embedding packs p×p latent pixels (Flux: 64 = 16 × 2×2): the
        # packing both sides read as known latents wins over raw counts (16 is Flux's
        # latents raw, SD's packed); without raw labels, one known side is enough.
        for packing in (4, 16):
            if have % packing == 0 and want % packing == 0:
                packed = {
                    "checkpoint": _known.latent_labels(have // packing),
                    "model": _known.latent_labels(want // packing),
                }
                if all(packed.values()) or (not any(labels.values()) and any(packed.values())):
                    have, want, labels = have // packing, want // packing, packed
                    patch = int(packing**0.5)
                    break
    factor = out.have // have if out.have % have == 0 else None
    words = {side: f" ({', '.join(found[:3])})" if found else "" for side, found in labels.items()}
    keys = ctx.config_keys(inputs[0].want, inputs[0].have)
    option = f"The model is built with {keys[0]}={inputs[0].want}; " if keys else ""
    message = (
        f"latent channels differ: the checkpoint was trained on {have}-channel latents"
        f"{words['checkpoint']}, the model takes {want}{words['model']} "
        f"(first layer {inputs[0].pair.target} {shape_text(ctx.src(inputs[0].pair).shape)} → "
        f"{shape_text(ctx.tgt(inputs[0].pair).shape)}, last layer {out.have} → {out.want} outputs)"
    )
    evidence: dict[str, object] = {
        "checkpoint_channels": have,
        "model_channels": want,
        "patch_size": patch,
        "output_factor": factor,
        "first_layer": [e.pair.target for e in inputs],
        "last_layer": [e.pair.target for e in outputs],
        "checkpoint_channels_match": labels["checkpoint"],
        "model_channels_match": labels["model"],
    }
    if keys:
        evidence["config_option"] = keys[0]
    ends = inputs + outputs
    ctx.add(
        Finding(
            category="latent_channels",
            severity="error",
            message=message,
            params=[e.pair.source for e in ends],
            evidence=evidence,
            confidence=0.9 if any(labels.values()) else 0.75,
            fix=[
                Op("reinit", {"name": e.pair.target}, "latent_channels: another autoencoder")
                for e in ends
            ],
            fix_note=(
                f"not shape-repairable: the weights read another autoencoder's latent space. "
                f"{option}{'u' if option else 'U'}se the autoencoder the checkpoint was trained "
                f"with ({have} channels), "
                f"or fine-tune: reinitialise the first and last layers and train"
            ),
        )
    )
    ctx.consume(pairs=[e.pair for e in ends])


def _image_or_latents(channels: int) -> bool:
    """Whether a channel count is an image's (1, 3, 4) or a known autoencoder's latents."""
    return channels <= 4 or bool(_known.latent_labels(channels))


def _conditioning_sized(end: _End) -> bool:
    """Whether extra input channels are as many as conditioning adds: at most c + 1 more.

    A mask (+1), masked-image latents (+c) or both (+c + 1): 4 → 9 for inpainting, 4 → 8
    for InstructPix2Pix. A layer reading 64 channels against 3 is fed by another layer
    (a stem one network has and the other lacks), not an image with extra channels.
    """
    small, large = sorted((end.have, end.want))
    return large <= 2 * small + 1


def _report_extra_inputs(ctx: Context, end: _End) -> None:
    """Only the first layer differs: extra conditioning channels (inpainting, pix2pix)."""
    want_shape = ctx.tgt(end.pair).shape
    more = end.want > end.have
    keys = ctx.config_keys(end.want, end.have)
    option = f" (model built with {keys[0]}={end.want})" if keys else ""
    message = (
        f"input channels differ only at the first layer: {end.pair.target} takes {end.have} "
        f"channels in the checkpoint, {end.want} in the model{option}; the output agrees, so "
        f"{'the model adds' if more else 'the checkpoint has'} "
        f"{abs(end.want - end.have)} extra conditioning channels (mask / image latents)"
    )
    ctx.add(
        Finding(
            category="latent_channels",
            severity="error",
            message=message,
            params=[end.pair.source],
            evidence={
                "checkpoint_channels": end.have,
                "model_channels": end.want,
                "first_layer": [end.pair.target],
                "checkpoint_shape": list(ctx.src(end.pair).shape),
                "model_shape": list(want_shape),
            },
            confidence=0.7,
            fix=[
                Op(
                    "copy_overlap",
                    {"name": end.pair.target, "shape": list(want_shape), "init": "zeros"},
                    "latent_channels: extra input channels start at zero",
                )
            ],
            fix_note=(
                "copying the shared channels and zeroing the new ones starts the model exactly "
                "where the checkpoint was (InstructPix2Pix / inpainting fine-tuning); train after"
                if more
                else "dropping input channels discards what they carried: prefer the model the "
                "checkpoint was trained for"
            ),
        )
    )
    ctx.consume(pairs=[end.pair])


def encoder_swap(ctx: Context) -> None:
    """Report a conditioning width that differs consistently where the rest agrees."""
    model_width = ctx.main_width("target")
    if model_width is None or model_width != ctx.main_width("source"):
        return
    groups: dict[tuple[int, int], list[Pair]] = defaultdict(list)
    produced: set[tuple[int, int]] = set()
    feeder = bool(_FEEDER_CLASS.search(str(ctx.facts.get("model", ""))))
    for pair in ctx.mismatches():
        have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
        axes = _differing_axes(have, want)
        if len(axes) != 1 or (have[axes[0]] == model_width and not feeder):
            continue
        change = (have[axes[0]], want[axes[0]])
        if _HEAD_BIAS.search(pair.target) or _made_beside(ctx, pair, change):
            produced.add(change)  # heads counted, or a width a layer beside it makes
            continue
        input_side = len(want) >= 2 and axes == [len(want) - 1]
        # A convolution reads its input on axis 1: a named conditioning conv (audio features).
        input_side = input_side or (
            len(want) >= 3 and axes == [1] and _conditioning_name(pair.target)
        )
        if input_side or (len(want) == 1 and "norm" in pair.target.lower()):
            groups[change].append(pair)
        else:
            produced.add(change)
    for change in produced:
        # A width some layer outputs (or a bias carries) is made inside the model,
        # so it is not fed from outside: an intermediate size, not an encoder.
        groups.pop(change, None)
    for (have_width, want_width), pairs in groups.items():
        named = [p for p in pairs if feeder or _conditioning_name(p.target)]
        labels = {
            "checkpoint": _known.width_labels(have_width),
            "model": _known.width_labels(want_width),
        }
        modules = {p.target.rsplit(".", 1)[0] for p in pairs}
        if not named and not any(labels.values()) and len(modules) < 2:
            continue
        if ctx.partial and not named:
            continue  # a text's kept axis may be a vocabulary, not the model's width
        # one layer of a text, widths no encoder has: another variant fits as well
        weak = ctx.partial and len(modules) < 2 and not (labels["checkpoint"] and labels["model"])
        text = not feeder and not any(_NON_TEXT.search(p.target) for p in pairs)
        _report_swap(
            ctx, have_width, want_width, pairs, labels, bool(named), model_width, weak, text
        )


_OWN_TOWER = re.compile(r"text_projection|text_model\.|text_encoder\.|transformer\.resblocks")
"""Names inside a text encoder itself: they make the conditioning, nothing feeds them."""


_NON_TEXT = re.compile(r"audio|image_proj", re.IGNORECASE)
"""Names of layers fed by an audio or image encoder rather than a text encoder."""


_HEAD_BIAS = re.compile(
    r"(?:^|\.)(?:relative_attention_bias|relative_position_bias_table|rel_pos_bias)(?:\.weight)?$"
)
"""Relative position bias tables (T5's, Swin's): their last axis counts attention heads."""


def _made_beside(ctx: Context, pair: Pair, change: tuple[int, int]) -> bool:
    """Whether a tensor only one side has, in the same module, outputs that side's width.

    T5 v1.1's gated ``wi_0``/``wi_1`` against T5's ``wi``: ``wo`` reads the MLP width they
    make, which no pair shows, and which no encoder feeds.
    """
    parent = pair.target.rsplit(".", 2)[0] + "."
    made = [ctx.source[n].shape for n in ctx.unexpected() if ctx.renamed(n).startswith(parent)]
    made_here = [ctx.target[n].shape for n in ctx.missing() if n.startswith(parent)]
    return any(s and s[0] == change[0] for s in made) or any(
        s and s[0] == change[1] for s in made_here
    )


def _conditioning_name(name: str) -> bool:
    lower = name.lower()
    if _OWN_TOWER.search(lower):
        return False
    return any(word in lower for word in _CONDITION_WORDS)


def _report_swap(
    ctx: Context,
    have: int,
    want: int,
    pairs: list[Pair],
    labels: dict[str, list[str]],
    named: bool,
    model_width: int,
    weak: bool = False,
    text: bool = True,
) -> None:
    keys = ctx.config_keys(want, have)
    words = {side: f" ({', '.join(found[:3])})" if found else "" for side, found in labels.items()}
    message = (
        f"{'text-' if text else ''}encoder width changed: the layers fed by the conditioning "
        f"source take {have}-wide features in the checkpoint{words['checkpoint']}, {want} in the "
        f"model{words['model']}; {counted(len(pairs), 'tensor')} affected, the rest of the model "
        f"(width {model_width}) agrees"
    )
    built = (
        f"The model is built with {keys[0]}={want}; the checkpoint needs {have}. " if keys else ""
    )
    these = "this tensor" if len(pairs) == 1 else f"these {len(pairs)} tensors"
    trained = f" ({labels['checkpoint'][0]})" if labels["checkpoint"] else ""
    if {have, want} == set(SD_WIDTHS):
        message += (
            f"; this is also SD 1.x against SD 2.x ({SD_WIDTHS[have]} in the checkpoint, "
            f"{SD_WIDTHS[want]} in the model): another variant of the same UNet"
        )
    note = (
        f"not shape-repairable: these weights read another encoder's embedding space. "
        f"{built}Run the checkpoint with the encoder it was trained with ({have} wide{trained}), "
        f"or fine-tune: reinitialise {these} and train the conditioning "
        f"projection"
    )
    evidence: dict[str, object] = {
        "checkpoint_width": have,
        "model_width": want,
        "checkpoint_width_matches": labels["checkpoint"],
        "model_width_matches": labels["model"],
        "model_hidden_size": model_width,
        "tensors": [
            {
                "name": p.target,
                **shapes_of(ctx, p),
            }
            for p in pairs[:8]
        ],
        "count": len(pairs),
    }
    if keys:
        evidence["config_option"] = keys[0]
    if {have, want} == set(SD_WIDTHS):
        evidence["also_acceptable"] = ["wrong_variant"]
    confidence = 0.7 + 0.15 * named + 0.1 * bool(labels["checkpoint"] and labels["model"])
    if ctx.partial and len(pairs) == 1:
        confidence = min(confidence, 0.7)  # one tensor of a text: another variant fits too
    if weak:
        confidence = min(confidence, 0.45)
    variant = ctx.variant_found()
    if variant is not None:
        # Other layers already show another build of the same model (SD 2.x's Linear
        # proj_in against SD 1.x's conv): the conditioning width is that variant's own,
        # not an encoder swapped in by hand; reinitialising would discard trained weights.
        evidence["also_acceptable"] = ["encoder_swap"]
        evidence["variant_evidence"] = variant.message
        ctx.add(
            Finding(
                category="wrong_variant",
                severity="error",
                message=f"another variant of the same model: the conditioning layers read "
                f"{have}-wide features in the checkpoint{words['checkpoint']}, {want} in the "
                f"model{words['model']}, and other layers differ as variants do "
                f"({variant.message.split(': ', 1)[-1]})",
                params=[p.source for p in pairs],
                evidence=evidence,
                confidence=round(min(confidence, 0.85), 2),
                fix_note=f"{built}Build the model as the checkpoint's variant, with its "
                f"{have}-wide conditioning encoder, rather than reshaping or reinitialising",
            )
        )
        ctx.consume(pairs=pairs)
        return
    ctx.add(
        Finding(
            category="encoder_swap",
            severity="error",
            message=message,
            params=[p.source for p in pairs],
            evidence=evidence,
            confidence=round(min(confidence, 0.97), 2),
            fix=[Op("reinit", {"name": p.target}, "encoder_swap: another encoder") for p in pairs],
            fix_note=note,
        )
    )
    ctx.consume(pairs=pairs)
