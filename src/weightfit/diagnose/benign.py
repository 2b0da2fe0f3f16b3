"""Benign differences, said to be benign.

- ``version``: a known change between library versions explains it: buffers made
  non-persistent or added (``position_ids``, ``num_batches_tracked``), and renames
  the knowledge tables record (``gamma``/``beta`` → ``weight``/``bias``, diffusers'
  attention ``query``/``key``/``value`` → ``to_q``/``to_k``/``to_v``), also where the
  aligner cannot pair the names (DenseNet ``norm.1`` → ``norm1``).
- ``missing`` (as ``info``): tensors a ``weightfit apply`` stamp says were left out
  on purpose (``reinit`` ops), so the model keeps its own initialisation for them.
- ``extra_state``: entries that are not model weights: optimizer state, EMA copies
  of the model, step counters, TransformerEngine ``_extra_state``, and other
  state dicts or values stored in the same file.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from weightfit import provenance
from weightfit.diagnose import _known
from weightfit.diagnose._context import Context, escape_pattern
from weightfit.diagnose.rename import compile_rule, rule_pairs
from weightfit.findings import Finding
from weightfit.manifest import FOLDER_EXTRAS, counted
from weightfit.plan import Op

_OPTIMIZER_WORDS = frozenset(
    {
        "optimizer",
        "optim",
        "optimizer_state",
        "exp_avg",
        "exp_avg_sq",
        "momentum_buffer",
        "lr_scheduler",
        "scheduler",
        "scaler",
        "grad_scaler",
    }
)
_COUNTERS = frozenset(
    {
        "step",
        "global_step",
        "epoch",
        "iteration",
        "iter",
        "num_updates",
        "_step_count",
        "steps",
        "num_steps",
        "decay",
    }
)


def reinitialised(ctx: Context) -> None:
    """Report tensors that ``weightfit apply`` left out on purpose, as its stamp records."""
    planned = set(provenance.reinit_of(ctx.source))
    names = [name for name in ctx.missing() if name in planned]
    if not names:
        return
    ctx.consume(missing=names)
    ctx.add(
        Finding(
            category="missing",
            severity="info",
            message=(
                f"{len(names)} tensor(s) were left out on purpose by `weightfit fix` (reinit): "
                "the model keeps its own initialisation for them, and they need training"
            ),
            params=names,
            evidence={"stamp": provenance.REINIT, "reinit": names},
            confidence=1.0,
            fix=[Op("reinit", {"name": name}, "left out by weightfit fix") for name in names],
            fix_note=(
                "load with weightfit.load_into (or load_state_dict(strict=False)); "
                "a strict load_state_dict reports them missing"
            ),
        )
    )


def version(ctx: Context) -> None:
    """Report buffers and renames that a known library change explains."""
    _buffers(ctx, "position_ids")
    _buffers(ctx, "num_batches_tracked")
    _causal_masks(ctx)
    _other_buffers(ctx)
    _known_renames(ctx)
    _table_renames(ctx)


CAUSAL_MASK_LEAVES = frozenset({"bias", "masked_bias", "causal_mask", "mask", "attn_mask"})
"""Leaf names of the square causal-mask buffer attention layers register (GPT-2's
``attn.bias``)."""


def _causal_masks(ctx: Context) -> None:
    """Report square causal-mask buffers of another size: the context length they were built for.

    GPT-2-style attention registers a ``[1, 1, n, n]`` lower-triangular mask sized by the
    context length; which config field sizes it, and whether it is saved at all, changed
    between releases. The model rebuilds it, so the checkpoint's copy carries nothing.
    """
    pairs = []
    for pair in ctx.mismatches():
        have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
        leaf = pair.target.rsplit(".", 1)[-1]
        if leaf in CAUSAL_MASK_LEAVES and _square_mask(have) and _square_mask(want):
            pairs.append(pair)
    if not pairs:
        return
    first = pairs[0]
    saved, built = ctx.src(first).shape[-1], ctx.tgt(first).shape[-1]
    ctx.add(
        Finding(
            category="version",
            severity="warning",
            message=(
                f"{counted(len(pairs), 'causal-mask buffer')} ({first.target}) "
                f"{'is' if len(pairs) == 1 else 'are'} {saved}x{saved} in the "
                f"checkpoint, {built}x{built} in the model: a mask the model builds for its "
                "context length, saved by a release that persisted it (or sized it from another "
                "config field); it holds no trained values"
            ),
            params=[p.source for p in pairs],
            evidence={"checkpoint_size": saved, "model_size": built, "buffers": len(pairs)},
            confidence=0.6,
            fix=[
                Op("drop", {"name": p.source}, "version: a causal mask the model rebuilds")
                for p in pairs
            ],
        )
    )
    ctx.consume(pairs=pairs)


def _square_mask(shape: tuple[int, ...]) -> bool:
    """Whether a shape is a square mask, with leading axes of 1 (``[1, 1, n, n]``)."""
    return len(shape) >= 2 and shape[-1] == shape[-2] > 1 and all(d == 1 for d in shape[:-2])


def _buffers(ctx: Context, leaf: str) -> None:
    """Report a position-ids or BatchNorm counter buffer present on one side only."""
    missing = [
        n for n in ctx.missing() if n.rsplit(".", 1)[-1] == leaf and _integer(ctx.target[n].dtype)
    ]
    unexpected = [
        n
        for n in ctx.unexpected()
        if n.rsplit(".", 1)[-1] == leaf and _integer(ctx.source[n].dtype)
    ]
    if not missing and not unexpected:
        return
    change = _known.version_change((unexpected or missing)[0])
    cited = f" ({change})" if change else ""
    if leaf == "position_ids":
        what = (
            "position_ids is a buffer of 0..n-1 that the model rebuilds; transformers made it "
            f"non-persistent{cited}, so files from one version have it and the other's do not"
        )
        missing_note = (
            "the model's own buffer is correct: load with strict=False, or from_pretrained, "
            "which ignores it"
        )
    else:
        what = (
            "num_batches_tracked is BatchNorm's step counter, added to state dicts in "
            f"PyTorch 0.4.1{cited}; it only matters with momentum=None"
        )
        missing_note = (
            "nothing to do: BatchNorm's load_state_dict fills it in when a state dict without "
            "version metadata lacks it"
        )
    _benign_buffers(
        ctx,
        unexpected,
        missing,
        what,
        evidence={"buffer": leaf, "known_change": change},
        confidence=0.95,
        fix=[Op("drop", {"pattern": r".*\." + escape_pattern(leaf)}, f"version: {leaf}")]
        if unexpected
        else [],
        fix_note=missing_note if missing else "dropping it is exact: the model rebuilds it",
    )


def _other_buffers(ctx: Context) -> None:
    """Report other buffers a known library change added or made non-persistent."""
    groups: dict[str, tuple[str, list[str], list[str]]] = {}
    for side, names in (("checkpoint", ctx.unexpected()), ("model", ctx.missing())):
        for name in names:
            change = _known.buffer_change(name)
            if change is None:
                continue
            key = f"{change.library} {change.version}: {change.description}"
            _, unexpected, missing = groups.setdefault(key, (change.source, [], []))
            (unexpected if side == "checkpoint" else missing).append(name)
    for what, (source, unexpected, missing) in groups.items():
        _benign_buffers(
            ctx,
            unexpected,
            missing,
            what,
            evidence={"known_change": source},
            confidence=0.9,
            fix=[Op("drop", {"name": n}, "version: buffer no longer saved") for n in unexpected],
            fix_note="the model rebuilds these buffers; the files differ only by version",
        )


def _benign_buffers(
    ctx: Context,
    unexpected: list[str],
    missing: list[str],
    what: str,
    *,
    evidence: dict[str, object],
    confidence: float,
    fix: list[Op],
    fix_note: str,
) -> None:
    """Add one ``version`` info finding for buffers on one side only, and consume them."""
    side = (
        f"{len(unexpected)} in the checkpoint only"
        if unexpected
        else f"{len(missing)} in the model only"
    )
    ctx.add(
        Finding(
            category="version",
            severity="info",
            message=f"benign: {side} — {what}",
            params=unexpected + missing,
            evidence={**evidence, "checkpoint_only": unexpected[:8], "model_only": missing[:8]},
            confidence=confidence,
            fix=fix,
            fix_note=fix_note,
        )
    )
    ctx.consume(missing=missing, unexpected=unexpected)


def _integer(dtype: str) -> bool:
    return dtype.startswith(("I", "U"))


def _known_renames(ctx: Context) -> None:
    """Report alignment renames that the knowledge tables record as a library change."""
    known = [
        (compile_rule(rule), change)
        for rule in ctx.alignment.renames
        if (change := _known.version_rename(rule.source, rule.target)) is not None
    ]
    if not known:
        return
    grouped = rule_pairs(ctx, [rule for rule, _ in known])
    by_change: dict[str, list[int]] = {}
    for index in grouped:
        by_change.setdefault(known[index][1], []).append(index)
    for change, indices in by_change.items():
        covered = [p.source for i in indices for p in grouped[i]]
        rules = [known[i][0] for i in indices]
        ctx.add(
            Finding(
                category="version",
                severity="error",
                message=(
                    f"{len(covered)} tensors use names from another library version: {change}; "
                    "the rename is exact"
                ),
                params=covered,
                evidence={
                    "change": change,
                    "rules": [{"checkpoint": r.rule.source, "model": r.rule.target} for r in rules],
                },
                confidence=0.95,
                fix=[r.op(f"version: {change}") for r in rules],
                fix_note="the library's own from_pretrained converts these names; a raw "
                "load_state_dict does not",
            )
        )


def _table_renames(ctx: Context) -> None:
    """Report checkpoint names a known rename turns into missing model names of the same shape.

    The aligner cannot always see these (``norm.1`` → ``norm1`` changes the segment
    count); the table states them, so each pair is exact.
    """
    missing = set(ctx.missing())
    by_change: dict[str, tuple[str, list[tuple[str, str]]]] = {}
    for name in ctx.unexpected():
        for change in _known.table_renames(name):
            new = change.renamed(name)
            if new is None or new not in missing or not _same_shape(ctx, name, new):
                continue
            by_change.setdefault(change.summary, (change.source, []))[1].append((name, new))
            missing.discard(new)
            break
    for summary, (source, pairs) in by_change.items():
        ctx.add(
            Finding(
                category="version",
                severity="error",
                message=(
                    f"{len(pairs)} tensors use names from another library version: {summary}; "
                    "the rename is exact"
                ),
                params=[old for old, _ in pairs],
                evidence={"known_change": source, "renames": [list(p) for p in pairs[:8]]},
                confidence=0.95,
                fix=[
                    Op("rename", {"from": old, "to": new}, f"version: {summary}")
                    for old, new in pairs
                ],
                fix_note="rename them (the library does so on load); load_state_dict does not",
            )
        )
        ctx.consume(unexpected=[old for old, _ in pairs], missing=[new for _, new in pairs])


def _same_shape(ctx: Context, old: str, new: str) -> bool:
    """Whether two tensors' shapes agree, where both are known."""
    have, want = ctx.source[old], ctx.target[new]
    return not (have.shape_known and want.shape_known) or have.shape == want.shape


