"""Symbolic meaning of the callables torch.save pickles name: tensor rebuilds and friends.

When a pickle asks to call one of these, the VM does not call it; the handler
here computes what the call would return, as plain data: PyTorch's rebuild
functions (``torch/_utils.py``) become a :class:`TensorRecord`, ``OrderedDict``
a :class:`PickledDict`, ``torch.Size`` a tuple, ``_codecs.encode`` bytes.
Arguments are checked; a rebuild with impossible arguments is a
:class:`~weightfit.errors.MalformedPickle`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from weightfit import security
from weightfit.formats.pickle_nodes import (
    Call,
    GlobalRef,
    PickledDict,
    Storage,
    TensorRecord,
    plain_key,
)

if TYPE_CHECKING:
    from weightfit.formats.pickle_vm import Machine


def _ints(m: Machine, value: Any, what: str) -> tuple[int, ...]:
    if isinstance(value, list):
        value = tuple(value)
    if not isinstance(value, tuple) or not all(type(v) is int and v >= 0 for v in value):
        raise m.fail(f"tensor {what} {value!r} is not a tuple of non-negative integers")
    return value


def _tensor(
    m: Machine,
    storage: Any,
    storage_offset: Any,
    size: Any,
    stride: Any,
    *,
    requires_grad: Any,
    dtype: str | None,
    quantized: bool = False,
    metadata: Any = None,
) -> TensorRecord:
    if not isinstance(storage, Storage):
        raise m.fail(f"tensor rebuilt from {storage!r}, not a storage")
    if type(storage_offset) is not int or storage_offset < 0:
        raise m.fail(f"tensor storage offset {storage_offset!r} is not a non-negative integer")
    shape = _ints(m, size, "size")
    strides = _ints(m, stride, "stride")
    if len(shape) != len(strides):
        raise m.fail(f"tensor size {shape} and stride {strides} differ in length")
    if dtype is None:
        dtype = storage.dtype or "uint8"
    return TensorRecord(
        storage=storage,
        storage_offset=storage_offset,
        shape=shape,
        stride=strides,
        dtype=dtype,
        requires_grad=bool(requires_grad),
        offset=m.base + m.op_at,
        quantized=quantized,
        math_bits=_math_bits(metadata),
    )


MATH_BITS = ("conj", "neg")
"""``torch._utils.get_tensor_metadata``: view flags ``_rebuild_tensor_v2``/``v3`` set on load."""


def _math_bits(metadata: Any) -> tuple[str, ...]:
    """The view flags a rebuild's ``metadata`` dict sets (``{"conj": True}``)."""
    if not isinstance(metadata, dict):
        return ()
    return tuple(bit for bit in MATH_BITS if metadata.get(bit) is True)


def _arity(m: Machine, name: str, args: tuple[Any, ...], low: int, high: int) -> None:
    if not low <= len(args) <= high:
        raise m.fail(f"{name} called with {len(args)} arguments")


def _dtype_arg(m: Machine, value: Any) -> str:
    if isinstance(value, GlobalRef) and security.is_dtype(value.module, value.name):
        return value.name
    raise m.fail(f"tensor dtype {value!r} is not a torch dtype")


def _rebuild_tensor(m: Machine, args: tuple[Any, ...], kwargs: dict[Any, Any]) -> Any:
    _arity(m, "_rebuild_tensor", args, 4, 4)
    return _tensor(m, *args[:4], requires_grad=False, dtype=None)


def _rebuild_tensor_v2(m: Machine, args: tuple[Any, ...], kwargs: dict[Any, Any]) -> Any:
    _arity(m, "_rebuild_tensor_v2", args, 6, 7)
    metadata = args[6] if len(args) > 6 else kwargs.get("metadata")
    return _tensor(m, *args[:4], requires_grad=args[4], dtype=None, metadata=metadata)


