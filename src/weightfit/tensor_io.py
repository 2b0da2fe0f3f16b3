"""Tensor bytes in and out: lazy reads from byte ranges, streaming safetensors writes.

Reading: a :class:`Sources` opens each checkpoint file read-only, once, and reads
one tensor's bytes with ``pread`` from the absolute :class:`~weightfit.manifest.ByteRange`
its reader recorded (safetensors data, ``torch.save`` zip records, which are
stored uncompressed, legacy records). Nothing is memory-mapped, so resident
memory holds one tensor at a time, not the pages of every tensor read so far.

Writing: a :class:`SafetensorsWriter` gets every tensor's name, dtype and shape
up front, writes the header with precomputed offsets, then takes the tensors'
bytes in order, either from memory or copied file to file inside the kernel
(``copy_file_range``). Format: https://github.com/huggingface/safetensors#format
(8-byte little-endian header length, JSON header, data; the header is padded
with spaces so the data starts 8-byte aligned, as the reference writer does).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from weightfit import dtypes
from weightfit.errors import (
    DestinationNotWritable,
    DiskFull,
    MissingDependency,
    OutputError,
    TensorTooLarge,
    TruncatedFile,
    UnsupportedTensor,
    reading,
)
from weightfit.manifest import TensorSpec

if TYPE_CHECKING:
    import torch

HEADER_ALIGNMENT = 8
"""The data section starts at a multiple of 8 (safetensors' reference ``serialize``)."""

COPY_CHUNK = 64 * 1024 * 1024
"""Largest slice copied per system call, and the buffer size when copying through memory."""

_NO_KERNEL_COPY = {errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.EBADF}
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}


def torch_dtype(name: str) -> torch.dtype:
    """Return the torch dtype for a canonical dtype name.

    Raises:
        MissingDependency: torch is not installed.
        UnsupportedTensor: torch has no such dtype.

    """
    try:
        import torch
    except ImportError as error:
        raise MissingDependency("torch", "torch", "computing on tensor values") from error
    known = dtypes.lookup(name)
    value = getattr(torch, known.torch_name, None) if known else None
    if not isinstance(value, torch.dtype):
        raise UnsupportedTensor(f"dtype {name} has no torch equivalent")
    return value


def output_error(error: OSError, path: str | Path) -> OutputError:
    """Return the weightfit error for a failed write to ``path``."""
    reason = os.strerror(error.errno) if error.errno else str(error)
    if error.errno in _FULL:
        return DiskFull(f"no space left while writing ({reason})", path=path)
    if error.errno in _NOT_WRITABLE:
        return DestinationNotWritable(f"cannot write here ({reason})", path=path)
    return OutputError(f"write failed ({reason})", path=path)


@contextmanager
def writing(path: str | Path) -> Iterator[None]:
    """Turn ``OSError`` from writing into :class:`DiskFull` / :class:`DestinationNotWritable`."""
    try:
        yield
    except OSError as error:
        raise output_error(error, path) from error


def check_room(out: Path, total: int, computed: Mapping[str, int]) -> None:
    """Refuse, before anything is written, an output the disk or the memory cannot hold.

    ``total`` is the output's tensor bytes (every byte is written, even where a
    source is sparse); ``computed`` maps each tensor made in memory to the bytes
    it needs there (its value and its inputs'). A plan edited to absurd shapes
    ends here, with one error, instead of in the allocator or a filled disk.

    Raises:
        TensorTooLarge: a computed tensor needs more than the machine's memory.
        DiskFull: the filesystem of ``out`` has less free room than ``total``.

    """
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    name, need = max(computed.items(), key=lambda item: item[1], default=("", 0))
    if need > memory:
        raise TensorTooLarge(
            f"{name} needs {need:,} bytes in memory to compute; the machine has {memory:,}",
            path=out,
        )
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    if total > free:
        raise DiskFull(
            f"the output needs {total:,} bytes; {free:,} are free on its filesystem",
            path=out,
        )


def source_path(file: str, base: Path | None) -> Path:
    """Where a ``ByteRange.file`` is: as recorded, else (a bare name) inside ``base``."""
    path = Path(file)
    if not path.is_absolute() and not path.exists() and base is not None:
        return base / path
    return path


