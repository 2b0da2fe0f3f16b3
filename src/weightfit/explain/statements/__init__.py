"""What a loading-error text says besides its tensors: the :class:`Facts` of a text.

Whether it holds a loading error at all, the model class and types, library versions,
file names, quantization and LoRA words, stated quantities (two vocabulary sizes, two
layer counts), failed lookups and container keys, broken or newer files, and the hints
that would settle a fact no tensor shows. :mod:`weightfit.explain.extract` reads the
tensors; the text rules of :mod:`weightfit.diagnose` read both. Each module of this
package reads one kind of statement into the :class:`Facts` (:data:`READERS`).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import sys
from types import ModuleType

from weightfit.diagnose.text_kinds import another_kind_said
from weightfit.explain.statements.attributes import STALE_ATTRIBUTE, read_attributes
from weightfit.explain.statements.code import STRUCTURED_KEY, read_code
from weightfit.explain.statements.counts import read_counts
from weightfit.explain.statements.files import read_file_format
from weightfit.explain.statements.loaders import read_loader_statements
from weightfit.explain.statements.lookups import (
    BUFFER_NAMES,
    NODE_KEY_ERROR,
    NOT_IN_FILE,
    read_lookups,
)
from weightfit.explain.statements.names import QUANT_WORDS, read_names, read_unknown_names
from weightfit.explain.statements.phrases import FELL_BACK, LOADING_CONTEXT
from weightfit.explain.statements.record import Facts

__all__ = ["READERS", "Facts", "facts", "hints", "modules"]

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

ABSENT_FILE = re.compile(
    r"([\w\-.]+\.(?:pth?|bin|safetensors|ckpt|gguf|h5|onnx|pkl|zip))\b[^\n]{0,80}?"
    r"(?:doesn't|does\s+not)\s+exist|"
    r"No\s+model\s+found\b[^\n]{0,120}?\bpath:\s*\S*?([\w\-.]+\.(?:pth?|bin|ckpt|pkl|zip|h5))\b|"
    r"name\s*=\s*'[^'\n]*?([\w\-.]+\.(?:h5|hdf5|keras))'\s*,\s*errno\s*=\s*2\b|"
    r"No\s+such\s+file\s+or\s+directory:\s*'[^'\n]*?([\w\-.]+\.(?:pth?|bin|safetensors|ckpt|gguf|"
    r"h5|onnx|distcp))'|"
    # safetensors' safe_open (transformers 5 opening each shard) quotes no path.
    r"No\s+such\s+file\s+or\s+directory:\s*(?:[^'\s]*/)?([\w\-.]+\.(?:pth?|bin|safetensors|ckpt|"
    r"gguf|h5|onnx))(?=[ \t]*(?:\n|$))|"
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
    r"Missing\s+implementation\s+that\s+supports:\s+loader\(\*\('([^'\n]+)'|"
    # sentence-transformers finding no weights in a module's folder; transformers in a folder
    # or repository; huggingface_hub refusing, offline, a file its cache lacks.
    r"Could\s+not\s+find\s+'([\w\-.]+\.(?:safetensors|bin|pth?))'|"
    r"does\s+not\s+appear\s+to\s+have\s+a\s+file\s+named\s+([\w\-.]+\.(?:safetensors|bin|pth?|ckpt|"
    r"msgpack|h5))\b|"
    r"Cannot\s+reach\s+\S+?/resolve/[^/\s]+/(\S+?):\s+offline\s+mode\s+is\s+enabled|"
    r"(cannot\s+find\s+the\s+requested\s+files\s+in\s+the\s+(?:disk|local)\s+cache|"
    r"couldn't\s+find\s+them\s+in\s+the\s+cached\s+files)",
    re.I,
)
"""A reader saying the weights file it was pointed at does not exist (ONNX Runtime's
``Load model from u2net.onnx failed. File doesn't exist``; rl-zoo's ``No model found for sac
on ..., path: logs/.../model.pkl``; h5py's ``unable to open file: name = '.../x.h5', errno =
2``; Python's ``No such file or directory: 'model.pth'``; mmcv's ``x.pth is not a checkpoint
file``; TensorFlow's ``Failed to find any
matching files for model.ckpt``, ``Can't load save_path when it is None``, a SavedModel
folder without ``saved_model.pb`` and TensorFlow Hub's ``Missing implementation that supports:
loader(...)`` for a cached module folder; sentence-transformers' ``Could not find
'model.safetensors' or 'pytorch_model.bin' in …``, transformers' ``… does not appear to have a
file named model.safetensors``, huggingface_hub offline without the file in its cache)."""

HUB_CACHE = "the Hugging Face cache (read offline)"
"""What huggingface_hub looked up when, offline, its cache lacked the files it names none of."""

NO_CHECKPOINT_FOUND = "(none: tf.train.latest_checkpoint found no 'checkpoint' index)"
"""What TensorFlow restored when its save path is None: the folder's latest checkpoint."""

LAYER_CONFIG_ARGUMENTS = frozenset({"ragged", "sparse", "batch_shape", "groups", "synchronized"})
"""Arguments a Keras layer's saved config records for every layer of its kind (``InputLayer``'s
``ragged`` and ``sparse`` since TensorFlow 2.0's ``get_config``, Keras 3's ``batch_shape``,
convolutions' ``groups`` since TensorFlow 2.3, ``BatchNormalization``'s ``synchronized`` since
2.12): a layer constructor refusing one while a model is rebuilt from its file is an older
release reading a newer one's config, whatever the model."""


def _absent_file(absent: re.Match[str]) -> str:
    """The file (or folder) a reader said it could not find; TensorFlow's None names none."""
    if absent.lastindex == len(absent.groups()):  # huggingface_hub's words, naming no file
        return HUB_CACHE
    return next((group for group in absent.groups() if group), NO_CHECKPOINT_FOUND)


def facts(text: str) -> Facts:
    """Read the facts of a normalised text; a lookup the loader fell back from is no error."""
    text = FELL_BACK.sub("", text)
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
        or found.wrapper_segment
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


READERS = (
    read_names,
    read_lookups,
    read_code,
    read_counts,
    read_unknown_names,
    read_file_format,
    read_attributes,
    read_loader_statements,
)
"""The readers of :func:`facts`, in the order they run (a later one reads an earlier's)."""


def hints(known: Facts) -> list[str]:
    """What would settle a fact the text states but no tensor shows."""
    found = []
    if known.unknown_architecture:
        found.append(
            f"see what the file declares beside '{known.unknown_architecture}', the architecture "
            "this loader does not know: weightfit inspect FILE"
        )
    return found


def modules() -> list[ModuleType]:
    """This package and each of its modules: where its phrases are (the un-wrapping vocabulary)."""
    return [
        sys.modules[__name__],
        *(importlib.import_module(f"{__name__}.{m.name}") for m in pkgutil.iter_modules(__path__)),
    ]
