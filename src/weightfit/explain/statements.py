"""What a loading-error text says besides its tensors: the :class:`Facts` of a text.

Whether it holds a loading error at all, the model class and types, library versions,
file names, quantization and LoRA words, stated quantities (two vocabulary sizes, two
layer counts), failed lookups and container keys, broken or newer files, and the hints
that would settle a fact no tensor shows. :mod:`weightfit.explain.extract` reads the
tensors; the text rules of :mod:`weightfit.diagnose` read both.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field

from weightfit import knowledge
from weightfit.diagnose._facts import DEFAULT_CHANGED, METADATA_ENTRIES, index_pattern, indexed
from weightfit.diagnose.text_kinds import another_kind_said, lightgbm_release
from weightfit.explain.spaces import SpaceMismatch, space_mismatch
from weightfit.formats.containers import TORCHSCRIPT_NAMESPACE

KEY_ERROR = re.compile(
    r"KeyError:\s*(?:([\"'])(?P<quoted>[^\"'\s]+)(?:\1|$)|"
    r"(?P<bare>[A-Za-z_][\w\-]*(?:\.[\w\-]+)*\.(?:weight|bias|running_mean|running_var)\b))",
    re.I | re.M,
)
"""``KeyError: 'name'``: one key, quoted whole (not a sentence such as PyTorch 0.3's
``KeyError: 'unexpected key "a.b" in state_dict'``; a closing quote the paste lost is
forgiven), or a parameter's dotted name as people retype it (``keyerror: stem.0.weight``)."""
FRAME = re.compile(r"([\w.\-/\\]+\.py)\b[^\n]{0,120}?\bin\s+(\w+)")
"""One traceback frame, as Python prints it (``File "a/b.py", line 3, in load_state``) or
IPython (``/a/b.py in load_state(checkpoint)``): its module path and function."""
NODE_KEY_ERROR = re.compile(
    r"^[^\S\n]*\w*Loader\w*[^\S\n]*:[^\S\n]*(['\"])(?P<quoted>[\w.\-]+)\1[^\S\n]*$", re.M
)
"""ComfyUI's ``NodeName: message`` where the message is a ``KeyError``'s own text, the quoted
key alone (``MochiModelLoader: 'pos_frequencies'``): a loader node that looked a key up."""
NAMED_FILE = (
    r"(?![\w\-.]*\.(?:pt|pth|bin|json|safetensors|ckpt|gguf|onnx|h5|pkl|txt|yaml|msgpack)"
    r"(?!\.?[\w\-]))"
)
"""A name that ends in a file's extension (``optimizer.pt``, ``model.safetensors``): a file
the text says a checkpoint lacks, not a tensor."""
NOT_IN_FILE = re.compile(
    r"(?:cannot|can't|couldn't|could\s+not|unable\s+to)\s+find\s+"
    rf"(?:tensor|key|weight|parameter|layer)\s*['\"`]?({NAMED_FILE}[\w.\-]+\.[\w\-]+)"
    rf"|(?:CannotFindTensor|TensorNotFound|KeyNotFound)\W+(?:path:\s*)?\\?['\"]?({NAMED_FILE}[\w.\-]+\.[\w\-]+)"
    # safetensors asked for a tensor its file lacks; Paddle's set_state_dict skipping one.
    rf"|File\s+does\s+not\s+contain\s+tensor\s+({NAMED_FILE}[\w.\-]+\.[\w\-]+)"
    rf"|\b({NAMED_FILE}[\w.\-]+\.[\w\-]+)\s+is\s+not\s+found\s+in\s+the\s+provided\s+dict"
    rf"|(?:weight|tensor|key|parameter)\s+['\"`]?({NAMED_FILE}[\w.\-]+\.[\w\-]+)['\"`]?\s+"
    r"(?:does\s+not\s+exist|is\s+not\s+found|not\s+found|is\s+missing)"
    rf"|['\"`]({NAMED_FILE}[\w\-]+(?:\.[\w\-]+)+)\s+(?:does\s+not\s+exist|is\s+not\s+found)['\"`]"
    rf"|\bno\s+(?:param(?:eter)?|weight|tensor)\s+['\"`]?({NAMED_FILE}[\w\-]+(?:\.[\w\-]+)+)"
    rf"|['\"`]?\b({NAMED_FILE}[\w\-]+(?:(?:\.|//?)[\w\-]+)+)\s+is\s+not\s+a\s+file\s+in\s+the\s+archive"
    rf"|['\"`]?\b({NAMED_FILE}[\w\-]+(?:\.[\w\-]+)+)['\"`]?\s+is\s+not\s+(?:found\s+)?in\s+(?:the\s+)?"
    r"(?:checkpoint|state_?dict|weights?\s+file|file)\b"
    # A question about a file that lacks a tensor ("index.json not have lm_head.weight").
    r"|(?:\.json|\.safetensors|\.bin|\.pth?|\.ckpt|checkpoint|state_?dict)\s+"
    r"(?:does\s+not|doesn't|do\s+not|don't|not)\s+(?:have|contain|include)\s+['\"`]?"
    rf"({NAMED_FILE}[\w\-]+(?:\.[\w\-]+)+)",
    re.I,
)
"""A loader that looked a tensor up in the file and did not find it (candle, web-rwkv,
FasterTransformer, TGI, llama.cpp, an npz archive's path with Haiku's ``module//param``): that
name is missing from the checkpoint. A name ending in a file's extension (:data:`NAMED_FILE`)
is a file the text names, never a tensor."""
CONTAINER_WORD = re.compile(r"state_?dict|model|params?|parms|net|module|ema|weights|checkpoint")
"""Plain words a quoted key list may hold: containers a state dict nests under."""

LOADING_ERROR = re.compile(
    r"Error\(s\)\s+in\s+loading|size\s+mismatch|shape\s+mismatch|形状不匹配|\bkeys\s+to\s+(?:start|begin)\s+with\b|Missing\s+key|Unexpected\s+key|"
    r"unexpected\s+key|missing\s+keys|not\s+initiali[sz]ed\s+from|were\s+not\s+used\s+when|"
    r"incompatible\s+shapes|While\s+copying\s+the\s+parameter|do\s+not\s+match|"
    r"does\s+not\s+match|doesn't\s+match|mismatch(?:ed)?\s+(?:shape|size)|"
    r"Incompatible\s+number\s+of\s+blobs\s+for\s+layer|Cannot\s+copy\s+param\s+\d+\s+weights|"
    r"assert\s+[\w.\[\]'\"]*\.shape\s*==\s*[\w.\[\]'\"]*\.shape|"
    r"does\s+not\s+have\s+the\s+required\s+variant\s+filenames|"
    r"Restoring\s+from\s+checkpoint\s+failed|Unsuccessful\s+TensorSliceReader\s+constructor|"
    # An app or builder failing on the model it was pointed at (LLaVA's vision tower).
    r"problem\s+loading\s+(?:the\s+)?(?:pipeline|model|checkpoint|weights)|"
    r"Unknown\s+vision\s+tower:|"
    # A loader finding no model of the kind it reads in the file or folder it was given
    # (ComfyUI's ``does not contain a valid vision model``, PEFT's ``Can't find
    # 'adapter_config.json' at``).
    r"does\s+not\s+contain\s+a\s+valid\s+(?:[\w-]+\s+){0,2}model|"
    r"Can't\s+find\s+'[\w.\-]+\.json'\s+at\b|"
    # Adapters a server or trainer refuses (vLLM's ranks and weights, mlx-lm's tensors), or
    # a LoRA diffusers cannot map onto its model (keys no prefix or conversion matched, a
    # shape its loader cannot expand).
    r"No\s+LoRA\s+keys\s+associated\s+to\s+\w+\s+found|have\s+not\s+been\s+correctly\s+renamed|"
    r"This\s+LoRA\s+param\s+\([\w.]+\)\s+has\s+an\s+incompatible\s+shape|"
    r"LoRA\s+rank\s+\d+\s+is\s+greater\s+than\s+max_lora_rank|is\s+unsupported\s+LoRA\s+weight|"
    r"Adapter\s+at\s+\S+\s+contains\s+incompatible\s+tensors|"
    # An app whose every backend refused the model file (SwarmUI).
    r"none\s+were\s+able\s+to\s+load\s+(?:the\s+)?model|backends\s+failed\s+to\s+load\s+the\s+model|"
    # A distributed save's folder without the file naming its newest step (DeepSpeed's
    # ``Unable to find latest file``, Megatron's ``latest_checkpointed_iteration.txt``).
    r"Unable\s+to\s+find\s+['\"`]?latest['\"`]?\s+file|latest_checkpointed_iteration\.txt|"
    # ggml reading a tensor whose rows do not fill its quantization type's blocks.
    r"elements\s+per\s+row,\s+not\s+a\s+multiple\s+of\s+block\s+size|"
    # A runtime's file constructor failing (MNN's ``NetInstance::createFromFile failed``).
    r"\b\w*(?:create|load)\w*From(?:File|Path)\s+failed|"
    # Keras deserializing a saved model whose class it cannot find.
    r"Could\s+not\s+locate\s+class\s+'\w+'|"
    r"Expected\s+token\s+\"[^\"\n]*\",\s+got\s+instead|"
    # A GGUF runtime expecting tensors of another GGML type (``expected IQ2_XXS expert tensors``).
    r"(?i:expected\s+(?:\w+\s+){0,2}?i?q[1-8]_\w+\s+(?:\w+\s+){0,2}?tensors?)|"
    r"not\s+matched\s+with\s+loaded|['\"]unmatched['\"]\s*:\s*\[\s*['\"]|"
    r"is\s+invalid\s+for\s+input\s+of\s+size|lora\s+key\s+not\s+loaded|failed\s+to\s+match\s+keys|"
    r"(?i:KeyError):\s*['\"]?[\w\-]+\.[\w.\-]+|Unsupported\s+global|weights_only|"
    r"not\s+found\s+in\s+(?:the\s+)?checkpoint|not\s+used\s+by\s+the\s+model|"
    r"model\s+of\s+type\s+\S+\s+to\s+instantiate|Received\s+parameters\s+not\s+in\s+model|"
    r"more\s+than\s+one\s+\.index\.json|Error\s+while\s+deserializing|"
    r"shapes?\s+(?:cannot|can't|could\s+not)\s+be|expected\s+shape|"
    r"Cannot\s+load|Unable\s+to\s+load|failed\s+to\s+load|could\s+not\s+load|"
    r"Error\s+(?:when|while)\s+loading|load_state_dict|from_pretrained|"
    r"mismatch\s+between\s+(?:the\s+)?(?:model|checkpoint|weights)\s+and|"
    r"discarded\s+due\s+to\s+unmatched\s+keys|"
    # A loader refusing a file as not of the kind it takes (``contains no temporal keys; it
    # is not a valid motion LoRA``).
    r"contains\s+no\s+(?:\w+\s+)?keys|Attempting\s+to\s+use\s+uninitiali[sz]ed\s+value|"
    # A loader missing an entry it needs in the file (``No best_configure found in the model
    # file``).
    r"No\s+\w+\s+found\s+in\s+the\s+(?:model|checkpoint|weights?)\s+file|"
    r"is\s+not\s+a\s+valid\s+(?:[\w\-]+\s+){0,3}(?:LoRA|model|checkpoint|adapter|weights)\b|"
    r"copying\s+a\s+param|not\s+loaded|are\s+newly\s+initiali[sz]ed|\bin\s+state_dict:\s*[\"']|"
    r"Can't\s+get\s+attribute\s+'\w+'|has\s+(?:the\s+)?wrong\s+(?:size|shape)|size\s+of\s+tensor\s+a\s+\(\d+\)\s+must|"
    r"invalid\s+for\s+input\s+with\s+\d+\s+elements|on\s+the\s+meta\s+device|"
    r"tensor\s+'[\w.]+'\s+not\s+found|error\s+loading\s+model|invalid\s+load\s+key|"
    # The same said in Chinese: loading the model, it reported an error (``加载量化后的模型，
    # 结果报错``).
    r"加载[^\n]{0,40}?模型[^\n]{0,20}?报错|"
    # Prose saying a lookup of names failed (``those keys were not found in the param
    # dictionary``).
    r"keys?\s+(?:were|was|are|is)\s+not\s+found\s+in\s+the\s+(?:param(?:eter)?s?|weights?|state)"
    r"[\s_]?dict(?:ionary)?|"
    r"failed\s+finding\s+central\s+directory|failed\s+reading\s+zip\s+archive|"
    # TensorFlow's checkpoint reader failing to open what it was given as a checkpoint.
    r"use\s+a\s+different\s+restore\s+operator|"
    r"does\s+not\s+appear\s+to\s+have\s+a\s+file\s+named|no\s+file\s+named|"
    # diffusers' and transformers' refusal of a path that is no model folder.
    r"is\s+not\s+the\s+path\s+to\s+a\s+directory\s+containing\s+a\s+(?:file\s+named\s+)?[\w.]+|"
    # Quantized-model loaders finding no file of the name they read (AutoGPTQ,
    # text-generation-webui's GPTQ loader).
    r"Please\s+specify\s+the\s+argument\s+model_basename|"
    r"Could\s+not\s+find\s+the\s+quantized\s+model\s+in|"
    r"Unable\s+to\s+load\s+weights|Layer\s+count\s+mismatch|Unable\s+to\s+open\s+file|"
    r"model\s+load(?:ing)?\s+(?:error|failed)|not\s+(?:forwards?\s+|backwards?\s+)?compatible\s+with|"
    r"Weight\s+count\s+mismatch|(?:incompatible|invalid)\s+(?:[\w-]+\s+){0,3}model\b|"
    r"weight\s+file\s+containing\s+\d+\s+layers|"
    # llama.cpp refusing a piece of a split GGUF (``invalid split file name: ...``).
    r"invalid\s+split\s+file|"
    # Loaders refusing a file's format or architecture (llama.cpp, ollama, GGUF nodes, vLLM).
    r"invalid\s+(?:file\s+)?magic|not\s+a\s+valid\s+gguf|"
    r"(?:unknown|unsupported|unexpected)\s+(?:model\s+)?architecture|"
    r"architectures?\s+\[[^\]\n]*\]\s+(?:are|is)\s+not\s+supported|"
    r"does\s+not\s+recognize\s+this\s+architecture|"
    r"(?:unknown|unsupported)\s+(?:data\s*type|dtype|tensor\s+type)|"
    # TensorFlow / Keras assigning a saved value to a variable of another shape.
    r"for\s+'[\w/]*Assign\w*'|weight\s+shape\s+\([\d,\s]*\)\s+(?:is\s+)?not\s+compatible|"
    r"assigned\s+value\s+shape|"
    r"Architecture\s+['\"`][\w.\-]+['\"`]\s+(?:is\s+)?not\s+supported|"
    r"could\s+not\s+detect\s+model\s+type|Unrecognized\s+configuration\s+class|"
    r"Unrecognized\s+model\s+in|Unknown\s+layer|variables\s+during\s+loading|"
    r"not\s+found\s+in\s+the\s+base\s+model|Attempting\s+to\s+deserialize\s+object|"
    r"were\s+set\s+but\s+no\s+module\s+was\s+matched|"
    r"storage\s+has\s+wrong\s+size|Attempted\s+to\s+load\s+weight|"
    r"has\s+wrong\s+shape|wrong\s+number\s+of\s+tensors|"
    r"does\s+not\s+have\s+a\s+parameter\s+or\s+a\s+buffer\s+named|"
    r"axes\s+don't\s+match\s+array|PytorchStreamReader\s+failed|inline_container|"
    r"persistent\s+id\s+instruction|Cannot\s+copy\s+out\s+of\s+meta\s+tensor|"
    r"Shapes\s+\([\d?,\s]*\)\s+and\s+\([\d?,\s]*\)\s+are\s+incompatible|"
    # TensorRT refusing a serialized engine (another release's, or no engine at all).
    r"Serialization\s+assertion\s+[^\n]{0,80}failed|"
    r"(?:unknown|unsupported)\s+(?:quantization|tensor|ggml)\s+type|"
    r"containing\s+pickled\s+data\s+when\s+allow_pickle=False|"
    # diffusers: a pipeline whose model has another channel count than its inputs need.
    r"expects\s+\d+\s+but\s+received|"
    # diffusers / transformers asked for a precision variant the repository does not ship.
    r"no\s+such\s+modeling\s+files\s+are\s+available|"
    # A reader of a weights file failing a read or a load step (ncnn's ``ModelBin read
    # quantization_value failed``, ``layer load_model 54 failed``).
    r"\b(?:read|load)\w*\s+(?:[\w\-]+\s+){0,3}failed\b|"
    # A step that failed on a named weights file (stable-diffusion.cpp's ``get sd version
    # from file failed: 'flux1-dev-Q6_K.gguf'``).
    r"\bfailed:?\s+['\"][^'\"\n]*\.(?:gguf|safetensors|ckpt|pth?|onnx)['\"]|"
    # A raw weight stream shorter than the network it fills (TensorFlow.js).
    r"tensor\s+should\s+have\s+\d+\s+values\s+but\s+has|"
    # A loader refusing the weights it was told to use (a hub entry's check of its argument).
    r"(?:unexpected|invalid|unsupported)\s+weights?\s+(?:specification|file|path)\b|"
    # A loader asserting a component is among the models it gathered from a folder.
    r"assert\s+['\"]\w+['\"]\s+in\s+(?:self\.)?\w*models?\b(?!\s*\()|"
    # PaddlePaddle's operators refusing int8 weights beside float inputs (a quantized save
    # for an int8 engine run by float kernels).
    r"input_data_type:\d+\s*!=\s*filter_data_type:\d+|"
    r"must\s+be\s+the\s+same\.\s+Get\s+\(\w+\)\s*!=\s*\(u?int8_t\)|"
    # A runtime's quantization option refusing the model's format; a quantization
    # library's package missing where a loader reads its version.
    r"argument\s+(?:--quantization\S*|-q\b\S*):\s+invalid\s+choice|"
    r"no\s+package\s+metadata\s+was\s+found\s+for\s+['\"`]?(?:auto-gptq|autoawq|gptqmodel|"
    r"bitsandbytes|hqq|eetq|aqlm|compressed-tensors|optimum-quanto|llmcompressor)\b|"
    # TensorFlow Lite's check in a quantize or dequantize kernel, preparing the model.
    r"\b(?:de)?quantiz\w*\.(?:cc|cpp|c):\d+\s[^\n]{0,300}?->type\b[^\n]{0,300}?was\s+not\s+true",
    re.I,
)
"""Phrases that mean a load went wrong (the text holds a loading error). The refusals the
rules of :mod:`weightfit.diagnose.text_kinds` read are asked of that module
(:func:`~weightfit.diagnose.text_kinds.another_kind_said`), not restated here."""


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
RAISED = re.compile(
    r"\b\w*(?:Error|Exception)\b:\s*\S|^[^\S\n]*ERROR\b|Error\s+occurred\s+when\s+executing|"
    r"^[^\S\n]*(?:[a-z_]\w*\.)*[A-Z]\w*(?:Error|Exception)[^\S\n]*$|"
    r"\[Errno\s+\d+\]|Assertion\s+[`'\"][^`'\"\n]{1,80}[`'\"]\s+failed|"
    r"Exception\s+during\s+processing|\[\w+(?:Error|Exception)\]|"
    r"called\s+`Result::unwrap\(\)`\s+on\s+an\s+`Err`\s+value|"
    # Lua's error (Torch7): the failing line's message, then its stack traceback.
    r"\.lua:\d+:[^\n]{1,300}\n[^\S\n]*stack\s+traceback:",
    re.M,
)
"""An exception raised (or reported by a runner: ComfyUI's ``Error occurred when executing``,
ONNX Runtime's ``[ONNXRuntimeError]``), a traceback ending in an exception raised without a
message (``AssertionError`` alone on its line), a Rust loader's panic on an error value, or
a Lua error before its stack traceback."""
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
SHORT_STREAM = re.compile(r"buffer\s+is\s+too\s+small\s+for\s+requested\s+array")
"""NumPy reading a raw weights file (``np.ndarray(buffer=f.read(n * 4))``) that ended before
the layer being filled: Darknet converters reading ``.weights`` against a ``.cfg``."""
ABSENT_FILE = re.compile(
    r"([\w\-.]+\.(?:pth?|bin|safetensors|ckpt|gguf|h5|onnx|pkl|zip))\b[^\n]{0,80}?"
    r"(?:doesn't|does\s+not)\s+exist|"
    r"No\s+model\s+found\b[^\n]{0,120}?\bpath:\s*\S*?([\w\-.]+\.(?:pth?|bin|ckpt|pkl|zip|h5))\b|"
    r"name\s*=\s*'[^'\n]*?([\w\-.]+\.(?:h5|hdf5|keras))'\s*,\s*errno\s*=\s*2\b|"
    r"No\s+such\s+file\s+or\s+directory:\s*'[^'\n]*?([\w\-.]+\.(?:pth?|bin|safetensors|ckpt|gguf|"
    r"h5|onnx))'|"
    # mmcv's load_checkpoint finding no file at the path it was given.
    r"([\w\-.]+\.(?:pth?|bin|ckpt|safetensors))\s+is\s+not\s+a\s+checkpoint\s+file|"
    # insightface's model_zoo asserting the file exists; a C loader's failing fopen.
    r"([\w\-.]+\.(?:pth?|bin|safetensors|ckpt|gguf|onnx))\s+should\s+exist\b|"
    r"No\s+such\s+file\s+or\s+directory,\s+file\s+path:[^\n]*?([\w\-.]+\.(?:pth?|bin|safetensors|"
    r"ckpt|gguf|onnx))\b|"
    # TensorFlow: a checkpoint prefix matching no file, a restore handed no checkpoint (no
    # 'checkpoint' index in the folder), a SavedModel folder without its graph.
    r"Failed\s+to\s+find\s+any\s+matching\s+files\s+for\s+(\S+)|"
    r"Can't\s+load\s+save_path\s+when\s+it\s+is\s+None|"
    r"'([^'\n]+)'\s+contains\s+neither\s+'saved_model\.pb'\s+nor\s+'saved_model\.pbtxt'|"
    r"SavedModel\s+file\s+does\s+not\s+exist\s+at:?\s+(\S+)|"
    # TensorFlow Hub finding no loader for a cached module folder: its files are not there.
    r"Missing\s+implementation\s+that\s+supports:\s+loader\(\*\('([^'\n]+)'",
    re.I,
)
"""A reader saying the weights file it was pointed at does not exist (ONNX Runtime's
``Load model from u2net.onnx failed. File doesn't exist``; rl-zoo's ``No model found for sac
on ..., path: logs/.../model.pkl``; h5py's ``unable to open file: name = '.../x.h5', errno =
2``; Python's ``No such file or directory: 'model.pth'``; mmcv's ``x.pth is not a checkpoint
file``; TensorFlow's ``Failed to find any
matching files for model.ckpt``, ``Can't load save_path when it is None``, a SavedModel
folder without ``saved_model.pb`` and TensorFlow Hub's ``Missing implementation that supports:
loader(...)`` for a cached module folder)."""
NO_CHECKPOINT_FOUND = "(none: tf.train.latest_checkpoint found no 'checkpoint' index)"
"""What TensorFlow restored when its save path is None: the folder's latest checkpoint."""
INDEXED_LOAD = re.compile(
    r"load\w*\([^\n]*\)\s*\[|(?:checkpoint|ckpt|state_dict|state|snapshot)\s*\[\s*['\"]?\w+['\"]?\s*\]"
)
"""A checkpoint indexed by a key (the result of ``torch.load`` indexed by ``['params']``): a
KeyError names a container."""


