"""The ``.npz`` reader: real archives from ``numpy.savez``, and hostile ``.npy`` members."""

from __future__ import annotations

import argparse
import collections
import fractions
import pathlib
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

import weightfit
from weightfit import errors
from weightfit.formats import numpy as npz_format


def npy(header: str, data: bytes = b"", *, version: tuple[int, int] = (1, 0)) -> bytes:
    """An ``.npy`` member: magic, version, header length, header text, data."""
    text = header.encode("latin1")
    code = "<H" if version == (1, 0) else "<I"
    return b"\x93NUMPY" + bytes(version) + struct.pack(code, len(text)) + text + data


def archive(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as handle:
        for name, payload in members.items():
            handle.writestr(name, payload)
    return path


def location_bytes(spec: weightfit.TensorSpec) -> bytes:
    with open(spec.location.file, "rb") as handle:
        handle.seek(spec.location.offset)
        return handle.read(spec.location.length)


ARRAYS = {
    "weight": np.arange(12, dtype=np.float32).reshape(3, 4),
    "half": np.ones((2, 2), np.float16),
    "ids": np.arange(5, dtype=np.int64),
    "small": np.arange(4, dtype=np.int8),
    "byte": np.arange(3, dtype=np.uint8),
    "flag": np.array([True, False]),
    "z": np.array([1 + 2j], np.complex64),
    "double": np.float64(3.5),
    "empty": np.zeros((0, 3), np.float32),
    "nested/name": np.ones(2, np.uint32),
}
CANONICAL = {
    "weight": "F32",
    "half": "F16",
    "ids": "I64",
    "small": "I8",
    "byte": "U8",
    "flag": "BOOL",
    "z": "C64",
    "double": "F64",
    "empty": "F32",
    "nested/name": "U32",
}


def test_every_field_of_a_stored_archive(tmp_path: Path) -> None:
    path = tmp_path / "weights.npz"
    np.savez(path, **ARRAYS)

    manifest = weightfit.read(path)

    assert manifest.format == "npz"
    assert manifest.source == str(path) and manifest.files == [str(path)]
    assert manifest.notes == [] and manifest.metadata == {}
    assert list(manifest) == list(ARRAYS)
    for name, array in ARRAYS.items():
        spec = manifest[name]
        assert spec.shape == np.shape(array)
        assert spec.dtype == CANONICAL[name]
        assert spec.stride is None
        assert spec.nbytes == np.asarray(array).nbytes == spec.location.length
        assert location_bytes(spec) == np.asarray(array).tobytes()


def test_a_compressed_archive_has_no_locations(tmp_path: Path) -> None:
    path = tmp_path / "weights.npz"
    np.savez_compressed(path, **ARRAYS)
    manifest = weightfit.read(path)
    assert list(manifest) == list(ARRAYS)
    for name, array in ARRAYS.items():
        assert manifest[name].shape == np.shape(array)
        assert manifest[name].dtype == CANONICAL[name]
        assert manifest[name].location is None


def test_big_endian_fortran_and_unnamed_dtypes_are_noted(tmp_path: Path) -> None:
    path = tmp_path / "odd.npz"
    fortran = np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3))
    np.savez(path, be=np.ones(3, ">f4"), f=fortran, s=np.array(["ab"]), arr_1=np.ones(1))
    manifest = weightfit.read(path)
    assert manifest["be"].dtype == "F32"
    assert manifest["f"].stride == (1, 2) and not manifest["f"].is_contiguous
    assert location_bytes(manifest["f"]) == fortran.tobytes(order="F")
    assert manifest["s"].dtype == "<U2" and manifest["s"].nbytes is None
    assert manifest.notes == [
        "'be' is big-endian: its bytes are not little-endian F32",
        "'f' is stored in Fortran (column-major) order",
        "'s' has a numpy dtype with no canonical name: <U2",
    ]


def test_version_3_headers(tmp_path: Path) -> None:
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
    path = archive(tmp_path / "v3.npz", {"ü.npy": npy(header, bytes(8), version=(3, 0))})
    assert weightfit.read(path)["ü"].shape == (2,)


