"""Remote safetensors files and shard indexes, read over HTTP Range requests.

HTTP range requests: RFC 9110 section 14 (``Range``, ``206 Partial Content``,
``Content-Range: bytes first-last/complete-length``). The parse helpers are the
local readers' own (:func:`weightfit.formats.safetensors.header_length` and
:func:`~weightfit.formats.safetensors.parse`,
:func:`weightfit.formats.safetensors_index.parse_index` and
:func:`~weightfit.formats.safetensors_index.combine`), so a URL is checked
exactly like a file; every error names the URL. What this reader guarantees:

- A safetensors URL costs two small requests: the 8-byte length prefix, then the
  N header bytes. Tensor bytes are never fetched; the file size comes from
  ``Content-Range``. A server that ignores ``Range`` (``200 OK``) is read only up
  to the bytes needed and the connection closed.
- A shard index URL (recognised by its content: JSON starting with ``{``) is
  fetched whole (at most :data:`~weightfit.formats.safetensors_index.MAX_INDEX_BYTES`),
  then each shard's header, a few at a time. A remote folder cannot be listed,
  so shards the index leaves out are not looked for.
- ``404``/``410`` is :class:`CheckpointNotFound`; any other failed request,
  refused connection or timeout is :class:`FetchFailed`.
- Only the standard library (``urllib.request``) is used; no credentials are
  added to requests.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urljoin

from weightfit.errors import (
    CheckpointNotFound,
    ContainerKeyNotFound,
    FetchFailed,
    HeaderTooLarge,
    NotACheckpoint,
    reading,
)
from weightfit.formats import ReadOptions, safetensors, safetensors_index
from weightfit.manifest import Manifest

NAME = "remote"

TIMEOUT_SECONDS = 30.0
"""Per-request timeout (connect and each read)."""
SHARD_WORKERS = 8
"""Shard headers fetched at once for a remote index."""
_CONTENT_RANGE = re.compile(r"^bytes (?:\d+-\d+|\*)/(\d+)$")
"""RFC 9110 section 14.4: ``bytes first-last/complete-length`` (``*/length`` in a 416)."""
_GONE = (404, 410)


@dataclass(frozen=True)
class _Chunk:
    """Bytes fetched from a URL, and the size of the whole resource."""

    data: bytes
    total: int


def read(url: str, options: ReadOptions) -> Manifest:
    """Read the manifest of a remote safetensors file or shard index.

    Args:
        url: An ``http://`` or ``https://`` URL.
        options: ``key`` must be ``None`` (safetensors files are flat).

    Returns:
        The manifest the local reader would give, with the URL as ``source``
        and in every ``location``.

    Raises:
        CheckpointNotFound: the server answers 404 or 410.
        FetchFailed: any other failed request, refused connection or timeout.
        NotACheckpoint: the resource is neither safetensors nor a shard index.
        ContainerKeyNotFound: ``options.key`` was given.
        InputError: whatever the local reader raises on the same bytes.

    Example:
        >>> read("https://host/model.safetensors", ReadOptions())  # doctest: +SKIP
        <Manifest safetensors 291 tensors 8.0B params 16.1 GB 'model.safetensors'>

    """
    if options.key is not None:
        raise ContainerKeyNotFound(
            f"a safetensors file is one flat set of tensors; it has no entry {options.key!r}",
            path=url,
        )
    head = _fetch(url, 0, safetensors.LENGTH_BYTES)
    if head.data.lstrip(b" \t\r\n")[:1] == b"{":
        return _read_index(url, head)
    if head.data[:4] == b"GGUF" or head.data[:2] == b"PK":
        raise NotACheckpoint("remote reading supports safetensors files and shard indexes")
    return _read_file(url, head)


def _read_file(url: str, head: _Chunk) -> Manifest:
    """Read one remote safetensors header, given its first bytes."""
    with reading(url):
        length = safetensors.header_length(head.data, head.total)
        header = _fetch(url, safetensors.LENGTH_BYTES, safetensors.LENGTH_BYTES + length)
        return safetensors.parse(header.data, file_size=head.total, source=url)


def _read_index(url: str, head: _Chunk) -> Manifest:
    """Read a remote shard index and the header of every shard it names."""
    if head.total > safetensors_index.MAX_INDEX_BYTES:
        raise HeaderTooLarge(
            f"index of {head.total} bytes exceeds the limit of {safetensors_index.MAX_INDEX_BYTES}"
        )
    index = safetensors_index.parse_index(_fetch(url, 0, head.total).data)
    shard_urls = [urljoin(url, shard) for shard in index.shards]

    def one(shard_url: str) -> Manifest:
        return _read_file(shard_url, _fetch(shard_url, 0, safetensors.LENGTH_BYTES))

    with ThreadPoolExecutor(max_workers=SHARD_WORKERS) as pool:
        parts = list(zip(index.shards, pool.map(one, shard_urls), strict=True))
    return safetensors_index.combine(index, parts, source=url)


def _fetch(url: str, start: int, stop: int) -> _Chunk:
    """Fetch bytes ``[start, stop)`` of ``url`` (fewer if the resource is shorter).

    Raises:
        CheckpointNotFound: 404 or 410.
        FetchFailed: another HTTP error, a network error, or no size in the reply.

    """
    if stop <= start:
        return _Chunk(b"", _size(url))
    request = urllib.request.Request(url, headers={"Range": f"bytes={start}-{stop - 1}"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as reply:
            if reply.status == 206:
                total = _complete_length(url, reply.headers.get("Content-Range", ""))
                return _Chunk(reply.read(stop - start), total)
            length = reply.headers.get("Content-Length")
            if length is None or not length.isdigit():
                raise FetchFailed("server ignored the Range request and sent no length", path=url)
            return _Chunk(reply.read(stop)[start:], int(length))
    except urllib.error.HTTPError as error:
        if error.code == 416:
            return _Chunk(b"", _complete_length(url, error.headers.get("Content-Range", "")))
        if error.code in _GONE:
            raise CheckpointNotFound(f"HTTP {error.code} {error.reason}", path=url) from error
        raise FetchFailed(f"HTTP {error.code} {error.reason}", path=url) from error
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        reason = getattr(error, "reason", error)
        raise FetchFailed(f"request failed ({reason})", path=url) from error


def _size(url: str) -> int:
    """Size of the resource, from a one-byte range request."""
    return _fetch(url, 0, 1).total


def _complete_length(url: str, content_range: str) -> int:
    """Read the complete length from ``Content-Range`` (``bytes 0-7/1234``, ``bytes */1234``)."""
    match = _CONTENT_RANGE.match(content_range.strip())
    if match is None:
        raise FetchFailed(f"reply has no usable Content-Range ({content_range!r})", path=url)
    return int(match.group(1))
