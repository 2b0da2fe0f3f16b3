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
``weight_scale``, ``weight_scale_inv``,    fp8 (or int8) with per-tensor / per-channel / block
``input_scale`` next to an fp8 weight      scales
``weight._data``, ``weight._scale``,       optimum-quanto (``_data._data``: 4- or 2-bit packed
``weight._shift``, ``output_scale``        in bytes)
``scales`` and ``biases`` beside a U32     MLX affine quantization (``nn.quantize``: bits and
``weight``                                 group size read from the widths)
``_weight_qdata``, ``_weight_scale``,      torchao's tensor subclasses flattened by
``_weight_zero_point``                     transformers (the type in the file's metadata)
(none: a GGML type, ``Q4_0``, ``Q4_K`` …)  GGUF block quantization
========================================  ==============================================

The side tensors are read on either side: in the checkpoint (quantized weights, float
model) or in the model (a model built quantized, a float checkpoint). A ``config.json``
whose ``quantization_config`` declares the scheme's method is read too: the checkpoint's
names the scheme; the target's means ``from_pretrained`` builds the model quantized and
loads the checkpoint as it is, so the difference is only that the float model built
here from the config is not (``info``, not blocking).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field

from weightfit import dtypes
from weightfit.alignment import Pair
from weightfit.diagnose._context import Context, is_float, shape_text
from weightfit.findings import LOADER_ONLY, Finding, Severity
from weightfit.manifest import TensorSpec, counted
from weightfit.plan import Op

# Side-tensor suffix → (scheme key, the name of the tensor it belongs to, relative).
_BNB4 = (".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map")
SIDE_SUFFIXES: tuple[tuple[str, str, str], ...] = (
    (".weight._data._data", "quanto", ".weight"),
    (".weight._data", "quanto", ".weight"),
    (".weight._scale", "quanto", ".weight"),
    (".weight._shift", "quanto", ".weight"),
    (".output_scale", "quanto", ".weight"),
    (".biases", "mlx", ".weight"),
    ("._weight_qdata", "torchao", ".weight"),
    ("._weight_scale", "torchao", ".weight"),
    ("._weight_zero_point", "torchao", ".weight"),
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
    "int-scaled": (
        "the integer values only mean something multiplied by their scales: load with the "
        "quantizer's loader (transformers with compressed-tensors installed reads "
        "weight_scale) or dequantize with it; a plain cast would drop the scales"
    ),
    "quanto": (
        "load with optimum-quanto: build the float model, then "
        "optimum.quanto.requantize(model, state_dict, quantization_map) rebuilds the "
        "quantized modules (each weight's dequantize() gives floats back); shape operations "
        "cannot read the scaled or packed values"
    ),
    "torchao": (
        "load through transformers with torchao installed (from_pretrained rebuilds each "
        "weight's tensor subclass the file's metadata names), or use the unquantized "
        "original; shape operations cannot read the scaled values"
    ),
    "mlx": (
        "MLX's quantized layers read these: load with mlx (nn.quantize the model with the same "
        "bits and group size before load_weights, or mlx_lm.load), or dequantize with "
        "mx.dequantize(weight, scales, biases, group_size, bits); shape operations cannot "
        "unpack the 32-bit words"
    ),
    "ggml": (
        "llama.cpp reads GGML blocks as they are; transformers' from_pretrained(folder, "
        "gguf_file=...) dequantizes them to floats on load (gguf-py's "
        "gguf.quants.dequantize), then save_pretrained writes a float checkpoint; shape "
        "operations cannot unpack blocks"
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
    "declared": (
        "from_pretrained builds the model quantized as the config's quantization_config says "
        "and loads these tensors as they are (with the quantization library installed); "
        "only a float model built from the config without it (from_config, then "
        "load_state_dict) cannot take them"
    ),
}

_METHODS = {
    "bnb": ("bitsandbytes",),
    "gptq": ("gptq",),
    "awq": ("awq",),
    "compressed": ("compressed-tensors",),
    "int-scaled": ("compressed-tensors",),
    "fp8": ("fp8", "compressed-tensors", "fbgemm_fp8"),
    "quanto": ("quanto",),
    "torchao": ("torchao",),
}
"""The ``quant_method`` of a ``quantization_config`` that writes (and reads) each scheme."""


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
    groups: set[int] = field(default_factory=set)
    ratios: set[float] = field(default_factory=set)
    fix: list[Op] = field(default_factory=list)
    severity: Severity = "error"
    model_side: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    declared: str = ""


def quantization(ctx: Context) -> None:
    """Report quantized storage against float weights (or the reverse), one finding per scheme."""
    schemes: dict[str, _Scheme] = {}
    owners: dict[str, str] = {}
    missing = set(ctx.missing())
    floats = {ctx.renamed(name): name for name in ctx.unexpected()}
    declared = _declared(ctx.source.config)
    for owner, entries in _side_tensors(ctx, floats, ctx.unexpected(), checkpoint=True).items():
        names = {name for name, _ in entries}
        label, key = _label(ctx, {kind for _, kind in entries}, names, owner, checkpoint=True)
        if declared and declared[0] in _METHODS.get(key, ()):
            label += f", {declared[1]}"
        owners[owner] = label
        scheme = schemes.setdefault(label, _Scheme(label, key))
        scheme.side.extend(sorted(names))
        if owner in missing:
            scheme.missing.append(owner)
        _packed_example(ctx, scheme, owner, names, checkpoint=True)
    for owner, entries in _side_tensors(ctx, floats, ctx.missing(), checkpoint=False).items():
        names = {name for name, _ in entries}
        label, _ = _label(ctx, {kind for _, kind in entries}, names, owner, checkpoint=False)
        label = f"model is quantized ({label}), checkpoint is float"
        owners[owner] = label
        scheme = schemes.setdefault(label, _Scheme(label, "reverse"))
        scheme.model_side.extend(sorted(names))
        if owner in floats:
            scheme.extra.append(floats[owner])
        _packed_example(ctx, scheme, owner, names, checkpoint=False)
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
        if pair.target in owners:
            label = owners[pair.target]
            key = schemes[label].note_key
        elif reverse:
            label, key = (
                f"model is quantized ({want.dtype} storage), checkpoint is float",
                "reverse",
            )
        elif fp8:
            label, key = f"fp8 ({have.dtype}) without scales", "fp8-unscaled"
        elif have.dtype in dtypes.BLOCK_TYPES:
            label, key = f"GGML {have.dtype} blocks", "ggml"
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
    target_method = _declared(ctx.target.config)
    for scheme in schemes.values():
        if target_method and target_method[0] in _METHODS.get(scheme.note_key, ()):
            scheme.severity, scheme.note_key = "info", "declared"
            scheme.declared = target_method[1]
        if scheme.pairs or scheme.missing or scheme.model_side:
            _report(ctx, scheme)


def _all_plain_float(ctx: Context) -> bool:
    """Whether both sides hold only (non-fp8) floating tensors: nothing quantized to pair."""
    held = {spec.dtype for spec in ctx.source.tensors.values()}
    held |= {spec.dtype for spec in ctx.target.tensors.values()}
    return all(is_float(dtype) and not _is_fp8(dtype) for dtype in held)


def _side_tensors(
    ctx: Context, floats: dict[str, str], names: list[str], *, checkpoint: bool
) -> dict[str, list[tuple[str, str]]]:
    """Open side tensors of one side, grouped by the model tensor they belong to.

    ``checkpoint``: the checkpoint's unexpected names (the checkpoint is quantized), else
    the model's missing names (the model is). ``floats`` maps the checkpoint's unexpected
    names, under the model's naming, back to their own.
    """
    found: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for name in names:
        renamed = ctx.renamed(name) if checkpoint else name
        for suffix, kind, owner_leaf in SIDE_SUFFIXES:
            if renamed.endswith(suffix):
                owner = renamed[: -len(suffix)] + owner_leaf
                # A side tensor belongs to a weight the model (or, when the model is the
                # quantized side, the checkpoint) has; otherwise it is not one.
                if owner in ctx.target or (not checkpoint and owner in floats):
                    found[owner].append((name, kind))
                break
    return found


def _declared(config: dict[str, object] | None) -> tuple[str, str] | None:
    """A config's ``quantization_config`` method and how to name it (``quant_method=…``)."""
    settings = (config or {}).get("quantization_config")
    if not isinstance(settings, dict) or not isinstance(settings.get("quant_method"), str):
        return None
    method = settings["quant_method"]
    shown = f"quantization_config quant_method={method}"
    if isinstance(settings.get("format"), str):
        shown += f" format={settings['format']}"
    return method, shown


def _stored(ctx: Context, name: str, *, checkpoint: bool) -> TensorSpec | None:
    """The quantized side's tensor under a model name (the checkpoint's through its pair)."""
    if not checkpoint:
        return ctx.target.tensors.get(name)
    pair = next((p for p in ctx.alignment.pairs if p.target == name), None)
    return ctx.src(pair) if pair is not None else ctx.source.tensors.get(name)


def label_of(
    ctx: Context, kinds: set[str], names: set[str], owner: str, *, checkpoint: bool
) -> str:
    """Name the scheme of one weight's side tensors (``names``, of ``kinds``) on one side."""
    return _label(ctx, kinds, names, owner, checkpoint=checkpoint)[0]


def _label(
    ctx: Context, kinds: set[str], names: set[str], owner: str, *, checkpoint: bool
) -> tuple[str, str]:
    """Name the scheme from the side tensors (and the packed weight's layout and dtype)."""
    leaves = {name.rsplit(".", 1)[-1] for name in names}
    manifest = ctx.source if checkpoint else ctx.target
    if "quanto" in kinds:
        data = next((n for n in names if n.endswith("._data")), None)
        dtype = manifest[data].dtype if data is not None else None
        kind = {"I8": "qint8"}.get(dtype or "", f"qfloat8 ({dtype})" if dtype else "")
        if data is not None and data.endswith("._data._data"):
            bits = _bits(manifest[data], _whole(ctx, owner, checkpoint=checkpoint))
            kind = f"qint{bits}" if bits else "qint (packed)"
        return f"optimum-quanto {kind}".rstrip(), "quanto"
    if "torchao" in kinds:
        return _torchao_label(manifest.metadata.get(owner)), "torchao"
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
    stored = _stored(ctx, owner, checkpoint=checkpoint)
    if "packed" in kinds or "mlx" in kinds:
        if "qweight" not in leaves and stored is not None and stored.dtype == "U32":
            # MLX packs a quantized weight into 32-bit words in place: no qweight.
            return "MLX affine quantization" if "mlx" in kinds else "MLX quantization", "mlx"
        if "g_idx" in leaves:
            return "GPTQ", "gptq"
        return "AWQ", "awq"
    if stored is not None and not is_float(stored.dtype) and stored.dtype != "BOOL":
        return f"{stored.dtype} with scales (weight_scale)", "int-scaled"
    if "weight_scale_inv" in leaves:
        return "fp8 with block scales (weight_scale_inv)", "fp8"
    return "fp8 with scales (weight_scale)", "fp8"


_PACKED_LEAVES = (".qweight", ".weight_packed", "._data._data", "._weight_qdata")


def _torchao_label(metadata: str | None) -> str:
    """Name torchao's scheme by the tensor subclass transformers recorded for the weight."""
    try:
        recorded = json.loads(metadata) if metadata else None
    except json.JSONDecodeError:
        recorded = None
    kind = recorded.get("_type") if isinstance(recorded, dict) else None
    return f"torchao {kind}" if isinstance(kind, str) else "torchao"


def _packed_example(
    ctx: Context, scheme: _Scheme, owner: str, names: set[str], *, checkpoint: bool
) -> None:
    """Record the bits a packed weight holds per value, and its group size, against the float.

    The bits are the packed tensor's bits over the float tensor's values (GPTQ's
    ``qweight``, MLX's U32 ``weight``, quanto's ``_data._data``, bnb's U8 column); the
    group size the float tensor's values over its ``scales``.
    """
    packed_name = next((n for n in names if n.endswith(_PACKED_LEAVES)), None)
    quantized = ctx.source if checkpoint else ctx.target
    packed = quantized.tensors.get(packed_name) if packed_name else None
    if packed is None:
        packed = _stored(ctx, owner, checkpoint=checkpoint)
    whole = _whole(ctx, owner, checkpoint=checkpoint)
    if packed is None or whole is None:
        return
    bits = _bits(packed, whole)
    if bits:
        scheme.bits.add(bits)
    scales = next((quantized[n] for n in names if n.endswith(".scales")), None)
    if scales is not None and len(scales.shape) == 2 and min(scales.shape) > 1:
        group, rest = divmod(whole.numel, scales.numel)
        if not rest:
            scheme.groups.add(group)
    if packed_name is not None and len(scheme.examples) < 3:
        sides = (
            f"{packed.dtype}{shape_text(packed.shape)} ({packed_name})",
            f"{whole.dtype}{shape_text(whole.shape)}",
        )
        have, want = sides if checkpoint else sides[::-1]
        scheme.examples.append({"name": owner, "checkpoint": have, "model": want})


_PACKED_BITS = frozenset({1, 2, 3, 4, 5, 6, 8})


def _whole(ctx: Context, owner: str, *, checkpoint: bool) -> TensorSpec | None:
    """The float side's tensor for a quantized weight: the model's, or the checkpoint's."""
    if checkpoint:
        whole = ctx.target.tensors.get(owner)
    else:
        pair = next((p for p in ctx.alignment.pairs if p.target == owner), None)
        name = pair.source if pair is not None else owner
        name = next((n for n in ctx.unexpected() if ctx.renamed(n) == owner), name)
        whole = ctx.source.tensors.get(name)
    if whole is None or not whole.numel or not is_float(whole.dtype):
        return None
    return whole


def _bits(packed: TensorSpec, whole: TensorSpec | None) -> int | None:
    """Bits per value of integer storage packing fewer elements than the float tensor has."""
    width = dtypes.itemsize_bits(packed.dtype)
    if whole is None or not width or is_float(packed.dtype) or packed.numel >= whole.numel:
        return None
    bits, rest = divmod(width * packed.numel, whole.numel)
    return bits if not rest and bits in _PACKED_BITS else None


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
    side = scheme.side + scheme.model_side
    params = [p.source for p in scheme.pairs] + scheme.extra + side
    count = len(scheme.pairs) + len(scheme.missing) + len(scheme.extra)
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
    elif scheme.declared:
        message = (
            f"quantized weights ({scheme.label}{bits}) as the target config's "
            f"{scheme.declared} declares: from_pretrained builds the model quantized and "
            f"loads them{shown}"
        )
    message += f"; {counted(count, 'weight')}, {counted(len(side), 'side tensor')}{ratio}"
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
                "group_sizes": sorted(scheme.groups),
                "weights": count,
                "side_tensors": len(side),
                "side_tensor_kinds": sorted({_kind(n) for n in side}),
                "numel_ratios": sorted(scheme.ratios),
                "examples": scheme.examples,
                **({LOADER_ONLY: scheme.declared} if scheme.declared else {}),
            },
            confidence=0.95 if side or scheme.note_key == "ggml" else 0.75,
            fix=fix,
            fix_note=note,
        )
    )
    ctx.consume(
        pairs=scheme.pairs,
        missing=scheme.missing + scheme.model_side,
        unexpected=scheme.side + scheme.extra,
    )


def _kind(name: str) -> str:
    """A side tensor's kind as its scheme names it: its leaf, quanto's ``_data._data`` whole."""
    for suffix in ("._data._data", "._data", "._scale", "._shift"):
        if name.endswith(suffix):
            return suffix.lstrip(".")
    return name.rsplit(".", 1)[-1]


def _fraction(ratio: float) -> str:
    for denominator in (2, 4, 8):
        if abs(ratio * denominator - 1) < 1e-6:
            return f"1/{denominator}"
    return f"{ratio:g}×"
