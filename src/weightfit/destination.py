"""Where an output goes: checks before writing, a hidden folder beside it, atomic publication.

:func:`weightfit.apply.write_outcome` writes into :func:`make_temp`'s folder and
renames it into place with :func:`publish`; before anything is written, the
sources are checked to have local bytes in one range each, the destination not
to hold a source, and the disk and memory to have room for the output.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

from weightfit.errors import DestinationExists, DestinationNotWritable, UsageError
from weightfit.formats import dcp
from weightfit.manifest import Manifest
from weightfit.ops.recipes import Outcome
from weightfit.tensor_io import check_room, fsync_dir, writing

TEMP_MARK = ".weightfit-tmp-"
"""What the hidden folders beside an output are named with (``.OUT.weightfit-tmp-PID-…``)."""


def check_destination(out: Path, read: list[Path], overwrite: bool) -> None:
    """Refuse an ``out`` that exists (unless ``overwrite``), is a file, or holds a source read."""
    if out.exists() and not overwrite:
        raise DestinationExists("pass overwrite=True (--overwrite) to replace it", path=out)
    if out.exists() and not out.is_dir():
        raise DestinationExists("exists and is not a folder", path=out)
    resolved = out.resolve()
    for file in read:
        if resolved == file.resolve() or resolved in file.resolve().parents:
            raise UsageError(
                f"the output folder holds the source file {file.name}; write elsewhere",
                path=out,
            )


def check_output_room(out: Path, outcome: Outcome) -> None:
    """Refuse an output the disk cannot hold, or a tensor to compute that memory cannot."""
    computed = {
        name: sum(spec.nbytes or 0 for spec in (recipe.spec, *recipe.leaves()))
        for name, recipe in outcome.recipes.items()
        if not recipe.copyable
    }
    check_room(out, sum(r.spec.nbytes or 0 for r in outcome.recipes.values()), computed)


def make_temp(out: Path) -> Path:
    """Make a hidden folder beside ``out``, removing stale ones of dead runs first."""
    parent = out.parent
    with writing(parent):
        parent.mkdir(parents=True, exist_ok=True)
    if not os.access(parent, os.W_OK):
        raise DestinationNotWritable("folder is not writable", path=parent)
    for stale in parent.glob(f".{out.name}{TEMP_MARK}*"):
        pid = stale.name.rsplit("-", 2)[-2]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    temp = parent / f".{out.name}{TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}"
    with writing(parent):
        temp.mkdir()
    return temp


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def publish(temp: Path, out: Path, overwrite: bool) -> None:
    """Rename ``temp`` to ``out``; an existing ``out`` is moved aside first, then removed."""
    aside = None
    if out.exists():
        if not overwrite:
            raise DestinationExists("appeared while writing", path=out)
        aside = out.parent / f".{out.name}{TEMP_MARK}{os.getpid()}-old"
        with writing(out):
            os.replace(out, aside)
    try:
        with writing(out):
            os.replace(temp, out)
    except BaseException:
        if aside is not None:
            os.replace(aside, out)
        raise
    fsync_dir(out.parent)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def refuse_remote(source: Manifest) -> None:
    """Refuse a checkpoint read from the Hub or a URL: its tensor bytes were never fetched."""
    for spec in source.tensors.values():
        if spec.location is not None and "://" in spec.location.file:
            raise UsageError(
                f"{source.source} was read from its headers only; download it "
                "(hf download ORG/REPO --local-dir DIR) and apply the plan to the copy"
            )


def refuse_chunked(source: Manifest) -> None:
    """Refuse a ``torch.distributed.checkpoint`` folder: its tensors are per-rank chunks.

    Each chunk is a ``torch.save`` archive of its own inside a ``.distcp`` file; a tensor has
    no one byte range to copy.
    """
    if source.format == dcp.FORMAT:
        raise UsageError(
            f"{source.source} is a torch.distributed.checkpoint folder: its tensors are split "
            "into per-rank chunks, which apply does not join; consolidate it first (python -m "
            "torch.distributed.checkpoint.format_utils dcp_to_torch DIR OUT.pt) and apply "
            "the plan to OUT.pt (or fix OUT.pt)"
        )
