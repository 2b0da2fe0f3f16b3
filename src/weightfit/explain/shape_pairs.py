"""Two shapes of one tensor, and which is the checkpoint's: size mismatches in any wording.

A name followed (or surrounded) by two shapes is a mismatch; each shape is bound to the
checkpoint or the model by the cue words next to it, else by order (checkpoint first). Two
listings of the same names with a shape each, and two shapes with no name, are read here too.
"""

from __future__ import annotations

import itertools
import re

from weightfit.diagnose._facts import UNNAMED
from weightfit.explain._text import Section
from weightfit.explain.statements.counts import BROADCAST
from weightfit.explain.tf_messages import torch_layout
from weightfit.explain.tokens import Token

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


def read_mismatches(text: str, tokens: list[Token], section: Section) -> set[int]:
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


def _parallel_listings(text: str, tokens: list[Token], section: Section) -> set[int]:
    """Read two listings of the same names, one shape each, headed by their sides.

    ``I got a model with:`` and lines ``emb.weight torch.Size([4135, 192])``, then ``but in
    the pretrained model, it is:`` and the same names with other shapes: each name's two
    shapes. The listing whose heading line names the checkpoint (pretrained, saved,
    downloaded …) is the checkpoint's; when neither or both do, nothing is read. Returns
    the offsets of the names read.
    """
    blocks: list[list[tuple[Token, Token]]] = []
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
                bool(CHECKPOINT_LEAD.search(heading_line(text, b[0][0].start)))
                for b in (first, second)
            ]
            if saved[0] == saved[1]:
                return set()
            held, built = (first, second) if saved[0] else (second, first)
            for (name, have), (_, want) in zip(held, built, strict=True):
                if have.shape != want.shape and have.shape is not None and want.shape is not None:
                    section.mismatched.setdefault(name.name, (have.shape, want.shape))
            return {n.start for n, _ in (*first, *second)}
    return set()


def _whole_line(text: str, name: Token, shape: Token) -> bool:
    """Whether a name and a shape are a line's whole content."""
    start = text.rfind("\n", 0, name.start) + 1
    end = text.find("\n", shape.end)
    end = len(text) if end < 0 else end
    return (
        not text[start : name.start].strip()
        and LISTING_GAP.fullmatch(text[name.end : shape.start]) is not None
        and not text[shape.end : end].strip(" \t,;.")
    )


def heading_line(text: str, start: int) -> str:
    """The last line with words before a listing that starts at ``start``."""
    lines = [line for line in text[max(0, start - 300) : start].splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _labelled_again(text: str, tokens: list[Token], index: int) -> int | None:
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


def _shapes_after(text: str, tokens: list[Token], index: int) -> list[int]:
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


def _named_after(text: str, tokens: list[Token], index: int) -> bool:
    """Whether a name closes a statement whose two shapes came just before it."""
    if index < 2 or any(tokens[j].shape is None for j in (index - 2, index - 1)):
        return False
    first, second = tokens[index - 2], tokens[index - 1]
    return (
        NAMED_AFTER.fullmatch(text[second.end : tokens[index].start]) is not None
        and len(text[first.end : second.start]) < 80
        and not _crosses_statement(text[first.end : tokens[index].start])
    )


def _shapes_before(text: str, tokens: list[Token], index: int) -> list[int]:
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


def _labels_shape(text: str, tokens: list[Token], shape: int, *, other_than: str) -> bool:
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


def _sides(text: str, tokens: list[Token], pair: list[int], name_index: int) -> bool:
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
    r"not\s+the\s+same\s+shape|"
    # PyTorch's size mismatch pasted from its shapes on, its name cut off.
    r"from\s+checkpoint,\s+the\s+shape\s+in\s+current\s+model\s+is",
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


def read_unnamed(text: str, tokens: list[Token], section: Section) -> None:
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


def _labelled_pair(text: str, first: Token, second: Token, section: Section) -> None:
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
