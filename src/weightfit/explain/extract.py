r"""A tolerant reader of loading-error text: tensor names, shapes and sides, any wording.

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
  loaded* → the checkpoint has them), and ``KeyError: 'name'``.

What the text says besides its tensors (:class:`~weightfit.explain.statements.Facts`) is
read by :mod:`weightfit.explain.statements`. Both read text that
:func:`weightfit.explain.paste.normalise` has already freed of what pasting does (colours,
escapes, log prefixes, hard wraps).
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from weightfit.diagnose._facts import METADATA_ENTRIES, UNNAMED, indexed
from weightfit.diagnose.text_nested import TRAINING_KEY
from weightfit.diagnose.text_variants import WALKS_KEYS
from weightfit.explain._text import Section, expand_braces, names_in
from weightfit.explain.statements import Facts, facts
from weightfit.explain.statements.counts import BROADCAST
from weightfit.explain.statements.lookups import (
    BUFFER_NAMES,
    BUFFER_NOT_SAVED,
    CONTAINER_WORD,
    NOT_IN_FILE,
)
from weightfit.explain.tf_messages import torch_layout

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
    "actual",
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
    "network",
    "net",
    "new",
    "config",
)
"""Words that bind a nearby shape to one side (checked at word boundaries, nearest first)."""

KEY_NOUNS = r"key(?!word)|param|tensor|weight|entr|item|name|module|buffer|state|layer|running"
NOT_AN_ADJECTIVE = (
    r"(?!\s+\d+\s+required\s+\w+\s+argument)"
    r"(?!\s+(?!(?:in|from|when)\b|(?:[A-Za-z][\w\-]*\s+){0,2}(?:" + KEY_NOUNS + r"))"
    r"[a-z]{3,}\b(?!\.))"
)
"""After a missing or unexpected cue: a word of :data:`KEY_NOUNS` (past at most two
qualifiers: ``Missing VAE keys``), ``in``, ``from``, ``when`` or a name follows it; any other
word makes it an adjective (``Unexpected architecture type``), no list's cue."""
MISSING_CUES = re.compile(
    r"missing(?:\s+key(?:\(s\)|s\b|\b))?"
    + NOT_AN_ADJECTIVE
    + r"|tensor(?:\s+name)?(?=\s+['\"][\w./\-]+['\"]\s+not\s+found)|"
    r"not\s+initiali[sz]ed|newly\s+initiali[sz]ed|not\s+updated\s+(?:weight|param(?:eter)?)s?|"
    r"\bkey(?=\s+['\"`]?[\w./\-]+['\"`]?\s+not\s+found\s+in\s+(?:the\s+)?checkpoint)|"
    # A loader's lookup by name in the file (mlx-style ``Weight not found: layers.1.w``).
    r"\b(?:weight|tensor|param(?:eter)?)s?\s+not\s+found(?=\s*:)|"
    r"not\s+found\s+in\s+(?:the\s+)?(?:checkpoint|state_?dict|pretrained|weights|file)|"
    r"not\s+in\s+(?:the\s+)?(?:checkpoint|state_?dict)|were\s+not\s+loaded\s+from|"
    r"not\s+found\s+in\s+the\s+dict\b|not\s+found\s+for\s+key\b|"
    # TensorRT-LLM's ``Required but not provided tensors: {...}``.
    r"required\s+but\s+not\s+provided|"
    r"not\s+present\s+in\s+(?:the\s+)?(?:checkpoint|state_?dict)|"
    r"meta\s+tensors?\s+remain(?:ed|s)?|(?:still|remain(?:ed|s)?)\s+on\s+(?:the\s+)?meta\b|"
    # TensorFlow 1 running a graph whose variable no restore filled.
    r"Attempting\s+to\s+use\s+uninitiali[sz]ed\s+value|"
    r"\bexpected\s+(?:target\s+)?(?:modules?|keys?)\s+in\b",
    re.I,
)
UNEXPECTED_CUES = re.compile(
    r"unexpected(?:\s+key(?:\(s\)|s\b|\b))?" + NOT_AN_ADJECTIVE + r"|not\s+used|\bunused\b|"
    r"no\s+(?:module\s+or\s+)?parameter\s+named|"
    # (llama.cpp's "key not found in model: X" is a metadata key its file lacks.)
    r"(?<!\bkey\s)not\s+found\s+in\s+(?:the\s+)?(?:model|graph)|not\s+in\s+(?:the\s+)?model|"
    r"has\s+no\s+target\s+variable|"
    r"keys?\s+not\s+loaded|not\s+loaded|were\s+ignored|ignored\s+keys|failed\s+to\s+match\s+keys|"
    r"parameters\s+not\s+in\s+model|extra\s+keys?|provided\s+but\s+not\s+required|"
    # ESPnet's ``Filter out X from pretrained dict because of name not found in target dict``.
    r"Filter\s+out(?=\s+[\w.]+\s+from\s+pretrained\s+dict\s+because\s+of\s+name\s+not\s+found)|"
    r"contains\s+keys\s+that\s+are\s+not\s+used|which\s+contains\s+parameters|"
    r"(?:saved|stored)\s+(?:under|with|as)\s+(?:the\s+)?names?\b|"
    r"does\s+not\s+have\s+a\s+parameter\s+or\s+a\s+buffer\s+named|"
    r"(?:which|that)\s+are\s+not\s+needed|"
    r"(?<=\])\s*but\s+received|"
    # Prose saying the file holds names the model's class does not (``In the pretrained
    # weights, there exists `a.weight` ..., but not exist in class ResNet``).
    r"(?:pre-?trai\w+|checkpoint|ckpt)(?:\s+(?:weights?|model|file))?,?\s+there\s+(?:exists?|are|is)"
    r"(?=[^\n]{0,3000}?\b(?:not|n't)\s+exists?\s+in\s+(?:the\s+)?(?:class|model|network)\b)",
    re.I,
)
"""What introduces a list of names only the model (missing) or the checkpoint has. A model
built on the meta device and filled from a file keeps meta tensors where the file had none."""

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
TRUNCATION = re.compile(r"\.\.\.|…|\[\s*\.\.\.\s*\]|\(\s*\+\s*\d+\s+more\s*\)|\band \d+ more\b")


