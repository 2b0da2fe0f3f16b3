"""safetensors files: an 8-byte header length, a JSON header, then the tensor bytes.

Spec: https://github.com/huggingface/safetensors#format (the reference reader is
``safetensors/src/tensor.rs``, ``read_metadata`` and ``Metadata::validate``)::

    8 bytes   N, unsigned little-endian 64-bit
    N bytes   UTF-8 JSON object {name: {"dtype", "shape", "data_offsets": [begin, end]},
              "__metadata__": {str: str}}; writers pad it with spaces to 8 bytes
    rest      the data section; offsets are relative to its first byte

What this reader guarantees:

- It reads the 8-byte length and the N header bytes, nothing else: the cost does
  not grow with the tensor bytes, and nothing in the file is executed.
- It validates like the reference, one error class per failure: a header over
  100 MB is :class:`HeaderTooLarge`; a header length past the end of the file is
  :class:`TruncatedFile`; bad UTF-8, bad JSON, duplicate keys, a non-object, or
  entries of the wrong type are :class:`InvalidHeader`; ``numel × itemsize`` that
  differs from ``end − begin`` is :class:`TensorSizeMismatch`; two tensors on
  the same bytes are :class:`OverlappingTensors`; a hole between tensors, or
  bytes after the last one, are :class:`UncoveredBytes` (the reference rejects a
  file longer than its tensors as ``MetadataIncompleteBuffer``, and so do we); a
  tensor past the end of the file is :class:`TruncatedFile` when the tensors
  otherwise tile the data section, :class:`TensorOutOfBounds` when they do not.
- As the reference (whose ``Dtype`` enum and ``serde_json`` refuse them), an
  unknown dtype is :class:`InvalidHeader` naming the dtype, and so is a string
  holding a lone surrogate escape (half a UTF-16 pair, which Python's ``json`` accepts).
- Headers in the reference writer's compact layout, entries in data order, are
  read as columns (:class:`~weightfit.manifest.TensorTable`): the entries are
  split out by one regular expression, each check is a pass in C over a
  column, and a ``TensorSpec`` is made when one is asked for. A 1.1M-tensor
  header reads in under half ``safe_open``'s CPU time and memory
  (``bench/huge_header.py``, ``BENCHMARKS.md``). Anything else in the header
  (spaces, another key order, entries out of data order, anything wrong) goes
  through ``json``, which words every error.
- Tensors keep the header's order (the reference writer emits them in data
  order); each ``location`` is the absolute byte range ``8 + N + begin``.

The parsing helpers :func:`header_length` and :func:`parse` take bytes, not a
file, so :mod:`weightfit.formats.remote` shares them with the local reader.
"""

from __future__ import annotations

import json
import math
import operator
import os
import re
import struct
from array import array
from itertools import chain
from pathlib import Path
from typing import Any, NoReturn

from weightfit import dtypes
from weightfit.errors import (
    ContainerKeyNotFound,
    HeaderTooLarge,
    InvalidHeader,
    TensorSizeMismatch,
    TruncatedFile,
    UncoveredBytes,
)
from weightfit.formats import ReadOptions
from weightfit.formats._layout import check_tiling, show
from weightfit.manifest import (
    Kind,
    Manifest,
    TensorColumns,
    TensorSpec,
    TensorTable,
    gc_paused,
    new_spec,
)

NAME = "safetensors"

LENGTH_BYTES = 8
"""Spec "Format": the header length N is an unsigned little-endian 64-bit integer."""
MAX_HEADER_BYTES = 100_000_000
"""``MAX_HEADER_SIZE`` in ``tensor.rs``: larger headers are ``HeaderTooLarge``."""
METADATA_KEY = "__metadata__"
"""Spec "Format": the one non-tensor key, a free-form string-to-string map."""
_JSON_SPACE = b" \t\r\n"
"""JSON insignificant whitespace (RFC 8259 section 2); the reference accepts it before ``{``."""
REFERENCE_DTYPES = dtypes.SAFETENSORS_DTYPES
"""The ``Dtype`` enum of the reference (safetensors 0.8 ``tensor.rs``): no other dtype loads."""

