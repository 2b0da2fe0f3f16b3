"""Tensors a GGUF runtime looked for under its own names and did not find as it expects.

A GGUF file names its tensors by the runtime's table for the architecture
(``token_embd``, ``blk.{i}.attn_q``, ``output_norm``), written by the converter of
one release. When the runtime that reads it says a tensor is missing or has
another shape, the converter and the runtime disagree on the architecture's
layout: a model newer than the runtime, or a file converted before the runtime
changed the architecture (llama.cpp, ollama, LM Studio, jan: the fix is the other
release of one of the two). Token rows are the vocabulary rules' to explain, a missing
output head the tied-weights rule's.
"""

from __future__ import annotations

import re

from weightfit.diagnose._context import Context, shape_text
from weightfit.findings import Finding

GGUF_NAME = re.compile(
    r"^(?:token_embd|output_norm|output|rope_\w+|blk\.\d+\.\w+)\.(?:weight|bias)$"
)
"""A tensor name of a GGUF runtime's table (llama.cpp's ``LLM_TENSOR_NAMES``)."""
TIED_HEAD = "output.weight"
"""The output head, absent from files whose model ties it to ``token_embd``."""


def gguf_layout(ctx: Context) -> None:
    """Report GGUF tensors missing or shaped otherwise: the runtime and the converter differ."""
    if not ctx.partial:
        return
    pairs = ctx.mismatches()
    # A missing output head is the token table's tied copy (Gemma): the tied rule's.
    missing = [n for n in ctx.missing() if n != TIED_HEAD]
    names = [p.target for p in pairs] + missing
    if not names or ctx.unexpected() or not all(GGUF_NAME.match(n) for n in names):
        return
    first = pairs[0] if pairs else None
    said = (
        f"{first.target} is {shape_text(ctx.src(first).shape)} in the "
        f"file, {shape_text(ctx.tgt(first).shape)} where the runtime expects it"
        if first is not None
        else f"the runtime looks for {missing[0]}, which the file does not hold"
    )
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"{said}: the GGUF file was converted for another layout of this architecture "
                "than the runtime reads (a model newer than the runtime, or a file converted "
                "before the runtime changed it)"
            ),
            params=[p.source for p in pairs] + missing,
            evidence={"gguf_names": names[:8]},
            confidence=0.5,
            fix_note=(
                "update the runtime (llama.cpp and the apps built on it) to a release that "
                "supports this model, or use a file converted by the runtime's own release"
            ),
        )
    )
    ctx.consume(pairs=pairs, missing=missing)
