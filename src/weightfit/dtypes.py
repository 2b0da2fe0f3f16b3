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
SAFETENSORS_DTYPES = frozenset(DTYPES) - {"C128"}
"""The ``Dtype`` enum of the reference (safetensors 0.8 ``tensor.rs``): no other dtype loads."""
_BY_TORCH_NAME: dict[str, DType] = {d.torch_name: d for d in _KNOWN}
_BY_TORCH_NAME.update({"half": DTYPES["F16"], "float": DTYPES["F32"], "double": DTYPES["F64"]})
_BY_TORCH_NAME.update({"long": DTYPES["I64"], "int": DTYPES["I32"], "short": DTYPES["I16"]})

PACKED_FP4 = DType("float4_e2m1fn_x2", 8, "float", "float4_e2m1fn_x2")
"""torch's packed FP4 pairs: one element per byte, where safetensors' ``F4`` counts
one per half byte. A torch file's shape counts pairs, so its name stays torch's."""
_BY_TORCH_NAME[PACKED_FP4.torch_name] = PACKED_FP4


@dataclass(frozen=True)
class BlockType:
    """A block-quantized type: ``block_size`` elements packed into ``type_size`` bytes.

    These are GGML's quantized types, named as GGML names them (``"Q4_K"``). They
    are not element types (:func:`lookup` knows none of them); only their byte
    counts are known.
    """

    name: str
    block_size: int
    type_size: int


# ``GGML_QUANT_SIZES`` in gguf-py ``gguf/constants.py`` (ggml ``ggml.c`` ``type_traits``).
BLOCK_TYPES: dict[str, BlockType] = {
    b.name: b
    for b in (
        BlockType("Q4_0", 32, 18),
        BlockType("Q4_1", 32, 20),
        BlockType("Q5_0", 32, 22),
        BlockType("Q5_1", 32, 24),
        BlockType("Q8_0", 32, 34),
        BlockType("Q8_1", 32, 40),
        BlockType("Q2_K", 256, 84),
        BlockType("Q3_K", 256, 110),
        BlockType("Q4_K", 256, 144),
        BlockType("Q5_K", 256, 176),
        BlockType("Q6_K", 256, 210),
        BlockType("Q8_K", 256, 292),
        BlockType("IQ2_XXS", 256, 66),
        BlockType("IQ2_XS", 256, 74),
        BlockType("IQ3_XXS", 256, 98),
        BlockType("IQ1_S", 256, 50),
        BlockType("IQ4_NL", 32, 18),
        BlockType("IQ3_S", 256, 110),
        BlockType("IQ2_S", 256, 82),
        BlockType("IQ4_XS", 256, 136),
        BlockType("IQ1_M", 256, 56),
        BlockType("TQ1_0", 256, 54),
        BlockType("TQ2_0", 256, 66),
        BlockType("MXFP4", 32, 17),
        BlockType("NVFP4", 64, 36),
        BlockType("Q1_0", 128, 18),
    )
}


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
    Block-quantized types (:data:`BLOCK_TYPES`) count whole blocks. Python ints
    throughout, so huge shapes cannot overflow.
    """
    bits = itemsize_bits(name)
    if bits is None:
        block = BLOCK_TYPES.get(name)
        if block is None:
            return None
        return -(-math.prod(shape) // block.block_size) * block.type_size
    return (math.prod(shape) * bits + 7) // 8
