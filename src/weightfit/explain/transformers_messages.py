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
size mismatch - ckpt: torch.Size([..]) vs model:torch.Size([..])``.
"""

from __future__ import annotations

import re

from weightfit.explain._text import SIZE, Section, names_in, shape

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
ROW = re.compile(
    r"^[^\S\n]*(\S+)[^\S\n]*\|[^\S\n]*(MISSING|UNEXPECTED|MISMATCH)[^\S\n]*\|([^\n]*)", re.M
)
"""One row of the table (a row is one line: whitespace never runs on into the next)."""
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


def _v5(text: str) -> list[Section]:
    heads = list(REPORT.finditer(text))
    sections = []
    for index, head in enumerate(heads):
        end = heads[index + 1].start() if index + 1 < len(heads) else len(text)
        section = Section(
            model=head.group(1), origin="transformers", start=head.start(), checkpoint=head.group(2)
        )
        for row in ROW.finditer(text, head.end(), end):
            name, status, detail = row.groups()
            if status == "MISSING":
                section.missing.append(name)
            elif status == "UNEXPECTED":
                section.unexpected.append(name)
            else:
                sizes = ROW_SIZES.search(detail)
                if sizes is not None:
                    section.mismatched[name] = (shape(sizes.group(1)), shape(sizes.group(2)))
        section.truncated = bool(re.search(r"^\s*\.\.\.", text[head.end() : end], re.M))
        sections.append(section)
    return sections
