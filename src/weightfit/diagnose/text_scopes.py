"""The same layers under two naming schemes a framework or library uses.

Stable Diffusion's autoencoder and U-Net have two sets of names: the original
(CompVis / ``ldm``) code's (``encoder.down.0.block.1``, ``decoder.mid.attn_1``,
``input_blocks.1.1``), which single-file checkpoints keep, and diffusers'
(``encoder.down_blocks.0.resnets.1``, ``decoder.mid_block.attentions.0``). A text showing
both names one network twice: the file is in the other scheme (diffusers converts between
them, ``convert_ldm_vae_checkpoint``, ``from_single_file``).

Keras names a layer by its class (``conv2d``, ``dense``, ``batch_normalization``) and a
counter (``conv2d_10``); TensorFlow 1's graph then makes a scope unique by appending
``_1`` when the name is taken already, as it is when a model is built twice in one
session (``conv2d_10_1/kernel``). Weights saved from such a graph, or a graph built so,
carry the suffix on every scope the other side names without it: a prefix of the scope,
not another layer.
"""

from __future__ import annotations

import re

from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import text_facts
from weightfit.findings import Finding
from weightfit.manifest import counted

KERAS_LAYER_NAMES = (
    "conv1d",
    "conv2d",
    "conv3d",
    "conv2d_transpose",
    "conv3d_transpose",
    "depthwise_conv2d",
    "separable_conv2d",
    "dense",
    "embedding",
    "batch_normalization",
    "layer_normalization",
    "lstm",
    "gru",
    "simple_rnn",
    "bidirectional",
    "time_distributed",
    "prelu",
)
"""Keras' default names of layers that hold weights (``keras.backend.unique_object_name`` of
the class name in snake case: ``Conv2D`` → ``conv2d``)."""

UNIQUIFIED = re.compile(r"^(?P<layer>(?:" + "|".join(KERAS_LAYER_NAMES) + r")_\d+)_(?P<copy>\d+)$")
"""A scope that is a Keras default layer name with its counter and one more ``_N``: a bare
``conv2d_1`` is the second layer's own name, not a copy's."""


def uniquified_scopes(ctx: Context) -> None:
    """Report names whose top scope is a Keras layer name with a graph's uniquifying suffix.

    Every name of one side (nothing listed on the other, or the other's names exactly
    these without the suffix) under ``conv2d_10_1`` where the layer is ``conv2d_10``: the
    graph that saved or reads the weights was built a second time in one session.
    """
    if not ctx.partial or ctx.mismatches():
        return
    missing, unexpected = ctx.missing(), ctx.unexpected()
    for names, other, side in ((unexpected, missing, "checkpoint"), (missing, unexpected, "model")):
        if not names:
            continue
        layers = [UNIQUIFIED.match(name.split(".", 1)[0]) for name in names]
        if any(layer is None or "." not in name for layer, name in zip(layers, names, strict=True)):
            continue
        bare = {
            f"{layer['layer']}.{name.split('.', 1)[1]}"
            for layer, name in zip(layers, names, strict=True)
            if layer is not None
        }
        if other and bare != set(other):
            continue
        if any(UNIQUIFIED.match(name.split(".", 1)[0]) for name in other):
            continue  # both sides numbered alike: layers counted otherwise, not a copy
        scope, first = names[0].split(".", 1)[0], layers[0]
        if first is None:
            continue
        built = "graph that saved the weights" if side == "checkpoint" else "model"
        ctx.add(
            Finding(
                category="prefix",
                severity="error",
                message=(
                    f"the {side}'s scope '{scope}' is Keras' layer name '{first['layer']}' "
                    f"with the suffix '_{first['copy']}' TensorFlow adds to a name already "
                    f"taken in the graph: the {built} was built a second time in one session, "
                    f"so its weights sit under another scope ({counted(len(names), 'name')})"
                ),
                params=[*names, *other],
                evidence={"side": side, "scope": scope, "layer": first["layer"]},
                confidence=0.45,
                fix_note=(
                    "build the model once per session (keras.backend.clear_session() or a "
                    "fresh tf.Graph before building it again), then save or load the weights"
                ),
            )
        )
        ctx.consume(missing=[*names, *other], unexpected=[*names, *other])
        return


DIFFUSERS_SCHEME = re.compile(
    r"(?:^|\.)(?:(?:down|up)_blocks\.\d+\.(?:resnets|attentions|downsamplers|upsamplers)|"
    r"mid_block\.(?:resnets|attentions))\.\d+\.|(?:^|\.)(?:encoder|decoder)\.conv_norm_out\."
)
"""diffusers' names of Stable Diffusion's autoencoder and U-Net blocks."""
ORIGINAL_SCHEME = re.compile(
    r"(?:^|\.)(?:(?:down|up)\.\d+\.(?:block|attn)\.\d+|(?:down|up)\.\d+\.(?:downsample|upsample)|"
    r"mid\.(?:block_[12]|attn_1)|(?:input|output)_blocks\.\d+\.\d+|middle_block\.\d+|"
    r"(?:encoder|decoder)\.norm_out)\."
)
"""The original (CompVis ``ldm``) code's names of the same blocks, kept by single files."""
MIN_SCHEMED = 0.9
"""Share of a list's names that must be one of the two schemes' for the list to be read so."""


def sd_schemes(ctx: Context) -> None:
    """Report a text naming one autoencoder or U-Net in both diffusers' and the original names.

    The names left here (of either side, or of two lists whose headings the paste lost)
    are almost all blocks in one scheme or the other, and the text shows both schemes: the
    checkpoint holds the network the model builds, named the other way.
    """
    facts = text_facts(ctx)
    if facts is None or ctx.mismatches():
        return
    names = [*ctx.missing(), *ctx.unexpected()]
    schemed = [n for n in names if DIFFUSERS_SCHEME.search(n) or ORIGINAL_SCHEME.search(n)]
    if not names or len(schemed) < MIN_SCHEMED * len(names):
        return
    diffusers = DIFFUSERS_SCHEME.search(facts.text)
    original = ORIGINAL_SCHEME.search(facts.text)
    if diffusers is None or original is None:
        return
    ctx.add(
        Finding(
            category="rename",
            severity="error",
            message=(
                "the text names the same network's blocks in diffusers' scheme "
                f"({diffusers.group(0).strip('.')} …) and in the original Stable Diffusion "
                f"code's ({original.group(0).strip('.')} …), which single-file checkpoints "
                "keep: the checkpoint is this network under the other scheme's names"
            ),
            params=schemed,
            evidence={
                "names": len(schemed),
                "diffusers": diffusers.group(0).strip("."),
                "original": original.group(0).strip("."),
            },
            confidence=0.45,
            fix_note=(
                "load the file in the format the loader reads (a diffusers folder, or the "
                "single-file original release), or convert it: diffusers' from_single_file "
                "or its convert_*_checkpoint scripts map one scheme onto the other"
            ),
        )
    )
    ctx.consume(missing=schemed, unexpected=schemed)
