"""Text rules: a conditioning layer fed by a text encoder of another width.

``prompt_matmul`` reads the same from a matrix product that failed at run time: whole
77-token prompts of one known encoder width fed to a layer that reads another.

A pasted error often names one cross-attention or caption projection and two shapes.
When the differing axis is the one the projection reads (the last, for a matrix), the
layer is a conditioning input by its name, and both widths are hidden sizes of known
text encoders or LLMs (``knowledge/hidden_sizes.yaml``), the checkpoint was trained
with another encoder: ``encoder_swap``. SD 1.x (CLIP-L, 768) against SD 2.x
(OpenCLIP-H, 1024) is both an encoder swap and another variant; the finding says so.

``text_tower_width`` reads the text encoder's own tensors (or its 77-row position table)
at another known text-encoder width: the encoder built is another one.
"""

from __future__ import annotations

import re
from collections import defaultdict

from weightfit import knowledge
from weightfit.alignment import Pair
from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import whole_text_facts
from weightfit.findings import Finding
from weightfit.manifest import counted

CONDITIONING = re.compile(
    r"attn2\.to_[kv]|cross_?attn|crossattention|context|\bcond|_cond|caption|y_embedder"
    r"|text_proj(?!ection)|text_embedder|encoder_hid_proj|add_[kv]_proj|txt_in|txt_mlp|kv_linear"
    r"|t5_proj|clip_proj|prompt_proj",
    re.IGNORECASE,
)
"""Names of layers that read a conditioning encoder's features."""

ENCODER_KINDS = frozenset({"text-encoder", "llm", "conditioning"})
"""Kinds of ``hidden_sizes.yaml`` rows whose width a conditioning layer may read."""

SD_WIDTHS = {768: "SD 1.x (CLIP-L/14, 768)", 1024: "SD 2.x (OpenCLIP-H/14, 1024)"}
"""The context widths of the two Stable Diffusion generations."""


def encoder_widths(width: int) -> list[str]:
    """Text encoders and LLMs of hidden size ``width`` (``model field`` labels), used ones first."""
    rows = [row for row in knowledge.candidates_for_width(width) if row.kind in ENCODER_KINDS]
    labels = {row.label for row in rows}
    return [label for label in knowledge.width_labels(width) if label in labels]


def conditioning_widths(ctx: Context) -> None:
    """Report conditioning projections whose input width moved between known encoders."""
    if not ctx.partial:
        return
    groups: dict[tuple[int, int], list[Pair]] = defaultdict(list)
    for pair in ctx.mismatches():
        if not CONDITIONING.search(pair.target):
            continue
        have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
        if len(have) != 2 or len(want) != 2 or have[0] != want[0] or have[1] == want[1]:
            continue
        groups[(have[1], want[1])].append(pair)
    for (have_width, want_width), pairs in groups.items():
        have_known, want_known = encoder_widths(have_width), encoder_widths(want_width)
        if not have_known or not want_known:
            continue
        _report(ctx, have_width, want_width, pairs, have_known, want_known)


def _report(
    ctx: Context,
    have: int,
    want: int,
    pairs: list[Pair],
    have_known: list[str],
    want_known: list[str],
) -> None:
    modules = {p.target.rsplit(".", 1)[0] for p in pairs}
    sd = {have, want} == set(SD_WIDTHS)
    also = (
        f"; this is also SD 1.x against SD 2.x ({SD_WIDTHS[have]} in the checkpoint, "
        f"{SD_WIDTHS[want]} in the model): another variant of the same UNet"
        if sd
        else ""
    )
    ctx.add(
        Finding(
            category="encoder_swap",
            severity="error",
            message=(
                f"conditioning width changed: {pairs[0].target} reads {have}-wide features in "
                f"the checkpoint ({have_known[0]}), {want} in the model ({want_known[0]}); "
                f"{counted(len(pairs), 'tensor')} in {counted(len(modules), 'module')}{also}"
            ),
            params=[p.source for p in pairs],
            evidence={
                "checkpoint_width": have,
                "model_width": want,
                "checkpoint_width_matches": have_known[:5],
                "model_width_matches": want_known[:5],
                "also_acceptable": ["wrong_variant"] if sd else [],
            },
            confidence=0.75 if len(modules) > 1 else 0.65,
            fix_note=(
                f"not shape-repairable: run the checkpoint with the text encoder it was trained "
                f"with ({have} wide), or build the model for that encoder "
                f"(cross_attention_dim / context width {have})"
            ),
        )
    )
    ctx.consume(pairs=pairs)


