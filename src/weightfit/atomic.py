"""The one atomic small-file writer: plans, target-cache entries, lint's index fixes.

Tensor files are written by ``tensor_io``/``apply`` (streamed, in a staging folder);
this is for text that fits in memory.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) beside ``path``, flush it to disk, then rename it over ``path``.

    Readers see the old file or the new one, never a part; the file gets the
    permissions ``open()`` would give it (not ``mkstemp``'s private 0600); the
    temporary file is removed on any failure, and the error raised.
    """
    handle, temporary = tempfile.mkstemp(prefix=".weightfit-", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(temporary, 0o666 & ~_umask())
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process umask (reading it means setting it; it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
