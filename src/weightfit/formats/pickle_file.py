"""Plain pickle files (``.pkl``, protocols 0–5, no ``torch.save`` magic number).

``pickle.load`` and ``torch.load`` (which unpickles any non-zip file from its
first byte) run such a file. It holds no checkpoint layout weightfit can map to
tensor bytes, so the manifest lists no tensors: what it gives is every global
the file names, the verdict, and what the top-level value is. Every pickle
stored back to back is judged (a loader calling ``pickle.load`` again reads the
next one). Nothing is imported or called: the pickles run through
:mod:`weightfit.formats.pickle_vm`.

Protocol 2–5 pickles start with ``PROTO`` and are claimed by
:mod:`weightfit.formats.torch_legacy`, which hands those without the magic
number here; protocol 0 and 1 pickles have no magic, so :func:`sniff` runs the
VM over the file's start and claims the file when it reads as a pickle.
"""

from __future__ import annotations

from pathlib import Path

from weightfit.errors import ForbiddenPickleContent, HeaderTooLarge, InputError, TruncatedFile
from weightfit.formats import ReadOptions, pickle_vm
from weightfit.formats.pickle_nodes import Call, GlobalRef, PickledDict
from weightfit.formats.pickle_opcodes import HANDLERS, NeedMoreData
from weightfit.manifest import Manifest

NAME = "pickle_file"
FORMAT = "pickle"
SNIFF_WINDOW = 1 << 16
"""Bytes the VM runs over to tell a protocol 0/1 pickle from other bytes."""


def sniff(head: bytes, path: Path) -> bool:
    """Whether the file's first bytes run as a pickle (nothing else claimed it)."""
    if not head or HANDLERS[head[0]] is None:
        return False
    size = path.stat().st_size
    with path.open("rb") as handle:
        window = handle.read(SNIFF_WINDOW)
    try:
        pickle_vm.run(window, final=len(window) >= size)
    except (NeedMoreData, ForbiddenPickleContent, HeaderTooLarge):
        return True
    except InputError:
        return False
    return True


def read(path: Path, options: ReadOptions) -> Manifest:
    """Read a plain pickle file: its globals and verdict, no tensors.

    Raises:
        HeaderTooLarge: the file is over :data:`pickle_vm.MAX_PICKLE_BYTES`.
        ForbiddenPickleContent: a pickle names something that can run code.
        MalformedPickle: a pickle is not valid, or bytes after one are no pickle.
        TruncatedFile: the first pickle is cut short.

    """
    size = path.stat().st_size
    if size > pickle_vm.MAX_PICKLE_BYTES:
        raise HeaderTooLarge(
            f"a {size}-byte pickle, over the limit of {pickle_vm.MAX_PICKLE_BYTES}"
        )
    return read_plain(path, path.read_bytes())


def read_plain(path: Path, data: bytes) -> Manifest:
    """The manifest of the pickles in ``data`` (the whole file at ``path``)."""
    first = pickle_vm.run(data, where="pickle", eof_error=TruncatedFile)
    rest = pickle_vm.run_following(data, start=first.end, where="pickle")
    results = [first, *rest]
    protocol = first.protocol if first.protocol >= 2 else "0/1"  # no PROTO before 2
    notes = [
        f"a plain pickle (protocol {protocol}), not a torch.save checkpoint: it holds "
        f"{describe(first.value)}; pickle.load and torch.load run it, so it lists no tensors"
    ]
    if rest:
        notes.append(
            f"{len(rest)} more pickle(s) follow the first: a loader calling pickle.load again "
            "reads them; judged with it"
        )
    return Manifest(
        tensors={},
        source=str(path),
        format=FORMAT,
        files=[str(path)],
        security=pickle_vm.worst_verdict(results),
        globals=pickle_vm.opaque_globals(results),
        notes=notes,
    )


def describe(value: object) -> str:
    """A few words naming a pickled value (``a dict of 3 entries``, ``a call to m.f``)."""
    if isinstance(value, PickledDict):
        return f"a dict of {len(value)} {'entry' if len(value) == 1 else 'entries'}"
    if isinstance(value, Call):
        return f"a call to {value.qualname}"
    if isinstance(value, GlobalRef):
        return f"the global {value.qualname}"
    if isinstance(value, list | tuple | set | frozenset):
        return f"a {type(value).__name__} of {len(value)} item{'' if len(value) == 1 else 's'}"
    if value is None:
        return "None"
    return f"a {type(value).__name__}"
