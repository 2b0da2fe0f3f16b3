"""Diagnosis: turn an alignment's differences into findings, one per cause.

Rules run in a fixed order over one shared context. Each rule reasons from
shapes, dtypes and the structure of the names (layer stacks, first and last
layers), using the knowledge tables only to *name* candidates (``2304 =
gemma-2-2b-it hidden_size``). A rule consumes what it explains, so later rules
and the ``missing``/``unexpected`` leftovers never repeat a cause.

The order matters where one cause looks like another:

1. naming: a layout a library's own converter maps onto the target
   (``version``: ``library_converter``), ``prefix``, the file layout a library's loader converts
   (``version``: ``saved_layout``), a position table split in two
   (``pos_embed_resize``), ``rename``, ``fused_split``; adapter tensors (``lora_mismatch``);
2. storage that changes every shape: ``partitioned``, ``quantization``;
3. ``wrong_variant``: another width, depth or known family explains every
   difference at once, before the local rules read pieces of it;
4. geometry: ``rank_inflate``, ``transpose``, ``pos_embed_resize``;
5. what the model is fed: ``latent_channels``, ``encoder_swap``;
6. embeddings and heads: ``vocab_resize``, ``num_classes``, ``tied_weights``;
7. benign and informational: ``dtype_variant``, ``extra_state`` (before ``version``,
   so an EMA copy keeps its own buffers), ``version``;
8. leftovers: shape differences nothing explained, then ``missing``, ``unexpected``.
"""

from __future__ import annotations

from collections.abc import Callable

from weightfit.alignment import Alignment
from weightfit.diagnose._context import Context
from weightfit.diagnose.adapters import lora_mismatch
from weightfit.diagnose.benign import extra_state, reinitialised, version
from weightfit.diagnose.conditioning import encoder_swap, latent_channels
from weightfit.diagnose.converters import library_converter
from weightfit.diagnose.embeddings import num_classes, tied_weights, vocab_resize
from weightfit.diagnose.geometry import fused_split, rank_inflate, transpose
from weightfit.diagnose.layout import saved_layout
from weightfit.diagnose.leftovers import missing, unexpected
from weightfit.diagnose.partitioned import partitioned
from weightfit.diagnose.position import factorized_pos_embed, pos_embed_resize
from weightfit.diagnose.precision import dtype_variant
from weightfit.diagnose.prefix import prefix
from weightfit.diagnose.quantization import quantization
from weightfit.diagnose.rename import rename
from weightfit.diagnose.variant import unexplained_shapes, wrong_variant
from weightfit.findings import Finding

Rule = Callable[[Context], None]

RULES: tuple[Rule, ...] = (
    reinitialised,
    library_converter,
    prefix,
    saved_layout,
    factorized_pos_embed,
    rename,
    fused_split,
    lora_mismatch,
    partitioned,
    quantization,
    wrong_variant,
    rank_inflate,
    transpose,
    pos_embed_resize,
    latent_channels,
    encoder_swap,
    vocab_resize,
    num_classes,
    tied_weights,
    dtype_variant,
    extra_state,
    version,
    unexplained_shapes,
    missing,
    unexpected,
)
"""Every rule, in the order it runs."""


def diagnose(alignment: Alignment) -> list[Finding]:
    """Explain every difference of an alignment, one finding per cause.

    Args:
        alignment: A checkpoint's manifest lined up with its target's
            (:func:`weightfit.align.align`).

    Returns:
        The findings in rule order (callers rank them). An empty list means the
        checkpoint loads strictly and nothing about it looks wrong; findings of
        severity ``info`` alone mean it loads and the differences are benign.

    Example:
        >>> from weightfit.align import align
        >>> from weightfit.manifest import from_shapes
        >>> found = diagnose(align(from_shapes({"module.fc.weight": (2, 3)}),
        ...                        from_shapes({"fc.weight": (2, 3)})))
        >>> [(f.category, f.fix[0].args) for f in found]
        [('prefix', {'strip': 'module.', 'add': ''})]

    """
    context = Context(alignment)
    for rule in RULES:
        rule(context)
    return context.findings


__all__ = ["RULES", "diagnose"]