def _indexes_weights(text: str, key: str) -> bool:
    """Whether the code in a text reads the weights out of a checkpoint by ``key``.

    A loaded file indexed at once (the result of ``torch.load`` indexed by ``[param_key]``), a
    literal key fed to
    ``load_state_dict``, or a checkpoint indexed by a container word (``ckpt['model']``);
    not ``checkpoint['arch']`` handed elsewhere, a setting stored beside the weights.
    """
    literal = index_pattern(key)
    if re.search(r"load\w*\([^\n]*\)\s*(?:\[\s*[A-Za-z_]\w*\s*\]|" + literal + ")", text):
        return True
    if re.search(r"load_state_dict\(\s*[\w.]+\s*" + literal, text):
        return True
    if CONTAINER_WORD.fullmatch(key) and LOADED_BY_VARIABLE.search(text):
        return True  # load_net = load_net[param_key] with param_key = 'state_dict'
    return bool(
        (CONTAINER_WORD.search(key) or MODULE_ROLE.fullmatch(key))
        and INDEXED_LOAD.search(text)
        and re.search(literal, text)
    )


MODULE_ROLE = re.compile(
    r"(?:net_?)?(?:detector|generator|discriminator|encoder|decoder|backbone|student|teacher|"
    r"G|D)(?:_ema)?",
    re.I,
)
"""A key naming one network of several a checkpoint holds (``snapshot['detector']``,
``ckpt['netG']``): a container of that network's weights."""


STATE_DICT_KEY = re.compile(r"(?:\w+_)?state_?dict(?:_\w+)?", re.I)
"""A key that names a state dict (``state_dict``, ``model_state_dict``): code looking it up
reads the weights out of a checkpoint, even where the text does not show the code."""


def _holds_weights_of_named_file(text: str, key: str) -> bool:
    """Whether a key is a weights container's name (``params_ema``) beside a checkpoint file.

    BasicSR's ``params`` / ``params_ema``, a ``net_g``: looked up in a text that names the
    PyTorch file it read, the key is the container the file lacks.
    """
    return (
        HELD_WEIGHTS.fullmatch(key) is not None
        and OTHER_STATE.search(key) is None
        and PICKLED_FILE.search(text) is not None
    )


def _names_weights(key: str) -> bool:
    """Whether a key names the model's state dict (not an optimizer's or a scheduler's)."""
    return STATE_DICT_KEY.fullmatch(key) is not None and OTHER_STATE.search(key) is None


