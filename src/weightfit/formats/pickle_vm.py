"""A pickle interpreter that never imports or calls anything.

The pickle format is a small stack machine (protocols 0–5, PEP 307, PEP 3154,
PEP 574; opcode reference: the ``pickletools`` module documentation). This VM
runs the opcodes over bytes already in memory and builds a graph of plain
nodes instead of objects:

- ``GLOBAL``/``STACK_GLOBAL`` push a :class:`GlobalRef` (module and name, with
  the :mod:`weightfit.security` verdict). A ``dangerous`` name stops the run
  with :class:`~weightfit.errors.ForbiddenPickleContent`; nothing is imported.
- ``REDUCE``/``NEWOBJ``/``NEWOBJ_EX``/``OBJ``/``INST`` build a :class:`Call`;
  ``BUILD`` records its state. A few well-known callables are interpreted
  symbolically instead: PyTorch's tensor rebuild functions become
  :class:`TensorRecord` (shape, stride, dtype, storage), ``OrderedDict`` a
  :class:`PickledDict`, ``torch.Size`` a tuple, ``_codecs.encode`` bytes.
- ``PERSID``/``BINPERSID`` with torch's ``('storage', type, key, location,
  numel)`` tuple become a :class:`Storage`.

Limits are named constants (in :mod:`.pickle_opcodes`, re-exported here); every
length read from the stream is checked against the bytes remaining before
anything is sliced, so hostile pickles fail fast with
:class:`~weightfit.errors.MalformedPickle` or
:class:`~weightfit.errors.HeaderTooLarge` instead of exhausting memory.
"""

from __future__ import annotations

import gc
import struct
from dataclasses import dataclass, field
from typing import Any

from weightfit import security
from weightfit.errors import ForbiddenPickleContent, HeaderTooLarge, InputError, MalformedPickle
from weightfit.formats.pickle_nodes import (
    STORAGE_DTYPES,
    Call,
    GlobalRef,
    PersistentRef,
    PickledDict,
    Storage,
    TensorRecord,
    plain_key,
)
from weightfit.formats.pickle_opcodes import (
    HANDLERS,
    HIGHEST_PROTOCOL,
    MAX_LINE_BYTES,
    MAX_MARK_DEPTH,
    MAX_MEMO_ENTRIES,
    MAX_PICKLE_BYTES,
    MAX_STACK_ITEMS,
    NO_FRAME,
    NeedMoreData,
)
from weightfit.formats.torch_calls import KNOWN_CALLS
from weightfit.manifest import OpaqueGlobal, SecurityVerdict

__all__ = [
    "HIGHEST_PROTOCOL",
    "MAX_LINE_BYTES",
    "MAX_MARK_DEPTH",
    "MAX_MEMO_ENTRIES",
    "MAX_PICKLE_BYTES",
    "MAX_STACK_ITEMS",
    "Call",
    "GlobalRef",
    "Machine",
    "NeedMoreData",
    "PickleResult",
    "PickledDict",
    "Storage",
    "TensorRecord",
    "run",
]


@dataclass
class PickleResult:
    """The outcome of running one pickle.

    Attributes:
        value: The object graph (plain values and the node classes above).
        globals: Every distinct global named, in order of first appearance.
        storages: Every storage named, by key, in order of first appearance.
        end: Absolute offset one past the ``STOP`` opcode.
        opcodes: Opcodes executed (a budget for walking the graph).
        protocol: Protocol from ``PROTO`` (0 when absent).

    """

    value: Any
    globals: list[GlobalRef] = field(default_factory=list)
    storages: dict[str, Storage] = field(default_factory=dict)
    end: int = 0
    opcodes: int = 0
    protocol: int = 0

    @property
    def verdict(self) -> SecurityVerdict:
        """The worst verdict over the globals named (``safe`` when none)."""
        return security.worst("safe", *(g.verdict for g in self.globals)) or "safe"


_U4 = struct.Struct("<I")


