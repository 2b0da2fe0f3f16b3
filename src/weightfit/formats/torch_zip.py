"""``torch.save`` files in the zip format (PyTorch ≥ 1.6, the default).

The archive (``torch/serialization.py`` ``_save``; ``caffe2/serialize/inline_container.h``)
holds, under one top folder (``archive/`` or the file's stem):

- ``data.pkl``: the pickled object, tensors as persistent ids
  ``('storage', type, key, location, numel)``;
- ``data/<key>``: each storage's raw bytes, stored uncompressed and aligned to
  64 bytes (padding goes in the local header's extra field);
- ``.format_version``, ``byteorder`` (``little``/``big``), ``version`` ...

This reader reads the zip central directory and each record's 30-byte local
header, never a tensor's bytes. ``data.pkl`` goes through weightfit's own
pickle VM, which never imports or calls anything. Each storage's absolute
offset in the file is computed from its local header, then every storage and
tensor is checked against the record holding it.

The verdict is the worst over every pickle in the file, not only the one
``torch.load`` reads: a pickle after ``data.pkl``'s ``STOP``, every other
``*.pkl`` member (a second archive's ``data.pkl``, TorchScript's
``constants.pkl``), any other member that starts like a pickle, and bytes
before the archive when they are a pickle (``torch.load`` of such a path
unpickles them; from a handle positioned at the zip it reads the archive).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import BinaryIO

from weightfit.errors import (
    HeaderTooLarge,
    InvalidHeader,
    MalformedPickle,
    NotACheckpoint,
    TruncatedFile,
    UnsupportedArchive,
)
from weightfit.formats import ReadOptions, containers, pickle_manifest, pickle_vm, torch_tensors
from weightfit.formats._layout import show
from weightfit.formats._zip import (
    END_SEARCH_BYTES,
    END_SIGNATURE,
    data_offset,
    first_member_name,
    open_archive,
)
from weightfit.manifest import ByteRange, Manifest

NAME = "torch_zip"
FORMAT = "torch-zip"

PICKLE_NAME = "data.pkl"
MAX_SMALL_RECORD = 64
"""Largest ``byteorder``/``.format_version`` record read."""


def sniff(head: bytes, path: Path) -> bool:
    """Whether ``path`` is a zip whose archive holds ``<folder>/data.pkl``.

    torch writes ``data.pkl`` first; a zip that starts otherwise (repacked, or an
    ``.npz``) is checked through its central directory.
    """
    first = first_member_name(head, path)
    if first is None:
        return _zip_after_other_bytes(path)
    if first.endswith(b"/" + PICKLE_NAME.encode()):
        return True
    if first.endswith(b".npy"):
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            return _pickle_member(archive.namelist()) is not None
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError):
        return False  # too damaged to tell; no other reader claims it either


def read(path: Path, options: ReadOptions) -> Manifest:
    """Read a zip-format ``torch.save`` file's manifest from its headers.

    Args:
        path: The ``.pt``/``.pth``/``.bin``/``.ckpt`` file.
        options: ``options.key`` picks the state dict inside a container.

    Returns:
        The manifest of the chosen state dict, with byte locations in ``path``.

    Raises:
        TruncatedFile: the archive or a record is cut short.
        ForbiddenPickleContent: ``data.pkl`` names something that can run code.
        MalformedPickle: ``data.pkl`` is not a valid pickle.
        InvalidHeader: a record is compressed, missing or not where its header says.
        TensorOutOfBounds: a storage or tensor needs more bytes than its record holds.
        ContainerKeyNotFound: ``options.key`` names nothing.

    """
    size = path.stat().st_size
    # Unbuffered: each local header is a 30-byte read after a seek, which a
    # buffered reader would turn into an 8 kB read.
    with path.open("rb", buffering=0) as handle, open_archive(handle, size) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        member = _pickle_member(list(infos))
        if member is None:
            raise NotACheckpoint("zip archive without a data.pkl: not a torch.save file")
        folder = member[: -len(PICKLE_NAME)]
        pickle_info = infos[member]
        pickle_bytes, pickle_offset = _pickle_bytes(archive, handle, pickle_info, size)
        result = pickle_vm.run(pickle_bytes, base=pickle_offset, where=member)
        after = pickle_vm.run_following(
            pickle_bytes, start=result.end - pickle_offset, base=pickle_offset, where=member
        )
        skip = {member, *(f"{folder}data/{key}" for key in result.storages)}
        others = _other_pickles(archive, skip)
        prefix = min((info.header_offset for info in infos.values()), default=0)
        before = _pickles_before(handle, prefix)
        data = {
            key: _record(handle, infos, f"{folder}data/{key}", path, size)
            for key in result.storages
        }
        script = any(name.startswith(f"{folder}code/") for name in infos)
        byteorder = _small_record(archive, infos.get(f"{folder}byteorder"))
        version = _small_record(archive, infos.get(f"{folder}.format_version"))
    torch_tensors.check_storages(result.storages, data)
    choice = containers.choose(result.value, key=options.key, budget=result.opcodes)
    tensors, notes = torch_tensors.tensor_specs(choice.tensors, choice.buffers, data)
    if script:
        notes.append("a TorchScript archive (torch.jit.save): its code was neither read nor run")
    results = [result, *after, *before]
    if prefix:
        notes.append(
            f"{prefix} bytes precede the zip archive: torch.load reads the archive only from a "
            "handle positioned past them"
            + ("; by path it unpickles them (a pickle, judged here)" if before else "")
        )
    if after:
        notes.append(
            f"{len(after)} more pickle(s) follow {member}'s STOP: torch.load does not read "
            "them; judged with it"
        )
    for found in others.values():
        results.extend(found)
    if others:
        names = list(others)
        more = f" (+{len(names) - 2} more)" if len(names) > 2 else ""
        notes.append(
            f"{len(names)} other member(s) are pickles, judged with {member}: "
            f"{', '.join(show(n) for n in names[:2])}{more}"
        )
    metadata = {"archive": folder.rstrip("/")}
    if version is not None:
        metadata["format_version"] = version
    if byteorder is not None:
        metadata["byteorder"] = byteorder
        if byteorder == "big":
            notes.insert(0, "saved on a big-endian machine: tensor bytes are big-endian")
            tensors = torch_tensors.byteswapped(tensors)
    return pickle_manifest.build(
        path, FORMAT, result, choice, tensors, notes, metadata=metadata, others=results[1:]
    )


def _zip_after_other_bytes(path: Path) -> bool:
    """Whether ``path`` ends with a torch zip that other bytes precede (found from its end)."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        handle.seek(max(0, size - END_SEARCH_BYTES))
        if END_SIGNATURE not in handle.read():
            return False
    try:
        with zipfile.ZipFile(path) as archive:
            return _pickle_member(archive.namelist()) is not None
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError):
        return False


