"""File operations that repair a folder, and the one place that performs them.

A fix is a list of :class:`FileOp`: write a JSON index, move (rename) a file,
or delete one. Writing an index only adds or replaces metadata, so it is
*safe*; moving or deleting a weight file changes what loaders find, so it is
*unsafe* and runs only with ``--unsafe-fixes``. Weight bytes are never
rewritten. Every write goes to a temporary file in the same folder first and is
renamed over the target (atomic on POSIX); a dry run returns the operations
and touches nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from weightfit import atomic
from weightfit.errors import DestinationExists, DestinationNotWritable
from weightfit.manifest import human_bytes

OpKind = Literal["write", "move", "delete"]
Safety = Literal["safe", "unsafe"]


@dataclass(frozen=True)
class FileOp:
    """One file operation of a fix.

    Attributes:
        kind: ``write`` (JSON text to ``path``), ``move`` (``path`` to ``target``) or ``delete``.
        path: The file, relative to the linted root.
        safety: ``safe`` for index writes and index deletions, ``unsafe`` for weight files.
        reason: The code it fixes and why, for the dry run.
        content: The text to write (``write`` only).
        target: Where the file goes (``move`` only).
        size: Bytes of the file moved or deleted (for the dry run).

    """

    kind: OpKind
    path: str
    safety: Safety
    reason: str
    content: str | None = None
    target: str | None = None
    size: int = 0

    def describe(self) -> str:
        """One line for the dry run: ``write transformer/x.json (412 B)``."""
        if self.kind == "write":
            return f"write {self.path} ({human_bytes(len((self.content or '').encode()))})"
        if self.kind == "move":
            return f"move {self.path} -> {self.target} ({human_bytes(self.size)})"
        return f"delete {self.path} ({human_bytes(self.size)})"

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output (the content is left out; its size is given)."""
        return {
            "kind": self.kind,
            "path": self.path,
            "target": self.target,
            "safety": self.safety,
            "reason": self.reason,
            "bytes": len(self.content.encode()) if self.content is not None else self.size,
        }


@dataclass
class FixOutcome:
    """What ``--fix`` did (or would do, in a dry run).

    Attributes:
        applied: Operations performed, in order (planned ones in a dry run).
        withheld: Unsafe operations left out because ``unsafe`` was not given.
        skipped: Operations not performed, with why (a conflict, a target that exists).
        dry_run: Whether nothing was changed.

    """

    applied: list[FileOp] = field(default_factory=list)
    withheld: list[FileOp] = field(default_factory=list)
    skipped: list[tuple[FileOp, str]] = field(default_factory=list)
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return {
            "dry_run": self.dry_run,
            "applied": [op.to_dict() for op in self.applied],
            "withheld": [op.to_dict() for op in self.withheld],
            "skipped": [{**op.to_dict(), "why": why} for op, why in self.skipped],
        }


def index_text(
    weight_map: Mapping[str, str], total_size: int, metadata: Mapping[str, Any] | None = None
) -> str:
    """A shard index as transformers and diffusers write it (sorted keys, indent 2).

    ``metadata`` is kept apart from ``total_size``, which is replaced; diffusers
    needs the ``metadata`` key to exist (``_get_checkpoint_shard_files``).
    """
    meta = {**(metadata or {}), "total_size": total_size}
    data = {"metadata": meta, "weight_map": dict(sorted(weight_map.items()))}
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def write_op(path: str, content: str, reason: str) -> FileOp:
    """Write an index or other JSON file (safe)."""
    return FileOp("write", path, "safe", reason, content=content)


def delete_op(path: str, reason: str, *, weights: bool, size: int = 0) -> FileOp:
    """Delete a file: unsafe for weights, safe for an index."""
    return FileOp("delete", path, "unsafe" if weights else "safe", reason, size=size)


def move_op(path: str, target: str, reason: str, *, size: int = 0) -> FileOp:
    """Rename a weight file (unsafe)."""
    return FileOp("move", path, "unsafe", reason, target=target, size=size)


def plan(ops: Iterable[FileOp], *, unsafe: bool) -> FixOutcome:
    """Order and de-duplicate operations; hold back unsafe ones unless asked.

    Writes come first, then moves, then deletions, so a new index exists before
    an old one goes. Two different operations on one path keep the first.
    """
    outcome = FixOutcome()
    seen: dict[str, FileOp] = {}
    order = {"write": 0, "move": 1, "delete": 2}
    for op in sorted(ops, key=lambda o: order[o.kind]):
        if op.safety == "unsafe" and not unsafe:
            if not any(_same(op, w) for w in outcome.withheld):
                outcome.withheld.append(op)
            continue
        earlier = seen.get(op.path) or (seen.get(op.target) if op.target else None)
        if earlier is not None and _same(earlier, op):
            continue
        if earlier is not None:
            outcome.skipped.append((op, f"conflicts with: {earlier.describe()}"))
            continue
        seen[op.path] = op
        if op.target:
            seen[op.target] = op
        outcome.applied.append(op)
    return outcome


def apply(
    root: str | Path, ops: Iterable[FileOp], *, unsafe: bool = False, dry_run: bool = False
) -> FixOutcome:
    """Perform a fix's operations under ``root``.

    Args:
        root: The linted folder the operations' paths are relative to.
        ops: The operations, from the violations' ``fixes``.
        unsafe: Also move and delete weight files.
        dry_run: Only plan; change nothing.

    Returns:
        What was (or would be) done.

    Raises:
        DestinationNotWritable: a file cannot be written, moved or deleted.
        DestinationExists: a move would replace an existing file.

    """
    root = Path(root)
    outcome = plan(ops, unsafe=unsafe)
    outcome.dry_run = dry_run
    if dry_run:
        return outcome
    for op in outcome.applied:
        path = root / op.path
        try:
            if op.kind == "write":
                atomic.write_text(path, op.content or "")
            elif op.kind == "move":
                target = root / str(op.target)
                if target.exists():
                    raise DestinationExists("will not replace an existing file", path=target)
                os.rename(path, target)
            else:
                path.unlink()
        except PermissionError as error:
            raise DestinationNotWritable(
                f"cannot {op.kind} ({error.strerror})", path=path
            ) from error
    return outcome


def _same(a: FileOp, b: FileOp) -> bool:
    """The same operation asked for by two rules (reasons may differ)."""
    return (a.kind, a.path, a.target, a.content) == (b.kind, b.path, b.target, b.content)
