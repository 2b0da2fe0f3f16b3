"""The safetensors reader: real files from ``safetensors.torch``, edge cases, hostile files."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import _TYPES, save_file

import weightfit
from attacks import safetensors as attacks
from weightfit import errors
from weightfit.formats import ReadOptions, safetensors
from weightfit.manifest import Manifest

DTYPE_NAMES = {torch_dtype: name for name, torch_dtype in _TYPES.items()}


def tensor_bytes(tensor: torch.Tensor) -> bytes:
    return tensor.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def location_bytes(manifest: Manifest, name: str) -> bytes:
    location = manifest[name].location
    assert location is not None
    with open(location.file, "rb") as handle:
        handle.seek(location.offset)
        return handle.read(location.length)


def data_start(path: Path) -> int:
    return 8 + struct.unpack("<Q", path.read_bytes()[:8])[0]


def every_dtype() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    tensors = {}
    for name, dtype in _TYPES.items():
        values = torch.randn(3, 5, generator=generator) * 4
        if dtype.is_complex:
            tensors[name] = torch.complex(values, -values).to(dtype)
        elif dtype is torch.bool:
            tensors[name] = values > 0
        elif dtype in (torch.uint16, torch.uint32, torch.uint64):
            tensors[name] = values.abs().to(torch.int64).to(dtype)
        else:
            tensors[name] = values.to(dtype)
    return tensors


def test_every_field_matches_the_real_tensors(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    tensors = {f"layer.{name.lower()}": t for name, t in every_dtype().items()}
    tensors["empty"] = torch.zeros(0, 7)
    tensors["scalar"] = torch.tensor(2.5, dtype=torch.bfloat16)
    save_file(tensors, path, metadata={"format": "pt", "note": "ünïcode"})

    manifest = weightfit.read(path)

    assert manifest.format == "safetensors"
    assert manifest.source == str(path)
    assert manifest.files == [str(path)]
    assert manifest.metadata == {"format": "pt", "note": "ünïcode"}
    assert manifest.notes == []
    assert manifest.extras == {}
    assert manifest.container is None and manifest.containers == []
    assert manifest.security is None and manifest.globals == []
    raw_header = json.loads(path.read_bytes()[8 : data_start(path)])
    assert list(manifest) == [key for key in raw_header if key != "__metadata__"]
    with safe_open(path, "pt") as reference:
        assert set(manifest) == set(reference.keys()) == set(tensors)
    for name, tensor in tensors.items():
        spec = manifest[name]
        assert spec.name == name
        assert spec.shape == tuple(tensor.shape)
        assert spec.dtype == DTYPE_NAMES[tensor.dtype]
        assert spec.stride is None and spec.storage is None and spec.is_buffer is None
        assert spec.nbytes == tensor.numel() * tensor.element_size()
        assert location_bytes(manifest, name) == tensor_bytes(tensor)
    assert manifest["scalar"].dtype == "BF16"
    assert manifest.num_params == sum(t.numel() for t in tensors.values())


def test_locations_tile_the_data_section_to_the_end_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    save_file({"a": torch.ones(3), "b": torch.ones(2, 2, dtype=torch.float16)}, path)
    manifest = weightfit.read(path)
    ranges = sorted((s.location.offset, s.location.end) for s in manifest.tensors.values())
    assert ranges[0][0] == data_start(path)
    assert ranges[0][1] == ranges[1][0]
    assert ranges[-1][1] == path.stat().st_size


def test_an_empty_file_with_metadata_only(tmp_path: Path) -> None:
    path = tmp_path / "empty.safetensors"
    save_file({}, path, metadata={"format": "pt"})
    manifest = weightfit.read(path)
    assert len(manifest) == 0
    assert manifest.metadata == {"format": "pt"}


def test_a_bare_object_header(tmp_path: Path) -> None:
    manifest = weightfit.read(attacks.raw(tmp_path / "x.safetensors", b"{}"))
    assert len(manifest) == 0 and manifest.metadata == {}


def test_padding_before_and_after_the_header(tmp_path: Path) -> None:
    header = json.dumps({"a": attacks.F32_PAIR}).encode()
    path = attacks.raw(tmp_path / "x.safetensors", b"  \n" + header + b" " * 13, bytes(8))
    manifest = weightfit.read(path)
    assert manifest["a"].shape == (2,)
    assert manifest["a"].location.offset == 8 + 3 + len(header) + 13


def test_header_order_is_kept_when_it_differs_from_data_order(tmp_path: Path) -> None:
    header = {
        "z": {"dtype": "U8", "shape": [2], "data_offsets": [2, 4]},
        "a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]},
    }
    manifest = weightfit.read(attacks.table(tmp_path / "x.safetensors", header, b"abcd"))
    assert list(manifest) == ["z", "a"]
    assert location_bytes(manifest, "z") == b"cd"


@pytest.mark.parametrize("dtype", ["Q4", "C128", "f32"])
def test_an_unknown_dtype_is_an_invalid_header(tmp_path: Path, dtype: str) -> None:
    # As safe_open: its Dtype enum has no such variant (C128 included, as of 0.8).
    header = {"q": {"dtype": dtype, "shape": [1], "data_offsets": [0, 16]}}
    path = attacks.table(tmp_path / "x.safetensors", header, bytes(16))
    with pytest.raises(errors.InvalidHeader) as caught:
        weightfit.read(path)
    assert str(caught.value) == (
        f"{path}: invalid header: tensor 'q' has dtype '{dtype}', which safetensors does not "
        "define (safe_open refuses it)"
    )


def _raw_header(path: Path, text: str, data: bytes) -> Path:
    raw = text.encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


@pytest.mark.parametrize(
    "text",
    [
        '{"a\\ud800":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}',  # compact layout
        '{ "a\\udfff": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}',  # spaced
        '{"__metadata__":{"k":"v\\ud800"},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}',
    ],
)
def test_a_lone_surrogate_is_an_invalid_header(tmp_path: Path, text: str) -> None:
    path = _raw_header(tmp_path / "x.safetensors", text, b"\x00")
    with pytest.raises(errors.InvalidHeader, match="lone surrogate"):
        weightfit.read(path)


def test_escaped_names_and_surrogate_pairs_read(tmp_path: Path) -> None:
    text = '{"a\\u00e9\\ud83d\\ude00\\"q":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}'
    manifest = weightfit.read(_raw_header(tmp_path / "x.safetensors", text, b"\x00"))
    assert list(manifest.tensors) == ['a\u00e9\U0001f600"q']


def test_the_compact_and_the_spaced_header_read_the_same(tmp_path: Path) -> None:
    tensors = {f"l.{i}": torch.zeros(i + 1, 2, dtype=torch.bfloat16) for i in range(5)}
    compact = tmp_path / "compact.safetensors"
    save_file(tensors, compact, metadata={"format": "pt"})
    raw = compact.read_bytes()
    length = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + length])
    spaced = attacks.raw(
        tmp_path / "spaced.safetensors", json.dumps(header).encode(), raw[8 + length :]
    )
    first, second = weightfit.read(compact), weightfit.read(spaced)
    assert [(s.name, s.shape, s.dtype, s.location.length) for s in first.tensors.values()] == [
        (s.name, s.shape, s.dtype, s.location.length) for s in second.tensors.values()
    ]
    assert first.metadata == second.metadata == {"format": "pt"}


def test_zero_sized_tensors_may_share_an_offset(tmp_path: Path) -> None:
    header = {
        "e1": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]},
        "a": attacks.F32_PAIR,
        "e2": {"dtype": "F32", "shape": [4, 0], "data_offsets": [8, 8]},
    }
    manifest = weightfit.read(attacks.table(tmp_path / "x.safetensors", header, bytes(8)))
    assert manifest["e2"].shape == (4, 0) and manifest["e2"].location.length == 0


def test_f4_packs_two_values_a_byte(tmp_path: Path) -> None:
    header = {"a": {"dtype": "F4", "shape": [2, 3], "data_offsets": [0, 3]}}
    manifest = weightfit.read(attacks.table(tmp_path / "x.safetensors", header, bytes(3)))
    assert manifest["a"].nbytes == 3


def test_extra_fields_in_an_entry_are_ignored_like_the_reference(tmp_path: Path) -> None:
    header = {"a": {**attacks.F32_PAIR, "quant": "none"}}
    manifest = weightfit.read(attacks.table(tmp_path / "x.safetensors", header, bytes(8)))
    assert manifest["a"].dtype == "F32"


def test_a_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.safetensors"
    save_file({"a": torch.ones(1)}, path)
    with pytest.raises(errors.ContainerKeyNotFound) as caught:
        weightfit.read(path, key="ema")
    assert str(caught.value) == (
        f"{path}: container key not found: a safetensors file is one flat set of tensors; "
        "it has no entry 'ema'"
    )


def test_the_reader_reads_only_the_header(tmp_path: Path) -> None:
    """A 100 GB sparse file reads as fast as a small one: only its header is touched."""
    header = {"w": {"dtype": "BF16", "shape": [50_000, 1_000_000], "data_offsets": [0, 10**11]}}
    path = attacks.table(tmp_path / "big.safetensors", header)
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size + 10**11)
    manifest = weightfit.read(path)
    assert manifest.total_bytes == 10**11


def test_inspect_exits_0_on_a_valid_file(tmp_path: Path, run_cli) -> None:
    path = tmp_path / "x.safetensors"
    save_file({"a": torch.ones(2)}, path)
    assert run_cli("inspect", path).code == 0


def test_a_file_shorter_than_the_length_prefix(tmp_path: Path, run_cli) -> None:
    path = attacks.shorter_than_length_prefix(tmp_path / "x.safetensors")
    with pytest.raises(errors.TruncatedFile) as caught:
        safetensors.read(path, ReadOptions())
    assert caught.value.detail == "3 bytes, too short for the 8-byte header length"
    assert run_cli("inspect", path).code == 3


ATTACKS: list[tuple[Callable[[Path], Path], type[errors.InputError], str]] = [
    (
        attacks.header_length_past_eof,
        errors.TruncatedFile,
        "truncated file: header length 1000 runs past the end of the 16-byte file (at byte 0)",
    ),
    (
        attacks.header_length_huge,
        errors.HeaderTooLarge,
        "header too large: header length 9223372036854775808 exceeds the limit of "
        "100000000 bytes (at byte 0)",
    ),
    (
        attacks.header_length_just_over_limit,
        errors.HeaderTooLarge,
        "header too large: header length 100000001 exceeds the limit of 100000000 bytes "
        "(at byte 0)",
    ),
    (
        attacks.invalid_json,
        errors.InvalidHeader,
        "invalid header: header is not valid JSON "
        "(Expecting property name enclosed in double quotes at char 22)",
    ),
    (
        attacks.not_utf8,
        errors.InvalidHeader,
        "invalid header: header is not valid UTF-8 (invalid start byte) (at byte 10)",
    ),
    (
        attacks.duplicate_names,
        errors.InvalidHeader,
        "invalid header: key 'a' appears twice in the JSON header",
    ),
    (
        attacks.entry_not_an_object,
        errors.InvalidHeader,
        "invalid header: tensor 'a' must be an object, found [1, 2]",
    ),
    (
        attacks.missing_data_offsets,
        errors.InvalidHeader,
        "invalid header: tensor 'a' has no 'data_offsets'",
    ),
    (
        attacks.dtype_not_a_string,
        errors.InvalidHeader,
        "invalid header: tensor 'a' dtype must be a string, found 4",
    ),
    (
        attacks.negative_dim,
        errors.InvalidHeader,
        "invalid header: tensor 'a' shape must be a list of non-negative integers, found [-2]",
    ),
    (
        attacks.boolean_dim,
        errors.InvalidHeader,
        "invalid header: tensor 'a' shape must be a list of non-negative integers, found [True, 2]",
    ),
    (
        attacks.negative_offset,
        errors.InvalidHeader,
        "invalid header: tensor 'a' data_offsets must be two non-negative integers, found [-8, 0]",
    ),
    (
        attacks.float_offset,
        errors.InvalidHeader,
        "invalid header: tensor 'a' data_offsets must be two non-negative integers, found [0.0, 8]",
    ),
    (
        attacks.three_offsets,
        errors.InvalidHeader,
        "invalid header: tensor 'a' data_offsets must be two non-negative integers, "
        "found [0, 4, 8]",
    ),
    (
        attacks.offsets_reversed,
        errors.InvalidHeader,
        "invalid header: tensor 'a' data_offsets [8, 0] end before they begin",
    ),
    (
        attacks.metadata_not_strings,
        errors.InvalidHeader,
        "invalid header: __metadata__ value of 'epoch' must be a string, found 3",
    ),
    (
        attacks.wrong_byte_count,
        errors.TensorSizeMismatch,
        "tensor size mismatch: tensor 'a' F32[2] needs 8 bytes but its data_offsets hold 6",
    ),
    (
        attacks.half_byte_f4,
        errors.TensorSizeMismatch,
        "tensor size mismatch: tensor 'a' F4[3] is 12 bits, not a whole number of bytes",
    ),
    (
        attacks.overlapping_offsets,
        errors.OverlappingTensors,
        "overlapping tensors: tensor 'b' [4, 12] starts inside 'a', which ends at 8 "
        "(at byte {data+4})",
    ),
    (
        attacks.hole,
        errors.UncoveredBytes,
        "uncovered bytes: data section bytes [8, 12) belong to no tensor (at byte {data+8})",
    ),
    (
        attacks.trailing_bytes,
        errors.UncoveredBytes,
        "uncovered bytes: data section bytes [8, 12) belong to no tensor (at byte {data+8})",
    ),
    (
        attacks.first_begins_late,
        errors.TensorSizeMismatch,
        "tensor size mismatch: tensor 'a' F32[2] needs 8 bytes but its data_offsets hold 4",
    ),
    (
        attacks.begin_inside_the_previous,
        errors.TensorSizeMismatch,
        "tensor size mismatch: tensor 'b' F32[2] needs 8 bytes but its data_offsets hold 12",
    ),
    (
        attacks.closed_before_the_last_entry,
        errors.InvalidHeader,
        "invalid header: header is not valid JSON (Extra data at char 54)",
    ),
    (
        attacks.out_of_bounds,
        errors.TensorOutOfBounds,
        "tensor out of bounds: tensor 'b' [4096, 4104] ends past the 8-byte data section "
        "(at byte {data+4096})",
    ),
    (
        attacks.truncated_data,
        errors.TruncatedFile,
        "truncated file: file ends at byte {data+14}, 10 bytes before its last tensor 'b' "
        "does (at byte {data+14})",
    ),
]


def expected_message(path: Path, template: str) -> str:
    start = data_start(path)
    for delta in (4, 8, 14, 4096):
        template = template.replace(f"{{data+{delta}}}", str(start + delta))
    return f"{path}: {template}"


@pytest.mark.parametrize(
    ("build", "error", "message"), ATTACKS, ids=[build.__name__ for build, _, _ in ATTACKS]
)
def test_hostile_file(
    tmp_path: Path,
    run_cli,
    build: Callable[[Path], Path],
    error: type[errors.InputError],
    message: str,
) -> None:
    path = build(tmp_path / "model.safetensors")
    expected = expected_message(path, message)
    with pytest.raises(error) as caught:
        weightfit.read(path)
    assert type(caught.value) is error
    assert str(caught.value) == expected
    result = run_cli("inspect", path)
    assert result.code == 3
    assert f"error: {expected}" in result.err.replace("\n", "")


def test_the_fast_spec_constructor_builds_the_same_frozen_spec() -> None:
    from dataclasses import FrozenInstanceError

    from weightfit.manifest import ByteRange, TensorSpec, new_spec

    fast = new_spec("w", (2, 3), "F32", "f.safetensors", 8, 24)
    slow = TensorSpec("w", (2, 3), "F32", ByteRange("f.safetensors", 8, 24))
    assert fast == slow and hash(fast) == hash(slow) and repr(fast) == repr(slow)
    with pytest.raises(FrozenInstanceError):
        fast.name = "v"  # type: ignore[misc]