@dataclass
class _Token:
    """A name or a shape found in the text, with where it is."""

    start: int
    end: int
    name: str = ""
    shape: tuple[int, ...] | None = None


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
    if not (section.mismatched or section.missing or section.unexpected):
        _prose_pair(text, tokens, section)
    if not (section.mismatched or section.missing or section.unexpected):
        _one_headed_listings(text, section)
    # Caffe's statement names a layer outright: its name needs no dots to be one.
    known.unshaped = [
        name
        for m in UNSHAPED.finditer(text)
        if (name := m.group(1) or m.group(2) or m.group(3)) not in section.mismatched
        and (m.group(3) or _is_name(name, listed=True))
    ]
    for match in UNMATCHED_LIST.finditer(text):
        listed, _ = names_in(match.group(1) or match.group(2))
        known.unshaped += [
            n for n in listed if n not in known.unshaped and _is_name(n, listed=True)
        ]
    for name in known.key_errors:
        dotted = "." in name or name in BUFFER_NAMES
        # A training checkpoint's metadata word looked up while code walks a dict's keys is
        # the file's top-level entry the model lacks (``model_dict[k]`` for k in the file).
        metadata = TRAINING_KEY.fullmatch(name) or name in METADATA_ENTRIES
        walked = metadata and WALKS_KEYS.search(text) and not indexed(text, name)
        tensor = (
            (dotted and _is_name(name, listed=True))
            or FLAT_PARAM.fullmatch(name)
            or COPIES_ENTRIES.search(text)
        )
        if not (tensor or walked):
            continue
        # Code that indexes a checkpoint by a literal name reads a key the file lacks;
        # a loader looking a file's name up in the model's parameters does the reverse.
        literal = indexed(text, name)
        side = section.missing if literal else section.unexpected
        if name not in section.missing and name not in section.unexpected:
            side.append(name)  # a list's cue already said its side
    for match in BUFFER_NOT_SAVED.finditer(text):
        if match.group("buffer") not in section.missing:
            section.missing.append(match.group("buffer"))
    for match in NOT_IN_FILE.finditer(text):
        # An npz archive's path (Haiku parts its module from its parameter with "//").
        name = next(g for g in match.groups() if g).replace("//", "/").replace("/", ".")
        if _is_name(name, listed=True) and "." in name and name not in section.missing:
            section.missing.append(name)
    section.checkpoint = next(
        (f for f in known.files if not f.lower().endswith((".py", ".model"))), ""
    )
    return section


