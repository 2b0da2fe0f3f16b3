"""A header-only mirror of a Hub repo, so local and Hub paths share every reader.

For one repo at one commit, the mirror is a folder under the cache
(``<cache>/hub/<org>--<repo>/<commit>/``) with the repo's file names and real
sizes, where only the bytes a reader looks at are real:

- small JSON files (configs, ``model_index.json``, ``adapter_config.json``,
  shard indexes; tokenizer files too when linting) are fetched whole;
- a safetensors file holds its 8-byte length and header: one speculative
  request of :data:`SPECULATIVE_BYTES`, and a second only for a longer header;
- a zip ``torch.save`` file holds its end record and central directory, the
  whole ``data.pkl`` and small records, and each storage's local header (nearby
  ones fetched together);
- everything else is a hole: a sparse file of the real size, never read.

Every other byte is a hole, so the folder, lint and target code read the mirror
exactly as they read a clone. Fetched files are kept as blobs named by their
content key (the LFS sha256, the Hub's ``ETag``, or the git blob id), so a
second look at the same repo, or at another commit sharing the files, costs
only the listing. Files that cannot be mirrored from their headers (GGUF,
``.npz``, legacy ``torch.save``) are left out and listed in
:attr:`Snapshot.skipped`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import struct
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from weightfit.errors import CheckpointNotFound, DestinationNotWritable
from weightfit.hub.client import Client, Listing, RemoteFile
from weightfit.hub.paths import HubPath
from weightfit.weightsets import EXTENSION_FORMATS

Purpose = Literal["read", "lint"]
"""``read``: a checkpoint or target; ``lint``: also the tokenizer files lint rules look at."""

LENGTH_BYTES = 8
"""safetensors: the header length, a little-endian u64, comes first (``formats.safetensors``)."""
MAX_HEADER_BYTES = 100_000_000
"""safetensors' own limit on the header (``formats.safetensors.MAX_HEADER_BYTES``)."""
LOCAL_HEADER = struct.Struct("<4s22xHH")
"""APPNOTE 4.3.7 local file header: signature, 22 bytes, name length, extra length."""
LOCAL_SIGNATURE = b"PK\x03\x04"
"""APPNOTE 4.3.7: a local file header's first bytes."""
SPECULATIVE_BYTES = 100_000
"""First request per weight file. huggingface_hub measured 97% of safetensors headers of
the top 1000 models under 100 kB (``HfApi.parse_safetensors_file_metadata``); a round
trip costs more than the extra bytes."""
SMALL_JSON_BYTES = 1024 * 1024
"""JSON files up to this size are fetched for any purpose."""
MAX_JSON_BYTES = 64 * 1024 * 1024
"""Shard indexes, and every JSON file when linting, up to this size (lint's own limit)."""
MAX_CENTRAL_DIRECTORY = 64 * 1024 * 1024
"""Largest zip central directory fetched (a million members)."""
END_SEARCH_BYTES = 22 + 0xFFFF
"""APPNOTE 4.3.16: the end record is 22 bytes plus a comment of at most 65535."""
LOCAL_EXTRA_ALLOWANCE = 128
"""Bytes fetched past a local header's name for its extra field (torch pads to 64; zip64: 20)."""
COALESCE_GAP = 16 * 1024
"""Zip pieces closer than this are fetched in one request."""
WORKERS = 8
"""Files fetched at once."""
PROGRESS_FROM = 8
"""Show a progress bar on a terminal when at least this many files are fetched."""
LFS_POINTER = b"version https://git-lfs.github.com/spec/v1"
"""git-lfs spec: a pointer file's first line."""
_STORAGE_RECORD = re.compile(r"(^|/)data/\d+$")
"""``torch.save`` storage records (``archive/data/0``): only their local headers are read."""
_ZIP64_LOCATOR = struct.Struct("<4sIQI")
_ZIP64_END = struct.Struct("<4sQHHIIQQQQ")
_INDEX = re.compile(r"\.index(\.[^.]+)?\.json$")


