"""What a text names: model types and class, versions, files, quantization words, architectures."""

from __future__ import annotations

import re

from weightfit import knowledge
from weightfit.explain.statements.phrases import INVALID_VIEW, PATH_WORD, invalid_view
from weightfit.explain.statements.record import Facts

_QUANT_ALTERNATIVES = (
    r"gptq|awq|bitsandbytes|bnb|nf4|fp4|int8|int4|4-?bit|8-?bit|gguf|ggml|exl2|"
    r"torchao|quantiz\w*|qweight|qzeros|g_idx|SCB|absmax|quant_map|marlin|fp8|"
    r"bitsandbytes__\w*|quantized_stats|q4_\w+|q8_0|iq[1-4]_\w+|k-quants?|quant_state|"
    r"quant_type|"
    r"weight_format|weight_scale|input_scale|Params4bit|Linear4bit|Linear8bitLt|"
    r"QuantLinear|WQLinear\w*|CompressedLinear|hqq|eetq|aqlm|compressed[-_]tensors|float8_e4m3fn|"
    r"float8_e5m2|torch\.u?int8|mxfp[468]|nvfp4|mxint8|"
    # Chinese for quantization (``量化后的模型``, a quantized model); read as a part, since
    # Chinese glues words together.
    r"量化"
)

QUANT_WORDS = re.compile(rf"\b({_QUANT_ALTERNATIVES})\b", re.I)
"""Words of quantized storage."""

QUANT_PARTS = re.compile(rf"(?<![A-Za-z0-9])({_QUANT_ALTERNATIVES})(?![A-Za-z0-9])", re.I)
"""The same words as a part of a snake_case name in code (``load_llama_model_4bit_low_ram``),
read outside file paths, whose parts name a model's folder (``qwen_7b_chat_int4/``)."""

QUANT_CLASS = re.compile(
    r"\b[A-Z][A-Za-z0-9]*?(?:Quant(?:ized|izer)?|[248]bit|Int[48]|GPTQ|AWQ|FP8|Fp8)"
    r"(?=[A-Z0-9_]|\b)\w*|\b(?:FP8|Fp8|GPTQ|AWQ)(?=[A-Z][a-z])\w+"
)
"""A CamelCase class named for quantized storage (``Autograd4bitQuantLinear``,
``GPTQLinear``): one of its parts is a quantization word."""

MLX = re.compile(
    r"\bmlx\b|Mismatched\s+parameter\s+[\w.]+(?:\s+in\s+\S+)?\s+shape\.\s+Actual\b|"
    r"Expected\s+shape\s+\([\d,\s]*\)\s+but\s+received\s+shape\s+\([\d,\s]*\)\s+for\s+parameter",
    re.I,
)
"""MLX's loaders (MLX Swift's ``Mismatched parameter X shape. Actual [..], expected [..]``,
``mlx.nn.Module.load_weights``' ``Expected shape (..) but received shape (..) for
parameter``), or MLX named."""

LORA_WORDS = re.compile(r"\b(lora|loras|lycoris|locon|loha|lokr|peft|adapter\w*|dora)\b", re.I)

MODEL_TYPES = re.compile(
    r"You\s+are\s+using\s+a\s+model\s+of\s+\**type\s+\**([^\s*]+)\**\s+to\s+instantiate\s+a\s+"
    r"model\s+of\s+\**type\s+\**([^\s*]+?)\**\.?(?:\s|$)"
)
"""transformers' warning on a config of one model type built as another; a Markdown paste
may set either type (or ``type`` with it) in bold: ``of **type sam2**``."""

MODEL_CLASS = re.compile(
    r"(?:state_dict\s+for|initializing|initialising|Weights\s+of|weights\s+of|"
    r"used\s+in|instantiate)\s+(?:a\s+model\s+of\s+type\s+)?([A-Z]\w+)"
)

VERSION = re.compile(
    r"\b(torch|pytorch|transformers|diffusers|peft|timm|accelerate|vllm|sglang|mmcv|mmdet|"
    r"mmengine|detectron2|lightning|pytorch_lightning|safetensors|bitsandbytes|auto_gptq|"
    r"autoawq|ultralytics|fairseq|mlx)\s*(?:==|version[:\s]*|v|:)?\s*(\d+\.\d+(?:\.\d+)?\w*)",
    re.I,
)