# Possessive quantifiers (``*+``): a match never backtracks, a third faster on a 1.1M-tensor header.
_CHARS = r'[^"\\\x00-\x1f]*+'
_STRING = r'"(' + _CHARS + r'(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})' + _CHARS + r')*+)"'
_COUNT = r"(?:0|[1-9][0-9]*+)"
_ENTRY = re.compile(
    _STRING + r':\{"dtype":"([A-Z0-9_]++","shape":\[[0-9,]*+)\],'
    r'"data_offsets":\[(' + _COUNT + r"),(" + _COUNT + r")\]\}[,}]"
)
"""One tensor entry as the reference writer lays it out (``serde_json``, compact).

Groups: the name as written, the kind (dtype and shape, checked by :data:`_KIND`)
and the two offsets."""
_GROUPS = 4
"""Groups of :data:`_ENTRY`: its ``split`` gives the text before each entry, then these."""
_KIND = re.compile(r'([A-Z0-9_]+)","shape":\[(' + _COUNT + r"(?:," + _COUNT + r")*)?")
"""The kind group of :data:`_ENTRY`: a dtype name and the dimensions, JSON integers."""
_CHUNK_CHARS = 1 << 23
"""Header characters matched at a time: the matches of one chunk are the only per-entry objects."""
_PAIR = _STRING + ":" + _STRING
_METADATA = re.compile(r'"__metadata__":(\{(?:' + _PAIR + "(?:," + _PAIR + r")*)?\}),")
"""A leading ``__metadata__`` object of strings, as the reference writer puts it first."""


def sniff(head: bytes, path: Path) -> bool:
    """Whether ``head`` looks like safetensors: a length prefix, then a JSON ``{``.

    The length itself is not judged here, so an absurd one is reported by
    :func:`read` as :class:`HeaderTooLarge` instead of "not a checkpoint". GGUF,
    whose tensor count can put a ``{`` at byte 8, is tried first by the registry.
    """
    return len(head) > LENGTH_BYTES and head[LENGTH_BYTES:].lstrip(_JSON_SPACE)[:1] == b"{"


def read(path: Path, options: ReadOptions) -> Manifest:
    """Read a safetensors file's manifest from its header.

    Args:
        path: The ``.safetensors`` file.
        options: ``key`` must be ``None``: the file is one flat set of tensors.

    Returns:
        A manifest of format ``"safetensors"`` with every tensor's byte range.

    Raises:
        TruncatedFile: the file ends inside the length prefix, the header, or
            the last tensor.
        HeaderTooLarge: the header length exceeds :data:`MAX_HEADER_BYTES`.
        InvalidHeader: the header is not UTF-8 JSON of the shape the spec allows.
        TensorSizeMismatch: a tensor's shape and dtype disagree with its offsets.
        TensorOutOfBounds: a tensor ends past the end of the file, and the offsets
            leave holes or overlaps (otherwise the file is truncated).
        OverlappingTensors: two tensors claim the same bytes.
        UncoveredBytes: bytes of the data section belong to no tensor.
        ContainerKeyNotFound: ``options.key`` was given.

    Example:
        >>> read(Path("model.safetensors"), ReadOptions())  # doctest: +SKIP
        <Manifest safetensors 291 tensors 8.0B params 16.1 GB 'model.safetensors'>

    """
    if options.key is not None:
        raise ContainerKeyNotFound(
            f"a safetensors file is one flat set of tensors; it has no entry {options.key!r}",
            path=path,
        )
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        length = header_length(handle.read(LENGTH_BYTES), size)
        header = handle.read(length)
    if len(header) != length:
        raise TruncatedFile(f"header of {length} bytes ended after {len(header)}", path=path)
    return parse(header, file_size=size, source=str(path))


def header_length(prefix: bytes, file_size: int) -> int:
    """Check the 8-byte length prefix of a file of ``file_size`` bytes; return N.

    Raises:
        TruncatedFile: the file is shorter than the prefix, or than the header it declares.
        HeaderTooLarge: N exceeds :data:`MAX_HEADER_BYTES`.

    """
    if file_size < LENGTH_BYTES or len(prefix) < LENGTH_BYTES:
        raise TruncatedFile(f"{file_size} bytes, too short for the 8-byte header length")
    length: int
    (length,) = struct.unpack("<Q", prefix[:LENGTH_BYTES])
    if length > MAX_HEADER_BYTES:
        raise HeaderTooLarge(
            f"header length {length} exceeds the limit of {MAX_HEADER_BYTES} bytes", offset=0
        )
    if LENGTH_BYTES + length > file_size:
        raise TruncatedFile(
            f"header length {length} runs past the end of the {file_size}-byte file", offset=0
        )
    return length