def test_an_empty_archive(tmp_path: Path) -> None:
    path = tmp_path / "empty.npz"
    np.savez(path)
    manifest = weightfit.read(path)
    assert len(manifest) == 0 and manifest.notes == ["the archive holds no arrays"]


def test_a_torch_zip_is_not_an_npz(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    torch.save({"a": torch.ones(2)}, path)
    assert not npz_format.sniff(path.read_bytes()[:64], path)


def test_a_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.npz"
    np.savez(path, a=np.ones(1))
    with pytest.raises(errors.ContainerKeyNotFound):
        weightfit.read(path, key="a")


def object_array(path: Path) -> Path:
    np.savez(path, a=np.array([{"x": 1}, None], dtype=object))
    return path


def object_array_running_code(path: Path) -> Path:
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    body = b"\x80\x03cos\nsystem\nX\x04\x00\x00\x00trueq\x00\x85R."
    return archive(path, {"a.npy": npy(header, body)})


def test_an_object_array_is_judged_by_its_pickle(tmp_path: Path) -> None:
    # np.save pickles an object array whole; its globals are numpy's own here.
    manifest = weightfit.read(object_array(tmp_path / "o.npz"))
    assert manifest.security == "benign"
    assert {g.name for g in manifest.globals} == {"_reconstruct", "ndarray", "dtype"}
    assert manifest["a"].dtype == "object"
    assert manifest["a"].location is None
    assert manifest.notes == [
        "'a' is an object array: np.load(allow_pickle=True) unpickles it; its pickle was "
        "judged, nothing was run"
    ]


def test_an_object_array_of_user_objects_is_unknown(tmp_path: Path) -> None:
    path = tmp_path / "o.npz"
    np.savez(path, a=np.array([argparse.Namespace(x=1), pathlib.PurePosixPath("p")]))
    manifest = weightfit.read(path)
    assert manifest.security == "benign"
    np.savez(path, a=np.array([fractions.Fraction(1, 3), collections.UserList()], dtype=object))
    assert weightfit.read(path).security == "unknown"


def object_field(path: Path) -> Path:
    header = "{'descr': [('w', '<f4'), ('obj', '|O')], 'fortran_order': False, 'shape': (1,), }"
    return archive(path, {"a.npy": npy(header, bytes(12))})


def header_too_long(path: Path) -> Path:
    return archive(path, {"a.npy": b"\x93NUMPY\x02\x00" + struct.pack("<I", 20_000)})


def header_calls_code(path: Path) -> Path:
    header = (
        "{'descr': __import__('os').system('touch pwned'), 'fortran_order': False, 'shape': ()}"
    )
    return archive(path, {"a.npy": npy(header)})


def header_not_a_dict(path: Path) -> Path:
    return archive(path, {"a.npy": npy("['<f4', False, (2,)]")})


def header_wrong_keys(path: Path) -> Path:
    return archive(path, {"a.npy": npy("{'descr': '<f4', 'shape': (2,)}", bytes(8))})


def negative_dim(path: Path) -> Path:
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }"
    return archive(path, {"a.npy": npy(header, bytes(8))})


def fortran_order_not_bool(path: Path) -> Path:
    header = "{'descr': '<f4', 'fortran_order': 'no', 'shape': (2,), }"
    return archive(path, {"a.npy": npy(header, bytes(8))})


def wrong_byte_count(path: Path) -> Path:
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }"
    return archive(path, {"a.npy": npy(header, bytes(8))})


def bad_magic(path: Path) -> Path:
    return archive(path, {"a.npy": b"\x93NUMPX\x01\x00" + bytes(8)})


def unknown_version(path: Path) -> Path:
    return archive(path, {"a.npy": b"\x93NUMPY\x09\x00" + bytes(8)})


def member_cut_short(path: Path) -> Path:
    return archive(path, {"a.npy": b"\x93NUMPY\x01\x00" + struct.pack("<H", 100) + b"{'descr'"})


def duplicate_member(path: Path) -> Path:
    header = "{'descr': '|u1', 'fortran_order': False, 'shape': (1,), }"
    with pytest.warns(UserWarning), zipfile.ZipFile(path, "w") as handle:
        handle.writestr("a.npy", npy(header, b"x"))
        handle.writestr("a.npy", npy(header, b"y"))
    return path