COPIES_ENTRIES = re.compile(r"\b\w+\[\s*(\w+)\s*\]\s*=\s*[\w.]+\[\s*\1\s*\]")
"""Code copying one mapping's entries into another by name (``model_dict[name] =
pre_dict[name]``): a key it failed on is a tensor's, dotted or not."""
FLAT_PARAM = re.compile(
    r"[A-Za-z]\w*?[a-z0-9]_(?:w|b|weight|bias|gamma|beta|kernel|running_mean|running_var|moving_mean|"
    r"moving_variance)$"
)
"""A parameter's name in flat naming, its module joined by underscores (Caffe2's
``conv_rpn_w``, MXNet Gluon's ``dense0_bias``): a key a lookup failed on is a tensor."""
NAME_CHARS = re.compile(r"(?=[\w.\-]*[A-Za-z])[A-Za-z0-9_][\w.\-]*")
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
        if text.startswith("(", match.start(1) + len(name)):
            continue  # a call in the traceback's code (``warnings.warn(``), not a tensor
        labelled = SHAPE_LABEL.match(text, match.start(1) + len(name)) is not None
        if _is_name(name, listed=match.start(1) in stated or labelled):
            tokens.append(_Token(match.start(1), match.start(1) + len(name), name=name))
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
                _Token(
                    match.start(match.lastgroup or 0), match.end(match.lastgroup or 0), name=word
                )
            )
    # Slash-separated paths of other frameworks (TensorFlow, Paddle): 'logit/weights'.
    for match in SLASHED.finditer(text):
        path = match.group(1)
        labelled = SHAPE_LABEL.match(text, match.end(1)) is not None
        leaf = PARAM_LEAF.fullmatch(path.rsplit("/", 1)[-1]) is not None
        if (leaf or labelled) and not NOT_A_NAME.search(path):
            tokens.append(_Token(match.start(1), match.end(1), name=path.replace("/", ".")))
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
            tokens.append(_Token(match.start(), match.end(), shape=dims))
    tokens.sort(key=lambda t: t.start)
    return tokens


def _mismatches(text: str, tokens: list[_Token], section: Section) -> set[int]:
    """Bind shapes to names (two per name) and to sides; return the names' offsets used."""
    used = _parallel_listings(text, tokens, section)
    names = [i for i, t in enumerate(tokens) if t.name]
    for index in names:
        token = tokens[index]
        if token.start in used:
            continue
        after = _shapes_after(text, tokens, index)
        before = _shapes_before(text, tokens, index)
        if len(after) >= 2:
            pair = after[:2]
        elif len(after) == 1 and before:
            pair = [before[-1], after[0]]
        elif not after and _named_after(text, tokens, index):
            pair = [index - 2, index - 1]  # "Expected shape (a) but received shape (b) for X"
        elif len(after) == 1 and (again := _labelled_again(text, tokens, index)) is not None:
            pair = [after[0], again]  # "pretrained: X: [a]" then "current graph: X: [b]"
        else:
            continue
        first, second = (tokens[i] for i in pair)
        assert first.shape is not None and second.shape is not None
        if first.shape == second.shape:
            continue
        sides = _sides(text, tokens, pair, index)
        have, want = (first.shape, second.shape) if sides else (second.shape, first.shape)
        if TF_KERNEL.search(text[token.start : token.end]) and len(have) == len(want) == 2:
            # A dense kernel is [in, out] in every Keras backend; a convolution's layout may
            # be another backend's (Theano's OIHW), so only the dense one is turned.
            have, want = torch_layout(have), torch_layout(want)
        section.mismatched.setdefault(token.name, (have, want))
        used.add(token.start)
    return used


