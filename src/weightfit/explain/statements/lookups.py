"""Failed lookups: ``KeyError`` names, container keys and the files a loader asked for."""

from __future__ import annotations

import re
from collections.abc import Iterator

from weightfit.diagnose._facts import METADATA_ENTRIES, index_pattern, indexed
from weightfit.explain.statements.phrases import LOADING_CONTEXT, PICKLED_FILE
from weightfit.explain.statements.record import Facts

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


def _raising_frame(text: str) -> tuple[str, str] | None:
    """The frame printed last before the text's last ``KeyError``."""
    raised = list(KEY_ERROR.finditer(text))
    if not raised:
        return None
    frames = list(FRAME.finditer(text, 0, raised[-1].start()))
    return (frames[-1].group(1), frames[-1].group(2)) if frames else None


def read_lookups(found: Facts, text: str) -> None:
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
