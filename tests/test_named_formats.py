"""A file whose name promises another format than its bytes hold: read by bytes, and noted.

weightfit reads by content, but ``torch.load``, ``safe_open`` and ``from_pretrained``
go by the name, so a ``.safetensors`` holding a ``torch.save`` zip (or the reverse)
loads nowhere else. Built with the real writers.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import weightfit

TENSORS = {"w": torch.ones(2, 3), "b": torch.zeros(3)}


def as_safetensors(path: Path) -> None:
    save_file(TENSORS, path)


def as_torch(path: Path) -> None:
    torch.save(TENSORS, path)


def as_npz(path: Path) -> None:
    with path.open("wb") as handle:  # np.savez adds .npz to a name, not to an open file
        np.savez(handle, **{k: v.numpy() for k, v in TENSORS.items()})


@pytest.mark.parametrize(
    ("name", "write", "note"),
    [
        (
            "model.pt",
            as_safetensors,
            "named .pt but holds safetensors: loaders that go by the name (torch.load) "
            "cannot read it",
        ),
        (
            "model.safetensors",
            as_torch,
            "named .safetensors but holds a torch.save zip: loaders that go by the name "
            "(safetensors' safe_open, from_pretrained) cannot read it",
        ),
        (
            "model.ckpt",
            as_npz,
            "named .ckpt but holds an .npz archive: loaders that go by the name (torch.load) "
            "cannot read it",
        ),
    ],
)
def test_a_misnamed_file_is_read_by_its_bytes_and_noted(
    tmp_path: Path, name: str, write, note: str
) -> None:
    path = tmp_path / name
    write(path)
    manifest = weightfit.read(path)
    assert {k: s.shape for k, s in manifest.tensors.items()} == {"w": (2, 3), "b": (3,)}
    assert manifest.notes[0] == note


@pytest.mark.parametrize(
    ("name", "write"),
    [("model.safetensors", as_safetensors), ("model.pth", as_torch), ("weights.bin", as_torch)],
)
def test_a_file_named_for_its_format_gets_no_note(tmp_path: Path, name: str, write) -> None:
    path = tmp_path / name
    write(path)
    assert not any("named ." in note for note in weightfit.read(path).notes)


def test_a_shard_holding_torch_bytes_is_noted_in_the_sharded_read(tmp_path: Path) -> None:
    """from_pretrained would fail on this shard; the folder's read says which one and why."""
    first, second = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
    save_file({"w": TENSORS["w"]}, tmp_path / first)
    torch.save({"b": TENSORS["b"]}, tmp_path / second)
    index = {"metadata": {}, "weight_map": {"w": first, "b": second}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    manifest = weightfit.read(tmp_path / "model.safetensors.index.json")
    assert set(manifest.tensors) == {"w", "b"}
    assert (
        f"{second}: named .safetensors but holds a torch.save zip: loaders that go by the name "
        "(safetensors' safe_open, from_pretrained) cannot read it"
    ) in manifest.notes