FILE_NAME = re.compile(
    r"[\w\-.~]+\.(?:pth|pt|ckpt|bin|safetensors|pkl|gguf|h5|npz|tar|model)\b(?!\.\w)", re.I
)
"""A checkpoint file's name, not the start of a dotted path (``cond_stage_model.model.x``)."""

UNSUPPORTED_PRECISION = re.compile(
    r"\b(float16|bfloat16|half|fp16|bf16|fp8\w*|float8\w*)\b[^\n]{0,80}?\bnot\s+(?:be\s+)?supported|"
    r"\b(?:not|n't)\s+support\s+(?:\w+\s+){0,2}(float16|bfloat16|fp16|bf16|fp8\w*)\b|"
    r"data\s+type\s+'(bfloat16|float8\w*)'\s+not\s+understood|"
    # PyTorch converting a tensor to NumPy, which has no bfloat16 or float8 type.
    r"Got\s+unsupported\s+ScalarType\s+(BFloat16|Float8\w*)|"
    # A runtime gating a precision on the GPU's compute capability (vLLM, ComfyUI nodes).
    r"\b(bfloat16|bf16|fp8|float8\w*)\b[^\n]{0,40}?(?:\bonly\s+supported\s+on|\brequires?)\s+"
    r"(?:a\s+)?(?:GPUs?|devices?|hardware)\s+with\s+compute\s+capability|"
    # CTranslate2 refusing a compute type the device or backend cannot run.
    r"Requested\s+(\w+)\s+compute\s+type",
    re.I,
)
"""A loader or device refusing a precision (``Requested float16 compute type, but the
target device or backend do not support efficient float16 computation``, ``fp8 scaled is
not supported by this node``; NumPy, which has no bfloat16, reading such weights: ``data
type 'bfloat16' not understood``, or PyTorch's ``.numpy()`` on them: ``Got unsupported
ScalarType BFloat16``; vLLM's ``Bfloat16 is only supported on GPUs with compute capability of
at least 8.0``; CTranslate2's ``Requested int8_float16 compute type``, which it raises only on
a type the device cannot run): the weights' or the requested dtype, not their values."""

UNKNOWN_ARCHITECTURE = re.compile(
    r"model\s+type\s+['\"`](?P<architecture1>[\w.\-]+)['\"`]\s+but\s+Transformers\s+does\s+not\s+"
    r"recognize|"
    r"unknown\s+(?:model\s+)?architecture:?\s*['\"`](?P<architecture2>[\w.\-]+)['\"`]|"
    r"(?:unsupported|unexpected)\s+(?:model\s+)?architectures?(?:\s+type)?[^\n]*?(?:got|:)\s*\[?\s*"
    r"['\"`](?P<architecture3>[\w.\-]+)['\"`]|"
    r"Architecture\s+['\"`](?P<architecture4>[\w.\-]+)['\"`]\s+(?:is\s+)?not\s+supported|"
    r"GGUF\s+model\s+with\s+architecture\s+(?P<architecture8>[\w.\-]+)\s+is\s+not\s+supported|"
    r"unsupported\s+(?:model\s+)?architecture\s+[\"'`](?P<architecture9>[\w.\-]+)[\"'`]|"
    # AutoGPTQ's and AutoAWQ's model-type table (``TypeError: qwen3 isn't supported yet.``).
    r"TypeError:\s+(?P<architecture10>[\w.\-]+)\s+isn't\s+supported\s+yet|"
    # llama.cpp's convert_hf_to_gguf.py before its ``Architecture '…' not supported!``.
    r"\bModel\s+(?P<architecture11>[A-Z]\w*For[A-Z]\w+)\s+is\s+not\s+supported|"
    r"Model\s+type\s+['\"`]?(?P<architecture5>[\w.\-]+?)['\"`]?\s+(?:is\s+)?not\s+supported|"
    r"architectures?\s+\[?\s*['\"](?P<architecture6>[\w.\-]+)['\"][^\]\n]*?\]?\s+(?:are|is)\s+not\s+"
    r"supported|"
    r"CONFIG_MAPPING\[[^\n]*\][\s\S]{0,600}?KeyError:\s*'(?P<architecture7>[\w.\-]+)'|"
    r"Tokenizer\s+class\s+(?P<tokenizer>[\w.]+)\s+does\s+not\s+exist\s+or\s+is\s+not\s+currently\s+"
    r"imported|"
    # timm's and torch.hub's registries lacking a model name (an older release, or a renamed
    # entry).
    r"\bUnknown\s+model\s+\((?P<registry1>[\w.\-]+)\)|"
    r"Cannot\s+find\s+callable\s+(?P<registry2>[\w.\-]+)\s+in\s+hubconf|"
    # llama.cpp's vocabulary loader meeting a pre-tokenizer its release does not know.
    r"unknown\s+pre-tokenizer\s+type:\s*['\"`](?P<pre_tokenizer>[\w.\-]+)['\"`]|"
    # A library's registry (fairseq's criteria, tasks, architectures; fairchem's models)
    # looked up with a name the checkpoint's saved arguments use.
    r"Failed\s+to\s+find\s+the\s+model\s+'(?P<registry3>[\w.\-]+)'\.\s+You\s+may\s+either\s+use\s+"
    r"a\s+model\s+from\s+the\s+registry|"
    r"\b[A-Z_]*REGISTRY\w*\b[^\n]*\[[^\n]*\]\s*\n\s*KeyError:\s*'(?P<registry4>[\w.\-]+)'|"
    # spaCy's E893: a model's config naming a registered function the installed packages lack.
    r"Could\s+not\s+find\s+function\s+'(?P<registry6>[\w.\-]+)'\s+in\s+function\s+registry|"
    # A saved config naming a block type the code's release does not build (diffusers'
    # ``unknown mid_block_type : UNetMidBlock2DCrossAttn``).
    r"\bunknown\s+\w*(?:block|layer)_type\s*:\s*['\"`]?(?P<registry5>\w+)",
    re.I,
)
"""A loader that does not know the checkpoint's architecture (transformers' model type,
llama.cpp and GGUF loaders' architecture names, vLLM's supported list, an old
``CONFIG_MAPPING``, timm's and torch.hub's model names) or its tokenizer's class: the
file may be fine and the library older than the model."""

