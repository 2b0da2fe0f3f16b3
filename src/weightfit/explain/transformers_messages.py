"""transformers' loading messages: the v4 warnings and the v5 load report table.

v4 (``modeling_utils._load_pretrained_model``; diffusers copies them):

- ``Some weights of X were not initialized from the model checkpoint at Y and are
  newly initialized: ['a', 'b']`` (missing);
- ``... newly initialized because the shapes did not match:`` then one line per
  tensor, ``- NAME: found shape torch.Size([..]) in the checkpoint and
  torch.Size([..]) in the model instantiated``;
- ``Some weights of the model checkpoint at Y were not used when initializing X:
  ['a', 'b']`` (unexpected).

v5 prints one table per load (``X LOAD REPORT from: Y``), a row per key:
``NAME | MISSING``, ``NAME | UNEXPECTED`` or ``NAME | MISMATCH | Reinit due to
size mismatch - ckpt: torch.Size([..]) vs model:torch.Size([..])``. A row stands for every
key that differs only in its indices (``utils/loading_report.py``, ``update_key_name``):
``layers.{0, 1}.mlp.weight``, or ``layers.{0...31}.mlp.weight`` past ten of them.
"""

from __future__ import annotations

import re

from weightfit.explain._text import SIZE, Section, expand_braces, names_in, shape

NOT_INITIALIZED = re.compile(
    r"Some\s+weights\s+of\s+(\w+)\s+were\s+not\s+initialized\s+from\s+the\s+model\s+checkpoint\s+"
    r"at\s+(\S+)\s+and\s+are\s+newly\s+initialized(\s+because\s+the\s+shapes\s+did\s+not\s+match)?"
    r"\s*:"
)
NOT_USED = re.compile(
    r"Some\s+weights\s+of\s+the\s+model\s+checkpoint\s+at\s+(\S+)\s+were\s+not\s+used\s+when\s+"
    r"initializing\s+(\w+)\s*:"
)
FOUND_SHAPE = re.compile(
    r"-\s*(\S+?):\s*found\s+shape\s+" + SIZE + r"\s+in\s+the\s+checkpoint\s+and\s+" + SIZE
)
BLOCK_END = re.compile(r"You\s+should\s+probably\s+TRAIN|Some\s+weights\s+of|LOAD\s+REPORT")
"""What ends the per-tensor lines of a v4 shape message (they may be soft-wrapped)."""
REPORT = re.compile(r"(\w+)\s+LOAD\s+REPORT\s+from:\s*(\S+)")
REPORT_KEY = r"((?:[^\s{|]|\{\d+(?:(?:,[^\S\n]*|\.\.\.)\d+)*\})+)"
"""A key of the table, its merged indices in braces (``layers.{0, 1}.w``, ``{0...31}``)."""
ROW = re.compile(
    r"^[^\S\n]*"
    + REPORT_KEY
    + r"[^\S\n]*\|[^\S\n]*(MISSING|UNEXPECTED|MISMATCH)[^\S\n]*\|([^\n]*)",
    re.M,
)
"""One row of the table (a row is one line: whitespace never runs on into the next)."""
INDEX_RANGE = re.compile(r"\{(\d+)\.\.\.(\d+)\}")
"""Merged indices past ten, printed as their first and last (``{0...31}``)."""
MAX_RANGE = 4096
"""The widest ``{first...last}`` read as every index between; a wider one keeps its ends."""
ROW_SIZES = re.compile(r"ckpt:\s*" + SIZE + r"\s*vs\s*model:\s*" + SIZE)


def parse(text: str) -> list[Section]:
    """Find every transformers (or diffusers) loading message in cleaned text."""
    return [*_v4(text), *_v5(text)]


def _list_after(text: str, start: int) -> tuple[list[str], bool]:
    """Read the ``['a', 'b']`` list that follows a v4 message."""
    match = re.match(r"\s*\[(.*?)\]", text[start:], re.S)
    if match is None:
        return [], False
    return names_in(match.group(1))


def _v4(text: str) -> list[Section]:
    sections = []
    for match in NOT_INITIALIZED.finditer(text):
        section = Section(
            model=match.group(1),
            origin="transformers",
            start=match.start(),
            checkpoint=match.group(2),
        )
        if match.group(3):
            block = text[match.end() :]
            stop = BLOCK_END.search(block)
            block = block[: stop.start()] if stop else block
            for found in FOUND_SHAPE.finditer(block):
                section.mismatched[found.group(1)] = (shape(found.group(2)), shape(found.group(3)))
        else:
            section.missing, section.truncated = _list_after(text, match.end())
        sections.append(section)
    for match in NOT_USED.finditer(text):
        section = Section(
            model=match.group(2),
            origin="transformers",
            start=match.start(),
            checkpoint=match.group(1),
        )
        section.unexpected, section.truncated = _list_after(text, match.end())
        sections.append(section)
    return sections


def report_keys(key: str) -> list[str]:
    """The keys one row of the table stands for: ``a.{0...2}.b`` → ``a.0.b``, ``a.1.b``, ``a.2.b``.

    A range printed as its ends may skip indices between them; every index is the reading
    that names the most keys, and the rules read layer stacks from it.
    """

    def spelled(match: re.Match[str]) -> str:
        first, last = int(match.group(1)), int(match.group(2))
        ends = range(first, last + 1) if last - first < MAX_RANGE else (first, last)
        return "{" + ", ".join(map(str, ends)) + "}"

    return expand_braces(INDEX_RANGE.sub(spelled, key))


def _v5(text: str) -> list[Section]:
    heads = list(REPORT.finditer(text))
    sections = []
    for index, head in enumerate(heads):
        end = heads[index + 1].start() if index + 1 < len(heads) else len(text)
        section = Section(
            model=head.group(1), origin="transformers", start=head.start(), checkpoint=head.group(2)
        )
        for row in ROW.finditer(text, head.end(), end):
            key, status, detail = row.groups()
            names = report_keys(key)
            if status == "MISSING":
                section.missing += names
            elif status == "UNEXPECTED":
                section.unexpected += names
            else:
                sizes = ROW_SIZES.search(detail)
                if sizes is not None:
                    pair = (shape(sizes.group(1)), shape(sizes.group(2)))
                    section.mismatched.update(dict.fromkeys(names, pair))
        section.truncated = bool(re.search(r"^\s*\.\.\.", text[head.end() : end], re.M))
        sections.append(section)
    return sections
