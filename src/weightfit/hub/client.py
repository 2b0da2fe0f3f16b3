"""Talking to the Hub through ``huggingface_hub``'s own client: listing and byte ranges.

The listing is one call, ``HfApi.model_info(files_metadata=True)``
(``GET /api/models/{repo}/revision/{rev}?blobs=true``): the commit a revision
points to and every file with its size, git blob id and LFS info. File URLs
come from ``hf_hub_url`` at that commit, the token from ``huggingface_hub``'s
own lookup (``HF_TOKEN``, then the token file) and the requests go through its
shared HTTP session (redirects to the LFS host followed, the token not sent
there). Byte ranges: RFC 9110 section 14 (``Range``, ``206``, ``Content-Range``).

Failures become one :mod:`weightfit.errors` error each:

=============================  =============================================
gated repo, no access          :class:`AccessDenied` (accept the licence, set ``HF_TOKEN``)
missing / private repo         :class:`CheckpointNotFound` (or a token that can read it)
missing revision or file       :class:`CheckpointNotFound`
429                            retried after ``Retry-After`` (bounded), then :class:`RateLimited`
5xx, cut connection, timeout   retried with backoff (bounded), then :class:`FetchFailed`
``200`` to a ``Range`` request :class:`RangeNotSupported` unless full downloads are allowed
=============================  =============================================
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from weightfit.errors import (
    AccessDenied,
    CheckpointNotFound,
    FetchFailed,
    InvalidHeader,
    MissingDependency,
    RangeNotSupported,
    RateLimited,
    WeightfitError,
)
from weightfit.hub.paths import HubPath, endpoint

if TYPE_CHECKING:
    import httpx2

TIMEOUT_SECONDS = 30.0
"""Per request: connecting, and each wait for bytes."""
MAX_ATTEMPTS = 4
"""Tries per request (the first and three retries) on 429, 5xx, cut connections, timeouts."""
BACKOFF_SECONDS = (1.0, 2.0, 4.0)
"""Waits between tries when the server gives no ``Retry-After``."""
MAX_RETRY_AFTER = 60.0
"""A longer ``Retry-After`` is not waited for: the error says when to try again."""
LARGE_REPO_FILES = 1000
"""From this many files on, ``model_info``'s list may be cut short: list the tree instead
(huggingface_hub#3565, https://github.com/huggingface/huggingface_hub/pull/3565)."""
TREE_PAGE = 1000
"""Entries per page of the Hub's tree listing (``HfApi._iter_repo_tree_pages``)."""
MAX_FILE_BYTES = 1 << 44
"""16 TiB: a listed size beyond this (ext4's largest file) is not a real file."""
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_COMMIT = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
"""A git commit hash (SHA-1, or SHA-256 repositories): the mirror's folder name."""
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")
_T = TypeVar("_T")


@dataclass(frozen=True)
class RemoteFile:
    """One file of a listing.

    Attributes:
        path: Path in the repo.
        size: Size in bytes (the LFS object's size for LFS files).
        key: What identifies its content: the LFS sha256 (the Hub's ``ETag`` for
            LFS files) or the git blob id.
        lfs: Whether the file is stored in LFS (or Xet) rather than in git.
    """

    path: str
    size: int
    key: str
    lfs: bool


@dataclass(frozen=True)
class Listing:
    """A repo at one commit: its files by path."""

    repo_id: str
    commit: str
    files: dict[str, RemoteFile]


@dataclass
class Traffic:
    """Requests made and body bytes received, counted as they happen."""

    requests: int = 0
    bytes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, received: int, requests: int = 1) -> None:
        """Count requests (a redirect followed is one more) and body bytes received."""
        with self._lock:
            self.requests += requests
            self.bytes += received


