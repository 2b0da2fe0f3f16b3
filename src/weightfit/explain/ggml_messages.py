"""Loading messages of llama.cpp and its GGUF tools, read into PyTorch's layout.

- ``llama_model_load``: ``tensor 'token_embd.weight' has wrong shape; expected 4096, 32001,
  got 4096, 32000, 1, 1`` (the model's, then the file's);
- ``convert.py``: ``Vocab size mismatch (model has 32000, but tokenizer.model has 32001)``,
  two vocabulary sizes that meet, read like a broadcast of two row counts.

GGML lists a tensor's axes innermost first (``ne[0]`` is the row length) and pads them
with 1s to four; the shapes are reversed and the padding dropped, so ``4096, 32001`` is
PyTorch's ``[32001, 4096]`` and the same rules read its rows.
"""

from __future__ import annotations

import re

from weightfit.explain._text import Section

WRONG_SHAPE = re.compile(
    r"tensor\s+'([\w.\-]+)'\s+has\s+wrong\s+shape;\s+expected\s+([\d,x\s]+?),\s+got\s+"
    r"([\d,x\s]*\d)"
)
"""Today's ``expected 4096, 32001, got ...`` and the ggjt era's ``expected 8192 x 8192, got
8192 x 1024`` (the same innermost-first order)."""


def parse(text: str) -> list[Section]:
    """Find every llama.cpp tensor-shape message."""
    sections = []
    for match in WRONG_SHAPE.finditer(text):
        model, checkpoint = torch_order(match.group(2)), torch_order(match.group(3))
        section = Section(model="", origin="llama.cpp", start=match.start())
        section.mismatched[match.group(1)] = (checkpoint, model)
        section.hints.append("GGML shapes are shown in PyTorch's order (outermost axis first)")
        sections.append(section)
    return sections


def torch_order(numbers: str) -> tuple[int, ...]:
    """A GGML shape (innermost first, padded with 1s) in PyTorch's order."""
    dims = [int(n) for n in re.findall(r"\d+", numbers)]
    while len(dims) > 1 and dims[-1] == 1:
        dims.pop()
    return tuple(reversed(dims))
