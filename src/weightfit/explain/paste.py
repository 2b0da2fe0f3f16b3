r"""Undo what pasting did to a loading error, and keep a huge log to its loading parts.

People paste logs through terminals, browsers, chat apps and loggers. Before any
message is read, :func:`normalise` undoes what that did: colours, escapes (an
exception's repr, a JSON log, HTML), typography (curly quotes, full-width
punctuation, invisible characters), log prefixes (timestamps, ranks, levels,
quoting marks) and hard wraps at any column, inside a word, a number, a shape or a
name. :func:`window` and :func:`decode` keep a huge input to the parts around its
loading words, and runs longer than any name are cut, so any input ends quickly.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from typing import AnyStr

from weightfit.explain import (
    extract,
    ggml_messages,
    key_lists,
    other_messages,
    shape_pairs,
    statements,
    tf_messages,
    tokens,
    torch_messages,
    transformers_messages,
)
from weightfit.explain._text import ANSI

WINDOW_THRESHOLD = 1_000_000
"""Characters above which a log is read only around its loading words."""

WINDOW_RADIUS = 12_000
"""Characters kept each side of a loading word in a windowed log."""

MAX_WINDOWS = 16
"""Loading words windowed at most (a log that repeats one error repeats it)."""

LOG_PREFIX = re.compile(
    r"^(?:\s*(?:\[?\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?\]?"
    r"|\[?\d\d:\d\d:\d\d(?:[.,]\d+)?\]?"
    r"|\[rank\s*\d+\]:?|rank\s*\d+:|\(\w+ pid=\d+[^)]*\)"
    r"|(?:INFO|WARNING|WARN|ERROR|DEBUG|CRITICAL)(?::[\w.]+)*:"
    r"|\[(?:INFO|WARNING|WARN|ERROR|DEBUG|CRITICAL)\]|(?:INFO|WARNING|ERROR)\s+-"
    r"|(?:INFO|WARNING|WARN|ERROR|DEBUG|CRITICAL|SUCCESS)\s*(?=\|)"
    r"|[\w.]+\s+-\s+(?:INFO|WARNING|WARN|ERROR|DEBUG|CRITICAL)\s+-"
    r"|[\w.<>]+:[\w.<>]+:\d+\s+-|E\s{2,}|>+(?=\s|$)|\|"
    r"|(?:INFO|WARNING|WARN|ERROR|DEBUG|CRITICAL)\s+\d\d-\d\d\s+\d\d:\d\d:\d\d(?:\.\d+)?\s+"
    r"\[?[\w.\-]+:\d+\]"
    r"|[IWEF]\d{4}\s+\d\d:\d\d:\d\d\.\d+\s+\d+\s+[\w.\-]+:\d+\]"
    r"|[A-Za-z][\w\-]*\s+\|(?=\s)(?!\s*(?:MISSING|UNEXPECTED|MISMATCH|Status)\s*\|))"
    r"\s*(?:-\s+(?=[\w.]+\s+-\s))?)+"
)
"""Line prefixes a logger, a test runner or a quoting reply adds (``logging``'s
``%(asctime)s - %(name)s - %(levelname)s - ``, loguru's ``time | LEVEL | mod:fn:12 - ``,
vLLM's ``ERROR 12-04 11:26:27 engine.py:366]``, glog's ``E1204 11:26:27.123 42 f.cc:9]``,
docker compose's ``service  | ``; not a load report's ``NAME | STATUS |`` row)."""


def decode(data: bytes) -> str:
    """Decode an input's bytes (UTF-8, errors replaced), windowing a huge one first."""
    if len(data) > WINDOW_THRESHOLD:
        spans = _windows(_hits(data, [w.encode() for w in STRONG_WORDS]), len(data)) or (
            _windows(_hits(data, [w.encode() for w in WEAK_WORDS]), len(data))
        )
        return "\n".join(data[a:b].decode("utf-8", errors="replace") for a, b in spans)
    return data.decode("utf-8", errors="replace")


def window(text: str) -> str:
    """Keep a huge log to the parts around its loading words (a small one is kept whole)."""
    if len(text) <= WINDOW_THRESHOLD:
        return text
    spans = _windows(_hits(text, list(STRONG_WORDS)), len(text)) or (
        _windows(_hits(text, list(WEAK_WORDS)), len(text))
    )
    return "\n".join(text[a:b] for a, b in spans)


