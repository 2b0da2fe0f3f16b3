r"""A tolerant reader of loading-error text: names, shapes, sides and facts, any wording.

The per-library parsers know exact messages; people paste fragments of every
era and loader. This module reads what any of them says without knowing the
sentence:

- **names**: dotted paths whose last segment is a parameter word (``weight``,
  ``bias``, ``running_mean``, ``pos_embed``, ``qweight`` …), and, inside a list
  introduced by a *missing* or *unexpected* cue, any dotted path, quoted or not;
- **shapes** in any notation: ``torch.Size([a, b])``, ``[a, b]``, ``(a, b)``,
  ``a x b``;
- **sides**: a name followed (or surrounded) by two shapes is a mismatch; each
  shape is bound to the checkpoint or the model by the cue words next to it
  (*checkpoint, pretrained, loaded, source, found, copying from* against *model,
  current, instantiated, expected, target*), else by order (checkpoint first);
- **lists**: names after cue words (*missing, not initialized, not found in the
  checkpoint* → the model has them; *unexpected, not used, not in the model, not
  loaded* → the checkpoint has them), and ``KeyError: 'name'``;
- **facts** (:class:`Facts`): model class, the model types of ``You are using a
  model of type A to instantiate a model of type B``, library versions, file
  names, quantization and LoRA words, ``shape '[a, b]' is invalid for input of
  size N``, and whether the text holds a loading error at all.

It reads text that :func:`weightfit.explain.paste.normalise` has already freed
of what pasting does (colours, escapes, log prefixes, hard wraps).
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from weightfit import knowledge
from weightfit.diagnose.text_prefix import TRAINING_KEY
from weightfit.explain._text import Section, expand_braces

ORPHAN_REACH = 5_000
"""Characters after a missing/unexpected cue within which a loose tensor name joins its side."""

MAX_NAMES = 20_000
"""Names read at most from one text."""

PARAM_LEAF = re.compile(
    r"(?:weight|bias|weights|biases|running_mean|running_var|num_batches_tracked|"
    r"\w*pos_embed\w*|\w*position_embedding\w*|position_ids|token_type_ids|inv_freq|"
    r"cls_token|dist_token|mask_token|reg_token|register_tokens|\w*_token|"
    r"relative_position_\w+|\w*_table|\w*_index|\w*_ids|freqs\w*|"
    r"qweight|qzeros|scales|g_idx|SCB|CB|absmax|quant_map|quant_state\w*|nested_\w+|"
    r"\w*kernel|moving_mean|moving_variance|"
    r"weight_format|weight_scale\w*|input_scale|zero_point|"
    r"\w+_weight|\w+_bias|weight_[gv]|gamma|beta|alpha|scale|logit_scale|"
    r"embeddings?|_extra_state|lora_[AB]|lora_\w+|hada_\w+|lokr_\w+|\w*_buffer|"
    r"\w*embedding\w*|\w*anchors?)",
    re.I,
)
"""Last segments that make a dotted path a tensor name outside any key list."""

DOTTED = re.compile(r"(?<![\w./\\-])([A-Za-z_0-9][\w\-]*(?:\.[\w\-]+)+)(?![\w(/\\]|\.\w)")
"""A dotted path (``model.layers.0.self_attn.q_proj.weight``, ``0.weight``)."""

NOT_A_NAME = re.compile(
    r"(?:\.(?:py|pyc|pth?|ckpt|bin|safetensors|pkl|json|yaml|yml|txt|gguf|h5|npz|onnx|"
    r"log|sh|md|co|com|org|io|ai|html?)$|^v?\d+(?:\.\d+)*(?:[a-z]+\d*)?$|^(?:torch|transformers|"
    r"diffusers|peft|numpy|np|os|sys|self|nn|F|collections|typing|accelerate|safetensors)\.)",
    re.I,
)
"""Dotted words that are files, versions, numbers or Python modules, never tensors."""

SHAPE = re.compile(
    r"torch\.Size\(\s*\[\s*(?P<size>[\d,\s]*)\]\s*\)"
    r"|(?<![\w\]])\[\s*(?P<list>\d+(?:\s*,\s*\d+)*)\s*,?\s*\](?!\s*[\w(\[])"
    r"|(?<![\w\])])\(\s*(?P<tuple>\d+(?:\s*,\s*\d+)+\s*,?|\d+\s*,)\s*\)"
    r"|(?<![\w.])(?P<times>\d+(?:\s*[x×]\s*\d+)+)(?![\w.])"
)
"""A shape, in any of the notations people and libraries print. A tuple of one size is
``(5,)`` as Python prints it: ``(0)`` numbers an item of a list, it is no shape."""

CHECKPOINT_CUES = (
    "checkpoint",
    "check point",
    "check-point",
    "ckpt",
    "pretrained",
    "pre-trained",
    "loaded",
    "loading",
    "source",
    "saved",
    "found",
    "copying",
    "from file",
    "in the file",
    "state dict",
    "state_dict",
    "got",
    "input",
    "provided",
    "given",
    "received",
    "assigned",
    "weights",
)
MODEL_CUES = (
    "model",
    "current",
    "instantiated",
    "expected",
    "expects",
    "target",
    "which has",
    "variable",
    "own",
    "defined",
    "module",
    "initialized",
    "destination",
    "parameter",
    "actual",
    "network",
    "net",
    "new",
    "config",
)
"""Words that bind a nearby shape to one side (checked at word boundaries, nearest first)."""

MISSING_CUES = re.compile(
    r"missing(?:\s+key(?:\(s\)|s)?)?|tensor(?=\s+'[\w.]+'\s+not\s+found)|not\s+initiali[sz]ed|newly\s+initiali[sz]ed|"
    r"\bkey(?=\s+['\"`]?[\w./\-]+['\"`]?\s+not\s+found\s+in\s+(?:the\s+)?checkpoint)|"
    r"not\s+found\s+in\s+(?:the\s+)?(?:checkpoint|state_?dict|pretrained|weights|file)|"
    r"not\s+in\s+(?:the\s+)?(?:checkpoint|state_?dict)|were\s+not\s+loaded\s+from|"
    r"not\s+present\s+in\s+(?:the\s+)?(?:checkpoint|state_?dict)",
    re.I,
)
UNEXPECTED_CUES = re.compile(
    r"unexpected(?:\s+key(?:\(s\)|s)?)?|not\s+used|\bunused\b|"
    r"no\s+(?:module\s+or\s+)?parameter\s+named|"
    r"not\s+found\s+in\s+(?:the\s+)?model|not\s+in\s+(?:the\s+)?model|"
    r"keys?\s+not\s+loaded|not\s+loaded|were\s+ignored|ignored\s+keys|"
    r"parameters\s+not\s+in\s+model|extra\s+keys?|"
    r"contains\s+keys\s+that\s+are\s+not\s+used|"
    r"(?:saved|stored)\s+(?:under|with|as)\s+(?:the\s+)?names?\b|"
    r"does\s+not\s+have\s+a\s+parameter\s+or\s+a\s+buffer\s+named",
    re.I,
)
"""What introduces a list of names only the model (missing) or the checkpoint has."""

BARE_NAME = re.compile(
    r"(?:(?:mismatch\s+for|parameter\s+named|Skip\s+loading\s+parameter|Unable\s+to\s+load|"
    r"Shape\s+of|shape\s+for|loading\s+parameter)\s+['\"`]?(?P<strong>[A-Za-z_]\w*)"
    r"|(?:[Pp]aram(?:eter)?|[Kk]ey|[Tt]ensor|[Bb]uffer)\s+['\"`]?(?P<weak>[A-Za-z_]\w*))['\"`]?"
    r"(?=[:,\s]|$)"
)
"""A bare word a statement names as the tensor (no dot: ``pos_embed``, ``text_projection``)."""
NOT_IN_FILE = re.compile(
    r"(?:cannot|can't|could\s+not|unable\s+to)\s+find\s+(?:tensor|key|weight|parameter)\s*"
    r"['\"`]?([\w.\-]+\.[\w\-]+)"
    r"|(?:CannotFindTensor|TensorNotFound|KeyNotFound)\W+(?:path:\s*)?\\?['\"]?([\w.\-]+\.[\w\-]+)"
    r"|(?:weight|tensor|key|parameter)\s+['\"`]?([\w.\-]+\.[\w\-]+)['\"`]?\s+"
    r"(?:does\s+not\s+exist|is\s+not\s+found|not\s+found|is\s+missing)"
    r"|['\"`]([\w\-]+(?:\.[\w\-]+)+)\s+(?:does\s+not\s+exist|is\s+not\s+found)['\"`]",
    re.I,
)
"""A loader that looked a tensor up in the file and did not find it (candle, web-rwkv,
FasterTransformer, TGI, llama.cpp): that name is missing from the checkpoint."""
STATED_NAME = re.compile(
    r"(?:mismatch\s+for|parameter\s+named|Skip\s+loading\s+parameter|loading\s+parameter)"
    r"\s+['\"`]?([A-Za-z_][\w\-]*\.[\w.\-]+)"
)
"""A dotted name a shape statement introduces: a tensor whatever its last word
(``reduction.mel_scale.fb``)."""
SLASHED = re.compile(r"(?<![\w/.:])((?:[A-Za-z_][\w.\-]*/){1,12}[A-Za-z_]\w*)(?![\w/])")
KEY_ERROR = re.compile(r"KeyError:\s*([\"'])([^\"'\s]+)\1")
"""``KeyError: 'name'``: one key, quoted whole (not a sentence such as PyTorch 0.3's
``KeyError: 'unexpected key "a.b" in state_dict'``)."""
TRUNCATION = re.compile(r"\.\.\.|…|\[\s*\.\.\.\s*\]|\(\s*\+\s*\d+\s+more\s*\)|\band \d+ more\b")

LOADING_ERROR = re.compile(
    r"Error\(s\)\s+in\s+loading|size\s+mismatch|shape\s+mismatch|Missing\s+key|Unexpected\s+key|"
    r"unexpected\s+key|missing\s+keys|not\s+initiali[sz]ed\s+from|were\s+not\s+used\s+when|"
    r"incompatible\s+shapes|While\s+copying\s+the\s+parameter|do\s+not\s+match|"
    r"does\s+not\s+match|doesn't\s+match|mismatch(?:ed)?\s+(?:shape|size)|"
    r"is\s+invalid\s+for\s+input\s+of\s+size|lora\s+key\s+not\s+loaded|"
    r"KeyError:\s*['\"][\w\-]+\.[\w.\-]+['\"]|Unsupported\s+global|weights_only|"
    r"not\s+found\s+in\s+(?:the\s+)?checkpoint|not\s+used\s+by\s+the\s+model|"
    r"model\s+of\s+type\s+\S+\s+to\s+instantiate|Received\s+parameters\s+not\s+in\s+model|"
    r"more\s+than\s+one\s+\.index\.json|Error\s+while\s+deserializing|"
    r"shapes?\s+(?:cannot|can't|could\s+not)\s+be|expected\s+shape|"
    r"Cannot\s+load|Unable\s+to\s+load|failed\s+to\s+load|could\s+not\s+load|"
    r"Error\s+(?:when|while)\s+loading|load_state_dict|from_pretrained|"
    r"copying\s+a\s+param|not\s+loaded|are\s+newly\s+initiali[sz]ed|"
    r"Can't\s+get\s+attribute\s+'\w+'\s+on\s+<module|size\s+of\s+tensor\s+a\s+\(\d+\)\s+must|"
    r"invalid\s+for\s+input\s+with\s+\d+\s+elements|on\s+the\s+meta\s+device|"
    r"tensor\s+'[\w.]+'\s+not\s+found|error\s+loading\s+model|invalid\s+load\s+key|"
    r"failed\s+finding\s+central\s+directory|failed\s+reading\s+zip\s+archive|"
    r"does\s+not\s+appear\s+to\s+have\s+a\s+file\s+named|no\s+file\s+named|"
    r"Unable\s+to\s+load\s+weights|Layer\s+count\s+mismatch|"
    r"weight\s+file\s+containing\s+\d+\s+layers|"
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
    r"storage\s+has\s+wrong\s+size|Attempted\s+to\s+load\s+weight|"
    r"has\s+wrong\s+shape|wrong\s+number\s+of\s+tensors|"
    r"does\s+not\s+have\s+a\s+parameter\s+or\s+a\s+buffer\s+named|"
    r"axes\s+don't\s+match\s+array|PytorchStreamReader\s+failed|inline_container|"
    r"persistent\s+id\s+instruction|Cannot\s+copy\s+out\s+of\s+meta\s+tensor|"
    r"Shapes\s+\([\d,\s]*\)\s+and\s+\([\d,\s]*\)\s+are\s+incompatible|"
    r"(?:unknown|unsupported)\s+(?:quantization|tensor|ggml)\s+type|"
    r"containing\s+pickled\s+data\s+when\s+allow_pickle=False|"
    # diffusers: a pipeline whose model has another channel count than its inputs need.
    r"expects\s+\d+\s+but\s+received|"
    # diffusers / transformers asked for a precision variant the repository does not ship.
    r"no\s+such\s+modeling\s+files\s+are\s+available",
    re.I,
)
"""Phrases that mean a load went wrong (the text holds a loading error)."""


QUANT_WORDS = re.compile(
    r"\b(gptq|awq|bitsandbytes|bnb|nf4|fp4|int8|int4|4-?bit|8-?bit|gguf|ggml|exl2|"
    r"torchao|quantiz\w*|qweight|qzeros|g_idx|SCB|absmax|quant_map|marlin|fp8|"
    r"bitsandbytes__\w*|quantized_stats|q4_\w+|q8_0|k-quants?|quant_state|quant_type|"
    r"weight_format|weight_scale|input_scale|Params4bit|Linear4bit|Linear8bitLt|"
    r"QuantLinear|WQLinear\w*|hqq|eetq|aqlm|compressed[-_]tensors|float8_e4m3fn|"
    r"float8_e5m2|torch\.u?int8)\b",
    re.I,
)
LORA_WORDS = re.compile(r"\b(lora|loras|lycoris|locon|loha|lokr|peft|adapter\w*|dora)\b", re.I)
MODEL_TYPES = re.compile(
    r"You\s+are\s+using\s+a\s+model\s+of\s+type\s+(\S+)\s+to\s+instantiate\s+a\s+model\s+"
    r"of\s+type\s+(\S+?)\.?(?:\s|$)"
)
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
    r"[\w\-.~]+\.(?:pth|pt|ckpt|bin|safetensors|pkl|gguf|h5|npz|tar|model)\b", re.I
)
RAISED = re.compile(
    r"\b\w*(?:Error|Exception)\b:\s*\S|^[^\S\n]*ERROR\b|Error\s+occurred\s+when\s+executing|"
    r"Exception\s+during\s+processing",
    re.M,
)
"""An exception raised (or reported by a runner: ComfyUI's ``Error occurred when executing``)."""
LOADING_CONTEXT = re.compile(
    r"state_dict|checkpoint|from_pretrained|load_model|torch\.load|safetensors|\.gguf\b|"
    r"pretrained\s+weights|model\s+weights|weights\s+file|load_weights|load_checkpoint|"
    # A load call in the traceback, a loader node (ComfyUI's CheckpointLoaderSimple ...).
    r"\bload\w*\(|\w+Loader(?:Simple)?\b|\b(?:restore|init_from|load_from)\w*",
    re.I,
)
"""An exception raised while loading weights: the text holds a loading error even when no
message weightfit knows says what went wrong."""
INDEXED_LOAD = re.compile(
    r"load\w*\([^\n]*\)\s*\[|(?:checkpoint|ckpt|state_dict|state)\s*\[\s*['\"]?\w+['\"]?\s*\]"
)
"""A checkpoint indexed by a key (``torch.load(path)['params']``): a KeyError names a container."""


def _indexes_weights(text: str, key: str) -> bool:
    """Whether the code in a text reads the weights out of a checkpoint by ``key``.

    A loaded file indexed at once (``torch.load(p)[param_key]``), a literal key fed to
    ``load_state_dict``, or a checkpoint indexed by a container word (``ckpt['model']``);
    not ``checkpoint['arch']`` handed elsewhere, a setting stored beside the weights.
    """
    literal = r"\[\s*['\"]" + re.escape(key) + r"['\"]\s*\]"
    if re.search(r"load\w*\([^\n]*\)\s*(?:\[\s*[A-Za-z_]\w*\s*\]|" + literal + ")", text):
        return True
    if re.search(r"load_state_dict\(\s*[\w.]+\s*" + literal, text):
        return True
    if CONTAINER_WORD.fullmatch(key) and LOADED_BY_VARIABLE.search(text):
        return True  # load_net = load_net[param_key] with param_key = 'state_dict'
    return bool(
        CONTAINER_WORD.search(key) and INDEXED_LOAD.search(text) and re.search(literal, text)
    )


LOADED_BY_VARIABLE = re.compile(r"\b\w*(?:load|ckpt|checkpoint)\w*\s*\[\s*[A-Za-z_]\w*\s*\]")
"""A loaded checkpoint indexed by a variable that holds the container key."""
MISSING_CLASS = re.compile(r"Can't\s+get\s+attribute\s+'(\w+)'\s+on\s+<module\s+'([\w.]+)'")
COUNTS = re.compile(r"(\d+)\s+missing\s+and\s+(\d+)\s+unexpected\s+keys")
"""Lightning / LDM's ``Restored from X with 376 missing and 2 unexpected keys``."""
UNLISTED_MISSING = re.compile(
    r"(?:not|newly)\s+initiali[sz]ed\s+from\s+(?:the\s+)?(?:pretrained\s+model|model\s+checkpoint)"
)
"""transformers' "weights not initialized" message, even when the paste dropped its list."""
LAYER_COUNTS = re.compile(
    r"file\s+containing\s+(\d+)\s+layers\s+into\s+a\s+model\s+with\s+(\d+)\s+layers|"
    r"expected\s+(\d+)\s+layers,\s+found\s+(\d+)\s+saved\s+layers"
)
"""Keras: a weight file of N layers loaded into a model of M layers (checkpoint first)."""
DEPTH_SAID = re.compile(r"(?:network|model)\s+\w+\s+has\s+(?:fewer|more)\s+layers", re.I)
"""A loader saying the file holds fewer or more layers than the network it fills."""
UNKNOWN_ARCHITECTURE = re.compile(
    r"model\s+type\s+['\"`]([\w.\-]+)['\"`]\s+but\s+Transformers\s+does\s+not\s+recognize|"
    r"unknown\s+(?:model\s+)?architecture:?\s*['\"`]([\w.\-]+)['\"`]|"
    r"(?:unsupported|unexpected)\s+(?:model\s+)?architectures?(?:\s+type)?[^\n]*?(?:got|:)\s*\[?\s*"
    r"['\"`]([\w.\-]+)['\"`]|"
    r"Architecture\s+['\"`]([\w.\-]+)['\"`]\s+(?:is\s+)?not\s+supported|"
    r"architectures?\s+\[?\s*['\"]([\w.\-]+)['\"][^\]\n]*?\]?\s+(?:are|is)\s+not\s+supported|"
    r"CONFIG_MAPPING\[[^\n]*\][\s\S]{0,600}?KeyError:\s*'([\w.\-]+)'",
    re.I,
)
"""A loader that does not know the checkpoint's architecture (transformers' model type,
llama.cpp and GGUF loaders' architecture names, vLLM's supported list, an old
``CONFIG_MAPPING``): the file may be fine and the library older than the model."""
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
BROKEN_FILE = re.compile(
    r"invalid\s+load\s+key,\s*'[^']*'|failed\s+finding\s+central\s+directory|"
    r"PytorchStreamReader\s+failed\s+reading\s+zip\s+archive[^\n]*|Ran\s+out\s+of\s+input|"
    r"unexpected\s+EOF|file\s+(?:is\s+)?truncated|not\s+a\s+zip\s+file|"
    r"storage\s+has\s+wrong\s+(?:byte\s+)?size|Invalid\s+magic\s+number;\s+corrupt\s+file|"
    r"(?i:MetadataIncompleteBuffer|HeaderTooLarge)"
)
"""A checkpoint file that is not whole: a Git LFS pointer (``invalid load key, 'v'``), an
HTML page (``'<'``), an interrupted download (no zip central directory, an early EOF, a
storage of the wrong size, a safetensors file shorter than its header says); safetensors'
``HeaderTooLarge`` is a first 8 bytes that are no header length (text: a pointer, a page)."""
NEWER_FORMAT = re.compile(r"is\s+a\s+zip\s+archive\s+\(did\s+you\s+mean\s+to\s+use\s+torch\.jit")
"""PyTorch before 1.6 reading the zip format ``torch.save`` writes since 1.6."""
NESTED_VALUE = re.compile(
    r"Key\s+[`'\"]([\w.]+)[`'\"]\s+is\s+invalid,\s+expected\s+torch\.Tensor\s+but\s+"
    r"received\s+<class\s+'dict'>"
)
"""safetensors refusing a state dict whose entry is a dict: the weights are nested under it."""
QUANTITY = re.compile(
    r"\b(?:(?P<vocab>vocab(?:ulary)?(?:[\s_]size)?|n_vocab)|"
    r"(?P<parallel>world[\s_]size|MP|model[\s_-]parallel(?:[\s_]size)?|"
    r"tensor[\s_-]parallel(?:[\s_]size)?|tp[\s_]size|num[\s_]shards)|"
    r"(?P<width>normalized_shape|hidden[\s_]size|d_model|n_embd|embed(?:ding)?[\s_]dim)|"
    r"(?P<classes>num[\s_]classes|num[\s_]labels|n_classes)|"
    r"(?P<layers>num[\s_](?:hidden[\s_])?layers|n_layers?)|"
    r"(?P<tensors>number\s+of\s+tensors|tensor\s+count|n_tensors))\b",
    re.I,
)
"""A model quantity a sentence may state two values of: vocabulary, parallel degree, width,
classes, layers, the tensors a file holds."""
DIFFER_CUE = re.compile(r"mismatch|\bbut\b|expected|does\s*n[o']t\s+match|!=|\bdiffer", re.I)
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
META_DEVICE = re.compile(r"([\w.]+)\s+is\s+on\s+the\s+meta\s+device")
NO_MODULE = re.compile(r"No\s+module\s+named\s+'([\w.]+)'")
STALE_ATTRIBUTE = re.compile(r"'(\w+)'\s+object\s+has\s+no\s+attribute\s+'(\w+)'")
"""A module object lacking an attribute its class now has: pickled by another version."""
UNPICKLING = re.compile(r"torch\.load|pickle|unpickl|_load\(|load_checkpoint|attempt_load", re.I)
BROADCAST = re.compile(
    r"size\s+of\s+tensor\s+a\s+\((\d+)\)\s+must\s+match\s+the\s+size\s+of\s+tensor\s+b\s+\((\d+)\)|"
    r"Vocab\s+size\s+mismatch\s+\(model\s+has\s+(\d+),\s+but\s+\S+\s+has\s+(\d+)\)"
)
"""Two row counts that meet: a broadcast of two tensors, or llama.cpp's ``convert.py``
finding the model's vocabulary and the tokenizer's apart."""
INVALID_VIEW = re.compile(
    r"(?:shape|size)\s+'\[([\d,x\s\-]+)\]'\s+is\s+invalid\s+for\s+input\s+"
    r"(?:of\s+size\s+(\d+)|with\s+(\d+)\s+elements)"
)
"""``shape '[a, b]' is invalid for input of size N``, and PyTorch 0.4's ``size '[a x b]' is
invalid for input with N elements``."""


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
        lora: LoRA / adapter words used (lowercase).
        invalid_view: ``(shape, size)`` of ``shape '[a, b]' is invalid for input of size N``.
        key_errors: Names of ``KeyError: 'name'``.
        unknown_architecture: The architecture a loader says it does not know (``qwen3``).
        matmul: ``(rows, width fed, width read)`` of ``mat1 and mat2 shapes cannot be
            multiplied (308x2048 and 768x320)``.
        input_channels: ``(the UNet takes, the pipeline feeds)`` of diffusers' inpainting
            pipelines' ``expects 4 but received ... = 9``.
        stale_attribute: ``(class, attribute)`` of ``'Upsample' object has no attribute
            'recompute_scale_factor'`` when a known library change added that attribute.
        stated: ``(kind, first, second)`` of a line stating two values of one model
            quantity (``Vocab size mismatch (model has 38464, but ... has 38656)``).
        newer_format: What an old reader said of a file in a format newer than it knows
            (PyTorch < 1.6: ``... is a zip archive (did you mean to use torch.jit.load()?)``).
        held_container: The container a printed ``dict_keys([...])`` of a checkpoint shows
            holding the weights (``simclr_state`` beside ``optimizer_state`` and ``epoch``).
        depth_said: A loader's words that the file has fewer or more layers than the model
            (pix2pixHD and its descendants: ``Pretrained network G has fewer layers``).
    """

    loading_error: bool = False
    model_class: str = ""
    model_types: tuple[str, str] | None = None
    versions: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    quantization: list[str] = field(default_factory=list)
    lora: list[str] = field(default_factory=list)
    invalid_view: tuple[tuple[int, ...], int] | None = None
    key_errors: list[str] = field(default_factory=list)
    container_key: str = ""
    missing_class: tuple[str, str] | None = None
    broadcast: tuple[int, int] | None = None
    unshaped: list[str] = field(default_factory=list)
    meta_device: str = ""
    unlisted: dict[str, int] = field(default_factory=dict)
    indexes: list[str] = field(default_factory=list)
    broken_file: str = ""
    layer_counts: tuple[int, int] | None = None
    stale_attribute: tuple[str, str] | None = None
    input_channels: tuple[int, int] | None = None
    unknown_architecture: str = ""
    matmul: tuple[int, int, int] | None = None
    stated: tuple[str, int, int] | None = None
    newer_format: str = ""
    held_container: str = ""
    depth_said: str = ""
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
            "container_key": self.container_key,
            "missing_class": list(self.missing_class) if self.missing_class else None,
            "broadcast_sizes": list(self.broadcast) if self.broadcast else None,
            "names_without_shapes": self.unshaped[:8],
            "left_on_meta_device": self.meta_device,
            "counted": self.unlisted,
            "index_files": self.indexes,
            "broken_file": self.broken_file,
            "layer_counts": list(self.layer_counts) if self.layer_counts else None,
            "stale_attribute": list(self.stale_attribute) if self.stale_attribute else None,
            "input_channels": list(self.input_channels) if self.input_channels else None,
            "unknown_architecture": self.unknown_architecture,
            "matmul": list(self.matmul) if self.matmul else None,
            "stated": list(self.stated) if self.stated else None,
            "newer_format": self.newer_format,
            "held_container": self.held_container,
            "depth_said": self.depth_said,
        }
        return {key: value for key, value in data.items() if value}


@dataclass
class _Token:
    """A name or a shape found in the text, with where it is."""

    start: int
    end: int
    name: str = ""
    shape: tuple[int, ...] | None = None


def facts(text: str) -> Facts:
    """Read the facts of a normalised text."""
    loading = LOADING_ERROR.search(text) is not None or (
        RAISED.search(text) is not None
        and (LOADING_CONTEXT.search(text) is not None or QUANT_WORDS.search(text) is not None)
    )
    found = Facts(loading_error=loading, text=text)
    types = MODEL_TYPES.search(text)
    if types is not None:
        found.model_types = (types.group(1).strip(".,"), types.group(2).strip(".,"))
    model = MODEL_CLASS.search(text)
    if model is not None:
        found.model_class = model.group(1)
    for library, version in VERSION.findall(text):
        found.versions.setdefault(library.lower(), version)
    found.files = list(dict.fromkeys(FILE_NAME.findall(text)))[:20]
    found.quantization = sorted({w.lower() for w in QUANT_WORDS.findall(text)})
    found.lora = sorted({w.lower() for w in LORA_WORDS.findall(text)})
    view = INVALID_VIEW.search(text)
    if view is not None:
        dims = tuple(int(d) for d in re.findall(r"-?\d+", view.group(1)))
        found.invalid_view = (dims, int(view.group(2) or view.group(3)))
    found.key_errors = list(dict.fromkeys(m.group(2) for m in KEY_ERROR.finditer(text)))
    plain = [k for k in found.key_errors if re.fullmatch(r"\w+", k)]
    found.container_key = next((k for k in reversed(plain) if _indexes_weights(text, k)), "")
    found.held_container = _held_container(text)
    nested = NESTED_VALUE.search(text)
    if nested is not None and not found.container_key:
        found.container_key = nested.group(1)
    missing_class = MISSING_CLASS.search(text)
    if missing_class is not None:
        found.missing_class = (missing_class.group(1), missing_class.group(2))
    else:
        module = NO_MODULE.search(text)
        if module is not None and UNPICKLING.search(text):
            found.missing_class = ("", module.group(1))
    sizes = BROADCAST.search(text)
    if sizes is not None:
        a, b = (int(n) for n in sizes.groups() if n)
        found.broadcast = (a, b)
    counts = COUNTS.search(text)
    if counts is not None:
        found.unlisted = {"missing": int(counts.group(1)), "unexpected": int(counts.group(2))}
    elif UNLISTED_MISSING.search(text):
        found.unlisted = {"missing": 0}
    if MANY_INDEXES.search(text):
        found.indexes = list(dict.fromkeys(re.findall(r"[\w.\-]+\.index\.json", text)))
    depth = DEPTH_SAID.search(text)
    found.depth_said = depth.group(0) if depth is not None else ""
    layers = LAYER_COUNTS.search(text)
    if layers is not None:
        numbers = [int(n) for n in layers.groups() if n]
        found.layer_counts = (numbers[0], numbers[1])
    unknown = UNKNOWN_ARCHITECTURE.search(text)
    if unknown is not None:
        found.unknown_architecture = next(g for g in unknown.groups() if g)
    product = MATMUL.search(text)
    if product is not None:
        numbers = [int(n) for n in product.groups()]
        found.matmul = (numbers[0], numbers[1], numbers[2])
    fed = INPUT_CHANNELS.search(text)
    if fed is not None:
        found.input_channels = (int(fed.group(1)), int(fed.group(5)))
    found.stated = _stated_quantity(text)
    newer = NEWER_FORMAT.search(text)
    found.newer_format = newer.group(0) if newer is not None else ""
    broken = BROKEN_FILE.search(text)
    if broken is not None:
        found.broken_file = broken.group(0)
    else:
        found.broken_file = _text_read_as_number(text)
    storage = QUANT_DTYPE.search(text)
    if storage is not None:
        found.quantization = sorted({*found.quantization, f"{storage.group(1).lower()} storage"})
    meta = META_DEVICE.search(text)
    if meta is not None:
        found.meta_device = meta.group(1)
    for stale in STALE_ATTRIBUTE.finditer(text):
        if any(c.kind == "attribute" for c in knowledge.changes_for(".".join(stale.groups()))):
            found.stale_attribute = (stale.group(1), stale.group(2))
            break
    found.loading_error = found.loading_error or bool(
        found.container_key
        or found.missing_class
        or found.stale_attribute
        or found.input_channels
        or found.unknown_architecture
        or found.broken_file
        or found.stated
        or found.newer_format
        or found.held_container
        or found.depth_said
        or NOT_IN_FILE.search(text) is not None
    )
    return found


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


def _held_container(text: str) -> str:
    """The key a printed ``dict_keys([...])`` holds the weights under, beside training state.

    ``dict_keys(['optimizer_state', 'simclr_state', 'boxes', 'epoch'])``: ``simclr_state``.
    Only one such key counts; two or more leave the choice open.
    """
    for match in DICT_KEYS.finditer(text):
        keys = re.findall(r"['\"]([\w.\-]+)['\"]", match.group(1))
        held = [k for k in keys if HELD_WEIGHTS.fullmatch(k) and not OTHER_STATE.search(k)]
        if len(held) == 1 and len(keys) > 1:
            return str(held[0])
    return ""


def _stated_quantity(text: str) -> tuple[str, int, int] | None:
    """A line that names a model quantity, says two values differ, and gives exactly two.

    ``Vocab size mismatch (model has 38464, but tokenizer.model has 38656)``, ``Loading a
    checkpoint for MP=1 but world size is 8``: the kind (``vocab``, ``parallel``, ``width``,
    ``classes``, ``layers``) and the two values in the order written.
    """
    for line in text.splitlines()[:2000]:
        quantity = QUANTITY.search(line)
        if quantity is None or DIFFER_CUE.search(line) is None:
            continue
        numbers = list(
            dict.fromkeys(int(n) for n in re.findall(r"\b\d+\b", PATH_WORD.sub(" ", line)))
        )
        if len(numbers) == 2 and all(numbers):
            kind = next(k for k, v in quantity.groupdict().items() if v)
            return (kind, numbers[0], numbers[1])
    return None


def _text_read_as_number(text: str) -> str:
    """A header number whose bytes are letters: the file is text (a Git LFS pointer, a page).

    A reader that takes a version or a length from the first bytes of ``version
    https://git-lfs...`` reports 1936876918 (``vers``, little-endian).
    """
    for match in HEADER_NUMBER.finditer(text):
        number = int(match.group(1))
        if number >= 1 << 32:
            continue
        for order in ("little", "big"):
            word = number.to_bytes(4, order)
            if all(b < 128 and (chr(b).isalpha() or chr(b) in " <>!/") for b in word):
                return f"{number} is the text '{word.decode('ascii')}' read as a number"
    return ""


def hints(known: Facts) -> list[str]:
    """What would settle a fact the text states but no tensor shows."""
    found = []
    if known.unknown_architecture:
        found.append(
            f"see what the file declares beside '{known.unknown_architecture}', the architecture "
            "this loader does not know: weightfit inspect FILE"
        )
    return found


def extract(text: str, known: Facts | None = None) -> Section:
    """Read every tensor a normalised text names into one section (``origin`` ``"text"``)."""
    known = known or facts(text)
    section = Section(model=known.model_class, origin="text", start=0)
    section.text_facts = known
    tokens = _tokens(text)
    in_mismatch = _mismatches(text, tokens, section)
    _lists(text, tokens, in_mismatch, section)
    _table_rows(text, section)
    _stated_keys(text, section)
    if not section.mismatched:
        _unnamed(text, tokens, section)
    known.unshaped = [
        m.group(1)
        for m in UNSHAPED.finditer(text)
        if m.group(1) not in section.mismatched and _is_name(m.group(1), listed=True)
    ]
    for name in known.key_errors:
        if not (_is_name(name, listed=True) and "." in name):
            continue
        # Code that indexes a checkpoint by a literal name reads a key the file lacks;
        # a loader looking a file's name up in the model's parameters does the reverse.
        literal = re.search(r"\[\s*['\"]" + re.escape(name) + r"['\"]\s*\]", text)
        side = section.missing if literal else section.unexpected
        if name not in side:
            side.append(name)
    for match in NOT_IN_FILE.finditer(text):
        name = next(g for g in match.groups() if g)
        if _is_name(name, listed=True) and "." in name and name not in section.missing:
            section.missing.append(name)
    section.checkpoint = next(
        (f for f in known.files if not f.lower().endswith((".py", ".model"))), ""
    )
    return section


NAME_CHARS = re.compile(r"(?=[\w.\-]*[A-Za-z])[A-Za-z0-9_][\w.\-]*")
CONTAINER_WORD = re.compile(r"state_?dict|model|params?|parms|net|module|ema|weights|checkpoint")
"""Plain words a quoted key list may hold: containers a state dict nests under."""
NOT_TENSORS = frozenset(
    {"state_dict", "model_state_dict", "optimizer", "load_state_dict", "strict"}
)


def _is_name(word: str, *, listed: bool, quoted: bool = False) -> bool:
    """Whether a word is a tensor name.

    Free text needs a dotted path ending in a parameter word; a key list takes any
    dotted path (or a parameter word); a quoted list item also a snake_case key.
    """
    if not NAME_CHARS.fullmatch(word) or NOT_A_NAME.search(word) or len(word) > 300:
        return False
    leaf = word.rsplit(".", 1)[-1]
    if (
        listed
        and quoted
        and (
            "_" in word
            or "." in word
            or CONTAINER_WORD.fullmatch(word)
            or TRAINING_KEY.fullmatch(word)  # a training checkpoint's "epoch", "acc" …
        )
    ):
        return True
    if word in NOT_TENSORS:
        return False
    if listed:
        return "." in word or PARAM_LEAF.fullmatch(leaf) is not None
    return "." in word and PARAM_LEAF.fullmatch(leaf) is not None


def _tokens(text: str) -> list[_Token]:
    """Every tensor name and shape of the text, in order."""
    tokens: list[_Token] = []
    stated = {m.start(1) for m in STATED_NAME.finditer(text)}
    for match in DOTTED.finditer(text):
        name = match.group(1).rstrip(".-")
        if _is_name(name, listed=match.start(1) in stated):
            tokens.append(_Token(match.start(1), match.start(1) + len(name), name=name))
        if len(tokens) > MAX_NAMES:
            break
    # A bare word a statement calls a parameter: 'size mismatch for pos_embed:'.
    for match in BARE_NAME.finditer(text):
        word = match.group("strong") or match.group("weak")
        if word in ("weight", "bias", "weights", "shape", "the", "a", "param", "parameter"):
            continue
        if match.group("strong") or PARAM_LEAF.fullmatch(word):
            tokens.append(
                _Token(
                    match.start(match.lastgroup or 0), match.end(match.lastgroup or 0), name=word
                )
            )
    # Slash-separated paths of other frameworks (TensorFlow, Paddle): 'logit/weights'.
    for match in SLASHED.finditer(text):
        path = match.group(1)
        if PARAM_LEAF.fullmatch(path.rsplit("/", 1)[-1]) and not NOT_A_NAME.search(path):
            tokens.append(_Token(match.start(1), match.end(1), name=path.replace("/", ".")))
    for match in SHAPE.finditer(text):
        raw = next(
            (match.group(g) for g in ("size", "list", "tuple") if match.group(g) is not None),
            None,
        )
        if raw is None:
            raw = re.sub(r"[x×]", ",", match.group("times"))
        dims = tuple(int(d) for d in re.findall(r"\d+", raw))
        if match.group("size") is not None or dims:
            tokens.append(_Token(match.start(), match.end(), shape=dims))
    tokens.sort(key=lambda t: t.start)
    return tokens


def _mismatches(text: str, tokens: list[_Token], section: Section) -> set[int]:
    """Bind shapes to names (two per name) and to sides; return the names' offsets used."""
    used: set[int] = set()
    names = [i for i, t in enumerate(tokens) if t.name]
    for index in names:
        token = tokens[index]
        after = _shapes_after(text, tokens, index)
        before = _shapes_before(text, tokens, index)
        if len(after) >= 2:
            pair = after[:2]
        elif len(after) == 1 and before:
            pair = [before[-1], after[0]]
        elif not after and _named_after(text, tokens, index):
            pair = [index - 2, index - 1]  # "Expected shape (a) but received shape (b) for X"
        else:
            continue
        first, second = (tokens[i] for i in pair)
        assert first.shape is not None and second.shape is not None
        if first.shape == second.shape:
            continue
        sides = _sides(text, tokens, pair, index)
        have, want = (first.shape, second.shape) if sides else (second.shape, first.shape)
        section.mismatched.setdefault(token.name, (have, want))
        used.add(token.start)
    return used


def _shapes_after(text: str, tokens: list[_Token], index: int) -> list[int]:
    found = []
    limit = tokens[index].end + 500
    for j in range(index + 1, len(tokens)):
        if tokens[j].start > limit or tokens[j].name:
            break
        if _crosses_statement(text[tokens[index].end : tokens[j].start]):
            break
        found.append(j)
    return found


NAMED_AFTER = re.compile(
    r"\s*[,;]?\s*(?:for|of|in|at)\s+(?:the\s+)?(?:parameter|param|tensor|weight|key|buffer)?"
    r"\s*['\"`]?$"
)
"""What introduces a name given after its two shapes (MLX's ``... for parameter X``)."""


def _named_after(text: str, tokens: list[_Token], index: int) -> bool:
    """Whether a name closes a statement whose two shapes came just before it."""
    if index < 2 or any(tokens[j].shape is None for j in (index - 2, index - 1)):
        return False
    first, second = tokens[index - 2], tokens[index - 1]
    return (
        NAMED_AFTER.fullmatch(text[second.end : tokens[index].start]) is not None
        and len(text[first.end : second.start]) < 80
        and not _crosses_statement(text[first.end : tokens[index].start])
    )


def _shapes_before(text: str, tokens: list[_Token], index: int) -> list[int]:
    found: list[int] = []
    for j in range(index - 1, -1, -1):
        if tokens[j].name or tokens[index].start - tokens[j].end > 200:
            break
        if _crosses_statement(text[tokens[j].end : tokens[index].start]):
            break
        found.insert(0, j)
    return found[-1:]


def _crosses_statement(between: str) -> bool:
    """Whether the text between two tokens leaves the statement (a new line of another kind)."""
    return "\n\n" in between or bool(
        re.search(r"\n\s*(?:Traceback|File\s+\"|During\s+handling|\w*Error:)", between)
    )


def _sides(text: str, tokens: list[_Token], pair: list[int], name_index: int) -> bool:
    """Whether the first shape of a pair is the checkpoint's (cue words, else order)."""
    first, second = tokens[pair[0]], tokens[pair[1]]
    lead_start = tokens[pair[0] - 1].end if pair[0] > 0 else max(0, first.start - 200)
    lead = text[max(lead_start, first.start - 200) : first.start]
    middle = text[first.end : second.start]
    tail = text[second.end : second.end + 60]
    tail = re.split(r"[.!;\n]\s|\n", tail, maxsplit=1)[0]
    one = _side_of(lead, middle)
    two = _side_of(middle, tail)
    if one and two and one != two:
        return one == "checkpoint"
    if one:
        return one == "checkpoint"
    if two:
        return two == "model"
    return True


def _side_of(before: str, after: str) -> str:
    """The side the cue words next to a shape name: right after it first, else just before."""
    follow = re.match(r"\s*[,)]?\s*(?:in|from|of|for)\s+(?:the\s+)?([\w\s\-]{1,40})", after)
    if follow is not None:
        side = _cue(follow.group(1), last=False)
        if side:
            return side
    clause = re.split(r"[,;]\s*|\band\b|\bbut\b|\bwhile\b|\bvs\.?\b", before)[-1]
    return _cue(clause, last=True)


def _cue(words: str, *, last: bool) -> str:
    lower = words.lower()
    best, where = "", -1 if last else len(lower) + 1
    for side, cues in (("checkpoint", CHECKPOINT_CUES), ("model", MODEL_CUES)):
        for cue in cues:
            for match in re.finditer(r"\b" + re.escape(cue) + r"\b", lower):
                if (last and match.start() > where) or (not last and match.start() < where):
                    best, where = side, match.start()
    return best


UNNAMED = "unnamed_tensor"
"""The name given to the one tensor of a shape mismatch whose message names none."""

MISMATCH_WORDS = re.compile(
    r"mismatch|do(?:es)?\s*n[o']t\s+match|incompatible|inconsistent|expected|must\s+match|"
    r"should\s+be|differ|instead\s+of|\bvs\.?\b|but\s+got|cannot\s+be\s+broadcast|"
    r"must\s+be\s+equal|not\s+compatible|Attempted\s+to\s+load\s+weight|"
    r"not\s+the\s+same\s+shape",
    re.I,
)
ASSIGN = re.compile(r"for\s+'[\w/]*Assign\w*'[^\n]*?input\s+shapes:")
"""TensorFlow's ``Assign(ref, value)`` failing: its input shapes are the variable's (the
model's) first, then the saved value's."""


def _unnamed(text: str, tokens: list[_Token], section: Section) -> None:
    """Read ``Shape mismatch: torch.Size([..]) vs torch.Size([..])``: two shapes, no name."""
    shapes = [t for t in tokens if t.shape is not None]
    for first, second in itertools.pairwise(shapes):
        line_start = text.rfind("\n", 0, first.start) + 1
        between = text[first.end : second.start]
        if first.shape == second.shape or len(between) > 80:
            continue
        if "\n" in between:
            _labelled_pair(text, first, second, section)
            if section.mismatched:
                return
            continue
        line_end = text.find("\n", second.end)
        line = text[line_start : line_end if line_end >= 0 else len(text)]
        if not MISMATCH_WORDS.search(line) or BROADCAST.search(line):
            continue  # two tensors meeting in an operation are not one tensor's two shapes
        assign = ASSIGN.search(line)
        if assign is not None and first.start < line_start + assign.end():
            continue  # the Assign op's own pair follows "input shapes:"
        assert first.shape is not None and second.shape is not None
        sides = assign is None and _sides(
            text, tokens, [tokens.index(first), tokens.index(second)], 0
        )
        have, want = (first.shape, second.shape) if sides else (second.shape, first.shape)
        section.mismatched[UNNAMED] = (have, want)
        return


LABELLED_SHAPE = re.compile(r"^[^\S\n]*([A-Za-z_][\w.]*)[^\S\n]*(?:[-:=]|->)[^\S\n]*$")
"""What comes before a shape printed on a line of its own: ``loaded_weight.shape - ``."""
SHAPE_ASSERT = re.compile(r"\.shape\s*==\s*[\w.\[\]]+\.shape|\.shape\s*!=\s*[\w.\[\]]+\.shape")


def _labelled_pair(text: str, first: _Token, second: _Token, section: Section) -> None:
    """Two shapes on consecutive lines, each after its own label, below a failed shape check.

    ``param_data.shape - torch.Size([83886080, 1])`` then ``loaded_weight.shape - ...``
    (vLLM's weight loaders): the label that says loaded, checkpoint or file is the file's.
    """
    if text.count("\n", first.end, second.start) != 1 or not SHAPE_ASSERT.search(text):
        return
    labels = []
    for token in (first, second):
        start = text.rfind("\n", 0, token.start) + 1
        end = text.find("\n", token.end)
        label = LABELLED_SHAPE.match(text[start : token.start])
        if label is None or text[token.end : end if end >= 0 else len(text)].strip():
            return
        labels.append(label.group(1).lower())
    assert first.shape is not None and second.shape is not None
    filed = [
        any(cue in label for cue in ("load", "checkpoint", "ckpt", "file")) for label in labels
    ]
    if filed[0] == filed[1]:
        return
    have, want = (first.shape, second.shape) if filed[0] else (second.shape, first.shape)
    section.mismatched[UNNAMED] = (have, want)


TABLE_ROW = re.compile(r"^[^\S\n]*([\w.\-]+)[^\S\n]*\|[^\S\n]*(MISSING|UNEXPECTED)[^\S\n]*\|", re.M)
"""A row of transformers' v5 load report, pasted without its header."""

UNSHAPED = re.compile(
    r"(?:size\s+mismatch\s+for|parameter\s+named|Unable\s+to\s+load|Skip\s+loading\s+parameter)"
    r"\s+['\"`]?([\w.\-]+?)['\"`]?[:,\s]"
)
"""A name a shape-mismatch statement introduces (kept even when the paste lost its shapes)."""


STATED_KEY = re.compile(
    r"\b(unexpected|missing)\s+key\s+[\"'`]([A-Za-z_][\w.\-]*)[\"'`]\s+in\s+(?:the\s+)?state_?dict",
    re.I,
)
"""PyTorch 0.3's ``unexpected key "acc" in state_dict``: the sentence says the word is a key,
dotted or not (a metric or an epoch counter saved beside the weights)."""


def _stated_keys(text: str, section: Section) -> None:
    for match in STATED_KEY.finditer(text):
        side, name = match.groups()
        target = section.missing if side.lower() == "missing" else section.unexpected
        if name not in target and name not in section.mismatched:
            target.append(name)


def _table_rows(text: str, section: Section) -> None:
    for match in TABLE_ROW.finditer(text):
        name, status = match.groups()
        target = section.missing if status == "MISSING" else section.unexpected
        if _is_name(name, listed=True) and name not in target:
            target.append(name)


def _lists(text: str, tokens: list[_Token], in_mismatch: set[int], section: Section) -> None:
    """Gather the names after missing / unexpected cues (any dotted path, quoted or not)."""
    cues = sorted(
        [(m.start(), m.end(), "missing") for m in _limit(MISSING_CUES.finditer(text))]
        + [(m.start(), m.end(), "unexpected") for m in _limit(UNEXPECTED_CUES.finditer(text))]
    )
    for index, (start, end, side) in enumerate(cues):
        stop = cues[index + 1][0] if index + 1 < len(cues) else len(text)
        span = _list_span(text, end, stop)
        if re.search(r"shapes?\s+did\s+not\s+match", text[start : end + 60]):
            continue
        if re.match(r"[^\S\n]*\|", text[end : end + 40]):
            continue  # a table's status column (``NAME | UNEXPECTED |``), read by its rows
        target = section.missing if side == "missing" else section.unexpected
        for name in _names_in_span(span):
            mismatched = name in section.mismatched
            if not mismatched and name not in target and len(target) < MAX_NAMES:
                target.append(name)
        if TRUNCATION.search(span):
            section.truncated = True
    # Tensor names outside any list and any mismatch, after a cue (a list pasted apart from
    # its message, one name a line): the nearest cue before them says their side.
    listed = {*section.missing, *section.unexpected, *section.mismatched}
    ends = [cue[1] for cue in cues]
    for token in tokens:
        if not token.name or token.name in listed or token.start in in_mismatch:
            continue
        index = bisect.bisect_right(ends, token.start) - 1
        if index >= 0 and token.start - cues[index][1] < ORPHAN_REACH:
            side = cues[index][2]
            (section.missing if side == "missing" else section.unexpected).append(token.name)
            listed.add(token.name)


UNQUOTED_ITEM = re.compile(r"[^\s,{}]*(?:\{[^{}]*\}[^\s,{}]*)+|[^\s,{}]+")
"""One item of an unquoted list: a word, with fvcore's brace groups (``a.{b, c}.weight``)."""

MAX_SPAN = 2_000_000
"""Characters of one list read at most."""

MAX_CUES = 500
"""Missing/unexpected cue words read at most, each kind (a log repeating one warning)."""


def _limit(matches: Iterator[re.Match[str]]) -> list[re.Match[str]]:
    return list(itertools.islice(matches, MAX_CUES))


def _list_span(text: str, start: int, stop: int) -> str:
    """The list that follows a cue.

    A bracketed group, else the rest of its line and the indented or bulleted lines
    under it.
    """
    rest = text[start:stop]
    lead = re.match(r"[^\S\n]*(?:[^\n:=\[{'\"]{0,60}?[:=])?[^\S\n]*\n?[^\S\n]*", rest)
    offset = lead.end() if lead else 0
    opening = rest[offset : offset + 1]
    closing = {"[": "]", "{": "}", "(": ")"}.get(opening)
    if closing:
        depth = 0
        for position in range(offset, min(len(rest), offset + 2_000_000)):
            char = rest[position]
            if char in "[{(":
                depth += 1
            elif char in "]})":
                depth -= 1
                if depth == 0:
                    return rest[offset : position + 1]
        return rest[offset:]
    lines = rest[offset:].split("\n")
    kept = [lines[0]]
    for line in lines[1:]:
        stripped = line.strip()
        if not stripped:
            if len(kept) > 1:
                break
            continue
        if (
            line[:1].isspace()
            or stripped[0] in "-*'\"["
            or re.fullmatch(r"[\w.\-{}, ]+", stripped)
            or kept[-1].rstrip().endswith(",")  # the list goes on after its comma
        ):
            kept.append(line)
            continue
        break
    return "\n".join(kept)


def _names_in_span(span: str) -> list[str]:
    quoted = re.findall(r"""["'`]([^"'`\n]{1,300})["'`]""", span)
    parts = [p.strip() for q in quoted for p in q.split(",")] if quoted else []
    if not parts:
        parts = UNQUOTED_ITEM.findall(span[:MAX_SPAN])
    names: list[str] = []
    for part in parts:
        part = part.strip("[](). :;-")
        for name in expand_braces(part):
            name = name.strip("[](){}.:;- ")
            # A plain quoted word is a key only inside a bracketed list (not prose quotes).
            plain_ok = bool(quoted) and span.lstrip()[:1] in "[{(\"'"
            if name and _is_name(name, listed=True, quoted=plain_ok) and name not in names:
                names.append(name)
    return names
