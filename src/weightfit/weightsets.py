"""Weight sets: which files in one model folder belong together.

A model or component folder written by transformers, diffusers or PEFT can
hold several copies of the same weights: precision variants
(``model.bf16.safetensors``), pickles beside safetensors
(``pytorch_model.bin``), sharded and single-file copies. This module groups the
file names of one folder into weight sets (:class:`WeightSet`) by

- **prefix**: ``model``, ``pytorch_model``, ``diffusion_pytorch_model``,
  ``adapter_model`` ... (any stem for other names),
- **variant**: the label between prefix and extension (``bf16``, ``fp16``,
  ``ema``, ``int4``), ``None`` when unlabelled,
- **format**: ``safetensors``, ``pickle`` (``.bin .pt .pth .ckpt``), ``gguf``, ``numpy``,
- **layout**: one file, or shards ``-00001-of-00002`` with their index.

File names follow the ``_add_variant`` convention of transformers and diffusers
(``utils/hub_utils.py``; the regular expressions of diffusers
``pipeline_loading_utils.variant_compatible_siblings``):

=====================  ===================================================
single file            ``model.safetensors``, ``model.bf16.safetensors``
shard (current)        ``model.bf16-00001-of-00002.safetensors``
shard (legacy)         ``model-00001-of-00002.bf16.safetensors``
index (current)        ``model.safetensors.index.json``, ``model.safetensors.index.bf16.json``
index (legacy)         ``model.safetensors.bf16.index.json``
=====================  ===================================================

Everything here is pure data over file names and sizes: nothing is opened or
parsed, and no framework is imported. :func:`group` works on any listing (a
folder, a hub listing, a seed case), :func:`discover` lists a real folder, and
:func:`select` picks the set a reader should use. Which set a given library
version would load is :mod:`weightfit.lint.resolution`'s job, built on these.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from weightfit.errors import CheckpointNotFound, VariantNotFound
from weightfit.manifest import human_bytes

Layout = Literal["single", "sharded", "legacy-sharded"]
"""``single`` file; ``sharded`` with the variant before the shard number
(``model.bf16-00001-of-00002``); ``legacy-sharded`` with it after
(``model-00001-of-00002.bf16``, diffusers before 0.27)."""

EXTENSION_FORMATS: dict[str, str] = {
    "safetensors": "safetensors",
    "bin": "pickle",
    "pt": "pickle",
    "pth": "pickle",
    "ckpt": "pickle",
    "gguf": "gguf",
    "npz": "numpy",
}
"""Weight file extension to the family of reader that handles it."""

KNOWN_PREFIXES: tuple[str, ...] = (
    "model",
    "pytorch_model",
    "diffusion_pytorch_model",
    "adapter_model",
    "consolidated",
)
"""Prefixes that transformers (``SAFE_WEIGHTS_NAME``, ``WEIGHTS_NAME``), diffusers,
PEFT (``SAFETENSORS_WEIGHTS_NAME``) and Mistral's reference code write."""

KNOWN_VARIANTS: tuple[str, ...] = (
    "bf16",
    "fp16",
    "fp32",
    "fp8",
    "int4",
    "int8",
    "ema",
    "non_ema",
    "ema-only",
    "pruned",
)
"""Labels recognised as a variant after a prefix weightfit does not know.

After a known prefix any single dot-field is a variant, as in diffusers."""

TRAINING_STATE_PREFIXES: tuple[str, ...] = (
    "optimizer",
    "scheduler",
    "training_args",
    "rng_state",
    "scaler",
    "trainer_state",
    "random_states",
)
"""Stems of the non-weight files transformers' ``Trainer`` and accelerate's ``save_state``
save beside a model."""

TRAINING_STATE_SUFFIXES: tuple[str, ...] = ("optim_states",)
"""Stem endings of optimizer-state files: DeepSpeed's per-rank
``zero_pp_rank_0_mp_rank_00_optim_states.pt`` (``bf16_`` first under bf16)."""

_SHARD = re.compile(r"^(?P<head>.+)-(?P<index>\d+)-of-(?P<total>\d+)(?:\.(?P<legacy>[^.]+))?$")
_INDEX = re.compile(
    r"^(?P<stem>.+)\.(?P<ext>[a-z]+)\."
    r"(?:index(?:\.(?P<variant>[^.]+))?|(?P<legacy>[^.]+)\.index)\.json$"
)
_FORMAT_ORDER = ("safetensors", "pickle", "gguf", "numpy")


