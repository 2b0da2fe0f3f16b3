"""PyTorch's loading messages, and those of the tools that print them the same way.

- ``Module.load_state_dict``: ``Error(s) in loading state_dict for X:`` with
  ``Missing key(s) in state_dict: "a", ...``, ``Unexpected key(s) ...`` and
  ``size mismatch for NAME: copying a param with shape torch.Size([..]) from
  checkpoint, the shape in current model is torch.Size([..])`` (see
  ``torch/nn/modules/module.py``); several models may follow one another in a log.
- ``_IncompatibleKeys(missing_keys=[...], unexpected_keys=[...])``, the value a
  non-strict load returns, as people print it.
- mmengine's ``The model and loaded state dict do not match exactly`` block
  (``unexpected key in source state_dict: a, b`` / ``missing keys in source
  state_dict: ...``) and fvcore/detectron2's ``Skip loading parameter 'NAME' to the
  model due to incompatible shapes: (a, b) in the checkpoint but (c, d) in the
  model!`` with its grouped ``Some model parameters or buffers are not found in the
  checkpoint:`` lists (``a.{b, c}.weight``).
- the ``UnpicklingError`` of ``torch.load`` with ``weights_only=True``, naming the globals it
  refused: reported as non-model entries, with the security verdict of each.
"""

from __future__ import annotations

import re

from weightfit.diagnose.text_messages import RefusedGlobals
from weightfit.explain._text import SIZE, Section, cut, names_in, shape
from weightfit.explain.statements.magic import text_read_as_opcode

LOAD_STATE_DICT = re.compile(r"Error\(s\)\s+in\s+loading\s+state_dict\s+for\s+(\w+)\s*:")
SIZE_MISMATCH = re.compile(
    r"size\s+mismatch\s+for\s+(\S+?):\s*copying\s+a\s+param\s+with\s+shape\s+"
    + SIZE
    + r"\s+from\s+checkpoint,\s*the\s+shape\s+in\s+current\s+model\s+is\s+"
    + SIZE
)
MISSING = re.compile(r"Missing\s+key\(s\)\s+in\s+state_dict:")
UNEXPECTED = re.compile(r"Unexpected\s+key\(s\)\s+in\s+state_dict:")
INCOMPATIBLE = re.compile(
    r"_IncompatibleKeys\(\s*missing_keys=\[(.*?)\],\s*unexpected_keys=\[(.*?)\]\s*\)", re.S
)
MMENGINE = re.compile(r"The\s+model\s+and\s+loaded\s+state\s+dict\s+do\s+not\s+match\s+exactly")
MM_UNEXPECTED = re.compile(r"unexpected\s+key\s+in\s+source\s+state_dict:\s*([^\n]*)")
MM_MISSING = re.compile(r"missing\s+keys\s+in\s+source\s+state_dict:\s*([^\n]*)")
FVCORE_SKIP = re.compile(
    r"Skip\s+loading\s+parameter\s+'([^']+)'\s+to\s+the\s+model\s+due\s+to\s+incompatible\s+"
    r"shapes:\s*\(([\d,\s]*)\)\s+in\s+the\s+checkpoint\s+but\s+\(([\d,\s]*)\)\s+in\s+the\s+model"
)
FVCORE_MISSING = re.compile(
    r"Some\s+model\s+parameters\s+or\s+buffers\s+are\s+not\s+found\s+in\s+the\s+checkpoint:\s*\n"
    r"((?:[ \t]+\S[^\n]*\n?)+)"
)
FVCORE_UNEXPECTED = re.compile(
    r"The\s+checkpoint\s+state_dict\s+contains\s+keys\s+that\s+are\s+not\s+used\s+by\s+the\s+"
    r"model:\s*\n((?:[ \t]+\S[^\n]*\n?)+)"
)
WEIGHTS_ONLY = re.compile(
    r"Weights\s+only\s+load\s+failed|WeightsUnpickler\s+error|UnpicklingError:\s*Weights\s+only\b|"
    r"types\s+accepted\s+by\s+default\s+with\s+weights_only|"
    # The weights-only unpickler's own refusals, pasted without the message's opening.
    r"GLOBAL\s+[\w.]+\s+was\s+not\s+an\s+allowed\s+global|"
    r"Trying\s+to\s+load\s+unsupported\s+GLOBAL\s+[\w.]+\s+whose\s+module|"
    r"(?:allowlisted|whitelisted)\s+via\s+`?add_safe_globals`?"
)
"""PyTorch's weights-only refusal: its opening, its unpickler's error, (a paste that kept
only the message's end) the documentation line it closes with, or the unpickler's own
refusal of a global or an object (``torch/_weights_only_unpickler.py``)."""
UNSUPPORTED_GLOBAL = re.compile(
    r"(?:Unsupported\s+global:\s+)?GLOBAL\s+([\w.]+)\s+was\s+not\s+an\s+allowed\s+global|"
    r"Unsupported\s+global:\s+GLOBAL\s+([\w.]+)|"
    r"unsupported\s+GLOBAL\s+([\w.]+)\s+whose\s+module"
)
CHECKPOINT_PATH = re.compile(r"""(?:load|from)\w*\(?\s*['"]?([^\s'"()]+\.(?:pth?|ckpt|bin|pt))""")


