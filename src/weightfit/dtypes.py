"""Element types, named as safetensors names them, with their sizes in bits.

dtype strings read from files stay open-ended (``str``): new ones keep
arriving, so an unknown name is carried through and reported, never a crash.
The safetensors names are canonical; torch and numpy names map onto them.
See https://github.com/huggingface/safetensors (``Dtype`` in ``tensor.rs``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class DType:
    """A known element type: its canonical name, bit width and kind."""

    name: str
    bits: int
    kind: str  # "float", "int", "uint", "bool", "complex"
    torch_name: str

    @property
    def is_float(self) -> bool:
        """Whether values are floating point (complex included)."""
        return self.kind in ("float", "complex")


_KNOWN = [
    DType("BOOL", 8, "bool", "bool"),
    DType("U8", 8, "uint", "uint8"),
    DType("I8", 8, "int", "int8"),
    DType("U16", 16, "uint", "uint16"),
    DType("I16", 16, "int", "int16"),
    DType("U32", 32, "uint", "uint32"),
    DType("I32", 32, "int", "int32"),
    DType("U64", 64, "uint", "uint64"),
    DType("I64", 64, "int", "int64"),
    DType("F16", 16, "float", "float16"),
    DType("BF16", 16, "float", "bfloat16"),
    DType("F32", 32, "float", "float32"),
    DType("F64", 64, "float", "float64"),
    DType("C64", 64, "complex", "complex64"),
    DType("C128", 128, "complex", "complex128"),
    DType("F8_E4M3", 8, "float", "float8_e4m3fn"),
    DType("F8_E4M3FNUZ", 8, "float", "float8_e4m3fnuz"),
    DType("F8_E5M2", 8, "float", "float8_e5m2"),
    DType("F8_E5M2FNUZ", 8, "float", "float8_e5m2fnuz"),
    DType("F8_E8M0", 8, "float", "float8_e8m0fnu"),
    DType("F6_E2M3", 6, "float", "float6_e2m3fn"),
    DType("F6_E3M2", 6, "float", "float6_e3m2fn"),
    DType("F4", 4, "float", "float4_e2m1fn_x2"),
]

DTYPES: dict[str, DType] = {d.name: d for d in _KNOWN}
_BY_TORCH_NAME: dict[str, DType] = {d.torch_name: d for d in _KNOWN}
_BY_TORCH_NAME.update({"half": DTYPES["F16"], "float": DTYPES["F32"], "double": DTYPES["F64"]})
_BY_TORCH_NAME.update({"long": DTYPES["I64"], "int": DTYPES["I32"], "short": DTYPES["I16"]})


def lookup(name: str) -> DType | None:
    """The known dtype named ``name`` (canonical or torch spelling), or ``None``."""
    if name in DTYPES:
        return DTYPES[name]
    return _BY_TORCH_NAME.get(name.removeprefix("torch."))


def canonical(name: str) -> str:
    """The canonical spelling of ``name``, or ``name`` unchanged when unknown."""
    known = lookup(name)
    return known.name if known else name


def itemsize_bits(name: str) -> int | None:
    """Bits per element, or ``None`` for an unknown dtype."""
    known = lookup(name)
    return known.bits if known else None


def nbytes(name: str, shape: tuple[int, ...]) -> int | None:
    """Bytes that ``shape`` elements of ``name`` take, or ``None`` when unknown.

    Sub-byte types (F4, F6) pack tightly; the count is rounded up to whole bytes.
    Python ints throughout, so huge shapes cannot overflow.
    """
    bits = itemsize_bits(name)
    if bits is None:
        return None
    return (math.prod(shape) * bits + 7) // 8