def _other_pickles(
    archive: zipfile.ZipFile, skip: set[str]
) -> dict[str, list[pickle_vm.PickleResult]]:
    """Run every other member that is a pickle: each ``*.pkl``, and any starting with ``PROTO``.

    A ``*.pkl`` member must be a valid pickle; another member that only starts
    like one (tensor bytes can) is judged when it reads as one.
    """
    found: dict[str, list[pickle_vm.PickleResult]] = {}
    for info in archive.infolist():
        name = info.filename
        if name in skip or name.endswith("/"):  # not is_dir(): an empty name is no folder
            continue
        named = name.endswith(".pkl")
        if not named:
            with archive.open(info) as member:
                lead = member.read(2)
            if len(lead) < 2 or lead[0] != 0x80 or not 2 <= lead[1] <= pickle_vm.HIGHEST_PROTOCOL:
                continue
        if info.file_size > pickle_vm.MAX_PICKLE_BYTES:
            if named:
                raise HeaderTooLarge(
                    f"member {name} is {info.file_size} bytes, over the pickle limit of "
                    f"{pickle_vm.MAX_PICKLE_BYTES}"
                )
            continue
        raw = archive.read(info)
        try:
            found[name] = pickle_vm.run_following(raw, start=0, where=name, first=1)
        except (MalformedPickle, TruncatedFile):
            if named:
                raise
    return found


def _pickles_before(handle: BinaryIO, prefix: int) -> list[pickle_vm.PickleResult]:
    """Judge the bytes before the archive when they are a pickle (``torch.load`` by path)."""
    if not prefix:
        return []
    if prefix > pickle_vm.MAX_PICKLE_BYTES:
        return []
    handle.seek(0)
    raw = handle.read(prefix)
    try:
        return [pickle_vm.run(raw, where="bytes before the zip archive")]
    except (MalformedPickle, TruncatedFile):
        return []


def _pickle_member(names: list[str]) -> str | None:
    """Find the ``<folder>/data.pkl`` member: one folder deep, as torch writes it."""
    for name in names:
        if name.endswith("/" + PICKLE_NAME) and name.count("/") == 1:
            return name
    return None


def _record(
    handle: BinaryIO, infos: dict[str, zipfile.ZipInfo], name: str, path: Path, size: int
) -> ByteRange:
    """Where a storage record's bytes are, checked: stored, complete, inside the file."""
    info = infos.get(name)
    if info is None:
        raise InvalidHeader(f"the pickle names storage record {name!r}, which the archive lacks")
    if info.compress_type != zipfile.ZIP_STORED:
        # torch.load inflates it (a re-zipped file); torch.save never compresses.
        raise UnsupportedArchive(
            f"record {name!r} is compressed (method {info.compress_type}): torch.load reads it, "
            "but weightfit locates tensor bytes in place; re-save it with torch.save"
        )
    offset = data_offset(handle, info, size)
    if offset + info.file_size > size:
        raise TruncatedFile(
            f"record {name!r} needs bytes {offset}..{offset + info.file_size} "
            f"but the file ends at {size}"
        )
    return ByteRange(str(path), offset, info.file_size)


def _pickle_bytes(
    archive: zipfile.ZipFile, handle: BinaryIO, info: zipfile.ZipInfo, size: int
) -> tuple[bytes, int]:
    """``data.pkl``'s bytes and their absolute offset (0 when compressed: no file offsets)."""
    if info.file_size > pickle_vm.MAX_PICKLE_BYTES:
        raise HeaderTooLarge(
            f"{info.filename} is {info.file_size} bytes, over the limit of "
            f"{pickle_vm.MAX_PICKLE_BYTES}"
        )
    if info.compress_type != zipfile.ZIP_STORED:
        with archive.open(info) as member:
            return member.read(pickle_vm.MAX_PICKLE_BYTES + 1), 0
    offset = data_offset(handle, info, size)
    handle.seek(offset)
    data = handle.read(info.file_size)
    if len(data) < info.file_size:
        raise TruncatedFile(
            f"{info.filename} needs bytes {offset}..{offset + info.file_size} "
            f"but the file ends at {size}"
        )
    return data, offset


def _small_record(archive: zipfile.ZipFile, info: zipfile.ZipInfo | None) -> str | None:
    """Read a short text record (``byteorder``, ``.format_version``); ``None`` if absent."""
    if info is None or info.file_size > MAX_SMALL_RECORD:
        return None
    return archive.read(info).decode("ascii", "replace").strip()