LOADED_BY_VARIABLE = re.compile(r"\b\w*(?:load|ckpt|checkpoint)\w*\s*\[\s*[A-Za-z_]\w*\s*\]")
"""A loaded checkpoint indexed by a variable that holds the container key."""
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
COUNTS = re.compile(r"(\d+)\s+missing\s+and\s+(\d+)\s+unexpected\s+keys")
"""Lightning / LDM's ``Restored from X with 376 missing and 2 unexpected keys``."""
UNLISTED_MISSING = re.compile(
    r"(?:not|newly)\s+initiali[sz]ed\s+from\s+(?:the\s+)?(?:pretrained\s+model|model\s+checkpoint)|"
    r"Missing\s+(\d+)\s+parameters?\b|Missing\s+keys?(?:\(s\))?\s+in\s+state_?dict|"
    r"\b\w+\s+weights\s+not\s+found(?=[,;.]\s)"
)
"""transformers' "weights not initialized" message, even when the paste dropped its list;
MLX's ``Missing 358 parameters:`` with its list cut; PyTorch's ``Missing key(s) in
state_dict:`` pasted without its names; a loader warning that a part's weights were not found
(fair-esm's ``Regression weights not found, predicting contacts will not produce correct
results``)."""
UNLISTED_UNEXPECTED = re.compile(
    r"were\s+not\s+used\s+when\s+initializing|Received\s+parameters\s+not\s+in\s+model|"
    r"Unexpected\s+keys?(?:\(s\))?\s+in\s+state_?dict"
)
"""transformers' "weights not used" and MLX's "parameters not in model", their lists cut."""
BOTH_UNLISTED = re.compile(r"\bMissing\s*(?:&|and|/)\s*Unexpected\s+keys?", re.I)
"""Prose announcing keys missing and unexpected at once (``a full list of "Missing &
Unexpected key(s) in state_dict"``), none of them named."""
LAYER_COUNTS = re.compile(
    r"file\s+containing\s+(?P<file>\d+)\s+layers\s+into\s+a\s+model\s+with\s+(?P<model>\d+)\s+"
    r"layers|expected\s+(?P<expects>\d+)\s+layers,\s+found\s+(?P<saved>\d+)\s+saved\s+layers|"
    r"got\s+(?P<values>\d+)\s+values\s+to\s+set\s+(?P<parameters>\d+)\s+parameters"
)
"""Keras: a weight file of N layers loaded into a model of M layers, or a model expecting M
layers that found N saved; Lasagne: N saved arrays for a network of M parameters."""
LAYER_WEIGHTS = re.compile(
    r"layer\s+(?:#\d+\s+\(named\s+\"[^\"\n]+\"[^)\n]*\)|\S+)\s+expects\s+(\d+)\s+"
    r"weight(?:s|\(s\))?,\s+but\s+the\s+saved\s+weights\s+have\s+(\d+)\s+element(?:s|\(s\))?|Layer\s+expects\s+(\d+)\s+weight\(?s?\)?\.?\s+Received\s+(\d+)\s+saved|"
    r"Layer\s+'[^'\n]+'\s+expected\s+(\d+)\s+variables?,\s+but\s+received\s+(\d+)\s+variables?",
    re.I,
)
"""Keras: one layer builds N variables where the file saved M for it (model first; tf.keras
2 names it ``Layer #0 (named "conv2d") expects 2 weight(s)``); Keras 3
says ``Layer expects 9 weight(s). Received 15 saved weight(s)``, and for a ``.keras`` file
``Layer 'lstm_cell' expected 3 variables, but received 0 variables during loading``."""
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
ARCHITECTURE_SAID = re.compile(
    r"(?:network|model)\s+\w+\s+has\s+(?:fewer|more)\s+layers|"
    r"please\s+ensure\s+that\s+the\s+architectures\s+match",
    re.I,
)
"""A loader saying the file holds fewer or more layers than the network it fills, or another
architecture (fairseq's ``Cannot load model parameters from checkpoint X; please ensure that
the architectures match``)."""
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
MATMUL = re.compile(
    r"mat1\s+and\s+mat2\s+shapes\s+cannot\s+be\s+multiplied\s+\((\d+)x(\d+)\s+and\s+(\d+)x(\d+)\)"
)
"""A Linear fed features of another width: ``(rows x fed) and (in_features x out_features)``."""
INPUT_CHANNELS = re.compile(
    r"expects\s+(\d+)\s+but\s+received\s+`num_channels_latents`:\s*(\d+)\s*\+\s*"
    r"`num_channels_mask`:\s*(\d+)\s*\+\s*`num_channels_masked_image`:\s*(\d+)\s*=\s*(\d+)"
)
"""diffusers' inpainting pipelines: the UNet's ``in_channels`` against latents + mask +
masked-image latents the pipeline feeds it."""
CONV_INPUT = re.compile(
    r"weight\s+of\s+size\s+\[(\d+),\s*(\d+),\s*\d+,\s*\d+\],\s+expected\s+input\[[\d,\s]+\]\s+to\s+"
    r"have\s+\d+\s+channels,\s+but\s+got\s+(\d+)\s+channels"
)
"""PyTorch's convolution fed other input channels than its weight takes: ``Given groups=1,
weight of size [320, 8, 3, 3], expected input[2, 12, 64, 64] to have 8 channels, but got 12
channels instead`` (outputs, inputs, then the channels fed)."""
LATENT_WIDTH = 128
"""Fewest outputs of a diffusion model's first convolution (SD's UNet: 320; DiT: 1152)."""
MAGIC_CHARACTERS = re.compile(r"invalid\s+magic\s+characters:?\s+'([^'\n]{4})'")
"""A reader printing the four bytes it found where its magic belongs (ggml's
``invalid magic characters: 'vers', expected 'GGUF'``): a container's tag, or text."""
NEWER_DTYPE = re.compile(r"unknown\s+variant\s+`[A-Z][A-Z0-9_]*`")
"""A safetensors header naming a storage dtype the reader's release does not have
(``F8_E8M0``); an empty name is damage."""
BROKEN_FILE = re.compile(
    # The unpickler's byte may be left out when the message is quoted in prose.
    r"(?i:invalid\s+load\s+key)(?:[,:]\s*'[^']*'|(?![\w,:]))|failed\s+finding\s+central\s+directory|"
    r"PytorchStreamReader\s+failed\s+(?:reading|locating)[^\n]*|Ran\s+out\s+of\s+input|"
    # Python 2's unpickler, asked for torch.load's first record in an empty file, raising a
    # bare EOFError.
    r"magic_number\s*=\s*pickle_module\.load\([^\n]*\)\s*\n\s*EOFError\b|"
    # MXNet's reader running out of an NDArray file's data.
    r"Check\s+failed:\s+fi->Read\(\w+\)[^\n]*|"
    # Older libtorch's archive reader missing a record (``file not found: archive/constants.pkl``).
    r"inline_container\.cc:\d+\]\s*\.?\s*file\s+not\s+found:\s*\S+|"
    r"archive\s+is\s+corrupted|"
    # A loader naming a TorchScript export where its checkpoint belongs (Ultralytics).
    r"is\s+a\s+TorchScript\s+archive,\s+not\s+an?\s+[\w\s]{0,40}?checkpoint|"
    # ONNX Runtime reading an initializer past the end of the model's external data file.
    r"given\s+file_length:\s*\d+\s+are\s+out\s+of\s+bounds|"
    # The onnx checker finding no external data file where the model says its tensors are.
    r"should\s+be\s+stored\s+in\s+\S+,\s+but\s+it\s+(?:is\s+not\s+regular\s+file|doesn't\s+exist)|"
    # safetensors reading fewer bytes of a tensor than its header promises.
    r"pread\s+failed\s+for\s+tensor\s+\S+|Could\s+not\s+read\s+tensor\s+\S+\s+from\s+file|"
    # llama.cpp counting fewer tensors across a model's files than its metadata promises.
    r"corrupted\s+model:\s*\d+\s+tensors\s+expected\s+but\s+\d+\s+found|"
    # TensorFlow's checkpoint reader given a path that is no checkpoint (a folder, a file of
    # another kind): ``Failed precondition: PATH: perhaps your file is in a different ...``.
    r"Failed\s+precondition:[^\n]{0,300}?perhaps\s+your\s+file\s+is\s+in\s+a\s+different\s+file\s+format|"
    r"unexpected\s+EOF|file\s+(?:is\s+)?truncated|(?i:truncated\s+file)\b|not\s+a\s+zip\s+file|\bshort\s+read\b|"
    r"storage\s+has\s+wrong\s+(?:byte\s+)?size|Invalid\s+magic\s+number;\s+corrupt\s+file|"
    r"(?i:MetadataIncompleteBuffer|HeaderTooLarge|HeaderTooSmall|InvalidHeader(?:Start|"
    r"Deserialization|Length)?|InvalidOffset)|"
    r"(?i:header|file)\s+is\s+(?:empty|malformed|corrupt(?:ed)?|damaged)|"
    r"invalid\s+shape,\s+data\s+type,\s+or\s+offset\s+for\s+tensor|"
    r"(?i:Protobuf\s+parsing\s+failed)|invalid\s+wire\s+type\s+\d+(?:\s+at\s+offset\s+\d+)?|INVALID_PROTOBUF|Unable\s+to\s+parse\s+proto|"
    r"DecodeError:\s+Error\s+parsing\s+message|"
    r"not\s+a\s+valid\s+(?:[\w.-]+\s+){0,4}flatbuffer|unable\s+to\s+deserialize\s+object|"
    r"ReadError:\s+not\s+a\s+gzip\s+file|"
    r"Unable\s+to\s+load\s+weights\s+from\s+(?:pytorch\s+)?checkpoint\s+file|"
    r"cloned\s+a\s+repository\s+without\s+having\s+git[\s-]lfs\s+installed|"
    # A text model's parser meeting other content than its grammar's next part mid-file
    # (LightGBM's ``Model format error, expect a tree here``: a file altered in transit).
    r"Model\s+format\s+error,\s+expect\s+[^\n]{0,40}?\bhere\b|"
    # SentencePiece failing to parse its model file (a pointer or page saved as tokenizer.model).
    r"model_proto->ParseFromArray|"
    r"(?i:file\s+signature\s+not\s+found)|[Ff]ile\s+(?:[\w.\-]+\s+)?is\s+incomplete|"
    r"pickle\s+data\s+was\s+truncated|persistent\s+id\s+instruction\s+was\s+encountered|"
    r"Failed\s+to\s+parse\s+NetParameter\s+file|"
    r"(?:could\s+not|couldn't|unable\s+to)\s+parse\s+(?:the\s+)?binary\s+model\s+file|"
    r"PLY\s+vertex\s+size\s+mismatch|file\s+in\s+archive\s+is\s+not\s+in\s+a\s+subdirectory|"
    # A header whose version reads as zeros: no release wrote it, the bytes were damaged.
    r"expecting\s+library\s+version\s+[\d.]+\s+got\s+0\.0\.0\b|"
    r"incomplete\s+(?:file|download)|"
    # A reader indexing the fixed-size header it read first (Darknet's ``header[3]``, after
    # ``np.fromfile(f, count=5)``) and finding no values at all: the file is empty.
    r"\bheader\w*\s*\[\s*\d+\s*\][^\n]*\n\s*IndexError:\s*index\s+\d+\s+is\s+out\s+of\s+bounds\s+"
    r"for\s+axis\s+0\s+with\s+size\s+0\b|"
    # huggingface_hub's download size check; ggml's reader finding less data than its header.
    r"Consistency\s+check\s+failed:\s+file\s+should\s+be\s+of\s+size\s+\d+\s+but\s+has\s+size\s+\d+|"
    r"failed\s+to\s+read\s+tensor\s+data|"
    # NumPy finding neither an .npz archive nor an .npy array in a file named one.
    r"Failed\s+to\s+interpret\s+file\s+['\"][^'\"\n]*\.np[yz]['\"]\s+as\s+a\s+pickle|"
    r"unknown\s+format\s+\S+\.(?:safetensors|ckpt|pth?|bin|gguf)\b|"
    + MAGIC_CHARACTERS.pattern
    + r"|invalid\s+(?:file\s+|[A-Z][A-Z0-9]{2,}\s+)?magic\b(?!\s+number)|"
    # llama.cpp finding a tensor's data past the end of the file (a cut or replaced download).
    r"data\s+(?:is\s+)?not\s+within\s+(?:the\s+)?file\s+bounds|"
    # gguf-py's reader: ``GGUF magic invalid`` (its first four bytes are not ``GGUF``).
    r"\b[A-Z][A-Z0-9]+\s+magic\s+invalid\b|"
    r"(?i:(?:SHA\d*|MD5|checksum|hash)\b[^\n]{0,40}(?:does\s+not|doesn't|did\s+not)\s+(?:not\s+)?match|"
    r"(?:checksum|hash)\s+mismatch|invalid\s+hash\s+value)|"
    r"(?:state\s+dict(?:ionary)?|checkpoint|weights?)\s+(?:of\s+the\s+model\s+)?(?:\w+\s+){0,6}"
    r"is\s+corrupted"
)
"""A checkpoint file that is not whole: a Git LFS pointer (``invalid load key, 'v'``, or
transformers saying the repository was cloned without git-lfs), an
HTML page (``'<'``), an interrupted download (no zip central directory, an early EOF, an
empty file, a storage of the wrong size, a C loader's short read, transformers unable to read
a weights file at all, a safetensors file shorter than its header says, a header or offsets that do
not parse, an ONNX protobuf, a TensorFlow Lite flatbuffer, a Core ML document, a Caffe
``NetParameter`` (or a binary model file TensorRT's Caffe parser cannot parse) or a
gzipped archive (NeMo's ``.nemo``) that does not parse, a pickle that
ends early, a ``torch.save`` file read by a plain unpickler (``A load persistent id
instruction was encountered``), a PLY file whose vertices are not a Gaussian splat's, an
HDF5 file without its signature,
a download whose checksum does not match, transformers' ``The state dictionary of the model
you are trying to load is corrupted``);
safetensors' ``HeaderTooLarge`` is a first 8 bytes that are no header length (text: a
pointer, a page)."""
OTHER_FORMAT_FILE = re.compile(
    r"[\w.\-]+\.(?:pth|pt|ckpt|pkl|pickle|tar|bin|gguf|h5|onnx|npz)(?![\w.])", re.I
)
"""A weights file of another format than safetensors. Such a file opened by a safetensors
reader fails on its first eight bytes (a zip's ``PK\\x03\\x04``, a pickle's opcodes) read
as the header's length: "header too large"."""
OTHER_FORMAT_KIND = re.compile(
    r"(?<![\w.])\.(?:pth|pt|ckpt|pkl|pickle|bin|h5|onnx|npz)\b[`'\"]?\s+"
    r"(?:model|file|checkpoint|weight)s?\b",
    re.I,
)
"""A file of another format named by its extension alone (``an old `.pth` model``)."""


MAGIC_CHECK = re.compile(
    r"magic\s*==\s*(?:0x)?[0-9a-fA-F]{8}\b|invalid\s+file\s+header|bad\s+magic\s+number|"
    r"model\s+identifier\s+'[^'\n]*',\s+should\s+be\s+'\w+'|"
    r"Check\s+failed:\s+\w*version\w*\s*==\s*\d+U?\s*\((?:[1-9]\d{3,})\s+vs\.?\s+\d+\)",
    re.I,
)
"""A reader checking a file's first bytes against its own format's magic number, and failing
(TensorFlow's ``not an sstable (bad magic number)``, TensorFlow Lite's ``Model provided has
model identifier ' .pb', should be 'TFL3'``);
or a glog check finding a version field of thousands (``version == 0U (22045 vs. 0)``):
bytes of another kind of file where the format's version stands."""
PICKLED_FILE = re.compile(r"[\w.\-]+\.(?:pth|pt|ckpt|pkl)(?![\w.])", re.I)
"""A PyTorch pickle: no magic number of any other reader's format."""
HDF5_FILE = re.compile(r"[\w.\-]+\.(?:h5|hdf5)(?![\w.])", re.I)
"""Keras' HDF5 weights: no magic number of a GGML model, a TensorFlow checkpoint's table or a
TensorFlow Lite model either."""


def _latent_inputs(outputs: int, takes: int, fed: int) -> bool:
    """Whether a wide first convolution takes and is fed stacks of latents, not images.

    Latents come in fours (SD's 4 channels: 8 for two stacked, 9 with a mask, 12 for three);
    1, 3 and 4 image channels against each other are an image fed in another colour mode.
    """
    stacked = max(takes, fed) > 4 and takes % 4 in (0, 1) and fed % 4 in (0, 1)
    return outputs >= LATENT_WIDTH and stacked and min(takes, fed) >= 4


MEDIA_AS_WEIGHTS = re.compile(
    r"--?\w*(?:model|ckpt|checkpoint|weights?|pretrained|resume)\w*(?:\s+|\s*=\s*)['\"]?"
    r"([^\s'\"]+\.(?:png|jpe?g|gif|bmp|webp|tiff?|mp4|avi|mov|mkv|wav|mp3|flac))(?![\w.])",
    re.I,
)
"""A weights option of a command given an image, a video or a sound (``--model_path
assets/m1.png``): the input meant for another option, in the weights' place."""


def file_of_other_format(text: str, said: str) -> str:
    """The file of another format a reader was given, if the text says so.

    Any reader failing on a file's first bytes, when a weights option of the command was
    given an image, a video or a sound (:data:`MEDIA_AS_WEIGHTS`).

    A safetensors reader that found the header's length too large, the text naming no
    safetensors file but one weights file of another format; or a reader checking its
    format's magic number (a GGML reader's ``header.magic == 0x67676d66``) given the one
    PyTorch pickle or HDF5 file the text names.
    """
    media = MEDIA_AS_WEIGHTS.search(text)
    if media is not None and said:
        return media.group(1)
    if re.search(r"too\s*large", said, re.I) and not re.search(r"\.safetensors\b", text, re.I):
        named = {m.group(0) for m in OTHER_FORMAT_FILE.finditer(text)}
        if not named:
            named = {m.group(0).split()[0].strip("`'\"") for m in OTHER_FORMAT_KIND.finditer(text)}
    elif MAGIC_CHECK.search(said):
        named = {m.group(0) for m in (*PICKLED_FILE.finditer(text), *HDF5_FILE.finditer(text))}
    else:
        return ""
    return named.pop() if len(named) == 1 else ""


