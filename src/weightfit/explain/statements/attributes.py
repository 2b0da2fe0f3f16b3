"""Attributes an object lacks: another kind of object, or another release's class."""

from __future__ import annotations

import re
from collections import OrderedDict

from weightfit import knowledge
from weightfit.explain.statements.phrases import LOADING_CONTEXT, UNPICKLING, said
from weightfit.explain.statements.record import Facts

OPTION_CLASSES = frozenset(
    {"Namespace", "SimpleNamespace", "EasyDict", "AttrDict", "DictConfig", "ConfigDict", "Config"}
)
"""Classes of the options a training script saves in its checkpoints (argparse's
``Namespace``, OmegaConf's ``DictConfig``, ``EasyDict``): lacking an attribute the code reads,
they were saved by an older release of that code."""

BUILTIN_TYPES = frozenset({"NoneType", "dict", "str", "list", "tuple", "int", "float", "bytes"})
"""Python's own types: a private attribute missing from them is no class's hook."""

OPTIMIZER_SLOT = re.compile(
    r"(?:BERT)?Adam(?:W|_\d)?|adam_[mv]|Momentum|RMSProp|Adagrad|global_step|beta[12]_power|"
    r"exp_avg(?:_sq)?",
    re.I,
)
"""Variables an optimizer keeps beside the weights in a TensorFlow checkpoint (Adam's slots
``adam_m`` / ``adam_v``, BioBERT's ``BERTAdam``, the step count): no layer of the model."""

STALE_ATTRIBUTE = re.compile(
    r"['‘](?:collections\.\s?)?(\w+)['’]\s+object\s+has\s+no\s+attribute\s+['‘](\w+)['’]"
)
"""An object lacking an attribute its caller reads: a module pickled by another version of its
class, a loaded dict asked for a module's method, an object asked for a dict's."""

WRAPPER_ATTRIBUTES = frozenset(
    {"module", "_orig_mod", "_fsdp_wrapped_module", "_checkpoint_wrapped_module"}
)
"""Attributes only a wrapper has (DataParallel's ``module``, torch.compile's ``_orig_mod``,
FSDP's, activation checkpointing's): the first segment of every name it saves."""

NAME_WALK = re.compile(
    r"\bset_module_tensor_to_device\b|\bget_(?:submodule|parameter|buffer)\b|"
    r"getattr\(\s*\w+\s*,\s*split\s*\)|has\s+no\s+attribute\s+`\w+`"
)
"""Code placing a saved tensor by walking its name segment by segment: accelerate's
``set_module_tensor_to_device`` (``getattr(module, split)``), PyTorch's ``get_submodule``
(``Net has no attribute `module```)."""

SUBMODULE_ABSENT = re.compile(r"\b(\w+)\s+has\s+no\s+attribute\s+`(\w+)`")
"""PyTorch's ``get_submodule`` / ``get_parameter`` missing a segment of the path it walks."""

PATH_FOR_DICT = re.compile(
    r"Expected\s+state_dict\s+to\s+be\s+dict-like,\s+got\s+<class\s+'(str|bytes|pathlib\.\w*Path)'>"
)
"""PyTorch's ``load_state_dict`` given a string or a path, not the dict read from the file."""

OBJECT_FOR_STATE_DICT = re.compile(
    r"Expected\s+state_dict\s+to\s+be\s+dict-like,\s+got\s+<class\s+'(?:[\w.]+\.)?(\w+)'>"
)
"""PyTorch's ``load_state_dict`` given an object of a class (``<class '__main__.Net'>``): the
file held a whole pickled model where the code expects the dict of its weights."""

MODULE_METHODS = frozenset(
    {
        "to",
        "eval",
        "train",
        "cuda",
        "cpu",
        "half",
        "float",
        "forward",
        "parameters",
        "named_parameters",
        "modules",
        "children",
        "state_dict",
        "load_state_dict",
        "fuse",
        "requires_grad_",
        "zero_grad",
    }
)
"""Methods of a model: a loaded dict asked for one (``'collections.OrderedDict' object has no
attribute 'to'``) holds the weights alone where the code expects a whole model."""

ORDERED_DICT_ATTRIBUTES = frozenset(dir(OrderedDict))
"""What an ``OrderedDict``, the type a loaded state dict is, has."""

DICT_METHODS = frozenset({"items", "keys", "values"})
"""Methods of a dict: an object asked for one (``'Model' object has no attribute 'items'``) is
a whole pickled object where the code expects a dict of weights."""

IMPORT_LACKING = re.compile(r"cannot\s+import\s+name\s+'(\w+)'\s+from\s+'([\w.]+)'")
"""Loading code importing a name its library's installed release lacks (``cannot import
name 'Qwen3Config' from 'transformers'``)."""

TIE_REFUSED = re.compile(
    r"specifies\s+to\s+tie\s+([\w.]+)\s+to\s+([\w.]+),\s+but\s+both\s+are\s+(present|absent)"
)
"""transformers declining to tie two tensors its config ties: both in the checkpoint (with
other values), or neither."""

OPTIMIZER_GROUPS = re.compile(
    r"loaded\s+state\s+dict\s+contains\s+a\s+parameter\s+group\s+that\s+doesn't\s+match"
)
"""PyTorch's optimizer refusing saved state with a parameter group of another size than its
own: the state was saved while training a model with other parameters. (Another number of
groups is another optimizer setup, not another model.)"""

ABSENT_PART = re.compile(
    r"\b(\w+)\s+requested,?\s+but\s+not\s+present|couldn't\s+load\s+any\s+(languages)|"
    r"GetComponent\((TESSDATA_\w+)"
)
"""A model file lacking the part an engine mode asks for (Tesseract's ``LSTM requested, but
not present``, a traineddata without the legacy engine's ``TESSDATA_INTTEMP``)."""