def _rebuild_tensor_v3(m: Machine, args: tuple[Any, ...], kwargs: dict[Any, Any]) -> Any:
    _arity(m, "_rebuild_tensor_v3", args, 7, 8)
    metadata = args[7] if len(args) > 7 else kwargs.get("metadata")
    dtype = _dtype_arg(m, args[6])
    return _tensor(m, *args[:4], requires_grad=args[4], dtype=dtype, metadata=metadata)


def _rebuild_qtensor(m: Machine, args: tuple[Any, ...], kwargs: dict[Any, Any]) -> Any:
    _arity(m, "_rebuild_qtensor", args, 7, 7)
    return _tensor(m, *args[:4], requires_grad=args[5], dtype=None, quantized=True)


def _rebuild_parameter(m: Machine, args: tuple[Any, ...], kwargs: dict[Any, Any]) -> Any:
    _arity(m, "_rebuild_parameter", args, 3, 4)
    data = args[0]
    if not isinstance(data, TensorRecord):
        raise m.fail(f"parameter rebuilt from {data!r}, not a tensor")
    data.is_parameter = True
    data.requires_grad = bool(args[1])
    return data


def _rebuild_meta(m: Machine, args: tuple[Any, ...], kwargs: dict[Any, Any]) -> Any:
    _arity(m, "_rebuild_meta_tensor_no_storage", args, 4, 4)
    shape, strides = _ints(m, args[1], "size"), _ints(m, args[2], "stride")
    return TensorRecord(
        storage=None,
        storage_offset=0,
        shape=shape,
        stride=strides,
        dtype=_dtype_arg(m, args[0]),
        requires_grad=bool(args[3]),
        offset=m.base + m.op_at,
    )


def _rebuild_from_cpu(m: Machine, args: tuple[Any, ...], kwargs: dict[Any, Any]) -> Any:
    _arity(m, "_rebuild_device_tensor_from_cpu_tensor", args, 4, 4)
    if not isinstance(args[0], TensorRecord):
        raise m.fail(f"device tensor rebuilt from {args[0]!r}, not a tensor")
    return args[0]


def _rebuild_from_type_v2(m: Machine, args: tuple[Any, ...], kwargs: dict[Any, Any]) -> Any:
    # torch/_tensor.py: ret = func(*args); then ret is cast to new_type and given state.
    _arity(m, "_rebuild_from_type_v2", args, 4, 4)
    func, new_type, inner, _state = args
    result = m.call(func, inner, None)
    is_parameter = isinstance(new_type, GlobalRef) and (
        new_type.qualname == "torch.nn.parameter.Parameter"
    )
    if isinstance(result, TensorRecord) and is_parameter:
        result.is_parameter = True
    return result


def _ordered_dict(m: Machine, args: tuple[Any, ...], kwargs: dict[Any, Any]) -> Any:
    result = PickledDict()
    if args:
        pairs = args[0]
        if isinstance(pairs, dict):
            pairs = list(pairs.items())
        if not isinstance(pairs, list | tuple) or not all(
            isinstance(p, tuple | list) and len(p) == 2 for p in pairs
        ):
            raise m.fail("OrderedDict built from something other than pairs")
        m.set_items(result, [x for pair in pairs for x in pair])
    return result


def _size(m: Machine, args: tuple[Any, ...], kwargs: dict[Any, Any]) -> Any:
    _arity(m, "torch.Size", args, 0, 1)
    return _ints(m, args[0], "size") if args else ()


def _device(m: Machine, args: tuple[Any, ...], kwargs: dict[Any, Any]) -> Any:
    if args and isinstance(args[0], str) and all(isinstance(a, int) for a in args[1:2]):
        return args[0] if len(args) == 1 else f"{args[0]}:{args[1]}"
    here = m.base + m.op_at
    return Call(GlobalRef("torch", "device", here, "safe"), args, kwargs, here)