NEWER_FORMAT = re.compile(
    r"(?P<torch>is\s+a\s+zip\s+archive\s*\(did\s+you\s+mean\s+to\s+use\s+torch\.jit|"
    r"\.(?:pth?|pt|ckpt|bin|tar)\s+is\s+a\s+zip\s+archive\b|"
    r"Only\s+one\s+file\s*\(not\s+dir\)\s+is\s+allowed\s+in\s+the\s+zipfile)|"
    r"(?P<torch_format>PyTorch\s+file\s+with\s+version\s+\d+,\s+but\s+the\s+maximum\s+supported"
    r"\s+version\s+for\s+reading\s+is\s+\d+|"
    # An older reader looking for the archive's version record where newer PyTorch no
    # longer writes it (``.data/version``).
    r"(?:file\s+not\s+found|failed\s+locating\s+file):?\s+[\w.\-]+/version\b)|"
    r"(?P<torch_weights_only>Cannot\s+use\s+`*weights_only=True`*\s+with\s+TorchScript\s+archives)|"
    # transformers reading pickled (.bin) weights only under PyTorch 2.6 or later.
    r"(?P<torch_required>we\s+now\s+require\s+users\s+to\s+upgrade\s+torch\s+to\s+at\s+least\s+"
    r"v?[\d.]+)|"
    r"(?P<tensorrt>Version\s+tag\s+does\s+not\s+match|engine\s+plan\s+file\s+is\s+not\s+"
    r"compatible\s+with\s+this\s+version|expected\s+size\s+of\s+serialized\s+engine|"
    r"Magic\s+tag\s+does\s+not\s+match|magicTag\w*\s*==\s*[\w:]*MAGIC_TAG|"
    r"engine\s+plan\s+file\s+is\s+generated\s+on\s+an\s+incompatible\s+device)|"
    r"(?P<onnx>Unsupported\s+model\s+IR\s+version[^\n]{0,60})|"
    # A runtime meeting operator versions it does not implement: ONNX Runtime past its
    # release's opset, or older than opset 7, the oldest it runs (``Could not find an
    # implementation for the node Relu(1)``); TensorFlow Lite's ``Didn't find op for builtin
    # opcode 'MUL' version '5'``.
    r"(?P<op_version>Current\s+official\s+support\s+for\s+domain\s+[\w.]+\s+is\s+till\s+"
    r"opset\s+\d+|"
    r"Could\s+not\s+find\s+an\s+implementation\s+for\s+(?:the\s+)?node\s+\w+\([1-6]\)|"
    r"Didn't\s+find\s+op\s+for\s+builtin\s+opcode\s+'\w+'\s+version\s+'\d+'|"
    r"Op\s+builtin_code\s+out\s+of\s+range:\s+\d+|"
    # Paddle-Lite running a .nb model whose ops its release has no kernel for (the opt tool
    # of another release wrote it).
    r"kernel\s+for\s+'\w+'\s+is\s+not\s+supported\s+by\s+Paddle-Lite|"
    # ncnn meeting a layer type its build does not register.
    r"layer\s+\S+\s+not\s+exists\s+or\s+registered|"
    # TorchScript's reader meeting a type or operator of a newer PyTorch in an archive's code.
    r"Unknown\s+(?:type\s+name|builtin\s+op)\s+'[\w:.]+'(?=[\s\S]{0,400}?Serialized\s+File)|"
    # ONNX Runtime checking a node against its release's operator schema: more inputs, or
    # an attribute, than the operator version it implements takes.
    r"\(\S+\)\s+has\s+(?:input|output)\s+size\s+\d+\s+not\s+in\s+range\s+\[min=\d+,\s*"
    r"max=\d+\]|Unrecognized\s+attribute:\s+\w+\s+for\s+operator\s+\w+)|"
    r"(?P<codebase>(?i:is\s+not\s+forwards?\s+compatible\s+with)\s+\w[\w-]*)|"
    r"(?P<future>cannot\s+parse\s+future\s+versions?[^\n]{0,12}|"
    # A runtime naming the newer release the file needs (Edge TPU's ``Package requires
    # runtime version (14), which is newer than this runtime version (13)``), a parser the
    # newer format version the file has (``ONNX model has a newer ir_version (0.0.6) than
    # this parser was built against (0.0.5)``).
    r"requires\s+(?:runtime|library)\s+version\s+\(?\d+\)?,?\s+which\s+is\s+newer\s+than\s+this"
    r"[^\n]{0,40}|"
    r"has\s+a\s+newer\s+(?:ir_)?version\s+\([^)\n]*\)\s+than\s+this\s+(?:parser|reader|runtime)"
    r"[^\n]{0,40}|"
    # A value of the file that the reader's enumeration lacks (a newer quantization type;
    # llama.cpp's ``has invalid ggml type 39``).
    r"\b\d+\s+is\s+not\s+a\s+valid\s+\w*(?:Type|Format|Kind|Version)\b|"
    r"invalid\s+ggml\s+type\s+\d+|"
    # The onnx checker reading a model of a newer IR version than its release.
    r"ir_version\s+\d+\s+is\s+higher\s+than\s+the\s+checker's|"
    # A storage dtype newer than the reader (safetensors' ``unknown variant `F8_E8M0```,
    # transformers' ``Cannot load safetensors of unknown dtype F8_E8M0``).
    + NEWER_DTYPE.pattern
    + r",\s+expected\s+one\s+of\s+`|"
    r"Cannot\s+load\s+safetensors\s+of\s+unknown\s+dtype\s+\w+|"
    # A reader naming the newest format version it reads (ggml's ``this GGUF file is version
    # 4 but this software only supports up to version 3``).
    r"\bis\s+version\s+\d+\s+but\s+this\s+\w+\s+only\s+supports\s+up\s+to\s+version\s+\d+|"
    r"intended\s+for\s+a\s+newer\s+version\s+of\s+\w+|"
    # A runtime saying a later release wrote the model (CTranslate2's ``the model was
    # generated by a later version of CTranslate2``, ollama's ``may be incompatible with your
    # version of Ollama``).
    r"model\s+was\s+generated\s+by\s+a\s+later\s+version\s+of\s+\w+|"
    r"incompatible\s+with\s+your\s+version\s+of\s+\w+|"
    # Lightning reading a checkpoint a newer Lightning wrote.
    r"checkpoint\s+was\s+produced\s+with\s+\w+\s+v[\d.]+,\s+which\s+is\s+newer\s+than|"
    # A configuration with fields a newer release added (PEFT's ``saved using a higher
    # version of the library and additional parameters have been introduced since``).
    r"saved\s+(?:using|with)\s+a\s+(?:higher|newer)\s+version\s+of\s+the\s+library|"
    # Hugging Face tokenizers reading a tokenizer.json a newer release wrote; a protobuf
    # message (a model's JSON or text config) with a field the reader's schema lacks.
    r"Message\s+type\s+\"[\w.]+\"\s+has\s+no\s+field\s+named\s+\"\w+\"|"
    # Tesseract's reader finding more components in a traineddata file than it knows.
    r"actual_tessdata_num_entries_\s*<=\s*TESSDATA_NUM_ENTRIES|"
    # Tesseract 3 (its release printed) reading a traineddata file of 4.0 or later: the
    # components it does not know are taken for its text parameter lines, each an
    # ``Incomplete line`` of the file's bytes.
    r"ParamsModel::Incomplete\s+line(?=[\s\S]{0,4000}?\btesseract\s+3\.\d)|"
    r"\btesseract\s+3\.\d+(?:\.\d+)*(?=[\s\S]{0,4000}?ParamsModel::Incomplete\s+line)|"
    r"data\s+did\s+not\s+match\s+any\s+variant\s+of\s+untagged\s+enum\s+\w+|"
    r"did\s+not\s+specify\s+a\s+valid\s+model[\s-]parameter\s+type)|"
    # The Edge TPU's custom op reading tensors through another TensorFlow Lite release's
    # interface than libedgetpu was built against (tflite_runtime and libedgetpu apart).
    r"(?P<runtimes>Unsupported\s+data\s+type\s+in\s+custom\s+op\s+handler)|"
    r"(?P<older>(?i:\b(?:param|params|model|file|format|weights?)\s+(?:is|are)\s+too\s+old\b"
    r"[^\n]{0,40}|(?:format|file)\s+is\s+(?:outdated|obsolete)\b[^\n]{0,40}|"
    r"is\s+stored\s+using\s+TF\s*1\.x\s+format|"
    # PyTorch refusing its own pre-1.6 formats for weights-only and memory-mapped reads.
    r"with\s+files\s+saved\s+in\s+the\s+legacy\s+\.tar\s+format|"
    r"mmap\s+can\s+only\s+be\s+used\s+with\s+files\s+saved\s+with\s+`?torch\.save\([^\n]{0,80}?"
    r"_use_new_zipfile_serialization=True|"
    # A reader dropping an old generation of its format (``GGUFv1 is no longer supported``).
    r"\b[A-Za-z]+v\d+\s+is\s+no\s+longer\s+supported\b|"
    # bitsandbytes reading int8 weights serialized by its releases before 0.43 in a GPU
    # tile layout (``col_turing``, ``col_ampere``) where it now keeps plain rows.
    r"Only\s+'row'\s+weight\s+format\s+is\s+supported,\s+got\s+col_\w+|"
    # spaCy 3 opening a model package of spaCy 2, which has no config.cfg.
    r"\[E053\]\s+Could\s+not\s+read\s+config(?:\.cfg|\s+file)|File\s+format\s+not\s+supported:[^\n]{0,200}?"
    r"only\s+supports|legacy\s+\w+\s+format\s+is\s+not\s+supported))|"
    # Objects pickled whole by another release of their library: scikit-learn naming the
    # release that pickled an estimator beside its own, or refusing its tree nodes' dtype;
    # XGBoost's pickles of an older release; stable-baselines3's saved objects (schedules
    # serialised as code by another Python); NumPy's random-state constructors.
    r"(?P<pickled_release>Trying\s+to\s+unpickle\s+estimator\s+\w+\s+from\s+version\s+[\w.\-]+\s+"
    r"when\s+using\s+version\s+[\w.\-]+|\bInconsistentVersionWarning\b|"
    r"node\s+array\s+from\s+the\s+pickle\s+has\s+an\s+incompatible\s+dtype|"
    r"Check\s+failed:\s+header\s*==\s*serialisation_header_|"
    r"serialized\s+model\s+\([^)\n]*\)\s+generated\s+by\s+older\s+XGBoost|"
    # A function's code object (a schedule, a lambda) serialised under another Python minor
    # release: ``CodeType``'s constructor changed its arguments in 3.8 and 3.11, so an older
    # file passes bytes where an int now goes. The readers named are the ones a text quotes.
    r"(?:cloudpickle|dill|marshal)\.loads?\b"  # trusted: a pattern over pasted text, no call
    r"[\s\S]{0,400}?(?:an\s+integer\s+is\s+required\s+"
    r"\(got\s+type\s+bytes\)|code\(\)\s+argument\s+\d+\s+must\s+be\s+\w+|code\s+expected\s+at\s+"
    r"(?:most|least)\s+\d+\s+arguments|bad\s+marshal\s+data[^\n]{0,30})|"
    r"Could\s+not\s+deserialize\s+object\s+\w+|"
    # stable-baselines3 setting up a loaded agent (``load`` → ``_setup_model``) on a saved
    # schedule that came back neither a number nor a function: the object its release could
    # not restore (another SB3 or Python wrote it), met by ``get_schedule_fn``'s check.
    r"stable_baselines3[\\/][\w\\/]+\.py\"?,\s+line\s+\d+,\s+in\s+load\b(?=[\s\S]{0,2000}?"
    r"\bget_schedule_fn\b[\s\S]{0,300}?assert\s+callable\(\w+\))|"
    r"__\w+_ctor\(\)\s+takes\s+from\s+\d+\s+to\s+\d+\s+positional\s+arguments[^\n]{0,30})|"
    r"(?P<stated>(?i:\b(?:invalid|unsupported|unknown|incompatible)\s+(?:\w+\s+){0,2}"
    r"(?:model|file|format)\s+version\b[^\n]{0,30}|"
    r"\b(?:model|file|format)\s+is\s+of\s+an?\s+(?:unsupported|unknown)\s+version\b|"
    r"Unsupported\s+model\s+binary\s+version[^\n]{0,80}|\bwrong\s+(?:model|file)\s+format\b|"
    r"\bbelongs\s+to\s+a\s+different\s+version\s+of\s+the\s+(?:library|runtime|engine)\b|"
    # XGBoost reading a model file that is not the JSON its release writes.
    r"Check\s+failed:\s+str\[0\]\s*==\s*'\{'[^\n]{0,12}|"
    r"\bis\s+invalid,\s+maybe\s+you\s+should\s+upgrade\s+\w+|"
    # A loader refusing the format version a checkpoint records (DeepSpeed's ``checkpoint
    # version: 3.0 is not supported``, Megatron's ``checkpoint versions do not match``).
    r"\bcheckpoint\s+version\s*:?\s*v?[\d.]+\s+is\s+not\s+supported|"
    r"\bcheckpoint\s+versions\s+do\s+not\s+match\b|"
    r"\b(?:unsupported|invalid|unknown)\s+(?:GGUF|GGML|GGJT|ONNX|checkpoint|pickle)\s+version\b"
    r"[^\n]{0,30}|expected\s+(?:GGUF|GGML|file|format|model)\s+version\s+'?\d+'?,?\s+but\s+got"
    r"[^\n]{0,12}|"
    # A loader naming the file's format version beside its own (metatrain's ``the checkpoint
    # is using version 14, while the current version is 11``).
    r"(?i:\b(?:checkpoint|file|model)\s+(?:is\s+using|uses|has)\s+(?:\w+\s+)?version\s+\d+,?\s+"
    r"(?:while|but|and)\s+(?:the\s+)?current\s+(?:\w+\s+)?version\s+is\s+\d+)))|"
    # A library's own upgrade of older saves refusing the file (Calamari's ``the weights can
    # not be converted yet``, or a refusal naming a version or a retraining), or stepping
    # through version numbers without end: the file's version is one the upgrade never
    # reaches (a newer release wrote it). An export's refusal (``cannot be converted to
    # TorchScript``) is no upgrade.
    r"(?P<upgrade>(?i:\b(?:weights|model|checkpoint)s?\s+can\s*not\s+be\s+(?:converted|upgraded|"
    r"migrated)(?!\s+(?:in)?to\s+(?:TorchScript|ONNX|TensorRT|Core\s*ML|TFLite|TensorFlow\s+Lite)\b)"
    r"(?:\s+yet\b|[^\n.]{0,80}?\b(?:version|retrain\w*)\b)[^\n\"]{0,40})|"
    r"Upgrading\s+(?:\w+\s+)?from\s+version\s+\d+(?=(?:\s*Upgrading\s+(?:\w+\s+)?from\s+version\s+"
    r"\d+){2}[\s\S]*?Upgrading\s+(?:\w+\s+)?from\s+version\s+\d{3,}))|"
    # A storage driver's saved metadata against the spec the restoring release asks for
    # (orbax through TensorStore: ``Error opening "zarr" driver: Expected "compressor" of
    # {"id":"gzip"...} but received: {"id":"zstd"...}``).
    r"(?P<storage_spec>Error\s+opening\s+\"\w+\"\s+driver:\s+Expected\s+\"\w+\"\s+of\s+[^\n]{0,120}?"
    r"\s+but\s+received:?\s*[^\n\[]{0,60})|"
    # A config class's validator refusing a value it does not list (transformers 5's strict
    # dataclass configs: ``The `layer_types` entries must be in (...) but got [...]``).
    r"(?P<config_value>Class\s+validation\s+error\s+for\s+validator\s+'\w+'[\s\S]{0,200}?"
    r"\bmust\s+be\s+(?:in|one\s+of)\b[\s\S]{0,300}?\bbut\s+got\b[^\n]{0,60})|"
    # MXNet reading a network's symbol file (``-symbol.json``) another release wrote: a
    # field its JSON reader does not know, an operator parameter it cannot parse.
    r"(?P<symbol>JSONReader:\s+Unknown\s+field\s+\w+|"
    r"Failed\s+loading\s+Op\s+\w+\s+of\s+type\s+\w+:\s+Invalid\s+Parameter\s+format)|"
    # A model package declaring the library release it was built for (spaCy's ``Model
    # 'en_vectors_web_lg' (2.1.0) requires spaCy v2.1 and is incompatible with the current
    # spaCy version (2.3.5)``).
    r"(?P<built_for>requires\s+[\w\-]+\s+v?[\d.]+[^\n]{0,20}?\s+and\s+is\s+incompatible\s+with\s+"
    r"the\s+current\s+[\w\-]+\s+version[^\n]{0,12}|"
    # Ultralytics naming the release a checkpoint's pickled objects need (``yolo11s.pt
    # requires numpy>=1.26.1, however numpy==1.24.4 is installed``).
    r"requires\s+[\w\-]+>=?[\d.]+,\s+however\s+[\w\-]+==[\d.]+\s+is\s+installed|"
    # spaCy's W095: a model package trained with another spaCy release than the installed one.
    r"was\s+trained\s+with\s+[\w\-]+\s+v?[\d.]+\s+and\s+may\s+not\s+be\s+100%\s+compatible\s+with\s+"
    r"the\s+current\s+version[^\n]{0,20})|"
    # A reader asserting the version field of the object it unpickles.
    r"(?P<asserted>assert\s+\w+\[[\"'](?:format_)?version[\"']\]\s*(?:==|in\b|<=?|>=?)[^\n]{0,20})"
)
"""A reader meeting a file written by another version of its format: PyTorch before 1.6
reading the zip format ``torch.save`` writes since 1.6, or a newer zip format version than
it knows; PyTorch 2.6's weights-only default refusing a TorchScript archive; a TensorRT
engine built by another TensorRT release, an ONNX model of a newer IR version than the
runtime knows, or operator versions a runtime does not implement (an ONNX opset, a
TensorFlow Lite builtin's version); a loader naming the older generation
of its codebase that saved the file
(Ultralytics' ``appears to be an Ultralytics YOLOv5 model ... NOT forwards compatible with
YOLOv8``); a reader calling the file's format too old (ncnn's ``param is too old, please
regenerate``); a runtime naming the file's format version it refuses (RKNN's ``Invalid
RKNN model version 6``), a model package built for another release of its library
(spaCy's ``requires spaCy v2.1 and is incompatible with the current spaCy version``), a
network symbol file with fields or operator parameters MXNet's reader does not know, or
calling it meant for a newer release or a model type it does not know (Core ML's
``intended for a newer version of Xcode``), or whose enumeration lacks one of the file's
values (``17 is not a valid GGMLQuantizationType``), or a ``tokenizer.json`` that matches no
variant of the tokenizers release's model enum, or a protobuf message (Calamari's checkpoint
JSON) with a field the reader's schema lacks, or a Tesseract traineddata holding more
components than the reader knows; PyTorch 1.6's hub
taking its own zip checkpoints for zipped files (``Only one file(not dir) is allowed in the
zipfile``); Keras 3 refusing a legacy SavedModel; a TensorRT plan whose magic tag is
another release's; a reader asserting the version field of the object it unpickles
(``assert state["version"] in [2, 3]``)."""
TENSOR_PARALLEL = re.compile(
    r"tensor[\s_-]parallel\w*|model[\s_-]parallel\w*|\btp[\s_-]?(?:size|degree|rank)\b|"
    r"\bmp[\s_-]?(?:size|rank)\b|ShardSpec|shardinit|\bshard(?:ed|s)?\s+(?:across|over|into)\b|"
    r"split\s+(?:into|across)\s+(?:multiple\s+|several\s+|\d+\s+)?GPUs",
    re.I,
)
"""Words of a run that splits each parameter across ranks (tensor / model parallelism)."""
PYTHON2_STRINGS = re.compile(
    r"UnicodeDecodeError:\s+'(?P<codec>ascii|utf-?8)'\s+codec\s+can't\s+decode\s+byte\s+0x[0-9a-f]{2}"
    r"[^\n]{0,60}",
    re.I,
)
"""Python 3's unpickler decoding the byte strings of a Python 2 pickle: with ASCII, its
default, or UTF-8 when asked."""
PYTHON2_READER = re.compile(
    r"(?:cPickle\.|(?:python2\.\d|Python2\d)[/\\](?:site|dist)-packages[\s\S]{0,3000}?)"
    r"UnpicklingError:(?!\s*invalid\s+load\s+key,\s*'[!-OQ-~]')[^\n]{0,60}"
)
"""Python 2 failing to unpickle a checkpoint (its ``cPickle``, its ``site-packages``): a file
Python 3 wrote, in a pickle protocol or a PyTorch format Python 2's releases never read. A
first byte that is a printable character other than a zip archive's ``P`` is no pickle at
all (a page's ``<``, an HDF5 or text file): the file's own reading says what it is."""
REFUSED_ARGUMENT = re.compile(
    r"\b(\w+)\(\)\s+got\s+an\s+(?:un)?expected\s+keyword\s+argument\s+'(\w+)'"
)
"""A call passing an argument the callee does not take: ``__init__`` of a class built from
a saved config that passes it, or a function of another release than its caller was written
for (``load_model() got an unexpected keyword argument 'device'``)."""
LAYER_CONFIG_ARGUMENTS = frozenset({"ragged", "sparse", "batch_shape", "groups", "synchronized"})
"""Arguments a Keras layer's saved config records for every layer of its kind (``InputLayer``'s
``ragged`` and ``sparse`` since TensorFlow 2.0's ``get_config``, Keras 3's ``batch_shape``,
convolutions' ``groups`` since TensorFlow 2.3, ``BatchNormalization``'s ``synchronized`` since
2.12): a layer constructor refusing one while a model is rebuilt from its file is an older
release reading a newer one's config, whatever the model."""
STRUCTURED_KEY = re.compile(r"ConfigKeyError:\s+Key\s+'(\w+)'\s+not\s+in\s+'\w*Config'")
"""OmegaConf merging a saved config into the code's structured config class, which lacks one
of its keys (fairseq's ``Key 'eval_wer' not in 'AudioPretrainingConfig'``)."""
INSTANCE_CALL = re.compile(
    r"classmethod\s+`?(\w+)\.(\w+)`?\s+cannot\s+be\s+called\s+on\s+an\s+instance"
)
"""A class-only method called on an instance (Lightning 2's ``The classmethod
`Model.load_from_checkpoint` cannot be called on an instance``): code of an older release."""
OLDER_ARGUMENT = re.compile(
    r"__init__\(\)\s+missing\s+\d+\s+required\s+(?:positional|keyword-only)\s+arguments?:\s+"
    r"'(\w+)'"
)
"""A class rebuilt from a saved model or config lacking an argument the class now requires."""
ABSENT_TARGETS = re.compile(
    r"(?:Target\s+modules?\s+|target_modules=)(\{[^}\n]*\}|\[[^\]\n]*\]|\S+)\s+"
    r"(?:not\s+found\s+in\s+the\s+base\s+model|were\s+set\s+but\s+no\s+module\s+was\s+matched)"
)
"""PEFT refusing an adapter config whose target modules the base model does not have (or,
since 0.14, warning that none of them matched)."""
CAFFE_BLOBS = re.compile(
    r"\((\d+)\s+vs\.?\s+(\d+)\)\s+Incompatible\s+number\s+of\s+blobs\s+for\s+layer\s+([\w/.\-]+)"
)
"""Caffe copying a caffemodel's layer into the net: ``(net's blobs vs. file's blobs)``."""
KALDI_TOKEN = re.compile(
    r"Expected\s+token\s+\"\s*<\s*(\w+)\s*>\s*\",\s+got\s+instead\s+\"\s*<\s*(\w+)\s*>"
)
"""Kaldi's reader meeting another tag than the one its object's layout has next."""
ABSENT_COMPONENT = re.compile(
    r"Failed\s+to\s+load\s+(\w+)\.\s+Weights\s+for\s+this\s+component\s+appear\s+to\s+be\s+"
    r"missing\s+in\s+the\s+checkpoint"
)
"""diffusers' single-file loader finding no weights of a pipeline component in the file."""
PASSED_COMPONENTS = re.compile(
    r"expected\s+\{([^{}]{0,2000})\},\s+but\s+only\s+\{([^{}]{0,2000})\}\s+were\s+passed"
)
"""diffusers' pipeline given fewer components than its class takes (a folder that lacks some)."""
SIZE_MISMATCH = re.compile(
    r"Mismatch\s+between\s+expected\s+(\d+)\s+and\s+actual\s+(\d+)\s*(?:[KMG]i?B|bytes?)?\s+size",
    re.I,
)
"""gemma.cpp's ``Mismatch between expected 1024000 and actual 1024512 KiB size`` of a weights
file (the loader's count first)."""
OPTION_CLASSES = frozenset(
    {"Namespace", "SimpleNamespace", "EasyDict", "AttrDict", "DictConfig", "ConfigDict", "Config"}
)
"""Classes of the options a training script saves in its checkpoints (argparse's
``Namespace``, OmegaConf's ``DictConfig``, ``EasyDict``): lacking an attribute the code reads,
they were saved by an older release of that code."""
NON_TENSOR_ENTRY = re.compile(
    r"(?:parameter\s+named\s+['\"`]?([\w.]+)|\[['\"]?([\w.]+)['\"]?\](?!\[))[^\n]{0,40}?(?:is\s+)?expected\s+(?:to\s+be\s+)?"
    r"(?:a\s+)?(?:torch\.)?Tensor\s+or\s+Tensor-like[^\n]{0,40}?\b(?:received|but\s+get|got)\s+"
    r"(?:an?\s+)?(?:<class\s+)?['\"`]?([\w.]+)",
    re.I,
)
"""A state dict entry that holds an object, not a tensor (torchdrug's ``Graph``): ``While
copying the parameter named "graph", expected torch.Tensor or Tensor-like object from
checkpoint but received <class '...Graph'>``."""
NESTED_VALUE = re.compile(
    r"Key\s+[`'\"]([\w.]+)[`'\"]\s+is\s+invalid,\s+expected\s+torch\.Tensor\s+but\s+"
    r"received\s+<class\s+'dict'>|"
    r"Unsupported\s+type\s+found\s+in\s+checkpoint!\s+([\w.]+):\s+"
    r"<class\s+'(?:collections\.)?(?:Ordered)?[Dd]ict'>"
)
"""A loader refusing a state dict whose entry is a dict: the weights are nested under it
(safetensors' ``expected torch.Tensor but received <class 'dict'>``, fvcore's ``Unsupported
type found in checkpoint! model: <class 'dict'>``)."""
QUANTITY = re.compile(
    r"\b(?:(?P<vocab>(?:padded_)?vocab(?:ulary)?(?:[\s_]size)?|n_vocab|char(?:acter)?[\s_]?list|charset|"
    r"alphabet(?:[\s_]size)?|n_symbols|num[\s_](?:chars|symbols))|"
    r"(?P<parallel>(?:mp_)?world[\s_]size|MP|model[\s_-]parallel(?:[\s_]size)?|"
    r"(?:tensor|pipeline)[\s_-](?:model[\s_-])?parallel(?:[\s_]size)?|tp[\s_]size|"
    r"num[\s_]shards)|"
    r"(?P<width>normalized_shape|hidden[\s_]size|d_model|n_embd|embed(?:ding)?[\s_]dim)|"
    r"(?P<classes>num[\s_]classes|num[\s_]labels|n_classes)|"
    r"(?P<layers>num[\s_](?:hidden[\s_])?layers|n_layers?)|"
    r"(?P<tensors>number\s+of\s+tensors|tensor\s+count|n_tensors|tensors\s+loaded)|"
    r"(?P<channels>number\s+of\s+(?:input\s+)?channels))\b",
    re.I,
)
"""A model quantity a sentence may state two values of: vocabulary (an OCR or speech model's
character list too), parallel degree, width,
classes, layers, the tensors a file holds, the input channels a checkpoint was trained on."""
CHECKPOINT_WORD = re.compile(r"checkpoint|pretrained|weights|saved\s+model", re.I)
"""Words that make a count of channels the checkpoint's, not an image's colour mode."""
DIFFER_CUE = re.compile(
    r"mismatch|\bbut\b|expected|does\s*n[o']t\s+match|!=|\bdiffer|\bnot\s+equal\b", re.I
)
PATH_WORD = re.compile(r"\S*[/\\]\S*|\S+\.(?:model|json|bin|pth?|gguf|safetensors)\b")
HEADER_NUMBER = re.compile(
    r"(?:version|magic|header(?:\s+size|\s+length)?)\D{0,40}?\bv?(\d{8,10})\b", re.I
)
"""A large number a reader took from a file's first bytes (a version, a magic, a length)."""
MANY_INDEXES = re.compile(r"more\s+than\s+one\s+\.?index\.json|multiple\s+\S*index\.json", re.I)
"""accelerate / transformers refusing a folder with two shard indexes."""
QUANT_DTYPE = re.compile(
    r"(?:unknown|unsupported|unhandled)\s+(?:data\s*type|dtype|tensor\s+type)s?\s*[:=]?\s*"
    r"['\"`]?(U8|I8|U4|I4|F8_E4M3|F8_E5M2|uint8|int8|int4|float8_e4m3fn|float8_e5m2)\b",
    re.I,
)
"""A loader refusing a storage dtype that holds quantized weights (bitsandbytes' U8, int8
weight-only I8, FP8): the file is quantized, the loader expects float weights."""
META_DEVICE = re.compile(
    r"([\w.]+)\s+is\s+on\s+the\s+meta\s+device|Cannot\s+copy\s+out\s+of\s+meta\s+tensor"
)
"""A parameter left on the meta device after loading: no value in the checkpoint for it."""
BUILTIN_TYPES = frozenset({"NoneType", "dict", "str", "list", "tuple", "int", "float", "bytes"})
"""Python's own types: a private attribute missing from them is no class's hook."""
NO_MODULE = re.compile(r"No\s+module\s+named\s+'([\w.]+)'")
CHECKPOINT_NEEDS_MODULE = re.compile(r"requires\s+missing\s+\w+\s+module\s+'([\w.]+)'")
"""A loader naming the module a checkpoint's pickled classes need (Ultralytics' ``yolo26n.pt
requires missing Ultralytics module 'ultralytics.nn.modules.head_v26'``)."""
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
PATH_FOR_DICT = re.compile(
    r"Expected\s+state_dict\s+to\s+be\s+dict-like,\s+got\s+<class\s+'(str|bytes|pathlib\.\w*Path)'>"
)
"""PyTorch's ``load_state_dict`` given a string or a path, not the dict read from the file."""
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
BYTE_COUNTS = re.compile(
    r"(?:only\s+)?has\s+(\d+)(?:\s+bytes)?,?\s+but\s+(?:request(?:s|ed)?|expect(?:s|ed)?|"
    r"needs?|wants?)\s+(\d+)",
    re.I,
)
"""A loader reading a raw weight file of another byte count than it asks for
(FasterTransformer's ``file x.bin only has 2048, but request 4096``): file first."""
GGUF_KEY_MISSING = re.compile(r"\bkey\s+not\s+found\s+in\s+model:\s*([A-Za-z][\w.\-]*\w)")
"""llama.cpp's loader missing a metadata key the file should hold (``key not found in model:
llama.context_length``): the file's converter wrote another set of keys."""
BUFFER_NAMES = frozenset(
    {"inv_freq", "position_ids", "num_batches_tracked", "freqs_cis", "masked_bias", "attn_mask"}
)
"""Buffers known by their bare name: a ``KeyError`` on one is a loading error by itself."""
BUFFER_NOT_SAVED = re.compile(
    r"\b(?P<buffer>" + "|".join(sorted(BUFFER_NAMES)) + r")\b[^\n.]{0,80}?\bnot\s+in\s+(?:the\s+)?"
    r"(?:model[_\s]zoo|checkpoint|ckpt|pre-?trained\s+(?:weights|model)|state_?dict|saved\s+weights)\b"
)
"""Prose saying a buffer known by its bare name is not in a saved file (``there is a
num_batches_tracked layer in BN and not in model_zoo``): a name the model has and the file
lacks."""
GLUON_MISSING = re.compile(
    r"Parameter\s+'?([A-Za-z]\w*?\d+_\w+)'?\s+(?:is\s+)?missing\s+in\s+file\s+'?([^\s']+)"
)
"""MXNet Gluon's loader looking up a prefix-named parameter (``net0_conv0_weight``) in a
``.params`` file that does not hold it."""
GLUON_HOLDS = re.compile(r"which\s+contains\s+parameters:\s+([^\n]*)")
"""The names MXNet lists the file as holding (``'0.weight', '0.bias', ...``)."""
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
UNPICKLING = re.compile(
    r"torch\.load|pickle|unpickl|_load\(|load_(?:from_)?checkpoint|attempt_load|" + TORCH_READER,
    re.I,
)
"""Code that unpickles: a load call, or the unpickler looking a class up."""
BROADCAST = re.compile(
    r"size\s+of\s+tensor\s+a\s+\((\d+)\)\s+must\s+match\s+the\s+size\s+of\s+tensor\s+b\s+\((\d+)\)|"
    r"Vocab\s+size\s+mismatch\s+\(model\s+has\s+(\d+),\s+but\s+\S+\s+has\s+(\d+)\)"
)
"""Two row counts that meet: a broadcast of two tensors, or llama.cpp's ``convert.py``
finding the model's vocabulary and the tokenizer's apart."""
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


