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

Names and shapes are read by :mod:`weightfit.explain.tokens`, a name's two shapes and their
sides by :mod:`weightfit.explain.shape_pairs`, and the names only one side has by
:mod:`weightfit.explain.key_lists`; :func:`extract` puts them in one section.

What the text says besides its tensors (:class:`~weightfit.explain.statements.Facts`) is
read by :mod:`weightfit.explain.statements`. Both read text that
:func:`weightfit.explain.paste.normalise` has already freed of what pasting does (colours,
escapes, log prefixes, hard wraps).
"""

from __future__ import annotations

import re

from weightfit.diagnose._facts import METADATA_ENTRIES, indexed
from weightfit.diagnose.text_nested import TRAINING_KEY
from weightfit.diagnose.text_variants import WALKS_KEYS
from weightfit.explain._text import Section, names_in
from weightfit.explain.key_lists import (
    read_lists,
    read_one_headed_listings,
    read_prose_pair,
    read_stated_keys,
    read_table_rows,
)
from weightfit.explain.shape_pairs import read_mismatches, read_unnamed
from weightfit.explain.statements import Facts, facts
from weightfit.explain.statements.lookups import (
    BUFFER_NAMES,
    BUFFER_NOT_SAVED,
    NOT_IN_FILE,
)
from weightfit.explain.tokens import is_name, read_tokens


def extract(text: str, known: Facts | None = None) -> Section:
    """Read every tensor a normalised text names into one section (``origin`` ``"text"``)."""
    known = known or facts(text)
    section = Section(model=known.model_class, origin="text", start=0)
    section.text_facts = known
    tokens = read_tokens(text)
    in_mismatch = read_mismatches(text, tokens, section)
    read_lists(text, tokens, in_mismatch, section)
    read_table_rows(text, section)
    read_stated_keys(text, section)
    if not section.mismatched:
        read_unnamed(text, tokens, section)
    if not (section.mismatched or section.missing or section.unexpected):
        read_prose_pair(text, tokens, section)
    if not (section.mismatched or section.missing or section.unexpected):
        read_one_headed_listings(text, section)
    # Caffe's statement names a layer outright: its name needs no dots to be one.
    known.unshaped = [
        name
        for m in UNSHAPED.finditer(text)
        if (name := m.group(1) or m.group(2) or m.group(3)) not in section.mismatched
        and (m.group(3) or is_name(name, listed=True))
    ]
    for match in UNMATCHED_LIST.finditer(text):
        listed, _ = names_in(match.group(1) or match.group(2))
        known.unshaped += [n for n in listed if n not in known.unshaped and is_name(n, listed=True)]
    for name in known.key_errors:
        dotted = "." in name or name in BUFFER_NAMES
        # A training checkpoint's metadata word looked up while code walks a dict's keys is
        # the file's top-level entry the model lacks (``model_dict[k]`` for k in the file).
        metadata = TRAINING_KEY.fullmatch(name) or name in METADATA_ENTRIES
        walked = metadata and WALKS_KEYS.search(text) and not indexed(text, name)
        tensor = (
            (dotted and is_name(name, listed=True))
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
        if is_name(name, listed=True) and "." in name and name not in section.missing:
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
