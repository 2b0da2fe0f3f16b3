"""Sharded checkpoints: a JSON shard index and the weight files it names.

The index is transformers' ``model.safetensors.index.json`` (``SAFE_WEIGHTS_INDEX_NAME``
in ``modeling_utils.py``; the layout ``huggingface_hub`` writes in
``serialization/_base.py``)::

    {"metadata": {"total_size": 16060522496, ...},
     "weight_map": {"model.embed_tokens.weight": "model-00001-of-00004.safetensors", ...}}

It is recognised by its content (a JSON object with a ``weight_map``), never by its
name. What this reader guarantees:

- Each shard is read through its own format's reader, header only (safetensors
  shards: 8 bytes plus the JSON header each), so a 1000-shard, 1-trillion-parameter
  model reads in well under two seconds.
- The index is not trusted: every file it names must exist
  (:class:`InconsistentShardIndex` naming the file), every tensor must be in the
  shard it names, no tensor may be in two shards, and every tensor of a shard
  must be in the index. Shard names must stay inside the index's folder.
- Softer facts go to ``Manifest.notes``: files beside the index that follow the
  same shard naming but are not in it, and a ``metadata.total_size`` that differs
  from the real byte count of the tensors.
- Tensors come shard by shard, shards in the order the index first names them,
  each shard's tensors in its own order. ``metadata`` merges every shard's
  ``__metadata__`` (the first shard to set a key wins; a different value later is
  noted) with the index's ``metadata`` on top (the index wins; non-string values
  become JSON text).

:func:`combine` takes the decoded index and the shard manifests, so
:mod:`weightfit.formats.remote` checks a remote index the same way.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from weightfit import formats, weightsets
from weightfit.errors import (
    HeaderTooLarge,
    InconsistentShardIndex,
    InvalidHeader,
    reading,
)
from weightfit.formats import ReadOptions
from weightfit.formats._layout import show
from weightfit.manifest import Manifest, SecurityVerdict, TensorSpec, counted

NAME = "safetensors_index"

WEIGHT_MAP_KEY = "weight_map"
"""transformers ``load_sharded_checkpoint``: tensor name to shard file name."""
METADATA_KEY = "metadata"
"""``huggingface_hub`` ``split_state_dict_into_shards``: holds ``total_size``."""
TOTAL_SIZE_KEY = "total_size"
"""Bytes of every tensor together, as the writer counted them."""
MAX_INDEX_BYTES = 100_000_000
"""Largest index read; real ones are a few MB even for 100k tensors."""
_SNIFF_MARKER = f'"{WEIGHT_MAP_KEY}"'.encode()
_SECURITY_ORDER: tuple[SecurityVerdict | None, ...] = (
    None,
    "safe",
    "benign",
    "unknown",
    "dangerous",
)


@dataclass(frozen=True)
class ShardIndex:
    """A decoded shard index.

    Attributes:
        weight_map: Tensor name to shard file name, in the index's order.
        metadata: The index's ``metadata`` object (``total_size`` ...).
        shards: Shard file names, in the order the index first names them.

    """

    weight_map: dict[str, str]
    metadata: dict[str, Any]
    shards: list[str]


def sniff(head: bytes, path: Path) -> bool:
    """Whether ``path`` is a JSON object that has a ``weight_map`` key.

    Reads the file (an index is small) and looks for the key; :func:`read`
    then checks the JSON properly.
    """
    if head.lstrip(b" \t\r\n")[:1] != b"{":
        return False
    try:
        if path.stat().st_size > MAX_INDEX_BYTES:
            return False
        return _SNIFF_MARKER in path.read_bytes()
    except OSError:
        return False


def read(path: Path, options: ReadOptions) -> Manifest:
    """Read every shard an index names and check the index against them.

    Args:
        path: The index file (``model.safetensors.index.json``).
        options: ``key`` is passed on to each shard's reader.

    Returns:
        A manifest of format ``"safetensors-sharded"`` (``"<format>-sharded"``
        for other shard formats) whose ``files`` are the shards.

    Raises:
        HeaderTooLarge: the index is larger than :data:`MAX_INDEX_BYTES`.
        InvalidHeader: the index is not JSON of the expected shape, or a shard
            name leaves the index's folder.
        InconsistentShardIndex: a shard is missing, or a tensor is not where the
            index says.
        InputError: any error of a shard's own reader, naming the shard.

    Example:
        >>> manifest = read(Path("m/model.safetensors.index.json"), ReadOptions())  # doctest: +SKIP
        >>> manifest.format, manifest.files[0]  # doctest: +SKIP
        ('safetensors-sharded', 'm/model-00001-of-00004.safetensors')

    """
    size = path.stat().st_size
    if size > MAX_INDEX_BYTES:
        raise HeaderTooLarge(f"index of {size} bytes exceeds the limit of {MAX_INDEX_BYTES}")
    index = parse_index(path.read_bytes())
    folder = path.parent
    parts: list[tuple[str, Manifest]] = []
    for shard in index.shards:
        shard_path = folder / shard
        if not shard_path.is_file():
            raise InconsistentShardIndex(
                f"shard {shard!r} named by the index does not exist{why_absent(shard_path)}"
            )
        parts.append((shard, formats.read(shard_path, key=options.key)))
    manifest = combine(index, parts, source=str(path))
    manifest.notes.extend(_unlisted_shards(folder, index.shards))
    return manifest


def parse_index(raw: bytes) -> ShardIndex:
    """Decode and check the shape of an index file's bytes.

    Raises:
        InvalidHeader: not a UTF-8 JSON object, no ``weight_map`` object of
            string values, or a shard name that is absolute or climbs out with ``..``.

    """
    data = json.loads(raw.decode("utf-8"))
    if not isinstance(data, dict):
        raise InvalidHeader(f"index must be a JSON object, found {type(data).__name__}")
    weight_map = data.get(WEIGHT_MAP_KEY)
    if not isinstance(weight_map, dict):
        raise InvalidHeader(f"index has no {WEIGHT_MAP_KEY!r} object")
    metadata = data.get(METADATA_KEY) or {}
    if not isinstance(metadata, dict):
        raise InvalidHeader(f"index {METADATA_KEY!r} must be an object")
    for name, shard in weight_map.items():
        if not isinstance(shard, str):
            raise InvalidHeader(
                f"index maps {show(str(name))} to {type(shard).__name__} {shard!r}, "
                "not a shard file name"
            )
    shards = list(dict.fromkeys(weight_map.values()))
    for shard in shards:
        _check_shard_name(shard)
    return ShardIndex(weight_map=weight_map, metadata=metadata, shards=shards)


def combine(index: ShardIndex, parts: Sequence[tuple[str, Manifest]], *, source: str) -> Manifest:
    """Join shard manifests into one, checking each tensor is where the index says.

    Args:
        index: The decoded index.
        parts: ``(shard name as the index writes it, its manifest)``, one per
            shard of ``index.shards``, in that order.
        source: The index's path or URL.

    Returns:
        The joined manifest (see the module docstring for order and metadata).

    Raises:
        InconsistentShardIndex: a tensor is in two shards, in another shard than
            the index says, in no shard, or in a shard but not in the index.

    """
    weight_map = index.weight_map
    tensors: dict[str, TensorSpec] = {}
    where: dict[str, str] = {}
    manifest = Manifest(tensors=tensors, source=source, format=_format(parts))
    for shard, part in parts:
        for name in part.tensors:
            if name in where:
                raise InconsistentShardIndex(
                    f"tensor {name!r} is in two shards, {where[name]!r} and {shard!r}"
                )
            where[name] = shard
        tensors.update(part.tensors)
        _absorb(manifest, shard, part)
    if len(where) != len(weight_map) or any(where.get(n) != s for n, s in weight_map.items()):
        _raise_misplaced(weight_map, where)
    manifest.metadata.update({key: _text(value) for key, value in index.metadata.items()})
    manifest.notes.extend(_total_size_note(index.metadata, manifest))
    return manifest


def _check_shard_name(shard: object) -> None:
    """Refuse a shard name that is not a relative path inside the index's folder."""
    if not isinstance(shard, str) or not shard:
        raise InvalidHeader(f"{WEIGHT_MAP_KEY} values must be file names, found {shard!r}")
    parts = PurePosixPath(shard.replace("\\", "/")).parts
    if shard.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
        raise InvalidHeader(f"shard name {shard!r} leaves the index's folder")