@dataclass
class Snapshot:
    """A repo's mirror at one commit.

    Attributes:
        where: The address asked for.
        listing: The repo's files at the commit.
        root: The mirror folder (the repo root).
        fetched: Files whose bytes were fetched in this run (cache misses).
        skipped: Weight files left out, each with why.
    """

    where: HubPath
    listing: Listing
    root: Path
    fetched: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def local(self) -> Path:
        """The mirrored path of the address asked for."""
        return self.root / self.where.path if self.where.path else self.root


@dataclass
class _Pieces:
    """Byte ranges of one file known so far: offset to bytes."""

    size: int
    parts: dict[int, bytes] = field(default_factory=dict)

    def add(self, start: int, data: bytes) -> None:
        if data:
            self.parts[start] = data

    def has(self, start: int, stop: int) -> bool:
        return any(s <= start and stop <= s + len(d) for s, d in self.parts.items())

    def read(self, start: int, stop: int) -> bytes:
        for s, d in self.parts.items():
            if s <= start and stop <= s + len(d):
                return d[start - s : stop - s]
        return b""


def build(where: HubPath, client: Client, cache: Path, purpose: Purpose = "read") -> Snapshot:
    """List the repo and mirror the files under ``where.path`` (one file, a folder, the root).

    Raises:
        CheckpointNotFound: the path is no file or folder of the repo.
        FetchFailed: any failed request (see :mod:`weightfit.hub.client`).
        DestinationNotWritable: the cache cannot hold sparse files.
    """
    listing = client.listing(where)
    try:
        return _build(where, client, cache, purpose, listing)
    except OSError as error:
        raise DestinationNotWritable(
            f"cannot write the header mirror ({error.strerror or error})", path=cache / "hub"
        ) from error


def _build(
    where: HubPath, client: Client, cache: Path, purpose: Purpose, listing: Listing
) -> Snapshot:
    org_repo = where.repo_id.replace("/", "--")
    snapshot = Snapshot(where, listing, cache / "hub" / org_repo / listing.commit)
    scope = _scope(where, listing)
    blobs = cache / "hub" / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    todo: list[RemoteFile] = []
    for path in scope:
        remote = listing.files[path]
        kind = _kind(remote, purpose)
        target = snapshot.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        blob = _blob(blobs, remote)
        if kind == "hole":
            _hole(target, remote.size)
        elif blob.with_suffix(".skip").is_file():
            snapshot.skipped[path] = blob.with_suffix(".skip").read_text(encoding="utf-8")
        elif not blob.exists():
            todo.append(remote)
    skipped = _fetch_all(snapshot, todo, client, blobs, purpose)
    snapshot.skipped.update(skipped)
    for path in scope:
        remote = listing.files[path]
        if path in snapshot.skipped:
            with contextlib.suppress(FileNotFoundError):
                (snapshot.root / path).unlink()
        elif _kind(remote, purpose) != "hole":
            _link(_blob(blobs, remote), snapshot.root / path)
    snapshot.fetched = [r.path for r in todo if r.path not in skipped]
    return snapshot


def _scope(where: HubPath, listing: Listing) -> list[str]:
    """The repo files an address covers: one file (an index: its folder's weights), or a folder."""
    prefix = where.path
    if prefix in listing.files:
        if not _INDEX.search(prefix):
            return [prefix]
        folder = prefix.rpartition("/")[0]
        return [prefix, *(p for p in listing.files if _is_weight(p) and _parent(p) == folder)]
    inside = [p for p in listing.files if not prefix or p.startswith(prefix.rstrip("/") + "/")]
    if not inside:
        raise CheckpointNotFound(
            f"no file or folder {prefix!r} in {listing.repo_id} at {listing.commit[:12]}",
            path=str(where),
        )
    return sorted(inside)


def _kind(remote: RemoteFile, purpose: Purpose) -> Literal["json", "weights", "hole"]:
    """How a file is mirrored."""
    name = remote.path.rpartition("/")[2]
    if _is_weight(name):
        return "weights"
    if name.endswith(".json"):
        limit = MAX_JSON_BYTES if purpose == "lint" or _INDEX.search(name) else SMALL_JSON_BYTES
        return "json" if remote.size <= limit else "hole"
    return "hole"


def _is_weight(path: str) -> bool:
    return path.rpartition(".")[2].lower() in EXTENSION_FORMATS


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


