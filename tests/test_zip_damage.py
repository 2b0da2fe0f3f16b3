"""Damaged zip archives: one clear error and exit 3, never a foreign exception.

Found by mutating real ``torch.save`` and ``np.savez`` files: zipfile raises
``NotImplementedError``, ``RuntimeError``, ``UnicodeDecodeError`` and ``OSError``
for these, which must stop at the format boundary.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

import weightfit
from attacks import zips
from weightfit.errors import (
    InputError,
    InvalidHeader,
    NotACheckpoint,
    TruncatedFile,
    UnsupportedArchive,
)


def torch_zip(path: Path) -> Path:
    torch.save({"model": {"w": torch.zeros(2, 3)}, "epoch": 1}, path)
    return path


def npz(path: Path) -> Path:
    np.savez(path, a=np.zeros((2, 3)), b=np.ones(4, dtype=np.int8))
    return path


MAKERS = {"pt": torch_zip, "npz": npz}

CASES: list[tuple[Callable[[Path], Path], type[InputError], str]] = [
    (zips.unknown_compression, UnsupportedArchive, "compression method"),
    (zips.needs_newer_zip_version, UnsupportedArchive, "zip version"),
    (zips.encrypted_member, UnsupportedArchive, "encrypted"),
    (zips.strongly_encrypted_member, UnsupportedArchive, "encrypted"),
    (zips.name_not_utf8, InvalidHeader, "UTF-8"),
    (zips.local_header_past_eof, InvalidHeader, "outside the file"),
]


@pytest.mark.parametrize("kind", sorted(MAKERS))
@pytest.mark.parametrize(
    ("damage", "error", "words"), CASES, ids=lambda c: getattr(c, "__name__", "")
)
def test_damaged_archive_is_one_error(
    tmp_path: Path, kind: str, damage: Callable[[Path], Path], error: type, words: str
) -> None:
    path = damage(MAKERS[kind](tmp_path / f"model.{kind}"))
    with pytest.raises(error) as raised:
        weightfit.read(path)
    assert raised.value.path == str(path)
    assert words in str(raised.value)


def test_damaged_archive_exits_3_with_one_line(tmp_path: Path, run_cli) -> None:
    path = zips.unknown_compression(torch_zip(tmp_path / "model.pt"))
    result = run_cli("inspect", path)
    assert result.code == 3
    assert result.err.splitlines()[0].startswith(f"error: {path}: unsupported archive: ")
    assert "Traceback" not in result.err


def _cut(path: Path, size: int) -> Path:
    path.write_bytes(path.read_bytes()[:size])
    return path


@pytest.mark.parametrize("kind", sorted(MAKERS))
@pytest.mark.parametrize("keep", [4, 9, 30, 0.5, -10, -1], ids=str)
def test_a_cut_archive_reads_as_truncated(tmp_path: Path, kind: str, keep: float) -> None:
    """Cut anywhere, even inside the end record or the first local header: truncated."""
    path = MAKERS[kind](tmp_path / f"model.{kind}")
    full = path.stat().st_size
    size = int(full * keep) if isinstance(keep, float) else keep % full
    _cut(path, size)
    with pytest.raises(TruncatedFile) as raised:
        weightfit.read(path)
    assert str(raised.value) == (
        f"{path}: truncated file: zip archive has no whole end-of-central-directory record: "
        f"the file was cut short ({size} bytes)"
    )


def test_a_zip_of_other_files_is_named_a_zip(tmp_path: Path, run_cli) -> None:
    """A whole torch.save archive without its data.pkl is a zip, not unknown bytes."""
    source = torch_zip(tmp_path / "model.pt")
    path = tmp_path / "repacked.pt"
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(path, "w") as new:
        for name in old.namelist():
            if not name.endswith("data.pkl"):
                new.writestr(name, old.read(name))
    result = run_cli("inspect", path)
    assert result.code == 3
    assert result.err.splitlines()[0] == (
        f"error: {path}: not a checkpoint: a zip archive, but neither a torch.save file "
        "(no <folder>/data.pkl member) nor an .npz (no .npy members)"
    )


def test_a_rezipped_checkpoint_is_unsupported_not_invalid(tmp_path: Path) -> None:
    """Re-zipped with deflate, the file still loads with torch.load: not an invalid header."""
    source = torch_zip(tmp_path / "model.pt")
    path = tmp_path / "rezipped.pt"
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as new:
        for name in old.namelist():
            new.writestr(name, old.read(name))
    assert torch.load(path)["model"]["w"].shape == (2, 3)
    with pytest.raises(UnsupportedArchive) as raised:
        weightfit.read(path)
    assert str(raised.value) == (
        f"{path}: unsupported archive: record 'model/data/0' is compressed (method 8): "
        "torch.load reads it, but weightfit locates tensor bytes in place; re-save it with "
        "torch.save"
    )


def test_damaged_compressed_data_is_a_damaged_archive(tmp_path: Path) -> None:
    """zlib's own error for a corrupt deflate stream stops at the format boundary."""
    path = tmp_path / "model.npz"
    np.savez_compressed(path, a=np.arange(1000, dtype=np.float32))
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("a.npy")
    name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
    start = info.header_offset + 30 + name_length + extra_length
    data[start : start + 4] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    with pytest.raises(NotACheckpoint) as raised:
        weightfit.read(path)
    assert str(raised.value).startswith(
        f"{path}: not a checkpoint: damaged zip archive (Error -3 while decompressing data: "
    )
