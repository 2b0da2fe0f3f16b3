"""Damaged zip archives: one clear error and exit 3, never a foreign exception.

Found by mutating real ``torch.save`` and ``np.savez`` files: zipfile raises
``NotImplementedError``, ``RuntimeError``, ``UnicodeDecodeError`` and ``OSError``
for these, which must stop at the format boundary.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

import weightfit
from attacks import zips
from weightfit.errors import InputError, InvalidHeader, UnsupportedArchive


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