TF_KERNEL = re.compile(r"/\w*kernel(?::\d+)?$")
"""A TensorFlow variable path to a kernel (``dense/kernel``): stored input axis first."""


LISTING_GAP = re.compile(r"[^\S\n]*[:=\-]?[^\S\n]*")
"""What may sit between a listed name and its shape on one line (``name: [..]``, ``name [..]``)."""
CHECKPOINT_LEAD = re.compile(
    r"pre-?trained|checkpoint|\bckpt\b|\bsaved\b|downloaded|released", re.I
)
"""Words that head a listing of the checkpoint's tensors (``but in pretrained model, it is:``)."""


def _parallel_listings(text: str, tokens: list[_Token], section: Section) -> set[int]:
    """Read two listings of the same names, one shape each, headed by their sides.

    ``I got a model with:`` and lines ``emb.weight torch.Size([4135, 192])``, then ``but in
    the pretrained model, it is:`` and the same names with other shapes: each name's two
    shapes. The listing whose heading line names the checkpoint (pretrained, saved,
    downloaded …) is the checkpoint's; when neither or both do, nothing is read. Returns
    the offsets of the names read.
    """
    blocks: list[list[tuple[_Token, _Token]]] = []
    last_line = -2
    for name, shape in itertools.pairwise(tokens):
        if not name.name or shape.shape is None or not _whole_line(text, name, shape):
            continue
        line = text.count("\n", 0, name.start)
        if line != last_line + 1 or not blocks:
            blocks.append([])
        blocks[-1].append((name, shape))
        last_line = line
    for i, first in enumerate(blocks):
        for second in blocks[i + 1 :]:
            if [n.name for n, _ in first] != [n.name for n, _ in second]:
                continue
            saved = [
                bool(CHECKPOINT_LEAD.search(_heading(text, b[0][0].start))) for b in (first, second)
            ]
            if saved[0] == saved[1]:
                return set()
            held, built = (first, second) if saved[0] else (second, first)
            for (name, have), (_, want) in zip(held, built, strict=True):
                if have.shape != want.shape and have.shape is not None and want.shape is not None:
                    section.mismatched.setdefault(name.name, (have.shape, want.shape))
            return {n.start for n, _ in (*first, *second)}
    return set()


def _whole_line(text: str, name: _Token, shape: _Token) -> bool:
    """Whether a name and a shape are a line's whole content."""
    start = text.rfind("\n", 0, name.start) + 1
    end = text.find("\n", shape.end)
    end = len(text) if end < 0 else end
    return (
        not text[start : name.start].strip()
        and LISTING_GAP.fullmatch(text[name.end : shape.start]) is not None
        and not text[shape.end : end].strip(" \t,;.")
    )