@dataclass
class Facts:
    """What a text says besides its tensors.

    Attributes:
        loading_error: The text holds a loading error (a phrase of :data:`LOADING_ERROR`).
        model_class: The model class named (``BertForTokenClassification``), or ``""``.
        model_types: ``(checkpoint type, model type)`` from transformers' warning.
        versions: Library name to version, as printed.
        files: Checkpoint file names mentioned.
        quantization: Quantization words used (lowercase).
        mlx: The text is MLX's (its loaders' messages, or the word): a runtime whose
            quantized weights pack along the last axis.
        lora: LoRA / adapter words used (lowercase).
        invalid_view: ``(shape, size)`` of ``shape '[a, b]' is invalid for input of size N``.
        key_errors: Names of ``KeyError: 'name'``.
        key_error_frame: ``(module path, function)`` of the traceback frame the last
            ``KeyError`` was raised in (the frame printed last before it).
        unknown_architecture: The architecture a loader says it does not know (``qwen3``).
        unknown_kind: What that name is: ``architecture``, ``tokenizer`` (a tokenizer class),
            ``pre_tokenizer`` (llama.cpp's) or ``registry`` (a name a library's registry
            lacks: timm, torch.hub, fairseq, fairchem).
        matmul: ``(rows, width fed, width read)`` of ``mat1 and mat2 shapes cannot be
            multiplied (308x2048 and 768x320)``.
        input_channels: ``(the UNet takes, the pipeline feeds)`` of diffusers' inpainting
            pipelines' ``expects 4 but received ... = 9``.
        module_method: The module method a loaded dict was asked for (``'to'``): the file
            holds a state dict where the code expects a pickled model.
        object_for_dict: The class of an object asked for a dict's method (``'Model'``):
            the file holds a pickled object where the code expects a dict of weights.
        path_for_dict: The type (``str``, ``pathlib.PosixPath``) ``load_state_dict`` was
            given in a state dict's place: the file's path, never loaded.
        optimizer_groups: The optimizer's refusal of saved state with other parameter groups.
        tie_refused: ``(tied, to, present|absent)`` of transformers declining to tie two
            tensors its config ties.
        import_lacking: ``(name, module)`` a model's loading code imports and the installed
            module lacks.
        absent_part: The part of a model file an engine asked for and did not find
            (``LSTM``), or ``languages`` when none of the files loaded.
        scalar_pairs: The mismatches set aside among ``unshaped``, a 0-d tensor against a
            sized one: ``name -> (checkpoint shape, model shape)``.
        stale_attribute: ``(class, attribute)`` of ``'Upsample' object has no attribute
            'recompute_scale_factor'`` when a known library change added that attribute.
        called_hook: Whether that attribute is a private hook a loader called on a class
            that lacks it (``'Resampler' object has no attribute '_initialize_weights'``).
        missing_class_file: The file of the module that lacked a pickled class, as
            ``Can't get attribute 'MP' on <module 'models.common' from '...'>`` names it.
        stated: ``(kind, first, second)`` of a line stating two values of one model
            quantity (``Vocab size mismatch (model has 38464, but ... has 38656)``).
        broken_file: What a reader said of a file that is not whole (:data:`BROKEN_FILE`).
        round_trip: The call that read back bytes the same code had just serialized
            (``deserialize_from_slice(&serialized)``), when the text fails: no file between.
        other_format: The one weights file of another format a safetensors reader was given
            (``cloth_segm.pth`` behind ``HeaderTooLarge``), or ``""``.
        newer_format: What a reader said of a file written by another version of its format
            (PyTorch < 1.6: ``... is a zip archive (did you mean to use torch.jit.load()?)``).
        newer_reader: Which of :data:`NEWER_FORMAT`'s readings said it (``torch``,
            ``onnx``, ``future``, ``stated`` ...), ``ggml_container``, ``python2`` (a Python 2
            pickle read in Python 3) or ``python3`` (the reverse).
        gluon_missing: ``(parameter, file)`` of MXNet Gluon's ``Parameter net0_conv0_weight
            is missing in file x.params``.
        gluon_file_names: The names MXNet says that file holds (``0.weight``, ``0.bias``).
        byte_counts: ``(the file has, the loader asks for)`` of a raw weight file.
        printed_state: The training helper (an LR scheduler, a gradient scaler) whose
            state a printed ``dict_keys([...])`` holds.
        held_container: The container a printed ``dict_keys([...])`` of a checkpoint shows
            holding the weights (``simclr_state`` beside ``optimizer_state`` and ``epoch``).
        layer_counts: ``(file, model)`` layer counts of Keras' ``weight file containing N
            layers into a model with M layers``.
        layer_weights: ``(model, file)`` variable counts of one Keras layer: ``expects 3
            weights, but the saved weights have 2 elements``.
        unsupported_precision: The precision a loader or device refused (``float16``).
        stale_option: ``(class, option)`` of ``'Namespace' object has no attribute
            'attention_type'``: the options a checkpoint saved lack one this code reads.
        newer_argument: An argument a saved config passes that the code's class does not
            take (``__init__() got an unexpected keyword argument 'rope_scaling'``).
        older_argument: An argument a class now requires that the saved model does not pass
            (``__init__() missing 1 required positional argument: 'norm_type'``).
        module_attribute: ``(module, name)`` a loader's code looked up in an installed module
            that lacks it (``omegaconf._utils.is_primitive_type``).
        called_with: ``(function, argument)`` a loader passed to a function of another
            release, which does not take it (``load_model() ... 'device'``).
        instance_call: ``(class, method)`` a loader called on an instance where the installed
            release allows only the class (Lightning 2's ``load_from_checkpoint``).
        caffe_blobs: ``(layer, the net's blobs, the file's blobs)`` of Caffe's ``Incompatible
            number of blobs for layer conv1`` (``(2 vs. 1)``: a bias the file lacks).
        kaldi_token: ``(expected, got)``: the tags of Kaldi's ``Expected token "<Nnet3>",
            got instead "<DIMENSION>"``.
        absent_components: Pipeline components a checkpoint or folder lacks (diffusers'
            ``Failed to load CLIPTextModel. Weights for this component appear to be missing``,
            or the ones a pipeline class expected beyond those passed).
        absent_targets: Modules an adapter targets that the base model lacks (PEFT's
            ``Target modules {'q_proj'} not found in the base model``).
        metadata_key: A metadata entry (:data:`METADATA_ENTRIES`) the code read from the
            checkpoint and did not find (``checkpoint['meta']``: ``KeyError: 'meta'``).
        non_tensor: ``(entry, class)`` of a state dict entry holding an object, not a tensor.
        optimizer_slot: An optimizer's variable a converter looked up on the model
            (:data:`OPTIMIZER_SLOT`).
        architecture_said: A loader's words that the file has fewer or more layers than the model,
            or is of another architecture
            (pix2pixHD and its descendants: ``Pretrained network G has fewer layers``).
        absent_file: The weights file a reader said does not exist (:data:`ABSENT_FILE`).
        short_stream: What a reader of a raw weights file said when the file ended before the
            network was filled (:data:`SHORT_STREAM`).
        tensor_parallel: Words of a run splitting parameters across ranks
            (:data:`TENSOR_PARALLEL`: ``tp_degree``, ``ShardSpec``).
        spaces: An agent's saved observation or action space against its environment's.
    """

    loading_error: bool = False
    model_class: str = ""
    model_types: tuple[str, str] | None = None
    versions: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    quantization: list[str] = field(default_factory=list)
    mlx: bool = False
    lora: list[str] = field(default_factory=list)
    invalid_view: tuple[tuple[int, ...], int] | None = None
    key_errors: list[str] = field(default_factory=list)
    key_error_frame: tuple[str, str] | None = None
    container_key: str = ""
    gluon_missing: tuple[str, str] | None = None
    gluon_file_names: list[str] = field(default_factory=list)
    byte_counts: tuple[int, int] | None = None
    missing_class: tuple[str, str] | None = None
    missing_class_file: str = ""
    broadcast: tuple[int, int] | None = None
    unshaped: list[str] = field(default_factory=list)
    scalar_pairs: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=dict)
    meta_device: str = ""
    unlisted: dict[str, int] = field(default_factory=dict)
    indexes: list[str] = field(default_factory=list)
    broken_file: str = ""
    round_trip: str = ""
    other_format: str = ""
    layer_counts: tuple[int, int] | None = None
    layer_weights: tuple[int, int] | None = None
    stale_attribute: tuple[str, str] | None = None
    module_method: str = ""
    object_for_dict: str = ""
    path_for_dict: str = ""
    optimizer_groups: str = ""
    tie_refused: tuple[str, str, str] | None = None
    import_lacking: tuple[str, str] | None = None
    absent_part: str = ""
    called_hook: bool = False
    input_channels: tuple[int, int] | None = None
    unknown_architecture: str = ""
    unknown_kind: str = ""
    matmul: tuple[int, int, int] | None = None
    stated: tuple[str, int, int] | None = None
    newer_format: str = ""
    newer_reader: str = ""
    held_container: str = ""
    printed_state: str = ""
    non_tensor: tuple[str, str] | None = None
    optimizer_slot: str = ""
    metadata_key: str = ""
    stale_option: tuple[str, str] | None = None
    newer_argument: str = ""
    older_argument: str = ""
    module_attribute: tuple[str, str] | None = None
    called_with: tuple[str, str] | None = None
    instance_call: tuple[str, str] | None = None
    caffe_blobs: tuple[str, int, int] | None = None
    kaldi_token: tuple[str, str] | None = None
    absent_components: list[str] = field(default_factory=list)
    absent_targets: str = ""
    unsupported_precision: str = ""
    architecture_said: str = ""
    absent_file: str = ""
    tensor_parallel: str = ""
    short_stream: str = ""
    spaces: SpaceMismatch | None = None
    text: str = field(default="", repr=False)

    def to_dict(self) -> dict[str, object]:
        """Plain data for a finding's evidence (empty fields left out)."""
        data: dict[str, object] = {
            "model_class": self.model_class,
            "model_types": list(self.model_types) if self.model_types else None,
            "versions": self.versions,
            "files": self.files,
            "quantization_words": self.quantization,
            "lora_words": self.lora,
            "invalid_view": (
                {"shape": list(self.invalid_view[0]), "input_size": self.invalid_view[1]}
                if self.invalid_view
                else None
            ),
            "key_errors": self.key_errors,
            "key_error_frame": list(self.key_error_frame) if self.key_error_frame else None,
            "mlx": self.mlx,
            "container_key": self.container_key,
            "gluon_missing": list(self.gluon_missing) if self.gluon_missing else None,
            "gluon_file_names": self.gluon_file_names[:8],
            "byte_counts": list(self.byte_counts) if self.byte_counts else None,
            "missing_class": list(self.missing_class) if self.missing_class else None,
            "broadcast_sizes": list(self.broadcast) if self.broadcast else None,
            "names_without_shapes": self.unshaped[:8],
            "left_on_meta_device": self.meta_device,
            "counted": self.unlisted,
            "index_files": self.indexes,
            "broken_file": self.broken_file,
            "round_trip": self.round_trip,
            "other_format": self.other_format,
            "layer_counts": list(self.layer_counts) if self.layer_counts else None,
            "layer_weights": list(self.layer_weights) if self.layer_weights else None,
            "stale_attribute": list(self.stale_attribute) if self.stale_attribute else None,
            "module_method_on_dict": self.module_method,
            "dict_method_on_object": self.object_for_dict,
            "path_for_state_dict": self.path_for_dict,
            "optimizer_groups": self.optimizer_groups,
            "tie_refused": list(self.tie_refused) if self.tie_refused else None,
            "import_lacking": list(self.import_lacking) if self.import_lacking else None,
            "absent_part": self.absent_part,
            "input_channels": list(self.input_channels) if self.input_channels else None,
            "unknown_architecture": self.unknown_architecture,
            "unknown_kind": self.unknown_kind,
            "matmul": list(self.matmul) if self.matmul else None,
            "stated": list(self.stated) if self.stated else None,
            "newer_format": self.newer_format,
            "held_container": self.held_container,
            "printed_state": self.printed_state,
            "non_tensor_entry": list(self.non_tensor) if self.non_tensor else None,
            "optimizer_slot": self.optimizer_slot,
            "metadata_key": self.metadata_key,
            "stale_option": list(self.stale_option) if self.stale_option else None,
            "newer_argument": self.newer_argument,
            "older_argument": self.older_argument,
            "module_attribute": list(self.module_attribute) if self.module_attribute else None,
            "called_with": list(self.called_with) if self.called_with else None,
            "instance_call": list(self.instance_call) if self.instance_call else None,
            "caffe_blobs": list(self.caffe_blobs) if self.caffe_blobs else None,
            "kaldi_token": list(self.kaldi_token) if self.kaldi_token else None,
            "absent_components": self.absent_components,
            "absent_targets": self.absent_targets,
            "unsupported_precision": self.unsupported_precision,
            "architecture_said": self.architecture_said,
            "absent_file": self.absent_file,
            "tensor_parallel": self.tensor_parallel,
            "short_stream": self.short_stream,
            "spaces": (
                {
                    "kind": self.spaces.kind,
                    "saved": self.spaces.saved,
                    "env": self.spaces.environment,
                }
                if self.spaces
                else None
            ),
        }
        return {key: value for key, value in data.items() if value}


