"""A plan records the checkpoint ``fix`` read; ``apply`` refuses another one.

Checkpoints are written by the real ``torch.save`` and ``safetensors``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file
from torch import nn

from weightfit.apply import apply
from weightfit.errors import InvalidPlan, SourceMismatch
from weightfit.plan import Plan


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(8, 8)
        self.head = nn.Linear(8, 3)


def _prefixed(seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return {f"module.{k}": v for k, v in Net().state_dict().items()}


@pytest.fixture
def made(tmp_path: Path, run_cli) -> tuple[Path, Path]:
    """A ``module.``-prefixed torch.save checkpoint and the plan ``fix --plan-only`` made."""
    checkpoint = tmp_path / "ckpt.pt"
    torch.save(_prefixed(0), checkpoint)
    target = tmp_path / "model.safetensors"
    save_file(Net().state_dict(), target)
    result = run_cli("fix", checkpoint, "--against", target, "-o", tmp_path / "p", "--plan-only")
    assert result.code == 0, result.err
    return checkpoint, tmp_path / "p" / "weightfit-plan.yaml"


def test_fix_records_size_and_header_digest_of_the_source(made: tuple[Path, Path]) -> None:
    checkpoint, plan_file = made
    (entry,) = yaml.safe_load(plan_file.read_text())["source_files"]
    assert entry["file"] == "ckpt.pt"
    assert entry["bytes"] == checkpoint.stat().st_size
    assert len(entry["header_sha256"]) == 64


def test_the_same_file_moved_and_renamed_still_applies(
    tmp_path: Path, made: tuple[Path, Path], run_cli
) -> None:
    checkpoint, plan_file = made
    copy = tmp_path / "elsewhere" / "renamed.pt"
    copy.parent.mkdir()
    shutil.copy(checkpoint, copy)
    result = run_cli("apply", plan_file, copy, "-o", tmp_path / "out")
    assert result.code == 0, result.err
    assert sorted(load_file(tmp_path / "out" / "model.safetensors")) == sorted(Net().state_dict())


def test_a_retrained_torch_save_of_the_same_layout_is_refused(
    tmp_path: Path, made: tuple[Path, Path], run_cli
) -> None:
    """Same names, shapes and size: the zip's CRC-32s of the storages differ."""
    checkpoint, plan_file = made
    other = tmp_path / "again" / "ckpt.pt"
    other.parent.mkdir()
    torch.save(_prefixed(1), other)
    assert other.stat().st_size == checkpoint.stat().st_size
    result = run_cli("apply", plan_file, other, "-o", tmp_path / "out")
    assert result.code == 2
    assert "source mismatch" in result.err
    assert (
        f"{other} is not the checkpoint the plan was made from: the plan records ckpt.pt ("
        in result.err
    )
    assert "), this is ckpt.pt (" in result.err
    assert "--allow-other-source" in result.err
    assert not (tmp_path / "out").exists()
    forced = run_cli("apply", plan_file, other, "-o", tmp_path / "out", "--allow-other-source")
    assert forced.code == 0, forced.err


def test_another_shard_set_is_refused(tmp_path: Path, run_cli) -> None:
    def shards(folder: Path, seed: int) -> Path:
        folder.mkdir()
        state = _prefixed(seed)
        names = sorted(state)
        halves = {"a.safetensors": names[:2], "b.safetensors": names[2:]}
        for file, part in halves.items():
            save_file({name: state[name].contiguous() for name in part}, folder / file)
        index = {"metadata": {}, "weight_map": {n: f for f, ns in halves.items() for n in ns}}
        (folder / "model.safetensors.index.json").write_text(json.dumps(index))
        return folder / "model.safetensors.index.json"

    first = shards(tmp_path / "first", 0)
    target = tmp_path / "model.safetensors"
    save_file(Net().state_dict(), target)
    made = run_cli("fix", first, "--against", target, "-o", tmp_path / "p", "--plan-only")
    assert made.code == 0, made.err
    plan_file = tmp_path / "p" / "weightfit-plan.yaml"
    assert len(Plan.load(plan_file).source_files) >= 2
    # Same names, shapes and dtypes: safetensors headers alike; the metadata tells them apart.
    second = tmp_path / "second"
    shutil.copytree(tmp_path / "first", second)
    state = load_file(second / "b.safetensors")
    save_file(state, second / "b.safetensors", metadata={"step": "2000"})
    with pytest.raises(SourceMismatch, match=r"b\.safetensors \("):
        apply(plan_file, second / "model.safetensors.index.json", tmp_path / "out")
    assert apply(plan_file, first, tmp_path / "ok", hash_sources=False).tensors == 4


def test_a_plan_without_the_record_applies_to_any_checkpoint(
    tmp_path: Path, made: tuple[Path, Path]
) -> None:
    _, plan_file = made
    data = yaml.safe_load(plan_file.read_text())
    del data["source_files"]
    hand_written = tmp_path / "hand.yaml"
    hand_written.write_text(yaml.safe_dump(data))
    other = tmp_path / "other.pt"
    torch.save(_prefixed(1), other)
    assert apply(hand_written, other, tmp_path / "out", hash_sources=False).tensors == 4


def test_a_malformed_record_is_an_invalid_plan(tmp_path: Path) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text("version: 1\nsource_files:\n- {file: x.pt}\nops: []\n")
    with pytest.raises(InvalidPlan, match="needs file, bytes and header_sha256"):
        Plan.load(path)


def test_load_into_refuses_a_plan_made_from_another_checkpoint(
    tmp_path: Path, made: tuple[Path, Path]
) -> None:
    from weightfit.load import load_into

    checkpoint, plan_file = made
    other = tmp_path / "retrained.pt"
    torch.save(_prefixed(1), other)
    with pytest.raises(SourceMismatch, match="is not the checkpoint the plan was made from"):
        load_into(Net(), other, fix=plan_file)
    model = Net()
    load_into(model, other, fix=plan_file, allow_other_source=True)
    assert torch.equal(model.head.bias, _prefixed(1)["module.head.bias"])
    load_into(Net(), checkpoint, fix=plan_file)