def _heading(text: str, start: int) -> str:
    """The last line with words before a listing that starts at ``start``."""
    lines = [line for line in text[max(0, start - 300) : start].splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _labelled_again(text: str, tokens: list[_Token], index: int) -> int | None:
    """The shape the same name labels on the next line, when it labels one on each.

    ``Pretrained model: conv18: [3, 3, 256, 128]`` then ``current graph: conv18: [3, 3, 128,
    128]``: a name's two shapes, one per line, each after its own side's words.
    """
    token = tokens[index]
    line_end = text.find("\n", token.end)
    for j in range(index + 1, len(tokens)):
        other = tokens[j]
        if other.name:
            if other.name != token.name or text.count("\n", token.end, other.start) != 1:
                return None
            after = _shapes_after(text, tokens, j)
            return after[0] if len(after) == 1 and other.start > line_end >= 0 else None
    return None


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
        between = text[tokens[j].end : tokens[index].start]
        if _crosses_statement(between) or "\n" in between:
            break  # a shape on an earlier line closed the statement before this one
        if _labels_shape(text, tokens, j, other_than=tokens[index].name):
            break  # ``'a.weight': torch.Size([..]), 'b.weight': ...``: a's shape, not b's
        found.insert(0, j)
    return found[-1:]


def _labels_shape(text: str, tokens: list[_Token], shape: int, *, other_than: str) -> bool:
    """Whether another name labels a shape, written right before it (``'name': [..]``)."""
    if shape == 0 or not tokens[shape - 1].name or tokens[shape - 1].name == other_than:
        return False
    return (
        re.fullmatch(r"['\"`]?\s*[:=]?\s*", text[tokens[shape - 1].end : tokens[shape].start])
        is not None
    )


def _crosses_statement(between: str) -> bool:
    """Whether the text between two tokens leaves the statement (a new line of another kind)."""
    return "\n\n" in between or bool(
        re.search(r"\n\s*(?:Traceback|File\s+\"|During\s+handling|\w*Error:)", between)
        or NEXT_STATEMENT.search(between)
    )


NEXT_STATEMENT = re.compile(r"size\s+mismatch\s+for|While\s+copying\s+the\s+parameter", re.I)
"""The cue that opens another tensor's statement, also on the same line (one-line pastes)."""


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


COPIED_SIZES = re.compile(
    r"expanded\s+size\s+of\s+the\s+tensor\s+\((\d+)\)\s+must\s+match\s+the\s+existing\s+size\s+"
    r"\((\d+)\)"
)
"""``copy_`` of a saved tensor into a parameter of another size: the parameter's size (the
model's) first, then the saved tensor's, on the axis named after."""
COPY_CALL = re.compile(r"\.copy_\(|load_state_dict|load\w*weight")


def _unnamed(text: str, tokens: list[_Token], section: Section) -> None:
    """Read ``Shape mismatch: torch.Size([..]) vs torch.Size([..])``: two shapes, no name.

    Also ``The expanded size of the tensor (81) must match the existing size (2)`` where a
    loader copies a saved tensor into a parameter: one axis's two sizes.
    """
    copied = COPIED_SIZES.search(text)
    if copied is not None and COPY_CALL.search(text) is not None:
        model, saved = int(copied.group(1)), int(copied.group(2))
        section.mismatched[UNNAMED] = ((saved,), (model,))
        return
    shapes = [t for t in tokens if t.shape is not None]
    for first, second in itertools.pairwise(shapes):
        line_start = text.rfind("\n", 0, first.start) + 1
        between = text[first.end : second.start]
        if first.shape == second.shape or len(between) > 80 or NEXT_STATEMENT.search(between):
            continue
        if "\n" in between:
            _labelled_pair(text, first, second, section)
            if section.mismatched:
                return
            continue
        line_end = text.find("\n", second.end)
        line = text[line_start : line_end if line_end >= 0 else len(text)]
        if line_start and text[:line_start].rstrip().endswith(":"):
            # The shapes on a line of their own, after the sentence that introduces them.
            line_start = text.rfind("\n", 0, line_start - 1) + 1
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
    r"|\btensor\s+['\"`]([\w.\-]+)['\"`]\s+has\s+(?:the\s+)?wrong\s+(?:size|shape)"
    r"|Cannot\s+copy\s+param\s+\d+\s+weights\s+from\s+layer\s+'([\w.\-/]+)';\s+shape\s+mismatch"
    r"(?!\.\s+Source\s+param)"
)
"""A name a shape-mismatch statement introduces (kept even when the paste lost its shapes):
PyTorch's ``size mismatch for X``, llama.cpp's ``tensor 'X' has wrong size``, Caffe's
``Cannot copy param 0 weights from layer 'X'; shape mismatch``."""


UNMATCHED_LIST = re.compile(
    r"['\"]unmatched['\"]\s*:\s*\[([^\]]*)\]?|"
    r"discarded\s+due\s+to\s+unmatched\s+keys\s+or\s+layer\s+size:\s*\[([^\]]*)\]?"
)
"""RT-DETR's ``{'missed': [...], 'unmatched': [...]}``, torchreid's ``The following layers are
discarded due to unmatched keys or layer size: [...]``: names whose shapes did not match."""


