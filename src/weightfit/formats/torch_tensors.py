"""From the pickle's tensor records to :class:`TensorSpec`: where each tensor's bytes are.

Both ``torch.save`` formats keep tensor bytes in *storages* outside the pickle
(zip records ``data/<key>``; in the legacy format, blocks after the pickles). A
tensor is a view of a storage: ``storage_offset``, ``size`` and ``stride`` in
elements (``torch/_utils.py``, ``_rebuild_tensor``). Readers find each storage's
bytes; this module checks every storage and tensor against them and turns
each record into a spec whose ``location`` is the bytes the view touches:
from its first element to its last, so a contiguous tensor's range is exactly
``numel × itemsize`` bytes and a strided view is read with its ``stride``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import replace

from weightfit.errors import InvalidHeader, TensorOutOfBounds
from weightfit.formats.pickle_nodes import Storage, TensorRecord, canonical_dtype, torch_itemsize
from weightfit.manifest import ByteRange, TensorSpec

MAX_NAMES_IN_NOTE = 5
"""Tensor names a note lists before it says how many more there are."""


def storage_nbytes(storage: Storage) -> int:
    """Bytes a storage declares: its element count times torch's element size."""
    return storage.numel * storage.itemsize


def check_storages(storages: Mapping[str, Storage], data: Mapping[str, ByteRange]) -> None:
    """Check that the file holds every storage the pickle names, with enough bytes.

    Raises:
        InvalidHeader: a storage has no data in the file.
        TensorOutOfBounds: a storage's data is shorter than its declared size.

    """
    for key, storage in storages.items():
        have = data.get(key)
        if have is None:
            raise InvalidHeader(f"the pickle names storage {key!r}, which the file does not hold")
        need = storage_nbytes(storage)
        if have.length < need:
            raise TensorOutOfBounds(
                f"storage {key!r} holds {have.length} bytes but the pickle declares "
                f"{storage.numel} elements of {storage.itemsize} bytes ({need})"
            )


def tensor_specs(
    tensors: Mapping[str, TensorRecord],
    buffers: Mapping[str, bool],
    data: Mapping[str, ByteRange],
) -> tuple[dict[str, TensorSpec], list[str]]:
    """Turn tensor records into specs located in the file, with notes worth reading.

    Args:
        tensors: The chosen state dict's tensors, by name.
        buffers: Which names are buffers, where known.
        data: Each storage key's bytes in the file (already checked with
            :func:`check_storages`).

    Returns:
        The specs by name, and notes on shared storages, strided views,
        quantized and data-less tensors.

    Raises:
        TensorOutOfBounds: a tensor's view reaches past the end of its storage.

    """
    users: defaultdict[int, list[str]] = defaultdict(list)
    for name, record in tensors.items():
        if record.storage is not None:
            users[id(record.storage)].append(name)
    specs: dict[str, TensorSpec] = {}
    strided: list[str] = []
    dtype_names: dict[str, str] = {}
    for name, record in tensors.items():
        storage = record.storage
        location = None if storage is None else _locate(name, record, data)
        shared = storage is not None and len(users[id(storage)]) > 1
        dtype = dtype_names.get(record.dtype)
        if dtype is None:
            dtype = dtype_names[record.dtype] = canonical_dtype(record.dtype)
        specs[name] = TensorSpec(
            name,
            record.shape,
            dtype,
            location,
            record.stride,
            storage.key if shared and storage is not None else None,
            buffers.get(name, False if record.is_parameter else None),
            record.math_bits,
        )
        if not _contiguous(record.shape, record.stride):
            strided.append(name)
    return specs, _notes(tensors, users, strided)


def byteswapped(specs: dict[str, TensorSpec]) -> dict[str, TensorSpec]:
    """``specs`` of a file saved on a big-endian machine, each marked to be byteswapped."""
    return {name: replace(spec, decode=("byteswap", *spec.decode)) for name, spec in specs.items()}


def _contiguous(shape: tuple[int, ...], stride: tuple[int, ...]) -> bool:
    """Whether ``stride`` is row-major for ``shape`` (size-1 dimensions may have any stride)."""
    expected = 1
    for size, step in zip(reversed(shape), reversed(stride), strict=True):
        if size != 1 and step != expected:
            return False
        expected *= size
    return True


def _locate(name: str, record: TensorRecord, data: Mapping[str, ByteRange]) -> ByteRange:
    """Locate the bytes ``record``'s view touches, checked against its storage."""
    storage = record.storage
    assert storage is not None
    where = data[storage.key]
    start, limit = where.offset, storage_nbytes(storage)
    if storage.view is not None:
        # Legacy storage views: (view key, offset, size) in elements of the root
        # storage (torch/serialization.py, _legacy_load persistent_load).
        _, view_offset, view_size = storage.view
        start += view_offset * storage.itemsize
        limit = min(limit - view_offset * storage.itemsize, view_size * storage.itemsize)
    itemsize = torch_itemsize(record.dtype)
    if math.prod(record.shape) == 0:
        first, count = record.storage_offset, 0
    else:
        reach = sum(
            (size - 1) * step for size, step in zip(record.shape, record.stride, strict=True)
        )
        first, count = record.storage_offset, reach + 1
        end = (first + count) * itemsize
        if end > limit:
            raise TensorOutOfBounds(
                f"tensor {name!r} reaches byte {end} of storage {storage.key!r}, "
                f"which holds {limit} bytes"
            )
    return ByteRange(where.file, start + first * itemsize, count * itemsize)


def _notes(
    tensors: Mapping[str, TensorRecord], users: Mapping[int, list[str]], strided: list[str]
) -> list[str]:
    notes = []
    shared = [names for names in users.values() if len(names) > 1]
    if shared:
        groups = [" = ".join(names[:3]) + (" …" if len(names) > 3 else "") for names in shared]
        notes.append(
            f"{_count(sum(len(n) for n in shared), 'tensor')} share "
            f"{_count(len(shared), 'storage')} (tied weights or views): {_listing(groups)}"
        )
    if strided:
        notes.append(
            f"{_count(len(strided), 'tensor')} not contiguous (strided views): the byte "
            f"range runs from the first element to the last; read it with the stride: "
            f"{_listing(strided)}"
        )
    flagged = [n for n, r in tensors.items() if r.math_bits]
    if flagged:
        bits = sorted({bit for name in flagged for bit in tensors[name].math_bits})
        notes.append(
            f"{_count(len(flagged), 'tensor')} saved as {'/'.join(bits)} views: the stored bytes "
            f"are the values before torch.load applies {' and '.join(bits)}: {_listing(flagged)}"
        )
    quantized = [n for n, r in tensors.items() if r.quantized]
    if quantized:
        notes.append(f"{_count(len(quantized), 'tensor')} quantized: {_listing(quantized)}")
    no_data = [n for n, r in tensors.items() if r.storage is None]
    if no_data:
        notes.append(
            f"{_count(len(no_data), 'tensor')} saved without data (meta): {_listing(no_data)}"
        )
    devices = sorted({r.storage.location for r in tensors.values() if r.storage} - {"cpu"})
    if devices:
        notes.append(f"tensors were saved from {', '.join(devices)}")
    return notes


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_NAMES_IN_NOTE])
    more = len(names) - MAX_NAMES_IN_NOTE
    return shown + (f" and {more} more" if more > 0 else "")
