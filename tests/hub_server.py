"""A Hugging Face Hub on 127.0.0.1: the endpoints ``huggingface_hub`` calls, with the Hub's headers.

Served, as the real Hub does (huggingface_hub 2.x ``hf_api.py`` ``model_info``,
``file_download.py`` ``get_hf_file_metadata`` / ``hf_hub_download``):

- ``GET /api/models/{repo}/revision/{rev}[?blobs=true]``: ``sha`` and
  ``siblings`` (with ``size``, ``blobId`` and ``lfs`` when ``blobs`` is asked);
  a missing repo is ``401`` + ``X-Error-Code: RepoNotFound``, a missing revision
  ``404`` + ``RevisionNotFound``.
- ``GET|HEAD /{repo}/resolve/{rev}/{path}``: files in git are served here
  (``ETag`` the git blob id, ``X-Repo-Commit``); LFS files answer ``302`` to a
  second host (the CDN) with ``X-Linked-Size``, ``X-Linked-Etag``, ``Location``;
  the CDN honours ``Range`` (``206``, ``Content-Range``). A gated repo answers
  ``401`` (no token) or ``403`` (a token without access) + ``GatedRepo``.

Both hosts count requests and body bytes. Failure modes are switched per test:
``rate_limit`` (429 + ``Retry-After`` for the next N file requests),
``ignore_range`` (the CDN sends ``200`` and the whole file), ``cut_after`` (the
CDN closes the connection after N bytes of a reply).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

LFS_EXTENSIONS = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf", ".npz", ".msgpack")
"""Stored in LFS, as the Hub's default ``.gitattributes`` says."""


@dataclass
class Repo:
    """One repo: a local folder served at one commit."""

    folder: Path
    commit: str = "0123456789abcdef0123456789abcdef01234567"
    revisions: tuple[str, ...] = ("main",)
    gated: bool = False
    not_lfs: frozenset[str] = frozenset()
    """Paths kept in git even with an LFS extension (a committed pointer file)."""
    extra_siblings: tuple[str, ...] = ()
    """Names the listing shows without a file behind them (a hostile server)."""

    @functools.cached_property
    def _files(self) -> dict[str, Path]:
        return {
            p.relative_to(self.folder).as_posix(): p
            for p in sorted(self.folder.rglob("*"))
            if p.is_file()
        }

    def files(self) -> dict[str, Path]:
        """The served files by repo path (listed once: tests change files through a new Repo)."""
        return self._files

    def is_lfs(self, rel: str) -> bool:
        return rel.endswith(LFS_EXTENSIONS) and rel not in self.not_lfs


@dataclass
class Counter:
    """Requests and body bytes one host served."""

    requests: int = 0
    bytes: int = 0
    paths: list[str] = field(default_factory=list)
    authorization: list[str | None] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, path: str, sent: int, auth: str | None) -> None:
        with self.lock:
            self.requests += 1
            self.bytes += sent
            self.paths.append(path)
            self.authorization.append(auth)


@dataclass
class Hub:
    """The fake Hub's state: repos, counters and the failure switches."""

    repos: dict[str, Repo] = field(default_factory=dict)
    api: Counter = field(default_factory=Counter)
    cdn: Counter = field(default_factory=Counter)
    rate_limit: int = 0
    retry_after: str = "1"
    ignore_range: bool = False
    cut_after: int | None = None
    cut_times: int = 1_000_000
    tree_page: int = 1000
    """Entries per page of the tree listing (the Hub's own page size)."""
    stall: float = 0.0
    """Seconds the CDN waits before answering (a timeout)."""
    tokens: frozenset[str] = frozenset()
    """Tokens with access to gated repos."""
    url: str = ""
    cdn_url: str = ""
    _oids: dict[tuple[str, int, int], str] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return self.api.requests + self.cdn.requests

    @property
    def bytes(self) -> int:
        return self.api.bytes + self.cdn.bytes

    def reset(self) -> None:
        self.api, self.cdn = Counter(), Counter()

    def sha256(self, path: Path) -> str:
        """A stand-in LFS oid: a digest of the first MiB, size and mtime (fast on sparse files)."""
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key not in self._oids:
            with path.open("rb") as handle:
                head = handle.read(1 << 20)
            self._oids[key] = hashlib.sha256(head + repr(key).encode()).hexdigest()
        return self._oids[key]