class Machine:
    """The interpreter state for one pickle stream."""

    def __init__(
        self,
        data: bytes,
        start: int,
        base: int,
        where: str,
        final: bool,
        eof_error: type[InputError],
    ) -> None:
        self.data = data
        self.pos = start
        self.base = base
        self.where = where
        self.final = final
        self.eof_error = eof_error
        self.stack: list[Any] = []
        self.marks: list[int] = []
        self.floor = 0
        self.memo: dict[int, Any] = {}
        self.globals: dict[tuple[str, str], GlobalRef] = {}
        self.storages: dict[str, Storage] = {}
        self.protocol = 0
        self.op_at = start
        self.opcodes = 0
        self.frame_end = NO_FRAME

    def fail(self, detail: str, error: type[InputError] = MalformedPickle) -> InputError:
        """Build an error about the current opcode, naming the stream and its file offset."""
        return error(f"{self.where}: {detail}", offset=self.base + self.op_at)

    def take(self, n: int, what: str) -> bytes:
        """Consume the next ``n`` bytes, checked against what remains."""
        end = self.pos + n
        if end > len(self.data):
            if not self.final:
                raise NeedMoreData
            remaining = len(self.data) - self.pos
            raise self.fail(f"{what} needs {n} bytes but only {remaining} remain", self.eof_error)
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def length(self, n: int, what: str) -> bytes:
        """Consume ``n`` bytes for a length read from the stream (checked before slicing)."""
        if n < 0:
            raise self.fail(f"{what} declares a negative length {n}")
        if n > MAX_PICKLE_BYTES:
            raise self.fail(
                f"{what} declares {n} bytes, over the limit of {MAX_PICKLE_BYTES}", HeaderTooLarge
            )
        return self.take(n, what)

    def line(self, what: str) -> bytes:
        """Consume the next text line, returned without its newline (protocol 0 arguments)."""
        stop = min(len(self.data), self.pos + MAX_LINE_BYTES + 1)
        end = self.data.find(b"\n", self.pos, stop)
        if end < 0:
            if stop < len(self.data):
                raise self.fail(
                    f"{what} line is longer than {MAX_LINE_BYTES} bytes", HeaderTooLarge
                )
            if not self.final:
                raise NeedMoreData
            raise self.fail(f"{what} line has no newline before the end", self.eof_error)
        text = self.data[self.pos : end]
        self.pos = end + 1
        return text

    def unpack(self, fmt: struct.Struct, what: str) -> Any:
        """Consume and decode one fixed-size value."""
        (value,) = fmt.unpack(self.take(fmt.size, what))
        return value

    def push(self, value: Any) -> None:
        """Push onto the stack, within :data:`MAX_STACK_ITEMS`."""
        if len(self.stack) >= MAX_STACK_ITEMS:
            raise self.fail(f"stack grows past {MAX_STACK_ITEMS} items", HeaderTooLarge)
        self.stack.append(value)

    def pop(self) -> Any:
        """Pop the top of the stack, never below the last MARK."""
        if len(self.stack) <= self.floor:
            raise self.fail("stack underflow")
        return self.stack.pop()

    def top(self) -> Any:
        """Return the top of the stack, never below the last MARK."""
        if len(self.stack) <= self.floor:
            raise self.fail("stack underflow")
        return self.stack[-1]

    def pop_mark(self) -> list[Any]:
        """Pop every item above the last MARK, and the MARK."""
        if not self.marks:
            raise self.fail("no MARK to pop back to")
        start = self.marks.pop()
        items = self.stack[start:]
        del self.stack[start:]
        self.floor = self.marks[-1] if self.marks else 0
        return items

    def memo_get(self, index: int) -> Any:
        """Return a memo entry (``GET``)."""
        try:
            return self.memo[index]
        except KeyError:
            raise self.fail(f"memo entry {index} was never stored") from None

    def memo_put(self, index: int) -> None:
        """Store the top of the stack in the memo (``PUT``), within :data:`MAX_MEMO_ENTRIES`."""
        if index < 0:
            raise self.fail(f"negative memo index {index}")
        if index not in self.memo and len(self.memo) >= MAX_MEMO_ENTRIES:
            raise self.fail(f"memo grows past {MAX_MEMO_ENTRIES} entries", HeaderTooLarge)
        self.memo[index] = self.top()

    def make_global(self, module: str, name: str) -> GlobalRef:
        """Name a global, judged by :mod:`weightfit.security`; refuse dangerous ones."""
        module, name = security.normalize(module, name)
        known = self.globals.get((module, name))
        if known is not None:
            return known
        verdict = security.verdict(module, name)
        if verdict == "dangerous":
            why = security.danger(module, name)
            raise self.fail(
                f"names {module}.{name}, which {why}; nothing was run", ForbiddenPickleContent
            )
        ref = GlobalRef(module, name, self.base + self.op_at, verdict)
        self.globals[(module, name)] = ref
        return ref

    def call(self, func: Any, args: Any, kwargs: Any) -> Any:
        """Record a call, or compute it symbolically when it is a known torch callable."""
        if not isinstance(args, tuple):
            if not isinstance(args, list):
                raise self.fail(f"call arguments are a {type(args).__name__}, not a tuple")
            args = tuple(args)
        if kwargs is not None and not isinstance(kwargs, dict):
            raise self.fail(f"keyword arguments are a {type(kwargs).__name__}, not a dict")
        if isinstance(func, GlobalRef):
            handler = KNOWN_CALLS.get(func.qualname)
            if handler is not None:
                return handler(self, args, kwargs or {})
        return Call(func, args, kwargs, self.base + self.op_at)

    def persistent(self, pid: Any) -> Any:
        """Resolve a persistent id: torch's storage tuple, or a legacy module reference."""
        if not isinstance(pid, tuple) or not pid:
            raise self.fail("persistent id is not a tuple")
        typename = pid[0].decode("ascii", "replace") if isinstance(pid[0], bytes) else pid[0]
        if typename == "module":
            return PersistentRef(pid, self.base + self.op_at)
        if typename != "storage":
            raise self.fail(f"unknown persistent id type {typename!r}")
        if len(pid) not in (5, 6):
            raise self.fail(f"storage persistent id has {len(pid)} fields, not 5 or 6")
        storage_type, key, location, numel = pid[1:5]
        view = pid[5] if len(pid) == 6 else None
        if not isinstance(storage_type, GlobalRef) or not security.is_storage_type(
            storage_type.module, storage_type.name
        ):
            raise self.fail(f"storage type {storage_type!r} is not a torch storage class")
        if isinstance(key, bytes):
            key = key.decode("ascii", "replace")
        if not isinstance(key, str) or not isinstance(location, str | bytes):
            raise self.fail("storage key or location is not a string")
        if isinstance(location, bytes):
            location = location.decode("ascii", "replace")
        if type(numel) is not int or numel < 0:
            raise self.fail(f"storage size {numel!r} is not a non-negative integer")
        if view is not None and not (
            isinstance(view, tuple) and len(view) == 3 and isinstance(view[1], int)
        ):
            raise self.fail("storage view metadata is not (key, offset, size)")
        storage = Storage(
            key=key,
            typename=storage_type.qualname,
            dtype=STORAGE_DTYPES.get(storage_type.name),
            location=location,
            numel=numel,
            offset=self.base + self.op_at,
            view=view,
        )
        # torch's persistent_load caches by key: later ids reuse the first storage.
        return self.storages.setdefault(key, storage)

    def build(self, inst: Any, state: Any) -> None:
        """Record what ``BUILD`` would pass to ``__setstate__``."""
        if isinstance(inst, Call):
            inst.state = state
        elif isinstance(inst, PickledDict):
            inst.attrs = state
        elif isinstance(inst, TensorRecord):
            pass  # tensor attributes (``__dict__``) carry nothing weightfit reports
        else:
            raise self.fail(f"BUILD on a {type(inst).__name__}")

    def set_items(self, target: Any, pairs: list[Any]) -> None:
        """Add key-value pairs to a dict (or record them on a dict-like call)."""
        if len(pairs) % 2:
            raise self.fail("SETITEMS with an odd number of items")
        if isinstance(target, Call):
            if target.items is None:
                target.items = PickledDict()
            target = target.items
        if not isinstance(target, dict):
            raise self.fail(f"SETITEM on a {type(target).__name__}")
        for i in range(0, len(pairs), 2):
            target[plain_key(pairs[i])] = pairs[i + 1]

    def append(self, target: Any, items: list[Any]) -> None:
        """Add items to a list (or record them on a list-like call)."""
        if isinstance(target, Call):
            if target.appended is None:
                target.appended = []
            target = target.appended
        if not isinstance(target, list):
            raise self.fail(f"APPEND on a {type(target).__name__}")
        target.extend(items)

    def short(self, pos: int, at: int, n: int, what: str) -> InputError | NeedMoreData:
        """Build the error for an inlined opcode at ``at`` that needs ``n`` bytes from ``pos``."""
        self.pos, self.op_at = pos, at
        if not self.final:
            return NeedMoreData()
        remaining = len(self.data) - pos
        return self.fail(f"{what} needs {n} bytes but only {remaining} remain", self.eof_error)

    def run(self) -> Any:
        """Execute opcodes up to ``STOP`` and return the top of the stack.

        The opcodes torch.save writes most (``BINPUT``, ``BINGET``,
        ``BINUNICODE``, ``BININT1``, ``TUPLE*``, ``REDUCE``) are inlined here
        with local variables: the table dispatch alone halves throughput.
        """
        data, size, stack, memo = self.data, len(self.data), self.stack, self.memo
        handlers, unpack_u4 = HANDLERS, _U4.unpack_from
        pos = at = self.pos
        frame_end = self.frame_end
        ops = 0
        while True:
            if pos >= frame_end:
                # As pickle's own ``_Unframer``: an opcode inside a frame ends
                # inside it; the bytes after a frame are read unframed.
                if pos > frame_end:
                    self.op_at = at
                    raise self.fail(
                        f"opcode reads {pos - frame_end} bytes past the end of its FRAME "
                        f"(byte {self.base + frame_end}): frames and opcodes disagree"
                    )
                frame_end = self.frame_end = NO_FRAME
            if pos >= size:
                self.pos = self.op_at = pos
                self.opcodes = ops
                if not self.final:
                    raise NeedMoreData
                raise self.fail("pickle ends without a STOP opcode", self.eof_error)
            at = pos
            op = data[pos]
            pos += 1
            ops += 1
            # Each opcode pushes at most one item, so checking the stack size
            # every 1024 opcodes bounds it within 1024 of the limit.
            if not ops & 0x3FF and len(stack) >= MAX_STACK_ITEMS:
                self.op_at = at
                raise self.fail(f"stack grows past {MAX_STACK_ITEMS} items", HeaderTooLarge)
            if op == 0x71 or op == 0x68 or op == 0x4B:  # BINPUT, BINGET, BININT1
                if pos >= size:
                    raise self.short(pos, at, 1, "argument")
                arg = data[pos]
                pos += 1
                if op == 0x4B:
                    stack.append(arg)
                elif op == 0x68:
                    if arg not in memo:
                        self.op_at = at
                        raise self.fail(f"memo entry {arg} was never stored")
                    stack.append(memo[arg])
                else:
                    if len(stack) <= self.floor:
                        self.op_at = at
                        raise self.fail("stack underflow")
                    memo[arg] = stack[-1]
            elif op == 0x72 or op == 0x6A:  # LONG_BINPUT, LONG_BINGET
                if pos + 4 > size:
                    raise self.short(pos, at, 4, "argument")
                arg = unpack_u4(data, pos)[0]
                pos += 4
                self.op_at = at
                if op == 0x6A:
                    stack.append(self.memo_get(arg))
                else:
                    self.memo_put(arg)
            elif op == 0x58 or op == 0x8C:  # BINUNICODE, SHORT_BINUNICODE
                width = 4 if op == 0x58 else 1
                if pos + width > size:
                    raise self.short(pos, at, width, "string length")
                length = unpack_u4(data, pos)[0] if width == 4 else data[pos]
                pos += width
                if pos + length > size:
                    raise self.short(pos, at, length, "string")
                try:
                    stack.append(data[pos : pos + length].decode("utf-8", "surrogatepass"))
                except UnicodeDecodeError:
                    self.op_at = at
                    raise self.fail("string is not valid UTF-8") from None
                pos += length
            elif 0x85 <= op <= 0x87:  # TUPLE1, TUPLE2, TUPLE3
                count = op - 0x84
                if len(stack) - self.floor < count:
                    self.op_at = at
                    raise self.fail("stack underflow")
                items = tuple(stack[-count:])
                del stack[-count:]
                stack.append(items)
            elif op == 0x52:  # REDUCE
                if len(stack) - self.floor < 2:
                    self.op_at = at
                    raise self.fail("stack underflow")
                self.op_at = at
                args = stack.pop()
                stack[-1] = self.call(stack[-1], args, None)
            elif op == 0x28:  # MARK
                if len(self.marks) >= MAX_MARK_DEPTH:
                    self.op_at = at
                    raise self.fail(f"MARKs nest deeper than {MAX_MARK_DEPTH}", HeaderTooLarge)
                self.marks.append(len(stack))
                self.floor = len(stack)
            elif op == 0x89 or op == 0x88:  # NEWFALSE, NEWTRUE
                stack.append(op == 0x88)
            elif op == 0x29:  # EMPTY_TUPLE
                stack.append(())
            elif op == 0x74:  # TUPLE
                self.op_at = at
                stack.append(tuple(self.pop_mark()))
            elif op == 0x2E:  # STOP
                self.pos, self.op_at = pos, at
                self.opcodes = ops
                return self.pop()
            else:
                handler = handlers[op]
                self.pos, self.op_at = pos, at
                if handler is None:
                    raise self.fail(f"invalid opcode 0x{op:02x}")
                self.opcodes = ops
                handler(self)
                pos, frame_end = self.pos, self.frame_end


