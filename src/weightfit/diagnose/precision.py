"""The ``dtype_variant`` rule: precision differences that matter.

``load_state_dict`` casts every tensor to the parameter's dtype, so a dtype
difference never blocks a load; it matters when the cast can overflow (bfloat16
keeps float32's range, float16 tops out at 65504), when it silently halves the
precision of float32 (master) weights, or when a checkpoint mixes precisions in
a way a single variant file would not (a mixture of variant files). Widening
casts (a float16 checkpoint into a float32 model, the default of a model built
on ``meta``) are exact and not reported.
"""

from __future__ import annotations

from collections import Counter

from weightfit.alignment import Pair
from weightfit.diagnose._context import Context, is_float
from weightfit.findings import Finding
from weightfit.manifest import human_bytes
from weightfit.plan import Op

_HALF = ("F16", "BF16")


def dtype_variant(ctx: Context) -> None:
    """Report overflow-prone and lossy casts, and precisions mixed within the checkpoint."""
    by_cast: dict[tuple[str, str], list[Pair]] = {}
    for pair in ctx.alignment.pairs:
        have, want = ctx.src(pair).dtype, ctx.tgt(pair).dtype
        if have != want and is_float(have) and is_float(want) and not have.startswith("F8"):
            by_cast.setdefault((have, want), []).append(pair)
    for (have, want), pairs in by_cast.items():
        if have == "BF16" and want == "F16":
            _report_overflow(ctx, pairs)
        elif have == "F32" and want in _HALF:
            _report_narrowing(ctx, have, want, pairs)
    _report_mixed(ctx)


def _report_overflow(ctx: Context, pairs: list[Pair]) -> None:
    ctx.add(
        Finding(
            category="dtype_variant",
            severity="warning",
            message=(
                f"checkpoint is bfloat16 and the model float16 ({len(pairs)} tensors): values "
                "beyond ±65504 become inf when cast (bfloat16 keeps float32's range)"
            ),
            params=[p.source for p in pairs],
            evidence={"checkpoint_dtype": "BF16", "model_dtype": "F16", "tensors": len(pairs)},
            confidence=0.9,
            fix=[Op("cast", {"from": "BF16", "to": "F16"}, "dtype_variant: checked down-cast")],
            fix_note=(
                "build the model in bfloat16 (torch_dtype=torch.bfloat16); the cast op checks "
                "every value against float16's range and stops on the first overflow"
            ),
        )
    )


def _report_narrowing(ctx: Context, have: str, want: str, pairs: list[Pair]) -> None:
    size = sum(ctx.src(p).nbytes or 0 for p in pairs)
    ctx.add(
        Finding(
            category="dtype_variant",
            severity="info",
            message=(
                f"checkpoint stores {have} ({human_bytes(size)}, full-precision or master "
                f"weights) where the model holds {want}: loading rounds {len(pairs)} tensors"
            ),
            params=[p.source for p in pairs],
            evidence={"checkpoint_dtype": have, "model_dtype": want, "tensors": len(pairs)},
            confidence=0.9,
            fix_note="expected for inference in half precision; keep the float32 file for training",
        )
    )


def _report_mixed(ctx: Context) -> None:
    """Report a checkpoint whose matrices come in more than one float dtype."""
    # Scales and packed weights of a quantized checkpoint are its own business.
    quantized = {n for f in ctx.findings if f.category == "quantization" for n in f.params}
    matrices: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    for spec in ctx.source.tensors.values():
        if spec.name in quantized:
            continue
        if is_float(spec.dtype) and sum(s > 1 for s in spec.shape) >= 2:
            matrices[spec.dtype] += 1
            sizes[spec.dtype] += spec.nbytes or 0
    if len(matrices) < 2:
        return
    # Norms and biases kept in float32 next to half weights are normal; mixed
    # *matrices* are not what one variant file holds.
    main, _ = sizes.most_common(1)[0]
    others = [
        name
        for name, spec in ctx.source.tensors.items()
        if name not in quantized
        and sum(s > 1 for s in spec.shape) >= 2
        and is_float(spec.dtype)
        and spec.dtype != main
    ]
    ctx.add(
        Finding(
            category="dtype_variant",
            severity="info",
            message=(
                f"checkpoint mixes precisions: most matrices are {main}, {len(others)} are "
                f"{', '.join(sorted(set(matrices) - {main}))} (a mixture of variant files, or "
                "modules kept in float32 on purpose)"
            ),
            params=others,
            evidence={"matrices_by_dtype": dict(matrices), "bytes_by_dtype": dict(sizes)},
            confidence=0.6,
            fix_note=(
                "if one precision was meant, read the folder with --variant, or cast the rest "
                "(cast op) after checking which files were mixed"
            ),
        )
    )
