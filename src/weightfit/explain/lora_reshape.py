"""Weights that do not fit their layer's shape: reshape errors (LoRA adapters and checkpoints).

A LoRA loader (or a checkpoint loader) that reshapes a weight to its layer's shape fails
with ``shape '[a, b]' is invalid for input of size N``: the loader expected ``a × b``
elements and got ``N``. Factoring ``N`` against the expected axes recovers the
shape the weight really has (``655360 = 320 × 2048``), and the knowledge tables
name the base that width belongs to (2048: the SDXL context, not SD 1.5's 768).

This parser records the numbers (a :class:`~weightfit.diagnose.text_messages.LoraReshape`
fact); the ``lora_reshape`` rule of the ``text`` profile factors them. Adapter
tensors that differ in a ``load_state_dict`` message are the ``lora_halves`` rule's.
"""

from __future__ import annotations

import re

from weightfit.diagnose.text_messages import LoraReshape
from weightfit.explain._text import Section
from weightfit.explain.statements.phrases import INVALID_VIEW, invalid_view


def parse(text: str) -> list[Section]:
    """Find every reshape error: the shape expected, the size given, the log's other numbers."""
    numbers = {int(n) for n in re.findall(r"\b\d{2,6}\b", text)}
    sections = []
    for match in INVALID_VIEW.finditer(text):
        expected, size = invalid_view(match)
        if not expected or -1 in expected:
            continue
        section = Section(model="", origin="lora", start=match.start())
        section.facts.append(LoraReshape(expected, size, frozenset(numbers - {size})))
        section.hints.append(
            "compare the adapter with its base tensor by tensor: "
            "weightfit check LORA_FILE --against BASE_MODEL"
        )
        sections.append(section)
    return sections
