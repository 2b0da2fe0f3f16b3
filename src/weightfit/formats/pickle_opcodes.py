"""The pickle opcodes, one handler each, and the limits every handler enforces.

Opcode reference: the ``pickletools`` module documentation and PEPs 307
(protocol 2), 3154 (protocol 4) and 574 (protocol 5). Each handler takes the
:class:`~weightfit.formats.pickle_vm.Machine` and changes its stack or memo;
none imports or calls anything a pickle names. The handful of opcodes
``torch.save`` writes most are also inlined in ``Machine.run`` for speed.
"""

from __future__ import annotations

import codecs
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from weightfit.errors import ForbiddenPickleContent, HeaderTooLarge
from weightfit.formats.pickle_nodes import PickledDict, plain_key

if TYPE_CHECKING:
    from weightfit.formats.pickle_vm import Machine

MAX_PICKLE_BYTES = 256 << 20
"""Largest pickle stream read (a 100k-tensor ``data.pkl`` is ~10 MB)."""
MAX_STACK_ITEMS = 1_000_000
"""Largest stack; ``pickle`` batches containers by 1000 items, so real files stay tiny."""
MAX_MEMO_ENTRIES = 4_000_000
"""Largest memo (torch uses about 10 entries per tensor)."""
MAX_MARK_DEPTH = 1_000
"""Deepest ``MARK`` nesting."""
MAX_LINE_BYTES = 1 << 20
"""Longest text line of a protocol 0 opcode (``GLOBAL``, ``INT``, ``STRING`` ...)."""
MAX_LONG_BYTES = 4_096
"""Widest integer (``LONG1``/``LONG4``); torch's magic number takes 10 bytes."""
HIGHEST_PROTOCOL = 5
"""``pickle.HIGHEST_PROTOCOL`` as of Python 3.8 (PEP 574)."""
NO_FRAME = 1 << 62
"""``Machine.frame_end`` outside any frame: past every offset."""


class NeedMoreData(Exception):
    """The bytes given end inside the pickle; the caller may retry with more."""


_I4 = struct.Struct("<i")
_U1 = struct.Struct("<B")
_U2 = struct.Struct("<H")
_U4 = struct.Struct("<I")
_U8 = struct.Struct("<Q")
_F8 = struct.Struct(">d")


def _proto(m: Machine) -> None:
    protocol = m.unpack(_U1, "PROTO")
    if protocol > HIGHEST_PROTOCOL:
        raise m.fail(f"unsupported pickle protocol {protocol}")
    m.protocol = protocol


def _frame(m: Machine) -> None:
    # PEP 3154: a frame holds whole opcodes. CPython's readers disagree on an
    # opcode that crosses a frame's end (``pickle._Unframer`` refuses it, the C
    # unpickler reading a file may skip past bytes), so, like ``_Unframer``,
    # every opcode must end inside its frame (checked in ``Machine.run``) and a
    # frame may start only where the previous one ended.
    if m.frame_end != NO_FRAME:
        raise m.fail(
            f"a FRAME begins {m.frame_end - m.op_at} bytes before the current frame ends: "
            "frames and opcodes disagree"
        )
    size = m.unpack(_U8, "FRAME")
    if size > MAX_PICKLE_BYTES:
        raise m.fail(f"FRAME declares {size} bytes, over the limit", HeaderTooLarge)
    if m.pos + size > len(m.data):
        if not m.final:
            raise NeedMoreData
        remaining = len(m.data) - m.pos
        raise m.fail(f"FRAME needs {size} bytes but only {remaining} remain", m.eof_error)
    m.frame_end = m.pos + size


def _mark(m: Machine) -> None:
    if len(m.marks) >= MAX_MARK_DEPTH:
        raise m.fail(f"MARKs nest deeper than {MAX_MARK_DEPTH}", HeaderTooLarge)
    m.marks.append(len(m.stack))
    m.floor = len(m.stack)


def _pop(m: Machine) -> None:
    if len(m.stack) > m.floor:
        m.stack.pop()
    else:
        m.pop_mark()


def _pop_mark(m: Machine) -> None:
    m.pop_mark()


def _int_text(m: Machine) -> None:
    text = m.line("INT")
    if text == b"00":
        m.push(False)
    elif text == b"01":
        m.push(True)
    else:
        m.push(_parse(m, int, text, "INT"))


def _long_text(m: Machine) -> None:
    text = m.line("LONG")
    m.push(_parse(m, int, text[:-1] if text.endswith(b"L") else text, "LONG"))


def _float_text(m: Machine) -> None:
    m.push(_parse(m, float, m.line("FLOAT"), "FLOAT"))


