"""GGUF files (llama.cpp / ggml): a binary header of key-value metadata and tensor infos.

Spec: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md ("File Structure");
the reference reader is ggml ``src/gguf.cpp`` (``gguf_init_from_file_impl``)::

    u32 magic "GGUF" · u32 version · u64 tensor_count · u64 metadata_kv_count
    metadata_kv_count × (string key, u32 value_type, value)
    tensor_count × (string name, u32 n_dims, n_dims × u64 dims, u32 ggml_type, u64 offset)
    padding to general.alignment (default 32), then the data section

Strings are a u64 byte length and UTF-8 bytes; arrays a u32 element type, a u64
count and the elements (arrays may nest). What this reader guarantees:

- It reads only the header, through a memory map: tensor bytes are never
  touched, and every count read from the file is checked against the bytes left
  before any loop runs (:class:`HeaderTooLarge`), every read against the end of
  the file (:class:`TruncatedFile`).
- Versions 2 and 3 are read, little- or big-endian (the byte order is told
  from the version field, as gguf-py does; big-endian files get a note).
- Shapes are reported in PyTorch order: GGUF stores dims innermost first
  (``ne[0]`` is the row length), so they are reversed.
- Plain types get canonical names (``F32``, ``BF16``, ``I8`` ...); quantized types
  keep their GGML name (``Q4_K``, ``IQ2_XS``, ``TQ1_0`` ...) and their byte counts
  come from :data:`weightfit.dtypes.BLOCK_TYPES`. An unknown type id is kept as
  ``GGML_TYPE_<id>``, with a note; its tensors get no location.
- The layout is checked like ggml does: offsets are multiples of the alignment,
  each tensor starts at the aligned end of the one before (by offset), none
  overlap, and the file holds them all. Bytes after the last tensor's padding
  are a note, not an error: ggml ignores them.
- Metadata values become strings in ``Manifest.metadata``: numbers and booleans
  as JSON text, short arrays as a JSON list, long ones (tokenizer vocabularies)
  as ``"[151936 STRING values]"`` and strings over 64 KiB as
  ``"[string of N bytes]"``, without copying their values.
- Keys longer than the spec's 65535 bytes and tensor names of 64 bytes or more
  (ggml's ``GGML_MAX_NAME``) are :class:`InvalidHeader`.
"""

from __future__ import annotations

import json
import math
import mmap
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

from weightfit import dtypes
from weightfit.errors import (
    ContainerKeyNotFound,
    HeaderTooLarge,
    InvalidHeader,
    TruncatedFile,
)
from weightfit.formats import ReadOptions
from weightfit.formats._layout import check_tiling, show
from weightfit.manifest import ByteRange, Manifest, TensorSpec

NAME = "gguf"

MAGIC = b"GGUF"
"""Spec "File Structure": ``GGUF_MAGIC`` 0x46554747, "GGUF" in file byte order."""
VERSIONS = (2, 3)
"""Spec "Version history": v1 had 32-bit counts (not read); v2 has 64-bit, v3 big-endian."""
DEFAULT_ALIGNMENT = 32
"""Spec "Standardized key-value pairs": ``general.alignment`` defaults to 32."""
ALIGNMENT_KEY = "general.alignment"
"""Spec: a ``uint32``; ggml requires a power of two."""
MAX_DIMS = 4
"""``GGML_MAX_DIMS`` in ``ggml.h``; gguf.cpp rejects more."""
MAX_DIM = 2**63 - 1
"""ggml stores dims as ``int64_t ne[4]``; gguf.cpp rejects larger ones and products."""
MAX_ARRAY_DEPTH = 4
"""Nested arrays read before giving up (the spec allows nesting; real files do not nest)."""
MAX_ARRAY_KEPT = 16
"""Longest array whose values go into ``metadata``; longer ones are summarised."""
MAX_KEY_BYTES = 2**16 - 1
"""Spec "File Structure": a key "must be at most 2^16-1 bytes"."""
MAX_NAME_BYTES = 63
"""``GGML_MAX_NAME`` is 64 and gguf.cpp rejects names of 64 bytes or more."""
MAX_VALUE_BYTES = 2**16
"""Longest string value kept in ``metadata``; longer ones are summarised, not copied."""

_MIN_KV_BYTES = 8 + 4 + 1
"""Smallest key-value pair: empty key (u64 length), u32 type, one-byte value."""
_MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8
"""Smallest tensor info: empty name, u32 n_dims of 0, u32 type, u64 offset."""

