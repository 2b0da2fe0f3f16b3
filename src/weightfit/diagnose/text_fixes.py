"""Rules of the ``text`` profile over a fix the text says its writer made, read back to its cause.

A poster who had to rename the names a loader looked up, after it found none of them, says
which difference was in the way: the names (``stated_renaming`` → ``rename``). Read only
when the text also says the lookup failed, and only as the writer's own act: a loader's
advice to rename a layer (Caffe's ``rename the layer``) is no fix anyone made.
"""

from __future__ import annotations

import re

from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import whole_text_facts
from weightfit.findings import Finding

STATED_RENAMING = re.compile(
    r"\b(?:(?:had|have|needed|need)\s+to|I(?:'ve|\s+have)?)\s+renam(?:e|ed)\s+"
    r"(?:the\s+|all\s+|those\s+|these\s+)?(?:\w+\s+)?(?:key|layer|param(?:eter)?|variable|weight)"
    r"(?:\s+name)?s\b",
    re.I,
)
"""The writer saying they renamed the names (``Had to rename the key names``)."""
NOT_FOUND = re.compile(
    r"\b(?:keys?|names?|layers?|param(?:eter)?s?|variables?)\s+(?:were|was|are|is)\s+not\s+found\b",
    re.I,
)
"""The text saying the names were looked up and not found."""


def stated_renaming(ctx: Context) -> None:
    """Report names a loader did not find that the writer had to rename to load.

    The text says the names looked up were not found and that its writer renamed them: the
    file and the code name the same tensors otherwise (another release's or another
    converter's naming), which is what renaming undoes.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings or ctx.missing() or ctx.unexpected() or ctx.mismatches():
        return
    renamed = STATED_RENAMING.search(facts.text)
    if renamed is None or NOT_FOUND.search(facts.text) is None:
        return
    ctx.add(
        Finding(
            category="rename",
            severity="error",
            message=(
                f"the text says the names looked up were not found and that its writer "
                f"renamed them ('{' '.join(renamed.group(0).split())}'): the file and the code "
                "name the same tensors differently"
            ),
            evidence={"stated": " ".join(renamed.group(0).split())},
            confidence=0.4,
            fix_note=(
                "map the file's names onto the code's (the renaming the text describes), or "
                "use the code release or converter that writes the names the file holds"
            ),
        )
    )