def overlapping_members(path: Path) -> Path:
    """Point the second member's central directory entry at the first's local header."""
    header = "{'descr': '|u1', 'fortran_order': False, 'shape': (1,), }"
    archive(path, {"a.npy": npy(header, b"x"), "b.npy": npy(header, b"y")})
    raw = bytearray(path.read_bytes())
    second = raw.index(b"PK\x01\x02", raw.index(b"PK\x01\x02") + 1)
    raw[second + 42 : second + 46] = struct.pack("<I", 0)
    path.write_bytes(bytes(raw))
    return path


ATTACKS: list[tuple[Callable[[Path], Path], type[errors.InputError], str]] = [
    (
        object_field,
        errors.MalformedPickle,
        "malformed pickle: object array a.npy: invalid opcode 0x00 (at byte 126)",
    ),
    (
        object_array_running_code,
        errors.ForbiddenPickleContent,
        "forbidden pickle content: object array a.npy: names os.system, which reaches the "
        "operating system (files, processes, shell); nothing was run (at byte 103)",
    ),
    (
        header_too_long,
        errors.HeaderTooLarge,
        "header too large: member 'a.npy' .npy header of 20000 bytes exceeds the limit of 10000",
    ),
    (
        header_calls_code,
        errors.InvalidHeader,
        "invalid header: member 'a.npy' .npy header is not a valid literal (ValueError)",
    ),
    (
        header_not_a_dict,
        errors.InvalidHeader,
        "invalid header: member 'a.npy' .npy header is not a dict literal",
    ),
    (
        header_wrong_keys,
        errors.InvalidHeader,
        "invalid header: member 'a.npy' .npy header keys must be "
        "['descr', 'fortran_order', 'shape'], found ['descr', 'shape']",
    ),
    (
        negative_dim,
        errors.InvalidHeader,
        "invalid header: member 'a.npy' shape must be a tuple of non-negative integers, "
        "found (-2,)",
    ),
    (
        fortran_order_not_bool,
        errors.InvalidHeader,
        "invalid header: member 'a.npy' fortran_order must be True or False, found 'no'",
    ),
    (
        wrong_byte_count,
        errors.TensorSizeMismatch,
        "tensor size mismatch: member 'a.npy' F32[3] needs 12 bytes but holds 8 after "
        "its .npy header",
    ),
    (
        bad_magic,
        errors.InvalidHeader,
        "invalid header: member 'a.npy' does not start with the .npy magic",
    ),
    (
        unknown_version,
        errors.InvalidHeader,
        "invalid header: member 'a.npy' has unknown .npy version (9, 0)",
    ),
    (
        member_cut_short,
        errors.TruncatedFile,
        "truncated file: member 'a.npy' ends inside its .npy header",
    ),
    (duplicate_member, errors.InvalidHeader, "invalid header: member 'a.npy' appears twice"),
    (
        overlapping_members,
        errors.OverlappingTensors,
        "overlapping tensors: members 'a.npy' and 'b.npy' share file bytes 0..103 (at byte 0)",
    ),
]


@pytest.mark.parametrize(
    ("build", "error", "message"), ATTACKS, ids=[build.__name__ for build, _, _ in ATTACKS]
)
def test_hostile_archive(
    tmp_path: Path,
    run_cli,
    monkeypatch: pytest.MonkeyPatch,
    build: Callable[[Path], Path],
    error: type[errors.InputError],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    path = build(tmp_path / "weights.npz")
    expected = f"{path}: {message}"
    with pytest.raises(error) as caught:
        weightfit.read(path)
    assert type(caught.value) is error
    assert str(caught.value) == expected
    result = run_cli("inspect", path)
    assert result.code == 3
    assert f"error: {expected}" in result.err.replace("\n", "")
    assert not (tmp_path / "pwned").exists()


def test_a_single_npy_array_is_named_as_one(tmp_path: Path, run_cli) -> None:
    path = tmp_path / "embedding.npy"
    np.save(path, np.ones((2, 3), np.float32))
    result = run_cli("inspect", path)
    assert (result.code, result.err.splitlines()[0]) == (
        3,
        f"error: {path}: not a checkpoint: a single numpy array (.npy), with no tensor names: "
        "weightfit reads .npz archives",
    )