def _encode(m: Machine, args: tuple[Any, ...], kwargs: dict[Any, Any]) -> Any:
    # Protocol 2 pickles bytes as _codecs.encode(text, "latin1") (pickle.py save_bytes).
    if len(args) == 2 and isinstance(args[0], str) and args[1] in ("latin1", "latin-1"):
        try:
            return args[0].encode("latin-1")
        except UnicodeEncodeError:
            raise m.fail("_codecs.encode text is not latin-1") from None
    if len(args) == 1 and isinstance(args[0], str):
        return args[0].encode("utf-8", "surrogatepass")
    raise m.fail("_codecs.encode called with unexpected arguments")


def _bytes(m: Machine, args: tuple[Any, ...], kwargs: dict[Any, Any]) -> Any:
    # Protocols < 3 pickle b"" as bytes() and bytearray as bytearray(bytes).
    if not args:
        return b""
    if isinstance(args[0], bytes):
        return args[0]
    if len(args) == 2 and isinstance(args[0], str) and args[1] in ("latin1", "latin-1"):
        return _encode(m, args, kwargs)
    raise m.fail("bytes built from something other than bytes")


def _set(m: Machine, args: tuple[Any, ...], kwargs: dict[Any, Any]) -> Any:
    if not args:
        return set()
    if isinstance(args[0], list | tuple | set | frozenset):
        return {plain_key(item) for item in args[0]}
    raise m.fail("set built from something other than a sequence")


def _complex(m: Machine, args: tuple[Any, ...], kwargs: dict[Any, Any]) -> Any:
    if 1 <= len(args) <= 2 and all(isinstance(a, int | float) for a in args):
        return complex(*args)
    raise m.fail("complex built from something other than numbers")


def _reconstructor(m: Machine, args: tuple[Any, ...], kwargs: dict[Any, Any]) -> Any:
    # copyreg._reconstructor(cls, base, state): protocol 0/1 instances of plain classes.
    _arity(m, "copyreg._reconstructor", args, 3, 3)
    result = Call(args[0], (), None, m.base + m.op_at)
    base, state = args[1], args[2]
    if isinstance(base, GlobalRef) and base.qualname == "builtins.dict" and isinstance(state, dict):
        result.items = PickledDict(state)  # a dict subclass: its entries are the state
    return result


def _newobj_helper(m: Machine, args: tuple[Any, ...], kwargs: dict[Any, Any]) -> Any:
    # copyreg.__newobj__(cls, *args) is what NEWOBJ does for protocol < 2 pickles.
    if not args:
        raise m.fail("copyreg.__newobj__ called without a class")
    return m.call(args[0], tuple(args[1:]), None)


KNOWN_CALLS: dict[str, Callable[[Machine, tuple[Any, ...], dict[Any, Any]], Any]] = {
    "torch._utils._rebuild_tensor": _rebuild_tensor,
    "torch._utils._rebuild_tensor_v2": _rebuild_tensor_v2,
    "torch._utils._rebuild_tensor_v3": _rebuild_tensor_v3,
    "torch._utils._rebuild_qtensor": _rebuild_qtensor,
    "torch._utils._rebuild_parameter": _rebuild_parameter,
    "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
    "torch._utils._rebuild_meta_tensor_no_storage": _rebuild_meta,
    "torch._utils._rebuild_device_tensor_from_cpu_tensor": _rebuild_from_cpu,
    "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
    "collections.OrderedDict": _ordered_dict,
    "torch.Size": _size,
    "torch.device": _device,
    "_codecs.encode": _encode,
    "builtins.bytearray": _bytes,
    "builtins.bytes": _bytes,
    "builtins.set": _set,
    "builtins.frozenset": lambda m, a, k: frozenset(_set(m, a, k)),
    "builtins.complex": _complex,
    "copyreg._reconstructor": _reconstructor,
    "copyreg.__newobj__": _newobj_helper,
}
"""Callables interpreted symbolically, by ``module.name``; everything else is a :class:`Call`."""
