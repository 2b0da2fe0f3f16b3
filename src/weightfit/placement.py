"""Placement: order a plan's ops so each names tensors as the ops before it left them.

Findings write their ops independently (drops in checkpoint names, renames from
checkpoint to model names, shape ops in model names). :func:`place` sorts them
into the stages of ``docs/plans.md``, then runs them one by one through the op
engine's dry run (:func:`weightfit.ops.step`, the code ``apply`` runs). An op
that does not fit where it stands is re-spelled in the names earlier renames
gave its tensors, or moved before the op that renamed them; an op that fits
nowhere is left out and returned, so the plan written always applies.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from weightfit import ops
from weightfit.errors import InvalidPlan, UnsupportedTensor
from weightfit.manifest import Manifest
from weightfit.ops.recipes import DryState, start
from weightfit.plan import Op

STAGES: tuple[frozenset[str], ...] = (
    frozenset({"drop"}),
    frozenset({"select"}),
    frozenset({"rename"}),
    frozenset(
        {
            "unsqueeze",
            "squeeze",
            "inflate",
            "transpose",
            "reshape",
            "split",
            "concat",
            "pad_rows",
            "truncate_rows",
            "copy_overlap",
            "resample_pos_embed",
            "permute_rows",
            "stack",
            "unstack",
            "copy",
        }
    ),
    frozenset({"cast"}),
    frozenset({"reinit"}),
)
"""The order a fix plan runs op kinds in; ops keep their order within a stage."""

_NAME_KEYS = ("name", "from")
"""Arguments naming one existing tensor (``from`` only when it has no placeholder)."""


@dataclass
class Placement:
    """A plan's ops in an order that applies, and the ops that fit nowhere.

    Attributes:
        ops: The ops, each checked by a dry run over the checkpoint's manifest.
        left_out: Ops no order or re-spelling made fit (their findings stay unfixed).
    """

    ops: list[Op] = field(default_factory=list)
    left_out: list[Op] = field(default_factory=list)


def stage(op: Op) -> tuple[int, int]:
    """Where ``op`` runs: its stage, and prefix renames before the renames written after them."""
    index = next((i for i, kinds in enumerate(STAGES) if op.kind in kinds), len(STAGES))
    later_rename = op.kind == "rename" and "strip" not in op.args and "add" not in op.args
    return index, int(later_rename)


def place(wanted: Sequence[Op], manifest: Manifest) -> Placement:
    """Order ``wanted`` so that every op applies to ``manifest`` in turn.

    Args:
        wanted: The ops, in any order (findings' order is kept within a stage).
        manifest: The checkpoint the plan will run over.

    Returns:
        A :class:`Placement`; running its ``ops`` over ``manifest`` never raises
        :class:`~weightfit.errors.InvalidPlan`.
    """
    placed: list[Op] = []
    left_out: list[Op] = []
    state = start(manifest)
    # Every name a tensor has had, mapped to the name it has now.
    now: dict[str, str] = {name: name for name in manifest.tensors}
    for op in sorted(wanted, key=stage):
        fitted = _fit(op, state, len(placed), now)
        if fitted is not None:
            state, renamed = fitted
            placed.append(renamed[0])
            _follow(now, renamed[1])
            continue
        moved = _move_earlier(op, placed, manifest)
        if moved is None:
            left_out.append(op)
            continue
        placed = moved
        state, now = _replay(placed, manifest)
    return Placement(ops=placed, left_out=left_out)


def _fit(
    op: Op, state: DryState, index: int, now: dict[str, str]
) -> tuple[DryState, tuple[Op, dict[str, str]]] | None:
    """Try ``op`` as written, then re-spelled in current names; the state after it."""
    for candidate in _spellings(op, state, now):
        trial = state.copy()
        before = list(trial.recipes)
        try:
            ops.step(trial, candidate, index)
        except (InvalidPlan, UnsupportedTensor):
            continue
        return trial, (candidate, _renames(candidate, before, list(trial.recipes)))
    return None


def _spellings(op: Op, state: DryState, now: dict[str, str]) -> list[Op]:
    """``op`` itself, then (if it names tensors earlier ops renamed) in their new names."""
    spellings = [op]
    args = dict(op.args)
    changed = False
    for key in _NAME_KEYS:
        value = args.get(key)
        if isinstance(value, str) and value not in state.recipes and now.get(value, value) != value:
            if key == "from" and "{" in value:
                continue
            args[key] = now[value]
            changed = True
    names = args.get("names")
    if isinstance(names, list) and all(isinstance(n, str) for n in names):
        spelled = [now.get(n, n) if n not in state.recipes else n for n in names]
        if spelled != names:
            args["names"] = spelled
            changed = True
    pattern = args.get("pattern")
    if op.kind in ("drop", "reinit", "cast") and isinstance(pattern, str):
        current = _current_matches(pattern, state, now)
        if current:
            args["pattern"] = "|".join(re.escape(n) for n in current)
            changed = True
    if changed:
        spellings.append(Op(op.kind, args, op.reason))
    return spellings


def _current_matches(pattern: str, state: DryState, now: dict[str, str]) -> list[str]:
    """Current names of tensors whose earlier names ``pattern`` matches, if none match now."""
    try:
        regex = re.compile(pattern)
    except re.error:
        return []
    if any(regex.fullmatch(name) for name in state.recipes):
        return []
    found = {now[old] for old in now if regex.fullmatch(old) and now[old] in state.recipes}
    return [name for name in state.recipes if name in found]


def _renames(op: Op, before: list[str], after: list[str]) -> dict[str, str]:
    """What a ``rename`` or ``select`` did to names (both keep the order of the rest)."""
    if op.kind == "select":
        prefix = str(op.args.get("prefix", ""))
        return {n: n[len(prefix) :] for n in before if n.startswith(prefix) and n != prefix}
    if op.kind != "rename" or len(before) != len(after):
        return {}
    return {old: new for old, new in zip(before, after, strict=True) if old != new}


def _follow(now: dict[str, str], renamed: dict[str, str]) -> None:
    """Move every earlier name of a renamed tensor to its new name."""
    if not renamed:
        return
    for old, current in list(now.items()):
        if current in renamed:
            now[old] = renamed[current]
    for new in renamed.values():
        now.setdefault(new, new)


def _move_earlier(op: Op, placed: list[Op], manifest: Manifest) -> list[Op] | None:
    """``placed`` with ``op`` put at the latest earlier position where all of it applies."""
    for position in range(len(placed) - 1, -1, -1):
        trial = [*placed[:position], op, *placed[position:]]
        try:
            _replay(trial, manifest)
        except (InvalidPlan, UnsupportedTensor):
            continue
        return trial
    return None


def _replay(placed: list[Op], manifest: Manifest) -> tuple[DryState, dict[str, str]]:
    """Run ``placed`` from the start: the state, and every name's current name."""
    state = start(manifest)
    now = {name: name for name in manifest.tensors}
    for index, op in enumerate(placed):
        before = list(state.recipes)
        ops.step(state, op, index)
        _follow(now, _renames(op, before, list(state.recipes)))
    return state, now
