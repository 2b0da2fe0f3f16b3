"""Which checkpoint a plan was made from: per file, its name, size and header digest.

``fix`` records it in the plan (``source_files``); ``apply`` compares it with the
checkpoint it is given and refuses another one (:class:`SourceMismatch`). The
record is cheap: the digest covers only the bytes before a file's first tensor
and after its last one (the safetensors header; a torch zip's pickle and its
central directory, whose CRC-32s torch computed over each storage), never
tensor data. A safetensors file of the same layout whose values alone differ (a
re-trained copy saved the same way, without metadata telling them apart) has
the same record: for safetensors the check catches another layout, shard set or
size, not every change of values. File names are not compared (a renamed copy is the same
source); they name the files in the error.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weightfit.errors import InvalidPlan, SourceMismatch
from weightfit.manifest import Manifest

MAX_HEADER_BYTES = 100 * 1024 * 1024
"""Most bytes hashed per file (the safetensors header limit); a longer prefix is cut here."""


@dataclass(frozen=True)
class FileIdentity:
    """One source file as a plan records it.

    Attributes:
        file: The file's name (no folder: a moved checkpoint still matches).
        bytes: Its size.
        header_sha256: SHA-256 of the bytes outside its tensors' data: before the
            first tensor and after the last one.
    """

    file: str
    bytes: int
    header_sha256: str

    @classmethod
    def from_dict(cls, data: Any, *, origin: str) -> FileIdentity:
        """Read one ``source_files`` entry of a plan file."""
        try:
            return cls(str(data["file"]), int(data["bytes"]), str(data["header_sha256"]))
        except (TypeError, KeyError, ValueError) as error:
            raise InvalidPlan(
                f"a 'source_files' entry needs file, bytes and header_sha256: {data!r}",
                path=origin,
            ) from error

    def __str__(self) -> str:
        return f"{self.file} ({self.bytes:,} bytes, header {self.header_sha256[:12]})"


def identify(manifest: Manifest) -> list[FileIdentity]:
    """The identity of every local file ``manifest`` was read from; ``[]`` when one is not local."""
    spans: dict[str, tuple[int, int]] = {}
    for spec in manifest.tensors.values():
        where = spec.location
        if where is not None:
            start, end = spans.get(where.file, (where.offset, where.end))
            spans[where.file] = (min(start, where.offset), max(end, where.end))
    found = []
    for name in manifest.files:
        path = Path(name)
        if not path.is_file():
            return []
        size = path.stat().st_size
        start, end = spans.get(name, (size, size))
        found.append(FileIdentity(path.name, size, _outside(path, start, end)))
    return sorted(found, key=lambda identity: (identity.file, identity.bytes))


def _outside(path: Path, start: int, end: int) -> str:
    """SHA-256 of the bytes before ``start`` and after ``end`` (each cut at the limit)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        digest.update(handle.read(min(start, MAX_HEADER_BYTES)))
        handle.seek(end)
        digest.update(handle.read(MAX_HEADER_BYTES))
    return digest.hexdigest()


def require_same(recorded: list[FileIdentity], manifest: Manifest) -> None:
    """Refuse ``manifest`` unless its files are the ``recorded`` ones (no record: any).

    Raises:
        SourceMismatch: a file differs, is missing or is extra; the detail names it.
    """
    if not recorded:
        return
    given = identify(manifest)
    if _contents(given) == _contents(recorded):
        return
    if len(recorded) == len(given) == 1:
        differs = [f"the plan records {recorded[0]}, this is {given[0]}"]
    else:
        was = {identity.file: identity for identity in recorded}
        now = {identity.file: identity for identity in given}
        differs = [
            f"{was[name]} in the plan, {now[name]} given"
            if name in was and name in now
            else (f"{was[name]} in the plan, not given" if name in was else f"{now[name]} given")
            for name in sorted(was.keys() | now.keys())
            if was.get(name) != now.get(name)
        ]
    more = f" (+{len(differs) - 3} more)" if len(differs) > 3 else ""
    raise SourceMismatch(
        f"{manifest.source} is not the checkpoint the plan was made from: "
        f"{'; '.join(differs[:3])}{more}; pass --allow-other-source to apply it anyway"
    )


def _contents(files: list[FileIdentity]) -> list[tuple[int, str]]:
    """The files' sizes and digests, names left out, in a fixed order."""
    return sorted((identity.bytes, identity.header_sha256) for identity in files)