def _format(parts: Sequence[tuple[str, Manifest]]) -> str:
    """``"<shard format>-sharded"``; ``"safetensors-sharded"`` for an empty index."""
    inner = parts[0][1].format if parts else "safetensors"
    return f"{inner}-sharded"


def _absorb(manifest: Manifest, shard: str, part: Manifest) -> None:
    """Add a shard's files, metadata, notes and (pickle shards) security facts."""
    manifest.files.extend(part.files or [part.source])
    for key, value in part.metadata.items():
        have = manifest.metadata.setdefault(key, value)
        if have != value:
            manifest.notes.append(
                f"{shard}: __metadata__ {key!r} is {value!r}, not {have!r} as in an earlier shard"
            )
    manifest.notes.extend(f"{shard}: {note}" for note in part.notes)
    manifest.containers.extend(part.containers)
    manifest.globals.extend(g for g in part.globals if g not in manifest.globals)
    manifest.security = max(manifest.security, part.security, key=_SECURITY_ORDER.index)


def _raise_misplaced(weight_map: dict[str, str], where: dict[str, str]) -> None:
    """Name the first tensor the index and the shards disagree about."""
    for name, shard in weight_map.items():
        actual = where.get(name)
        if actual is None:
            raise InconsistentShardIndex(
                f"tensor {name!r} is not in {shard!r}, where the index puts it, "
                "nor in any other shard the index names"
            )
        if actual != shard:
            raise InconsistentShardIndex(
                f"tensor {name!r} is in {actual!r}, but the index puts it in {shard!r}"
            )
    extra = [name for name in where if name not in weight_map]
    raise InconsistentShardIndex(
        f"{len(extra)} tensor(s) in the shards are not in the index, "
        f"e.g. {extra[0]!r} in {where[extra[0]]!r}"
    )


