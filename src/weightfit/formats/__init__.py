"""Readers for every checkpoint format, picked by magic bytes, never by file name.

Each format module has ``sniff(head, path) -> bool`` (a cheap look at the first
bytes) and ``read(path, options) -> Manifest``. :func:`read` tries them in
order. Nothing here loads tensor data or executes anything from a file.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from weightfit.errors import CheckpointNotFound, NotACheckpoint, reading
from weightfit.formats import _zip
from weightfit.hub import is_hub, open_mirror
from weightfit.manifest import Manifest

SNIFF_BYTES = 64
"""How many leading bytes a format's ``sniff`` gets to look at."""


@dataclass(frozen=True)
class ReadOptions:
    """Choices a reader cannot make alone.

    Attributes:
        key: Dotted path of the state dict to use inside a container (``"ema"``,
            ``"state_dict"``, ``"a.b"``); ``None`` lets the reader choose.
        variant: Precision variant of a folder's weights (``"bf16"``, ``"fp16"``);
            ``None`` reads the unlabelled set.
        weights_format: ``"safetensors"`` or ``"pickle"`` when a folder has both;
            ``None`` prefers safetensors.
    """

    key: str | None = None
    variant: str | None = None
    weights_format: str | None = None


class FormatModule(Protocol):
    """What every module in :mod:`weightfit.formats` provides."""

    NAME: str

    def sniff(self, head: bytes, path: Path) -> bool: ...  # noqa: D102

    def read(self, path: Path, options: ReadOptions) -> Manifest: ...  # noqa: D102


# Order matters only where magic bytes could be confused: GGUF goes first
# because a tensor count of 123 (mod 256) puts a "{" at byte 8, which is the
# safetensors signature (a length prefix followed by "{"); no zip or pickle
# file has one there; JSON indexes start with "{" directly.
FILE_FORMATS = (
    "gguf",
    "safetensors",
    "safetensors_index",
    "torch_zip",
    "numpy",
    "torch_legacy",
    "pickle_file",
)
FOLDER_FORMATS = ("dcp", "folder")
LFS_POINTER = b"version https://git-lfs.github.com/spec/v1"
"""First line of a git-lfs pointer file (https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md)."""
TORCH_FORMATS = frozenset({"torch-zip", "torch-legacy"})
"""What ``torch.load`` reads: the formats a ``.pt``/``.pth``/``.bin``/``.ckpt`` name promises."""
NAMED_FORMATS: dict[str, tuple[frozenset[str], str]] = {
    ".safetensors": (frozenset({"safetensors"}), "safetensors' safe_open, from_pretrained"),
    **dict.fromkeys((".pt", ".pth", ".bin", ".ckpt"), (TORCH_FORMATS, "torch.load")),
}
"""File suffix to (formats it promises, the loaders that go by it): these loaders never sniff."""
FORMAT_LABELS = {
    "safetensors": "safetensors",
    "torch-zip": "a torch.save zip",
    "torch-legacy": "a legacy torch.save file",
    "npz": "an .npz archive",
    "gguf": "GGUF",
    "pickle": "a plain pickle, not a torch.save file",
}
REMOTE_SCHEMES = ("http://", "https://")
"""URL strings :func:`read` sends to :mod:`weightfit.formats.remote` (safetensors only)."""


def _module(name: str) -> FormatModule:
    # ModuleType's ``__getattr__`` returns Any, so a module satisfies the protocol.
    module: FormatModule = importlib.import_module(f"weightfit.formats.{name}")
    return module


DCP_CHUNK_SUFFIX = ".distcp"
DCP_METADATA = ".metadata"
"""The files of a ``torch.distributed.checkpoint`` folder (``filesystem.py``)."""


def _dcp_piece(path: Path) -> str:
    """Say that a file is one piece of a DCP folder, which only the folder reads whole."""
    folder = path.parent
    whole = (
        f"read the folder ({folder})"
        if (folder / DCP_METADATA).is_file()
        else "its folder has no .metadata (an incomplete save or copy)"
    )
    what = "the metadata" if path.name == DCP_METADATA else "one chunk file"
    return (
        f"{what} of a torch.distributed.checkpoint folder, not a checkpoint of its own: "
        f"tensors are chunks that only .metadata places; {whole}"
    )


