"""Knowledge tables: facts about common models that name what a dimension means.

The facts are data, in YAML files beside this module, every row citing the
config (or release note, or source file) it was read from:

=========================  ===========================================================
``hidden_sizes.yaml``      widths text encoders, LLMs and vision towers hand on
``latent_channels.yaml``   latent channels of image and video autoencoders
``vocab_sizes.yaml``       embedding rows of common tokenizers / configs (and padding)
``class_counts.yaml``      output rows of heads trained on common datasets
``families.yaml``          shape signatures of model families and sizes
``version_changes.yaml``   state-dict changes between library versions
``pickled_classes.yaml``   classes YOLO codebases pickle (:mod:`.pickled_classes`)
``variant_features.yaml``  tensors only one variant of a model family builds
=========================  ===========================================================

Rules use them to *name* candidates ("2304 = google/gemma-2-2b-it hidden_size"),
never to decide: a finding rests on the shapes, and a table match is evidence.

Example:
    >>> [d.model for d in candidates_for_width(2304)]  # doctest: +SKIP
    ['google/gemma-2-2b-it']

"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

TABLES = (
    "hidden_sizes",
    "latent_channels",
    "vocab_sizes",
    "class_counts",
    "families",
    "version_changes",
    "variant_features",
    "rivals",
)


@dataclass(frozen=True)
class KnownDim:
    """One dimension of one model, as its config states it.

    Attributes:
        table: The table it comes from (``"hidden_sizes"`` ...).
        model: The model (hub id, or a description for widths pipelines combine).
        family: The model family (``"Gemma 2"``, ``"T5 v1.1"`` ...).
        kind: What sort of model or value (``"llm"``, ``"text-encoder"``, ``"tokenizer"`` ...).
        field: The config field the value is read from (``"hidden_size"``, ``"d_model"``).
        value: The dimension.
        source: Where it was read.
        note: Extra context (who uses it, what else shares the value).

    """

    table: str
    model: str
    family: str
    kind: str
    field: str
    value: int
    source: str
    note: str = ""

    @property
    def label(self) -> str:
        """Short text for a finding, e.g. ``google/gemma-2-2b-it hidden_size``."""
        return f"{self.model} {self.field}"


@dataclass(frozen=True)
class Family:
    """The shape signature of one model family and size.

    Attributes:
        family: Name, e.g. ``"SD 2.x UNet"``, ``"Llama 2 7B"``.
        model: The reference model the dimensions were read from.
        dims: Dimensions in the shared vocabulary (``hidden_size``, ``num_layers``,
            ``context_dim``, ``in_channels`` ... see ``families.yaml``).
        source: Where they were read.
        library: ``"transformers"`` / ``"diffusers"`` when ``config`` can build it.
        model_class: The class ``config`` builds.
        config: Arguments that build the family on ``meta`` (``None`` when not given).
        params: Published parameter count, when known.
        signature: Tensor name to shape, in that library's layout.
        note: Extra context.

    """

    family: str
    model: str
    dims: dict[str, int]
    source: str
    library: str | None = None
    model_class: str | None = None
    config: dict[str, Any] | None = None
    params: int | None = None
    signature: dict[str, tuple[int, ...]] = field(default_factory=dict)
    note: str = ""

    def matches(self, **dims: int) -> bool:
        """Whether every given dimension is known for this family and equal."""
        return all(self.dims.get(name) == value for name, value in dims.items())


@dataclass(frozen=True)
class VersionChange:
    """A known change of state-dict layout between library versions.

    Attributes:
        library: ``"transformers"``, ``"diffusers"``, ``"torch"`` ...
        version: The first release with the new layout; where the release is not known,
            a description that starts with a word (``"unknown 4.x release"``), which
            :func:`version_changes_between` never counts.
        kind: ``buffer-nonpersistent``, ``buffer-added``, ``rename``, ``prefix``, ``fused``,
            ``attribute`` (a module class gained an attribute its pickles lack), ``api``
            (a library returns another type than a loader's call on it expects), ``entry``
            (a library's loader reads a bookkeeping entry its older saves lack) or
            ``entry-renamed`` (a library's saves hold a bookkeeping entry under a new name).
        pattern: Regular expression over tensor names in the old layout (``Class.attribute``
            for ``attribute`` and ``api`` rows, ``package.entry`` for ``entry`` rows, the
            old entry name alone for ``entry-renamed`` rows).
        models: Which models it affects.
        benign: Whether ignoring / filling the entry, or the rename alone, gives the same
            model (``False``: the library's converter also changes values).
        description: What changed.
        source: Release note, pull request or source file.
        replacement: Old dotted token sequence to new one (renames, prefixes, renamed
            entries).

    """

    library: str
    version: str
    kind: str
    pattern: str
    models: str
    benign: bool
    description: str
    source: str
    replacement: dict[str, str] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        """One line for a finding: ``transformers 4.31.0: position_ids buffers ...``."""
        return f"{self.library} {self.version}: {self.description}"

    @property
    def fix_note(self) -> str:
        """What to do about it, from the kind of change."""
        notes = {
            "buffer-nonpersistent": "drop these entries: the model recomputes them",
            "buffer-added": "leave them missing: the model initialises them",
            "rename": "rename the tensors (the library does so on load)",
            "prefix": "change the prefix (the library does so on load)",
            "fused": "concatenate / split the tensors (the library does so on load)",
        }
        return notes.get(self.kind, "")

    def matches(self, name: str) -> bool:
        """Whether ``name`` (old layout) is affected by this change."""
        return re.search(self.pattern, name) is not None

    def renamed(self, name: str) -> str | None:
        """Return the new-layout name of ``name``, or ``None`` if this change keeps it."""
        if not self.replacement or not self.matches(name):
            return None
        tokens = name.split(".")
        for old, new in self.replacement.items():
            want = old.split(".")
            for start in range(len(tokens) - len(want) + 1):
                if tokens[start : start + len(want)] == want:
                    middle = new.split(".") if new else []
                    return ".".join(tokens[:start] + middle + tokens[start + len(want) :])
        return None

    def old_spelling(self, name: str) -> str | None:
        """Return the old-layout name this change turns into ``name`` (new layout), if any.

        Only replacements that leave a distinctive mark in the new name are undone: a
        removed prefix says nothing about where it stood, and a single new word
        (``weight`` for ``gamma``, ``lm_head``) is in countless names no change made.
        """
        tokens = name.split(".")
        for old, new in self.replacement.items():
            if new.count(".") < 1:
                continue
            want = new.split(".")
            for start in range(len(tokens) - len(want) + 1):
                if tokens[start : start + len(want)] == want:
                    candidate = ".".join(
                        tokens[:start] + old.split(".") + tokens[start + len(want) :]
                    )
                    if candidate != name and self.renamed(candidate) == name:
                        return candidate
        return None


@dataclass(frozen=True)
class VariantFeature:
    """Tensors only one variant of a model family builds (an optional module, a later generation).

    Attributes:
        feature: What the tensors are (``AlphaFold's predicted-TM-score head``).
        pattern: Regular expression over dotted tensor names (``re.search``).
        family: The family and the variants it tells apart.
        source: The code that builds the feature only in one variant.
    """

    feature: str
    pattern: str
    family: str
    source: str

    def matches(self, name: str) -> bool:
        """Whether ``name`` is one of this feature's tensors."""
        return re.search(self.pattern, name) is not None


def variant_feature(name: str) -> VariantFeature | None:
    """The feature whose tensors include ``name``, if any."""
    return next((row for row in _variant_features() if row.matches(name)), None)


def hidden_sizes() -> list[KnownDim]:
    """Every row of ``hidden_sizes.yaml``."""
    return list(_dims("hidden_sizes"))


def vocab_sizes() -> list[KnownDim]:
    """Every row of ``vocab_sizes.yaml``."""
    return list(_dims("vocab_sizes"))


@cache
def model_types() -> frozenset[str]:
    """The ``model_type`` names transformers registers (``model_types.yaml``)."""
    text = resources.files(__package__).joinpath("model_types.yaml").read_text(encoding="utf-8")
    return frozenset(yaml.safe_load(text)["model_types"])


def candidates_for_width(n: int) -> list[KnownDim]:
    """Models whose hidden size (or combined conditioning width) is ``n``.

    Example:
        >>> [d.model for d in candidates_for_width(1536)][:2]  # doctest: +SKIP
        ['Qwen/Qwen2-1.5B', 'Qwen/Qwen2.5-1.5B']

    """
    return [row for row in _dims("hidden_sizes") if row.value == n]


_WIDTH_KINDS = ("conditioning", "text-encoder", "llm")
"""Kinds of width rows named first: what conditions a model, before vision towers."""


def width_labels(width: int) -> list[str]:
    """Name the encoders and LLMs whose hidden size is ``width``, conditioning kinds first.

    Within a kind, rows whose note names the pipelines that use them (CLIP-L/14 for SD 1.x)
    come before rows that merely share the width (T5-base's 768).
    """
    rows = sorted(
        candidates_for_width(width),
        key=lambda row: (
            _WIDTH_KINDS.index(row.kind) if row.kind in _WIDTH_KINDS else 9,
            not row.note,
        ),
    )
    return list(dict.fromkeys(row.label for row in rows))


def latent_models(channels: int) -> list[KnownDim]:
    """Autoencoders whose latents have ``channels`` channels."""
    return [row for row in _dims("latent_channels") if row.value == channels]


def vocab_candidates(rows: int, *, within: int = 0) -> list[KnownDim]:
    """Tokenizers / configs whose vocabulary is ``rows`` (or within ``within`` of it).

    A few rows more than a known size usually means tokens were added; use
    ``within`` to find the base vocabulary those tokens were added to.
    """
    return [row for row in _dims("vocab_sizes") if abs(row.value - rows) <= within]


def datasets_with_classes(n: int) -> list[KnownDim]:
    """Datasets whose heads have ``n`` output rows (``1000`` → ImageNet-1k)."""
    return [row for row in _dims("class_counts") if row.value == n]


def families() -> list[Family]:
    """Every shape signature of ``families.yaml``, in file order."""
    return list(_families())


def families_matching(**dims: int) -> list[Family]:
    """Families whose signature has every given dimension with that value.

    Example:
        >>> matches = families_matching(context_dim=1024, model_channels=320)
        >>> [f.family for f in matches]
        ['SD 2.x UNet']

    """
    return [family for family in _families() if family.matches(**dims)]


def version_changes(library: str | None = None) -> list[VersionChange]:
    """Known layout changes between versions, optionally of one library."""
    return [c for c in _changes() if library is None or c.library == library]


def version_changes_between(library: str, old: str, new: str) -> list[VersionChange]:
    """Known changes of ``library`` made after version ``old`` up to ``new`` (either order).

    Versions compare by their leading numbers (``"4.31.0"``, ``"5"``); changes whose
    version has none (``"legacy"``) are never "between" two versions.

    Example:
        >>> [c.version for c in version_changes_between("transformers", "4.30.2", "4.33.0")]
        ['4.31.0', '4.32.0']

    """
    old_release, new_release = _release(old), _release(new)
    if old_release is None or new_release is None:
        return []
    low, high = sorted((old_release, new_release))
    return [
        change
        for change in _changes()
        if change.library == library
        and (release := _release(change.version)) is not None
        and low < release <= high
    ]


def _release(version: str) -> tuple[int, ...] | None:
    """Parse the leading dotted numbers of a version, three places (``"5"`` → ``(5, 0, 0)``)."""
    match = re.match(r"\d+(?:\.\d+)*", version.strip().lstrip("v"))
    if match is None:
        return None
    parts = tuple(int(p) for p in match.group().split("."))
    return (*parts, 0, 0, 0)[:3]


def changes_for(name: str) -> list[VersionChange]:
    """Known version changes that affect the tensor ``name`` (old layout)."""
    return [c for c in _changes() if c.matches(name)]


def changes_to(name: str) -> list[tuple[VersionChange, str]]:
    """Known renames and prefix changes that make ``name`` (new layout), with its old spelling."""
    return [
        (c, old)
        for c in _changes()
        if c.kind in ("rename", "prefix") and (old := c.old_spelling(name)) is not None
    ]


def load_table(name: str) -> list[dict[str, Any]]:
    """Return the raw rows of one table, as YAML gives them (for checks and tooling)."""
    if name not in TABLES:
        raise KeyError(f"no knowledge table {name!r}; tables: {', '.join(TABLES)}")
    text = resources.files(__package__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    rows = yaml.safe_load(text)
    if not isinstance(rows, list):
        raise ValueError(f"knowledge table {name!r} is not a list of rows")
    return rows


@cache
def _dims(table: str) -> tuple[KnownDim, ...]:
    return tuple(
        KnownDim(
            table=table,
            model=str(row["model"]),
            family=str(row["family"]),
            kind=str(row["kind"]),
            field=str(row["field"]),
            value=int(row["value"]),
            source=str(row["source"]),
            note=str(row.get("note", "")),
        )
        for row in load_table(table)
    )


@cache
def _families() -> tuple[Family, ...]:
    return tuple(
        Family(
            family=str(row["family"]),
            model=str(row["model"]),
            dims={str(k): int(v) for k, v in row["dims"].items()},
            source=str(row["source"]),
            library=row.get("library"),
            model_class=row.get("class"),
            config=row.get("config"),
            params=row.get("params"),
            signature={
                str(k): tuple(int(s) for s in v) for k, v in (row.get("signature") or {}).items()
            },
            note=str(row.get("note", "")),
        )
        for row in load_table("families")
    )


@cache
def _changes() -> tuple[VersionChange, ...]:
    return tuple(
        VersionChange(
            library=str(row["library"]),
            version=str(row["version"]),
            kind=str(row["kind"]),
            pattern=str(row["pattern"]),
            models=str(row["models"]),
            benign=bool(row["benign"]),
            description=str(row["description"]),
            source=str(row["source"]),
            replacement={str(k): str(v) for k, v in (row.get("replacement") or {}).items()},
        )
        for row in load_table("version_changes")
    )


@cache
def _variant_features() -> tuple[VariantFeature, ...]:
    """The rows of ``variant_features.yaml``, read once."""
    return tuple(
        VariantFeature(
            feature=str(row["feature"]),
            pattern=str(row["pattern"]),
            family=str(row["family"]),
            source=str(row["source"]),
        )
        for row in load_table("variant_features")
    )
