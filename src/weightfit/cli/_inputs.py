"""Options that choose among the weight sets of a folder, refused for single files.

``--variant`` and ``--format`` pick one weight set out of several in a folder. A
single file holds one set, so the reader has nothing to choose and would read the
file as it is: a user who asked for ``fp16`` would silently get whatever the file
holds. That is a usage error, not a warning, because the answer would be about
other weights than the ones asked for.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from weightfit.errors import UsageError
from weightfit.formats import REMOTE_SCHEMES
from weightfit.hub import is_hub, parse
from weightfit.weightsets import EXTENSION_FORMATS


def folder_only(option: str, value: str | None, *inputs: str | None) -> None:
    """Refuse ``option`` when no input it applies to can be a folder.

    Raises:
        UsageError: ``value`` is given and every input is a local file or a factory.
            A folder, a Hub or URL address that may name a repository or folder, or a
            path that does not exist (the reader reports it) lets the call through; an
            address ending in a weight file's name is a single file.
    """
    if value is None:
        return
    files = []
    for given in inputs:
        if given is None:
            continue
        if is_hub(given) or given.startswith(REMOTE_SCHEMES):
            if not _names_one_file(given):
                return
            files.append(given)
            continue
        path = Path(given)
        if path.is_dir() or (not path.exists() and ":" not in given):
            return
        if path.exists():
            files.append(given)
    where = " and ".join(files) if files else "the target"
    raise UsageError(
        f"{option} {value} picks one weight set in a folder, but {where} "
        f"{'is a single file' if len(files) < 2 else 'are single files'}: "
        f"drop {option}, or give the folder"
    )


def _names_one_file(address: str) -> bool:
    """Whether a Hub or URL address ends in a weight file's name (``…/model.safetensors``)."""
    path = parse(address).path if is_hub(address) else urlsplit(address).path
    return PurePosixPath(path).suffix.lstrip(".").lower() in EXTENSION_FORMATS
