"""The provenance stamp ``weightfit apply`` writes into every safetensors file it makes.

The stamp lives in the safetensors ``__metadata__`` (string keys, string values)
and in the shard index's ``metadata``. It says what the file was made from (the
source files and their SHA-256), by which plan, for which target, and under
which library versions, so ``weightfit check`` can tell a checkpoint made for
another model or another transformers release. The keys are documented in
``docs/plans.md`` ("Provenance stamp").
"""

from __future__ import annotations

import hashlib
import json
import threading
from importlib import metadata as importlib_metadata
from pathlib import Path

from weightfit._version import __version__
from weightfit.manifest import Manifest
from weightfit.plan import Plan

PREFIX = "weightfit."
"""Every stamp key but ``format`` starts with this."""

VERSION = f"{PREFIX}version"
PLAN_SHA256 = f"{PREFIX}plan_sha256"
SOURCES = f"{PREFIX}sources"
TARGET_CLASS = f"{PREFIX}target_class"
TARGET_CONFIG_SHA256 = f"{PREFIX}target_config_sha256"
LIBRARIES_KEY = f"{PREFIX}libraries"
REINIT = f"{PREFIX}reinit"
"""JSON list of the tensors the plan left to the model's initialisation (parameters to train)."""

LIBRARIES = ("torch", "transformers", "diffusers", "peft", "safetensors")
"""Libraries whose installed versions the stamp records (read, never imported)."""

HASH_CHUNK = 8 * 1024 * 1024
"""Bytes read per step while hashing a source file (one buffer, reused)."""


def stamp(plan: Plan, target: Manifest | None, reinit: list[str]) -> dict[str, str]:
    """Build the stamp for a plan applied for ``target``; source hashes are added while writing.

    ``format: pt`` is what transformers expects of the safetensors it loads.
    """
    libraries = {}
    for name in LIBRARIES:
        try:
            libraries[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    result = {
        "format": "pt",
        VERSION: __version__,
        PLAN_SHA256: plan.digest(),
        LIBRARIES_KEY: json.dumps(libraries, sort_keys=True),
    }
    if target is not None:
        for key, extra in ((TARGET_CLASS, "target_class"), (TARGET_CONFIG_SHA256, "config_hash")):
            value = target.extras.get(extra)
            if value:
                result[key] = str(value)
    if reinit:
        result[REINIT] = json.dumps(reinit)
    return result


def stamped(manifest: Manifest) -> dict[str, str]:
    """Return the stamp entries of a manifest's metadata (empty when weightfit did not write it)."""
    return {k: v for k, v in manifest.metadata.items() if k.startswith(PREFIX) or k == "format"}


def reinit_of(manifest: Manifest) -> list[str]:
    """Return the tensors a stamped checkpoint says were left to the model's initialisation."""
    try:
        names = json.loads(manifest.metadata.get(REINIT, "[]"))
    except json.JSONDecodeError:
        return []
    return [name for name in names if isinstance(name, str)] if isinstance(names, list) else []


class SourceHasher(threading.Thread):
    """SHA-256 of the source files, read in the background while the output is written.

    ``hashlib`` releases the GIL on large buffers, so hashing runs beside the
    writer on a second core. :meth:`result` waits and re-raises any error.
    """

    def __init__(self, paths: list[Path]) -> None:
        super().__init__(daemon=True, name="weightfit-hash")
        self.paths = paths
        self.digests: dict[Path, str] = {}
        self.error: BaseException | None = None
        self._stop_flag = threading.Event()

    def run(self) -> None:
        """Hash every file in turn, stopping early when asked."""
        try:
            buffer = bytearray(HASH_CHUNK)
            view = memoryview(buffer)
            for path in self.paths:
                digest = hashlib.sha256()
                with path.open("rb", buffering=0) as handle:
                    while count := handle.readinto(buffer):
                        if self._stop_flag.is_set():
                            return
                        digest.update(view[:count])
                self.digests[path] = digest.hexdigest()
        except BaseException as error:  # re-raised by result() in the writing thread
            self.error = error

    def result(self) -> dict[Path, str]:
        """Wait for every digest; re-raise what stopped the hashing."""
        self.join()
        if self.error is not None:
            raise self.error
        return self.digests

    def stop(self) -> None:
        """Ask the thread to stop and wait for it."""
        self._stop_flag.set()
        if self.is_alive():
            self.join()