@dataclass
class Client:
    """Hub access for one command: endpoint, token lookup, policy and counters.

    Attributes:
        allow_full_download: Read on when a server ignores ``Range`` (the bytes
            before the range are received and dropped).
        traffic: Requests made and bytes received.
    """

    allow_full_download: bool = False
    traffic: Traffic = field(default_factory=Traffic)

    def listing(self, where: HubPath) -> Listing:
        """The commit ``where.revision`` points to and every file at it.

        One request (``model_info`` with file metadata); a repo of
        :data:`LARGE_REPO_FILES` files or more is listed again from its tree,
        a page per :data:`TREE_PAGE` files.

        Raises:
            AccessDenied: the repo is gated and the token has no access.
            CheckpointNotFound: no such repo (or it is private), or no such revision.
            RateLimited: 429 after every retry.
            FetchFailed: any other failure.
        """
        api = _hf().HfApi(endpoint=endpoint())

        def call() -> Any:
            return api.model_info(
                where.repo_id,
                revision=where.revision,
                files_metadata=True,
                timeout=TIMEOUT_SECONDS,
            )

        name = str(HubPath(where.repo_id, where.revision))
        info = self._retrying(name, where, call)
        self.traffic.add(0)
        commit = info.sha
        if not isinstance(commit, str) or not _COMMIT.fullmatch(commit):
            raise InvalidHeader(f"the listing's commit is {commit!r}, not a git hash", path=name)
        entries = [(s.rfilename, s.size, s.blob_id, s.lfs) for s in info.siblings or []]
        if len(entries) >= LARGE_REPO_FILES:

            def tree() -> list[Any]:
                return list(api.list_repo_tree(where.repo_id, revision=commit, recursive=True))

            listed = self._retrying(name, where, tree)
            self.traffic.add(0, requests=1 + len(listed) // TREE_PAGE)
            from huggingface_hub.hf_api import RepoFile

            entries = [
                (f.path, f.size, f.blob_id, f.lfs) for f in listed if isinstance(f, RepoFile)
            ]
        files: dict[str, RemoteFile] = {}
        for path, size, blob_id, lfs in entries:
            size = lfs.size if lfs else (size or 0)
            if not _safe_path(path) or not 0 <= size <= MAX_FILE_BYTES:
                raise InvalidHeader(
                    f"the listing names an unsafe path or size: {path!r}", path=name
                )
            key = lfs.sha256 if lfs else (blob_id or f"{commit}:{path}")
            files[path] = RemoteFile(path, size, key, lfs is not None)
        return Listing(where.repo_id, commit, files)

    def url(self, listing: Listing, path: str) -> str:
        """The download URL of ``path`` at the listing's commit (``hf_hub_url``)."""
        return str(
            _hf().hf_hub_url(listing.repo_id, path, revision=listing.commit, endpoint=endpoint())
        )

    def get(self, url: str, start: int, stop: int, *, name: str, where: HubPath) -> bytes:
        """Bytes ``[start, stop)`` of the file at ``url``, by one ``Range`` request.

        Args:
            url: The file's download URL.
            start: First byte wanted.
            stop: One past the last byte wanted; must not exceed the file's size.
            name: The file's ``hf://`` address, for error messages.
            where: The repo, for the advice in access errors.

        Raises:
            RangeNotSupported: the server sent the whole file and full downloads are off.
            FetchFailed: the reply was cut short after every retry, or another failure.
        """
        if stop <= start:
            return b""
        return self._retrying(name, where, lambda: self._get_once(url, start, stop, name))

    def _get_once(self, url: str, start: int, stop: int, name: str) -> bytes:
        hf = _hf()
        headers = hf.utils.build_hf_headers()
        headers["Range"] = f"bytes={start}-{stop - 1}"
        session = hf.utils.get_session()
        with session.stream("GET", url, headers=headers, timeout=TIMEOUT_SECONDS) as reply:
            requests = 1 + len(reply.history)  # the Hub redirects LFS files to its CDN
            if reply.status_code >= 400:
                reply.read()
                self.traffic.add(len(reply.content), requests)
                hf.utils.hf_raise_for_status(reply)
            if reply.status_code == 206:
                first = _range_start(reply.headers.get("Content-Range", ""), name)
                if first != start:
                    raise FetchFailed(
                        f"asked for byte {start}, the reply starts at {first}", path=name
                    )
                skip = 0
            elif start == 0 and reply.headers.get("Content-Length") == str(stop):
                skip = 0  # the whole file was asked for, and a 200 is a fine answer to that
            elif self.allow_full_download:
                skip = start
            else:
                self.traffic.add(0, requests)
                raise RangeNotSupported(
                    "the server ignores Range requests and would send the whole file; "
                    "pass --allow-full-download to read it anyway",
                    path=name,
                )
            data = _read_span(reply, skip, stop - start)
            self.traffic.add(skip + len(data), requests)
        if len(data) < stop - start:
            raise _Truncated(f"the reply ended after {len(data)} of {stop - start} bytes")
        return data

    def _retrying(self, name: str, where: HubPath, call: Callable[[], _T]) -> _T:
        """Run ``call`` with bounded retries; turn what it raises into our errors."""
        hf = _hf()
        httpx = _httpx()
        for attempt in range(MAX_ATTEMPTS):
            last = attempt == MAX_ATTEMPTS - 1
            try:
                return call()
            except WeightfitError:
                raise
            except hf.errors.HfHubHTTPError as error:
                status = error.response.status_code if error.response is not None else None
                if status not in RETRY_STATUSES:
                    raise _http_error(error, name, where) from error
                wait = _retry_after(error.response) if status == 429 else None
                if status == 429 and (last or (wait is not None and wait > MAX_RETRY_AFTER)):
                    after = f"; the server asks to wait {wait:g} s" if wait is not None else ""
                    raise RateLimited(
                        f"HTTP 429 Too Many Requests after {attempt + 1} tries{after}", path=name
                    ) from error
                if last:
                    raise FetchFailed(
                        f"HTTP {status} after {attempt + 1} tries", path=name
                    ) from error
            except (_Truncated, httpx.TimeoutException, httpx.TransportError) as error:
                if last:
                    raise FetchFailed(_network_detail(error, attempt + 1), path=name) from error
                wait = None
            except hf.errors.OfflineModeIsEnabled as error:
                raise FetchFailed(
                    "HF_HUB_OFFLINE is set; the Hub cannot be reached", path=name
                ) from error
            time.sleep(wait if wait is not None else BACKOFF_SECONDS[attempt])
        raise AssertionError("unreachable")


def _safe_path(path: object) -> bool:
    """A listing path the mirror may create: relative, no ``..``, ``.`` or empty parts."""
    if not isinstance(path, str) or not path or "\\" in path or "\0" in path:
        return False
    return path[0] != "/" and all(part not in ("", ".", "..") for part in path.split("/"))


class _Truncated(Exception):
    """A reply shorter than the bytes it promised (retried, then reported)."""


def _read_span(reply: httpx2.Response, skip: int, length: int) -> bytes:
    """Read ``length`` bytes after dropping ``skip``, then stop (the rest is never received)."""
    kept = bytearray()
    position = 0
    for chunk in reply.iter_bytes():
        if position + len(chunk) > skip:
            kept += chunk[max(skip - position, 0) :]
        position += len(chunk)
        if len(kept) >= length:
            break
    return bytes(kept[:length])


def _range_start(content_range: str, name: str) -> int:
    match = _CONTENT_RANGE.match(content_range.strip())
    if match is None:
        raise FetchFailed(f"reply has no usable Content-Range ({content_range!r})", path=name)
    return int(match.group(1))


def _retry_after(response: httpx2.Response | None) -> float | None:
    """``Retry-After`` in seconds (RFC 9110 section 10.2.3; the Hub does not send the date form)."""
    value = response.headers.get("Retry-After", "") if response is not None else ""
    return float(value) if value.strip().isdigit() else None


def _http_error(error: Exception, name: str, where: HubPath) -> WeightfitError:
    """One of our errors for a Hub HTTP error, with advice the user can act on."""
    errors = _hf().errors
    page = f"{endpoint()}/{where.repo_id}"
    if isinstance(error, errors.GatedRepoError):
        return AccessDenied(
            f"{where.repo_id} is gated: accept the licence on the model page ({page}), "
            "then set HF_TOKEN",
            path=name,
        )
    if isinstance(error, errors.RepositoryNotFoundError):
        return CheckpointNotFound(
            f"no repo {where.repo_id!r} on {endpoint()}, or it is private "
            "(set HF_TOKEN to a token that can read it)",
            path=name,
        )
    if isinstance(error, errors.RevisionNotFoundError):
        return CheckpointNotFound(f"{where.repo_id} has no revision {where.revision!r}", path=name)
    if isinstance(error, errors.RemoteEntryNotFoundError):
        return CheckpointNotFound("no such file in the repo at this revision", path=name)
    if isinstance(error, errors.DisabledRepoError):
        return AccessDenied(f"{where.repo_id} has been disabled on the Hub", path=name)
    response = getattr(error, "response", None)
    status = response.status_code if response is not None else "?"
    if status in (401, 403):
        return AccessDenied(f"HTTP {status}: the token cannot read {where.repo_id}", path=name)
    if status in (404, 410):
        return CheckpointNotFound(f"HTTP {status}", path=name)
    return FetchFailed(f"HTTP {status}", path=name)


def _network_detail(error: Exception, tries: int) -> str:
    httpx = _httpx()
    if isinstance(error, httpx.TimeoutException):
        return f"timed out ({TIMEOUT_SECONDS:g} s without bytes) after {tries} tries"
    if isinstance(error, _Truncated):
        return f"truncated response: {error} (after {tries} tries)"
    return f"connection failed ({type(error).__name__}: {error}) after {tries} tries"


def _hf() -> Any:
    """``huggingface_hub``, or the install hint."""
    try:
        import huggingface_hub
        import huggingface_hub.errors
        import huggingface_hub.utils
    except ImportError as error:
        raise MissingDependency("huggingface_hub", "hub", "reading hf:// paths") from error
    return huggingface_hub


def _httpx() -> Any:
    """The HTTP library ``huggingface_hub``'s session is built on, for its exception types.

    ``httpx`` in huggingface_hub 1.x, its fork ``httpx2`` in 2.x: taken from the session.
    """
    session = _hf().utils.get_session()
    return sys.modules[type(session).__module__.partition(".")[0]]
