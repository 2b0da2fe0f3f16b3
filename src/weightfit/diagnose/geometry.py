"""Geometry rules: the same numbers laid out otherwise.

- ``fused_split``: q, k, v (or gate, up) kept apart on one side and fused on the
  other; the alignment found the groups by name spelling and shape arithmetic.
- ``rank_inflate``: rank r against r+1 with a singleton axis and every other
  dimension equal (2D vs 3D convolutions, Linear vs 1×1 conv); a temporal
  kernel longer than 1 needs an inflation, which is reviewed.
- ``transpose``: a matrix stored ``[in, out]`` against ``[out, in]`` (GPT-2
  ``Conv1D`` against ``nn.Linear``), consistent across layers.

Position tables (``pos_embed_resize``) live in :mod:`weightfit.diagnose.position`.
"""

from __future__ import annotations

from dataclasses import dataclass

from weightfit.alignment import Pair
from weightfit.diagnose._context import Context, layer_template, shape_text, shapes_of
from weightfit.findings import Finding
from weightfit.plan import Op
from weightfit.tree import stack_of


def fused_split(ctx: Context) -> None:
    """Report fused projections against separate ones, one finding per direction."""
    for parts_side in ("source", "target"):
        groups = [g for g in ctx.alignment.fused if g.parts_side == parts_side]
        if not groups:
            continue
        ops: list[Op] = []
        params: list[str] = []
        examples: list[dict[str, object]] = []
        for group in groups:
            specs_parts = [
                ctx.source[p] if parts_side == "source" else ctx.target[p] for p in group.parts
            ]
            fused_spec = (
                ctx.target[group.fused] if parts_side == "source" else ctx.source[group.fused]
            )
            sizes = [spec.shape[group.axis] for spec in specs_parts]
            if parts_side == "source":
                ops.append(
                    Op(
                        "concat",
                        {
                            "names": [_model_name(ctx, p) for p in group.parts],
                            "into": group.fused,
                            "dim": group.axis,
                        },
                        reason="fused_split: model fuses these projections",
                    )
                )
                params.extend(group.parts)
            else:
                ops.append(
                    Op(
                        "split",
                        {
                            "name": _model_name(ctx, group.fused),
                            "into": list(group.parts),
                            "sizes": sizes,
                            "dim": group.axis,
                        },
                        reason="fused_split: model keeps these projections apart",
                    )
                )
                params.append(group.fused)
            if len(examples) < 2:
                examples.append(
                    {
                        "parts": list(group.parts),
                        "fused": group.fused,
                        "sizes": sizes,
                        "fused_shape": list(fused_spec.shape),
                    }
                )
        first = groups[0]
        part_words = "+".join(p.rsplit(".", 2)[-2] for p in first.parts)
        fused_word = first.fused.rsplit(".", 2)[-2]
        if parts_side == "source":
            what = (
                f"checkpoint keeps {part_words} apart where the model fuses them into {fused_word}"
            )
        else:
            what = f"checkpoint fuses {fused_word} where the model keeps {part_words} apart"
        ctx.add(
            Finding(
                category="fused_split",
                severity="error",
                message=f"{what}: {len(groups)} groups, sizes {examples[0]['sizes']} "
                f"along dim {first.axis}",
                params=params,
                evidence={"groups": len(groups), "examples": examples, "axis": first.axis},
                confidence=0.9,
                fix=ops,
                fix_note=(
                    "assumes plain concatenation [q; k; v] along the axis (timm, DiT, Llama "
                    "gate_up); layouts interleaved per head (GPT-NeoX, BLOOM query_key_value) "
                    "need a reshape first"
                ),
            )
        )


@dataclass
class _RankChange:
    """One pair whose ranks differ, and the op (if any) that fixes it."""

    pair: Pair
    have: tuple[int, ...]
    want: tuple[int, ...]
    op: Op | None

    def example(self) -> dict[str, object]:
        return {"name": self.pair.target, "checkpoint": list(self.have), "model": list(self.want)}