@dataclass(frozen=True)
class WeightFile:
    """What a weight file's name says about it.

    Attributes:
        name: The file name (no folder).
        prefix: ``"model"``, ``"diffusion_pytorch_model"`` ... or the stem of another name.
        variant: The variant label, ``None`` when unlabelled.
        format: ``"safetensors"``, ``"pickle"``, ``"gguf"`` or ``"numpy"``.
        layout: ``"single"``, ``"sharded"`` or ``"legacy-sharded"``.
        shard: 1-based shard number, ``None`` for a single file.
        shards: Shard count the name declares (``-of-00002``), ``None`` for a single file.

    """

    name: str
    prefix: str
    variant: str | None
    format: str
    layout: Layout
    shard: int | None = None
    shards: int | None = None


@dataclass(frozen=True)
class IndexFile:
    """What a shard index's name says about it.

    Attributes:
        name: The file name (no folder).
        prefix: The weight-file prefix it indexes (``"model"``).
        variant: The variant label, ``None`` when unlabelled.
        format: Format of the shards it indexes (from ``.safetensors.`` / ``.bin.``).
        legacy: ``True`` for ``name.safetensors.<variant>.index.json``.

    """

    name: str
    prefix: str
    variant: str | None
    format: str
    legacy: bool = False


@dataclass(frozen=True)
class WeightSet:
    """Files in one folder that together hold one copy of a model's weights.

    Attributes:
        folder: The folder the names are relative to.
        prefix: Weight-file prefix (``"model"``, ``"diffusion_pytorch_model"`` ...).
        variant: Variant label (``"bf16"``), ``None`` for the unlabelled set.
        format: ``"safetensors"``, ``"pickle"``, ``"gguf"`` or ``"numpy"``.
        layout: ``"single"``, ``"sharded"`` or ``"legacy-sharded"``.
        files: Weight file names, in shard order.
        index: Name of the shard index, ``None`` if there is none.
        shards: Shard count the file names declare, ``None`` for a single file.
        total_bytes: Sum of the weight files' sizes (the index excluded).

    """

    folder: Path
    prefix: str
    variant: str | None
    format: str
    layout: Layout
    files: tuple[str, ...]
    index: str | None = None
    shards: int | None = None
    total_bytes: int = 0

    @property
    def sharded(self) -> bool:
        """Whether the weights are split over shard files."""
        return self.layout != "single"

    @property
    def paths(self) -> list[Path]:
        """Full paths of the weight files."""
        return [self.folder / name for name in self.files]

    @property
    def index_path(self) -> Path | None:
        """Full path of the shard index, if there is one."""
        return self.folder / self.index if self.index else None

    @property
    def missing_shards(self) -> list[int]:
        """Shard numbers the names declare but no file has (1-based)."""
        if self.shards is None:
            return []
        present = {parse_name(name).shard for name in self.files}  # type: ignore[union-attr]
        return [i for i in range(1, self.shards + 1) if i not in present]

    @property
    def is_training_state(self) -> bool:
        """Whether the files are a trainer's optimizer, scheduler or RNG state."""
        return self.prefix.startswith(TRAINING_STATE_PREFIXES) or self.prefix.endswith(
            TRAINING_STATE_SUFFIXES
        )

    @property
    def label(self) -> str:
        """A short name: ``model.bf16 (safetensors, 2 shards + index)``."""
        stem = f"{self.prefix}.{self.variant}" if self.variant else self.prefix
        if not self.files:
            how = "index only, no shards"
        elif self.sharded:
            count = len(self.files)
            how = f"{count} shard{'s' if count != 1 else ''}"
            if self.shards is not None and count != self.shards:
                how = f"{count} of {self.shards} shards"
            how += " + index" if self.index else ", no index"
            if self.layout == "legacy-sharded":
                how += ", legacy names"
        else:
            how = "1 file"
        return f"{stem} ({self.format}, {how})"

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON and ``Manifest.extras["weight_sets"]``."""
        return {
            "prefix": self.prefix,
            "variant": self.variant,
            "format": self.format,
            "layout": self.layout,
            "files": list(self.files),
            "index": self.index,
            "shards": self.shards,
            "missing_shards": self.missing_shards,
            "total_bytes": self.total_bytes,
        }

    def __repr__(self) -> str:
        return f"<WeightSet {self.label} {human_bytes(self.total_bytes)}>"


def parse_name(name: str) -> WeightFile | IndexFile | None:
    """Read what a file name says: a weight file, a shard index, or neither.

    Args:
        name: A file name without its folder.

    Returns:
        A :class:`WeightFile`, an :class:`IndexFile`, or ``None`` for other files
        (``config.json``, ``README.md``, ``tokenizer.model`` ...).

    Example:
        >>> parse_name("model.bf16-00001-of-00002.safetensors")
        WeightFile(name='model.bf16-00001-of-00002.safetensors', prefix='model', variant='bf16', format='safetensors', layout='sharded', shard=1, shards=2)

    """  # noqa: E501
    index = _INDEX.match(name)
    if index and index["ext"] in EXTENSION_FORMATS:
        variant = index["variant"] or index["legacy"]
        return IndexFile(
            name=name,
            prefix=index["stem"],
            variant=variant,
            format=EXTENSION_FORMATS[index["ext"]],
            legacy=index["legacy"] is not None,
        )
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or ext not in EXTENSION_FORMATS:
        return None
    fmt = EXTENSION_FORMATS[ext]
    shard = _SHARD.match(stem)
    if shard is None:
        prefix, variant = _split_variant(stem)
        return WeightFile(name, prefix, variant, fmt, "single")
    number, total = int(shard["index"]), int(shard["total"])
    if shard["legacy"] is not None:
        return WeightFile(
            name, shard["head"], shard["legacy"], fmt, "legacy-sharded", number, total
        )
    prefix, variant = _split_variant(shard["head"])
    return WeightFile(name, prefix, variant, fmt, "sharded", number, total)


def group(
    names: Iterable[str],
    *,
    folder: str | Path = ".",
    sizes: Mapping[str, int] | None = None,
) -> list[WeightSet]:
    """Group the file names of one folder into weight sets.

    Shards group by prefix, variant, format, layout and declared shard count, so
    a stale ``-of-00003`` set beside a ``-of-00002`` one stays separate. An index
    joins the sharded set with the same prefix, variant and format (the same
    naming style first); an index with no shards is a set of its own with no files.

    Args:
        names: File names in the folder (other files are ignored).
        folder: The folder they are in, recorded on each set.
        sizes: File sizes by name, for ``total_bytes`` (0 when absent).

    Returns:
        The weight sets, sorted: by prefix, unlabelled before variants, safetensors
        first, single before sharded.

    """
    sizes = sizes or {}
    folder = Path(folder)
    weights: dict[tuple[str, str | None, str, Layout, int | None], list[WeightFile]] = {}
    indexes: list[IndexFile] = []
    for name in sorted(set(names)):
        parsed = parse_name(name)
        if isinstance(parsed, IndexFile):
            indexes.append(parsed)
        elif parsed is not None:
            key = (parsed.prefix, parsed.variant, parsed.format, parsed.layout, parsed.shards)
            weights.setdefault(key, []).append(parsed)
    attached = _attach_indexes({key: len(files) for key, files in weights.items()}, indexes)
    sets = [
        WeightSet(
            folder=folder,
            prefix=prefix,
            variant=variant,
            format=fmt,
            layout=layout,
            files=tuple(f.name for f in sorted(files, key=lambda f: f.shard or 0)),
            index=attached.get((prefix, variant, fmt, layout, shards)),
            shards=shards,
            total_bytes=sum(sizes.get(f.name, 0) for f in files),
        )
        for (prefix, variant, fmt, layout, shards), files in weights.items()
    ]
    used = set(attached.values())
    sets += [
        WeightSet(folder, i.prefix, i.variant, i.format, "sharded", (), i.name)
        for i in indexes
        if i.name not in used
    ]
    return sorted(sets, key=_order)


def discover(folder: str | Path) -> list[WeightSet]:
    """List the weight sets in one folder (not its subfolders).

    Args:
        folder: A model, component or adapter folder.

    Returns:
        The weight sets, as :func:`group` sorts them; empty if there are none.

    Raises:
        CheckpointNotFound: ``folder`` does not exist or is not a folder.

    Example:
        >>> [s.label for s in discover("tiny-llama")]  # doctest: +SKIP
        ['model (safetensors, 2 shards + index)', 'model.bf16 (safetensors, 1 file)']

    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointNotFound("no such folder", path=folder)
    sizes = {
        entry.name: entry.stat().st_size
        for entry in folder.iterdir()
        if entry.is_file() and parse_name(entry.name) is not None
    }
    return group(sizes, folder=folder, sizes=sizes)