STRONG_WORDS = (
    "state_dict",
    "mismatch",
    "missing key",
    "unexpected key",
    "initialized",
    "keyerror",
    "checkpoint",
    "shapes",
    "lora key",
    "global",
    "weights only",
    "invalid for input",
)
WEAK_WORDS = ("load", "weights", "missing", "unexpected", "lora")
"""What a huge log is windowed around: the strong words first, the weak ones only when no
strong word occurs (searched chunk by chunk, lowercased, with ``find``: fast on 100 MB)."""

CHUNK = 2_000_000

SCANNED_HEAD, SCANNED_TAIL = 8_000_000, 24_000_000
"""Of a longer input, only the first and the last characters are searched for loading words."""
"""Characters (or bytes) lowercased at a time while searching a huge input."""


def _hits(data: AnyStr, words: list[AnyStr]) -> list[int]:
    """Offsets of the words in a huge input, at most one per :data:`WINDOW_RADIUS`.

    When there are too many, the first few and the last ones: a failure ends a log.
    """
    hits: set[int] = set()
    starts: list[int] = list(range(0, len(data), CHUNK))
    if len(data) > SCANNED_HEAD + SCANNED_TAIL:
        # A failure is at the start of a log or, most often, at its end.
        starts = [
            *range(0, SCANNED_HEAD, CHUNK),
            *range(len(data) - SCANNED_TAIL, len(data), CHUNK),
        ]
    for start in starts:
        chunk = data[start : start + CHUNK + 64].lower()
        for word in words:
            at = chunk.find(word)
            while at != -1 and at < CHUNK:
                hits.add(start + at)
                at = chunk.find(word, at + WINDOW_RADIUS)
    ordered = sorted(hits)
    if len(ordered) > MAX_WINDOWS:
        ordered = ordered[: MAX_WINDOWS // 4] + ordered[-(MAX_WINDOWS - MAX_WINDOWS // 4) :]
    return ordered


def _windows(starts: list[int], length: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for start in starts:
        a, b = max(0, start - WINDOW_RADIUS), min(length, start + WINDOW_RADIUS)
        if spans and a <= spans[-1][1]:
            spans[-1] = (spans[-1][0], b)
        else:
            spans.append((a, b))
    return spans


def normalise(text: str) -> str:
    """Undo what pasting did, and restore a message a paste cut off.

    Colours, escapes, typography, log prefixes and hard wraps are undone. A rich traceback
    cut inside its locals panel also gets the line it raised appended (``Error: message``),
    rebuilt from the raising f-string and the frame's locals (:func:`_raised_from_locals`):
    a line the paste lost, not one it changed, which every later pattern then reads.
    """
    text = ANSI.sub("", text).replace("\r\n", "\n")
    if "\\n" in CODE_ESCAPE.sub("", text):
        # An exception's repr or a JSON log: PyTorch's "\n\t" between messages, escaped quotes
        # (not the escape a traceback's source line shows: '"\n\t".join(error_msgs)').
        wrapped = REPR_WRAPPER.fullmatch(text)
        text = _unescaped(wrapped.group(2) if wrapped else text)
    if not text.isascii():
        # A web page, a chat app or an IME: curly quotes, invisible characters, full-width
        # punctuation (NFKC: "，" → ",", "：" → ":", "…" → "...", no-break space → space).
        text = unicodedata.normalize("NFKC", text.translate(TYPOGRAPHY))
    if "&" in text:
        text = html.unescape(text)
    printed = [line.rsplit("\r", 1)[-1] for line in text.split("\n")]
    width = max(map(len, printed), default=0)
    at_width = [len(line) == width >= MIN_BROKEN_LINE for line in printed]
    long = [len(line) >= MIN_BROKEN_LINE for line in printed]
    # A paste indented as a whole (a Markdown code block, a quoted reply's body) loses the
    # indent its lines share; where a terminal broke them was measured with it. One space
    # shared is a wrapped line's, kept for the rejoining.
    shared = min((len(line) - len(line.lstrip()) for line in printed if line.strip()), default=0)
    raw = [line[shared:] for line in printed] if shared >= MIN_BLOCK_INDENT else printed
    stripped = [_without_prefix(line) for line in raw]
    if all(COMMENTED.match(line) for line in stripped if line.strip()):
        # Output pasted as comments in a code block: every line begins "# " (after any
        # logger's prefix).
        stripped = [COMMENTED.sub("", line) for line in stripped]
    # A line a logger began is a new record, never the rest of a broken one.
    records = [
        (len(kept) < len(line) and RECORD_MARK.search(line, 0, len(line) - len(kept)) is not None)
        or FUNCTION_RECORD.match(kept) is not None
        for line, kept in zip(raw, stripped, strict=True)
    ]
    text = "\n".join(_rejoin(stripped, at_width, records, long))
    text = BLOB.sub(lambda m: " ".join(_pieces(m.group(0))), text)
    text = RANGE.sub(r"\1", text)
    text = SWAPPED_CLOSERS.sub(r"\1])", text)
    text = EMPHASIS.sub(r"\2", text)
    if not text.isascii():
        # Chinese or Japanese prose runs into the error it quotes ("报错param is too old"):
        # no word boundary between them until a space parts the scripts.
        text = CJK_GLUED.sub(" ", text)
    text = TUPLE_PATH.sub(lambda m: ".".join(re.findall(r"['\"](\w+)['\"]", m.group(0))), text)
    return text + _raised_from_locals(text)


RAISED_TEMPLATE = re.compile(
    r"\braise\s+(?P<error>\w+)\(\s*f(?P<quote>['\"])(?P<template>[^'\"\n{}]*\{(?P<var>\w+)\}"
    r"[^'\"\n{}]*)(?P=quote)\s*\)"
)
"""The line a rich traceback marks as raising, an f-string message of one placeholder
(TGI's ``raise RuntimeError(f"weight {tensor_name} does not exist")``)."""
LOCAL_NAME = re.compile(r"(?:^|[│|])\s*(\w+)\s*=\s*'([A-Za-z_][\w\-]*(?:\.[\w\-]+)+)'")
"""A frame's local holding a dotted name, as rich's locals panel shows it (``name =
'lm_head.weight'``)."""


def _raised_from_locals(text: str) -> str:
    """The message a rich traceback's frame raised, filled in from its locals, if cut off.

    A paste that stops inside the locals panel loses the message printed below it; the
    frame's source shows the f-string it raised and its locals the value. The placeholder's
    own local, else the one local holding a dotted name, fills it in.
    """
    raised = RAISED_TEMPLATE.search(text)
    if raised is None:
        return ""
    values = dict(LOCAL_NAME.findall(text[raised.end() :]))
    value = values.get(raised["var"]) or (
        next(iter(values.values())) if len(set(values.values())) == 1 else None
    )
    if value is None:
        return ""
    message = raised["template"].replace("{" + raised["var"] + "}", value)
    return "" if message in text else f"\n{raised['error']}: {message}"


CJK_GLUED = re.compile(
    r"(?<=[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af])(?=[A-Za-z0-9])|"
    r"(?<=[A-Za-z0-9])(?=[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af])"
)
"""Where a CJK character (kana, ideograph, hangul) meets a Latin letter or digit."""


MIN_BLOCK_INDENT = 2
"""Fewest leading spaces every line shares for a paste to be an indented block."""


def _without_prefix(line: str) -> str:
    """A line without its logger's or quoting reply's prefix.

    The one space that separates a prefix from the line goes with it; a second one was
    the line's own (a terminal broke it just before a space: ``>  of flux, sd1``) and
    stays, as one space.
    """
    prefix = LOG_PREFIX.match(line)
    if prefix is None or not prefix.group(0):
        return line
    rest = line[prefix.end() :]
    gap = len(prefix.group(0)) - len(prefix.group(0).rstrip())
    return " " + rest if gap >= 2 and rest else rest


COMMENTED = re.compile(r"^\s*# ?")
"""A line of output pasted as a Python comment (``# ValueError: ...``)."""
CODE_ESCAPE = re.compile(r"""["']\\n\\t["']\.join""")
"""The escaped separator a traceback's source line quotes (``"\\n\\t".join(error_msgs)``)."""
REPR_WRAPPER = re.compile(r"\s*[A-Z]\w*\((['\"])(.*)\1\)\s*", re.S)
"""A whole paste that is one exception's repr: ``RuntimeError('...\\n')``, its quotes unwrapped."""


def _unescaped(text: str) -> str:
    """Undo a repr's escapes outside the source lines that quote an escape themselves."""
    pieces, code = CODE_ESCAPE.split(text), CODE_ESCAPE.findall(text)
    plain = [ESCAPE.sub(_unescape, p) for p in pieces]
    return "".join(p + c for p, c in zip(plain, [*code, ""], strict=True))


ESCAPE = re.compile(r"""\\(u[0-9a-fA-F]{4}|[nt"'\\])""")
"""One escape of a repr or a JSON string, read in one pass (``\\\\n`` is a backslash and an
``n``): a line end, a tab, a quote, a backslash, a character JSON wrote as ``\\uXXXX``."""
UNESCAPED = {"n": "\n", "t": "\t", '"': '"', "'": "'", "\\": "\\"}


def _unescape(match: re.Match[str]) -> str:
    code = match.group(1)
    return chr(int(code[1:], 16)) if code.startswith("u") else UNESCAPED[code]


TYPOGRAPHY = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"'),
        **dict.fromkeys("\u200b\u200c\u200d\u2060\ufeff\u00ad", ""),
    }
)
"""Curly quotes to straight ones; zero-width characters and soft hyphens removed."""

