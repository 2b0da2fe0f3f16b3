"""Property: a plan ``fix`` writes always applies, and ``fix --plan-only`` + ``apply`` == ``fix``.

Random checkpoints (real safetensors files, every element a distinct value)
are turned into random targets by random sequences of ``rename`` / ``drop`` /
``select`` / ``split`` / ``concat`` / ``reshape`` ops run through the op
engine; weightfit then has to find its own way back.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

import weightfit
from tagged_values import tagged
from weightfit import ops
from weightfit.apply import PLAN_FILE
from weightfit.errors import InvalidPlan, VerificationFailed
from weightfit.manifest import Manifest, from_shapes
from weightfit.ops.recipes import start
from weightfit.plan import Op, Plan

_WORDS = ("attn", "mlp", "norm", "proj", "q", "k", "v", "out", "fc", "embed")
_PREFIXES = ("module.", "model.", "_orig_mod.", "net.")


@st.composite
def manifests(draw: st.DrawFn) -> dict[str, tuple[int, ...]]:
    """A small layered model: ``<top>.<i>.<module>.<leaf>`` plus a few loose tensors."""
    prefix = draw(st.sampled_from(("", *_PREFIXES)))
    top = draw(st.sampled_from(("blocks", "layers", "h")))
    layers = draw(st.integers(2, 3))
    modules = draw(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=4, unique=True))
    shapes: dict[str, tuple[int, ...]] = {}
    for module in modules:
        rows = draw(st.integers(1, 6))
        cols = draw(st.integers(1, 5))
        for layer in range(layers):
            shapes[f"{prefix}{top}.{layer}.{module}.weight"] = (rows, cols)
            if draw(st.booleans()):
                shapes[f"{prefix}{top}.{layer}.{module}.bias"] = (rows,)
    for loose in draw(st.lists(st.sampled_from(("head", "embed", "final")), unique=True)):
        shapes[f"{prefix}{loose}.weight"] = (draw(st.integers(1, 6)), draw(st.integers(1, 4)))
    return shapes


@st.composite
def op_sequences(draw: st.DrawFn, shapes: dict[str, tuple[int, ...]]) -> list[Op]:
    """Random ops, each drawn against the tensors as the ops before it left them."""
    state = start(from_shapes(shapes))
    chosen: list[Op] = []
    for _ in range(draw(st.integers(1, 8))):
        names = list(state.recipes)
        if not names:
            break
        kind = draw(st.sampled_from(("rename", "drop", "select", "split", "concat", "reshape")))
        name = draw(st.sampled_from(names))
        shape = state.recipes[name].spec.shape
        op: Op | None = None
        if kind == "rename" and draw(st.booleans()):
            head = name.split(".", 1)[0] + "."
            new = draw(st.sampled_from(("model.", "transformer.", "", "encoder.")))
            op = Op("rename", {"strip": head, "add": new})
        elif kind == "rename":
            # A module renamed in every layer: ``blocks.{i}.q`` → ``blocks.{i}.to_q``.
            segments = name.split(".")
            at = draw(st.integers(0, len(segments) - 2)) if len(segments) > 1 else 0
            word = draw(st.sampled_from(("to_q", "query", "c_proj", "dense", "ln_1", "wo")))
            folded = ["{i}" if s.isdigit() else s for s in segments]
            source = ".".join(folded)
            target = ".".join([*folded[:at], word, *folded[at + 1 :]])
            op = Op("rename", {"from": source, "to": target}) if "{i}" in source else None
        elif kind == "drop":
            op = Op("drop", {"name": name})
        elif kind == "select":
            op = Op("select", {"prefix": name.split(".", 1)[0] + "."})
        elif kind == "split" and shape and shape[0] >= 2:
            cut = draw(st.integers(1, shape[0] - 1))
            op = Op(
                "split",
                {"name": name, "into": [name + "_a", name + "_b"], "sizes": [cut, shape[0] - cut]},
            )
        elif kind == "concat":
            other = draw(st.sampled_from(names))
            op = Op("concat", {"names": [name, other], "into": name + "_cat"})
        elif kind == "reshape" and shape:
            op = Op("reshape", {"name": name, "shape": [math.prod(shape)]})
        if op is None:
            continue
        trial = state.copy()
        try:
            ops.step(trial, op, len(chosen))
        except InvalidPlan:
            continue
        state = trial
        chosen.append(op)
    return chosen


def _written(folder: Path) -> dict[str, torch.Tensor]:
    found: dict[str, torch.Tensor] = {}
    for path in sorted(folder.glob("*.safetensors")):
        found.update(load_file(path))
    return found


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_plans_fix_writes_always_apply_and_match_fix(data: st.DataObject) -> None:
    shapes = data.draw(manifests())
    sequence = data.draw(op_sequences(shapes))
    target: Manifest = ops.predict(Plan(ops=sequence), from_shapes(shapes))
    if not target.tensors:
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        checkpoint = root / "ckpt.safetensors"
        save_file(tagged(shapes), checkpoint)

        planned = weightfit.fix(checkpoint, target, root / "plan", plan_only=True)
        plan = Plan.load(root / "plan" / PLAN_FILE)
        assert plan.to_dict()["ops"] == planned.plan.to_dict()["ops"]
        # The written plan runs (dry) over the checkpoint: never an InvalidPlan.
        ops.run(plan, weightfit.read(checkpoint))

        try:
            fixed = weightfit.fix(checkpoint, target, root / "fixed", hash_sources=False)
        except VerificationFailed:
            return  # the plan applies but does not reach the target: fix refuses to write
        if not fixed.fixed:
            return
        weightfit.apply(plan, checkpoint, root / "applied", hash_sources=False)
        left, right = _written(root / "fixed"), _written(root / "applied")
        assert left.keys() == right.keys()
        for name in left:
            assert torch.equal(left[name], right[name]), name


@pytest.mark.parametrize(
    "wanted",
    [
        # A rename written in checkpoint names after a prefix rename changed them.
        [
            Op("rename", {"strip": "module.", "add": ""}),
            Op("rename", {"from": "module.layers.0.wq.weight", "to": "layers.0.q.weight"}),
        ],
        # A shape op written in checkpoint names, placed after the renames.
        [
            Op("rename", {"strip": "module.", "add": "model."}),
            Op("transpose", {"name": "module.layers.0.wq.weight"}),
        ],
        # A regex rename written over names before the prefix op: moved before it.
        [
            Op("rename", {"strip": "module.", "add": ""}),
            Op(
                "rename",
                {
                    "pattern": r"module\.layers\.(\d+)\.wq(\..+)?",
                    "replacement": r"module.layers.\1.q\2",
                },
            ),
        ],
    ],
)
def test_placement_respells_or_reorders_ops_so_the_plan_applies(wanted: list[Op]) -> None:
    from weightfit.placement import place

    manifest = from_shapes({"module.layers.0.wq.weight": (4, 2), "module.layers.0.wq.bias": (4,)})
    with pytest.raises(InvalidPlan):
        ops.run(Plan(ops=wanted), manifest)
    placement = place(wanted, manifest)
    assert placement.left_out == []
    assert len(placement.ops) == len(wanted)
    ops.run(Plan(ops=placement.ops), manifest)