STATED_KEY = re.compile(
    r"\b(unexpected|missing)\s+key\s+[\"'`]([A-Za-z_][\w.\-]*)[\"'`]\s+in\s+(?:the\s+)?state_?dict",
    re.I,
)
"""PyTorch 0.3's ``unexpected key "acc" in state_dict``: the sentence says the word is a key,
dotted or not (a metric or an epoch counter saved beside the weights)."""


PROSE_SIDES = (
    (
        "checkpoint",
        re.compile(r"\b(?:checkpoints?|ckpt|pre-?trained|weights?\s+file|saved)\b", re.I),
    ),
    ("model", re.compile(r"\b(?:model|code|network|implementation|expect(?:ed|s|ing)?)\b", re.I)),
)
"""Words a sentence of prose puts beside a name to say whose it is."""


def _prose_pair(text: str, tokens: list[_Token], section: Section) -> None:
    """Read a line of prose naming one tensor as the model's and another as the checkpoint's.

    ``the key in the model's state_dict is blocks.0.fc1.weight, but blocks.0.mlp.fc1.weight
    in the pre-trained checkpoint``: a line contrasting two names (``but``, ``instead``),
    each taking the side of the side word nearest to it, outside any name; two names on two
    sides are a name the model lacks and one the checkpoint has instead.
    """
    for line_start, line in _lines(text):
        if CONTRAST.search(line) is None:
            continue
        spans = [
            (t.start - line_start, t.end - line_start)
            for t in tokens
            if t.name and line_start <= t.start < line_start + len(line)
        ]
        named = {line[a:b]: (a, b) for a, b in spans}
        if len(named) != 2:
            continue
        sides = {_nearest_side(line, span, spans): name for name, span in named.items()}
        if set(sides) == {"checkpoint", "model"}:
            section.missing.append(sides["model"].replace("/", "."))
            section.unexpected.append(sides["checkpoint"].replace("/", "."))
            return


SIDE_HEADING = re.compile(
    r"(?:the\s+)?(?:(?P<model>(?:instantiated\s+|current\s+|initiali[sz]ed\s+)?model)|"
    r"(?P<checkpoint>checkpoint|ckpt|pre-?trained(?:\s+model)?|saved(?:\s+model)?|weights?\s+file))"
    r"(?:'s)?\s+(?:keys|state[_\s]?dict(?:\s+keys)?|param(?:eter)?s|names)\s*:?",
    re.I,
)
"""A line heading one side's listing of names (``Model keys``, ``Checkpoint state_dict:``)."""
SENTENCE_END = re.compile(r"[.!?](?:\s+|(?=[A-Z]))")
"""Where a sentence ends and the next begins, glued or not."""
MIN_LISTED = 3
"""Names one a line that make a listing, not a name quoted alone."""


def _one_headed_listings(text: str, section: Section) -> None:
    """Read two listings of names, one a line, when a line heads only one with its side.

    ``Model keys`` over ``decoder.model.0.conv.conv.bias`` …, a ``...`` line, then
    ``generator.decoder.model.0.conv.conv.bias`` … with no heading of its own: the paste
    heads one side's listing and the other listing, sharing no name with it, is the other
    side's. Read only when the text holds exactly two such listings and one heading.
    """
    blocks: list[list[tuple[int, str]]] = []
    previous = False
    for start, line in _lines(text):
        word = line.strip(" \t,;'\"`")
        listed = "." in word and NAME_CHARS.fullmatch(word) is not None
        if listed and _is_name(word, listed=True):
            if not previous:
                blocks.append([])
            blocks[-1].append((start + line.find(word), word))
        previous = listed
    if len(blocks) != 2 or any(len(b) < MIN_LISTED for b in blocks):
        return
    names = [[name for _, name in b] for b in blocks]
    if set(names[0]) & set(names[1]):
        return
    sides = []
    for block in blocks:
        # The heading's last sentence: a paste's unwrapping may glue it to the prose above.
        last = SENTENCE_END.split(_heading(text, block[0][0]))[-1]
        heading = SIDE_HEADING.fullmatch(last.strip())
        sides.append("" if heading is None else "model" if heading["model"] else "checkpoint")
    if sorted(sides) not in (["", "model"], ["", "checkpoint"]):
        return
    headed = 0 if sides[0] else 1
    built = names[headed] if sides[headed] == "model" else names[1 - headed]
    held = names[1 - headed] if sides[headed] == "model" else names[headed]
    section.missing += built[:MAX_NAMES]
    section.unexpected += held[:MAX_NAMES]
    section.truncated = section.truncated or bool(TRUNCATION.search(text))


