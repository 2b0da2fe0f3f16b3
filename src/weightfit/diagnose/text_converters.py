"""A converter's own report of the names it could not map: the file is in another naming.

diffusers' LoRA converters (``loaders/lora_conversion_utils.py``) rename one trainer's
format (kohya's, or a model's original release) to diffusers' names and raise on whatever is
left: ``The following keys have not been correctly renamed: …``, ``Incompatible keys
detected: …``, ``state_dict should be empty at this point but has …``. Those names are in
the file and in no naming the converter knows, so the file is in another trainer's format,
or a variant of it that trains more modules (``rename``; an adapter for another model is
the rival).
"""

from __future__ import annotations

from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import text_facts
from weightfit.findings import Finding


def converter_leftovers(ctx: Context) -> None:
    """Report the names a LoRA converter could not map: the file is in another naming."""
    facts = text_facts(ctx)
    unexpected = ctx.unexpected()
    if facts is None or not facts.converter_leftovers or not unexpected or ctx.findings:
        return
    said = facts.converter_leftovers
    ctx.add(
        Finding(
            category="rename",
            severity="error",
            message=(
                f"the LoRA converter could not map {len(unexpected)} of the file's names "
                f"('{said}'): the file names them in another trainer's format, or in a variant "
                "of the one the converter reads that trains more modules"
            ),
            params=unexpected,
            evidence={"converter": said, "unmapped": unexpected[:8]},
            confidence=0.4,
            fix_note=(
                "convert the file with its trainer's own converter, or map these names "
                "(weightfit check ADAPTER --against BASE lists both sides)"
            ),
        )
    )
    ctx.consume(unexpected=unexpected)
