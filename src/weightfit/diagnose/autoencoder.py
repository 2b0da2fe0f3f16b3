"""``autoencoder_latents`` (text): an autoencoder's latent ends sized for another latent space.

An autoencoder (SD's ``AutoencoderKL``, VQ models) meets its latents in four layers, by the
names diffusers and LDM share: ``encoder.conv_out`` and ``quant_conv`` write them (``2c``
rows for a KL autoencoder's mean and log-variance, ``c`` for a VQ one), ``post_quant_conv``
and ``decoder.conv_in`` read them (``c``). When those layers differ on their latent axes
and a side's ``c`` is a known latent count (``knowledge/latent_channels.yaml``: SD 1.x/2.x/
SDXL 4, SD 3 and Flux 16, …), the checkpoint is an autoencoder of another latent space, not
a wider or narrower one: ``latent_channels``.
"""

from __future__ import annotations

import re

from weightfit.alignment import Pair
from weightfit.diagnose import _known
from weightfit.diagnose._context import Context, shape_text
from weightfit.findings import Finding

LATENT_AXES = (
    (re.compile(r"(?:^|\.)post_quant_conv\.(?:weight|bias)$"), 0, 1),
    (re.compile(r"(?:^|\.)quant_conv\.(?:weight|bias)$"), 0, 2),
    (re.compile(r"(?:^|\.)encoder\.conv_out\.(?:weight|bias)$"), 0, 2),
    (re.compile(r"(?:^|\.)decoder\.conv_in\.weight$"), 1, 1),
)
"""Each latent end: its name, the axis that counts latents, and latents per row at most
(2: a KL encoder writes a mean and a log-variance per channel; a VQ one writes 1)."""


def autoencoder_latents(ctx: Context) -> None:
    """Report an autoencoder's latent layers built for another number of latent channels."""
    if not ctx.partial:
        return
    found: list[tuple[Pair, int, int]] = []
    for pair in ctx.mismatches():
        have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
        for pattern, axis, per_channel in LATENT_AXES:
            if not pattern.search(pair.target) or len(have) != len(want) or len(have) <= axis:
                continue
            if have[axis] == want[axis]:
                break
            ours, theirs = _latents(have[axis], per_channel), _latents(want[axis], per_channel)
            if ours is not None and theirs is not None:
                found.append((pair, ours, theirs))
            break
    if not found:
        return
    first, ours, theirs = found[0]
    if any((h, w) != (ours, theirs) for _, h, w in found):
        return  # the latent ends disagree on the counts: no one latent space explains them
    ctx.add(
        Finding(
            category="latent_channels",
            severity="error",
            message=(
                f"the autoencoder's latent layers are built for {theirs} latent channels "
                f"({', '.join(_known.latent_labels(theirs)[:2]) or 'unknown'}), the checkpoint "
                f"has {ours} ({', '.join(_known.latent_labels(ours)[:2]) or 'unknown'}): "
                f"{first.target} {shape_text(ctx.src(first).shape)} → "
                f"{shape_text(ctx.tgt(first).shape)}; an autoencoder of another latent space"
            ),
            params=[pair.source for pair, _, _ in found],
            evidence={
                "checkpoint_channels": ours,
                "model_channels": theirs,
                "latent_layers": [pair.target for pair, _, _ in found],
            },
            confidence=0.75,
            fix_note=(
                f"use the autoencoder config of the checkpoint (latent_channels={ours}), or the "
                "autoencoder the model was made for: latent spaces are not interchangeable"
            ),
        )
    )
    ctx.consume(pairs=[pair for pair, _, _ in found])


def _latents(rows: int, per_channel: int) -> int | None:
    """The known latent count in ``rows`` (a KL encoder's ``2c`` read first, then ``c``)."""
    for per in range(per_channel, 0, -1):
        if rows % per == 0 and _known.latent_labels(rows // per):
            return rows // per
    return None
