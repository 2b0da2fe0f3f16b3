"""Hostile GGUF files, one attack per builder, built with ``struct.pack``."""

from __future__ import annotations

import struct
from pathlib import Path

UINT32, BOOL, STRING, ARRAY = 4, 7, 8, 9
F32, Q8_0 = 0, 8


def string(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def kv(key: str, value_type: int, payload: bytes) -> bytes:
    return string(key) + struct.pack("<I", value_type) + payload


def info(name: str | bytes, dims: list[int], ggml_type: int = F32, offset: int = 0) -> bytes:
    """One tensor info; ``dims`` innermost first, as GGUF stores them."""
    packed = struct.pack(f"<I{len(dims)}Q", len(dims), *dims)
    return string(name) + packed + struct.pack("<IQ", ggml_type, offset)


def build(
    path: Path,
    infos: list[bytes] = (),
    kvs: list[bytes] = (),
    data: bytes = b"",
    *,
    version: int = 3,
    tensor_count: int | None = None,
    kv_count: int | None = None,
    alignment: int = 32,
) -> Path:
    """Write magic, version, counts, key-values, tensor infos, padding and ``data``."""
    head = b"GGUF" + struct.pack(
        "<IQQ",
        version,
        len(infos) if tensor_count is None else tensor_count,
        len(kvs) if kv_count is None else kv_count,
    )
    body = head + b"".join(kvs) + b"".join(infos)
    body += bytes(-len(body) % alignment)
    path.write_bytes(body + data)
    return path


def f32_pair(path: Path, second_offset: int = 32, data: bytes = bytes(64)) -> Path:
    """Two F32 tensors of 8 elements (32 bytes), ``a`` at 0 and ``b`` at ``second_offset``."""
    return build(path, [info("a", [8]), info("b", [8], offset=second_offset)], data=data)


def version_1(path: Path) -> Path:
    return build(path, version=1)


def tensor_count_huge(path: Path) -> Path:
    return build(path, tensor_count=2**60)


def kv_count_huge(path: Path) -> Path:
    return build(path, kv_count=2**40)


def key_length_past_eof(path: Path) -> Path:
    return build(path, kvs=[struct.pack("<Q", 10**9) + b"general.name"])


def unknown_value_type(path: Path) -> Path:
    return build(path, kvs=[kv("general.name", 99, b"\x00" * 8)])


def bool_of_two(path: Path) -> Path:
    return build(path, kvs=[kv("x.flag", BOOL, b"\x02")])


def array_count_huge(path: Path) -> Path:
    return build(path, kvs=[kv("tokens", ARRAY, struct.pack("<IQ", STRING, 2**50))])


def arrays_nested_too_deep(path: Path) -> Path:
    payload = struct.pack("<IQ", UINT32, 0)
    for _ in range(5):
        payload = struct.pack("<IQ", ARRAY, 1) + payload
    return build(path, kvs=[kv("deep", ARRAY, payload)])


def duplicate_key(path: Path) -> Path:
    one = kv("general.name", STRING, string("x"))
    return build(path, kvs=[one, one])


def alignment_not_power_of_two(path: Path) -> Path:
    return build(path, kvs=[kv("general.alignment", UINT32, struct.pack("<I", 48))])


def alignment_wrong_type(path: Path) -> Path:
    return build(path, kvs=[kv("general.alignment", STRING, string("32"))])


def duplicate_tensor_name(path: Path) -> Path:
    return build(path, [info("a", [8]), info("a", [8], offset=32)], data=bytes(64))


def name_not_utf8(path: Path) -> Path:
    return build(path, [info(b"w\xff", [8])], data=bytes(32))


def five_dims(path: Path) -> Path:
    return build(path, [info("a", [1, 1, 1, 1, 8])], data=bytes(32))


def dims_overflow(path: Path) -> Path:
    return build(path, [info("a", [2**32, 2**32])])


def partial_quant_block(path: Path) -> Path:
    return build(path, [info("q", [31, 2], Q8_0)], data=bytes(68))


def misaligned_offset(path: Path) -> Path:
    return f32_pair(path, second_offset=36)


def overlapping(path: Path) -> Path:
    return build(path, [info("a", [16]), info("b", [8], offset=32)], data=bytes(64))


def hole(path: Path) -> Path:
    return f32_pair(path, second_offset=64, data=bytes(96))


def out_of_bounds(path: Path) -> Path:
    return f32_pair(path, second_offset=4096, data=bytes(64))


def truncated_data(path: Path) -> Path:
    return f32_pair(path, data=bytes(40))


def truncated_header(path: Path) -> Path:
    """Cut inside the second tensor info, after its dims (byte 80 of 96 header bytes)."""
    full = f32_pair(path).read_bytes()
    path.write_bytes(full[:80])
    return path


def name_too_long(path: Path) -> Path:
    return build(path, [info("n" * 64, [8])], data=bytes(32))
