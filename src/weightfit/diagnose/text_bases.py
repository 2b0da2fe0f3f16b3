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
INTENDED_FOR = re.compile(
    r"([\w.\-]+\.(?:ckpt|safetensors|pth?|bin|gguf))['\"`]?\s+is\s+intended\s+for\s+[\w.\-]+\s+"
    r"models?,\s+but\s+the\s+provided\s+model\s+is\s+(?:type\s+)?([\w.\-]*[\w\-])"
)
"""A file a loader says was made for another model family than the one given (AnimateDiff's
``Motion module 'mm_sd_v15_v2.ckpt' is intended for SD1.5 models, but the provided model is
type SDXL``), and the family given."""


def incompatible_file(ctx: Context) -> None:
    """Report a file a loader says is not compatible with the base model it was given."""
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings or ctx.mismatches():
        return
    said = INCOMPATIBLE_FILE.search(facts.text) or INTENDED_FOR.search(facts.text)
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
