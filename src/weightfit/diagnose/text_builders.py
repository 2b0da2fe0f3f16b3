"""Networks built layer by layer from a file of named weights (TensorRT API ports).

tensorrtx and its kin export a PyTorch model's tensors to a ``.wts`` file, then build the
network in C++, each layer taking its weights from a ``std::map<std::string, Weights>`` by
name. A name the file lacks yields an empty ``Weights``, and the builder's own check fails
(``Assertion `scale_1' failed`` in ``addBatchNorm2d``, TensorRT's ``Parameter check failed``
on a null shift): the file was exported from another release or variant of the model than
the one the builder's code lays out.
"""

from __future__ import annotations

import re

from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import whole_text_facts
from weightfit.findings import Finding

WEIGHT_MAP_BUILDER = re.compile(r"std::map<[^\n]{0,120}?Weights\s*>")
"""A builder's signature taking the map of named weights read from the file."""
CHECK_FAILED = re.compile(r"Assertion\s+`[^`\n]+'\s+failed|Parameter\s+check\s+failed")
"""An assertion of the builder, or TensorRT's check of a layer's weights, failing."""


def weight_map_check(ctx: Context) -> None:
    """Report a builder's check failing on weights it took from a ``.wts`` map by name."""
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings or ctx.mismatches():
        return
    builder = WEIGHT_MAP_BUILDER.search(facts.text)
    failed = CHECK_FAILED.search(facts.text)
    if builder is None or failed is None:
        return
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"a network builder that takes each layer's weights from the weights file by "
                f"name failed its check ({failed.group(0)}): a name it looked up is not in the "
                "file, which was exported from another release (or variant) of the model than "
                "the builder's code lays out"
            ),
            evidence={"said": failed.group(0)},
            confidence=0.4,
            fix_note=(
                "export the .wts with the model release (and variant: s, s6 …) the builder's "
                "code is written for, or check out the builder's commit that matches the model"
            ),
        )
    )