def parse(header: bytes, *, file_size: int, source: str) -> Manifest:
    """Build the manifest of a safetensors file from its N header bytes.

    Args:
        header: The JSON header, exactly as many bytes as the length prefix says.
        file_size: Size of the whole file, to check the data section ends at its end.
        source: The path or URL, used for ``Manifest.source`` and every ``location``.

    Returns:
        The manifest, tensors in header order.

    Raises:
        InvalidHeader, TensorSizeMismatch, TensorOutOfBounds, OverlappingTensors,
        UncoveredBytes: as described in :func:`read`.

    """
    with gc_paused():
        return _parse(_text(header), LENGTH_BYTES + len(header), file_size, source)


def _parse(text: str, data_start: int, file_size: int, source: str) -> Manifest:
    fast = _columns(text, data_start, file_size - data_start, source)
    return fast if fast is not None else _read_json(text, data_start, file_size, source)


def _read_json(text: str, data_start: int, file_size: int, source: str) -> Manifest:
    """Read any header through ``json``, checking every entry: the path that words each error."""
    table = _decode(text)
    metadata = _metadata(table.pop(METADATA_KEY, None))
    tensors: dict[str, TensorSpec] = {}
    checked: set[tuple[str, tuple[int, ...], int]] = set()
    for name, dtype, shape, begin, end in _entries(table):
        if (dtype, shape, end - begin) not in checked:
            _check_dtype(name, dtype)
            _check_size(name, dtype, shape, end - begin)
            checked.add((dtype, shape, end - begin))
        tensors[name] = new_spec(name, shape, dtype, source, data_start + begin, end - begin)
    _check_layout(tensors, data_start, file_size - data_start)
    return Manifest(tensors=tensors, source=source, format=NAME, files=[source], metadata=metadata)


def _check_dtype(name: str, dtype: str) -> None:
    if dtype not in REFERENCE_DTYPES:
        raise InvalidHeader(
            f"tensor {show(name)} has dtype {show(dtype)}, which safetensors does not "
            "define (safe_open refuses it)"
        )


def _check_layout(tensors: dict[str, TensorSpec], data_start: int, data_size: int) -> None:
    """The tensors tile the data section exactly (:func:`check_tiling`), to its last byte."""
    spans = [
        (spec.location.offset - data_start, spec.location.end - data_start, name)
        for name, spec in tensors.items()
        if spec.location is not None
    ]
    end = check_tiling(spans, data_size, data_start)
    if end != data_size:
        raise UncoveredBytes(
            f"data section bytes [{end}, {data_size}) belong to no tensor",
            offset=data_start + end,
        )


def _text(header: bytes) -> str:
    """Decode the header bytes (strict UTF-8, as the reference) and check it opens an object."""
    try:
        text = header.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidHeader(
            f"header is not valid UTF-8 ({error.reason})", offset=LENGTH_BYTES + error.start
        ) from error
    if not text.lstrip(" \t\r\n").startswith("{"):
        raise InvalidHeader("header is not a JSON object (it does not start with '{')")
    return text


def _decode(text: str) -> dict[str, Any]:
    """Parse the header text into a JSON object, rejecting duplicate keys."""
    try:
        table: dict[str, Any] = json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as error:
        raise InvalidHeader(
            f"header is not valid JSON ({error.msg} at char {error.pos})"
        ) from error
    return table


