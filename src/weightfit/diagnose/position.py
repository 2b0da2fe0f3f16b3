"""The ``pos_embed_resize`` rule: position tables sized for another grid or length.

- a grid of position tokens ``n×n`` against ``m×m``, with the same prefix tokens
  (class, distillation, registers) in front: another image or patch size;
- a relative-position bias table ``(2w-1)²`` against ``(2w'-1)²`` (Swin, BEiT):
  another attention window, with its derived ``relative_position_index`` buffer;
- a 1-D table of ``n`` against ``m`` positions: another sequence length;
- one table against the model's factorized spatial + temporal pair (video
  backbones built from image ones).

Only tensors named for positions, shaped like tables (``[tokens, C]`` or
``[1, tokens, C]``), and differing on the token axis alone qualify.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import cast

from weightfit.align.roles import SEGMENT_ROLES
from weightfit.alignment import Pair
from weightfit.diagnose._context import Context, shape_text
from weightfit.findings import Finding
from weightfit.manifest import TensorSpec, counted
from weightfit.plan import Op
from weightfit.tree import stack_of

MAX_PREFIX_TOKENS = 8
"""Most class / distillation / register tokens in front of a position grid (DeiT 2, ViT-reg 4+1)."""

_POSITION_WORDS = ("pos", "position")


def factorized_pos_embed(ctx: Context) -> None:
    """Report one position table against factorized spatial + temporal tables (either side).

    Video backbones built from image ones (Open-Sora, Latte) split ``pos_embed``
    ``[1, h·w, C]`` into ``pos_embed_spatial`` (the same grid) and a new
    ``pos_embed_temporal`` ``[1, frames, C]``. The alignment pairs the grid with
    its spatial twin by shape; the temporal table is left over on the side that
    factorizes.
    """
    missing = [m for m in ctx.missing() if _is_position(m)]
    unexpected = [u for u in ctx.unexpected() if _is_position(u)]
    for pair in ctx.pairs():
        if pair.via != "rename" or not (_is_position(pair.source) and _is_position(pair.target)):
            continue
        width = ctx.tgt(pair).shape[-1:]
        added = [
            m
            for m in missing
            if _parent(m) == _parent(pair.target) and ctx.target[m].shape[-1:] == width
        ]
        extra = [
            u
            for u in unexpected
            if _parent(u) == _parent(pair.source) and ctx.source[u].shape[-1:] == width
        ]
        if added:
            _report_factorized(ctx, pair, added)
            missing = [m for m in missing if m not in added]
        elif extra:
            _report_merged(ctx, pair, extra)
            unexpected = [u for u in unexpected if u not in extra]


def _report_factorized(ctx: Context, pair: Pair, partners: list[str]) -> None:
    """Report the model's spatial + temporal tables against the checkpoint's single one."""
    shape = ctx.src(pair).shape
    tokens = shape[-2] if len(shape) >= 2 else 0
    side = square_root(tokens)
    grid = f" (a {side}×{side} grid)" if side else ""
    added = ", ".join(f"{m} {shape_text(ctx.target[m].shape)}" for m in partners)
    fixed = bool(ctx.tgt(pair).is_buffer)
    if fixed:
        fix = [Op("drop", {"name": pair.source}, "pos_embed_resize: the model computes its own")]
        fix += [
            Op("reinit", {"name": n}, "pos_embed_resize: fixed buffer")
            for n in [pair.target, *partners]
        ]
        note = "the model's tables are buffers it computes (sin-cos): drop the checkpoint's"
    else:
        fix = [
            Op(
                "rename",
                {"from": ctx.renamed(pair.source), "to": pair.target},
                "pos_embed_resize: the grid maps onto the spatial table",
            )
        ]
        fix += [Op("reinit", {"name": n}, "pos_embed_resize: new temporal table") for n in partners]
        note = (
            "the spatial table takes the checkpoint's grid as is; the temporal table is new "
            "(zeros or sin-cos, as the model initialises it). If the model computes both as "
            "fixed sin-cos buffers, drop the checkpoint's table instead"
        )
    ctx.add(
        Finding(
            category="pos_embed_resize",
            severity="error",
            message=(
                f"the model factorizes position embeddings: checkpoint {pair.source} "
                f"{shape_text(shape)}{grid} ↔ model {pair.target} "
                f"{shape_text(ctx.tgt(pair).shape)} + {added} (new)"
            ),
            params=[pair.source, *partners],
            evidence={
                "kind": "factorized",
                "checkpoint": pair.source,
                "spatial": pair.target,
                "added": partners,
                "grid": [side, side] if side else None,
                "model_tables_are_buffers": fixed,
            },
            confidence=0.8,
            fix=fix,
            fix_note=note,
        )
    )
    ctx.consume(pairs=[pair], missing=partners)


def _report_merged(ctx: Context, pair: Pair, extra: list[str]) -> None:
    """Report factorized tables in the checkpoint against the model's single table."""
    dropped = ", ".join(f"{u} {shape_text(ctx.source[u].shape)}" for u in extra)
    fix = [Op("drop", {"name": u}, "pos_embed_resize: the model has no such table") for u in extra]
    fix.append(
        Op(
            "rename",
            {"from": ctx.renamed(pair.source), "to": pair.target},
            "pos_embed_resize: the spatial grid is the model's table",
        )
    )
    ctx.add(
        Finding(
            category="pos_embed_resize",
            severity="error",
            message=(
                f"the checkpoint factorizes position embeddings the model keeps in one table: "
                f"{pair.source} {shape_text(ctx.src(pair).shape)} ↔ model {pair.target} "
                f"{shape_text(ctx.tgt(pair).shape)}; {dropped} has no place in the model"
            ),
            params=[pair.source, *extra],
            evidence={
                "kind": "merged",
                "spatial": pair.source,
                "model": pair.target,
                "dropped": extra,
            },
            confidence=0.8,
            fix=fix,
            fix_note="the spatial grid maps onto the model's table; the per-frame table is dropped",
        )
    )
    ctx.consume(pairs=[pair], unexpected=extra)