def _raising_frame(text: str) -> tuple[str, str] | None:
    """The frame printed last before the text's last ``KeyError``."""
    raised = list(KEY_ERROR.finditer(text))
    if not raised:
        return None
    frames = list(FRAME.finditer(text, 0, raised[-1].start()))
    return (frames[-1].group(1), frames[-1].group(2)) if frames else None


def _absent_file(absent: re.Match[str]) -> str:
    """The file (or folder) a reader said it could not find; TensorFlow's None names none."""
    return next((group for group in absent.groups() if group), NO_CHECKPOINT_FOUND)


def facts(text: str) -> Facts:
    """Read the facts of a normalised text."""
    absent = ABSENT_FILE.search(text)
    # A reader saying the weights file is not there is a failed load, raised or not.
    loading = (
        LOADING_ERROR.search(text) is not None
        or absent is not None
        or another_kind_said(text)
        or (
            RAISED.search(text) is not None
            and (LOADING_CONTEXT.search(text) is not None or QUANT_WORDS.search(text) is not None)
        )
    )
    found = Facts(
        loading_error=loading,
        text=text,
        absent_file=_absent_file(absent) if absent else "",
    )
    for read in READERS:
        read(found, text)
    found.loading_error = found.loading_error or _failed_load(found, text)
    return found