def git_oid(data: bytes) -> str:
    """The git blob id of ``data``."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def pointer(sha256: str, size: int) -> bytes:
    return (
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()
    )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hub: Hub
    is_cdn: bool

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""

    def do_HEAD(self) -> None:
        self._route(head=True)

    def do_GET(self) -> None:
        self._route(head=False)

    # -- routing -------------------------------------------------------------

    def _route(self, *, head: bool) -> None:
        url = urlsplit(self.path)
        path = unquote(url.path)
        if self.is_cdn:
            match = re.fullmatch(r"/lfs/([^/]+/[^/]+)/(.+)", path)
            if match is None:
                return self._error(404, "EntryNotFound", head=head)
            return self._cdn(match.group(1), match.group(2), head=head)
        api = re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?", path)
        if api:
            return self._info(api.group(1), api.group(2) or "main", parse_qs(url.query), head)
        tree = re.fullmatch(r"/api/models/([^/]+/[^/]+)/tree/([^/]+)", path)
        if tree:
            return self._tree(tree.group(1), tree.group(2), parse_qs(url.query), head)
        resolve = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        if resolve:
            return self._resolve(*resolve.groups(), head=head)
        return self._error(404, None, head=head)

    def _repo(self, repo_id: str, revision: str, head: bool) -> Repo | None:
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            self._error(401, "RepoNotFound", head=head, message="Repository not found")
            return None
        if revision not in repo.revisions and revision != repo.commit:
            self._error(404, "RevisionNotFound", head=head, message="Invalid rev id")
            return None
        return repo

    def _info(self, repo_id: str, revision: str, query: dict[str, list[str]], head: bool) -> None:
        repo = self._repo(repo_id, revision, head)
        if repo is None:
            return
        blobs = query.get("blobs", ["false"])[0].lower() == "true"
        siblings = []
        for rel, file in repo.files().items():
            entry: dict[str, object] = {"rfilename": rel}
            if blobs:
                size = file.stat().st_size
                if repo.is_lfs(rel):
                    sha = self.hub.sha256(file)
                    entry.update(
                        size=size,
                        blobId=git_oid(pointer(sha, size)),
                        lfs={"size": size, "sha256": sha, "pointerSize": len(pointer(sha, size))},
                    )
                else:
                    entry.update(size=size, blobId=git_oid(file.read_bytes()))
            siblings.append(entry)
        siblings += [
            {"rfilename": name, "size": 1, "blobId": "0" * 40} for name in repo.extra_siblings
        ]
        body = json.dumps(
            {
                "_id": "0" * 24,
                "id": repo_id,
                "modelId": repo_id,
                "sha": repo.commit,
                "private": False,
                "gated": "manual" if repo.gated else False,
                "disabled": False,
                "siblings": siblings,
            }
        ).encode()
        self._send(200, {"Content-Type": "application/json"}, body, head=head)

    def _tree(self, repo_id: str, revision: str, query: dict[str, list[str]], head: bool) -> None:
        """``GET /api/models/{repo}/tree/{rev}?recursive=true``: pages with a ``Link`` header."""
        repo = self._repo(repo_id, revision, head)
        if repo is None:
            return
        entries: list[dict[str, object]] = []
        folders = set()
        for rel, file in repo.files().items():
            parts = rel.split("/")
            folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
            size = file.stat().st_size
            entry: dict[str, object] = {"type": "file", "path": rel, "size": size}
            if repo.is_lfs(rel):
                sha = self.hub.sha256(file)
                entry.update(
                    oid=git_oid(pointer(sha, size)),
                    lfs={"oid": sha, "size": size, "pointerSize": len(pointer(sha, size))},
                )
            else:
                entry["oid"] = git_oid(file.read_bytes())
            entries.append(entry)
        entries += [{"type": "directory", "path": f, "oid": "0" * 40, "size": 0} for f in folders]
        start = int(query.get("cursor", ["0"])[0])
        page = entries[start : start + self.hub.tree_page]
        headers = {"Content-Type": "application/json"}
        if start + self.hub.tree_page < len(entries):
            following = f"{self.hub.url}{urlsplit(self.path).path}?recursive=true&expand=false"
            headers["Link"] = f'<{following}&cursor={start + self.hub.tree_page}>; rel="next"'
        self._send(200, headers, json.dumps(page).encode(), head=head)

    def _resolve(self, repo_id: str, revision: str, rel: str, *, head: bool) -> None:
        if self.hub.rate_limit > 0:
            self.hub.rate_limit -= 1
            return self._error(
                429,
                None,
                head=head,
                message="rate limited",
                extra={"Retry-After": self.hub.retry_after},
            )
        repo = self._repo(repo_id, revision, head)
        if repo is None:
            return
        if repo.gated and self._token() not in self.hub.tokens:
            status = 401 if self._token() is None else 403
            return self._error(
                status,
                "GatedRepo",
                head=head,
                message=f"Access to model {repo_id} is restricted. You must have access to it.",
            )
        file = repo.files().get(rel)
        if file is None:
            return self._error(404, "EntryNotFound", head=head, message="Entry not found")
        size = file.stat().st_size
        common = {"X-Repo-Commit": repo.commit, "Accept-Ranges": "bytes"}
        if repo.is_lfs(rel):
            sha = self.hub.sha256(file)
            location = f"{self.hub.cdn_url}/lfs/{repo_id}/{rel}?X-Amz-Signature=test"
            headers = {
                **common,
                "ETag": f'"{git_oid(pointer(sha, size))}"',
                "X-Linked-Etag": f'"{sha}"',
                "X-Linked-Size": str(size),
                "Location": location,
                "Content-Type": "text/plain; charset=utf-8",
            }
            return self._send(302, headers, b"", head=head)
        data = file.read_bytes()
        self._ranged(data, {**common, "ETag": f'"{git_oid(data)}"'}, head=head)

    def _cdn(self, repo_id: str, rel: str, *, head: bool) -> None:
        if self.hub.stall:
            threading.Event().wait(self.hub.stall)  # not time.sleep: tests replace it
        repo = self.hub.repos.get(repo_id)
        file = repo.files().get(rel) if repo else None
        if file is None:
            return self._error(404, None, head=head)
        self._ranged_file(file, {"ETag": f'"{self.hub.sha256(file)}"'}, head=head)

    # -- bodies ---------------------------------------------------------------

    def _ranged(self, data: bytes, headers: dict[str, str], *, head: bool) -> None:
        start, stop = self._range(len(data))
        status = 206 if (start, stop) != (0, len(data)) or self._has_range() else 200
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{len(data)}"
        self._send(status, headers, data[start:stop], head=head)

    def _ranged_file(self, file: Path, headers: dict[str, str], *, head: bool) -> None:
        size = file.stat().st_size
        start, stop = self._range(size)
        if self.hub.ignore_range:
            start, stop = 0, size
        status = 206 if self._has_range() and not self.hub.ignore_range else 200
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
        headers["Content-Length"] = str(stop - start)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if head:
            return self._count(0)
        limit = stop - start
        if self.hub.cut_after is not None and self.hub.cut_times > 0:
            self.hub.cut_times -= 1
            limit = min(limit, self.hub.cut_after)
            self.close_connection = True
        self._count(limit)
        sent = 0
        with file.open("rb") as handle, contextlib.suppress(BrokenPipeError, ConnectionResetError):
            handle.seek(start)
            while sent < limit:
                chunk = handle.read(min(1 << 16, limit - sent))
                if not chunk:
                    break
                self.wfile.write(chunk)
                sent += len(chunk)

    def _has_range(self) -> bool:
        return "Range" in self.headers

    def _range(self, size: int) -> tuple[int, int]:
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if match is None:
            return 0, size
        start = int(match.group(1))
        stop = int(match.group(2)) + 1 if match.group(2) else size
        return min(start, size), min(stop, size)

    def _token(self) -> str | None:
        auth = self.headers.get("Authorization")
        return auth.removeprefix("Bearer ") if auth else None

    def _error(
        self,
        status: int,
        code: str | None,
        *,
        head: bool,
        message: str = "",
        extra: dict[str, str] | None = None,
    ) -> None:
        headers = {"Content-Type": "application/json", **(extra or {})}
        if code:
            headers["X-Error-Code"] = code
        if message:
            headers["X-Error-Message"] = message
        self._send(status, headers, json.dumps({"error": message}).encode(), head=head)

    def _send(self, status: int, headers: dict[str, str], body: bytes, *, head: bool) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # Counted before sending: the client may act on the reply before this thread runs on.
        self._count(0 if head else len(body))
        if not head:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

    def _count(self, sent: int) -> None:
        counter = self.hub.cdn if self.is_cdn else self.hub.api
        counter.add(self.path, sent, self.headers.get("Authorization"))


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients that hang up (a cut or refused reply) are expected here: stay quiet."""


@contextlib.contextmanager
def serve(hub: Hub | None = None) -> Iterator[Hub]:
    """Run the Hub and its CDN on two loopback ports while the block runs."""
    hub = hub or Hub()
    servers = []
    for is_cdn in (False, True):
        handler = type("Handler", (_Handler,), {"hub": hub, "is_cdn": is_cdn})
        server = _Server(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
    hub.url = f"http://127.0.0.1:{servers[0].server_address[1]}"
    hub.cdn_url = f"http://127.0.0.1:{servers[1].server_address[1]}"
    try:
        yield hub
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