TRANSFORMERS_CONTEXT = re.compile(
    r"(?<![a-z_])transformers(?![a-z_])|AutoConfig|AutoModel\w*|AutoTokenizer|CONFIG_MAPPING",
    re.I,
)
"""Words that put a ``KeyError`` on a model type (``'qwen2'``) in transformers' hands (the
library named beside other scripts' words too: ``transformers版本``)."""


def read_names(found: Facts, text: str) -> None:
    """What the text names: model types and class, versions, files, quantization and LoRA words."""
    types = MODEL_TYPES.search(text)
    if types is not None:
        # transformers 5 quotes each type in backticks (``of type `bert` to instantiate``).
        found.model_types = (types.group(1).strip(".,`"), types.group(2).strip(".,`"))
    model = MODEL_CLASS.search(text)
    if model is not None:
        found.model_class = model.group(1)
    for library, version in VERSION.findall(text):
        found.versions.setdefault(library.lower(), version)
    found.files = list(dict.fromkeys(FILE_NAME.findall(text)))[:20]
    found.quantization = sorted(
        {w.lower() for w in QUANT_WORDS.findall(text)}
        | {w.lower() for w in QUANT_PARTS.findall(PATH_WORD.sub(" ", text))}
        | {w.lower() for w in QUANT_CLASS.findall(text)}
    )
    found.mlx = MLX.search(text) is not None
    found.lora = sorted({w.lower() for w in LORA_WORDS.findall(text)})
    view = INVALID_VIEW.search(text)
    if view is not None:
        found.invalid_view = invalid_view(view)


def read_unknown_names(found: Facts, text: str) -> None:
    """A precision or an architecture the reader does not know."""
    precision = UNSUPPORTED_PRECISION.search(text)
    if precision is not None:
        found.unsupported_precision = next(g for g in precision.groups() if g).lower()
    unknown = UNKNOWN_ARCHITECTURE.search(text)
    if unknown is not None:
        kind, found.unknown_architecture = next(
            (k, v) for k, v in unknown.groupdict().items() if v is not None
        )
        found.unknown_kind = kind.rstrip("0123456789")
    elif TRANSFORMERS_CONTEXT.search(text):
        # transformers looking a model type up in its own table: a release older than it.
        model_types = knowledge.model_types()
        found.unknown_architecture = next((k for k in found.key_errors if k in model_types), "")
        found.unknown_kind = "architecture" if found.unknown_architecture else ""
