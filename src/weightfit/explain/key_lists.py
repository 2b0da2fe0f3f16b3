"""Names only one side has: lists after *missing* / *unexpected* cues, and their kin.

A list introduced by a cue word (any dotted path, quoted or not), a row of a load report,
a stated key, a line of prose contrasting two names, and two listings of names one a line,
only one headed with its side.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterator

from weightfit.explain._text import Section, expand_braces
from weightfit.explain.shape_pairs import heading_line
from weightfit.explain.tokens import (
    MAX_NAMES,
    NAME_CHARS,
    NOT_A_NAME,
    PARAM_LEAF,
    SLASHED,
    Token,
    is_name,
)
from weightfit.explain.transformers_messages import REPORT_KEY, report_keys

ORPHAN_REACH = 5_000
"""Characters after a missing/unexpected cue within which a loose tensor name joins its side."""


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


TRUNCATION = re.compile(r"\.\.\.|…|\[\s*\.\.\.\s*\]|\(\s*\+\s*\d+\s+more\s*\)|\band \d+ more\b")


TABLE_ROW = re.compile(
    r"^[^\S\n]*" + REPORT_KEY + r"[^\S\n]*\|[^\S\n]*(MISSING|UNEXPECTED)[^\S\n]*\|", re.M
)
"""A row of transformers' v5 load report, pasted without its header."""


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


def read_prose_pair(text: str, tokens: list[Token], section: Section) -> None:
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


def read_one_headed_listings(text: str, section: Section) -> None:
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
        if listed and is_name(word, listed=True):
            if not previous or not blocks:
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
        last = SENTENCE_END.split(heading_line(text, block[0][0]))[-1]
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


def read_stated_keys(text: str, section: Section) -> None:
    """Read the keys a sentence states missing or unexpected (:data:`STATED_KEY`)."""
    for match in STATED_KEY.finditer(text):
        side, name = match.groups()
        target = section.missing if side.lower() == "missing" else section.unexpected
        if name not in target and name not in section.mismatched:
            target.append(name)


def read_table_rows(text: str, section: Section) -> None:
    """Read the rows of a load report pasted without its header (:data:`TABLE_ROW`)."""
    for match in TABLE_ROW.finditer(text):
        key, status = match.groups()
        target = section.missing if status == "MISSING" else section.unexpected
        target += [n for n in report_keys(key) if is_name(n, listed=True) and n not in target]


def read_lists(text: str, tokens: list[Token], in_mismatch: set[int], section: Section) -> None:
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


PROSE_LINE = re.compile(
    r"(?:^|\s)(?:the|were|was|they|did|not|but|because|from|those|these|which|should)"
    r"(?:\s+[a-z]+[,;]?){2}\s"
)
"""A line that reads as a sentence: a function word and two more plain words. A line of a
key list holds names (dotted, snake_case), never such a run of words."""


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
        if PROSE_LINE.search(stripped):
            break  # a sentence under the list (a legend's "- MISMATCH: ckpt weights were …")
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
            if name and is_name(name, listed=True, quoted=plain_ok) and name not in names:
                names.append(name)
    return names