def select(
    sets: Sequence[WeightSet],
    *,
    variant: str | None = None,
    weights_format: str | None = None,
    prefixes: Sequence[str] = (),
    prefer_sharded: bool = False,
) -> tuple[WeightSet, str]:
    """Choose the weight set a reader should use, and say why.

    The rules, in order: the ``variant`` asked for (else the unlabelled sets, else
    the only set there is); the ``weights_format`` asked for (else safetensors
    first); the first of ``prefixes`` present (else the known prefixes, leaving out
    a trainer's optimizer and RNG files); sets with weight files over an index
    whose shards are all missing; then sharded over single files when
    ``prefer_sharded`` (diffusers looks for an index first, transformers for a
    single file first).

    Args:
        sets: The folder's weight sets (from :func:`discover`).
        variant: Variant label asked for, ``None`` for the unlabelled weights.
        weights_format: ``"safetensors"`` or ``"pickle"`` to force one format.
        prefixes: Prefixes the folder's library reads, most wanted first.
        prefer_sharded: Break a tie between a single file and shards for the shards.

    Returns:
        The chosen set and a short reason (``"variant 'bf16' as asked"``).

    Raises:
        VariantNotFound: no set fits, or several fit equally well; the message
            lists the sets there are.

    """
    if not sets:
        raise VariantNotFound("no weight files")
    folder = sets[0].folder
    reasons: list[str] = []
    if variant is not None:
        candidates = [s for s in sets if s.variant == variant]
        if not candidates:
            raise VariantNotFound(f"no {variant!r} weights; {_listing(sets)}", path=folder)
        reasons.append(f"variant {variant!r} as asked")
    else:
        candidates = [s for s in sets if s.variant is None]
        if candidates:
            reasons.append("unlabelled")
        elif len(sets) == 1:
            candidates = list(sets)
            reasons.append("the only weight set")
        else:
            raise VariantNotFound(
                f"no unlabelled weights; pass a variant ({_listing(sets)})", path=folder
            )
    if weights_format is not None:
        candidates = [s for s in candidates if s.format == weights_format]
        if not candidates:
            raise VariantNotFound(f"no {weights_format} weights; {_listing(sets)}", path=folder)
        reasons.append(f"{weights_format} as asked")
    else:
        best = min(_FORMAT_ORDER.index(s.format) for s in candidates)
        if any(_FORMAT_ORDER.index(s.format) != best for s in candidates):
            reasons.append(f"{_FORMAT_ORDER[best]} preferred")
        candidates = [s for s in candidates if _FORMAT_ORDER.index(s.format) == best]
    narrowed = _by_prefix(candidates, prefixes)
    if len(narrowed) < len(candidates):
        reasons.append(f"prefix {narrowed[0].prefix!r} preferred")
    candidates = narrowed
    if len(candidates) > 1 and any(s.files for s in candidates):
        candidates = [s for s in candidates if s.files]
    if len(candidates) > 1 and len({s.prefix for s in candidates}) == 1:
        wanted = [s for s in candidates if s.sharded == prefer_sharded]
        if wanted:
            reasons.append("sharded preferred" if prefer_sharded else "single file preferred")
            candidates = wanted
    if len(candidates) > 1 and all(s.is_training_state for s in candidates):
        names = ", ".join(s.label for s in candidates)
        raise VariantNotFound(
            f"no model weights, only a trainer's optimizer, scheduler or RNG state: {names}; "
            "the weights file is missing from the saved state",
            path=folder,
        )
    if len(candidates) > 1:
        names = ", ".join(s.label for s in candidates)
        raise VariantNotFound(
            f"several weight sets fit equally: {names}; pass the path of one file "
            "(or its shard index) to read it",
            path=folder,
        )
    return candidates[0], ", ".join(reasons)