CONTRAST = re.compile(r"\bbut\b|\bwhile\b|\bwhereas\b|\binstead\b|\bvs\.?\s|\bdiffer", re.I)
"""Words of a sentence setting two things against each other."""


def _lines(text: str) -> Iterator[tuple[int, str]]:
    start = 0
    for line in text.split("\n"):
        yield start, line
        start += len(line) + 1


def _nearest_side(line: str, span: tuple[int, int], names: list[tuple[int, int]]) -> str:
    """The side whose word stands nearest a name in its line, words inside names left out."""
    start, end = span
    best, distance = "", len(line) + 1
    for side, words in PROSE_SIDES:
        for word in words.finditer(line):
            if any(a <= word.start() < b for a, b in names):
                continue
            gap = start - word.end() if word.end() <= start else word.start() - end
            if 0 <= gap < distance:
                best, distance = side, gap
    return best


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
        + _side_headers(text)
    )
    broken: set[str] = set()  # the pieces of keys a paste broke with a space
    for index, (start, end, side) in enumerate(cues):
        stop = cues[index + 1][0] if index + 1 < len(cues) else len(text)
        span = _list_span(text, end, stop)
        if re.search(r"shapes?\s+did\s+not\s+match", text[start : end + 60]):
            continue
        if re.match(r"[^\S\n]*\|", text[end : end + 40]):
            continue  # a table's status column (``NAME | UNEXPECTED |``), read by its rows
        target = section.missing if side == "missing" else section.unexpected
        for name in _names_in_span(span, broken):
            mismatched = name in section.mismatched
            if not mismatched and name not in target and len(target) < MAX_NAMES:
                target.append(name)
        if TRUNCATION.search(span):
            section.truncated = True
    # Tensor names outside any list and any mismatch, after a cue (a list pasted apart from
    # its message, one name a line): the nearest cue before them says their side.
    listed = {*section.missing, *section.unexpected, *section.mismatched, *broken}
    ends = [cue[1] for cue in cues]
    for token in tokens:
        if not token.name or token.name in listed or token.start in in_mismatch:
            continue
        index = bisect.bisect_right(ends, token.start) - 1
        if index >= 0 and token.start - cues[index][1] < ORPHAN_REACH:
            side = cues[index][2]
            (section.missing if side == "missing" else section.unexpected).append(token.name)
            listed.add(token.name)


CHECKPOINT_HEADER = re.compile(
    r"^[^\S\n]*(?:the\s+)?(?:checkpoint|ckpt|pre-?trained\s+(?:model|weights)|weights?\s+file)"
    r"[^\S\n]*(?:has|contains|keys)?[^\S\n]*:[^\S\n]*$",
    re.I | re.M,
)
MODEL_HEADER = re.compile(
    r"^[^\S\n]*(?:the\s+)?[\w \t().,/-]{0,60}?\b(?:model|code|network)\b[\w \t().,/-]{0,60}?"
    r"\b(?:has|expects|keys)[^\S\n]*:[^\S\n]*$",
    re.I | re.M,
)
"""Lines heading a list of what one side holds (``Checkpoint has:``, ``Public code (v1.0.0
release) has:``): read as a side's list when the text heads both sides so."""


def _side_headers(text: str) -> list[tuple[int, int, str]]:
    """Cues of lists headed by the side they describe, when the text heads both sides."""
    held = [(m.start(), m.end(), "unexpected") for m in CHECKPOINT_HEADER.finditer(text)]
    built = [(m.start(), m.end(), "missing") for m in MODEL_HEADER.finditer(text)]
    return [*held, *built] if held and built else []


UNQUOTED_ITEM = re.compile(r"[^\s,{}]*(?:\{[^{}]*\}[^\s,{}]*)+|[^\s,{}]+")
"""One item of an unquoted list: a word, with fvcore's brace groups (``a.{b, c}.weight``)."""