BLOB = re.compile(r"[\w.\-]{400,}")
"""A run of name characters longer than any name: an encoded blob, or wrapped lines of one."""


def _pieces(blob: str, size: int = 100) -> list[str]:
    """A blob cut into pieces no pattern has to scan as one word (cost stays linear)."""
    return [blob[i : i + size] for i in range(0, len(blob), size)]


RANGE = re.compile(r"\{(\d+)\s*(?:\.\.\.?|…|-)\s*\d+\}")
"""A templated layer range (``layers.{0...47}``, transformers' load report): its first index."""

SWAPPED_CLOSERS = re.compile(r"(torch\.Size\(\s*\[[\d,\s]*)\)\s*\]")
"""A hand-typed ``torch.Size([1, 1, 192)]``: its closing brackets in the wrong order."""

EMPHASIS = re.compile(r"(?<![\w*`])(\*\*|__|\*|_)([A-Za-z0-9][\w\-]*(?:\.[\w\-]+)+?)\1(?![\w*])")
"""A dotted name a Markdown paste wrapped in emphasis (``_a.b.bias_``, ``**a.b.weight**``)."""

TUPLE_PATH = re.compile(r"\(\s*['\"]\w+['\"](?:\s*,\s*['\"]\w+['\"]){1,20}\s*,?\s*\)")
"""A Flax / JAX parameter path (``('decoder', 'mid', 'norm', 'bias')``): a dotted name."""


