"""Phrases more than one reader of :mod:`weightfit.explain.statements` looks for."""

from __future__ import annotations

import re

TORCH_READER = r"torch[/\\]+serialization\.py|\bfind_class\b"
"""PyTorch's reader at work in a traceback: its module, or its unpickler looking a class up."""

LOADING_CONTEXT = re.compile(
    r"state_dict|checkpoint|ckpt|from_pretrained|load_model|torch\.load|safe\s?tensors?|\.gguf\b|"
    r"pretrained\s+weights|model\s+(?:weights|files?\b)|weights\s+file|load_weights|"
    r"load_checkpoint|"
    # A load call in the traceback, a loader node (ComfyUI's CheckpointLoaderSimple ...).
    r"\bload\w*\(|\w+(?<!Data)Loader\w*|\b(?:restore|init_from|load_from)\w*|"
    # A runner's own words that loading the model failed.
    r"\bmodel\s+loading\b|\bfailed\s+to\s+load\s+(?:the\s+)?model\b|"
    r"\bload(?:ing|ed|s)?\s+(?:\w+\s+){0,2}?(?:trained|saved|pretrained)\s+models?\b|"
    # Keras reading a saved HDF5 model's own attributes.
    r"attrs\[['\"](?:keras_version|backend|model_config|training_config)['\"]\]|"
    # Code copying saved values into a model's tensors (``param.data.copy_(blobs[name])``).
    r"\.copy_\(|"
    # A network built from a map of named weights (TensorRT API builders read .wts files).
    r"std::map<[^\n]{0,120}?Weights>|"
    # candle's VarBuilder looking a tensor up by name.
    r"cannot\s+find\s+tensor\b|"
    # A Python traceback's frame in a loading function (``line 3147, in load_state``).
    r"line\s+\d+,\s+in\s+_?(?:load|restore)\w*|"
    # numpy's loader refusing a pickle; a TensorFlow Hub module loaded by its handle.
    r"\bas\s+a\s+pickle\b|\bhub\.(?:Module|load|KerasLayer)\(|"
    # transformers' and diffusers' modules that load every model and its config.
    r"\b(?:modeling|configuration)_utils\b|"
    # A checkpoint converter's script (``convert_from_jax.py``, ``convert_hf_to_gguf.py``).
    r"\bconvert\w*\.py\b|"
    # A reader that found no weights file where it looked.
    r"No\s+such\s+file[^\n]*\.(?:pth?|bin|safetensors|ckpt|gguf|h5|distcp|onnx)\b|"
    # A traceback frame of code reading weights (``in ReadTinyYOLONetWeights``).
    r"\bin\s+\w*(?:read|load|restore)\w*weights?\w*|"
    # A model file of a runtime outside PyTorch (Paddle, TensorFlow Lite, Core ML, TensorRT,
    # RKNN, Caffe, MXNet, NeMo, Keras 3).
    r"[\w\-]\.(?:pdmodel|pdiparams|pdparams|tflite|mlmodel|mlpackage|engine|plan|rknn|"
    r"caffemodel|nemo|keras)\b|" + TORCH_READER,
    re.I,
)
"""An exception raised while loading weights: the text holds a loading error even when no
message weightfit knows says what went wrong."""

PICKLED_FILE = re.compile(r"[\w.\-]+\.(?:pth|pt|ckpt|pkl)(?![\w.])", re.I)
"""A PyTorch pickle: no magic number of any other reader's format."""

PATH_WORD = re.compile(r"\S*[/\\]\S*|\S+\.(?:model|json|bin|pth?|gguf|safetensors)\b")

UNPICKLING = re.compile(
    r"torch\.load|pickle|unpickl|_load\(|load_(?:from_)?checkpoint|attempt_load|" + TORCH_READER,
    re.I,
)
"""Code that unpickles: a load call, or the unpickler looking a class up."""

INVALID_VIEW = re.compile(
    r"(?:shape|size)\s+'\[(?P<shape>[\d,x\s\-]*)\]'\s+is\s+invalid\s+for\s+input\s+"
    r"(?:of\s+size\s+(?P<size>\d+)|with\s+(?P<elements>\d+)\s+elements)|"
    r"cannot\s+reshape\s+array\s+of\s+size\s+(?P<array>\d+)\s+into\s+shape\s+"
    r"\((?P<into>[\d,\s\-]*)\)|"
    r"provided\s+shape,?\s+\[(?P<provided>[\d,\s]*)\],?\s+the\s+tensor\s+should\s+have\s+"
    r"\d+\s+values\s+but\s+has\s+(?P<values>\d+)"
)
"""A weight that does not take the shape it is viewed as: PyTorch's ``shape '[a, b]' is
invalid for input of size N``, PyTorch 0.4's ``size '[a x b]' is invalid for input with N
elements``, NumPy's ``cannot reshape array of size N into shape (a,b,c,d)`` (readers of
raw weight streams: Darknet's ``.weights``) and TensorFlow.js's ``Based on the provided shape,
[a, b], the tensor should have N values but has M`` (weights decoded from its binary shards)."""


def invalid_view(match: re.Match[str]) -> tuple[tuple[int, ...], int]:
    """The shape and the element count of an :data:`INVALID_VIEW` match."""
    shape = match["shape"] or match["into"] or match["provided"] or ""
    dims = tuple(int(d) for d in re.findall(r"-?\d+", shape))
    return dims, int(match["size"] or match["elements"] or match["array"] or match["values"])


def said(pattern: re.Pattern[str], text: str, group: int = 0) -> str:
    """What the first match of ``pattern`` in ``text`` holds (a group of it), or ``""``."""
    match = pattern.search(text)
    return match.group(group) if match is not None else ""


FELL_BACK = re.compile(
    r"(?:no\s+file\s+named|not\s+found|could\s+not\s+find|can't\s+find|does\s+not\s+exist)"
    r"[^\n]{0,300}?(?:Defaulting\s+to|falling\s+back\s+to)\b[^\n.]*\.?",
    re.IGNORECASE,
)
"""A failed lookup and, at once, the fallback the loader took: a notice, not an error, when
nothing fails after it (diffusers' ``Error no file named diffusion_pytorch_model.safetensors
found in directory X.`` then ``Defaulting to unsafe serialization``, reading the .bin)."""
