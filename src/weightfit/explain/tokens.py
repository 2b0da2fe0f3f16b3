"""Tensor names and shapes in a loading-error text, in any notation, with where they are.

Names are dotted paths whose last segment is a parameter word, bare words a statement names
as a tensor, and slash-separated paths of other frameworks; shapes are ``torch.Size([a, b])``,
``[a, b]``, ``(a, b)``, ``a x b`` and the other notations of :data:`SHAPE`.
:mod:`weightfit.explain.extract` binds them to sides and lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from weightfit.diagnose.text_nested import TRAINING_KEY
from weightfit.explain.statements.lookups import CONTAINER_WORD

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
    r"(?:\.(?:py|pyc|pth?|ckpt|bin|safetensors|pkl|json|yaml|yml|txt|gguf|h5|npz|onnx|params|"
    r"caffemodel|log|sh|md|co|com|org|io|ai|html?)$|^v?\d+(?:\.\d+)*(?:[a-z]+\d*)?$|^(?:torch|transformers|"
    r"diffusers|peft|numpy|np|os|sys|self|nn|F|collections|typing|accelerate|safetensors)\.)",
    re.I,
)
"""Dotted words that are files, versions, numbers or Python modules, never tensors."""

SHAPE = re.compile(
    r"torch\.Size\(\s*\[\s*(?P<size>[\d,\s]*)\]\s*\)"
    r"|(?<![\w\]])\[\s*(?P<list>\d+(?:\s*,\s*\d+)*)\s*,?\s*\](?!\s*[\w(\[])"
    r"|(?<![\w\]])\[\s*(?P<ending>\d+(?:\s*,\s*\d+)+)\s*,?\s*\](?=[^\S\n]*\n)"
    r"|(?<![\w\])])\(\s*(?P<tuple>\d+L?(?:\s*,\s*\d+L?)+\s*,?|\d+L?\s*,)\s*\)"
    r"|(?<![\w.])(?P<times>\d+(?:\s*[x×]\s*\d+)+)(?![\w.])"
    r"|(?<![\w\]])\[[^\S\n]*(?P<spaced>\d+(?:[^\S\n]+\d+)+)[^\S\n]*\](?!\s*[\w(\[])"
    r"|(?<![\w{])\{(?P<braced>\d+(?:,[^\S\n]?\d+)+)\}(?![\w}])"
)
"""A shape, in any of the notations people and libraries print. A tuple of one size is
``(5,)`` as Python prints it: ``(0)`` numbers an item of a list, it is no shape. Python 2
printed sizes as longs: ``(3L, 3L, 3L, 64L)``; NumPy and TensorFlow print a shape held in an
array without commas: ``[1024 30 3]``; DyNet prints its dimensions in braces: ``{100,400574}``.
A list of several sizes ending its line is a shape whatever the next line says."""


BARE_NAME = re.compile(
    r"(?:(?:mismatch\s+for|parameter\s+named|Skip\s+loading\s+parameter|Unable\s+to\s+load|"
    r"Shape\s+of|shape\s+for|loading\s+parameter)\s+['\"`]?(?P<strong>[A-Za-z_]\w*)"
    r"|(?:[Pp]aram(?:eter)?|[Kk]ey|[Tt]ensor|[Bb]uffer)\s+['\"`]?(?P<weak>[A-Za-z_]\w*))['\"`]?"
    r"(?=[:,\s]|$)"
)
"""A bare word a statement names as the tensor (no dot: ``pos_embed``, ``text_projection``)."""
OWN_PARAMETER = re.compile(r"mismatch\s+for\s+['\"`]?(?:weight|bias)['\"`]?:")
"""PyTorch's statement about a module's own parameter (an ``nn.Linear`` loaded by itself)."""
STATED_NAME = re.compile(
    r"(?:mismatch\s+for|parameter\s+named|Skip\s+loading\s+parameter|loading\s+parameter)"
    r"\s+['\"`]?([A-Za-z_][\w\-]*\.[\w.\-]+)"
)
"""A dotted name a shape statement introduces: a tensor whatever its last word
(``reduction.mel_scale.fb``)."""
SHAPE_LABEL = re.compile(r"[^\S\n]*:[^\S\n]*(?:torch\.Size\(|[\[(])[^\S\n]*\d")
"""A name labelling the shape that follows it (``UAEnoFC/G/conv18: [3, 3, 256, 128]``): a
tensor, whatever its last word."""
SLASHED = re.compile(r"(?<![\w/.:])((?:[A-Za-z_][\w.\-]*/){1,12}[A-Za-z_]\w*)(?![\w/]|\.\w)")


@dataclass
class Token:
    """A name or a shape found in the text, with where it is."""

    start: int
    end: int
    name: str = ""
    shape: tuple[int, ...] | None = None


NAME_CHARS = re.compile(r"(?=[\w.\-]*[A-Za-z])[A-Za-z0-9_][\w.\-]*")
NOT_TENSORS = frozenset(
    {"state_dict", "model_state_dict", "optimizer", "load_state_dict", "strict"}
)


def is_name(word: str, *, listed: bool, quoted: bool = False) -> bool:
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


def read_tokens(text: str) -> list[Token]:
    """Every tensor name and shape of the text, in order."""
    tokens: list[Token] = []
    stated = {m.start(1) for m in STATED_NAME.finditer(text)}
    for match in DOTTED.finditer(text):
        name = match.group(1).rstrip(".-")
        if text.startswith("(", match.start(1) + len(name)):
            continue  # a call in the traceback's code (``warnings.warn(``), not a tensor
        labelled = SHAPE_LABEL.match(text, match.start(1) + len(name)) is not None
        if is_name(name, listed=match.start(1) in stated or labelled):
            tokens.append(Token(match.start(1), match.start(1) + len(name), name=name))
        if len(tokens) > MAX_NAMES:
            break
    # A bare word a statement calls a parameter: 'size mismatch for pos_embed:'.
    for match in BARE_NAME.finditer(text):
        word = match.group("strong") or match.group("weak")
        # A module loaded on its own names its parameters bare: 'mismatch for bias:'.
        own = word in ("weight", "bias") and OWN_PARAMETER.match(text, match.start())
        if not own and word in (
            "weight",
            "bias",
            "weights",
            "shape",
            "the",
            "a",
            "param",
            "parameter",
        ):
            continue
        if match.group("strong") or PARAM_LEAF.fullmatch(word):
            tokens.append(
                Token(match.start(match.lastgroup or 0), match.end(match.lastgroup or 0), name=word)
            )
    # Slash-separated paths of other frameworks (TensorFlow, Paddle): 'logit/weights'.
    for match in SLASHED.finditer(text):
        path = match.group(1)
        labelled = SHAPE_LABEL.match(text, match.end(1)) is not None
        leaf = PARAM_LEAF.fullmatch(path.rsplit("/", 1)[-1]) is not None
        if (leaf or labelled) and not NOT_A_NAME.search(path):
            tokens.append(Token(match.start(1), match.end(1), name=path.replace("/", ".")))
    for match in SHAPE.finditer(text):
        raw = next(
            (
                match.group(g)
                for g in ("size", "list", "ending", "tuple", "spaced", "braced")
                if match.group(g) is not None
            ),
            None,
        )
        if raw is None:
            raw = re.sub(r"[x×]", ",", match.group("times"))
        dims = tuple(int(d) for d in re.findall(r"\d+", raw))
        if match.group("size") is not None or dims:
            tokens.append(Token(match.start(), match.end(), shape=dims))
    tokens.sort(key=lambda t: t.start)
    return tokens
