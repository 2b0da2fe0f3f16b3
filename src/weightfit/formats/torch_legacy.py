"""``torch.save`` files in the legacy format (``_use_new_zipfile_serialization=False``).

The layout (``torch/serialization.py``, ``_legacy_save``) is five pickles in a
row, then the storages:

1. the magic number ``0x1950a86a20f9469cfc6c`` (:data:`MAGIC_NUMBER`);
2. the protocol version ``1001``;
3. ``sys_info``: ``{"protocol_version", "little_endian", "type_sizes"}``;
4. the object, tensors as persistent ids
   ``('storage', type, key, location, numel, view_metadata)``;
5. the sorted list of storage keys;

then, for each key in that order, an 8-byte little-endian element count and
the storage's raw bytes (``THPStorage_writeFileRaw``).

Every pickle goes through weightfit's own VM, which never imports or calls
anything. The storages are walked by their 8-byte counts alone (seek, never
read), so each storage's absolute offset is known without reading tensor bytes.
The verdict is the worst over all five pickles (``torch.load`` runs each of
them) and over any pickle stored after the last storage. A file whose first
pickle is not the magic number is a plain pickle, read by
:mod:`weightfit.formats.pickle_file`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from weightfit.errors import (
    HeaderTooLarge,
    InvalidHeader,
    TensorSizeMismatch,
    TruncatedFile,
)
from weightfit.formats import (
    ReadOptions,
    containers,
    pickle_file,
    pickle_manifest,
    pickle_vm,
    torch_tensors,
)
from weightfit.manifest import ByteRange, Manifest

NAME = "torch_legacy"
FORMAT = "torch-legacy"

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
"""``torch.serialization.MAGIC_NUMBER``."""
PROTOCOL_VERSION = 1001
"""``torch.serialization.PROTOCOL_VERSION``."""
MAGIC_TEXT = f"L{MAGIC_NUMBER}".encode()
"""The magic number as ``LONG`` pickles it (protocols 0 and 1)."""
COUNT = struct.Struct("<q")
"""Element count before each storage's bytes (``int64``, little-endian)."""
FIRST_WINDOW = 1 << 20
"""Bytes read first to run the pickles; grown ×4 while a pickle runs past it."""


def sniff(head: bytes, path: Path) -> bool:
    """Whether ``path`` starts with a pickle (protocol 2–5, or torch's magic in protocol 0/1).

    Any binary pickle is claimed, torch's or not, so that a hostile plain pickle
    is run through the VM and named, rather than called "not a checkpoint".
    """
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= pickle_vm.HIGHEST_PROTOCOL:
        return True
    return head.startswith(MAGIC_TEXT)


def read(path: Path, options: ReadOptions) -> Manifest:
    """Read a legacy ``torch.save`` file's manifest from its pickles and storage headers.

    Args:
        path: The file.
        options: ``options.key`` picks the state dict inside a container.

    Returns:
        The manifest of the chosen state dict, with byte locations in ``path``.

    Raises:
        NotACheckpoint: a pickle without torch's magic number.
        TruncatedFile: a pickle or a storage is cut short.
        ForbiddenPickleContent: a pickle names something that can run code.
        MalformedPickle: a pickle is not valid.
        InvalidHeader: the storage list disagrees with the pickle.
        TensorSizeMismatch: a storage's count disagrees with the pickle.
        TensorOutOfBounds: a tensor needs more bytes than its storage holds.
        ContainerKeyNotFound: ``options.key`` names nothing.

    """
    size = path.stat().st_size
    with path.open("rb") as handle:
        window = min(size, FIRST_WINDOW)
        while True:
            handle.seek(0)
            head = handle.read(window)
            try:
                pickles = _run_pickles(head, final=window >= size)
                break
            except _NotTorch:
                return pickle_file.read(path, options)
            except pickle_vm.NeedMoreData:
                if window >= pickle_vm.MAX_PICKLE_BYTES:
                    raise HeaderTooLarge(
                        f"pickles run past the first {window} bytes, over the limit"
                    ) from None
                window = min(size, window * 4)
        main = pickles.main
        data, end = _walk_storages(handle, head, pickles, path, size)
        after = _pickles_after(handle, end, size)
    others = [p for p in [*pickles.all, *after] if p is not pickles.main]
    torch_tensors.check_storages(main.storages, data)
    choice = containers.choose(main.value, key=options.key, budget=main.opcodes)
    tensors, notes = torch_tensors.tensor_specs(choice.tensors, choice.buffers, data)
    if after:
        notes.append(
            f"{len(after)} pickle(s) follow the last storage: torch.load does not read them; "
            "judged with the rest"
        )
    elif end < size:
        notes.append(f"{size - end} bytes follow the last storage and belong to no tensor")
    if not pickles.little_endian:
        notes.insert(0, "saved on a big-endian machine: tensor bytes are big-endian")
        tensors = torch_tensors.byteswapped(tensors)
    return pickle_manifest.build(path, FORMAT, main, choice, tensors, notes, others=others)


