"""Damaged zip archives (``torch.save`` files and ``.npz``), one fault per builder.

Each builder takes a valid archive and patches one field of its central
directory (APPNOTE.TXT 4.3.12) in place, so the zip still opens far enough for
the fault to reach the reader.
"""

from __future__ import annotations

import struct
from pathlib import Path

CENTRAL_HEADER = b"PK\x01\x02"
VERSION_NEEDED, FLAGS, METHOD, NAME_LENGTH, LOCAL_OFFSET, NAME = 6, 8, 10, 28, 42, 46


def _patch_first_entry(path: Path, offset: int, fmt: str, value: int) -> Path:
    data = bytearray(path.read_bytes())
    entry = data.index(CENTRAL_HEADER)
    struct.pack_into(fmt, data, entry + offset, value)
    path.write_bytes(bytes(data))
    return path


def unknown_compression(path: Path) -> Path:
    """The first member claims compression method 99 (AES), which zipfile cannot read."""
    data = bytearray(path.read_bytes())
    for start in range(len(data)):
        start = data.find(CENTRAL_HEADER, start)
        if start < 0:
            break
        struct.pack_into("<H", data, start + METHOD, 99)
    path.write_bytes(bytes(data))
    return path


def needs_newer_zip_version(path: Path) -> Path:
    """The first member needs zip version 25.5 to extract."""
    return _patch_first_entry(path, VERSION_NEEDED, "<H", 255)


def encrypted_member(path: Path) -> Path:
    """Every member says it is encrypted (general purpose flag bit 0)."""
    data = bytearray(path.read_bytes())
    start = 0
    while (start := data.find(CENTRAL_HEADER, start)) >= 0:
        flags = struct.unpack_from("<H", data, start + FLAGS)[0]
        struct.pack_into("<H", data, start + FLAGS, flags | 0x1)
        start += 4
    path.write_bytes(bytes(data))
    return path


def name_not_utf8(path: Path) -> Path:
    """The first member's name is flagged UTF-8 (bit 11) but starts with byte 0xFF."""
    data = bytearray(path.read_bytes())
    entry = data.index(CENTRAL_HEADER)
    flags = struct.unpack_from("<H", data, entry + FLAGS)[0]
    struct.pack_into("<H", data, entry + FLAGS, flags | 0x800)
    data[entry + NAME] = 0xFF
    path.write_bytes(bytes(data))
    return path


def local_header_past_eof(path: Path) -> Path:
    """The first member's local header is said to start 4 GB into a small file."""
    return _patch_first_entry(path, LOCAL_OFFSET, "<I", 0xFFFF_FFF0)


def strongly_encrypted_member(path: Path) -> Path:
    """The first member says it uses strong encryption (general purpose flag bit 6)."""
    data = bytearray(path.read_bytes())
    entry = data.index(CENTRAL_HEADER)
    flags = struct.unpack_from("<H", data, entry + FLAGS)[0]
    struct.pack_into("<H", data, entry + FLAGS, flags | 0x40)
    path.write_bytes(bytes(data))
    return path