def _columns(text: str, data_start: int, data_size: int, source: str) -> Manifest | None:
    """Read a header in the reference writer's compact layout; ``None`` for anything else.

    The entries are split out by :data:`_ENTRY` a chunk at a time and kept as
    columns (:class:`TensorColumns`): no object per tensor. Each check is one
    pass in C over a column: nothing lies between the entries (``split`` leaves
    only empty strings there), only the last one closes the object, each tensor
    begins where the one before ends (the offset texts are equal), each kind of
    entry has a known dtype and a size that matches its shape, the names are
    distinct. The fast path never raises: a header it does not read entirely,
    or in which anything is wrong, goes to the ``json`` path, which judges it
    and words the error as always.
    """
    pos = 1
    metadata: dict[str, str] = {}
    if not text.startswith("{"):
        return None
    lead = _METADATA.match(text, pos)
    if lead is not None:
        try:
            metadata = _metadata(_decode(lead.group(1)))
        except InvalidHeader:
            return None
        pos = lead.end()
    stop = len(text)
    while stop and text[stop - 1] in " \t\r\n":  # the padding; rstrip would copy the header
        stop -= 1
    # An entry closed by "}" where a "," belongs, then another entry: "]}}" + '"'.
    if text[stop - 1 : stop] != "}" or text.find(']}}"', pos, stop) >= 0:
        return None
    names: list[str] = []
    kinds: dict[str, int] = {}
    shapes: list[Kind] = []
    sizes: list[int] = []
    kind_ids = array("I")
    ends = array("q")
    last = "0"
    while pos < stop:
        cut = min(pos + _CHUNK_CHARS, stop)
        if cut < stop:
            # After a "}," that ends an entry (a name holding one makes the chunk fail).
            found = text.find('},"', cut, stop)
            cut = stop if found < 0 else found + 2
        pieces = _ENTRY.split(text[pos:cut])
        if len(pieces) == 1 or "".join(pieces[:: _GROUPS + 1]):
            return None  # no entry, or text between entries
        raws, kind_texts, firsts, lasts = (pieces[g :: _GROUPS + 1] for g in range(1, _GROUPS + 1))
        del pieces
        if firsts[0] != last or firsts[1:] != lasts[:-1]:
            return None  # not in data order, or not end to end: the json path checks the layout
        for kind_text in set(kind_texts) - kinds.keys():
            kind = _kind(kind_text)
            if kind is None:
                return None
            kinds[kind_text] = len(shapes)
            shapes.append(kind[:2])
            sizes.append(kind[2])
        ids = list(map(kinds.__getitem__, kind_texts))
        try:
            chunk_ends = array("q", map(int, lasts))
        except OverflowError:
            return None
        begins = chain((ends[-1] if ends else 0,), chunk_ends)
        if list(map(operator.sub, chunk_ends, begins)) != list(map(sizes.__getitem__, ids)):
            return None
        kind_ids.extend(ids)
        ends.extend(chunk_ends)
        names.extend(raws)
        last, pos = lasts[-1], cut
    if not names or ends[-1] != data_size:
        return None
    if text.find("\\", lead.end() if lead else 1) >= 0 and not _unescape(names):
        return None
    unique = set(names)
    if len(unique) != len(names) or METADATA_KEY in unique:
        return None  # a name given twice: the json path words it
    columns = TensorColumns(names, shapes, sizes, kind_ids, ends, source, data_start)
    return Manifest(
        tensors=TensorTable(columns),
        source=source,
        format=NAME,
        files=[source],
        metadata=metadata,
    )


