"""A loader's own words that a file was made for another base model.

Add-on loaders (motion modules, adapters, ControlNets) check a file against the base model
they attach to and say so: ``Motion model sdxl_animatediff.ckpt is not compatible with
SDXL-based model``. The file is another variant than the base loaded (``wrong_variant``).
"""

from __future__ import annotations

import re

from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import whole_text_facts
from weightfit.findings import Finding

INCOMPATIBLE_FILE = re.compile(
    r"([\w.\-]+\.(?:ckpt|safetensors|pth?|bin|gguf))\s+is\s+(?:not\s+compatible|incompatible)"
    r"\s+with\s+(?:the\s+|this\s+|an?\s+)?([\w.\-]+(?:[\s-]based)?\s+(?:model|checkpoint|base))",
    re.I,
)
"""A file a loader calls incompatible with the model it was given, and that model."""


def incompatible_file(ctx: Context) -> None:
    """Report a file a loader says is not compatible with the base model it was given."""
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings or ctx.mismatches():
        return
    said = INCOMPATIBLE_FILE.search(facts.text)
    if said is None:
        return
    file, base = said.groups()
    ctx.add(
        Finding(
            category="wrong_variant",
            severity="error",
            message=(
                f"the loader says {file} is not compatible with the {base} it was given: the "
                "file was made for another base model (another generation or size)"
            ),
            evidence={"file": file, "base": base},
            confidence=0.45,
            fix_note=f"use the {file.rsplit('.', 1)[0]} variant made for this base, or load "
            "the base it was made for",
        )
    )