def detect(path: str | Path) -> str:
    """Name of the format module that reads ``path``.

    Raises:
        CheckpointNotFound: ``path`` does not exist.
        NotACheckpoint: no format recognises it.
    """
    if is_hub(path):
        return "hub"
    if isinstance(path, str) and path.startswith(REMOTE_SCHEMES):
        return "remote"
    path = Path(path)
    if not path.exists():
        raise CheckpointNotFound("no such file or folder", path=path)
    if path.is_dir():
        for name in FOLDER_FORMATS:
            if _module(name).sniff(b"", path):
                return name
        chunks = sorted(path.glob("*.distcp"))
        if chunks:
            raise NotACheckpoint(
                f"{len(chunks)} torch.distributed.checkpoint chunk file(s) ({chunks[0].name}) "
                "but no .metadata: an incomplete DCP save or copy (.metadata is written "
                "last, once every rank has saved); copy it from the source or save again",
                path=path,
            )
        raise NotACheckpoint("folder holds no weights weightfit can read", path=path)
    if not path.is_file():
        # A device or FIFO never ends (/dev/zero) or blocks until written to.
        raise NotACheckpoint("not a regular file (a device, FIFO or socket)", path=path)
    if path.suffix == DCP_CHUNK_SUFFIX or path.name == DCP_METADATA:
        raise NotACheckpoint(_dcp_piece(path), path=path)
    with reading(path), path.open("rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if not head:
        raise NotACheckpoint("file is empty", path=path)
    if head.startswith(LFS_POINTER):
        raise NotACheckpoint(
            f"a git-lfs pointer ({path.stat().st_size} bytes), not the weights it points to "
            "(git lfs pull fetches them)",
            path=path,
        )
    with reading(path):
        for name in FILE_FORMATS:
            if _module(name).sniff(head, path):
                return name
        zip_error = _zip.unclaimed(head, path)
    if zip_error is not None:
        zip_error.path = str(path)
        raise zip_error
    if head.startswith(importlib.import_module("weightfit.formats.numpy").NPY_MAGIC):
        raise NotACheckpoint(
            "a single numpy array (.npy), with no tensor names: weightfit reads .npz archives",
            path=path,
        )
    raise NotACheckpoint(f"unrecognised leading bytes {head[:8]!r}", path=path)


def read(
    path: str | Path,
    *,
    key: str | None = None,
    variant: str | None = None,
    weights_format: str | None = None,
) -> Manifest:
    """Read the manifest of any supported checkpoint, header only.

    Args:
        path: A checkpoint file, a shard index, or a model folder; a Hub address
            (``hf://ORG/REPO[@REVISION][/PATH]`` or a Hub URL, header only, see
            :mod:`weightfit.hub`); or another ``http(s)://`` URL of a safetensors
            file or shard index.
        key: Dotted path of the state dict inside a container (``"ema"``).
        variant: Precision variant of a folder's weights (``"bf16"``).
        weights_format: ``"safetensors"`` or ``"pickle"`` when a folder has both.

    Returns:
        The :class:`~weightfit.manifest.Manifest` of the chosen weights.

    Raises:
        InputError: any subclass, naming the file and what is wrong with it.

    Example:
        >>> manifest = weightfit.read("model.safetensors")  # doctest: +SKIP
        >>> manifest["lm_head.weight"].shape  # doctest: +SKIP
        (32000, 4096)
    """
    options = ReadOptions(key, variant, weights_format)
    if isinstance(path, str) and is_hub(path):
        mirror = open_mirror(path)
        with mirror.errors():
            return mirror.manifest(
                read(mirror.path, key=key, variant=variant, weights_format=weights_format)
            )
    if isinstance(path, str) and path.startswith(REMOTE_SCHEMES):
        from weightfit.formats import remote

        with reading(path):
            return remote.read(path, options)
    path = Path(path)
    name = detect(path)
    with reading(path):
        manifest = _module(name).read(path, options)
    promised = NAMED_FORMATS.get(path.suffix.lower()) if path.is_file() else None
    if promised is not None and manifest.format not in promised[0]:
        held = FORMAT_LABELS.get(manifest.format, manifest.format)
        manifest.notes.insert(
            0,
            f"named {path.suffix} but holds {held}: loaders that go by the name "
            f"({promised[1]}) cannot read it",
        )
    return manifest