_OPEN_SIZE = re.compile(r"torch\.Size\(\[[\d,\s]*$|\[[\d,\s]*\d$|torch\.Si?z?e?\(?\[?$")
_TAIL = re.compile(r"[\w.\-]+$")
_HEAD = re.compile(r"^[\w.\-\]\)]+")


MIN_BROKEN_LINE = 60
"""Shortest line taken as broken by a terminal inside a word."""

WRAPPED_WORDS = frozenset(
    {
        "not",
        "attribute",
        "get",
        "used",
        "initializing",
        "checkpoint",
        "checkpoints",
        "state_dict",
        "missing",
        "unexpected",
        "initialized",
        "initialised",
        "mismatch",
        "parameter",
        "parameters",
        "param",
        "shape",
        "shapes",
        "weights",
        "weight",
        "bias",
        "model",
        "loading",
        "loaded",
        "pretrained",
        "instantiated",
        "current",
        "copying",
        "found",
        "incompatible",
        "dimensions",
        "size",
        "keys",
        "key",
        "module",
        "running_mean",
        "running_var",
        "num_batches_tracked",
        "position_ids",
        "newly",
        "expected",
    }
)
"""Words of loading messages: split by a hard wrap, their halves are rejoined."""


def _rejoin(
    lines: list[str], at_width: list[bool], records: list[bool], long: list[bool]
) -> list[str]:
    """Join lines a terminal or an editor broke inside a name, a number or a shape.

    ``at_width`` marks the lines as long as the longest of the paste: where a terminal
    breaks, so a break there inside a number or a name is taken as a wrap. ``records``
    marks the lines a logger began, which carry on nothing; ``long`` the lines long
    enough for a terminal to break (as pasted, their log prefix included). A code block
    indents the rest of a broken line as it indents its start: that indent is not part
    of the token.
    """
    out: list[str] = []
    indent = ""
    previous = zip([False, *at_width], [False, *long], strict=False)
    for line, (wide, broad), record in zip(lines, previous, records, strict=False):
        rest = line[len(indent) :] if indent and line.startswith(indent) else line
        if out and not record and _broken(out[-1], rest, wide, broad):
            out[-1] += rest
        else:
            out.append(line)
            indent = line[: len(line) - len(line.lstrip(" \t"))]
    return out