def _parse(m: Machine, kind: Callable[[str], Any], text: bytes, what: str) -> Any:
    try:
        return kind(text.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        raise m.fail(f"{what} argument {text[:40]!r} is not a number") from None


def _long(m: Machine, size: int, what: str) -> None:
    if size > MAX_LONG_BYTES:
        raise m.fail(f"{what} declares a {size}-byte integer", HeaderTooLarge)
    m.push(int.from_bytes(m.length(size, what), "little", signed=True))


def _string_text(m: Machine) -> None:
    text = m.line("STRING")
    if len(text) < 2 or text[0] != text[-1] or text[:1] not in (b"'", b'"'):
        raise m.fail("STRING argument is not quoted")
    try:
        raw = codecs.escape_decode(text[1:-1])[0]
    except ValueError:
        raise m.fail("STRING argument has an invalid escape") from None
    m.push(raw.decode("latin-1"))


def _unicode_text(m: Machine) -> None:
    try:
        m.push(m.line("UNICODE").decode("raw-unicode-escape"))
    except UnicodeDecodeError:
        raise m.fail("UNICODE argument is not valid raw-unicode-escape") from None


def _utf8(m: Machine, raw: bytes) -> str:
    try:
        return raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        raise m.fail("string is not valid UTF-8") from None


def _global(m: Machine) -> None:
    module = _utf8(m, m.line("GLOBAL module"))
    name = _utf8(m, m.line("GLOBAL name"))
    m.push(m.make_global(module, name))


def _stack_global(m: Machine) -> None:
    name = m.pop()
    module = m.pop()
    if not isinstance(module, str) or not isinstance(name, str):
        raise m.fail("STACK_GLOBAL operands are not strings")
    m.push(m.make_global(module, name))


def _inst(m: Machine) -> None:
    module = _utf8(m, m.line("INST module"))
    name = _utf8(m, m.line("INST name"))
    cls = m.make_global(module, name)
    m.push(m.call(cls, tuple(m.pop_mark()), None))


def _obj(m: Machine) -> None:
    items = m.pop_mark()
    if not items:
        raise m.fail("OBJ without a class")
    m.push(m.call(items[0], tuple(items[1:]), None))


def _reduce(m: Machine) -> None:
    args = m.pop()
    func = m.pop()
    m.push(m.call(func, args, None))


def _newobj(m: Machine) -> None:
    args = m.pop()
    cls = m.pop()
    m.push(m.call(cls, args, None))


def _newobj_ex(m: Machine) -> None:
    kwargs = m.pop()
    args = m.pop()
    cls = m.pop()
    m.push(m.call(cls, args, kwargs))


def _build(m: Machine) -> None:
    state = m.pop()
    m.build(m.top(), state)


def _binpersid(m: Machine) -> None:
    m.push(m.persistent(m.pop()))


def _persid(m: Machine) -> None:
    pid = m.line("PERSID")
    raise m.fail(f"text persistent id {pid[:40]!r} is not a torch storage")


def _ext(m: Machine) -> None:
    raise m.fail(
        "imports a global through the copyreg extension registry, which cannot be checked; "
        "nothing was run",
        ForbiddenPickleContent,
    )


def _buffer(m: Machine) -> None:
    raise m.fail("uses an out-of-band buffer (protocol 5), which torch.save never writes")


def _tuple_mark(m: Machine) -> None:
    m.push(tuple(m.pop_mark()))


def _tuple_n(n: int) -> Callable[[Machine], None]:
    def handler(m: Machine) -> None:
        if len(m.stack) - m.floor < n:
            raise m.fail("stack underflow")
        items = tuple(m.stack[-n:])
        del m.stack[-n:]
        m.push(items)

    return handler


def _list_mark(m: Machine) -> None:
    m.push(m.pop_mark())


def _dict_mark(m: Machine) -> None:
    items = m.pop_mark()
    target = PickledDict()
    m.set_items(target, items)
    m.push(target)


def _setitem(m: Machine) -> None:
    value = m.pop()
    key = m.pop()
    m.set_items(m.top(), [key, value])


def _setitems(m: Machine) -> None:
    items = m.pop_mark()
    m.set_items(m.top(), items)


def _append(m: Machine) -> None:
    value = m.pop()
    m.append(m.top(), [value])


def _appends(m: Machine) -> None:
    items = m.pop_mark()
    m.append(m.top(), items)


def _additems(m: Machine) -> None:
    items = m.pop_mark()
    target = m.top()
    if not isinstance(target, set):
        raise m.fail(f"ADDITEMS on a {type(target).__name__}")
    target.update(plain_key(item) for item in items)


def _frozenset(m: Machine) -> None:
    m.push(frozenset(plain_key(item) for item in m.pop_mark()))


def _dup(m: Machine) -> None:
    m.push(m.top())


def _get_text(m: Machine) -> None:
    m.push(m.memo_get(_parse(m, int, m.line("GET"), "GET")))


def _put_text(m: Machine) -> None:
    m.memo_put(_parse(m, int, m.line("PUT"), "PUT"))


def _bytes(size_fmt: struct.Struct, what: str) -> Callable[[Machine], None]:
    def handler(m: Machine) -> None:
        m.push(bytes(m.length(m.unpack(size_fmt, what), what)))

    return handler


def _text(size_fmt: struct.Struct, what: str) -> Callable[[Machine], None]:
    def handler(m: Machine) -> None:
        m.push(_utf8(m, m.length(m.unpack(size_fmt, what), what)))

    return handler


def _binstring(size_fmt: struct.Struct, what: str) -> Callable[[Machine], None]:
    def handler(m: Machine) -> None:
        m.push(m.length(m.unpack(size_fmt, what), what).decode("latin-1"))

    return handler


def _push(value_factory: Callable[[], Any]) -> Callable[[Machine], None]:
    def handler(m: Machine) -> None:
        m.push(value_factory())

    return handler


HANDLERS: list[Callable[[Machine], None] | None] = [None] * 256
for _code, _handler in {
    b"(": _mark,
    b"0": _pop,
    b"1": _pop_mark,
    b"2": _dup,
    b"F": _float_text,
    b"I": _int_text,
    b"J": lambda m: m.push(m.unpack(_I4, "BININT")),
    b"K": lambda m: m.push(m.unpack(_U1, "BININT1")),
    b"L": _long_text,
    b"M": lambda m: m.push(m.unpack(_U2, "BININT2")),
    b"N": _push(lambda: None),
    b"P": _persid,
    b"Q": _binpersid,
    b"R": _reduce,
    b"S": _string_text,
    b"T": _binstring(_I4, "BINSTRING"),
    b"U": _binstring(_U1, "SHORT_BINSTRING"),
    b"V": _unicode_text,
    b"X": _text(_U4, "BINUNICODE"),
    b"a": _append,
    b"b": _build,
    b"c": _global,
    b"d": _dict_mark,
    b"}": _push(PickledDict),
    b"e": _appends,
    b"g": _get_text,
    b"h": lambda m: m.push(m.memo_get(m.unpack(_U1, "BINGET"))),
    b"i": _inst,
    b"j": lambda m: m.push(m.memo_get(m.unpack(_U4, "LONG_BINGET"))),
    b"l": _list_mark,
    b"]": _push(list),
    b"o": _obj,
    b"p": _put_text,
    b"q": lambda m: m.memo_put(m.unpack(_U1, "BINPUT")),
    b"r": lambda m: m.memo_put(m.unpack(_U4, "LONG_BINPUT")),
    b"s": _setitem,
    b"t": _tuple_mark,
    b")": _push(tuple),
    b"u": _setitems,
    b"G": lambda m: m.push(m.unpack(_F8, "BINFLOAT")),
    b"\x80": _proto,
    b"\x81": _newobj,
    b"\x82": _ext,
    b"\x83": _ext,
    b"\x84": _ext,
    b"\x85": _tuple_n(1),
    b"\x86": _tuple_n(2),
    b"\x87": _tuple_n(3),
    b"\x88": _push(lambda: True),
    b"\x89": _push(lambda: False),
    b"\x8a": lambda m: _long(m, m.unpack(_U1, "LONG1"), "LONG1"),
    b"\x8b": lambda m: _long(m, m.unpack(_I4, "LONG4"), "LONG4"),
    b"B": _bytes(_U4, "BINBYTES"),
    b"C": _bytes(_U1, "SHORT_BINBYTES"),
    b"\x8c": _text(_U1, "SHORT_BINUNICODE"),
    b"\x8d": _text(_U8, "BINUNICODE8"),
    b"\x8e": _bytes(_U8, "BINBYTES8"),
    b"\x8f": _push(set),
    b"\x90": _additems,
    b"\x91": _frozenset,
    b"\x92": _newobj_ex,
    b"\x93": _stack_global,
    b"\x94": lambda m: m.memo_put(len(m.memo)),
    b"\x95": _frame,
    b"\x96": _bytes(_U8, "BYTEARRAY8"),
    b"\x97": _buffer,
    b"\x98": _buffer,
}.items():
    HANDLERS[_code[0]] = _handler