# Spec "File Structure", ``enum gguf_metadata_value_type``.
_STRING, _ARRAY = 8, 9
_SCALARS: dict[int, tuple[str, str]] = {
    0: ("UINT8", "B"),
    1: ("INT8", "b"),
    2: ("UINT16", "H"),
    3: ("INT16", "h"),
    4: ("UINT32", "I"),
    5: ("INT32", "i"),
    6: ("FLOAT32", "f"),
    7: ("BOOL", "B"),
    10: ("UINT64", "Q"),
    11: ("INT64", "q"),
    12: ("FLOAT64", "d"),
}
_BOOL, _UINT32 = 7, 4

# ``enum ggml_type`` in ``ggml.h`` (ids 4, 5 and 31-33, 36-38 were removed).
GGML_TYPES: dict[int, str] = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    6: "Q5_0",
    7: "Q5_1",
    8: "Q8_0",
    9: "Q8_1",
    10: "Q2_K",
    11: "Q3_K",
    12: "Q4_K",
    13: "Q5_K",
    14: "Q6_K",
    15: "Q8_K",
    16: "IQ2_XXS",
    17: "IQ2_XS",
    18: "IQ3_XXS",
    19: "IQ1_S",
    20: "IQ4_NL",
    21: "IQ3_S",
    22: "IQ2_S",
    23: "IQ4_XS",
    24: "I8",
    25: "I16",
    26: "I32",
    27: "I64",
    28: "F64",
    29: "IQ1_M",
    30: "BF16",
    34: "TQ1_0",
    35: "TQ2_0",
    39: "MXFP4",
    40: "NVFP4",
    41: "Q1_0",
}


@dataclass
class _Cursor:
    """A read position in the mapped file; every read is checked against its end."""

    data: mmap.mmap
    end: int
    endian: str = "<"
    pos: int = 0

    def take(self, size: int, what: str) -> int:
        """Claim ``size`` bytes for ``what``; return where they start."""
        start = self.pos
        if size > self.end - start:
            raise TruncatedFile(f"file ends inside {what}", offset=start)
        self.pos = start + size
        return start

    def number(self, code: str, what: str) -> int | float:
        """Read one struct-coded number."""
        fmt = self.endian + code
        start = self.take(struct.calcsize(fmt), what)
        value: int | float = struct.unpack_from(fmt, self.data, start)[0]
        return value

    def count(self, what: str) -> int:
        """Read a u64 count or length."""
        return int(self.number("Q", what))

    def string(self, what: str, *, limit: int, strict: bool) -> str:
        """Read a GGUF string of at most ``limit`` bytes.

        ``strict`` (keys, names) refuses a longer string or bad UTF-8; otherwise
        (values) a longer string is summarised and bad UTF-8 escaped.
        """
        length = self.count(f"the length of {what}")
        start = self.take(length, what)
        if length > limit:
            if strict:
                raise InvalidHeader(f"{what} of {length} bytes exceeds {limit}", offset=start)
            return f"[string of {length} bytes]"
        raw = bytes(self.data[start : start + length])
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as error:
            if strict:
                raise InvalidHeader(
                    f"{what} is not valid UTF-8 ({error.reason})", offset=start + error.start
                ) from error
            return raw.decode("utf-8", "backslashreplace")

    def need(self, items: int, each: int, what: str) -> None:
        """Check that ``items`` of at least ``each`` bytes can fit in what is left."""
        left = self.end - self.pos
        if items * each > left:
            raise HeaderTooLarge(
                f"declares {items} {what}, more than the {left} bytes left could hold",
                offset=self.pos,
            )


@dataclass
class _Header:
    """What the header says, before the layout is checked."""

    version: int
    endian: str
    metadata: dict[str, str] = field(default_factory=dict)
    alignment: int = DEFAULT_ALIGNMENT
    tensors: list[tuple[str, tuple[int, ...], str, int]] = field(default_factory=list)
    data_start: int = 0


def sniff(head: bytes, path: Path) -> bool:
    """Whether ``head`` starts with the GGUF magic."""
    return head[:4] == MAGIC


def read(path: Path, options: ReadOptions) -> Manifest:
    """Read a GGUF file's manifest from its header.

    Args:
        path: The ``.gguf`` file.
        options: ``key`` must be ``None``: the file is one flat set of tensors.

    Returns:
        A manifest of format ``"gguf"``: shapes in PyTorch order, quantized
        dtypes by GGML name, metadata as strings, ``extras`` with the GGUF
        ``version`` and ``alignment``.

    Raises:
        TruncatedFile: the file ends inside the header or before a tensor's end.
        HeaderTooLarge: a count or length exceeds the bytes left in the file.
        InvalidHeader: a bad magic, version, value type, name, dimension,
            alignment or offset, or a duplicate key or tensor name.
        TensorOutOfBounds, OverlappingTensors, UncoveredBytes: the tensors do
            not follow each other as the spec lays them out.
        ContainerKeyNotFound: ``options.key`` was given.

    Example:
        >>> read(Path("qwen2-0.5b-q4_k_m.gguf"), ReadOptions())  # doctest: +SKIP
        <Manifest gguf 290 tensors 494.0M params 397.8 MB 'qwen2-0.5b-q4_k_m.gguf'>

    """
    if options.key is not None:
        raise ContainerKeyNotFound(
            f"a GGUF file is one flat set of tensors; it has no entry {options.key!r}", path=path
        )
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size < len(MAGIC):
            raise TruncatedFile(f"{size} bytes, too short for the magic")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            header = _read_header(_Cursor(data, size))
    return _manifest(header, size, str(path))