def _text(value: object) -> str:
    """Index metadata as a string: strings as they are, other JSON values as JSON text."""
    return value if isinstance(value, str) else json.dumps(value)


def _total_size_note(metadata: dict[str, Any], manifest: Manifest) -> list[str]:
    """Note a ``total_size`` that differs from the tensors' real byte count."""
    declared = metadata.get(TOTAL_SIZE_KEY)
    if declared is None:
        return []
    sizes = [spec.nbytes for spec in manifest.tensors.values()]
    if None in sizes:
        return []
    actual = sum(sizes)  # type: ignore[arg-type]
    if declared == actual:
        return []
    return [f"index metadata total_size is {declared!r}, but its tensors hold {actual} bytes"]


def _unlisted_shards(folder: Path, shards: list[str]) -> list[str]:
    """Note files beside the index named like its shards that the index leaves out."""
    patterns = set()
    for shard in shards:
        parsed = weightsets.parse_name(PurePosixPath(shard).name)
        if isinstance(parsed, weightsets.WeightFile) and parsed.layout != "single":
            patterns.add((parsed.prefix, parsed.variant, parsed.format, parsed.layout))
    if not patterns:
        return []
    listed = set(shards)
    unlisted = []
    with reading(folder):
        names = sorted(p.name for p in folder.iterdir())
    for name in names:
        parsed = weightsets.parse_name(name)
        if (
            isinstance(parsed, weightsets.WeightFile)
            and (parsed.prefix, parsed.variant, parsed.format, parsed.layout) in patterns
            and name not in listed
        ):
            unlisted.append(name)
    if not unlisted:
        return []
    return [f"{len(unlisted)} shard file(s) here are not in the index: {', '.join(unlisted)}"]


LONE_SHARD = "lone_shard"
"""The ``extras`` key of a file read alone that is one shard of a sharded save."""

_SHARD_NAME = re.compile(r"-(?P<index>\d+)-of-(?P<total>\d+)\.[A-Za-z0-9.]+$")
"""A shard's file name: ``model-00002-of-00006.safetensors`` (``pytorch_model-…bin``)."""


def lone_shard(path: Path) -> dict[str, Any] | None:
    """Say whether a file read alone is one shard of several, and where the others are.

    The file name says it (``-00002-of-00006``); an index beside it that names the file
    also says which tensors the other shards hold. Nothing here is trusted beyond a
    hint: the file's own header was read, the index only names what is elsewhere.

    Returns:
        ``{"shard": 2, "of": 6, "index": "model.safetensors.index.json" | None,
        "elsewhere": [names in other shards] | None}``, or ``None`` for a whole file.
    """
    found = _SHARD_NAME.search(path.name)
    total = int(found.group("total")) if found else 0
    for candidate in sorted(path.parent.glob("*.index.json")):
        try:
            if candidate.stat().st_size > MAX_INDEX_BYTES:
                continue
            index = parse_index(candidate.read_bytes())
        except (OSError, InvalidHeader):
            continue
        if path.name in index.shards and len(index.shards) > 1:
            elsewhere = [n for n, shard in index.weight_map.items() if shard != path.name]
            return {
                "shard": int(found.group("index")) if found else index.shards.index(path.name) + 1,
                "of": len(index.shards),
                "index": candidate.name,
                "elsewhere": elsewhere,
            }
    if found is None or total < 2:
        return None
    return {"shard": int(found.group("index")), "of": total, "index": None, "elsewhere": None}


INCOMPLETE = ".incomplete"
"""The suffix huggingface_hub gives a blob while it downloads (``file_download.py``)."""


def why_absent(path: Path) -> str:
    """What a Hugging Face cache shows of a shard that is not there, or ``""``.

    The cache links ``snapshots/<revision>/<file>`` to ``blobs/<hash>`` once a download
    ends; until then the bytes are in ``blobs/<hash>.incomplete``. A broken link, or
    unfinished blobs beside a snapshot, is a download that stopped.
    """
    if path.is_symlink():
        blob = path.parent / os.readlink(path)
        partial = blob.with_name(blob.name + INCOMPLETE)
        if partial.is_file():
            return (
                f" (a link to {blob.name}, which a download left as {partial.name}, "
                f"{partial.stat().st_size} bytes: it stopped before the end)"
            )
        return f" (a broken link to {os.readlink(path)})"
    blobs = path.parent.parent.parent / "blobs"
    if path.parent.parent.name != "snapshots" or not blobs.is_dir():
        return ""
    unfinished = sorted(blobs.glob("*" + INCOMPLETE))
    if not unfinished:
        return ""
    return (
        f" (the cache holds {counted(len(unfinished), 'unfinished download')}, "
        f"{unfinished[0].name}: a download that stopped)"
    )
