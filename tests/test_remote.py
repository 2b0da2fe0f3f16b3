"""Remote reads over HTTP Range requests, against a real ``http.server`` on 127.0.0.1."""

from __future__ import annotations

import contextlib
import functools
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from huggingface_hub import save_torch_state_dict
from safetensors.torch import save_file

import weightfit
from attacks import safetensors as attacks
from weightfit import errors
from weightfit.formats import detect


@dataclass
class Served:
    """What the server sent: one entry per request (path, bytes of body)."""

    requests: list[tuple[str, int]] = field(default_factory=list)
    honour_range: bool = True

    @property
    def body_bytes(self) -> int:
        return sum(size for _, size in self.requests)


class RangeHandler(SimpleHTTPRequestHandler):
    """Serves files, honouring ``Range: bytes=a-b`` (RFC 9110) unless told not to."""

    served: Served

    def do_GET(self) -> None:
        status = re.fullmatch(r"/status/(\d+)", self.path)
        if status:
            self.send_error(int(status.group(1)))
            return
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        size = path.stat().st_size
        wanted = re.fullmatch(r"bytes=(\d+)-(\d+)", self.headers.get("Range", ""))
        if wanted is None or not self.served.honour_range:
            start, stop, code = 0, size, 200
        else:
            start, stop, code = int(wanted.group(1)), min(int(wanted.group(2)) + 1, size), 206
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        with path.open("rb") as handle:
            handle.seek(start)
            body = handle.read(stop - start)
        self.send_response(code)
        if code == 206:
            self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.served.requests.append((self.path, len(body)))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


@dataclass
class Server:
    url: str
    folder: Path
    served: Served


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    served = Served()
    handler = functools.partial(
        type("Handler", (RangeHandler,), {"served": served}), directory=str(tmp_path)
    )
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_address[1]}", tmp_path, served)
    finally:
        httpd.shutdown()
        httpd.server_close()


def same_tensors(remote: weightfit.Manifest, local: weightfit.Manifest, base: str) -> None:
    assert list(remote) == list(local)
    for name, spec in local.tensors.items():
        other = remote[name]
        assert (other.shape, other.dtype) == (spec.shape, spec.dtype)
        assert other.location.offset == spec.location.offset
        assert other.location.length == spec.location.length
        assert other.location.file == f"{base}/{Path(spec.location.file).name}"


def test_a_remote_file_reads_like_the_local_one(server: Server) -> None:
    path = server.folder / "model.safetensors"
    tensors = {"a": torch.ones(3, 4, dtype=torch.bfloat16), "b": torch.arange(5)}
    save_file(tensors, path, metadata={"format": "pt"})
    url = f"{server.url}/model.safetensors"

    manifest = weightfit.read(url)

    local = weightfit.read(path)
    assert manifest.format == "safetensors"
    assert manifest.source == url and manifest.files == [url]
    assert manifest.metadata == local.metadata
    same_tensors(manifest, local, server.url)
    header_length = path.read_bytes()[:8]
    assert server.served.requests == [
        ("/model.safetensors", 8),
        ("/model.safetensors", int.from_bytes(header_length, "little")),
    ]


def test_a_big_sparse_file_costs_only_its_header(server: Server) -> None:
    header = {"w": {"dtype": "BF16", "shape": [50_000, 100_000], "data_offsets": [0, 10**10]}}
    path = attacks.table(server.folder / "big.safetensors", header)
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size + 10**10)

    manifest = weightfit.read(f"{server.url}/big.safetensors")

    assert manifest.total_bytes == 10**10
    assert server.served.body_bytes == path.stat().st_size - 10**10
    assert server.served.body_bytes < 200


