"""A persistent cache of the manifests built from transformers / diffusers configs.

Building a config's model on ``meta`` is quick, but the process must first
import torch, transformers (or diffusers) and the model's module: 3-5 s, where
reading a 70B checkpoint's headers, aligning and diagnosing take a quarter of a
second. The manifest a config builds depends only on the config and the
installed code, so it is stored as JSON and reused; a cache hit imports neither
torch nor the framework.

Where: ``$WEIGHTFIT_CACHE``, else ``$XDG_CACHE_HOME/weightfit``, else
``~/.cache/weightfit``, in ``targets/<key>.json``. The key is the SHA-256 of
the canonical config JSON (every key: a manifest records the config it was
built from), the class name, the framework's and torch's versions (read from
package metadata, not by importing), weightfit's version with a digest of the
modules that build manifests, and the build options. ``WEIGHTFIT_NO_CACHE=1``
or :func:`disabled` turns the cache off.

The cache is best effort: an entry that cannot be read or decoded is rebuilt
and rewritten, a directory that cannot be written is left alone, and neither
is ever an error. Entries are written to a temporary file and renamed into
place, so a reader never sees half an entry. A manifest is stored only when
its JSON form decodes back to an equal manifest.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from weightfit import atomic
from weightfit.manifest import Manifest, TensorSpec

CACHE_ENV = "WEIGHTFIT_CACHE"
"""Environment variable naming the cache directory."""

NO_CACHE_ENV = "WEIGHTFIT_NO_CACHE"
"""Environment variable that turns the cache off when set to a true value."""

SCHEMA = 1
"""Version of the entry layout; an entry of another version is a miss."""

OPTIONS = {"device": "meta"}
"""How targets are built; part of every key, so a change of recipe misses old entries."""

_BUILDERS = ("targets/module.py", "targets/transformers.py", "targets/diffusers.py", "dtypes.py")
"""Modules whose code shapes a built manifest: their bytes go into the key, since
an edit without a version bump (a development install) must not serve stale entries."""

_TUPLE, _ITEMS = "__tuple__", "__items__"
"""Tags for a tuple and for a mapping with non-string keys in stored JSON: configs
hold both (diffusers' ``block_out_channels``, transformers' ``id2label`` with int
keys), and a manifest must come back equal, not with lists or string keys."""

_FALSE = {"", "0", "false", "no", "off"}

_disabled: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "weightfit_cache_off", default=False
)


def directory() -> Path:
    """The cache directory (not created): ``$WEIGHTFIT_CACHE``, XDG's, or ``~/.cache``."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "weightfit"


def is_enabled() -> bool:
    """Whether the cache is used: not inside :func:`disabled`, and ``WEIGHTFIT_NO_CACHE`` unset."""
    if _disabled.get():
        return False
    return os.environ.get(NO_CACHE_ENV, "").strip().lower() in _FALSE


@contextlib.contextmanager
def disabled(when: bool = True) -> Iterator[None]:
    """Build every config target afresh (no read, no write) inside the block, if ``when``.

    Example:
        >>> with disabled():  # doctest: +SKIP
        ...     weightfit.check("ckpt", "config.json")

    """
    token = _disabled.set(when or _disabled.get())
    try:
        yield
    finally:
        _disabled.reset(token)


def cached(
    config: Mapping[str, Any],
    *,
    library: str,
    class_name: str,
    source: str,
    build: Callable[[], Manifest],
) -> Manifest:
    """Return the manifest ``build()`` makes for ``config``, from the cache when it holds it.

    Args:
        config: The config mapping the model is built from (kwargs merged in).
        library: The framework's distribution name (``"transformers"``, ``"diffusers"``).
        class_name: The class the config builds (``"LlamaForCausalLM"``).
        source: How the target was named; set on the returned manifest, hit or miss.
        build: Builds the manifest on a miss (and raises what it raises).

    Returns:
        The manifest, equal to what ``build()`` returns.

    """
    key = entry_key(config, library=library, class_name=class_name) if is_enabled() else None
    if key is None:
        return build()
    path = directory() / "targets" / f"{key}.json"
    manifest = _load(path, key, source)
    if manifest is None:
        manifest = build()
        _store(path, key, manifest)
    return manifest