def extra_state(ctx: Context) -> None:
    """Report optimizer state, EMA copies, counters and other non-model entries."""
    _ema_copies(ctx)
    _named(ctx, _is_optimizer, "optimizer state", "the optimizer's moments are not model weights")
    _named(ctx, _is_counter, "step counters", "training counters, not model weights")
    _named(
        ctx,
        lambda name: name.endswith("._extra_state"),
        "TransformerEngine _extra_state",
        "fp8 scaling metadata that TransformerEngine rebuilds",
    )
    _missing_extra_state(ctx)
    _other_containers(ctx)


def _ema_copies(ctx: Context) -> None:
    """Report a second copy of the model under a head such as ``ema.`` or ``model_ema.``."""
    targets = set(ctx.target.tensors)
    by_head: dict[str, list[str]] = {}
    mirrored: Counter[str] = Counter()
    for name in ctx.unexpected():
        segments = name.split(".")
        for cut in range(1, min(3, len(segments))):
            head = ".".join(segments[:cut]) + "."
            tail = ".".join(segments[cut:])
            twin = tail if tail in targets else ctx.renamed(tail)
            hit = twin in targets and ctx.target[twin].shape == ctx.source[name].shape
            if hit or _is_ema(head):
                by_head.setdefault(head, []).append(name)
                mirrored[head] += hit
                break
    for head, names in by_head.items():
        is_ema = _is_ema(head)
        # Without "ema" in the head, a copy must mirror the model's own names and shapes,
        # nearly all of them: a CLIP's vision tower shares most names with its text tower.
        under = sum(name.startswith(head) for name in ctx.unexpected())
        if not is_ema and (mirrored[head] < 2 or mirrored[head] < MIRRORED_SHARE * under):
            continue
        kind = "an EMA copy of the model" if is_ema else "another copy of the model"
        ctx.add(
            Finding(
                category="extra_state",
                severity="info",
                message=(
                    f"{len(names)} tensors under {head!r} are {kind}, not weights the model loads"
                ),
                params=names,
                evidence={
                    "head": head,
                    "tensors": len(names),
                    "mirror_model_names": mirrored[head],
                },
                confidence=0.9 if is_ema else 0.75,
                fix=[Op("drop", {"pattern": escape_pattern(head) + ".*"}, f"extra_state: {head}")],
                fix_note=(
                    f"to load these weights instead, select prefix {head!r} (EMA weights are "
                    "often the better ones for inference)"
                ),
            )
        )
        ctx.consume(unexpected=names)


