"""The peers' own test material as a corpus of ours: picklescan, modelscan and fickling.

Each case is one payload the peer's test suite uses, rebuilt here by our own
opcode assembler from an opcode program (``peer_cases.py``, written by
``extract_peer_cases.py`` from the peer's repository at the pinned commit
below: picklescan's committed test files disassembled with ``pickletools``,
fickling's ``Pickled([...])`` programs read from its test source with ``ast``).
modelscan's payloads are ``__reduce__`` classes in ``tests/test_modelscan.py``;
they are rebuilt below from the (callable, arguments) each one returns. No
peer code is copied or run, and nothing here ever loads a pickle.

Every case also comes wrapped where ``torch.load`` runs it: as
``archive/data.pkl`` of a torch zip, and as the main pickle of a legacy file.
"""

from __future__ import annotations

import pickle
import pickletools
import struct
from dataclasses import dataclass
from pathlib import Path

from attacks import pickles as P
from attacks.peer_cases import FICKLING, PICKLESCAN

PINS = {
    "picklescan": (
        "https://github.com/mmaitre314/picklescan",
        "f15d54da3dec9aa28a87ede82f87882bb80f1023",
    ),
    "modelscan": (
        "https://github.com/protectai/modelscan",
        "8b8ed4bf78a863fcf3b664888dc7ff6ae22f5230",
    ),
    "fickling": (
        "https://github.com/trailofbits/fickling",
        "854c99acd2637f97162dd2e1aa2dab4e8d55d77d",
    ),
}
"""Each peer's repository and the commit its material was read at."""

Op = tuple[str, object]
"""One opcode by its ``pickletools`` name, with its argument (``None`` when it has none)."""
Segment = tuple[str, object]
"""``("pickle", [ops])`` or ``("raw", bytes)``: the file's bytes, in order."""


@dataclass(frozen=True)
class Case:
    """One payload from a peer's test material.

    Attributes:
        peer: ``picklescan``, ``modelscan`` or ``fickling``.
        name: The file or test it comes from.
        source: URL of that file or test at the pinned commit.
        verdict: What the peer says: ``dangerous``, ``safe`` or ``error`` (it fails to scan).
        segments: The bytes, as opcode programs and raw runs.

    """

    peer: str
    name: str
    source: str
    verdict: str
    segments: tuple[Segment, ...]

    @property
    def id(self) -> str:
        """A test id: peer and name."""
        return f"{self.peer}:{self.name}"

    def data(self) -> bytes:
        """The payload's bytes."""
        return b"".join(
            assemble(part) if kind == "pickle" else part  # type: ignore[arg-type]
            for kind, part in self.segments
        )


_OPS = {op.name: op for op in pickletools.opcodes}


def assemble(ops: list[Op]) -> bytes:
    """Encode an opcode program (our encoder; arguments as ``pickletools`` names their kinds)."""
    out = bytearray()
    for name, arg in ops:
        op = _OPS[name]
        out += op.code.encode("latin-1")
        if op.arg is not None:
            out += _argument(op.arg.name, arg)
    return bytes(out)


def _argument(kind: str, arg: object) -> bytes:
    if kind in ("uint1", "uint2", "int4", "uint4", "uint8"):
        fmt = {"uint1": "<B", "uint2": "<H", "int4": "<i", "uint4": "<I", "uint8": "<Q"}[kind]
        return struct.pack(fmt, arg)
    if kind in ("long1", "long4"):
        raw = pickle.encode_long(arg)  # type: ignore[arg-type]
        return (bytes([len(raw)]) if kind == "long1" else struct.pack("<i", len(raw))) + raw
    if kind == "decimalnl_short":
        text = {True: "01", False: "00"}.get(arg, str(arg)) if isinstance(arg, bool) else str(arg)
        return text.encode() + b"\n"
    if kind == "decimalnl_long":
        return f"{arg}L\n".encode()
    if kind == "floatnl":
        return repr(arg).encode() + b"\n"
    if kind == "float8":
        return struct.pack(">d", arg)
    if kind == "stringnl_noescape_pair":
        module, name = str(arg).split(" ", 1)
        return f"{module}\n{name}\n".encode()
    if kind == "stringnl_noescape":
        return str(arg).encode() + b"\n"
    if kind == "stringnl":
        return repr(str(arg)).encode("latin-1") + b"\n"
    if kind in ("string1", "string4"):
        raw = str(arg).encode("latin-1")
        return (bytes([len(raw)]) if kind == "string1" else struct.pack("<i", len(raw))) + raw
    if kind in ("bytes1", "bytes4", "bytes8", "bytearray8"):
        raw = bytes(arg)  # type: ignore[call-overload]
        fmt = {"bytes1": "<B", "bytes4": "<I", "bytes8": "<Q", "bytearray8": "<Q"}[kind]
        return struct.pack(fmt, len(raw)) + raw
    if kind == "unicodestringnl":
        return str(arg).encode("raw-unicode-escape") + b"\n"
    if kind in ("unicodestring1", "unicodestring4", "unicodestring8"):
        raw = str(arg).encode("utf-8", "surrogatepass")
        fmt = {"unicodestring1": "<B", "unicodestring4": "<I", "unicodestring8": "<Q"}[kind]
        return struct.pack(fmt, len(raw)) + raw
    raise ValueError(f"no encoder for argument kind {kind}")