MAX_SPAN = 2_000_000
"""Characters of one list read at most."""

MAX_CUES = 500
"""Missing/unexpected cue words read at most, each kind (a log repeating one warning)."""


def _limit(matches: Iterator[re.Match[str]]) -> list[re.Match[str]]:
    return list(itertools.islice(matches, MAX_CUES))


SENTENCE_GOES_ON = re.compile(r"[^\n.:\"'`]{0,40}[\"'`)]\.[^\S\n]*[A-Z][a-z\s]")
"""A cue quoted in prose, its sentence ending where a list would start and another sentence
after it on the line (``… a full list of "Missing & Unexpected key(s) in state_dict". I tried
with …``)."""


def _list_span(text: str, start: int, stop: int) -> str:
    """The list that follows a cue.

    A bracketed group, else the rest of its line (a whole list when it ends with a
    quoted name and a period) and the indented or bulleted lines under it, or the
    TensorFlow variable paths under a first one (``lstm0_bw/rec/W``, one a line).
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
    if SENTENCE_GOES_ON.match(lines[0]):
        return ""  # the cue's sentence ends and prose follows: the cue names no list here
    kept = [lines[0]]
    if re.search(r"[\"']\.\s*$", lines[0]):
        return lines[0]  # PyTorch ends a whole list with a period: what follows is no item
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
            or (_variable_path(stripped) and _variable_path(lines[0].strip()))
        ):
            kept.append(line)
            continue
        break
    return "\n".join(kept)


SHARD_SUFFIX = re.compile(r"/shard_\d+_\d+(?:\.\*)?$")
"""Megatron's distributed-checkpoint key of one shard of an object (``_extra_state/shard_0_16``)."""


def _variable_path(part: str) -> bool:
    """Whether a slashed word is a TensorFlow variable path, not prose.

    ``lstm0_bw/rec/W`` and ``dense/kernel`` are (three levels, or a parameter leaf);
    ``task/architecture`` is not.
    """
    if not SLASHED.fullmatch(part) or NOT_A_NAME.search(part):
        return False
    return part.count("/") >= 2 or PARAM_LEAF.fullmatch(part.rsplit("/", 1)[-1]) is not None


BROKEN_KEY = re.compile(
    r"([A-Za-z_][\w.\-]*\.[\w\-]+)(?<!weight)(?<!bias)(?<!running_mean)(?<!running_var)"
    r"[^\S\n]+(?!torch\.)([A-Za-z_][\w\-]*\.[\w.\-]+)"
)
"""One quoted key a paste broke with a space between two dotted pieces
(``"module.encoder.conv1.0 EncoderLayer.layer.0.weight"``): the quotes say it is one key.
A first piece that ends in a parameter's own name is a whole key, followed by other words."""


def _names_in_span(span: str, broken: set[str] | None = None) -> list[str]:
    quoted = re.findall(r"""["'`]([^"'`\n]{1,300})["'`]""", span)
    parts = [p.strip() for q in quoted for p in q.split(",")] if quoted else []
    for i, part in enumerate(parts):
        if (pieces := BROKEN_KEY.fullmatch(part)) is not None:
            parts[i] = ".".join(pieces.groups())
            if broken is not None:
                broken.update(pieces.groups())
    if not parts:
        parts = UNQUOTED_ITEM.findall(span[:MAX_SPAN])
    names: list[str] = []
    for part in parts:
        if not quoted and part.endswith("("):
            continue  # a call in the code a traceback shows (``warnings.warn(``), not a key
        part = SHARD_SUFFIX.sub("", part.strip("[](). :;-"))
        if "/" in part and _variable_path(part):
            part = part.replace("/", ".")  # a TensorFlow variable path in a key list
        for name in expand_braces(part):
            name = name.strip("[](){}.:;- ")
            # A plain quoted word is a key only inside a bracketed list (not prose quotes).
            plain_ok = bool(quoted) and span.lstrip()[:1] in "[{(\"'"
            if name and _is_name(name, listed=True, quoted=plain_ok) and name not in names:
                names.append(name)
    return names
