"""Zip archives (``torch.save`` files, ``.npz``): the central directory, opened defensively.

``zipfile`` reads only the central directory here, never member data, but it
fails on damaged or exotic archives with exceptions of its own
(``NotImplementedError`` for a newer zip version, ``RuntimeError`` for
encrypted members, an ``OSError`` when a member's offset is nonsense). This
module opens the archive and checks every member up front, so the readers see
only :mod:`weightfit.errors`. Spec: PKWARE APPNOTE.TXT, sections 4.3.7 (local
file header) and 4.4.4 (general purpose flags).
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path
from typing import BinaryIO

from weightfit.errors import (
    InputError,
    InvalidHeader,
    NotACheckpoint,
    TruncatedFile,
    UnsupportedArchive,
)
from weightfit.formats._layout import show

LOCAL_HEADER = struct.Struct("<4s22xHH")
"""APPNOTE 4.3.7 local file header: signature, 22 bytes we skip, name length, extra length."""
LOCAL_SIGNATURE = b"PK\x03\x04"
"""APPNOTE 4.3.7: the first bytes of a non-empty archive."""
END_SIGNATURE = b"PK\x05\x06"
"""APPNOTE 4.3.16: the end of central directory record (the first bytes of an empty archive)."""
END_RECORD_BYTES = 22
"""APPNOTE 4.3.16: the end record's fixed part, before its comment."""
END_SEARCH_BYTES = END_RECORD_BYTES + 0xFFFF
"""The end record is 22 bytes plus a comment of at most 65535 bytes."""

ENCRYPTED_FLAGS = 0x1 | 0x40
"""General purpose flag bits 0 and 6: the member is encrypted, strongly or not (APPNOTE 4.4.4)."""

READABLE_METHODS = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)
"""Compression methods ``zipfile`` can decompress."""


def open_archive(handle: BinaryIO, size: int) -> zipfile.ZipFile:
    """Open a zip's central directory and check every member's header fields.

    Args:
        handle: The archive, opened for binary reading.
        size: The archive's size in bytes.

    Returns:
        The open :class:`zipfile.ZipFile`.

    Raises:
        UnsupportedArchive: the archive needs a newer zip version, or a member is
            encrypted or compressed with a method ``zipfile`` cannot read.
        InvalidHeader: a member's local header lies outside the file.
        TruncatedFile: the end of central directory record is missing or cut short.
        NotACheckpoint: the end record is whole but the directory it points to is not.

    """
    try:
        archive = zipfile.ZipFile(handle)
    except NotImplementedError as error:  # zipfile: "zip file version 25.5"
        raise UnsupportedArchive(f"the archive needs a newer zip version ({error})") from error
    except zipfile.BadZipFile as error:
        if is_cut_short(handle, size):
            raise TruncatedFile(
                f"zip archive has no whole end-of-central-directory record: the file was cut "
                f"short ({size} bytes)"
            ) from error
        raise NotACheckpoint(f"damaged zip archive ({error})") from error
    for info in archive.infolist():
        _check_member(info, size)
    return archive


def is_cut_short(handle: BinaryIO, size: int) -> bool:
    """Whether the archive lacks a whole end record: none in the last bytes, or one cut off."""
    start = max(0, size - END_SEARCH_BYTES)
    handle.seek(start)
    found = handle.read().rfind(END_SIGNATURE)
    return found < 0 or start + found + END_RECORD_BYTES > size


def unclaimed(head: bytes, path: Path) -> InputError | None:
    """The error for a zip that no reader claimed, or ``None`` when ``head`` is no zip.

    A zip cut short before its central directory cannot show what it holds, so
    the readers cannot claim it: it is reported as truncated, not as unknown bytes.
    """
    if not head.startswith((LOCAL_SIGNATURE, END_SIGNATURE)):
        return None
    size = path.stat().st_size
    with path.open("rb") as handle:
        if is_cut_short(handle, size):
            return TruncatedFile(
                f"zip archive has no whole end-of-central-directory record: the file was cut "
                f"short ({size} bytes)"
            )
    return NotACheckpoint(
        "a zip archive, but neither a torch.save file (no <folder>/data.pkl member) "
        "nor an .npz (no .npy members)"
    )


def _check_member(info: zipfile.ZipInfo, size: int) -> None:
    """Refuse one member that ``zipfile`` could not read or would seek outside the file for."""
    name = show(info.filename)
    if info.flag_bits & ENCRYPTED_FLAGS:
        raise UnsupportedArchive(f"member {name} is encrypted")
    if info.compress_type not in READABLE_METHODS:
        raise UnsupportedArchive(
            f"member {name} uses compression method {info.compress_type}, "
            "which weightfit does not read"
        )
    if not 0 <= info.header_offset <= size - LOCAL_HEADER.size:
        raise InvalidHeader(
            f"member {name} has its local header at byte {info.header_offset}, "
            f"outside the file ({size} bytes)"
        )


def first_member_name(head: bytes, path: Path) -> bytes | None:
    """The first local header's member name, raw; ``None`` when ``head`` is no zip entry."""
    if not head.startswith(LOCAL_SIGNATURE) or len(head) < LOCAL_HEADER.size:
        return None
    _, name_length, _ = LOCAL_HEADER.unpack_from(head)
    with path.open("rb") as handle:
        handle.seek(LOCAL_HEADER.size)
        return handle.read(name_length)


def data_offset(handle: BinaryIO, info: zipfile.ZipInfo, size: int) -> int:
    """Absolute offset of a member's bytes: after its own local header, name and extra field.

    The local header's name and extra lengths may differ from the central
    directory's (APPNOTE 4.4.10-4.4.11), so they are read, not assumed.
    """
    handle.seek(info.header_offset)
    header = handle.read(LOCAL_HEADER.size)
    if len(header) < LOCAL_HEADER.size:
        raise TruncatedFile(
            f"member {show(info.filename)} has its header at byte {info.header_offset}, "
            f"past the end of the file ({size} bytes)"
        )
    name_length: int
    extra_length: int
    signature, name_length, extra_length = LOCAL_HEADER.unpack(header)
    if signature != LOCAL_SIGNATURE:
        raise InvalidHeader(
            f"member {show(info.filename)} has no local header where the central directory says",
            offset=info.header_offset,
        )
    return info.header_offset + LOCAL_HEADER.size + name_length + extra_length
