"""The ``control_model`` rule: a ControlNet's weights checked against the model it conditions.

A ControlNet copies a UNet's encoder half (``down_blocks``, ``mid_block``, ``conv_in``,
``time_embedding``) and adds modules of its own: a condition embedding and one zero
convolution per skip connection. Its file therefore shares most of its names with the
UNet's while lacking the whole decoder half, and no prefix or renaming makes one into
the other: it is loaded beside the UNet (``ControlNetModel``), never into it.
"""

from __future__ import annotations

import re

from weightfit.diagnose._context import Context
from weightfit.findings import Finding

CONTROL_MODULES = re.compile(
    r"^(?:control_model\.)?(?:controlnet_cond_embedding|controlnet_down_blocks|"
    r"controlnet_mid_block|input_hint_block|zero_convs|middle_block_out)\."
)
"""Modules only a ControlNet builds: diffusers' ``ControlNetModel``
(``controlnet_cond_embedding``, ``controlnet_down_blocks``, ``controlnet_mid_block``) and
lllyasviel's ``cldm.ControlNet`` (``input_hint_block``, ``zero_convs``,
``middle_block_out``), under its ``control_model.`` key in a full save."""


def control_model(ctx: Context) -> None:
    """Report ControlNet modules on exactly one side, the rest of it a UNet's encoder half."""
    if ctx.partial or ctx.findings:
        return
    marked = {
        side: [n for n in manifest.tensors if CONTROL_MODULES.search(n)]
        for side, manifest in (("checkpoint", ctx.source), ("model", ctx.target))
    }
    if bool(marked["checkpoint"]) == bool(marked["model"]):
        return
    control = "checkpoint" if marked["checkpoint"] else "model"
    other = "model" if control == "checkpoint" else "checkpoint"
    extra = ctx.unexpected() if control == "checkpoint" else ctx.missing()
    if not set(marked[control]) <= set(extra):
        return  # its modules found a place on the other side: not two kinds of model
    ctx.add(
        Finding(
            category="unrelated",
            severity="error",
            message=(
                f"the {control} is a ControlNet ({len(marked[control])} tensors of its own, "
                f"e.g. {marked[control][0]}) and the {other} is not: a ControlNet copies a "
                "UNet's encoder half and is loaded beside the UNet it conditions, never into it"
            ),
            params=[*ctx.unexpected(), *(p.source for p in ctx.mismatches())],
            evidence={
                "control_side": control,
                "control_tensors": len(marked[control]),
                "missing": len(ctx.missing()),
                "unexpected": len(ctx.unexpected()),
            },
            confidence=0.85,
            fix_note=(
                "load the ControlNet with its own class (diffusers' ControlNetModel, "
                "StableDiffusionControlNetPipeline(controlnet=…)) beside the base UNet; no "
                "renaming makes one into the other"
            ),
        )
    )
    ctx.consume(pairs=ctx.mismatches(), missing=ctx.missing(), unexpected=ctx.unexpected())
