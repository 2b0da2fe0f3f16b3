"""Hostile safetensors files and shard indexes, one attack per builder."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

F32_PAIR = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}


def raw(path: Path, header: bytes, data: bytes = b"", *, length: int | None = None) -> Path:
    """Write an 8-byte length (``len(header)`` unless given), the header bytes, the data."""
    size = len(header) if length is None else length
    path.write_bytes(struct.pack("<Q", size) + header + data)
    return path


def table(path: Path, header: dict[str, object], data: bytes = b"") -> Path:
    """Write a file whose header is ``header`` as compact JSON."""
    return raw(path, json.dumps(header, separators=(",", ":")).encode(), data)


def header_length_past_eof(path: Path) -> Path:
    return raw(path, b'{"a":{}}', length=1000)


def header_length_huge(path: Path) -> Path:
    return raw(path, b"{}", length=2**63)


def header_length_just_over_limit(path: Path) -> Path:
    return raw(path, b"{}", length=100_000_001)


def shorter_than_length_prefix(path: Path) -> Path:
    path.write_bytes(b"\x02\x00\x00")
    return path


def invalid_json(path: Path) -> Path:
    return raw(path, b'{"a": {"dtype": "F32",}')


def not_utf8(path: Path) -> Path:
    return raw(path, b'{"\xff": 1}')


def duplicate_names(path: Path) -> Path:
    entry = json.dumps(F32_PAIR)
    return raw(path, f'{{"a":{entry},"a":{entry}}}'.encode(), bytes(8))


def entry_not_an_object(path: Path) -> Path:
    return table(path, {"a": [1, 2]})


def missing_data_offsets(path: Path) -> Path:
    return table(path, {"a": {"dtype": "F32", "shape": [2]}}, bytes(8))


def dtype_not_a_string(path: Path) -> Path:
    return table(path, {"a": {**F32_PAIR, "dtype": 4}}, bytes(8))


def negative_dim(path: Path) -> Path:
    return table(path, {"a": {**F32_PAIR, "shape": [-2]}}, bytes(8))


def boolean_dim(path: Path) -> Path:
    return table(path, {"a": {**F32_PAIR, "shape": [True, 2]}}, bytes(8))


def negative_offset(path: Path) -> Path:
    return table(path, {"a": {**F32_PAIR, "data_offsets": [-8, 0]}}, bytes(8))


def float_offset(path: Path) -> Path:
    return table(path, {"a": {**F32_PAIR, "data_offsets": [0.0, 8]}}, bytes(8))


def three_offsets(path: Path) -> Path:
    return table(path, {"a": {**F32_PAIR, "data_offsets": [0, 4, 8]}}, bytes(8))


def offsets_reversed(path: Path) -> Path:
    return table(path, {"a": {**F32_PAIR, "data_offsets": [8, 0]}}, bytes(8))


def metadata_not_strings(path: Path) -> Path:
    return table(path, {"__metadata__": {"epoch": 3}})


def wrong_byte_count(path: Path) -> Path:
    return table(path, {"a": {**F32_PAIR, "data_offsets": [0, 6]}}, bytes(6))


def half_byte_f4(path: Path) -> Path:
    return table(path, {"a": {"dtype": "F4", "shape": [3], "data_offsets": [0, 2]}}, bytes(2))


def overlapping_offsets(path: Path) -> Path:
    header = {
        "a": F32_PAIR,
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
    }
    return table(path, header, bytes(12))


def hole(path: Path) -> Path:
    header = {
        "a": F32_PAIR,
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [12, 20]},
    }
    return table(path, header, bytes(20))


def trailing_bytes(path: Path) -> Path:
    return table(path, {"a": F32_PAIR}, bytes(12))


def first_begins_late(path: Path) -> Path:
    """The only tensor ends where its size says, but begins 4 bytes in."""
    return table(path, {"a": {**F32_PAIR, "data_offsets": [4, 8]}}, bytes(8))


def begin_inside_the_previous(path: Path) -> Path:
    """Each tensor ends where the sizes add up to, but the second begins inside the first."""
    header = {"a": F32_PAIR, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 16]}}
    return table(path, header, bytes(16))


def closed_before_the_last_entry(path: Path) -> Path:
    """The object closed after the first entry, the second one after it: not JSON."""
    entry = json.dumps(F32_PAIR, separators=(",", ":"))
    b = '{"dtype":"F32","shape":[2],"data_offsets":[8,16]}'
    return raw(path, f'{{"a":{entry}}}"b":{b}}}'.encode(), bytes(16))


def out_of_bounds(path: Path) -> Path:
    header = {
        "a": F32_PAIR,
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [4096, 4104]},
    }
    return table(path, header, bytes(8))


def truncated_data(path: Path) -> Path:
    """A valid file cut short in its last tensor, as an interrupted download leaves it."""
    header = {
        "a": F32_PAIR,
        "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]},
    }
    table(path, header, bytes(24))
    os.truncate(path, path.stat().st_size - 10)
    return path


def shard(folder: Path, name: str, tensors: dict[str, int]) -> Path:
    """A valid U8 shard: each tensor ``name -> length`` in order."""
    header: dict[str, object] = {}
    offset = 0
    for tensor, size in tensors.items():
        header[tensor] = {"dtype": "U8", "shape": [size], "data_offsets": [offset, offset + size]}
        offset += size
    return table(folder / name, header, bytes(offset))


def index(folder: Path, weight_map: dict[str, str], **metadata: object) -> Path:
    path = folder / "model.safetensors.index.json"
    path.write_text(json.dumps({"metadata": metadata, "weight_map": weight_map}))
    return path


def index_names_missing_shard(folder: Path) -> Path:
    shard(folder, "model-00001-of-00002.safetensors", {"a": 4})
    return index(
        folder,
        {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"},
    )


def index_points_at_wrong_shard(folder: Path) -> Path:
    shard(folder, "model-00001-of-00002.safetensors", {"a": 4, "b": 4})
    shard(folder, "model-00002-of-00002.safetensors", {"c": 4})
    return index(
        folder,
        {
            "a": "model-00001-of-00002.safetensors",
            "b": "model-00002-of-00002.safetensors",
            "c": "model-00002-of-00002.safetensors",
        },
    )


def index_tensor_in_no_shard(folder: Path) -> Path:
    shard(folder, "model-00001-of-00001.safetensors", {"a": 4})
    return index(
        folder,
        {"a": "model-00001-of-00001.safetensors", "ghost": "model-00001-of-00001.safetensors"},
    )


def tensor_in_two_shards(folder: Path) -> Path:
    shard(folder, "model-00001-of-00002.safetensors", {"a": 4})
    shard(folder, "model-00002-of-00002.safetensors", {"a": 4, "b": 4})
    return index(
        folder,
        {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"},
    )


def shard_tensor_missing_from_index(folder: Path) -> Path:
    shard(folder, "model-00001-of-00001.safetensors", {"a": 4, "extra": 4})
    return index(folder, {"a": "model-00001-of-00001.safetensors"})


def shard_name_escapes_folder(folder: Path) -> Path:
    return index(folder, {"a": "../outside.safetensors"})


def weight_map_not_an_object(folder: Path) -> Path:
    path = folder / "model.safetensors.index.json"
    path.write_text(json.dumps({"weight_map": ["a", "b"]}))
    return path


def weight_map_value_not_a_name(folder: Path) -> Path:
    path = folder / "model.safetensors.index.json"
    path.write_text(json.dumps({"weight_map": {"a": ["model-00001-of-00001.safetensors"]}}))
    return path


def broken_shard(folder: Path) -> Path:
    header_length_past_eof(folder / "model-00001-of-00001.safetensors")
    return index(folder, {"a": "model-00001-of-00001.safetensors"})
