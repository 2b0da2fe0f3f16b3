"""The ``quantization`` rule: quantized or packed weights against a float model, or the reverse.

The evidence is storage, not names alone: integer (or fp8) tensors paired with
floating ones, element counts of ½ (4-bit pairs in a byte, trailing axis of 1)
or ⅛ (eight 4-bit values in an int32) of the expected, and the side tensors each
scheme writes next to a weight. Those side tensors name the scheme:

========================================  ==============================================
side tensors                               scheme
========================================  ==============================================
``weight.absmax``, ``weight.quant_map``,   bitsandbytes 4-bit (``quant_state.bitsandbytes__nf4``
``weight.quant_state.bitsandbytes__*``     names NF4 or FP4)
``SCB``, ``weight_format``                 bitsandbytes 8-bit (LLM.int8)
``qweight``, ``qzeros``, ``scales``,       GPTQ (``qweight`` packed along the input axis)
``g_idx``
``qweight``, ``qzeros``, ``scales``        AWQ (``qweight`` packed along the output axis)
``weight_packed``, ``weight_scale`` ...    compressed-tensors pack-quantized
``weight_scale``, ``weight_scale_inv``,    fp8 with per-tensor / per-channel / block scales
``input_scale`` next to an fp8 weight
========================================  ==============================================
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from weightfit import dtypes
from weightfit.alignment import Pair
from weightfit.diagnose._context import Context, is_float, shape_text
from weightfit.findings import Finding, Severity
from weightfit.manifest import counted
from weightfit.plan import Op

# Side-tensor suffix → (scheme key, the name of the tensor it belongs to, relative).
_BNB4 = (".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map")
_SIDE_SUFFIXES: tuple[tuple[str, str, str], ...] = (
    *((suffix, "bnb4", "") for suffix in _BNB4),
    (".quant_state.bitsandbytes__nf4", "bnb4", ""),
    (".quant_state.bitsandbytes__fp4", "bnb4", ""),
    (".SCB", "bnb8", ".weight"),
    (".weight_format", "bnb8", ".weight"),
    (".qweight", "packed", ".weight"),
    (".qzeros", "packed", ".weight"),
    (".scales", "packed", ".weight"),
    (".g_idx", "packed", ".weight"),
    (".weight_packed", "compressed", ".weight"),
    (".weight_shape", "compressed", ".weight"),
    (".weight_zero_point", "compressed", ".weight"),
    (".weight_g_idx", "compressed", ".weight"),
    (".weight_scale_inv", "fp8", ".weight"),
    (".weight_scale", "fp8", ".weight"),
    (".input_scale", "fp8", ".weight"),
)

_NOTES = {
    "bnb": (
        "dequantize first (load with transformers and a BitsAndBytesConfig, then "
        "model.dequantize() and save), or build the model with the same quantization_config "
        "so it expects the packed layout; shape operations cannot unpack these weights"
    ),
    "gptq": (
        "load through transformers with the GPTQ kernels installed (gptqmodel / optimum), or "
        "use the unquantized original; packed int32 weights cannot be unpacked by shape "
        "operations"
    ),
    "awq": (
        "load through transformers with the AWQ kernels installed (autoawq), or use the "
        "unquantized original; packed int32 weights cannot be unpacked by shape operations"
    ),
    "compressed": (
        "load through transformers with compressed-tensors installed (it decompresses on "
        "load), or use the unquantized original"
    ),
    "fp8": (
        "the fp8 values only mean something multiplied by their scales: dequantize with the "
        "model's own conversion (weight × scale, per block for weight_scale_inv) or load with "
        "an fp8-aware loader; a plain cast would drop the scales"
    ),
    "int": (
        "integer storage needs the quantizer that wrote it to be read back; use the float "
        "original or the quantizer's loader"
    ),
    "reverse": (
        "the model was built quantized: quantize while loading (from_pretrained with "
        "quantization_config) instead of load_state_dict, or build a float model"
    ),
}


@dataclass
class _Scheme:
    """What one quantization scheme covers."""

    label: str
    note_key: str
    pairs: list[Pair] = field(default_factory=list)
    side: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    examples: list[dict[str, object]] = field(default_factory=list)
    bits: set[int] = field(default_factory=set)
    ratios: set[float] = field(default_factory=set)
    fix: list[Op] = field(default_factory=list)
    severity: Severity = "error"


def quantization(ctx: Context) -> None:
    """Report quantized storage against float weights (or the reverse), one finding per scheme."""
    side = _side_tensors(ctx)
    schemes: dict[str, _Scheme] = {}
    owners: dict[str, str] = {}
    missing = set(ctx.missing())
    for owner, entries in side.items():
        names = {name for name, _ in entries}
        label, key = _label({kind for _, kind in entries}, names)
        owners[owner] = label
        scheme = schemes.setdefault(label, _Scheme(label, key))
        scheme.side.extend(sorted(names))
        if owner in missing:
            scheme.missing.append(owner)
            _packed_example(ctx, scheme, owner, names)
    if _all_plain_float(ctx):
        pairs: list[Pair] = []
    else:
        pairs = ctx.pairs()
    for pair in pairs:
        have, want = ctx.src(pair), ctx.tgt(pair)
        reverse = is_float(have.dtype) and not is_float(want.dtype) and want.dtype != "BOOL"
        quantized = not is_float(have.dtype) and is_float(want.dtype) and have.dtype != "BOOL"
        fp8 = _is_fp8(have.dtype) and not _is_fp8(want.dtype) and is_float(want.dtype)
        if not (quantized or reverse or fp8):
            continue
        if reverse:
            label, key = (
                f"model is quantized ({want.dtype} storage), checkpoint is float",
                "reverse",
            )
        elif pair.target in owners:
            label = owners[pair.target]
            key = schemes[label].note_key
        elif fp8:
            label, key = f"fp8 ({have.dtype}) without scales", "fp8-unscaled"
        else:
            label, key = _guess(have.numel, want.numel, have.shape, have.dtype), "int"
        scheme = schemes.setdefault(label, _Scheme(label, key))
        scheme.pairs.append(pair)
        if want.numel:
            scheme.ratios.add(round(have.numel / want.numel, 4))
        if len(scheme.examples) < 3:
            scheme.examples.append(
                {
                    "name": pair.target,
                    "checkpoint": f"{have.dtype}{shape_text(have.shape)}",
                    "model": f"{want.dtype}{shape_text(want.shape)}",
                }
            )
        if key == "fp8-unscaled":
            scheme.severity = "warning"
    for scheme in schemes.values():
        if scheme.pairs or scheme.missing:
            _report(ctx, scheme)


def _all_plain_float(ctx: Context) -> bool:
    """Whether both sides hold only (non-fp8) floating tensors: nothing quantized to pair."""
    held = {spec.dtype for spec in ctx.source.tensors.values()}
    held |= {spec.dtype for spec in ctx.target.tensors.values()}
    return all(is_float(dtype) and not _is_fp8(dtype) for dtype in held)


def _side_tensors(ctx: Context) -> dict[str, list[tuple[str, str]]]:
    """Open unexpected side tensors, grouped by the model tensor they belong to."""
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for name in ctx.unexpected():
        renamed = ctx.renamed(name)
        for suffix, kind, owner_leaf in _SIDE_SUFFIXES:
            if renamed.endswith(suffix):
                owner = renamed[: -len(suffix)] + owner_leaf
                # A side tensor belongs to a weight the model has; otherwise it is not one.
                if owner in ctx.target:
                    found[owner].append((name, kind))
                break
    return found


def _label(kinds: set[str], names: set[str]) -> tuple[str, str]:
    """Name the scheme from the side tensors (and the packed weight's layout)."""
    leaves = {name.rsplit(".", 1)[-1] for name in names}
    if "bnb4" in kinds:
        if any(name.endswith("bitsandbytes__nf4") for name in names):
            return "bitsandbytes 4-bit (NF4)", "bnb"
        if any(name.endswith("bitsandbytes__fp4") for name in names):
            return "bitsandbytes 4-bit (FP4)", "bnb"
        return "bitsandbytes 4-bit", "bnb"
    if "bnb8" in kinds:
        return "bitsandbytes 8-bit (LLM.int8)", "bnb"
    if "compressed" in kinds:
        return "compressed-tensors pack-quantized", "compressed"
    if "packed" in kinds:
        if "g_idx" in leaves:
            return "GPTQ", "gptq"
        return "AWQ", "awq"
    if "weight_scale_inv" in leaves:
        return "fp8 with block scales (weight_scale_inv)", "fp8"
    return "fp8 with scales (weight_scale)", "fp8"


def _packed_example(ctx: Context, scheme: _Scheme, owner: str, names: set[str]) -> None:
    """Record the bit width a packed ``qweight`` implies against the model's weight."""
    want = ctx.target[owner].shape
    qweight = next((n for n in names if n.endswith(".qweight")), None)
    if qweight is None or len(want) != 2:
        return
    have = ctx.source[qweight].shape
    out_features, in_features = want
    bits = None
    if len(have) == 2 and have[1] == out_features and in_features:
        bits = 32 * have[0] // in_features
    elif len(have) == 2 and have[0] == in_features and out_features:
        bits = 32 * have[1] // out_features
    if bits:
        scheme.bits.add(bits)
    if len(scheme.examples) < 3:
        scheme.examples.append(
            {
                "name": owner,
                "checkpoint": f"{ctx.source[qweight].dtype}{shape_text(have)} ({qweight})",
                "model": f"{ctx.target[owner].dtype}{shape_text(want)}",
            }
        )


def _guess(have: int, want: int, shape: tuple[int, ...], dtype: str) -> str:
    """Name integer storage without side tensors by its element ratio."""
    bits = dtypes.itemsize_bits(dtype)
    if want and have * 2 == want and shape and shape[-1] == 1:
        return "4-bit values packed in pairs (bitsandbytes-style layout, side tensors missing)"
    if want and have * 8 == want:
        return "4-bit values packed eight to an int32"
    if bits:
        return f"{bits}-bit integer storage"
    return f"{dtype} storage"


def _is_fp8(dtype: str) -> bool:
    return dtype.startswith("F8")


def _report(ctx: Context, scheme: _Scheme) -> None:
    params = [p.source for p in scheme.pairs] + scheme.side
    count = len(scheme.pairs) + len(scheme.missing)
    ratio = ""
    if scheme.ratios and scheme.ratios != {1.0}:
        fractions = ", ".join(_fraction(r) for r in sorted(scheme.ratios))
        ratio = f"; element counts {fractions} of the model's"
    bits = f", {'/'.join(str(b) for b in sorted(scheme.bits))}-bit" if scheme.bits else ""
    example = scheme.examples[0] if scheme.examples else None
    shown = f": {example['name']} {example['checkpoint']} vs {example['model']}" if example else ""
    message = f"quantized weights ({scheme.label}{bits}) against a float model{shown}"
    if scheme.note_key == "reverse":
        message = f"{scheme.label}{shown}"
    message += f"; {counted(count, 'weight')}, {counted(len(scheme.side), 'side tensor')}{ratio}"
    fix: list[Op] = []
    note = _NOTES.get(scheme.note_key, _NOTES["int"])
    if scheme.note_key == "fp8-unscaled":
        dtype = ctx.src(scheme.pairs[0]).dtype
        to = ctx.tgt(scheme.pairs[0]).dtype
        fix = [
            Op("cast", {"from": dtype, "to": to}, "quantization: fp8 without scales widens exactly")
        ]
        note = (
            "fp8 without scales loads by widening each value exactly; the precision stays "
            "that of fp8"
        )
    ctx.add(
        Finding(
            category="quantization",
            severity=scheme.severity,
            message=message,
            params=params,
            evidence={
                "scheme": scheme.label,
                "bits": sorted(scheme.bits),
                "weights": count,
                "side_tensors": len(scheme.side),
                "side_tensor_kinds": sorted({n.rsplit(".", 1)[-1] for n in scheme.side}),
                "numel_ratios": sorted(scheme.ratios),
                "examples": scheme.examples,
            },
            confidence=0.95 if scheme.side else 0.75,
            fix=fix,
            fix_note=note,
        )
    )
    ctx.consume(pairs=scheme.pairs, missing=scheme.missing, unexpected=scheme.side)


def _fraction(ratio: float) -> str:
    for denominator in (2, 4, 8):
        if abs(ratio * denominator - 1) < 1e-6:
            return f"1/{denominator}"
    return f"{ratio:g}×"