MIRRORED_SHARE = 0.9
"""Share of a head's tensors that must be the model's own (name and shape) to call it a copy."""


def _is_ema(head: str) -> bool:
    """Whether a head's words include ``ema`` (``ema.``, ``model_ema.``, ``ema_model.``)."""
    return "ema" in re.split(r"[._]", head.lower())


def _named(ctx: Context, test: Callable[[str], bool], what: str, why: str) -> None:
    """Report the open unexpected names ``test`` accepts as one kind of extra entry."""
    names = [n for n in ctx.unexpected() if test(n)]
    if not names:
        return
    ctx.add(
        Finding(
            category="extra_state",
            severity="info",
            message=f"{len(names)} {what} entry(ies), e.g. {names[0]}: {why}",
            params=names,
            evidence={"entries": names[:8], "count": len(names)},
            confidence=0.9,
            fix=[Op("drop", {"name": n}, f"extra_state: {what}") for n in names],
            fix_note="dropping them is exact",
        )
    )
    ctx.consume(unexpected=names)


def _is_optimizer(name: str) -> bool:
    return bool(_OPTIMIZER_WORDS & set(name.lower().split(".")))


def _is_counter(name: str) -> bool:
    return name.rsplit(".", 1)[-1].lower() in _COUNTERS


def _missing_extra_state(ctx: Context) -> None:
    names = [n for n in ctx.missing() if n.endswith("._extra_state")]
    if not names:
        return
    ctx.add(
        Finding(
            category="extra_state",
            severity="info",
            message=(
                f"{len(names)} TransformerEngine _extra_state entries are absent from the "
                "checkpoint: fp8 scaling metadata that starts fresh"
            ),
            params=names,
            evidence={"entries": names[:8]},
            confidence=0.85,
            fix_note=(
                "TransformerEngine modules accept a missing _extra_state; load with strict=False"
            ),
        )
    )
    ctx.consume(missing=names)


def _other_containers(ctx: Context) -> None:
    """Report other state dicts and plain values stored in the same file (not loaded)."""
    # Only container readers (pickles) record what else a file held; other
    # readers keep their own bookkeeping in ``extras`` (the folder reader too,
    # around a pickle's entries).
    if not ctx.source.containers:
        return
    chosen = ctx.source.container
    others = [c for c in ctx.source.containers if c.key != chosen]
    values = [
        key for key in ctx.source.extras if not key.startswith("_") and key not in FOLDER_EXTRAS
    ]
    if not others and not values:
        return
    parts = [f"{c.key} ({c.tensors} tensors)" for c in others] + values[:6]
    ctx.add(
        Finding(
            category="extra_state",
            severity="info",
            message=f"the file also holds entries that are not loaded: {', '.join(parts)}",
            evidence={
                "chosen": chosen,
                "other_state_dicts": [c.key for c in others],
                "values": values,
            },
            confidence=0.9,
            fix_note="only the chosen state dict is compared; pick another with --key",
        )
    )