def _broken(before: str, after: str, at_width: bool = False, long_line: bool = False) -> bool:
    """Whether ``before`` ends mid-token and ``after`` carries on the same token."""
    if not before or not after:
        return False
    if after[0].isspace():
        # Broken at the width just before a space: "expected one of flux," + " sd1, sdxl".
        return (
            at_width
            and after[:1] == " "
            and after[1:2] not in (" ", "\t", "")
            and (not before[-1].isspace())
        )
    if before[-1].isspace():
        # Broken at a space at the width: the sentence goes on with a word or a value; a
        # table's padded row is followed by its next row, never by the rest of itself.
        return (
            at_width
            and not _table_rows(before, after)
            and before[-2:-1] != " "
            and (
                after[0].islower()
                or after[0] in "'\""  # a quoted word goes on: "(op: " + "'Assign')"
                or CONTINUED_VALUE.match(after) is not None
            )
        )
    if WHOLE_FILE.search(before) and PROSE_START.match(after):
        return False  # "…/config-f.pt" + "but got error:": a whole file name, then a sentence
    if FILE_NAME.search(before) and after[0].isupper():
        return False  # "--model_path assets/m1.png" + "Loading pipeline …": the next record
    in_path = IN_PATH.search(before) is not None and (
        after[0].islower() or after[0] in "-_./\\" or (before[-1] == "_" and after[0].isdigit())
    )
    if at_width and (after[0] in "=,)]:" or CUT_PATH.search(before) or in_path):
        return True  # "lhs shape" + "= [7,7,6,64]", "openllama-13b-" + "v7-fp16\\tokenizer"
    if at_width and FRAME_CUT.search(before) and re.fullmatch(r"\w+\s*", after):
        return True  # a traceback frame's function cut: "line 1004, in load_w" + "eights_..."
    # Inside a quoted name: the quote opened on this line is still open (an apostrophe
    # inside a word, "Can't", opens nothing).
    open_quote = False
    if "'" in before or '"' in before:
        quotes = APOSTROPHE.sub("", before)
        open_quote = quotes.count("'") % 2 == 1 or quotes.count('"') % 2 == 1
    if open_quote and re.match(r"^[\w.\-]+['\"]", after):
        return True
    if at_width and open_quote and re.match(r"^['\"](?:[\s,.;:\])]|$)", after):
        return True  # broken just before the closing quote: "shape '[640, 640]" + "' is"
    tail, head = _TAIL.search(before), _HEAD.match(after)
    if tail is None or head is None:
        return False
    if _OPEN_SIZE.search(before) and head.group(0)[0].isdigit():
        return True
    piece, rest = tail.group(0), head.group(0).rstrip("]),.:;")
    if piece.endswith(".") and rest.startswith("-"):
        return False  # a sentence ends, the next bullet begins: "identical arch." + "- MISSING:"
    word = (piece + rest).lower()
    long_line = long_line or len(before) >= MIN_BROKEN_LINE
    if (long_line if len(word) > 2 else at_width) and (
        _phrase_word(word) and not _phrase_word(piece.lower())
    ):
        return True  # a loading word a terminal broke: "...not in the c" + "heckpoint"
    if at_width and _phrase_word(word) and not _phrase_word(rest.lower()):
        # A word cut at the width, its first half a word of its own: "shape" + "s:",
        # "no at" + "tribute".
        return True
    if at_width and piece.isdigit() and rest[:1].isdigit():
        return True  # a number broken at the terminal's width: "(3200" + "1)"
    # A name broken at the terminal's width: "bac" + "kbone.conv1.weight",
    # "ema_backbone_la" + "yer_0_weight".
    if at_width and SLASHED_NAME.fullmatch(piece + after.split(maxsplit=1)[0]):
        return True  # a TensorFlow variable path: "c" + "onv2d_10_1/kernel"
    if at_width and _leaf(piece) is None and tokens.NAME_CHARS.fullmatch(word):
        return "." in word or ("_" in word and _leaf(word) is not None)
    if piece.endswith(".") or rest.startswith("."):
        return "." in piece + rest
    # A name whose parameter word the break cut: "layer_0_wei" + "ght", "blocks.0.attn.q" +
    # "kv.weight" (neither half ends in a parameter word, the whole does).
    if "." in word or ("_" in word and long_line):
        leaf = _leaf(word)
        return leaf is not None and _leaf(piece) is None and _leaf(rest) is None
    return False