def parse(text: str) -> list[Section]:
    """Find every PyTorch-style loading message in cleaned text."""
    return [
        *_load_state_dict(text),
        *_incompatible_keys(text),
        *_mmengine(text),
        *_fvcore(text),
        *_weights_only(text),
    ]


def _load_state_dict(text: str) -> list[Section]:
    starts = [(m.start(), m.group(1)) for m in LOAD_STATE_DICT.finditer(text)]
    stops = [s for s, _ in starts]
    sections = []
    for start, model in starts:
        body = cut(text, start, stops)
        section = Section(model=model, origin="torch", start=start)
        _read_body(body, section)
        sections.append(section)
    return sections


def _read_body(body: str, section: Section) -> None:
    """Read the size mismatches and key lists of one ``load_state_dict`` message."""
    for match in SIZE_MISMATCH.finditer(body):
        section.mismatched[match.group(1)] = (shape(match.group(2)), shape(match.group(3)))
    marks = [m.start() for m in (*MISSING.finditer(body), *UNEXPECTED.finditer(body))]
    marks += [m.start() for m in re.finditer(r"size\s+mismatch\s+for", body)]
    for pattern, target in ((MISSING, section.missing), (UNEXPECTED, section.unexpected)):
        for match in pattern.finditer(body):
            span = cut(body, match.end(), marks)
            # The list ends with '". ' before the next sentence of the traceback; a name
            # whose quote never closes was cut by the paste and stays out.
            ended = re.split(r'["\']\s*\.\s*(?:\n|$)', span, maxsplit=1)
            span = ended[0] + '"' if len(ended) > 1 else span
            names, truncated = names_in(span)
            target += [n for n in names if n not in target]
            # A list that stops on a comma, never reaching its closing '". ', was cut too.
            stopped = len(ended) == 1 and span.rstrip().endswith(",")
            section.truncated = section.truncated or truncated or stopped


def _incompatible_keys(text: str) -> list[Section]:
    sections = []
    for match in INCOMPATIBLE.finditer(text):
        section = Section(model="", origin="torch", start=match.start())
        section.missing, cut_missing = names_in(match.group(1)) if match.group(1) else ([], False)
        section.unexpected, cut_unexpected = (
            names_in(match.group(2)) if match.group(2) else ([], False)
        )
        section.truncated = cut_missing or cut_unexpected
        sections.append(section)
    return sections


def _mmengine(text: str) -> list[Section]:
    sections = []
    for match in MMENGINE.finditer(text):
        body = text[match.end() : match.end() + 200_000]
        following = MMENGINE.search(body)
        if following is not None:
            body = body[: following.start()]
        section = Section(model="", origin="mmengine", start=match.start())
        for pattern, target in ((MM_MISSING, section.missing), (MM_UNEXPECTED, section.unexpected)):
            found = pattern.search(body)
            if found is not None:
                names, truncated = names_in(found.group(1))
                target += names
                section.truncated = section.truncated or truncated
        for mismatch in SIZE_MISMATCH.finditer(body):
            section.mismatched[mismatch.group(1)] = (
                shape(mismatch.group(2)),
                shape(mismatch.group(3)),
            )
        sections.append(section)
    return sections


def _fvcore(text: str) -> list[Section]:
    skips = list(FVCORE_SKIP.finditer(text))
    missing = list(FVCORE_MISSING.finditer(text))
    unexpected = list(FVCORE_UNEXPECTED.finditer(text))
    if not (skips or missing or unexpected):
        return []
    start = min(m.start() for m in (*skips, *missing, *unexpected))
    section = Section(model="", origin="fvcore", start=start)
    for match in skips:
        section.mismatched[match.group(1)] = (shape(match.group(2)), shape(match.group(3)))
    for matches, target in ((missing, section.missing), (unexpected, section.unexpected)):
        for match in matches:
            names, truncated = names_in(match.group(1))
            target += [n for n in names if n not in target]
            section.truncated = section.truncated or truncated
    return [section]


def _weights_only(text: str) -> list[Section]:
    match = WEIGHTS_ONLY.search(text)
    if match is None:
        return []
    found = list(dict.fromkeys(next(g for g in m if g) for m in UNSUPPORTED_GLOBAL.findall(text)))
    path = CHECKPOINT_PATH.search(text)
    checkpoint = path.group(1) if path else "CKPT"
    section = Section(model="", origin="torch.load", start=match.start(), checkpoint=checkpoint)
    if found or not text_read_as_opcode(text):
        section.facts.append(RefusedGlobals(found))  # else the bytes are no pickle at all
    section.hints.append(
        f"list every global the pickle names, with a verdict, without running it: "
        f"weightfit inspect {checkpoint}"
    )
    return [section]