def run(
    data: bytes,
    *,
    start: int = 0,
    base: int = 0,
    where: str = "pickle",
    final: bool = True,
    eof_error: type[InputError] = MalformedPickle,
) -> PickleResult:
    r"""Run one pickle from ``data[start:]`` without importing or calling anything.

    Args:
        data: Bytes holding the pickle (and possibly more after it).
        start: Where the pickle starts in ``data``.
        base: Absolute file offset of ``data[0]``, so errors and records carry
            offsets in the file.
        where: Names the stream in error messages (``"archive/data.pkl"``).
        final: ``False`` when more bytes may follow ``data``: running out then
            raises :class:`NeedMoreData` instead of an error.
        eof_error: Error class for a stream that ends early (``TruncatedFile``
            when the stream runs to the end of the file).

    Returns:
        The :class:`PickleResult`: the object graph, globals, end offset.

    Raises:
        ForbiddenPickleContent: a dangerous global or an extension-registry import.
        MalformedPickle: an invalid opcode, stack underflow, bad rebuild arguments.
        HeaderTooLarge: a limit (stack, memo, nesting, length) is exceeded.

    Example:
        >>> run(b"\x80\x02}q\x00.").value
        <dict of 0>

    """
    if len(data) - start > MAX_PICKLE_BYTES and final:
        raise HeaderTooLarge(f"{where}: pickle of {len(data) - start} bytes is over the limit")
    machine = Machine(data, start, base, where, final, eof_error)
    # The VM allocates many small containers: cyclic GC passes over the host
    # process's heap (a whole torch import, in tests) would dominate the run.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        value = machine.run()
    finally:
        if was_enabled:
            gc.enable()
    return PickleResult(
        value=value,
        globals=list(machine.globals.values()),
        storages=machine.storages,
        end=base + machine.pos,
        opcodes=machine.opcodes,
        protocol=machine.protocol,
    )