MODEL_OBJECT = re.compile(r"[A-Z]\w*(?:Model|Module|Net|Network|Policy|Agent)")
"""A class named as a whole model (``BlockRNNModel``), whose instances are saved whole."""

LAYER_CLASSES = frozenset(
    {
        "Linear",
        "Bilinear",
        "Conv1d",
        "Conv2d",
        "Conv3d",
        "ConvTranspose1d",
        "ConvTranspose2d",
        "ConvTranspose3d",
        "BatchNorm1d",
        "BatchNorm2d",
        "BatchNorm3d",
        "SyncBatchNorm",
        "GroupNorm",
        "LayerNorm",
        "InstanceNorm2d",
        "Embedding",
        "EmbeddingBag",
        "LSTM",
        "GRU",
        "RNN",
        "LSTMCell",
        "GRUCell",
        "MultiheadAttention",
        "Transformer",
        "TransformerEncoderLayer",
        "TransformerDecoderLayer",
        "Upsample",
        "Dropout",
        "ReLU",
        "GELU",
        "SiLU",
        "LeakyReLU",
        "Hardswish",
        "Sequential",
        "ModuleList",
        "ModuleDict",
        "MaxPool2d",
        "AvgPool2d",
        "AdaptiveAvgPool2d",
        "Identity",
        "Flatten",
    }
)
"""PyTorch layer classes (and layers of libraries that reuse their names, such as PyG's
``Linear``) whose instances a whole-model pickle carries."""


def read_attributes(found: Facts, text: str) -> None:
    """Attributes an object lacks: another kind of object, another release's class."""
    lacking = [stale.groups() for stale in STALE_ATTRIBUTE.finditer(text)]
    found.module_method = next((a for c, a in lacking if _asks_dict_for_model(c, a)), "")
    found.object_for_dict = next(
        (c for c, a in lacking if a in DICT_METHODS and c not in BUILTIN_TYPES), ""
    )
    found.path_for_dict = said(PATH_FOR_DICT, text, 1)
    refused = OBJECT_FOR_STATE_DICT.search(text)
    if refused is not None and not found.path_for_dict and refused[1] not in BUILTIN_TYPES:
        found.object_for_dict = found.object_for_dict or refused[1]
        found.object_refused = True
    if NAME_WALK.search(text):
        walked = [*lacking, *(m.groups() for m in SUBMODULE_ABSENT.finditer(text))]
        found.wrapper_segment = next(
            (a for c, a in walked if a in WRAPPER_ATTRIBUTES and c not in BUILTIN_TYPES), ""
        )
    found.optimizer_groups = said(OPTIMIZER_GROUPS, text)
    tie = TIE_REFUSED.search(text)
    found.tie_refused = (tie[1], tie[2], tie[3]) if tie is not None else None
    lacking_import = IMPORT_LACKING.search(text)
    found.import_lacking = (
        (lacking_import[1], lacking_import[2]) if lacking_import is not None else None
    )
    absent_part = ABSENT_PART.search(text)
    if absent_part is not None:
        found.absent_part = next(g for g in absent_part.groups() if g)
    for stale in STALE_ATTRIBUTE.finditer(text):
        cls, attribute = stale.groups()
        if (attribute in DICT_METHODS and cls == found.object_for_dict) or _asks_dict_for_model(
            cls, attribute
        ):
            continue  # an object of another kind than the code expects, read above
        if OPTIMIZER_SLOT.fullmatch(attribute):
            found.optimizer_slot = attribute
            break
        changes = knowledge.changes_for(f"{cls}.{attribute}")
        # A type's method missing where a library now returns another type (h5py 3's str
        # for bytes) is that library's change when the failing call loads weights.
        known = any(
            c.kind == "attribute" or (c.kind == "api" and LOADING_CONTEXT.search(text))
            for c in changes
        )
        # A layer class lacking a private attribute its own code sets was not built by this
        # version's constructor: it was unpickled from a file an older version wrote.
        # So was a model object lacking a private attribute (its current code sets it).
        unpickled = (
            cls in LAYER_CLASSES and (attribute.startswith("_") or UNPICKLING.search(text))
        ) or (MODEL_OBJECT.fullmatch(cls) is not None and attribute.startswith("_"))
        # PyTorch 1.6-1.7 raised ModuleAttributeError for modules alone: the object is a
        # module (a detection head ``IDetect``), built by another version of its code.
        of_module = (
            text[max(stale.start() - 24, 0) : stale.start()]
            .rstrip()
            .endswith("ModuleAttributeError:")
        )
        # A loader calling a private hook on a model class that lacks it: the class's code
        # (a repository's remote code, another package) and the loader are other releases.
        hook = (
            attribute.startswith("_")
            and not attribute.startswith("__")
            and cls not in BUILTIN_TYPES
            and LOADING_CONTEXT.search(text) is not None
        )
        if known or unpickled or of_module or hook:
            found.stale_attribute = (cls, attribute)
            found.called_hook = hook and not (known or unpickled or of_module)
            break
        if cls in OPTION_CLASSES and LOADING_CONTEXT.search(text):
            found.stale_option = (cls, attribute)


def _asks_dict_for_model(cls: str, attribute: str) -> bool:
    """Whether code asked a loaded dict for what only a model has.

    A plain ``dict`` lacking a module's method (``to``, ``eval``), or an ``OrderedDict``, the
    type a loaded state dict is, lacking any attribute of its own (``compute_loss``): the
    file holds the weights alone where the code expects a whole pickled model.
    """
    if cls == "OrderedDict":
        return attribute not in ORDERED_DICT_ATTRIBUTES and not attribute.startswith("__")
    return cls == "dict" and attribute in MODULE_METHODS
