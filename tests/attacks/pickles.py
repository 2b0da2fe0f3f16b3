"""Hostile and broken pickles and torch.save files, built byte by byte.

Each builder returns the bytes of one attack (or writes one file). Pickles are
assembled from opcodes with ``struct``; the torch containers around them are
laid out as ``torch.save`` lays them out (zip records under ``archive/``, or the
legacy five-pickle sequence). Nothing here ever loads a pickle.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Mapping
from pathlib import Path

PROTO2 = b"\x80\x02"
PROTO4 = b"\x80\x04"
MARK, STOP, TUPLE, TUPLE1, TUPLE2 = b"(", b".", b"t", b"\x85", b"\x86"
REDUCE, BUILD, SETITEMS, SETITEM = b"R", b"b", b"u", b"s"
EMPTY_DICT, EMPTY_LIST, EMPTY_TUPLE, APPEND = b"}", b"]", b")", b"a"
NEWFALSE, NONE, DUP, BINPERSID, STACK_GLOBAL = b"\x89", b"N", b"2", b"Q", b"\x93"
BINPUT, BINGET = b"q", b"h"

ZIP_PICKLE_OFFSET = 30 + len("archive/data.pkl")
"""Where data.pkl's bytes start in :func:`zip_checkpoint` files: the first record,
after its 30-byte local header and name (zipfile writes no extra field)."""


def text(value: str) -> bytes:
    """BINUNICODE."""
    raw = value.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def short_text(value: str) -> bytes:
    """SHORT_BINUNICODE (protocol 4)."""
    raw = value.encode()
    return b"\x8c" + struct.pack("<B", len(raw)) + raw


def integer(value: int) -> bytes:
    """BININT (4-byte signed)."""
    return b"J" + struct.pack("<i", value)


def glob(module: str, name: str) -> bytes:
    """GLOBAL (protocol 0 text form)."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def call(func: bytes, *args: bytes) -> bytes:
    """``func(*args)``: the callable, a MARKed tuple of arguments, REDUCE."""
    return func + MARK + b"".join(args) + TUPLE + REDUCE


def pickle_of(body: bytes, proto: bytes = PROTO2) -> bytes:
    """A whole pickle: protocol header, ``body`` (one value), STOP."""
    return proto + body + STOP


def in_dict(**entries: bytes) -> bytes:
    """A dict literal: ``{key: value, ...}`` with values given as opcode bytes."""
    return EMPTY_DICT + MARK + b"".join(text(k) + v for k, v in entries.items()) + SETITEMS


def storage(key: str, numel: int, storage_type: str = "FloatStorage") -> bytes:
    """torch's persistent id ``('storage', torch.<type>, key, 'cpu', numel)``."""
    pid = MARK + text("storage") + glob("torch", storage_type) + text(key) + text("cpu")
    return pid + integer(numel) + TUPLE + BINPERSID


def tensor(
    key: str, numel: int, shape: tuple[int, ...], stride: tuple[int, ...], offset: int = 0
) -> bytes:
    """``_rebuild_tensor_v2(storage, offset, shape, stride, False, OrderedDict())``."""
    ints = lambda values: MARK + b"".join(integer(v) for v in values) + TUPLE  # noqa: E731
    hooks = call(glob("collections", "OrderedDict"))
    return call(
        glob("torch._utils", "_rebuild_tensor_v2"),
        storage(key, numel),
        integer(offset),
        ints(shape),
        ints(stride),
        NEWFALSE,
        hooks,
    )


# --- attacks: each returns a complete pickle ------------------------------------------------


def os_system(canary: Path) -> bytes:
    """``os.system("touch <canary>")``: the classic."""
    return pickle_of(call(glob("os", "system"), text(f"touch {canary}")))


def posix_system_stack_global(canary: Path) -> bytes:
    """``posix.system`` named through STACK_GLOBAL (protocol 4), hidden in a state dict."""
    evil = short_text("posix") + short_text("system") + STACK_GLOBAL
    return pickle_of(in_dict(weight=call(evil, text(f"touch {canary}"))), PROTO4)


def builtins_eval(canary: Path) -> bytes:
    """``eval("open(<canary>, 'w')")``."""
    return pickle_of(call(glob("builtins", "eval"), text(f"open({str(canary)!r}, 'w')")))


def builtins_exec(canary: Path) -> bytes:
    """``exec("open(<canary>, 'w')")`` under the Python 2 name ``__builtin__``."""
    return pickle_of(call(glob("__builtin__", "exec"), text(f"open({str(canary)!r}, 'w')")))


def dunder_import(canary: Path) -> bytes:
    """``__import__("os")``, then the attribute fetched with ``getattr``."""
    module = call(glob("builtins", "__import__"), text("os"))
    return pickle_of(call(glob("builtins", "getattr"), module, text("system")))


def getattr_chain(canary: Path) -> bytes:
    """``torch.serialization.os.system`` as a dotted STACK_GLOBAL name (attribute walk)."""
    evil = short_text("torch") + short_text("serialization.os.system") + STACK_GLOBAL
    return pickle_of(call(evil, text(f"touch {canary}")), PROTO4)