def _split_variant(head: str) -> tuple[str, str | None]:
    """Split ``model.bf16`` into prefix and variant; other dotted stems stay whole."""
    prefix, dot, rest = head.partition(".")
    if dot and prefix in KNOWN_PREFIXES and rest and "." not in rest:
        return prefix, rest
    base, dot, last = head.rpartition(".")
    if dot and base and last in KNOWN_VARIANTS:
        return base, last
    return head, None


def _attach_indexes(
    counts: dict[tuple[str, str | None, str, Layout, int | None], int], indexes: list[IndexFile]
) -> dict[tuple[str, str | None, str, Layout, int | None], str]:
    """Give each index to the sharded set it names: same naming style, then complete sets."""
    attached: dict[tuple[str, str | None, str, Layout, int | None], str] = {}
    for index in indexes:
        style: Layout = "legacy-sharded" if index.legacy else "sharded"
        fits = [
            key
            for key in counts
            if key[:3] == (index.prefix, index.variant, index.format)
            and key[3] != "single"
            and key not in attached
        ]
        fits.sort(key=lambda key: (key[3] != style, counts[key] != key[4], -(key[4] or 0)))
        if fits:
            attached[fits[0]] = index.name
    return attached


def _by_prefix(candidates: list[WeightSet], prefixes: Sequence[str]) -> list[WeightSet]:
    """Keep the sets with the most wanted prefix present, if any is."""
    for prefix in (*prefixes, *KNOWN_PREFIXES):
        chosen = [s for s in candidates if s.prefix == prefix]
        if chosen:
            return chosen
    weights = [s for s in candidates if not s.is_training_state]
    return weights or candidates


def _order(s: WeightSet) -> tuple[object, ...]:
    return (
        s.prefix,
        s.variant is not None,
        s.variant or "",
        _FORMAT_ORDER.index(s.format),
        s.layout,
        s.shards or 0,
    )


def _listing(sets: Sequence[WeightSet]) -> str:
    """Name every set in one clause, for error messages."""
    return "found: " + ", ".join(s.label for s in sets)