PROMPT_TOKENS = 77
"""CLIP's context length: a prompt embedding has 77 rows per prompt (chunks of 77 past it)."""


def prompt_matmul(ctx: Context) -> None:
    """Report prompt embeddings of one text encoder's width fed to layers that read another's.

    ``mat1 and mat2 shapes cannot be multiplied (308x2048 and 768x320)``: 308 rows are
    four 77-token CLIP prompts, 2048 is SDXL's CLIP-L + OpenCLIP-G width, 768x320 a
    cross-attention key of SD 1.x that reads CLIP-L's 768. Both widths must be known
    text-encoder widths and the rows whole prompts; a matmul error alone says nothing.
    """
    facts = whole_text_facts(ctx)
    if facts is None or facts.matmul is None or ctx.findings:
        return
    rows, fed, reads = facts.matmul
    if rows % PROMPT_TOKENS or fed == reads:
        return
    fed_known, read_known = encoder_widths(fed), encoder_widths(reads)
    if not fed_known or not read_known:
        return
    ctx.add(
        Finding(
            category="encoder_swap",
            severity="error",
            message=(
                f"prompt embeddings {fed} wide ({fed_known[0]}) reach a layer that reads "
                f"{reads}-wide features ({read_known[0]}): {rows // PROMPT_TOKENS} prompt(s) of "
                f"{PROMPT_TOKENS} tokens encoded by another text encoder than the model's"
            ),
            evidence={
                "prompt_rows": rows,
                "fed_width": fed,
                "read_width": reads,
                "fed_width_matches": fed_known[:5],
                "read_width_matches": read_known[:5],
            },
            confidence=0.6,
            fix_note=(
                f"encode the prompt with the text encoder of the model's own checkpoint "
                f"({reads} wide), not another model's CLIP"
            ),
        )
    )


_TEXT_TOWER = re.compile(
    r"(?:^|\.)(?:text_model|text_encoder|cond_stage_model|clip_l|clip_g|t5xxl)\."
)
"""Names inside a text encoder a pipeline holds (its own weights, not a layer it feeds)."""


def text_tower_width(ctx: Context) -> None:
    """Report a text encoder built at another known text-encoder width (text).

    Tensors inside the pipeline's text encoder (``text_model.``, ``cond_stage_model.``)
    or a 77-row position table, whose width is one known text encoder's in the
    checkpoint and another's in the model: the encoder built is another one (CLIP ViT-B
    512 against ViT-L 768), a config for another encoder or a library default.
    """
    if not ctx.partial:
        return
    pairs = []
    widths: set[tuple[int, int]] = set()
    for pair in ctx.mismatches():
        have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
        axes = [i for i, (a, b) in enumerate(zip(have, want, strict=False)) if a != b]
        if len(have) != len(want) or len(axes) != 1:
            return
        tower = _TEXT_TOWER.search(pair.target) is not None
        prompt_table = len(want) == 2 and want[0] == PROMPT_TOKENS and axes == [1]
        if not (tower or prompt_table):
            return
        pairs.append(pair)
        widths.add((have[axes[0]], want[axes[0]]))
    if not pairs or len(widths) != 1:
        return
    have_width, want_width = widths.pop()
    labels = [encoder_widths(w) for w in (have_width, want_width)]
    if not (labels[0] and labels[1]):
        return
    ctx.add(
        Finding(
            category="encoder_swap",
            severity="error",
            message=(
                f"the text encoder is another one: {have_width} wide in the checkpoint "
                f"({labels[0][0]}), {want_width} in the model ({labels[1][0]})"
            ),
            params=[p.source for p in pairs],
            evidence={"checkpoint_width": have_width, "model_width": want_width},
            confidence=0.55,
            fix_note=(
                f"build the text encoder the checkpoint holds ({labels[0][0]}): its config, "
                "or a library version whose default builds it"
            ),
        )
    )
    ctx.consume(pairs=pairs)