def run_following(
    data: bytes,
    *,
    start: int,
    base: int = 0,
    where: str = "pickle",
    first: int = 2,
    limit: int = 64,
) -> list[PickleResult]:
    """Run every pickle stored back to back from ``start`` to the end of ``data``.

    A file's own reader never reads them, but a loader calling ``pickle.load``
    again on the same stream would: each one is judged like the first. They are
    named ``where (pickle N)``, counting from ``first``.

    Raises:
        MalformedPickle: bytes follow that are not a valid pickle, or over ``limit`` pickles.
        ForbiddenPickleContent, HeaderTooLarge: as :func:`run`.

    """
    results: list[PickleResult] = []
    while start < len(data):
        if len(results) >= limit:
            raise MalformedPickle(
                f"{where}: more than {limit} pickles follow one another", offset=base + start
            )
        result = run(data, start=start, base=base, where=f"{where} (pickle {first + len(results)})")
        results.append(result)
        start = result.end - base
    return results


def merged_globals(results: list[PickleResult]) -> list[GlobalRef]:
    """Every distinct global named by any of ``results``, in order of first appearance."""
    seen: dict[str, GlobalRef] = {}
    for result in results:
        for ref in result.globals:
            seen.setdefault(ref.qualname, ref)
    return list(seen.values())


def worst_verdict(results: list[PickleResult]) -> SecurityVerdict:
    """The worst verdict over every global any of ``results`` names (``safe`` when none)."""
    return security.worst("safe", *(r.verdict for r in results)) or "safe"


def opaque_globals(results: list[PickleResult]) -> list[OpaqueGlobal]:
    """The globals of ``results`` a manifest lists: every one not judged ``safe``."""
    return [
        OpaqueGlobal(g.module, g.name, g.verdict)
        for g in merged_globals(results)
        if g.verdict != "safe"
    ]
