"""What the code around a load says: refused arguments, configs and classes of a release."""

from __future__ import annotations

import re

from weightfit.explain.statements.phrases import LOADING_CONTEXT, UNPICKLING
from weightfit.explain.statements.record import Facts
from weightfit.formats.containers import TORCHSCRIPT_NAMESPACE

MISSING_CLASS = re.compile(
    r"Can't\s+get\s+attribute\s+'(\w+)'(?:\s+on\s+<module\s+'([\w.]+)'(?:\s+from\s+'([^'\n]*)')?)?"
)
"""Unpickling a class its module lacks, with the module and the file it was loaded from."""

CLASS_SAID_ABSENT = re.compile(
    r"\b(?:weights|checkpoint|ckpt|model|file|pickle)s?\b[^\n]{0,120}?\breferences?\s+[`'\"]?"
    r"(?P<module>[a-z_]\w*(?:\.[a-z_]\w*)+)\.(?P<cls>[A-Z]\w*)[`'\"]?[^\n]{0,40}?"
    r"\b(?:class|it)\s+(?:does\s*n[o']?t|is\s*n[o']?t)\s+(?:exist|present|defined)"
)
"""Prose saying a saved file names a class its module does not define (``The weights
reference mace.modules.extensions.PolarMACE, but this class doesn't exist in mace-torch
0.3.15``): what unpickling it reports as ``Can't get attribute``."""

MODULE_LACKS = re.compile(
    r"(?:module\s+'([\w.]+)'|'module'\s+object)\s+has\s+no\s+attribute\s+'(\w+)'"
)
"""A module without a name its caller looks up: a class a pickle names (``ReferenceIndexType``)
or a function the loading code calls, gone from (or not yet in) the installed release. Python
2 does not name the module (``'module' object has no attribute 'ModifiedVGG16Model'``)."""

REFUSED_ARGUMENT = re.compile(
    r"\b(\w+)\(\)\s+got\s+an\s+(?:un)?expected\s+keyword\s+argument\s+'(\w+)'"
)
"""A call passing an argument the callee does not take: ``__init__`` of a class built from
a saved config that passes it, or a function of another release than its caller was written
for (``load_model() got an unexpected keyword argument 'device'``)."""

STRUCTURED_KEY = re.compile(r"ConfigKeyError:\s+Key\s+'(\w+)'\s+not\s+in\s+'\w*Config'")
"""OmegaConf merging a saved config into the code's structured config class, which lacks one
of its keys (fairseq's ``Key 'eval_wer' not in 'AudioPretrainingConfig'``)."""

INSTANCE_CALL = re.compile(
    r"classmethod\s+`?(\w+)\.(\w+)`?\s+cannot\s+be\s+called\s+on\s+an\s+instance"
)
"""A class-only method called on an instance (Lightning 2's ``The classmethod
`Model.load_from_checkpoint` cannot be called on an instance``): code of an older release."""

NO_MODULE = re.compile(r"No\s+module\s+named\s+'([\w.]+)'")

CHECKPOINT_NEEDS_MODULE = re.compile(r"requires\s+missing\s+\w+\s+module\s+'([\w.]+)'")
"""A loader naming the module a checkpoint's pickled classes need (Ultralytics' ``yolo26n.pt
requires missing Ultralytics module 'ultralytics.nn.modules.head_v26'``)."""


def read_code(found: Facts, text: str) -> None:
    """What the code lacks or refuses: a class, a module attribute, an argument."""
    missing_class = MISSING_CLASS.search(text)
    lacks = None
    if missing_class is not None:
        found.missing_class = (missing_class.group(1), missing_class.group(2) or "")
        found.missing_class_file = missing_class.group(3) or ""
    elif (lacks := MODULE_LACKS.search(text)) is not None and lacks.group(2)[:1].isupper():
        found.missing_class = (lacks.group(2), lacks.group(1) or "")
    elif (said := CLASS_SAID_ABSENT.search(text)) is not None:
        found.missing_class = (said.group("cls"), said.group("module"))
    else:
        module = NO_MODULE.search(text)
        needed = CHECKPOINT_NEEDS_MODULE.search(text)
        # TorchScript's namespace for compiled classes is only ever looked up by an unpickler.
        if module is not None and (
            UNPICKLING.search(text) or module.group(1).split(".", 1)[0] == TORCHSCRIPT_NAMESPACE
        ):
            found.missing_class = ("", module.group(1))
        elif needed is not None:
            found.missing_class = ("", needed.group(1))
    if (
        lacks is not None
        and lacks.group(1)
        and found.missing_class is None
        and LOADING_CONTEXT.search(text)
    ):
        found.module_attribute = (lacks.group(1), lacks.group(2))
    refused = REFUSED_ARGUMENT.search(text)
    structured = STRUCTURED_KEY.search(text)
    if structured is not None:
        found.newer_argument = structured.group(1)
    elif refused is not None and refused.group(1) == "__init__":
        found.newer_argument = refused.group(2)
    elif refused is not None and LOADING_CONTEXT.search(text):
        found.called_with = (refused.group(1), refused.group(2))
    instance = INSTANCE_CALL.search(text)
    if instance is not None:
        found.instance_call = (instance.group(1), instance.group(2))