def entry_key(config: Mapping[str, Any], *, library: str, class_name: str) -> str | None:
    """SHA-256 key of a config's entry, or ``None`` when it cannot be cached.

    A config that JSON cannot hold exactly (tuples, non-string keys, objects) is
    not cached, and neither is one whose framework is not installed.
    """
    try:
        canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=False)
        if json.loads(canonical) != config:
            return None
        versions = {name: metadata.version(name) for name in (library, "torch")}
    except (TypeError, ValueError, RecursionError, metadata.PackageNotFoundError):
        return None
    identity = {
        "schema": SCHEMA,
        "config": canonical,
        "class": class_name,
        "library": library,
        "versions": versions,
        "weightfit": _weightfit_version(),
        "options": OPTIONS,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


@cache
def _weightfit_version() -> str:
    """Return weightfit's version and a digest of the modules that build manifests."""
    from weightfit._version import __version__

    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for name in _BUILDERS:
        with contextlib.suppress(OSError):
            digest.update((root / name).read_bytes())
    return f"{__version__}+{digest.hexdigest()[:16]}"


def _load(path: Path, key: str, source: str) -> Manifest | None:
    """The stored manifest, or ``None`` for a missing, unreadable or foreign entry."""
    try:
        entry = json.loads(path.read_bytes(), object_hook=_untag)
        if entry["schema"] != SCHEMA or entry["key"] != key:
            return None
        return _decode(entry["manifest"], source)
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError):
        return None


def _store(path: Path, key: str, manifest: Manifest) -> None:
    """Write the entry atomically, if the manifest survives the round trip; never raise."""
    try:
        encoded = _encode(manifest)
        text = json.dumps({"schema": SCHEMA, "key": key, "manifest": encoded}, allow_nan=False)
        if _decode(json.loads(text, object_hook=_untag)["manifest"], manifest.source) != manifest:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(path, text)
    except (OSError, ValueError, TypeError, KeyError, RecursionError):
        return


def _encode(manifest: Manifest) -> dict[str, Any]:
    """A built manifest as JSON values; one ``[name, shape, dtype, is_buffer]`` row per tensor."""
    if manifest.containers or manifest.globals:
        raise ValueError("only manifests built from a config are cached")
    rows = []
    for spec in manifest.tensors.values():
        if spec.location is not None or spec.stride is not None or spec.storage is not None:
            raise ValueError("only location-less tensors are cached")
        rows.append([spec.name, list(spec.shape), spec.dtype, spec.is_buffer])
    return {
        "tensors": rows,
        "format": manifest.format,
        "files": manifest.files,
        "metadata": manifest.metadata,
        "extras": _tag(manifest.extras),
        "container": manifest.container,
        "container_reason": manifest.container_reason,
        "security": manifest.security,
        "config": _tag(manifest.config),
        "notes": manifest.notes,
    }


def _decode(data: Mapping[str, Any], source: str) -> Manifest:
    tensors = {
        name: TensorSpec(name, tuple(int(s) for s in shape), str(dtype), is_buffer=is_buffer)
        for name, shape, dtype, is_buffer in data["tensors"]
    }
    return Manifest(
        tensors=tensors,
        source=source,
        format=data["format"],
        files=list(data["files"]),
        metadata=dict(data["metadata"]),
        extras=dict(data["extras"]),
        container=data["container"],
        container_reason=data["container_reason"],
        security=data["security"],
        config=data["config"],
        notes=list(data["notes"]),
    )


def _tag(value: Any) -> Any:
    """Mark tuples and non-string-keyed mappings (at any depth) so that decoding restores them."""
    if isinstance(value, tuple):
        return {_TUPLE: [_tag(v) for v in value]}
    if isinstance(value, list):
        return [_tag(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: _tag(v) for k, v in value.items()}
        return {_ITEMS: [[_tag(k), _tag(v)] for k, v in value.items()]}
    return value


def _untag(value: dict[str, Any]) -> Any:
    if len(value) == 1 and _TUPLE in value:
        return tuple(value[_TUPLE])
    if len(value) == 1 and _ITEMS in value:
        return {k: v for k, v in value[_ITEMS]}
    return value
