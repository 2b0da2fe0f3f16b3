"""The text under diagnosis: its :class:`~weightfit.explain.statements.Facts`, as rules read."""

from __future__ import annotations

import re
from typing import Any

from weightfit.diagnose._context import Context

UNNAMED = "unnamed_tensor"
"""The name given to the one tensor of a shape mismatch whose message names none."""
UNNAMED_TF = "tf_variable.kernel"
"""The name of a TensorFlow ``Assign`` whose message names no variable."""
UNNAMED_KERAS = "keras_layer.kernel"
"""The name of a Keras weight-shape message's weight: the message names no layer."""
PLACEHOLDERS = frozenset({UNNAMED, UNNAMED_TF, UNNAMED_KERAS})
"""Names the reader gave tensors the text did not name: they say nothing of a role."""

TEXT_FACTS = "text"
"""Key of the ``text`` profile's facts holding the whole text's
:class:`~weightfit.explain.statements.Facts`; ``facts["first"]`` is true in the one
diagnosis (of several sections) where facts of the whole text make findings."""


DEFAULT_CHANGED = re.compile(r"changed\s+the\s+default\s+value\s+of\s+the\s+`?weights_only`?")
"""PyTorch 2.6's refusal when the caller passed no ``weights_only``: code that loaded the
file before the default changed."""


METADATA_ENTRIES = frozenset(
    {
        "meta",
        "hparams",
        "hyper_parameters",
        "hyperparameters",
        "config",
        "cfg",
        "args",
        "model_args",
        "arch",
        "CLASSES",
        "dataset_meta",
    }
)
"""Entries a training tool writes beside the weights to rebuild the model (mmengine's
``meta``, Lightning's ``hyper_parameters``, a script's ``args`` or ``arch``)."""


def index_pattern(key: str) -> str:
    """The pattern of code reading ``key`` out of a mapping (``checkpoint['arch']``)."""
    return r"\[\s*['\"]" + re.escape(key) + r"['\"]\s*\]"


def indexed(text: str, key: str) -> bool:
    """Whether code in a text reads ``key`` out of a mapping (``checkpoint['meta']``)."""
    return re.search(index_pattern(key), text) is not None


def text_facts(ctx: Context) -> Any:
    """The :class:`~weightfit.explain.statements.Facts` of the text under diagnosis, or ``None``."""
    return ctx.facts.get(TEXT_FACTS) if ctx.partial else None


def whole_text_facts(ctx: Context) -> Any:
    """The text's facts, in the one diagnosis that reports what the whole text says."""
    if not ctx.facts.get("first", True) or ctx.facts.get("messages"):
        return None  # another diagnosis reports them, or a message's own rules explain it
    return text_facts(ctx)