def rank_inflate(ctx: Context) -> None:
    """Report rank differences explained by singleton axes (or a temporal kernel)."""
    up: list[_RankChange] = []
    down: list[_RankChange] = []
    for pair in ctx.mismatches():
        have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
        if ctx.partial and min(len(have), len(want)) == 1:
            continue  # a vector with singleton axes is a storage layout, not a kernel
        if len(want) > len(have):
            op = _grow(pair.target, have, want)
            if op is not None and not _channel_axis(op, want):
                up.append(_RankChange(pair, have, want, op))
        elif len(want) < len(have):
            op = _shrink(pair.target, have, want)
            if op is not None or _lossy_axis(have, want) is not None:
                down.append(_RankChange(pair, have, want, op))
    if up:
        exact = all(c.op is not None and c.op.safety.value == "exact" for c in up)
        note = (
            "a new axis of size 1 keeps every value: the model computes exactly what the "
            "checkpoint's did (per frame)"
            if exact
            else "inflating a kernel over a new axis makes up values (I3D); review it, or "
            "build the model with a kernel of 1 on that axis"
        )
        _add_rank(ctx, up, "model expects more axes than the checkpoint has", exact, note)
    if down:
        exact = all(c.op is not None for c in down)
        note = (
            "the extra axes have size 1: removing them keeps every value"
            if exact
            else "a kernel longer than 1 on the extra axis cannot be removed without losing "
            "values: sum it over that axis (a constant input gives the same response), or "
            "build the model with that axis"
        )
        _add_rank(ctx, down, "checkpoint has axes the model lacks", exact, note)


def _add_rank(ctx: Context, changes: list[_RankChange], what: str, exact: bool, note: str) -> None:
    first = changes[0]
    more = f" (+{len(changes) - 1} more)" if len(changes) > 1 else ""
    ctx.add(
        Finding(
            category="rank_inflate",
            severity="error",
            message=(
                f"{what}: {first.pair.target} {shape_text(first.have)} in the checkpoint, "
                f"{shape_text(first.want)} in the model{_kernel_text(first.have, first.want)}"
                f"{more}"
            ),
            params=[c.pair.source for c in changes],
            evidence={"tensors": [c.example() for c in changes[:8]], "count": len(changes)},
            confidence=(0.95 if exact else 0.7) - (0.35 if _pointwise_only(ctx, changes) else 0),
            fix=[c.op for c in changes if c.op is not None],
            fix_note=note,
        )
    )
    ctx.consume(pairs=[c.pair for c in changes])


def _pointwise_only(ctx: Context, changes: list[_RankChange]) -> bool:
    """Whether a text shows only 1x1 convolutions against linear layers.

    The same weights in another layer type is a model variant or code version
    (SD 2's linear ``proj_in`` against SD 1's 1x1 conv) as often as an inflation.
    """
    return ctx.partial and all(
        max(c.have, c.want, key=len) == (*min(c.have, c.want, key=len), 1, 1) for c in changes
    )


def _grow(name: str, have: tuple[int, ...], want: tuple[int, ...]) -> Op | None:
    """Return the op turning ``have`` into ``want`` by adding axes, or ``None``."""
    if len(want) == len(have) + 1:
        for dim in _axes(len(want)):
            if want[:dim] + want[dim + 1 :] == have:
                if want[dim] == 1:
                    return Op(
                        "unsqueeze", {"name": name, "dim": dim}, "rank_inflate: new axis of 1"
                    )
                return Op(
                    "inflate",
                    {"name": name, "dim": dim, "size": want[dim], "mode": "center"},
                    "rank_inflate: kernel inflated over a new axis",
                )
        return None
    if _without_ones(have) == _without_ones(want):
        return Op("reshape", {"name": name, "shape": list(want)}, "rank_inflate: singleton axes")
    return None


def _shrink(name: str, have: tuple[int, ...], want: tuple[int, ...]) -> Op | None:
    """Return the exact op removing singleton axes from ``have`` to reach ``want``, if any."""
    if len(have) == len(want) + 1:
        for dim in _axes(len(have)):
            if have[dim] == 1 and have[:dim] + have[dim + 1 :] == want:
                return Op("squeeze", {"name": name, "dim": dim}, "rank_inflate: drop axis of 1")
    if _without_ones(have) == _without_ones(want):
        return Op("reshape", {"name": name, "shape": list(want)}, "rank_inflate: singleton axes")
    return None


def _lossy_axis(have: tuple[int, ...], want: tuple[int, ...]) -> int | None:
    """Return the axis (a kernel longer than 1) whose removal would give ``want``."""
    if len(have) != len(want) + 1:
        return None
    for dim in _axes(len(have)):
        if have[dim] > 1 and have[:dim] + have[dim + 1 :] == want:
            return dim
    return None


