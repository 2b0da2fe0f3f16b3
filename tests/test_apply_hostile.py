"""Plans edited into something hostile: each refused with one error before anything is written.

A plan is a file people share and edit. YAML aliases nested a few levels deep
expand to billions of values when the plan is printed or hashed; shapes can be
edited to sizes no memory or disk holds. Each is one error and a documented exit
code, the source untouched and nothing left beside the output.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from weightfit.apply import apply
from weightfit.errors import DiskFull, InvalidPlan, TensorTooLarge
from weightfit.plan import Op, Plan

LAUGHS = "\n".join(
    ["version: 1", 'l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
)
"""Nine levels of nine aliases: 9⁹ ≈ 387 million strings once expanded, 81 aliases on disk."""


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    path = tmp_path / "model.safetensors"
    save_file({"lm_head.weight": torch.randn(128, 64), "norm.weight": torch.ones(64)}, path)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "where",
    [
        "- {kind: nope, args: {x: *l8}}",  # printed in the error naming the unknown kind
        "- {kind: drop, args: {name: norm.weight}, reason: *l8}",  # hashed into the stamp
    ],
)
def test_a_billion_laughs_plan_is_refused_at_once(
    tmp_path: Path, checkpoint: Path, where: str, run_cli
) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(f"{LAUGHS}\nops:\n{where}\n")
    started = time.monotonic()
    with pytest.raises(InvalidPlan) as info:
        Plan.load(plan)
    assert time.monotonic() - started < 5
    assert str(info.value).startswith(f"{plan}: invalid plan: holds 926,177,1")
    assert str(info.value).endswith(
        " values once its YAML aliases are expanded (at most 2,000,000)"
    )
    result = run_cli("apply", plan, checkpoint, "-o", tmp_path / "out")
    assert result.code == 2
    assert result.err.startswith(f"error: {plan}: invalid plan: holds")
    assert not (tmp_path / "out").exists()


def test_an_alias_holding_itself_is_refused(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text("version: 1\nops: &a [*a]\n")
    with pytest.raises(InvalidPlan, match="a YAML alias holds its own anchor: the plan never ends"):
        Plan.load(plan)


def test_a_plan_with_a_few_aliases_still_applies(tmp_path: Path, checkpoint: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "version: 1\nnames: &n [norm.weight]\n"
        "ops:\n- {kind: drop, args: {name: norm.weight}, reason: *n}\n"
    )
    assert list(apply(plan, checkpoint, tmp_path / "out").manifest.tensors) == ["lm_head.weight"]


@pytest.mark.parametrize(
    "op",
    [
        Op("pad_rows", {"name": "lm_head.weight", "rows": 10**11}),
        Op("copy_overlap", {"name": "lm_head.weight", "shape": [10**11, 64]}),
        Op("inflate", {"name": "lm_head.weight", "dim": 0, "size": 10**10}),
        Op(
            "resample_pos_embed",
            {"name": "lm_head.weight", "from_grid": [8, 16], "to_grid": [10**6, 10**6]},
        ),
    ],
    ids=lambda op: op.kind,
)
def test_a_shape_no_memory_holds_is_refused_before_writing(
    tmp_path: Path, checkpoint: Path, op: Op, run_cli
) -> None:
    before = digest(checkpoint)
    plan = tmp_path / "plan.yaml"
    Plan([op]).dump(plan)
    with pytest.raises(TensorTooLarge, match=r"lm_head.weight needs [\d,]+ bytes in memory"):
        apply(plan, checkpoint, tmp_path / "out")
    result = run_cli("apply", plan, checkpoint, "-o", tmp_path / "out")
    assert result.code == 3
    assert "tensor too large: lm_head.weight needs" in result.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors", "plan.yaml"]
    assert digest(checkpoint) == before


def test_an_output_larger_than_the_free_room_is_refused_before_writing(
    tmp_path: Path, checkpoint: Path, monkeypatch: pytest.MonkeyPatch, run_cli
) -> None:
    """Copies only (nothing computed): the disk check alone stops it."""
    room = shutil.disk_usage(tmp_path)._replace(free=90_000)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: room)
    plan = tmp_path / "plan.yaml"
    Plan([Op("copy", {"name": "lm_head.weight", "into": ["a", "b"]})]).dump(plan)
    with pytest.raises(DiskFull) as info:
        apply(plan, checkpoint, tmp_path / "out")
    assert str(info.value) == (
        f"{tmp_path}/out: disk full: the output needs 98,560 bytes; "
        "90,000 are free on its filesystem"
    )
    result = run_cli("apply", plan, checkpoint, "-o", tmp_path / "out")
    assert result.code == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.safetensors", "plan.yaml"]
