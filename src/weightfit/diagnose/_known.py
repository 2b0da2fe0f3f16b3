"""What the knowledge tables say about a number, as short labels for findings.

Rules decide from shapes; these helpers only *name* what a dimension matches
(``google/gemma-2-2b-it hidden_size``) so a finding can say which model or file
a width points to. What a library's own saves always hold, which rules of more than one
family read (fairseq's training state), is kept here too, so no rule imports another.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from weightfit import knowledge
from weightfit.manifest import TensorSpec

MIN_FAMILY_DIMS = 3
"""Dimensions a side must share with a family's signature (all equal) to be named after it."""

NEAR_VOCAB = 256
"""Rows within which a vocabulary is read as a known one plus added tokens."""

MIN_VOCAB_ROWS = 1000
"""Smallest row count read as a vocabulary (smaller row counts are label sets, or tables
sized by a setting: a prefix's length, a codebook)."""

WIDTH_STEP = 8
"""Widths are multiples of 8 (the hardware's tile); label and symbol counts need not be."""

FAIRSEQ_UPGRADE = re.compile(r"fairseq\W+checkpoint_utils\.py|_upgrade_state_dict")
"""fairseq's checkpoint loading, which upgrades any file it reads as its own training save."""
FAIRSEQ_STATE = ("best_loss", "optimizer_history")
"""Entries fairseq's training saves always hold (``_upgrade_state_dict`` rebuilds
``optimizer_history`` from ``best_loss``): a file with neither is no fairseq checkpoint."""


width_labels = knowledge.width_labels
"""Name the encoders and LLMs whose hidden size is a width (:func:`knowledge.width_labels`)."""


def latent_labels(channels: int) -> list[str]:
    """Name the autoencoder families whose latents have ``channels`` channels."""
    return _unique(row.family for row in knowledge.latent_models(channels))


def vocab_labels(rows: int) -> list[str]:
    """Name the vocabularies of ``rows`` rows, or the known one plus a few added tokens."""
    exact = _unique(row.label for row in knowledge.vocab_candidates(rows))
    if exact:
        return exact
    near = sorted(
        knowledge.vocab_candidates(rows, within=NEAR_VOCAB), key=lambda row: abs(row.value - rows)
    )
    return _unique(
        f"{row.value} {'+' if rows > row.value else '-'} {abs(rows - row.value)} ({row.label})"
        for row in near
    )


def family_labels(dims: Mapping[str, int], specs: Mapping[str, TensorSpec]) -> list[str]:
    """Name the model families one side matches.

    A family matches when its signature tensors are all present with their
    shapes, or when at least :data:`MIN_FAMILY_DIMS` of the dimensions inferred
    from the tensors are in its table row and all agree.
    """
    found = []
    for family in knowledge.families():
        signature = family.signature
        if signature and all(name in specs for name in signature):
            if all(specs[name].shape == shape for name, shape in signature.items()):
                found.append(family.family)
            continue
        shared = {name: value for name, value in dims.items() if name in family.dims}
        if len(shared) >= MIN_FAMILY_DIMS and family.matches(**shared):
            found.append(family.family)
    return found


def fairseq_state(text: str, key: str) -> bool:
    """Whether fairseq's checkpoint loading looked up the training state its saves hold."""
    return key in FAIRSEQ_STATE and FAIRSEQ_UPGRADE.search(text) is not None


def version_rename(source: str, target: str) -> str | None:
    """Describe the known benign library change that renames template ``source`` to ``target``."""
    old, new = _plain(source), _plain(target)
    for change in knowledge.version_changes():
        if change.kind != "rename" or not change.benign:
            continue
        # Rename templates stop where names agree; try them with a typical leaf too.
        for tail in ("", ".weight"):
            if change.renamed(old + tail) == new + tail:
                return f"{change.library} {change.version}: {change.description}"
    return None


def version_change(name: str) -> str | None:
    """Cite the known change that added or removed the buffer ``name``, if one did."""
    for change in knowledge.changes_for(name):
        if change.kind.startswith("buffer"):
            return f"{change.library} {change.version}: {change.source}"
    return None


def buffer_change(name: str) -> knowledge.VersionChange | None:
    """Return the known benign change that made the buffer ``name`` appear or disappear."""
    return next(
        (c for c in knowledge.changes_for(name) if c.kind.startswith("buffer") and c.benign),
        None,
    )


def table_renames(name: str) -> list[knowledge.VersionChange]:
    """Known benign changes that rename the tensor ``name`` (old layout), with a replacement.

    Changes that also alter values (``benign: false``) are left to their library's converter.
    """
    return [
        c for c in knowledge.changes_for(name) if c.kind == "rename" and c.replacement and c.benign
    ]


def _plain(pattern: str) -> str:
    """Turn a template's slots into plain segments (``blocks.{i}.x`` → ``blocks.i.x``)."""
    return pattern.replace("{", "").replace("}", "")


def _unique(labels: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(labels))
