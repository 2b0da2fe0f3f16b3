"""Hub addresses: ``hf://ORG/REPO[@REVISION][/PATH]`` and URLs pasted from a browser.

Accepted spellings (model repositories only):

==================================================  ==========================================
``hf://ORG/REPO``                                   the repo at ``main``
``hf://ORG/REPO@REVISION/sub/folder``               a branch, tag or commit; a subfolder
``hf://ORG/REPO@refs/pr/7/model.safetensors``       a pull request's ref; one file
``https://huggingface.co/ORG/REPO``                 the model page
``https://huggingface.co/ORG/REPO/tree/REV/PATH``   a folder as the Hub's file browser shows it
``https://huggingface.co/ORG/REPO/resolve/REV/F``   a file's download link (``blob/`` too)
==================================================  ==========================================

The host of a URL must be the Hub's (``huggingface.co``, ``hf.co``) or the one
``HF_ENDPOINT`` names. Revisions containing ``/`` other than ``refs/pr/N`` and
``refs/convert/NAME`` are written URL-encoded (``release%2Fv1``), as the Hub does.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from weightfit.errors import UsageError

SCHEME = "hf://"
HUB_HOSTS = frozenset({"huggingface.co", "www.huggingface.co", "hf.co"})
"""Hosts whose URLs are Hub addresses, besides the ``HF_ENDPOINT`` host."""
DEFAULT_ENDPOINT = "https://huggingface.co"
DEFAULT_REVISION = "main"
_REF_REVISION = re.compile(r"^(refs/(?:pr/\d+|convert/[^/]+))(?:/(.*))?$")
"""huggingface_hub ``HfFileSystem``'s special refs, the only revisions that contain ``/``."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
"""A namespace or repo name, as ``huggingface_hub.utils.validate_repo_id`` accepts."""
_URL_KINDS = ("resolve", "blob", "tree")


@dataclass(frozen=True)
class HubPath:
    """One address on the Hub.

    Attributes:
        repo_id: ``ORG/REPO`` (or a bare legacy name such as ``gpt2``).
        revision: Branch, tag, commit or ref; ``None`` means the default branch.
        path: Path inside the repo (a folder or a file); ``""`` is the root.
    """

    repo_id: str
    revision: str | None = None
    path: str = ""

    def __str__(self) -> str:
        at = f"@{self.revision}" if self.revision else ""
        tail = f"/{self.path}" if self.path else ""
        return f"{SCHEME}{self.repo_id}{at}{tail}"

    def at(self, rel: str) -> str:
        """The ``hf://`` address of ``rel``, a path relative to the repo root."""
        root = HubPath(self.repo_id, self.revision)
        return f"{root}/{rel}" if rel else str(root)


def endpoint() -> str:
    """The Hub's URL: ``HF_ENDPOINT``, read at each call (mirrors, tests), else huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def is_hub(text: object) -> bool:
    """Whether ``text`` is a Hub address (``hf://`` or a Hub URL), not a local path."""
    if not isinstance(text, str):
        return False
    if text.startswith(SCHEME):
        return True
    if not text.startswith(("http://", "https://")):
        return False
    return _hub_host(urlsplit(text).netloc)


def parse(text: str) -> HubPath:
    """Parse a Hub address.

    Raises:
        UsageError: the address names no repo, or its URL is not a model page,
            folder or file link.

    Example:
        >>> parse("hf://org/model@v2/unet")
        HubPath(repo_id='org/model', revision='v2', path='unet')
    """
    if text.startswith(SCHEME):
        return _parse_hf(text, text[len(SCHEME) :])
    return _parse_url(text)


def _parse_hf(text: str, rest: str) -> HubPath:
    """``ORG/REPO[@REVISION][/PATH]`` after ``hf://``."""
    parts = rest.strip("/").split("/")
    if not parts[0]:
        raise UsageError(f"{text!r} names no repo; write hf://ORG/REPO")
    if "@" in parts[0]:
        name, _, after = rest.strip("/").partition("@")
        return _with_revision(text, name, after)
    if len(parts) == 1:
        return HubPath(_repo_id(text, parts[0]))
    head = "/".join(parts[:2])
    if "@" in parts[1]:
        name, _, after = rest.strip("/").partition("@")
        return _with_revision(text, name, after)
    return HubPath(_repo_id(text, head), None, _in_repo(text, "/".join(parts[2:])))


def _with_revision(text: str, name: str, after: str) -> HubPath:
    """Split ``REVISION[/PATH]``; only the Hub's special refs hold a ``/``."""
    ref = _REF_REVISION.match(after)
    if ref:
        revision, path = ref.group(1), ref.group(2) or ""
    else:
        revision, _, path = after.partition("/")
    if not revision:
        raise UsageError(f"{text!r} has an empty revision after '@'")
    return HubPath(_repo_id(text, name), unquote(revision), _in_repo(text, path))


def _parse_url(text: str) -> HubPath:
    """``https://HOST/ORG/REPO[/(resolve|blob|tree)/REV[/PATH]]``."""
    parts = [unquote(p) for p in urlsplit(text).path.strip("/").split("/")]
    if parts and parts[0] in ("datasets", "spaces"):
        raise UsageError(f"{text!r} is a {parts[0][:-1]} repo; weightfit reads model repos")
    if len(parts) < 2:
        raise UsageError(f"{text!r} names no repo; expected https://huggingface.co/ORG/REPO/…")
    repo_id = _repo_id(text, "/".join(parts[:2]))
    if len(parts) == 2:
        return HubPath(repo_id)
    if parts[2] not in _URL_KINDS or len(parts) < 4:
        raise UsageError(
            f"{text!r} is not a model page, file or folder link (…/resolve/REV/FILE, …/tree/REV)"
        )
    rest = "/".join(parts[3:])
    ref = _REF_REVISION.match(rest)
    if ref:
        return HubPath(repo_id, ref.group(1), _in_repo(text, ref.group(2) or ""))
    revision, _, path = rest.partition("/")
    return HubPath(repo_id, revision, _in_repo(text, path))


def _in_repo(text: str, path: str) -> str:
    """A path inside the repo, without ``.`` or ``..`` parts."""
    parts = [p for p in path.strip("/").split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise UsageError(f"{text!r}: the path inside the repo may not contain '.' or '..'")
    return "/".join(parts)


def _repo_id(text: str, name: str) -> str:
    """Check ``ORG/REPO`` (or a bare legacy name) is a valid repo id."""
    pieces = name.split("/")
    if len(pieces) > 2 or not all(_NAME.match(p) and ".." not in p for p in pieces):
        raise UsageError(f"{text!r}: {name!r} is not a repo id (ORG/REPO)")
    return name


def _hub_host(netloc: str) -> bool:
    host = netloc.lower().rpartition("@")[2]
    return host in HUB_HOSTS or host == urlsplit(endpoint()).netloc.lower()
