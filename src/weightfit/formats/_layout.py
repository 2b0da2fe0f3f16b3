"""The final consistency pass of the readers whose tensors tile one data section.

safetensors (``Metadata::validate`` in ``tensor.rs``) and GGUF (``gguf.cpp``,
``gguf_init_from_file_impl``) both require tensors to follow each other with no
overlap and no hole, GGUF padding each one to its alignment. One rule tells a
truncated file from wrong offsets: a tensor that ends past the end of the file is
:class:`TruncatedFile` when the tensors otherwise tile the data section (the file
was cut short), :class:`TensorOutOfBounds` when they do not (the offsets are wrong).
"""

from __future__ import annotations

from weightfit.errors import (
    InputError,
    OverlappingTensors,
    TensorOutOfBounds,
    TruncatedFile,
    UncoveredBytes,
)

Span = tuple[int, int, str]
"""``(begin, end, name)`` of one tensor, relative to the data section."""


def check_tiling(spans: list[Span], data_size: int, data_start: int, *, alignment: int = 1) -> int:
    """Check that ``spans`` tile the data section from its first byte, in offset order.

    Args:
        spans: One ``(begin, end, name)`` per tensor; sorted in place.
        data_size: Bytes from the data section's start to the end of the file.
        data_start: Absolute offset of the data section, for error offsets.
        alignment: Each tensor starts at the previous end rounded up to this.

    Returns:
        The end of the last tensor, relative to the data section (the caller
        judges bytes after it).

    Raises:
        TruncatedFile: the tensors tile, but the file ends before the last one does.
        TensorOutOfBounds: a tensor ends past the end of the file, and the tensors do not tile.
        OverlappingTensors: a tensor starts before the previous one ends.
        UncoveredBytes: a tensor starts after the (aligned) end of the previous one.

    """
    spans.sort()
    problem: InputError | None = None
    cursor, owner = 0, ""
    for begin, end, name in spans:
        expected = -(-cursor // alignment) * alignment
        if problem is None and begin < cursor:
            problem = OverlappingTensors(
                f"tensor {show(name)} [{begin}, {end}] starts inside {show(owner)}, "
                f"which ends at {cursor}",
                offset=data_start + begin,
            )
        elif problem is None and begin > expected:
            problem = UncoveredBytes(
                f"data section bytes [{cursor}, {begin}) belong to no tensor",
                offset=data_start + cursor,
            )
        if end >= cursor:
            cursor, owner = end, name
    if cursor > data_size:
        if problem is None:
            raise TruncatedFile(
                f"file ends at byte {data_start + data_size}, {cursor - data_size} bytes "
                f"before its last tensor {show(owner)} does",
                offset=data_start + data_size,
            )
        begin, end, name = next(span for span in spans if span[1] > data_size)
        raise TensorOutOfBounds(
            f"tensor {show(name)} [{begin}, {end}] ends past the {data_size}-byte data section",
            offset=data_start + begin,
        )
    if problem is not None:
        raise problem
    return cursor


SHOWN = 80
"""Longest repr of a value taken from a file that an error message quotes."""


def show(value: object) -> str:
    """Quote a value read from a file for an error message, shortened."""
    text = repr(value)
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."
