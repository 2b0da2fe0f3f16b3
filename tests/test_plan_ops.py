"""The plan op registry declares each op once, and everything agrees with it.

The last test is the worked example of ``docs/architecture.md`` ("A plan op"): a
toy op added by one :class:`OpSpec`, then planned, dry-run and applied for real.
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from weightfit import ops, values
from weightfit.apply import apply
from weightfit.errors import InvalidPlan
from weightfit.ops import KINDS, OPS, REGISTRY
from weightfit.ops.context import Arg, OpContext, OpSpec, Safety
from weightfit.plan import Op, OpKind, Plan
from weightfit.report.check import SCHEMA_PATH

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _sections() -> dict[str, tuple[str, str]]:
    """``docs/plans.md``'s op sections: kind → (safety in the heading, body)."""
    text = (DOCS / "plans.md").read_text(encoding="utf-8")
    operations = text.split("\n## Operations\n", 1)[1].split("\n## ", 1)[0]
    parts = re.split(r"^### `([a-z_]+)` — (.*)$", operations, flags=re.M)
    kinds, headings, bodies = parts[1::3], parts[2::3], parts[3::3]
    return {k: (h, b) for k, h, b in zip(kinds, headings, bodies, strict=True)}


def test_kinds_are_the_registry_in_order() -> None:
    assert tuple(spec.kind for spec in REGISTRY) == KINDS
    assert len(set(KINDS)) == len(KINDS)
    assert OpKind.__args__ == KINDS  # type: ignore[attr-defined]


def test_schema_enum_is_the_registry() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["$defs"]["op"]["properties"]["kind"]["enum"] == list(KINDS)


def test_docs_have_one_section_per_op_in_registry_order() -> None:
    assert list(_sections()) == list(KINDS)


def test_doc_headings_say_each_ops_safety() -> None:
    for kind, (heading, _) in _sections().items():
        safety = OPS[kind].safety
        if isinstance(safety, Safety):
            assert heading == safety.value.replace("-", " "), kind
        else:  # exact under a condition on the arguments
            assert heading.startswith("exact ") and len(heading) > len("exact "), kind


def test_doc_sections_name_every_argument() -> None:
    for kind, (_, body) in _sections().items():
        for arg in OPS[kind].args:
            assert f"`{arg.name}`" in body, (kind, arg.name)


def test_the_values_functions_are_reached_through_the_registry() -> None:
    public = {
        name
        for name, member in inspect.getmembers(values, inspect.isfunction)
        if member.__module__ == values.__name__ and not name.startswith("_")
    }
    declared = {spec.values.__name__ for spec in REGISTRY if spec.values is not None}
    assert declared == public


@pytest.mark.parametrize(
    ("op", "safety"),
    [
        (Op("rename", {"strip": "module.", "add": ""}), Safety.EXACT),
        (Op("inflate", {"name": "w", "dim": 2, "size": 1}), Safety.EXACT),
        (Op("inflate", {"name": "w", "dim": 2, "size": 3}), Safety.NEEDS_REVIEW),
        (Op("cast", {"from": "F16", "to": "F32"}), Safety.EXACT),
        (Op("cast", {"to": "F32"}), Safety.NEEDS_REVIEW),
        (Op("cast", {"from": "F32", "to": "BF16"}), Safety.NEEDS_REVIEW),
        (Op("pad_rows", {"name": "w", "rows": 8}), Safety.NEEDS_REVIEW),
        (Op("not_an_op"), Safety.NEEDS_REVIEW),
    ],
)
def test_safety_comes_from_the_spec(op: Op, safety: Safety) -> None:
    assert op.safety is safety


# --- the worked example: an op in one definition ------------------------------


def negated(value: torch.Tensor) -> torch.Tensor:
    """The arithmetic: every value's sign flipped."""
    return -value


def _negate(ctx: OpContext) -> None:
    """The shape function: same name and shape; the value streams through ``negated``."""
    name = ctx.arg("name", str)
    recipe = ctx.recipe(name)
    negate = ctx.values()
    ctx.replace_one(name, recipe.spec.shape, lambda inputs: negate(inputs[0]))


NEGATE = OpSpec("negate", (Arg("name", "string"),), Safety.NEEDS_REVIEW, _negate, negated)


def test_an_op_added_in_one_definition_plans_and_applies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(ops.OPS, NEGATE.kind, NEGATE)  # what a REGISTRY row does
    state = {"w": torch.randn(3, 4), "b": torch.randn(3)}
    save_file(state, tmp_path / "model.safetensors")
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text("version: 1\nops:\n- kind: negate\n  args: {name: w}\n")
    plan = Plan.load(plan_file)
    assert plan.needs_review == plan.ops
    result = apply(plan, tmp_path / "model.safetensors", tmp_path / "out")
    written = load_file(tmp_path / "out" / "model.safetensors")
    assert torch.equal(written["w"], -state["w"]) and torch.equal(written["b"], state["b"])
    assert result.plan.ops[0].kind == "negate"
    with pytest.raises(InvalidPlan, match="needs argument 'name'"):
        ops.run(Plan([Op("negate")]), result.manifest)