def _reduce(module: str, name: str, args: list[Op], protocol: int) -> list[Op]:
    """``module.name(*args)`` as ``pickle.dumps`` of a ``__reduce__`` class writes it."""
    head: list[Op] = [("PROTO", protocol)] if protocol >= 2 else []
    if protocol >= 4:
        call = [("SHORT_BINUNICODE", module), ("SHORT_BINUNICODE", name), ("STACK_GLOBAL", None)]
    else:
        call = [("GLOBAL", f"{module} {name}")]
    return [*head, *call, ("MARK", None), *args, ("TUPLE", None), ("REDUCE", None), ("STOP", None)]


def _text(value: str, protocol: int) -> Op:
    return ("UNICODE", value) if protocol < 2 else ("BINUNICODE", value)


_MODELSCAN_TEST = "tests/test_modelscan.py"
_MODELSCAN = [
    ("Malicious1", "builtins", "eval", lambda p: [_text("print('456')", p)]),
    ("Malicious2", "posix", "system", lambda p: [_text("ls -la", p)]),
    ("Malicious3", "http.client", "HTTPSConnection", lambda p: [_text("github.com", p)]),
    ("Malicious4", "requests.api", "get", lambda p: [_text("https://github.com", p)]),
    ("Malicious5", "aiohttp.client", "ClientSession", lambda p: []),
    (
        "Malicious6",
        "socket",
        "create_connection",
        lambda p: [("MARK", None), _text("github.com", p), ("INT", 80), ("TUPLE", None)],
    ),
    (
        "Malicious7",
        "subprocess",
        "run",
        lambda p: [("MARK", None), _text("ls", p), _text("-l", p), ("LIST", None)],
    ),
    ("Malicious8", "sys", "exit", lambda p: [("INT", 0)]),
    ("Malicious15", "bdb", "Bdb.run", lambda p: [_text("import os\nos.system('ls')", p)]),
]


def _modelscan_cases() -> list[Case]:
    repo, commit = PINS["modelscan"]
    source = f"{repo}/blob/{commit}/{_MODELSCAN_TEST}"
    cases = []
    for cls, module, name, args in _MODELSCAN:
        for protocol in (0, 2, 4):
            program = _reduce(module, name, args(protocol), protocol)
            cases.append(
                Case("modelscan", f"{cls}_v{protocol}", source, "dangerous", (("pickle", program),))
            )
    benign = _reduce("builtins", "list", [], 4)
    two = (("pickle", benign), ("pickle", _reduce("requests.api", "get", [_text("x", 4)], 4)))
    cases.append(Case("modelscan", "benign_then_Malicious4", source, "dangerous", two))
    return cases


def _table_cases(peer: str, table: list[tuple[str, str, str, tuple[Segment, ...]]]) -> list[Case]:
    repo, commit = PINS[peer]
    return [
        Case(peer, name, f"{repo}/blob/{commit}/{where}", verdict, segments)
        for name, where, verdict, segments in table
    ]


def all_cases() -> list[Case]:
    """Every case of the three peers."""
    return [
        *_table_cases("picklescan", PICKLESCAN),
        *_modelscan_cases(),
        *_table_cases("fickling", FICKLING),
    ]


def wrapped(case: Case, folder: Path) -> dict[str, Path]:
    """The case as a plain file, as a torch zip's ``data.pkl``, as a legacy file's main pickle."""
    data = case.data()
    stem = case.id.replace(":", "_").replace("/", "_")
    plain = folder / f"{stem}.pkl"
    plain.write_bytes(data)
    return {
        "plain": plain,
        "zip": P.zip_checkpoint(folder / f"{stem}.pt", data),
        "legacy": P.legacy_checkpoint(folder / f"{stem}.legacy.pt", data),
    }