def _table_rows(before: str, after: str) -> bool:
    """Whether two lines are rows of one table: their ``|`` columns at the same places."""
    bars = [i for i, c in enumerate(after) if c == "|"]
    return bool(bars) and all(before[i : i + 1] == "|" for i in bars)


SLASHED_NAME = re.compile(r"[A-Za-z_][\w.\-]*(?:/[\w.\-]+)+")
"""A TensorFlow variable path (``conv2d_10_1/kernel``)."""
FILE_NAME = re.compile(r"/[\w\-]+\.[A-Za-z][A-Za-z0-9]{1,4}$")
"""A path ending in a file name and its extension (``assets/m1.png``)."""
FRAME_CUT = re.compile(r"\bline\s+\d+,\s+in\s+\w+$")
"""A traceback frame line ending inside its function's name (``line 1004, in load_w``)."""
CUT_PATH = re.compile(r"\w[\-/\\]$")
"""A file path or name broken just after a separator (``openllama-13b-``), not a rule line."""

IN_PATH = re.compile(r"[\\/][\w.\-]+$")
"""A file path broken inside its last part (``D:\\openbudd`` + ``y-openllama``)."""

WHOLE_FILE = re.compile(r"\.(?:pth?|bin|ckpt|safetensors|gguf|onnx|h5|pkl|json|ya?ml)$")
"""A path that ends in a whole file name: its extension is complete."""
PROSE_START = re.compile(r"[a-z]+ ")
"""A line going on with a word and a space: a sentence, not the rest of a path."""

CONTINUED_VALUE = re.compile(r"(?:\d|\[\d|\(\d|torch\.Size)")
"""The start of a value a sentence carries on with past a break (``324 for 'Assign'``)."""

RECORD_MARK = re.compile(r"[^\s>|]")
"""A prefix holding more than quoting marks: a logger's (a timestamp, a level, a rank)."""
FUNCTION_RECORD = re.compile(r"[a-z]{2,}(?:_[a-z]{2,}){2,}:\s")
"""A line a C logger began with its function's name (llama.cpp's ``llama_model_load: ``,
``gguf_init_from_file_impl: ``): a record of its own, never the rest of a broken name."""

APOSTROPHE = re.compile(r"(?<=[A-Za-z])'(?=[A-Za-z])")


def _phrase_word(word: str) -> bool:
    """Whether a word belongs to a loading message weightfit reads."""
    return word in WRAPPED_WORDS or word in _message_words()


@functools.cache
def _message_words() -> frozenset[str]:
    """The words of every loading message the parsers read (``input``, ``and``, ``header``)."""
    words: set[str] = set()
    for module in (
        extract,
        tokens,
        shape_pairs,
        key_lists,
        *statements.modules(),
        torch_messages,
        transformers_messages,
        other_messages,
        tf_messages,
        ggml_messages,
    ):
        for value in vars(module).values():
            # Phrases only (words apart by whitespace), not lists of names or suffixes.
            if isinstance(value, re.Pattern) and r"\s+" in str(value.pattern):
                source = re.sub(r"\\[A-Za-z]|\(\?P<\w+>|\[[^\]]*\]", " ", value.pattern)
                words.update(w.lower() for w in re.findall(r"[A-Za-z][A-Za-z_]*[A-Za-z]", source))
    return frozenset(words)


def _leaf(token: str) -> str | None:
    """The parameter word a token ends with (``weight``, ``_weight``, ``running_mean``)."""
    last = token.rsplit(".", 1)[-1]
    match = tokens.PARAM_LEAF.fullmatch(last) or re.search(r"_(?:weight|bias)$", last)
    return match.group(0) if match else None