def _blob(blobs: Path, remote: RemoteFile) -> Path:
    """A fetched file's blob: named by its content key (and size, which the key implies)."""
    key = hashlib.sha256(f"{remote.key}:{remote.size}".encode()).hexdigest()
    return blobs / f"{key}.blob"


def _fetch_all(
    snapshot: Snapshot, todo: list[RemoteFile], client: Client, blobs: Path, purpose: Purpose
) -> dict[str, str]:
    """Fetch every file in ``todo`` into its blob, a few at a time; return the skipped ones."""
    skipped: dict[str, str] = {}

    def one(remote: RemoteFile) -> None:
        where = snapshot.where
        name = where.at(remote.path)
        url = client.url(snapshot.listing, remote.path)

        def get(start: int, stop: int) -> bytes:
            return client.get(url, start, min(stop, remote.size), name=name, where=where)

        if _kind(remote, purpose) == "json":
            pieces = _Pieces(remote.size, {0: get(0, remote.size)} if remote.size else {})
        else:
            pieces, why = _weights(remote, get)
            if why is not None:
                skipped[remote.path] = why
                _blob(blobs, remote).with_suffix(".skip").write_text(why, encoding="utf-8")
                return
        _write_blob(_blob(blobs, remote), pieces)

    with _progress(len(todo)) as tick, ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for _ in pool.map(one, todo):
            tick()
    return skipped


def _weights(remote: RemoteFile, get: Callable[[int, int], bytes]) -> tuple[_Pieces, str | None]:
    """Fetch the bytes a reader needs from one weight file, by its magic bytes."""
    pieces = _Pieces(remote.size)
    head = get(0, SPECULATIVE_BYTES)
    pieces.add(0, head)
    if len(head) == remote.size or head.startswith(LFS_POINTER):
        return pieces, None
    if head.startswith(LOCAL_SIGNATURE):
        _zip(pieces, get)
        return pieces, None
    if len(head) > LENGTH_BYTES and head[LENGTH_BYTES : LENGTH_BYTES + 1] == b"{":
        (length,) = struct.unpack("<Q", head[:LENGTH_BYTES])
        end = LENGTH_BYTES + length
        if len(head) < end <= remote.size and length <= MAX_HEADER_BYTES:
            pieces.add(len(head), get(len(head), end))
        return pieces, None
    what = "GGUF" if head.startswith(b"GGUF") else "legacy torch.save or unknown format"
    return pieces, f"not read remotely ({what}: its header is not at a known place)"


def _zip(pieces: _Pieces, get: Callable[[int, int], bytes]) -> None:
    """Fetch a zip's end record, central directory and every member's local header.

    Members other than ``torch.save`` storages (``data.pkl``, ``byteorder``,
    ``version`` …) are fetched whole. Damaged archives keep what was found, so
    the local reader reports the damage.
    """
    size = pieces.size
    tail_start = max(0, size - END_SEARCH_BYTES)
    tail = get(tail_start, size)
    pieces.add(tail_start, tail)
    start = _central_directory(tail, tail_start)
    if start is None:
        return
    if start < tail_start and tail_start - start <= MAX_CENTRAL_DIRECTORY:
        pieces.add(start, get(start, tail_start))
    members = _members(pieces)
    wanted = []
    for info in members:
        need = LOCAL_HEADER.size + len(info.orig_filename.encode()) + LOCAL_EXTRA_ALLOWANCE
        if not _STORAGE_RECORD.search(info.filename):
            need += info.compress_size
        wanted.append((info.header_offset, min(size, info.header_offset + need)))
    for first, last in _coalesce(wanted):
        if not pieces.has(first, last):
            pieces.add(first, get(first, last))
    for info in members:  # a local extra field longer than the allowance
        _local_extra(pieces, info, get)


def _central_directory(tail: bytes, tail_start: int) -> int | None:
    """Where the central directory starts, from the end record (zip64 too); it runs to the end."""
    end = tail.rfind(b"PK\x05\x06")
    if end < 0 or end + 22 > len(tail):
        return None
    size, offset = struct.unpack_from("<II", tail, end + 12)
    if 0xFFFFFFFF not in (size, offset):
        return int(offset)
    locator = end - _ZIP64_LOCATOR.size
    if locator < 0:
        return None
    signature, _, record, _ = _ZIP64_LOCATOR.unpack_from(tail, locator)
    at = record - tail_start
    if signature != b"PK\x06\x07" or not 0 <= at <= len(tail) - _ZIP64_END.size:
        return None
    fields = _ZIP64_END.unpack_from(tail, at)
    if fields[0] != b"PK\x06\x06":
        return None
    return int(fields[9])