@dataclass
class _Pickles:
    """What the five leading pickles say."""

    main: pickle_vm.PickleResult
    all: list[pickle_vm.PickleResult]
    keys: list[str]
    little_endian: bool
    end: int


def _run_pickles(head: bytes, *, final: bool) -> _Pickles:
    """Run the five pickles at the start of the file (``head`` holds its first bytes)."""

    def run(start: int, where: str) -> pickle_vm.PickleResult:
        return pickle_vm.run(head, start=start, where=where, final=final, eof_error=TruncatedFile)

    # Named plainly: until it reads as torch's magic number, this may be a plain pickle.
    magic = run(0, "first pickle")
    if magic.value != MAGIC_NUMBER:
        raise _NotTorch
    version = run(magic.end, "protocol-version pickle")
    if version.value != PROTOCOL_VERSION:
        raise InvalidHeader(
            f"legacy protocol version {version.value!r}, expected {PROTOCOL_VERSION}"
        )
    sys_info = run(version.end, "sys_info pickle")
    main = run(sys_info.end, "main pickle")
    keys = run(main.end, "storage-keys pickle")
    if not isinstance(keys.value, list) or not all(isinstance(k, str) for k in keys.value):
        raise InvalidHeader("the storage-keys pickle is not a list of strings")
    info = sys_info.value if isinstance(sys_info.value, dict) else {}
    every = [magic, version, sys_info, main, keys]
    return _Pickles(main, every, keys.value, info.get("little_endian") is not False, keys.end)


class _NotTorch(Exception):
    """The first pickle is not torch's magic number: a plain pickle."""


def _pickles_after(handle: BinaryIO, end: int, size: int) -> list[pickle_vm.PickleResult]:
    """Pickles stored after the last storage (bytes starting with ``PROTO``), judged too."""
    if end >= size:
        return []
    handle.seek(end)
    if handle.read(1) != b"\x80":
        return []
    if size - end > pickle_vm.MAX_PICKLE_BYTES:
        raise HeaderTooLarge(f"{size - end} bytes of pickles after the last storage")
    handle.seek(end)
    tail = handle.read()
    return pickle_vm.run_following(tail, start=0, base=end, where="after the storages", first=1)


def _walk_storages(
    handle: BinaryIO,
    head: bytes,
    pickles: _Pickles,
    path: Path,
    size: int,
) -> tuple[dict[str, ByteRange], int]:
    """Each storage's bytes, found by hopping over the 8-byte counts; and where they end."""
    storages = pickles.main.storages
    listed = set(pickles.keys)
    missing = [k for k in storages if k not in listed]
    if missing:
        raise InvalidHeader(f"storages {missing[:5]} are in the pickle but not in the key list")
    data: dict[str, ByteRange] = {}
    offset = pickles.end
    for key in pickles.keys:
        storage = storages.get(key)
        if storage is None:
            raise InvalidHeader(f"the key list names storage {key!r}, which the pickle never uses")
        raw = head[offset : offset + COUNT.size]
        if len(raw) < COUNT.size:
            handle.seek(offset)
            raw = handle.read(COUNT.size)
        if len(raw) < COUNT.size:
            raise TruncatedFile(
                f"storage {key!r} should start at byte {offset} but the file ends at {size}"
            )
        (count,) = COUNT.unpack(raw)
        if count != storage.numel:
            raise TensorSizeMismatch(
                f"storage {key!r} holds {count} elements but the pickle declares {storage.numel}",
                offset=offset,
            )
        start = offset + COUNT.size
        offset = start + count * storage.itemsize
        if offset > size:
            raise TruncatedFile(
                f"storage {key!r} needs bytes {start}..{offset} but the file ends at {size}"
            )
        data[key] = ByteRange(str(path), start, count * storage.itemsize)
    return data, offset