def _kind(text: str) -> tuple[tuple[int, ...], str, int] | None:
    """Shape, dtype and byte size of a kind of entry (``F32","shape":[2,3``); ``None`` if wrong."""
    match = _KIND.fullmatch(text)
    if match is None:
        return None
    dtype, dims = match.groups()
    if dtype not in REFERENCE_DTYPES:
        return None
    shape = tuple(map(int, dims.split(","))) if dims else ()
    bits = math.prod(shape) * dtypes.DTYPES[dtype].bits
    return (shape, dtype, bits // 8) if bits % 8 == 0 else None


def _unescape(names: list[str]) -> bool:
    """Decode the JSON escapes in names, in place; ``False`` if one holds a lone surrogate."""
    for row, raw in enumerate(names):
        if "\\" in raw:
            name = json.loads(f'"{raw}"')
            if not _is_text(name):
                return False
            names[row] = name
    return True


def _is_text(value: str) -> bool:
    """Whether ``value`` holds no lone surrogate (it encodes as UTF-8)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _no_lone_surrogate(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidHeader(
            f"string {show(text)} holds a lone surrogate escape, which JSON text cannot carry "
            "(the reference refuses it)"
        ) from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build a JSON object, refusing a key given twice (plain ``json`` keeps the last).

    Keys and string values are checked for lone surrogates here too.
    """
    for key, value in pairs:
        _no_lone_surrogate(key)
        if isinstance(value, str):
            _no_lone_surrogate(value)
    table = dict(pairs)
    if len(table) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise InvalidHeader(f"key {show(key)} appears twice in the JSON header")
            seen.add(key)
    return table


def _metadata(value: object) -> dict[str, str]:
    """Check ``__metadata__`` is a string-to-string map (``HashMap<String, String>``)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidHeader(f"{METADATA_KEY} must be an object, found {show(value)}")
    for key, item in value.items():
        if not isinstance(item, str):
            raise InvalidHeader(
                f"{METADATA_KEY} value of {show(key)} must be a string, found {show(item)}"
            )
    return value


def _entries(table: dict[str, Any]) -> list[tuple[str, str, tuple[int, ...], int, int]]:
    """Check every tensor entry's fields and types; return name, dtype, shape, begin, end.

    Valid headers take a fast path (a few type tests per entry and one pass over
    all dimensions); anything odd goes to :func:`_refuse` for the precise message.
    """
    rows: list[tuple[str, str, tuple[int, ...], int, int]] = []
    # Raw JSON values: the fast check below tests their types before comparing them.
    dims: list[Any] = []
    for name, entry in table.items():
        try:
            dtype, shape, (begin, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
        except (TypeError, KeyError, ValueError):
            _refuse(name, entry)
        if (
            type(dtype) is not str
            or type(shape) is not list
            or type(begin) is not int
            or type(end) is not int
            or not 0 <= begin <= end
        ):
            _refuse(name, entry)
        dims.extend(shape)
        rows.append((name, dtype, tuple(shape), begin, end))
    if not set(map(type, dims)) <= {int} or min(dims, default=0) < 0:
        for name, entry in table.items():
            if not _is_counts(entry["shape"]):
                _refuse(name, entry)
    return rows


def _refuse(name: str, entry: object) -> NoReturn:
    """Raise the precise error for a tensor entry that fails the fast checks."""
    if not isinstance(entry, dict):
        raise InvalidHeader(f"tensor {show(name)} must be an object, found {show(entry)}")
    for field in ("dtype", "shape", "data_offsets"):
        if field not in entry:
            raise InvalidHeader(f"tensor {show(name)} has no {field!r}")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(dtype, str):
        raise InvalidHeader(f"tensor {show(name)} dtype must be a string, found {show(dtype)}")
    if not _is_counts(shape):
        raise InvalidHeader(
            f"tensor {show(name)} shape must be a list of non-negative integers, "
            f"found {show(shape)}"
        )
    if not _is_counts(offsets) or len(offsets) != 2:
        raise InvalidHeader(
            f"tensor {show(name)} data_offsets must be two non-negative integers, "
            f"found {show(offsets)}"
        )
    begin, end = offsets
    raise InvalidHeader(f"tensor {show(name)} data_offsets [{begin}, {end}] end before they begin")


def _is_counts(values: object) -> bool:
    """Tell whether ``values`` is a JSON list of integers ≥ 0."""
    # ``type(v) is int`` rather than isinstance: JSON true/false load as bool, an int subclass.
    return (
        type(values) is list and all(type(v) is int for v in values) and min(values, default=0) >= 0
    )


def _check_size(name: str, dtype: str, shape: tuple[int, ...], stored: int) -> None:
    """``numel × itemsize`` must equal the stored byte count (``TensorInvalidInfo``)."""
    bits = math.prod(shape) * dtypes.DTYPES[dtype].bits
    if bits % 8:
        # Sub-byte dtypes (F4, F6) must fill whole bytes, as the reference's
        # ``MisalignedSlice`` check requires.
        raise TensorSizeMismatch(
            f"tensor {show(name)} {dtype}{list(shape)} is {bits} bits, not a whole number of bytes"
        )
    if bits // 8 != stored:
        raise TensorSizeMismatch(
            f"tensor {show(name)} {dtype}{list(shape)} needs {bits // 8} bytes "
            f"but its data_offsets hold {stored}"
        )
