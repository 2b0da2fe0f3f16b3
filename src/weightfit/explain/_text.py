r"""Text plumbing shared by the message parsers: cleaning, shapes, name lists, sections.

A pasted log arrives with ANSI colours, progress bars redrawn with ``\r``,
lines hard-wrapped by a terminal (a tensor name or a shape split at column 80)
and lists cut short with ``...``. :func:`clean` undoes what it can; the parsers'
patterns accept any whitespace (newlines included) between the words of a
message, so a soft wrap at a space needs no repair.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")
"""CSI sequences (colours, cursor moves) and OSC sequences (hyperlinks, titles)."""

MIN_WRAP_WIDTH = 60
"""Narrowest terminal width taken as a hard wrap: shorter repeated lengths are content."""

SIZE = r"torch\.Size\(\s*\[\s*([\d,\s]*)\]\s*\)"
"""A ``torch.Size([a, b])`` with its numbers captured (whitespace may hold a wrap)."""

TABLE = re.compile(r" \| |-\+-")
"""Rows of a padded table (transformers' load report): equal lengths, never a wrap."""

TRUNCATION = re.compile(r"\.\.\.|…|\band \d+ more\b")
"""How pasted lists show they were cut: ``...``, ``…``, ``and 12 more``."""

STAMPED = re.compile(
    r"\s*(?:\[?\d{4}-\d\d-\d\d[ T]\d\d:\d\d|\[?\d\d:\d\d:\d\d|\[rank\s*\d+\]|"
    r"(?:INFO|WARNING|WARN|ERROR|DEBUG|CRITICAL)\b)"
)
"""A line a logger began (a timestamp, a rank, a level): never the rest of a wrapped line."""

FIRST_WORDS = re.compile(r"\s*\S+\s+\S+")

QUOTED = re.compile(r"(?:>[^\S\n]?)+")
"""The marks a quoting reply puts before every line (``> ``, ``>> ``), wrapped ones too."""

NAME = re.compile(r"(?=[\w.\-]*[A-Za-z_])\w[\w.\-]*\w|[A-Za-z_]")
"""A state-dict key: dotted words with a letter somewhere (``nn.Sequential`` keys start
with a digit, ``0.weight``; a bare number such as ``32000`` is no key)."""


@dataclass
class Section:
    """What one loading message says about one model.

    Attributes:
        model: The model class the message names (``"SanaMS"``), or ``""``.
        origin: Which library's message it is (``"torch"``, ``"transformers"`` ...).
        start: Offset of the message in the cleaned text (sections sort by it).
        checkpoint: The checkpoint path or repo the message names, or ``""``.
        mismatched: Tensor name to (checkpoint shape, model shape).
        missing: Names the model has and the checkpoint lacks.
        unexpected: Names the checkpoint has and the model lacks.
        truncated: The message's lists were cut short (``...``).
        facts: What the text settles without a manifest (unsafe globals, LoRA
            reshapes, unreadable files), as the facts of
            :mod:`weightfit.diagnose.text_messages`; its rules make the findings.
        hints: Commands or files that would settle what the text cannot.
        text_facts: What the whole text says besides tensors
            (:class:`~weightfit.explain.statements.Facts`), for the text rules.
    """

    model: str
    origin: str
    start: int
    checkpoint: str = ""
    mismatched: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    truncated: bool = False
    facts: list[object] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    text_facts: Any = None

    @property
    def has_tensors(self) -> bool:
        """Whether the message named any tensor."""
        return bool(self.mismatched or self.missing or self.unexpected)

    def merge(self, other: Section) -> None:
        """Take in another message about the same load (transformers prints two)."""
        self.checkpoint = self.checkpoint or other.checkpoint
        self.mismatched.update(other.mismatched)
        self.missing += [n for n in other.missing if n not in self.missing]
        self.unexpected += [n for n in other.unexpected if n not in self.unexpected]
        self.truncated = self.truncated or other.truncated
        self.facts += other.facts
        self.hints += [h for h in other.hints if h not in self.hints]


def clean(text: str) -> str:
    """Strip colours and progress redraws, and rejoin lines a terminal hard-wrapped."""
    text = ANSI.sub("", text).replace("\r\n", "\n")
    # A progress bar redraws its line with \r: keep what was drawn last.
    lines = [line.rsplit("\r", 1)[-1] for line in text.split("\n")]
    return "\n".join(_unwrap(lines))


def _unwrap(lines: list[str]) -> list[str]:
    """Join each line that fills the terminal's width exactly to the line after it.

    A terminal breaks a long line at its width, mid-word; a paste keeps the
    break. The width is the longest line length that occurs more than once.
    """
    lengths = Counter(
        len(line) for line in lines if len(line) >= MIN_WRAP_WIDTH and not TABLE.search(line)
    )
    repeated = [length for length, count in lengths.items() if count > 1]
    if not repeated:
        return lines
    width = max(repeated)
    if any(len(line) > width for line in lines):
        return lines
    joined: list[str] = []
    carry = ""
    for line, following in zip(lines, [*lines[1:], ""], strict=True):
        if (
            len(line) == width
            and not TABLE.search(line)
            and not STAMPED.match(following)
            and not _same_start(line, following)
        ):
            carry += _unquoted(line) if carry else line
            continue
        joined.append(carry + (_unquoted(line) if carry else line))
        carry = ""
    if carry:
        joined.append(carry)
    return joined


def _same_start(line: str, following: str) -> bool:
    """Whether two lines begin with the same two words: two records of a log, not a wrap.

    ("lora key not loaded a..." twice, the longest lines of the paste of equal length.)
    """
    start = FIRST_WORDS.match(_unquoted(line))
    return start is not None and _unquoted(following).startswith(start.group(0))


def _unquoted(line: str) -> str:
    """The rest of a wrapped line without the marks a quoting reply put before it."""
    quote = QUOTED.match(line)
    return line[quote.end() :] if quote else line


def shape(numbers: str) -> tuple[int, ...]:
    """Read the inside of ``[a, b, c]`` (whitespace and newlines anywhere)."""
    return tuple(int(part) for part in re.findall(r"\d+", numbers))


def names_in(text: str) -> tuple[list[str], bool]:
    """Read a list of tensor names: quoted (``"a", 'b'``), bracketed or comma-separated.

    Returns:
        The names in order, without repeats, and whether the list was cut short.
    """
    truncated = bool(TRUNCATION.search(text))
    quoted = re.findall(r"""["']([^"'\n]*)["']""", text)
    if quoted:
        # diffusers quotes the whole joined list once: ['a, b, c'].
        parts = [p.strip() for q in quoted for p in q.split(",")]
    else:
        parts = [p.strip() for p in re.split(r"[,\n]", text.strip().strip("[]"))]
    names: list[str] = []
    for part in parts:
        for name in expand_braces(part.strip("[]. *`")):
            if NAME.fullmatch(name) and name not in names:
                names.append(name)
    return names, truncated


def expand_braces(name: str) -> list[str]:
    """Expand fvcore's grouped names: ``a.{b, c}.{weight, bias}`` → four names."""
    match = re.search(r"\{([^{}]*)\}", name)
    if match is None:
        return [name] if name else []
    head, tail = name[: match.start()], name[match.end() :]
    out = []
    for option in match.group(1).split(","):
        out += expand_braces(head + option.strip() + tail)
    return out


def cut(text: str, start: int, stops: list[int]) -> str:
    """Return ``text`` from ``start`` to the first stop after it (or the end)."""
    after = [s for s in stops if s > start]
    return text[start : min(after) if after else len(text)]
