"""The Hugging Face Hub as a source: ``hf://ORG/REPO[@REVISION][/PATH]`` for every command.

A Hub address is turned into a local, header-only mirror
(:mod:`weightfit.hub.mirror`) that the ordinary readers, lint rules and target
builders read as they read a clone, so a repo on the Hub and its clone give the
same manifests and findings. Names are put back on the way out: a manifest's
``source``, ``files`` and tensor locations, and the path in every error, are
``hf://`` addresses, never cache paths.

Requires ``huggingface_hub`` (``pip install 'weightfit[hub]'``); its client
lists the repo, builds file URLs, finds the token (``HF_TOKEN``, then the token
file) and honours ``HF_ENDPOINT``.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

from weightfit.errors import WeightfitError
from weightfit.hub.client import Client
from weightfit.hub.mirror import Purpose, Snapshot, build
from weightfit.hub.paths import HubPath, is_hub, parse
from weightfit.manifest import ByteRange, Manifest, TensorSpec, human_bytes

__all__ = ["HubPath", "Mirror", "allow_full_download", "is_hub", "open_mirror", "parse"]

_SPEC_FIELDS = tuple(f.name for f in dataclasses.fields(TensorSpec))
_ALLOW_FULL_DOWNLOAD = contextvars.ContextVar("weightfit_hub_full_download", default=False)


@contextlib.contextmanager
def allow_full_download(allowed: bool = True) -> Iterator[None]:
    """Within the block, read on from servers that ignore ``Range`` (``--allow-full-download``)."""
    token = _ALLOW_FULL_DOWNLOAD.set(allowed)
    try:
        yield
    finally:
        _ALLOW_FULL_DOWNLOAD.reset(token)


@dataclasses.dataclass
class Mirror:
    """A Hub address and its local mirror, with the renaming between them.

    Attributes:
        address: What the user wrote.
        snapshot: The mirror (:attr:`Snapshot.local` is the path to read).
        client: The client that made it (its ``traffic``: requests and bytes).
    """

    address: str
    snapshot: Snapshot
    client: Client

    @property
    def path(self) -> Path:
        """The mirrored file or folder to hand to a local reader."""
        return self.snapshot.local

    def name(self, text: str) -> str:
        """``text`` with every mirror path replaced by its ``hf://`` address."""
        root = str(self.snapshot.root)
        where = self.snapshot.where
        repo = str(HubPath(where.repo_id, where.revision))
        text = text.replace(root + os.sep, repo + "/")
        return text.replace(root, repo)

    def manifest(self, manifest: Manifest) -> Manifest:
        """Put ``hf://`` names on a manifest read from the mirror (source, files, locations)."""
        manifest.source = self.name(manifest.source)
        manifest.files = [self.name(f) for f in manifest.files]
        manifest.notes = [self.name(n) for n in manifest.notes]
        renamed: dict[str, str] = {}
        for key, spec in manifest.tensors.items():
            if spec.location is None:
                continue
            file = spec.location.file
            if file not in renamed:
                renamed[file] = self.name(file)
            # Built field by field: dataclasses.replace is several times slower over the
            # 64k tensors of a 1000-shard model.
            fields = {name: getattr(spec, name) for name in _SPEC_FIELDS}
            fields["location"] = ByteRange(
                renamed[file], spec.location.offset, spec.location.length
            )
            manifest.tensors[key] = TensorSpec(**fields)
        manifest.notes.extend(
            f"{path}: {why}" for path, why in sorted(self.snapshot.skipped.items())
        )
        manifest.notes.append(self.summary())
        return manifest

    def summary(self) -> str:
        """One line: the commit read, and what reading it cost."""
        traffic = self.client.traffic
        snapshot = self.snapshot
        fetched = len(snapshot.fetched)
        return (
            f"read from the Hub at commit {snapshot.listing.commit[:12]}: "
            f"{traffic.requests} request(s), {human_bytes(traffic.bytes)} of files received, "
            f"{fetched} file(s) fetched (headers and small JSON only)"
        )

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        """Name the ``hf://`` address, not the mirror, in any error raised within."""
        try:
            yield
        except WeightfitError as error:
            if error.path is not None:
                error.path = self.name(error.path)
            error.detail = self.name(error.detail)
            error.args = (error.message,)
            raise


def open_mirror(address: str, purpose: Purpose = "read") -> Mirror:
    """List a Hub repo and mirror the headers under ``address``.

    Args:
        address: ``hf://ORG/REPO[@REVISION][/PATH]`` or a Hub URL.
        purpose: ``"lint"`` also fetches the tokenizer JSON files lint rules read.

    Returns:
        The :class:`Mirror`, ready to read.

    Raises:
        UsageError: the address is malformed.
        MissingDependency: ``huggingface_hub`` is not installed.
        AccessDenied, CheckpointNotFound, RateLimited, RangeNotSupported, FetchFailed:
            see :mod:`weightfit.hub.client`.
    """
    where = parse(address)
    client = Client(allow_full_download=_ALLOW_FULL_DOWNLOAD.get())
    snapshot = build(where, client, _cache_directory(), purpose)
    return Mirror(address, snapshot, client)


def _cache_directory() -> Path:
    """``$WEIGHTFIT_CACHE``, XDG's or ``~/.cache``, + ``weightfit`` (as the target cache)."""
    explicit = os.environ.get("WEIGHTFIT_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "weightfit"