def _read_names(found: Facts, text: str) -> None:
    """What the text names: model types and class, versions, files, quantization and LoRA words."""
    types = MODEL_TYPES.search(text)
    if types is not None:
        found.model_types = (types.group(1).strip(".,"), types.group(2).strip(".,"))
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


def _read_lookups(found: Facts, text: str) -> None:
    """Failed lookups: ``KeyError``s and what they looked up (a container, a metadata entry)."""
    found.key_errors = list(
        dict.fromkeys(
            [m.group("quoted") or m.group("bare") for m in KEY_ERROR.finditer(text)]
            + [m.group("quoted") for m in NODE_KEY_ERROR.finditer(text)]
        )
    )
    found.key_error_frame = _raising_frame(text)
    plain = [k for k in found.key_errors if re.fullmatch(r"\w+", k)]
    found.container_key = next(
        (
            k
            for k in reversed(plain)
            if _names_weights(k)
            or _indexes_weights(text, k)
            or _holds_weights_of_named_file(text, k)
        ),
        "",
    )
    found.held_container = _held_container(text)
    found.printed_state = _printed_state(text)
    found.metadata_key = next(
        (
            k
            for k in plain
            if indexed(text, k)
            and (k in METADATA_ENTRIES or (_setting(k) and LOADING_CONTEXT.search(text)))
            and k != found.container_key
        ),
        "",
    )
    if not found.metadata_key:
        # A metadata entry the code failed on, absent from the file's own printed keys.
        found.metadata_key = next(
            (k for k in plain if k in METADATA_ENTRIES and _printed_without(text, k)), ""
        )
    gguf_key = GGUF_KEY_MISSING.search(text)
    if gguf_key is not None and not found.metadata_key:
        found.metadata_key = gguf_key.group(1)
    entry = NON_TENSOR_ENTRY.search(text)
    if entry is not None and entry.group(3).rsplit(".", 1)[-1] != "dict":
        found.non_tensor = (entry.group(1) or entry.group(2), entry.group(3))
    nested = NESTED_VALUE.search(text)
    if nested is not None and not (found.container_key or found.held_container):
        found.held_container = nested.group(1) or nested.group(2)


def _read_code(found: Facts, text: str) -> None:
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


def _read_counts(found: Facts, text: str) -> None:
    """Numbers a message contrasts: broadcast sizes, list counts, layers, matrix products."""
    sizes = BROADCAST.search(text)
    if sizes is not None:
        a, b = (int(n) for n in sizes.groups() if n)
        found.broadcast = (a, b)
    counts = COUNTS.search(text)
    if counts is not None:
        found.unlisted = {"missing": int(counts.group(1)), "unexpected": int(counts.group(2))}
    elif BOTH_UNLISTED.search(text):
        found.unlisted = {"missing": 0, "unexpected": 0}
    elif (unlisted := UNLISTED_MISSING.search(text)) is not None:
        found.unlisted = {"missing": int(unlisted.group(1) or 0)}
    elif UNLISTED_UNEXPECTED.search(text):
        found.unlisted = {"unexpected": 0}
    if MANY_INDEXES.search(text):
        found.indexes = list(dict.fromkeys(re.findall(r"[\w.\-]+\.index\.json", text)))
    found.architecture_said = said(ARCHITECTURE_SAID, text)
    layers = LAYER_COUNTS.search(text)
    if layers is not None:
        have = layers["file"] or layers["saved"] or layers["values"]
        want = layers["model"] or layers["expects"] or layers["parameters"]
        found.layer_counts = (int(have), int(want))
    weights = LAYER_WEIGHTS.search(text)
    if weights is not None:
        builds, saved = (int(n) for n in weights.groups() if n)
        found.layer_weights = (builds, saved)
    product = MATMUL.search(text)
    if product is not None:
        numbers = [int(n) for n in product.groups()]
        found.matmul = (numbers[0], numbers[1], numbers[2])
    fed = INPUT_CHANNELS.search(text)
    conv = CONV_INPUT.search(text)
    if fed is not None:
        found.input_channels = (int(fed.group(1)), int(fed.group(5)))
    elif conv is not None and _latent_inputs(*(int(n) for n in conv.groups())):
        found.input_channels = (int(conv.group(2)), int(conv.group(3)))
    found.stated = _stated_quantity(text)


def _read_unknown_names(found: Facts, text: str) -> None:
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


def _read_file_format(found: Facts, text: str) -> None:
    """What a reader said of the file's own format: newer, broken, another kind."""
    newer = NEWER_FORMAT.search(text)
    if newer is not None:
        found.newer_format = " ".join(newer.group(0).split())
        found.newer_reader = str(newer.lastgroup)
    elif lightgbm := lightgbm_release(text):
        found.newer_format, found.newer_reader = lightgbm, "stated"
    elif containers := _ggml_containers(text):
        found.newer_format, found.newer_reader = containers, "ggml_container"
    elif (decode := PYTHON2_STRINGS.search(text)) and (
        decode["codec"] == "ascii" or UNPICKLING.search(text)
    ):
        found.newer_format, found.newer_reader = decode.group(0), "python2"
    elif read_by_python2 := PYTHON2_READER.search(text):
        found.newer_format = read_by_python2.group(0).rsplit("\n", 1)[-1]
        found.newer_reader = "python3"
    broken = BROKEN_FILE.search(text) or MAGIC_CHECK.search(text)
    if broken is not None:
        found.broken_file = " ".join(broken.group(0).split())
    else:
        found.broken_file = (
            text_read_as_opcode(text)
            or _text_read_as_number(text)
            or _pickle_read_as_number(text)
            or _zip_read_as_number(text)
            or ("" if found.newer_reader == "python2" else _pickle_read_as_text(text))
        )
    found.other_format = file_of_other_format(text, found.broken_file)
    trip = ROUND_TRIP.search(text)
    if trip is not None and FAILED.search(text[trip.end() :]):
        found.round_trip = trip.group("read")
    storage = QUANT_DTYPE.search(text)
    if storage is not None:
        found.quantization = sorted({*found.quantization, f"{storage.group(1).lower()} storage"})
    meta = META_DEVICE.search(text)
    if meta is not None:
        found.meta_device = meta.group(1) or "a parameter"


def _read_attributes(found: Facts, text: str) -> None:
    """Attributes an object lacks: another kind of object, another release's class."""
    lacking = [stale.groups() for stale in STALE_ATTRIBUTE.finditer(text)]
    found.module_method = next((a for c, a in lacking if _asks_dict_for_model(c, a)), "")
    found.object_for_dict = next(
        (c for c, a in lacking if a in DICT_METHODS and c not in BUILTIN_TYPES), ""
    )
    found.path_for_dict = said(PATH_FOR_DICT, text, 1)
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


def _read_loader_statements(found: Facts, text: str) -> None:
    """Loaders' own statements: short streams, spaces, Caffe blobs, Gluon names, byte counts."""
    found.short_stream = said(SHORT_STREAM, text)
    found.tensor_parallel = said(TENSOR_PARALLEL, text)
    found.older_argument = said(OLDER_ARGUMENT, text, 1)
    found.spaces = space_mismatch(text)
    found.absent_targets = said(ABSENT_TARGETS, text, 1)
    found.absent_components = _absent_components(text)
    blobs = CAFFE_BLOBS.search(text)
    if blobs is not None:
        found.caffe_blobs = (blobs.group(3), int(blobs.group(1)), int(blobs.group(2)))
    kaldi = KALDI_TOKEN.search(text)
    if kaldi is not None:
        found.kaldi_token = (kaldi.group(1), kaldi.group(2))
    gluon = GLUON_MISSING.search(text)
    if gluon is not None:
        found.gluon_missing = (gluon.group(1), gluon.group(2))
        holds = GLUON_HOLDS.search(text, gluon.end())
        if holds is not None:
            found.gluon_file_names = re.findall(r"'([\w.]+)'", holds.group(1))
    counts = BYTE_COUNTS.search(text)
    sizes = SIZE_MISMATCH.search(text)
    if counts is not None and "file" in text.lower():
        found.byte_counts = (int(counts.group(1)), int(counts.group(2)))
    elif sizes is not None:
        found.byte_counts = (int(sizes.group(2)), int(sizes.group(1)))


def _failed_load(found: Facts, text: str) -> bool:
    """Whether the facts read say a load failed, where no loading phrase did."""
    return bool(
        NODE_KEY_ERROR.search(text)
        or found.gluon_missing
        or found.byte_counts
        or BUFFER_NAMES & set(found.key_errors)
        or found.layer_weights
        or found.layer_counts
        or found.unlisted
        or found.container_key
        or found.missing_class
        or found.stale_attribute
        or found.module_method
        or found.object_for_dict
        or found.path_for_dict
        or found.optimizer_groups
        or found.tie_refused
        or found.absent_part
        or found.input_channels
        or found.unknown_architecture
        or found.broken_file
        or found.stated
        or found.newer_format
        or found.round_trip
        or found.held_container
        or found.non_tensor
        or found.optimizer_slot
        # A quantized layer lacking an attribute (``'CompressedLinear' object has no
        # attribute 'weight'``): weights stored in another quantized format than it reads.
        or any(QUANT_WORDS.fullmatch(cls) for cls, _ in STALE_ATTRIBUTE.findall(text))
        or found.metadata_key
        or found.stale_option
        or STRUCTURED_KEY.search(text) is not None
        or found.newer_argument in LAYER_CONFIG_ARGUMENTS
        or found.absent_targets
        or found.absent_components
        or found.kaldi_token
        or found.module_attribute
        or found.called_with
        or found.instance_call
        or found.unsupported_precision
        or found.architecture_said
        or found.older_argument
        or found.spaces
        or found.short_stream
        or found.invalid_view
        or NOT_IN_FILE.search(text) is not None
    )