class Sources:
    """Read-only handles on the files a manifest's tensors live in.

    Relative ``ByteRange.file`` names resolve against ``base``. Use as a context
    manager so the handles are closed.
    """

    def __init__(self, base: str | Path | None = None) -> None:
        self.base = Path(base) if base is not None else None
        self._fds: dict[str, int] = {}

    def path(self, file: str) -> Path:
        """Where ``file`` (a ``ByteRange.file``) is on disk.

        Readers record paths as they were given (absolute, or relative to the
        working folder); a bare name that is not there is looked up in ``base``.
        """
        return source_path(file, self.base)

    def fd(self, file: str) -> int:
        """Return a read-only descriptor for ``file``, opened on first use.

        Raises:
            CheckpointNotFound: the file is gone.

        """
        if file not in self._fds:
            path = self.path(file)
            with reading(path):
                self._fds[file] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        return self._fds[file]

    def read_bytes(self, spec: TensorSpec) -> bytearray:
        """Read the raw bytes of ``spec``'s byte range.

        Raises:
            UnsupportedTensor: ``spec`` has no byte location (a model on ``meta``).
            TruncatedFile: the file ends inside the range.

        """
        location = spec.location
        if location is None:
            raise UnsupportedTensor(f"{spec.name} has no bytes (a shape-only manifest)")
        buffer = bytearray(location.length)
        view, done, fd = memoryview(buffer), 0, self.fd(location.file)
        while done < location.length:
            got = os.preadv(fd, [view[done : done + COPY_CHUNK]], location.offset + done)
            if got == 0:
                raise TruncatedFile(
                    f"{spec.name} needs {location.length} bytes, file ends after {done}",
                    path=self.path(location.file),
                    offset=location.offset + done,
                )
            done += got
        return buffer

    def read_tensor(self, spec: TensorSpec) -> torch.Tensor:
        """``spec``'s value as a contiguous CPU tensor of its own dtype and shape.

        Strided views (pickles) are gathered from their storage bytes.

        Raises:
            UnsupportedTensor: the dtype has no torch equivalent or no bytes are recorded.
            TruncatedFile: the file ends inside the tensor.
            MissingDependency: torch is not installed.

        """
        dtype = torch_dtype(spec.dtype)  # first: it names the install line when torch is missing
        import torch

        raw = self.read_bytes(spec)
        if "byteswap" in spec.decode:
            raw = _byteswapped(raw, dtype)
        flat = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        if spec.stride is not None and not spec.is_contiguous:
            value = flat.as_strided(spec.shape, spec.stride).contiguous()
        else:
            value = flat[: spec.numel].reshape(spec.shape)
        # What torch.load's set_tensor_metadata does, resolved into the values.
        if "conj" in spec.decode:
            value = torch.conj_physical(value)
        if "neg" in spec.decode:
            value = torch.neg(value)
        return value

    def copy_range(self, spec: TensorSpec, out_fd: int, out_offset: int) -> None:
        """Copy ``spec``'s bytes to ``out_fd`` at ``out_offset``, in the kernel when it can."""
        location = spec.location
        assert location is not None
        fd, done = self.fd(location.file), 0
        while done < location.length:
            count = min(COPY_CHUNK, location.length - done)
            try:
                got = os.copy_file_range(
                    fd, out_fd, count, location.offset + done, out_offset + done
                )
            except OSError as error:
                if error.errno not in _NO_KERNEL_COPY:
                    raise
                got = self._copy_through_memory(
                    fd, out_fd, location.offset + done, out_offset + done, count
                )
            if got == 0:
                raise TruncatedFile(
                    f"{spec.name} needs {location.length} bytes, file ends after {done}",
                    path=self.path(location.file),
                    offset=location.offset + done,
                )
            done += got

    @staticmethod
    def _copy_through_memory(fd: int, out_fd: int, offset: int, out_offset: int, count: int) -> int:
        data = os.pread(fd, count, offset)
        view, written = memoryview(data), 0
        while written < len(data):
            written += os.pwrite(out_fd, view[written:], out_offset + written)
        return len(data)

    def close(self) -> None:
        """Close every handle."""
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def __enter__(self) -> Sources:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class Entry:
    """One tensor as a writer lays it out: name, dtype, shape, byte count."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    nbytes: int

    @property
    def alignment(self) -> int:
        """Bytes per element (at least 1): tensors of wider types go first."""
        return max(1, (dtypes.itemsize_bits(self.dtype) or 8) // 8)


def order_for_alignment(entries: Sequence[Entry]) -> list[Entry]:
    """Widest dtypes first, so every tensor starts aligned to its element size.

    The reference writer sorts the same way; ties keep their given order, which
    keeps reads from the sources close to sequential.
    """
    return sorted(entries, key=lambda entry: -entry.alignment)


def encode_header(entries: Sequence[Entry], metadata: Mapping[str, str]) -> bytes:
    """Encode the 8-byte length and the padded JSON header for ``entries``, in order."""
    header: dict[str, Any] = {"__metadata__": dict(metadata)} if metadata else {}
    offset = 0
    for entry in entries:
        header[entry.name] = {
            "dtype": entry.dtype,
            "shape": list(entry.shape),
            "data_offsets": [offset, offset + entry.nbytes],
        }
        offset += entry.nbytes
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-(len(text) + 8) % HEADER_ALIGNMENT)
    return len(text).to_bytes(8, "little") + text


class SafetensorsWriter:
    """Writes one safetensors file: the header first, then each tensor in order.

    The file is created exclusively (never overwriting), written with positional
    writes, and flushed to disk (``fsync``) by :meth:`close`.
    """

    def __init__(self, path: Path, entries: Sequence[Entry], metadata: Mapping[str, str]) -> None:
        self.path = path
        self.entries = list(entries)
        self.header = encode_header(self.entries, metadata)
        self._next = 0
        self._offset = len(self.header)
        with writing(path):
            self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            self._pwrite(self.header, 0)

    def _pwrite(self, data: bytes | bytearray | memoryview, offset: int) -> None:
        view, done = memoryview(data).cast("B"), 0
        while done < len(view):
            done += os.pwrite(self.fd, view[done:], offset + done)

    def _take(self, name: str) -> Entry:
        entry = self.entries[self._next]
        if entry.name != name:
            raise RuntimeError(f"writer expected {entry.name!r}, got {name!r}")
        self._next += 1
        return entry

    def write(self, name: str, data: bytes | bytearray | memoryview) -> None:
        """Write the next tensor's bytes from memory."""
        entry = self._take(name)
        if memoryview(data).nbytes != entry.nbytes:
            raise RuntimeError(
                f"{name}: {memoryview(data).nbytes} bytes, header says {entry.nbytes}"
            )
        with writing(self.path):
            self._pwrite(data, self._offset)
        self._offset += entry.nbytes

    def copy(self, name: str, sources: Sources, spec: TensorSpec) -> None:
        """Write the next tensor by copying ``spec``'s bytes file to file."""
        entry = self._take(name)
        assert spec.location is not None
        sources.fd(spec.location.file)
        with writing(self.path):
            sources.copy_range(spec, self.fd, self._offset)
        self._offset += entry.nbytes

    def patch(self, old: bytes, new: bytes) -> None:
        """Replace ``old`` by ``new`` (same length) inside the header already written."""
        at = self.header.find(old)
        if at < 0 or len(old) != len(new):
            raise RuntimeError("header patch does not fit")
        self.header = self.header[:at] + new + self.header[at + len(new) :]
        with writing(self.path):
            self._pwrite(new, at)

    def close(self) -> None:
        """Check every tensor was written, flush to disk and close."""
        if self.fd < 0:
            return
        try:
            if self._next != len(self.entries):
                raise RuntimeError(f"{self.path.name}: {len(self.entries) - self._next} unwritten")
            with writing(self.path):
                os.fsync(self.fd)
        finally:
            self.abandon()

    def abandon(self) -> None:
        """Close without flushing: the file is being thrown away."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def tensor_bytes(value: torch.Tensor) -> memoryview:
    """Return the raw little-endian bytes of a CPU tensor (no copy when contiguous)."""
    import torch

    flat = value.detach().contiguous().reshape(-1)
    if flat.numel() == 0:
        return memoryview(b"")
    # ``ndarray.data`` is ``memoryview(array)``, spelled so it type-checks: numpy's
    # stubs give ndarray ``__buffer__`` only on Python 3.12+.
    return flat.view(torch.uint8).numpy().data.cast("B")


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (new files, renames) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _byteswapped(raw: bytearray, dtype: torch.dtype) -> bytearray:
    """``raw`` with each element's bytes reversed (each part's, for complex numbers)."""
    import torch

    size = torch.empty(0, dtype=dtype).element_size() // (2 if dtype.is_complex else 1)
    if size == 1 or not raw:
        return raw
    swapped = torch.frombuffer(raw, dtype=torch.uint8).view(-1, size).flip(1)
    return bytearray(swapped.numpy().tobytes())