def _channel_axis(op: Op, want: tuple[int, ...]) -> bool:
    """Whether a new axis of 1 is a kernel's channel axis, not a spatial or temporal one.

    ``[64, 3, 3]`` against ``[64, 1, 3, 3]`` is a depthwise kernel stored without its
    per-group input axis: another storage layout of the same 2-D kernel, no inflation.
    """
    return op.kind == "unsqueeze" and len(want) >= 4 and op.args["dim"] < 2


def _axes(rank: int) -> list[int]:
    """Axes to try for a new (or removed) axis: kernel axes first for ``[out, in, *kernel]``."""
    return [*range(2, rank), *range(min(rank, 2))]


def _without_ones(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(s for s in shape if s != 1)


def _kernel_text(have: tuple[int, ...], want: tuple[int, ...]) -> str:
    """`` (Conv2d kernel (2, 2) → Conv3d kernel (1, 2, 2))`` for convolution weights."""
    if len(have) >= 3 and len(want) >= 3 and have[:2] == want[:2]:
        return (
            f" (Conv{len(have) - 2}d kernel {tuple(have[2:])} → "
            f"Conv{len(want) - 2}d kernel {tuple(want[2:])})"
        )
    return ""


def transpose(ctx: Context) -> None:
    """Report matrices stored transposed, with the square ones of the same layers."""
    swapped = [
        pair
        for pair in ctx.mismatches()
        if len(ctx.src(pair).shape) == 2
        and ctx.src(pair).shape == tuple(reversed(ctx.tgt(pair).shape))
    ]
    if not swapped:
        return
    layers = {_module_template(pair.target) for pair in swapped}
    blocks = {_block_template(pair.target) for pair in swapped}
    transposed = {pair.source for pair in swapped}
    same_blocks = [
        pair
        for pair in ctx.pairs()
        if pair.source not in transposed
        and pair.target.endswith(".weight")
        and len(ctx.tgt(pair).shape) == 2
        and ctx.src(pair).shape == ctx.tgt(pair).shape
        and _block_template(pair.target) in blocks
        and not _is_norm_like(pair.target)
    ]
    # A non-square matrix of the same blocks stored the model's way means the
    # layout is not uniform: then square ones cannot be told and stay as they are.
    uniform = all(ctx.tgt(p).shape[0] == ctx.tgt(p).shape[1] for p in same_blocks)
    square = [p for p in same_blocks if _module_template(p.target) not in layers] if uniform else []
    every = swapped + square
    ops = [Op("transpose", {"name": pair.target, "dims": [1, 0]}, "transpose") for pair in every]
    first = swapped[0]
    message = (
        f"{len(swapped)} matrix(es) stored transposed ([in, out] as GPT-2 Conv1D does, "
        f"against nn.Linear's [out, in]): {first.target} {shape_text(ctx.src(first).shape)} → "
        f"{shape_text(ctx.tgt(first).shape)}"
    )
    if square:
        message += f"; {len(square)} square matrices of the same layers assumed transposed too"
    ctx.add(
        Finding(
            category="transpose",
            severity="error",
            message=message,
            params=[pair.source for pair in every],
            evidence={
                "transposed": len(swapped),
                "templates": sorted({layer_template(p.target) for p in swapped}),
                "square_assumed_transposed": sorted({layer_template(p.target) for p in square}),
                "example": {
                    "name": first.target,
                    **shapes_of(ctx, first),
                },
            },
            confidence=0.9 if not square else 0.8,
            fix=ops,
            fix_note=(
                "square matrices cannot show their layout by shape: they are transposed with "
                "the others of the same layers; check one layer's output after loading"
                if square
                else ""
            ),
        )
    )
    ctx.consume(pairs=every)


def _block_template(name: str) -> str:
    """Return the repeated block a name lives in (``h``), or its parent module."""
    found = stack_of(name)
    if found is not None:
        return found[0]
    return name.rsplit(".", 2)[0]


def _module_template(name: str) -> str:
    return layer_template(name.rsplit(".", 1)[0])


def _is_norm_like(name: str) -> bool:
    return any(word in name.lower() for word in ("norm", "ln_", "embed", "wte", "wpe"))


def _model_name(ctx: Context, source_name: str) -> str:
    """Spell a checkpoint name as the shape ops see it (after the prefix transform)."""
    return ctx.renamed(source_name)