def _is_position(name: str) -> bool:
    leaf = name.rsplit(".", 1)[-1].lower()
    return any(word in leaf for word in _POSITION_WORDS)


def _names_position(name: str) -> bool:
    """Whether a name says positions: a "pos" word, or a module named for them (``wpe``)."""
    lower = name.lower()
    return any(word in lower for word in _POSITION_WORDS) or any(
        "pos" in SEGMENT_ROLES.get(part, ()) for part in lower.split(".")
    )


def _parent(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else ""


def pos_embed_resize(ctx: Context) -> None:
    """Report position embeddings or tables sized for another grid or sequence length."""
    found: list[tuple[Pair, Op | None, dict[str, object]]] = []
    for pair in ctx.mismatches():
        result = _position_change(ctx, pair)
        if result is not None:
            found.append((pair, *result))
    if not found:
        return
    grids = [ev for _, _, ev in found if ev["kind"] != "index"]
    lead = grids[0] if grids else found[0][2]
    note = _pos_note(lead)
    if lead["kind"] == "sequence":
        lengths = cast(int, lead["to_length"]), cast(int, lead["from_length"])
        keys = ctx.config_keys(*lengths)
        note = _pos_note(lead, keys[0] if keys else "max_position_embeddings")
    if "image_size" in lead:
        # Evidence values are the plain lists and numbers _position_change stored.
        have_size, want_size = cast("list[int]", lead["image_size"])
        keys = ctx.config_keys(want_size, have_size)
        if keys:
            note += f" (model built with {keys[0]}={want_size}; the checkpoint has {have_size})"
    # The patch embedding of another kernel is the same cause, not a second difference.
    kernels = _patch_kernels(ctx) if "checkpoint_patch_size" in lead else []
    finding = Finding(
        category="pos_embed_resize",
        severity="error",
        message=_pos_message(lead, len(found)),
        params=[pair.source for pair, _, _ in found] + [pair.source for pair in kernels],
        evidence={"tensors": [ev for _, _, ev in found][:8], "count": len(found)},
        confidence=min(cast(float, ev["confidence"]) for _, _, ev in found),
        fix=[op for _, op, _ in found if op is not None],
        fix_note=note,
    )
    ctx.add(_as_variant(finding, ctx.variant_found()))
    ctx.consume(pairs=[pair for pair, _, _ in found] + kernels)


def _as_variant(finding: Finding, variant: Finding | None) -> Finding:
    """A position size beside layers already read as another variant is that variant's own.

    SD3.5-medium against SD3-medium: other blocks and another ``pos_embed_max_size``.
    Resampling the table alone would not make the checkpoint load.
    """
    if variant is None:
        return finding
    finding.evidence["also_acceptable"] = ["pos_embed_resize"]
    return Finding(
        category="wrong_variant",
        severity="error",
        message=f"another variant of the same model: {finding.message}, and other layers "
        f"differ as variants do ({variant.message})",
        params=finding.params,
        evidence=finding.evidence,
        confidence=min(finding.confidence, variant.confidence),
        fix_note="build the model as the checkpoint's variant, with its image size too; "
        f"or, to fine-tune another build, {finding.fix_note}",
    )


def _position_change(ctx: Context, pair: Pair) -> tuple[Op | None, dict[str, object]] | None:
    """Classify one mismatch as a position-grid change (or not)."""
    have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
    if len(have) != len(want):
        return None
    axes = [i for i, (a, b) in enumerate(zip(have, want, strict=True)) if a != b]
    named = _names_position(pair.target)
    leaf = pair.target.rsplit(".", 1)[-1]
    if leaf == "relative_position_index" and len(axes) == 2 and len(have) == 2:
        ev: dict[str, object] = {
            "kind": "index",
            "name": pair.target,
            "checkpoint": list(have),
            "model": list(want),
            "confidence": 0.9,
        }
        return Op("reinit", {"name": pair.target}, "derived buffer: the model computes its own"), ev
    # A position table is [tokens, C] or [1, tokens, C] and only its token axis
    # differs; a name that does not say positions is never read as one.
    if not named or len(axes) != 1 or len(have) not in (2, 3) or axes[0] != len(have) - 2:
        return None
    if len(have) == 3 and (have[0], want[0]) != (1, 1):
        return None
    axis = axes[0]
    a, b = have[axis], want[axis]
    relative = "relative" in pair.target.lower()
    patch = _patch_size(ctx.target.tensors.values())
    own_patch = _patch_size(ctx.source.tensors.values()) or patch
    # Text models keep [positions, C] tables and no patch embedding: a square
    # count there (256 vs 1024) is a sequence length, not a grid.
    grid_like = relative or len(have) == 3 or patch is not None
    # A grid of tokens: prefix + n² against prefix + m², the same prefix on both sides.
    for prefix in range(MAX_PREFIX_TOKENS + 1 if grid_like else 0):
        n, m = square_root(a - prefix), square_root(b - prefix)
        if n and m and n > 1 and m > 1:
            if relative and n % 2 == 1 and m % 2 == 1 and prefix in (0, 3):
                # (2w-1)² rows, plus BEiT's 3 cls-to-token / token-to-cls / cls-to-cls rows.
                return _relative_table(pair, have, want, axis, n, m, prefix)
            ev = {**_grid_evidence(pair, have, want, n, m, prefix), "confidence": 0.9}
            if patch and own_patch:
                ev["patch_size"] = patch
                ev["image_size"] = [n * own_patch, m * patch]
            if own_patch != patch:
                # Another patch size makes another grid at (almost) the same image size: the
                # patch embedding must be rebuilt too, which resampling the grid does not do.
                ev["checkpoint_patch_size"] = own_patch
                ev["confidence"] = 0.6
                return None, ev
            op = Op(
                "resample_pos_embed",
                {
                    "name": pair.target,
                    "from_grid": [n, n],
                    "to_grid": [m, m],
                    "prefix_tokens": prefix,
                    "mode": "bicubic",
                },
                "pos_embed_resize: another image size",
            )
            return op, ev
    if len(have) == 3:
        grids = _grids_with_own_prefixes(a, b)
        if grids is not None:
            (n, p), (m, q) = grids
            # Another grid and another count of class / distillation / register tokens in
            # front (DeiT's 2 against ViT's 1): no resampling keeps the prefix tokens apart.
            return None, {
                **_grid_evidence(pair, have, want, n, m, p),
                "model_prefix_tokens": q,
                "confidence": 0.7,
            }
    if len(have) == 2:
        ev = {
            "kind": "sequence",
            "name": pair.target,
            "checkpoint": list(have),
            "model": list(want),
            "from_length": a,
            "to_length": b,
            "confidence": 0.8,
        }
        if a > b:
            op = Op(
                "truncate_rows",
                {"name": pair.target, "rows": b},
                "pos_embed_resize: shorter sequence",
            )
        else:
            op = Op(
                "pad_rows",
                {"name": pair.target, "rows": b, "init": "mean"},
                "pos_embed_resize: longer sequence",
            )
        return op, ev
    return None


def _grid_evidence(
    pair: Pair, have: tuple[int, ...], want: tuple[int, ...], n: int, m: int, prefix: int
) -> dict[str, object]:
    """Evidence of a token grid resized from n x n to m x m behind ``prefix`` tokens."""
    return {
        "kind": "grid",
        "name": pair.target,
        "checkpoint": list(have),
        "model": list(want),
        "from_grid": [n, n],
        "to_grid": [m, m],
        "prefix_tokens": prefix,
    }


def _relative_table(
    pair: Pair, have: tuple[int, ...], want: tuple[int, ...], axis: int, n: int, m: int, prefix: int
) -> tuple[Op | None, dict[str, object]]:
    ev: dict[str, object] = {
        "kind": "relative_table",
        "name": pair.target,
        "checkpoint": list(have),
        "model": list(want),
        "from_window": (n + 1) // 2,
        "to_window": (m + 1) // 2,
        "extra_tokens": prefix,
        "confidence": 0.85,
    }
    if axis != 0 or prefix:
        return None, ev
    op = Op(
        "resample_pos_embed",
        {
            "name": pair.target,
            "from_grid": [n, n],
            "to_grid": [m, m],
            "prefix_tokens": 0,
            "mode": "bicubic",
        },
        "pos_embed_resize: relative-position table for another window",
    )
    return op, ev


def square_root(value: int) -> int:
    """Return the integer square root of ``value`` when it is a perfect square, else 0."""
    if value <= 0:
        return 0
    root = math.isqrt(value)
    return root if root * root == value else 0


def _patch_size(tensors: Iterable[TensorSpec]) -> int | None:
    """Return one side's patch size: the first square kernel outside the layer stacks."""
    for spec in tensors:
        if _patch_kernel(spec.shape) and stack_of(spec.name) is None:
            return spec.shape[2]
    return None


def _patch_kernel(shape: tuple[int, ...]) -> bool:
    return len(shape) == 4 and shape[2] == shape[3] and shape[2] > 1


def _patch_kernels(ctx: Context) -> list[Pair]:
    """The differing square kernels outside the layer stacks: patch embeddings of two sizes."""
    return [
        pair
        for pair in ctx.mismatches()
        if stack_of(pair.target) is None
        and _patch_kernel(ctx.src(pair).shape)
        and _patch_kernel(ctx.tgt(pair).shape)
    ]


def _grids_with_own_prefixes(a: int, b: int) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """Grids of ``a`` and ``b`` tokens with different prefix counts, the fewest prefixes first.

    Returns ``((grid side, prefix), (grid side, prefix))`` for checkpoint and model.
    """
    options = [
        ((n, p), (m, q))
        for p in range(MAX_PREFIX_TOKENS + 1)
        for q in range(MAX_PREFIX_TOKENS + 1)
        if p != q and (n := square_root(a - p)) and (m := square_root(b - q)) and n > 1 and m > 1
    ]
    return min(options, key=lambda o: o[0][1] + o[1][1]) if options else None


def _pos_message(ev: dict[str, object], count: int) -> str:
    more = f" (+{count - 1} more)" if count > 1 else ""
    name = ev["name"]
    if ev["kind"] == "grid":
        (n, _), (m, _) = cast("list[int]", ev["from_grid"]), cast("list[int]", ev["to_grid"])
        prefix = ev["prefix_tokens"]
        tokens = f" + {counted(cast('int', prefix), 'prefix token')}" if prefix else ""
        theirs = ev.get("model_prefix_tokens")
        model_tokens = f" + {counted(cast('int', theirs), 'prefix token')}" if theirs else ""
        if theirs is not None and n == m:
            return (
                f"position embeddings for another number of tokens in front of the grid "
                f"(class, distillation, register or pretext tokens): {name} has {n}×{n}"
                f"{tokens} in the checkpoint, {m}×{m}{model_tokens} in the model{more}"
            )
        size = ""
        if "image_size" in ev:
            a, b = cast("list[int]", ev["image_size"])
            size = f" ({a}px vs {b}px at patch {ev['patch_size']})"
            if "checkpoint_patch_size" in ev:
                patches = ev["checkpoint_patch_size"], ev["patch_size"]
                size = f" ({a}px at patch {patches[0]} vs {b}px at patch {patches[1]})"
        cause = "patch size" if "checkpoint_patch_size" in ev else "image size"
        return (
            f"position embeddings sized for another {cause}: {name} has a grid of {n}×{n}"
            f"{tokens} in the checkpoint, {m}×{m}{model_tokens} in the model{size}{more}"
        )
    if ev["kind"] == "relative_table":
        return (
            f"relative-position table for another window: {name} window {ev['from_window']} "
            f"in the checkpoint, {ev['to_window']} in the model{more}"
        )
    if ev["kind"] == "sequence":
        return (
            f"position table for another sequence length: {name} has {ev['from_length']} "
            f"positions in the checkpoint, {ev['to_length']} in the model{more}"
        )
    return f"derived position index {name} sized for another window{more}"


def _pos_note(ev: dict[str, object], length_field: str = "max_position_embeddings") -> str:
    if ev["kind"] == "sequence":
        return (
            "truncating keeps the first positions exactly; extra positions need training "
            f"(or set {length_field} to the checkpoint's length)"
        )
    if "checkpoint_patch_size" in ev:
        return (
            f"build the model with patch_size={ev['checkpoint_patch_size']} as the checkpoint "
            "was: resampling the grid leaves the patch embedding's kernel of another size"
        )
    return (
        "interpolating the grid (bicubic, as timm's resample_abs_pos_embed) is the usual "
        "fine-tuning start; or build the model for the checkpoint's image size"
    )