ROUND_TRIP = re.compile(
    r"\b(?P<var>\w+)\s*=\s*[^\n;=]{0,80}?\b(?:\w+_)?(?:serialize\w*|dumps|to_bytes)\s*\("
    r"[^\n]*\n[\s\S]{0,600}?(?P<read>[\w:.]*\b(?:\w+_)?(?:deserialize\w*|loads|from_bytes)\w*"
    r"\s*\(\s*&?\s*(?P=var)\b[^\n)]*\))"
)
"""Code serializing an object into a variable and reading that variable back: a round trip
in one process (``serialized = p.serialize_to_vec()`` … ``deserialize_from_slice(&serialized)``,
``data`` pickled with ``dumps`` … unpickled with ``loads``): words in pasted code, nothing
loaded."""
FAILED = re.compile(r"Error|panicked|Traceback|Exception|fail", re.IGNORECASE)
"""A failure reported after the round trip's read."""

READERS = (
    _read_names,
    _read_lookups,
    _read_code,
    _read_counts,
    _read_unknown_names,
    _read_file_format,
    _read_attributes,
    _read_loader_statements,
)
"""The readers of :func:`facts`, in the order they run (a later one reads an earlier's)."""

SETTING_KEY = re.compile(r"[a-z]+(?:_[a-z]+)+")
"""A snake_case entry a loader reads beside the weights (``policy_class``, ``model_args``)."""
PARAMETER_SUFFIX = re.compile(
    r"_(?:w|b|weight|bias|gamma|beta|kernel|scale|mean|var|variance|embeddings?)$"
)


def _setting(key: str) -> bool:
    """Whether a key is a setting's name: snake_case, no tensor (``conv_rpn_w``), no container."""
    return bool(
        SETTING_KEY.fullmatch(key) and not PARAMETER_SUFFIX.search(key) and not _names_weights(key)
    )


def _absent_components(text: str) -> list[str]:
    """The pipeline components a checkpoint or model folder did not hold, as the loader said."""
    component = ABSENT_COMPONENT.search(text)
    if component is not None:
        return [component.group(1)]
    passed = PASSED_COMPONENTS.search(text)
    if passed is None:
        return []
    expected, given = ({w.strip(" '\"\n") for w in group.split(",")} for group in passed.groups())
    return sorted(expected - given - {""})


def said(pattern: re.Pattern[str], text: str, group: int = 0) -> str:
    """What the first match of ``pattern`` in ``text`` holds (a group of it), or ``""``."""
    match = pattern.search(text)
    return match.group(group) if match is not None else ""


DICT_KEYS = re.compile(r"dict_keys\(\[([^\]\n]{1,2000})\]\)")
"""A printed ``checkpoint.keys()``."""
HELD_WEIGHTS = re.compile(
    r"(?:\w+_)?(?:state(?:_dict)?|model|params|weights|net|network|module|ema)(?:_\w+)?"
)
OTHER_STATE = re.compile(
    r"(?:^|_)(?:optim\w*|sched\w*|scaler|lr|epoch|step|iter\w*|args|config|meta|best|acc|loss)"
    r"(?:_|$)"
)
"""Words of a training checkpoint's other entries (the optimizer's state is no weights)."""


OBJECT_STATES = {
    "a learning-rate scheduler's state": frozenset({"base_lrs", "last_epoch", "_step_count"}),
    "a gradient scaler's state": frozenset({"scale", "growth_factor", "backoff_factor"}),
}
"""The entries a ``state_dict()`` of PyTorch's training helpers always holds, by the object."""


def _printed_keys(text: str) -> Iterator[list[str]]:
    """The keys of each printed ``dict_keys([...])``, in order."""
    for match in DICT_KEYS.finditer(text):
        yield re.findall(r"['\"]([\w.\-]+)['\"]", match.group(1))


def _printed_state(text: str) -> str:
    """The training helper whose state a printed ``dict_keys([...])`` holds, or ``""``."""
    for keys in _printed_keys(text):
        for kind, entries in OBJECT_STATES.items():
            if entries <= set(keys):
                return kind
    return ""


def _held_container(text: str) -> str:
    """The key a printed ``dict_keys([...])`` holds the weights under, beside training state.

    ``dict_keys(['optimizer_state', 'simclr_state', 'boxes', 'epoch'])``: ``simclr_state``.
    Only one such key counts; two or more leave the choice open.
    """
    for keys in _printed_keys(text):
        held = [k for k in keys if HELD_WEIGHTS.fullmatch(k) and not OTHER_STATE.search(k)]
        if len(held) == 1 and len(keys) > 1:
            return str(held[0])
    return ""


def _printed_without(text: str, key: str) -> bool:
    """Whether the text prints a file's top-level keys (``dict_keys([...])``) without ``key``."""
    printed = list(_printed_keys(text))
    return bool(printed) and all(keys and key not in keys for keys in printed)


EXCEPTION_START = re.compile(r"(?=\b[A-Z]\w*(?:Error|Exception):\s)")
"""Where a raised exception's message begins, also mid-line (a log pasted as one line)."""


def _statements(text: str) -> list[str]:
    """The text's lines, each cut where an exception's message begins inside it."""
    return [part for line in text.splitlines() for part in EXCEPTION_START.split(line) if part]


EXPECTED_GOT = re.compile(r"\bexpected\s+(\d+),?\s+(?:but\s+)?got\s+(\d+)\b")
"""The two values a statement pairs itself (``expected 292, got 291``)."""


def _stated_quantity(text: str) -> tuple[str, int, int] | None:
    """A line that names a model quantity, says two values differ, and gives exactly two.

    ``Vocab size mismatch (model has 38464, but tokenizer.model has 38656)``, ``Loading a
    checkpoint for MP=1 but world size is 8``: the kind (``vocab``, ``parallel``, ``width``,
    ``classes``, ``layers``, ``tensors``, ``channels``) and the two values in the order
    written.
    """
    for line in _statements(text)[:2000]:
        quantity = QUANTITY.search(line)
        if quantity is None or DIFFER_CUE.search(line) is None:
            continue
        numbers = list(
            dict.fromkeys(int(n) for n in re.findall(r"\b\d+\b", PATH_WORD.sub(" ", line)))
        )
        kind = next(k for k, v in quantity.groupdict().items() if v)
        if kind == "channels" and CHECKPOINT_WORD.search(line) is None:
            continue
        paired = EXPECTED_GOT.search(line)
        if len(numbers) > 2 and paired is not None:
            numbers = [int(paired[1]), int(paired[2])]  # other numbers on a log's one line
        # Zero pieces of a model-parallel save is a count too: the loader found none.
        if len(numbers) == 2 and (all(numbers) or kind == "parallel"):
            return (kind, numbers[0], numbers[1])
    return None


MAGIC = re.compile(
    r"magic\b[\s\S]{0,60}?\b(?:0x)?([0-9a-fA-F]{8})\b"
    r"(?:[\s\S]{0,30}?\b(?:want|expected?)\b\s*(?:0x)?([0-9a-fA-F]{8})\b)?",
    re.I,
)
"""A magic number a reader printed in hex, and the one it wanted when it says so."""
MAGIC_REFUSED = re.compile(
    r"\bInvalidMagic\b|\b(?:invalid|bad|unknown)\s+(?:file\s+)?magic\b", re.I
)
"""A reader refusing a file's magic without printing it (llama-rs' ``InvalidMagic``)."""
GGML_FILE = re.compile(
    r"(?<![\w.\-])[\w.\-]{0,200}?(?:ggml|ggjt|ggmf|[-_.][qQ][2-8]_(?:[01]|[kK]))[\w.\-]{0,200}?"
    r"\.bin\b|(?<![\w.\-])[\w.\-]{1,200}\.gguf\b"
)
"""A GGML-family model file: a ``.gguf``, or a ``.bin`` named for GGML or a GGML quantization
type (``vicuna-13b-q4_0.bin``)."""
GGML_CONTAINERS = ("ggml", "ggmf", "ggjt", "GGUF")
"""GGML's file containers in the order they came: unversioned, versioned, mmap-able (2023),
GGUF (August 2023)."""


def _ggml_containers(text: str) -> str:
    """The GGML container a reader found (and wanted), from the magic numbers it printed.

    A magic is four ASCII letters read as an integer: ``0x67676d66`` is ``ggmf``,
    ``46554747`` (little-endian) is ``GGUF``. A reader that refuses a GGML model file's magic
    without printing it met a container of another release too.
    """
    spelled = MAGIC_CHARACTERS.search(text)
    if spelled is not None:
        got = next((t for t in GGML_CONTAINERS if t in {spelled[1], spelled[1][::-1]}), "")
        return f"the file is a {got} container" if got else ""  # text: a pointer or a page
    match = MAGIC.search(text)
    if match is None and MAGIC_REFUSED.search(text) and (named := GGML_FILE.search(text)):
        return f"the reader refuses the container magic of {named.group(0)}, a GGML model file"
    if match is None or "==" in match.group(0):
        return ""  # an assertion's magic is the one the reader wants, not the file's
    got, want = (_magic_tag(number) if number else "" for number in match.groups())
    if got not in GGML_CONTAINERS:
        return ""
    if want not in GGML_CONTAINERS or want == got:
        return f"the file is a {got} container"
    order = "newer" if GGML_CONTAINERS.index(got) > GGML_CONTAINERS.index(want) else "older"
    return f"the file is a {got} container, {order} than the {want} the reader takes"


def _magic_tag(number: str) -> str:
    """The GGML container a hex magic number spells, in either byte order, or ``""``."""
    spelled = {word.decode("latin-1") for word in _spellings(int(number, 16))}
    return next((tag for tag in GGML_CONTAINERS if tag in spelled), "")


def _spellings(number: int) -> tuple[bytes, bytes]:
    """The four bytes of a 32-bit number a reader took from a file, in both byte orders."""
    return number.to_bytes(4, "little"), number.to_bytes(4, "big")


UNSUPPORTED_OPCODE = re.compile(r"Unsupported\s+operand\s+(\d+)")
"""The weights-only unpickler meeting a byte that is no opcode it reads."""
TEXT_FILE_STARTS = {ord("<"): "an HTML page", ord("v"): "a Git LFS pointer ('version ...')"}
"""First bytes of the text files saved under a checkpoint's name."""


def text_read_as_opcode(text: str) -> str:
    """An unpickler's unsupported operand that is the first byte of a text file.

    ``Unsupported operand 60`` is ``'<'``: the file is a page, as ``invalid load key, '<'``
    says in the pickle module's words. A ``'v'`` refused under PyTorch 2.6's new default is
    no pointer's: threads settle those as the default change (the file loads with
    ``weights_only=False``), so the pointer reading is left out there.
    """
    default_changed = DEFAULT_CHANGED.search(text) is not None
    for match in UNSUPPORTED_OPCODE.finditer(text):
        byte = int(match.group(1))
        if byte == ord("v") and default_changed:
            continue
        if byte in TEXT_FILE_STARTS:
            return f"{match.group(0)}: the byte '{chr(byte)}', which opens {TEXT_FILE_STARTS[byte]}"
    return ""


def _text_read_as_number(text: str) -> str:
    """A header number whose bytes are letters: the file is text (a Git LFS pointer, a page).

    A reader that takes a version or a length from the first bytes of ``version
    https://git-lfs...`` reports 1936876918 (``vers``, little-endian).
    """
    for number, word in _header_words(text):
        if all(b < 128 and (chr(b).isalpha() or chr(b) in " <>!/") for b in word):
            return f"{number} is the text '{word.decode('ascii')}' read as a number"
    return ""


def _pickle_read_as_number(text: str) -> str:
    r"""A header number whose bytes open a Python pickle: the file is a pickled object.

    Paddle's tensor reader taking a version from a ``.pdparams`` training checkpoint
    reports 1904018048: ``\x80\x02}q``, pickle protocol 2's PROTO opcode and a dict.
    """
    for number, word in _header_words(text):
        if word[0] == 0x80 and 2 <= word[1] <= 5:
            return (
                f"{number} is a Python pickle's first bytes (protocol {word[1]}) read as a number"
            )
    return ""


PICKLE_DECODED = re.compile(r"can't\s+decode\s+byte\s+0x80\s+in\s+position\s+(0|64)\b")
"""A text reader failing on byte 0x80, a pickle's PROTO opcode, where a pickle starts: a
file's first byte, or byte 64 of a ``torch.save`` zip archive, whose writer aligns each
record's data to 64 bytes (``kFieldAlignment``), so its first, ``data.pkl``, starts there."""


def _pickle_read_as_text(text: str) -> str:
    """A text (or text-format) reader failing on a file's first byte 0x80: the file is a pickle.

    gensim's ``load_word2vec_format`` given a model gensim pickled (``'utf-8' codec can't
    decode byte 0x80 in position 0``), a tokenizer given a ``torch.save`` file (``… in position
    64``): the file is another format than the reader takes.
    """
    decoded = PICKLE_DECODED.search(text)
    if decoded is None:
        return ""
    if decoded.group(1) == "64":
        return (
            "byte 0x80 at position 64 is the pickle inside a torch.save zip archive (its first "
            "record's data, aligned to 64 bytes) read as text"
        )
    return (
        "byte 0x80 at position 0 is a Python pickle's first bytes (its PROTO opcode) read as text"
    )


def _zip_read_as_number(text: str) -> str:
    r"""A header number whose bytes open a zip archive: ``PK\x03\x04``, a ``torch.save`` file.

    A reader of its own binary format taking a version from a PyTorch checkpoint reports
    67324752 (CTranslate2's ``binary version v67324752``).
    """
    for number, word in _header_words(text):
        if word == b"PK\x03\x04":
            return f"{number} is a zip archive's first bytes (a torch.save file) read as a number"
    return ""


def _header_words(text: str) -> Iterator[tuple[int, bytes]]:
    """Each 32-bit header number a reader printed, with its four bytes in either order."""
    for match in HEADER_NUMBER.finditer(text):
        number = int(match.group(1))
        if number < 1 << 32:
            for word in _spellings(number):
                yield number, word


def hints(known: Facts) -> list[str]:
    """What would settle a fact the text states but no tensor shows."""
    found = []
    if known.unknown_architecture:
        found.append(
            f"see what the file declares beside '{known.unknown_architecture}', the architecture "
            "this loader does not know: weightfit inspect FILE"
        )
    return found


def _asks_dict_for_model(cls: str, attribute: str) -> bool:
    """Whether code asked a loaded dict for what only a model has.

    A plain ``dict`` lacking a module's method (``to``, ``eval``), or an ``OrderedDict``, the
    type a loaded state dict is, lacking any attribute of its own (``compute_loss``): the
    file holds the weights alone where the code expects a whole pickled model.
    """
    if cls == "OrderedDict":
        return attribute not in ORDERED_DICT_ATTRIBUTES and not attribute.startswith("__")
    return cls == "dict" and attribute in MODULE_METHODS