def _read_header(cursor: _Cursor) -> _Header:
    """Read everything before the data section."""
    cursor.take(4, "the magic")
    if cursor.data[:4] != MAGIC:
        raise InvalidHeader(f"magic {bytes(cursor.data[:4])!r} is not {MAGIC!r}", offset=0)
    header = _Header(*_version(cursor))
    tensor_count = cursor.count("the tensor count")
    kv_count = cursor.count("the metadata count")
    cursor.need(kv_count, _MIN_KV_BYTES, "metadata key-value pairs")
    for _ in range(kv_count):
        key, value = _key_value(cursor)
        if key in header.metadata:
            raise InvalidHeader(f"metadata key {show(key)} appears twice")
        header.metadata[key] = value
        if key == ALIGNMENT_KEY:
            header.alignment = _alignment(value)
    cursor.need(tensor_count, _MIN_TENSOR_INFO_BYTES, "tensor infos")
    names: set[str] = set()
    for _ in range(tensor_count):
        info = _tensor_info(cursor, header.alignment)
        if info[0] in names:
            raise InvalidHeader(f"tensor {show(info[0])} appears twice")
        names.add(info[0])
        header.tensors.append(info)
    header.data_start = -(-cursor.pos // header.alignment) * header.alignment
    return header


def _version(cursor: _Cursor) -> tuple[int, str]:
    """Read the version and tell the byte order from it (gguf-py ``GGUFReader`` does the same)."""
    start = cursor.take(4, "the version")
    (little,) = struct.unpack_from("<I", cursor.data, start)
    (big,) = struct.unpack_from(">I", cursor.data, start)
    if little in VERSIONS:
        return little, "<"
    if big in VERSIONS:
        cursor.endian = ">"
        return big, ">"
    raise InvalidHeader(
        f"version {little} is not supported (only {', '.join(map(str, VERSIONS))})", offset=start
    )


def _key_value(cursor: _Cursor) -> tuple[str, str]:
    """Read one metadata pair; the value comes back as a string."""
    key = cursor.string("a metadata key", limit=MAX_KEY_BYTES, strict=True)
    value_type = int(cursor.number("I", f"the type of {show(key)}"))
    if key == ALIGNMENT_KEY and value_type != _UINT32:
        raise InvalidHeader(f"{ALIGNMENT_KEY} must be a UINT32, found type {value_type}")
    return key, _as_text(_value(cursor, value_type, key, depth=0))


def _value(cursor: _Cursor, value_type: int, key: str, *, depth: int) -> object:
    """Read one value; a long array is skipped and summarised, not kept."""
    if value_type in _SCALARS:
        name, code = _SCALARS[value_type]
        value = cursor.number(code, f"the value of {show(key)}")
        if value_type == _BOOL:
            if value not in (0, 1):
                raise InvalidHeader(f"{show(key)} is a BOOL of value {value}, not 0 or 1")
            return bool(value)
        if name == "FLOAT32":
            return float(f"{value:.7g}")
        return value
    if value_type == _STRING:
        return cursor.string(f"the value of {show(key)}", limit=MAX_VALUE_BYTES, strict=False)
    if value_type == _ARRAY:
        return _array(cursor, key, depth=depth + 1)
    raise InvalidHeader(f"{show(key)} has unknown value type {value_type}", offset=cursor.pos - 4)


def _array(cursor: _Cursor, key: str, *, depth: int) -> object:
    """Read an array: its values when short, else a summary after skipping it."""
    if depth > MAX_ARRAY_DEPTH:
        raise InvalidHeader(f"{show(key)} nests arrays more than {MAX_ARRAY_DEPTH} deep")
    item_type = int(cursor.number("I", f"the array type of {show(key)}"))
    count = cursor.count(f"the array length of {show(key)}")
    if item_type in _SCALARS:
        name, code = _SCALARS[item_type]
        size = struct.calcsize("<" + code)
    elif item_type in (_STRING, _ARRAY):
        name, size = ("STRING", 8) if item_type == _STRING else ("ARRAY", 12)
    else:
        raise InvalidHeader(f"{show(key)} is an array of unknown type {item_type}")
    cursor.need(count, size, f"{name} values in {show(key)}")
    if count <= MAX_ARRAY_KEPT:
        return [_value(cursor, item_type, key, depth=depth) for _ in range(count)]
    if item_type in _SCALARS:
        cursor.take(count * size, f"the values of {show(key)}")
    else:
        for _ in range(count):
            _value(cursor, item_type, key, depth=depth)
    return _Summary(count, name)


@dataclass(frozen=True)
class _Summary:
    """A long array, by its length and element type only."""

    count: int
    type_name: str


def _as_text(value: object) -> str:
    """Turn a metadata value into the string ``Manifest.metadata`` keeps."""
    if isinstance(value, str):
        return value
    if isinstance(value, _Summary):
        return f"[{value.count} {value.type_name} values]"
    return json.dumps(value, default=_as_text, ensure_ascii=False)


def _alignment(value: str) -> int:
    """Check ``general.alignment``: a power of two, as gguf.cpp requires."""
    alignment = int(value)
    if alignment == 0 or alignment & (alignment - 1):
        raise InvalidHeader(f"{ALIGNMENT_KEY} {alignment} is not a power of two")
    return alignment


def _tensor_info(cursor: _Cursor, alignment: int) -> tuple[str, tuple[int, ...], str, int]:
    """Read one tensor info; return name, PyTorch-order shape, dtype name and offset."""
    name = cursor.string("a tensor name", limit=MAX_NAME_BYTES, strict=True)
    n_dims = int(cursor.number("I", f"the dimension count of {show(name)}"))
    if n_dims > MAX_DIMS:
        raise InvalidHeader(f"tensor {show(name)} has {n_dims} dimensions, more than {MAX_DIMS}")
    start = cursor.take(8 * n_dims, f"the dimensions of {show(name)}")
    dims = struct.unpack_from(f"{cursor.endian}{n_dims}Q", cursor.data, start)
    if any(d > MAX_DIM for d in dims) or math.prod(dims) > MAX_DIM:
        raise InvalidHeader(f"tensor {show(name)} dimensions {list(dims)} overflow int64")
    type_id = int(cursor.number("I", f"the type of {show(name)}"))
    dtype = GGML_TYPES.get(type_id, f"GGML_TYPE_{type_id}")
    block = dtypes.BLOCK_TYPES.get(dtype)
    if block is not None and dims and dims[0] % block.block_size:
        raise InvalidHeader(
            f"tensor {show(name)} rows of {dims[0]} elements are not whole "
            f"{dtype} blocks of {block.block_size}"
        )
    offset = int(cursor.number("Q", f"the offset of {show(name)}"))
    if offset % alignment:
        raise InvalidHeader(
            f"tensor {show(name)} offset {offset} is not a multiple of the alignment {alignment}"
        )
    return name, tuple(reversed(dims)), dtype, offset


def _manifest(header: _Header, file_size: int, source: str) -> Manifest:
    """Check the data layout and build the manifest."""
    notes: list[str] = []
    if header.endian == ">":
        notes.append("big-endian GGUF: tensor bytes are big-endian")
    tensors: dict[str, TensorSpec] = {}
    spans = []
    unknown: list[str] = []
    for name, shape, dtype, offset in header.tensors:
        nbytes = dtypes.nbytes(dtype, shape)
        location = None
        if nbytes is None:
            unknown.append(f"{show(name)} ({dtype})")
        else:
            location = ByteRange(source, header.data_start + offset, nbytes)
            spans.append((offset, offset + nbytes, name))
        # Block-quantized types have no one element size to swap by: left as stored.
        swap = header.endian == ">" and dtypes.lookup(dtype) is not None
        tensors[name] = TensorSpec(
            name=name,
            shape=shape,
            dtype=dtype,
            location=location,
            decode=("byteswap",) if swap else (),
        )
    if unknown:
        notes.append(
            f"{len(unknown)} tensor(s) of unknown GGML type, e.g. {unknown[0]}: "
            "no byte range, layout not checked"
        )
    elif header.tensors:
        notes.extend(_check_layout(spans, header, file_size))
    return Manifest(
        tensors=tensors,
        source=source,
        format=NAME,
        files=[source],
        metadata=header.metadata,
        extras={"version": header.version, "alignment": header.alignment},
        notes=notes,
    )


def _check_layout(spans: list[tuple[int, int, str]], header: _Header, file_size: int) -> list[str]:
    """Tensors follow each other at aligned offsets; note bytes after the last one."""
    data_size = file_size - header.data_start
    if data_size < 0:
        raise TruncatedFile(
            f"file ends at byte {file_size}, before its data section starts at "
            f"byte {header.data_start}",
            offset=file_size,
        )
    end = check_tiling(spans, data_size, header.data_start, alignment=header.alignment)
    padded = -(-end // header.alignment) * header.alignment
    if data_size > max(end, padded):
        return [f"{data_size - padded} bytes after the last tensor's padding belong to no tensor"]
    return []
