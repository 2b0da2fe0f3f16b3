"""The ``quantization`` rule when both sides are quantized, by other schemes or settings.

A bitsandbytes NF4 save against a model saved in 8-bit, MLX 4-bit against 8-bit or
group 32 against group 64, quanto qint4 against qint8: each side names its scheme by
its own side tensors (:mod:`weightfit.diagnose.quantization`'s table) or its storage
dtype. Their packed widths and side tensors differ without any model size, encoder
or layer count differing, so one finding names both schemes and claims every
difference quantization makes: no shape operation turns one quantized layout into
another.
"""

from __future__ import annotations

from collections import defaultdict

from weightfit import dtypes
from weightfit.alignment import Pair
from weightfit.diagnose._context import Context, is_float, shape_text
from weightfit.diagnose.quantization import SIDE_SUFFIXES, label_of
from weightfit.findings import Finding
from weightfit.manifest import Manifest, counted

NOTE = (
    "the two sides are quantized otherwise: dequantize the checkpoint with the library that "
    "wrote it (or take the float original) and quantize it as the model is, or build the "
    "model with the checkpoint's quantization settings; no shape operation converts one "
    "quantized layout into another"
)


def requantized(ctx: Context) -> None:
    """Report a checkpoint and a model quantized by other schemes or settings, as one finding."""
    have = _schemes(ctx, ctx.source, checkpoint=True)
    want = _schemes(ctx, ctx.target, checkpoint=False)
    if not have or not want:
        return
    side_names = {n for n in ctx.target.tensors if _side(n)} | {
        ctx.renamed(n) for n in ctx.unexpected() if _side(ctx.renamed(n))
    }
    owners = {_owner(n) for n in side_names}
    pairs = [p for p in ctx.pairs() if _differs(ctx, p, side_names)]
    missing = [n for n in ctx.missing() if n in side_names or n in owners]
    unexpected = [n for n in ctx.unexpected() if ctx.renamed(n) in side_names | owners]
    if not (pairs or missing or unexpected):
        return
    shown = ""
    if pairs:
        first = pairs[0]
        src, tgt = ctx.src(first), ctx.tgt(first)
        shown = (
            f": {first.target} {src.dtype}{shape_text(src.shape)} vs "
            f"{tgt.dtype}{shape_text(tgt.shape)}"
        )
    checkpoint, model = " / ".join(sorted(have)), " / ".join(sorted(want))
    if checkpoint == model:
        checkpoint += " (other settings)"
    ctx.add(
        Finding(
            category="quantization",
            severity="error",
            message=(
                f"checkpoint and model are quantized otherwise: checkpoint {checkpoint}, "
                f"model {model}{shown}; {counted(len(pairs), 'tensor')} differ, "
                f"{len(missing)} missing, {len(unexpected)} unexpected"
            ),
            params=[p.source for p in pairs] + unexpected + missing,
            evidence={
                "scheme": f"checkpoint {checkpoint}; model {model}",
                "checkpoint_schemes": sorted(have),
                "model_schemes": sorted(want),
                "weights": len(pairs),
                "side_tensors": len(missing) + len(unexpected),
            },
            confidence=0.9,
            fix_note=NOTE,
        )
    )
    ctx.consume(pairs=pairs, missing=missing, unexpected=unexpected)


def _side(name: str) -> bool:
    return any(name.endswith(suffix) for suffix, _, _ in SIDE_SUFFIXES)


def _owner(name: str) -> str:
    """The weight a side tensor belongs to (its own name when it is none)."""
    for suffix, _, owner_leaf in SIDE_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)] + owner_leaf
    return name


def _schemes(ctx: Context, manifest: Manifest, *, checkpoint: bool) -> set[str]:
    """The schemes one side's tensors are quantized by: side tensors, else storage dtypes."""
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for name in manifest.tensors:
        model_name = ctx.renamed(name) if checkpoint else name
        for suffix, kind, owner_leaf in SIDE_SUFFIXES:
            if model_name.endswith(suffix):
                groups[model_name[: -len(suffix)] + owner_leaf].append((name, kind))
                break
    found = set()
    for owner, entries in groups.items():
        kinds = {kind for _, kind in entries}
        names = {name for name, _ in entries}
        found.add(label_of(ctx, kinds, names, owner, checkpoint=checkpoint))
    if not found:
        found = {
            f"{spec.dtype} storage"
            for name, spec in manifest.tensors.items()
            if name.endswith("weight") and len(spec.shape) == 2 and _quantized(spec.dtype)
        }
    return found


def _quantized(dtype: str) -> bool:
    """Quantized storage: a GGML block type, an 8-bit float, or integers in a weight."""
    if dtype in dtypes.BLOCK_TYPES or dtype.startswith("F8"):
        return True
    return not is_float(dtype) and dtype != "BOOL"


def _differs(ctx: Context, pair: Pair, side_names: set[str]) -> bool:
    """Whether quantization explains a pair: a side tensor or quantized weight differing.

    Another shape, or another quantized dtype; two GGML block types load alike in a GGUF
    runtime. A side tensor paired by a rename (``bitsandbytes__nf4`` → ``__fp4``) is
    another scheme's.
    """
    src, tgt = ctx.src(pair), ctx.tgt(pair)
    if not (_quantized(src.dtype) or _quantized(tgt.dtype) or pair.target in side_names):
        return False
    if src.shape != tgt.shape or (pair.via == "rename" and pair.target in side_names):
        return True
    blocks = src.dtype in dtypes.BLOCK_TYPES and tgt.dtype in dtypes.BLOCK_TYPES
    return src.dtype != tgt.dtype and not blocks