def test_a_remote_shard_index(server: Server) -> None:
    state = {f"layer.{i}.weight": torch.full((16, 16), float(i)) for i in range(6)}
    save_torch_state_dict(state, server.folder, max_shard_size=3000)
    index = "model.safetensors.index.json"

    manifest = weightfit.read(f"{server.url}/{index}")

    local = weightfit.read(server.folder / index)
    assert manifest.format == "safetensors-sharded"
    assert manifest.source == f"{server.url}/{index}"
    assert manifest.files == [f"{server.url}/{Path(f).name}" for f in local.files]
    assert manifest.metadata == local.metadata
    same_tensors(manifest, local, server.url)
    tensor_bytes = sum(t.numel() * 4 for t in state.values())
    assert server.served.body_bytes < 5000 < tensor_bytes


def test_a_server_that_ignores_range_is_read_up_to_what_is_needed(server: Server) -> None:
    server.served.honour_range = False
    save_file({"a": torch.ones(4)}, server.folder / "m.safetensors")
    manifest = weightfit.read(f"{server.url}/m.safetensors")
    assert manifest["a"].shape == (4,)


def test_detect_does_not_touch_the_filesystem_for_a_url() -> None:
    assert detect("https://example.invalid/model.safetensors") == "remote"


def test_a_missing_url(server: Server, run_cli) -> None:
    url = f"{server.url}/nothing.safetensors"
    with pytest.raises(errors.CheckpointNotFound) as caught:
        weightfit.read(url)
    assert str(caught.value) == f"{url}: checkpoint not found: HTTP 404 Not Found"
    assert run_cli("inspect", url).code == 3


def test_a_server_error(server: Server, run_cli) -> None:
    url = f"{server.url}/status/500"
    with pytest.raises(errors.FetchFailed) as caught:
        weightfit.read(url)
    assert str(caught.value) == f"{url}: fetch failed: HTTP 500 Internal Server Error"
    result = run_cli("inspect", url)
    assert result.code == 3
    assert f"error: {url}: fetch failed: HTTP 500 Internal Server Error" in result.err


def test_a_refused_connection(run_cli) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/model.safetensors"
    with pytest.raises(errors.FetchFailed) as caught:
        weightfit.read(url)
    assert (
        str(caught.value) == f"{url}: fetch failed: request failed ([Errno 111] Connection refused)"
    )
    assert run_cli("inspect", url).code == 3


def test_a_hostile_remote_file_gets_the_local_error_naming_the_url(server: Server, run_cli) -> None:
    attacks.overlapping_offsets(server.folder / "bad.safetensors")
    url = f"{server.url}/bad.safetensors"
    with pytest.raises(errors.OverlappingTensors) as caught:
        weightfit.read(url)
    assert str(caught.value).startswith(
        f"{url}: overlapping tensors: tensor 'b' [4, 12] starts inside 'a', which ends at 8"
    )
    assert run_cli("inspect", url).code == 3


def test_a_remote_file_shorter_than_its_length_prefix(server: Server) -> None:
    (server.folder / "tiny.safetensors").write_bytes(b"\x02\x00")
    url = f"{server.url}/tiny.safetensors"
    with pytest.raises(errors.TruncatedFile) as caught:
        weightfit.read(url)
    assert (
        str(caught.value)
        == f"{url}: truncated file: 2 bytes, too short for the 8-byte header length"
    )


def test_a_remote_index_naming_a_missing_shard(server: Server) -> None:
    attacks.index_names_missing_shard(server.folder)
    url = f"{server.url}/model.safetensors.index.json"
    with pytest.raises(errors.CheckpointNotFound) as caught:
        weightfit.read(url)
    shard = f"{server.url}/model-00002-of-00002.safetensors"
    assert str(caught.value) == f"{shard}: checkpoint not found: HTTP 404 Not Found"


def test_a_remote_gguf_is_refused(server: Server) -> None:
    (server.folder / "m.gguf").write_bytes(b"GGUF" + bytes(20))
    with pytest.raises(errors.NotACheckpoint):
        weightfit.read(f"{server.url}/m.gguf")
