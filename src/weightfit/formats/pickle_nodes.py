"""The nodes the pickle VM builds instead of objects: globals, calls, storages, tensors.

Nothing here imports or calls what a pickle names; each node only records it.
Nodes compare and hash by identity (``eq=False``), as the objects they stand for
would, so hostile pickles cannot make hashing recurse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from weightfit import dtypes
from weightfit.manifest import SecurityVerdict

STORAGE_DTYPES = {
    "DoubleStorage": "float64",
    "FloatStorage": "float32",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
    "QInt8Storage": "qint8",
    "QInt32Storage": "qint32",
    "QUInt8Storage": "quint8",
    "QUInt4x2Storage": "quint4x2",
    "QUInt2x4Storage": "quint2x4",
}
"""Typed storage class to the torch dtype of its elements (``torch/storage.py``)."""


@dataclass(frozen=True, eq=False)
class GlobalRef:
    """A global the pickle names (``module.name``); never imported."""

    module: str
    name: str
    offset: int
    verdict: SecurityVerdict

    @property
    def qualname(self) -> str:
        """``module.name``."""
        return f"{self.module}.{self.name}"

    def __repr__(self) -> str:
        return f"<global {self.qualname}>"


@dataclass(eq=False)
class Call:
    """A call the pickle asks for (``REDUCE``, ``NEWOBJ`` ...), recorded, never made.

    Attributes:
        func: What would be called: usually a :class:`GlobalRef`.
        args: Positional arguments.
        kwargs: Keyword arguments (``NEWOBJ_EX``), else ``None``.
        offset: Absolute byte offset of the opcode.
        state: What ``BUILD`` would pass to ``__setstate__``, if any.
        items: Entries ``SETITEM(S)`` would add (dict subclasses).
        appended: Items ``APPEND(S)`` would add (list subclasses).

    """

    func: Any
    args: tuple[Any, ...]
    kwargs: dict[Any, Any] | None
    offset: int
    state: Any = None
    items: PickledDict | None = None
    appended: list[Any] | None = None

    @property
    def qualname(self) -> str:
        """``module.name`` of the callable, or a placeholder when it is not a global."""
        if isinstance(self.func, GlobalRef | PersistentRef):
            return self.func.qualname
        return "<computed callable>"

    def __repr__(self) -> str:
        return f"<call {self.qualname}>"


@dataclass(eq=False)
class Storage:
    """A torch storage named by a persistent id; its bytes live outside the pickle.

    Attributes:
        key: The record name (``data/<key>`` in a zip, the key in a legacy file).
        typename: The storage class, ``torch.FloatStorage`` or ``torch.storage.UntypedStorage``.
        dtype: Torch dtype of the elements, ``None`` for an untyped (byte) storage.
        location: Device it was saved from (``cpu``, ``cuda:0``).
        numel: Elements it holds (bytes for an untyped storage).
        offset: Absolute byte offset of the persistent-id opcode.
        view: Legacy format view metadata ``(root key, offset, size)``, if any.

    """

    key: str
    typename: str
    dtype: str | None
    location: str
    numel: int
    offset: int
    view: tuple[Any, ...] | None = None

    @property
    def itemsize(self) -> int:
        """Bytes per element as torch counts them (1 for untyped storages)."""
        return 1 if self.dtype is None else torch_itemsize(self.dtype)

    def __repr__(self) -> str:
        return f"<storage {self.key} {self.typename} numel={self.numel}>"


@dataclass(eq=False)
class TensorRecord:
    """A tensor a rebuild function would make: its view of a storage.

    Attributes:
        storage: The storage it views; ``None`` for meta tensors (no data).
        storage_offset: First element, counted in elements of ``dtype``.
        shape: Sizes.
        stride: Element strides.
        dtype: Torch dtype name (``float32``, ``bfloat16`` ...).
        requires_grad: As saved.
        is_parameter: Saved as ``nn.Parameter``.
        quantized: Rebuilt by ``_rebuild_qtensor``.
        offset: Absolute byte offset of the call's opcode.
        math_bits: The view flags torch applies on load (``"conj"``, ``"neg"``): the
            stored bytes are the values before them.

    """

    storage: Storage | None
    storage_offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    dtype: str
    requires_grad: bool
    offset: int
    is_parameter: bool = False
    quantized: bool = False
    math_bits: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"<tensor {self.dtype}{list(self.shape)}>"


@dataclass(eq=False)
class PersistentRef:
    """A persistent id that is not a storage (legacy whole-module saves)."""

    pid: Any
    offset: int

    @property
    def qualname(self) -> str:
        """The class a legacy ``("module", cls, file, source)`` id names, else a placeholder."""
        target = self.pid[1] if len(self.pid) > 1 else None
        return target.qualname if isinstance(target, GlobalRef) else "<persistent id>"

    def __repr__(self) -> str:
        return "<persistent id>"


@dataclass(eq=False)
class OpaqueKey:
    """A dict key or set member that is not a plain value, kept by identity."""

    value: Any

    def __repr__(self) -> str:
        return f"<key {type(self.value).__name__}>"


class PickledDict(dict[Any, Any]):
    """A dict from the pickle; ``attrs`` holds what ``BUILD`` would set on it."""

    attrs: Any = None

    def __repr__(self) -> str:
        return f"<dict of {len(self)}>"


_TORCH_ITEMSIZE = {
    "float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "half": 2, "float": 4, "double": 8,
    "complex32": 4, "complex64": 8, "complex128": 16, "cfloat": 8, "cdouble": 16,
    "int64": 8, "int32": 4, "int16": 2, "int8": 1, "long": 8, "int": 4, "short": 2,
    "uint64": 8, "uint32": 4, "uint16": 2, "uint8": 1, "bool": 1,
    "qint8": 1, "quint8": 1, "qint32": 4, "quint4x2": 1, "quint2x4": 1,
    "bits8": 1, "bits16": 2, "bits1x8": 1, "bits2x4": 1, "bits4x2": 1,
}  # fmt: skip
"""``torch.dtype.itemsize`` for every dtype that can be saved (``torch/_utils.py``)."""


def canonical_dtype(torch_name: str) -> str:
    """Return the canonical dtype name (``F32``) of a torch dtype name (``float32``).

    Packed FP4 pairs keep their torch name (:data:`weightfit.dtypes.PACKED_FP4`).
    """
    return dtypes.canonical(torch_name)


def torch_itemsize(dtype: str) -> int:
    """Bytes per element of a torch dtype name, as torch stores it (1 for 8-bit and packed)."""
    return _TORCH_ITEMSIZE.get(dtype, 1)


_PLAIN_KEYS = (str, int, float, bool, bytes, type(None), complex)


def plain_key(value: Any, depth: int = 0) -> Any:
    """``value`` if it is safe to hash (plain values, shallow tuples of them), else wrapped."""
    if isinstance(value, (*_PLAIN_KEYS, GlobalRef, Storage, TensorRecord)):
        return value
    if isinstance(value, tuple) and depth < 4 and all(_is_key(v, depth + 1) for v in value):
        return value
    return OpaqueKey(value)


def _is_key(value: Any, depth: int) -> bool:
    return plain_key(value, depth) is value