def _members(pieces: _Pieces) -> list[zipfile.ZipInfo]:
    """The central directory's members, read by ``zipfile`` from a sparse copy."""
    with tempfile.TemporaryFile() as handle:
        _fill(handle, pieces)
        try:
            with zipfile.ZipFile(handle) as archive:
                return archive.infolist()
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError):
            return []


def _local_extra(pieces: _Pieces, info: zipfile.ZipInfo, get: Callable[[int, int], bytes]) -> None:
    offset = info.header_offset
    header = pieces.read(offset, offset + LOCAL_HEADER.size)
    if len(header) < LOCAL_HEADER.size:
        return
    signature, name_length, extra_length = LOCAL_HEADER.unpack(header)
    if signature != LOCAL_SIGNATURE:
        return
    end = offset + LOCAL_HEADER.size + name_length + extra_length
    if not _STORAGE_RECORD.search(info.filename):
        end += info.compress_size
    end = min(end, pieces.size)
    if not pieces.has(offset, end):
        pieces.add(offset, get(offset, end))


def _coalesce(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge ranges that overlap or lie within :data:`COALESCE_GAP` of each other."""
    merged: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if merged and first - merged[-1][1] <= COALESCE_GAP:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def _fill(handle: object, pieces: _Pieces) -> None:
    """Write the known pieces at their offsets and extend to the full size (holes elsewhere)."""
    for start, data in sorted(pieces.parts.items()):
        handle.seek(start)  # type: ignore[attr-defined]
        handle.write(data)  # type: ignore[attr-defined]
    handle.truncate(pieces.size)  # type: ignore[attr-defined]
    handle.seek(0)  # type: ignore[attr-defined]


def _write_blob(blob: Path, pieces: _Pieces) -> None:
    """Write a blob atomically: a temporary file in the same folder, then a rename."""
    handle, temp = tempfile.mkstemp(dir=blob.parent, prefix=".partial-")
    try:
        with os.fdopen(handle, "w+b") as stream:
            _fill(stream, pieces)
            stream.flush()
            _check_sparse(stream.fileno(), pieces)
        os.replace(temp, blob)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def _hole(path: Path, size: int) -> None:
    """A file of ``size`` bytes with no content (a hole), unless one is there already."""
    if path.is_file() and path.stat().st_size == size:
        return
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=".partial-")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.truncate(size)
            stream.flush()
            _check_sparse(stream.fileno(), _Pieces(size))
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def _check_sparse(fd: int, pieces: _Pieces) -> None:
    """Refuse a cache whose filesystem stores holes as real bytes (a 300 GB repo would fill it)."""
    written = sum(len(d) for d in pieces.parts.values())
    if pieces.size < 64 * 1024 * 1024 or not hasattr(os.stat_result, "st_blocks"):
        return
    if os.fstat(fd).st_blocks * 512 > written + pieces.size // 2:
        raise DestinationNotWritable(
            "the cache's filesystem does not keep sparse files; "
            "set WEIGHTFIT_CACHE to a folder on one that does"
        )


def _link(blob: Path, target: Path) -> None:
    """Make ``target`` the blob: a hard link (a symlink across filesystems), swapped in atomically.

    Two processes mirroring the same repo at once each link a temporary name and
    rename it over the target, so neither sees a half-made folder.
    """
    if target.exists() and target.samefile(blob):
        return
    temp = target.with_name(f".link-{os.getpid()}-{threading.get_ident()}-{target.name}")
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()
    try:
        os.link(blob, temp)
    except OSError:
        temp.symlink_to(blob)
    os.replace(temp, target)


@contextlib.contextmanager
def _progress(total: int) -> Iterator[Callable[[], None]]:
    """A transient progress bar on a terminal's standard error for many files; else nothing."""
    if total < PROGRESS_FROM or not sys.stderr.isatty():
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(
        TextColumn("reading headers"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task("headers", total=total)
    with bar:
        yield lambda: bar.advance(task)