def subprocess_popen(canary: Path) -> bytes:
    """``subprocess.Popen(["touch", canary])``."""
    argv = EMPTY_LIST + MARK + text("touch") + text(str(canary)) + b"e"
    return pickle_of(call(glob("subprocess", "Popen"), argv))


def nested_pickle(canary: Path) -> bytes:
    """``pickle.loads(<bytes of an os.system pickle>)``: a pickle inside a pickle."""
    inner = os_system(canary)
    payload = b"B" + struct.pack("<I", len(inner)) + inner
    return pickle_of(call(glob("pickle", "loads"), payload), b"\x80\x03")


def nested_torch_load(canary: Path) -> bytes:
    """``torch.storage._load_from_bytes(b"...")``: a nested ``torch.load``."""
    inner = os_system(canary)
    payload = b"B" + struct.pack("<I", len(inner)) + inner
    return pickle_of(call(glob("torch.storage", "_load_from_bytes"), payload), b"\x80\x03")


def extension_registry() -> bytes:
    """EXT1: a global imported through ``copyreg``'s extension registry."""
    return pickle_of(b"\x82\x01" + EMPTY_TUPLE + REDUCE)


def memo_bomb(levels: int = 64) -> bytes:
    """A state dict plus ``L_{i+1} = [L_i, L_i]`` 64 times: 2**64 paths in 500 bytes."""
    body = EMPTY_LIST + BINPUT + b"\x00"
    for _ in range(levels):
        body += EMPTY_LIST + BINGET + b"\x00" + APPEND + BINGET + b"\x00" + APPEND
        body += BINPUT + b"\x00"
    return pickle_of(in_dict(weight=tensor("0", 4, (4,), (1,)), bomb=body))


def dup_bomb(copies: int) -> bytes:
    """One list DUPed ``copies`` times: the stack grows without bound."""
    return pickle_of(EMPTY_LIST + DUP * copies)


def deep_marks(depth: int) -> bytes:
    """``depth`` MARKs in a row."""
    return pickle_of(MARK * depth + EMPTY_TUPLE)


def deep_tuples(depth: int) -> bytes:
    """``((((),),),)`` nested ``depth`` deep with TUPLE1, inside a state dict."""
    return pickle_of(in_dict(weight=tensor("0", 4, (4,), (1,)), deep=EMPTY_TUPLE + TUPLE1 * depth))


def invalid_opcode() -> bytes:
    """Opcode 0xff, which no protocol defines."""
    return PROTO2 + EMPTY_DICT + b"\xff" + STOP


def unterminated() -> bytes:
    """A state dict whose pickle never reaches STOP."""
    return PROTO2 + in_dict(weight=tensor("0", 4, (4,), (1,)))


def string_past_end() -> bytes:
    """BINUNICODE declaring a 2 GiB string in a 20-byte pickle."""
    return PROTO2 + b"X" + struct.pack("<I", 0x7FFF_FFFF) + b"abc" + STOP


def out_of_band_buffer() -> bytes:
    """Protocol 5 NEXT_BUFFER: data that would come from outside the pickle."""
    return b"\x80\x05\x97" + STOP


def tensor_past_storage() -> bytes:
    """A (10,) tensor on a storage of 4 elements."""
    return pickle_of(in_dict(weight=tensor("0", 4, (10,), (1,))))


# --- containers ------------------------------------------------------------------------------


def zip_checkpoint(
    path: Path,
    data_pkl: bytes,
    records: Mapping[str, bytes] | None = None,
    *,
    compress: frozenset[str] = frozenset(),
) -> Path:
    """Write a torch zip checkpoint: ``archive/data.pkl`` first, then ``archive/data/<key>``."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("archive/data.pkl"), data_pkl)
        archive.writestr("archive/.format_version", "1")
        archive.writestr("archive/byteorder", "little")
        for key, raw in (records or {}).items():
            info = zipfile.ZipInfo(f"archive/data/{key}")
            if key in compress:
                info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, raw)
    return path


MAGIC_PICKLE = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little") + STOP
"""torch's magic number as ``pickle.dump(MAGIC_NUMBER, f, protocol=2)`` writes it."""
VERSION_PICKLE = b"\x80\x02M\xe9\x03."
"""Protocol version 1001."""
SYS_INFO_PICKLE = pickle_of(in_dict(little_endian=b"\x88"))


def legacy_checkpoint(
    path: Path, main: bytes, storages: Mapping[str, tuple[int, bytes]] | None = None
) -> Path:
    """Write a legacy torch file: magic, version, sys_info, ``main``, keys, then storages.

    ``storages`` maps each key to (the element count written before it, its bytes).
    """
    storages = storages or {}
    keys = EMPTY_LIST + MARK + b"".join(text(k) for k in storages) + b"e"
    parts = [MAGIC_PICKLE, VERSION_PICKLE, SYS_INFO_PICKLE, main, pickle_of(keys)]
    for count, raw in storages.values():
        parts.append(struct.pack("<q", count) + raw)
    path.write_bytes(b"".join(parts))
    return path
