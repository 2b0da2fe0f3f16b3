"""Finding and choosing state dicts inside real training checkpoints."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import weightfit
from weightfit.errors import ContainerKeyNotFound
from weightfit.manifest import Container


def model() -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 2)
    )


def trained_optimizer(module: torch.nn.Module) -> torch.optim.Optimizer:
    optimizer = torch.optim.AdamW(module.parameters())
    module(torch.randn(3, 4)).sum().backward()
    optimizer.step()
    return optimizer


@pytest.fixture(params=[True, False], ids=["zip", "legacy"])
def save(request, tmp_path):
    def write(obj, name: str = "ckpt.pt") -> Path:
        path = tmp_path / name
        torch.save(obj, path, _use_new_zipfile_serialization=request.param)
        return path

    return write


def test_training_checkpoint_with_ema_optimizer_and_args(save):
    module = model()
    state = module.state_dict()
    checkpoint = {
        "state_dict": state,
        "ema": {k: v.clone() for k, v in state.items()},
        "optimizer": trained_optimizer(module).state_dict(),
        "epoch": 3,
        "best": np.float64(0.75),
        "args": argparse.Namespace(lr=0.01, layers=[4, 8], name="run-1"),
    }
    manifest = weightfit.read(save(checkpoint))
    assert list(manifest.tensors) == list(state)
    assert manifest.container == "state_dict"
    assert manifest.container_reason == "'state_dict' is the conventional key for model weights"
    assert manifest.containers == [
        Container("state_dict", 9, 91),
        Container("ema", 9, 91),
    ]
    assert manifest.extras == {
        "ema": "state dict: 9 tensors",
        "optimizer": "optimizer state: 18 tensors",
        "epoch": 3,
        "best": 0.75,
        "args": {"lr": 0.01, "layers": [4, 8], "name": "run-1"},
    }
    json.dumps(manifest.extras)
    assert manifest.security == "benign"
    assert {(g.module, g.name) for g in manifest.globals} >= {("argparse", "Namespace")}


def test_model_and_model_ema_never_reads_as_zero_tensors(save):
    state = model().state_dict()
    manifest = weightfit.read(save({"model": state, "model_ema": state}))
    assert len(manifest) == 9
    assert manifest.container == "model"
    assert manifest.extras == {"model_ema": "state dict: 9 tensors"}


def test_ema_is_read_when_asked(save):
    state = model().state_dict()
    ema = {k: v + 1 if v.is_floating_point() else v for k, v in state.items()}
    path = save({"model": state, "model_ema": ema})
    manifest = weightfit.read(path, key="model_ema")
    assert manifest.container == "model_ema"
    assert manifest.container_reason == "asked for with key 'model_ema'"
    assert manifest.extras == {"model": "state dict: 9 tensors"}


def test_lightning_shaped_checkpoint(save):
    module = model()
    state = {f"model.{k}": v for k, v in module.state_dict().items()}
    checkpoint = {
        "epoch": 9,
        "global_step": 1200,
        "pytorch-lightning_version": "2.4.0",
        "state_dict": state,
        "loops": {"fit_loop": {"epoch_progress": {"total": {"ready": 10}}}},
        "callbacks": {
            "ModelCheckpoint{'monitor': 'val_loss'}": {"best_model_score": torch.tensor(0.1)}
        },
        "optimizer_states": [trained_optimizer(module).state_dict()],
        "lr_schedulers": [{"last_epoch": 9}],
        "hparams_name": "kwargs",
        "hyper_parameters": {"hidden": 8, "lr": 0.001},
    }
    manifest = weightfit.read(save(checkpoint))
    assert list(manifest.tensors) == list(state)
    assert manifest.container == "state_dict"
    assert manifest.extras["optimizer_states"] == "optimizer state: 18 tensors"
    assert manifest.extras["hyper_parameters"] == {"hidden": 8, "lr": 0.001}
    assert manifest.extras["callbacks"] == {
        "ModelCheckpoint{'monitor': 'val_loss'}": "state dict: 1 tensor"
    }
    assert manifest.extras["global_step"] == 1200


def test_deepspeed_module_key(save):
    state = model().state_dict()
    manifest = weightfit.read(save({"module": state, "global_steps": 10, "dp_world_size": 8}))
    assert manifest.container == "module"
    assert manifest.extras == {"global_steps": 10, "dp_world_size": 8}


def test_a_mapping_that_only_groups_state_dicts_is_read_whole(save):
    encoder, decoder = torch.nn.Linear(2, 3).state_dict(), torch.nn.Linear(3, 2).state_dict()
    manifest = weightfit.read(save({"encoder": encoder, "decoder": decoder}))
    assert list(manifest.tensors) == [
        "encoder.weight",
        "encoder.bias",
        "decoder.weight",
        "decoder.bias",
    ]
    assert manifest.container == ""
    assert manifest.container_reason == (
        "the file's top level groups state dicts; their tensors are read together"
    )
    assert manifest.extras == {}


def test_the_largest_state_dict_without_a_conventional_name(save):
    small, big = torch.nn.Linear(2, 2).state_dict(), model().state_dict()
    manifest = weightfit.read(save({"head": small, "backbone": big, "step": 4}))
    assert manifest.container == "backbone"
    assert manifest.container_reason == "'backbone' is the largest state dict (9 tensors)"


def test_only_ema_weights(save):
    state = model().state_dict()
    manifest = weightfit.read(save({"ema_model": state, "iteration": 5}))
    assert manifest.container == "ema_model"
    assert manifest.container_reason == "the only state dict in the file is under 'ema_model'"


def test_nested_key_path(save):
    state = torch.nn.Linear(2, 2).state_dict()
    path = save({"checkpoint": {"networks": {"gen": state, "disc": state}}})
    manifest = weightfit.read(path, key="checkpoint.networks.disc")
    assert list(manifest.tensors) == ["weight", "bias"]
    assert manifest.container == "checkpoint.networks.disc"


def test_an_unknown_key_lists_what_there_is(save):
    path = save({"model": model().state_dict(), "epoch": 1})
    with pytest.raises(ContainerKeyNotFound) as caught:
        weightfit.read(path, key="ema")
    assert str(caught.value) == (
        f"{path}: container key not found: no entry 'ema'; state dicts found: 'model'; "
        "top-level keys: model, epoch"
    )


def test_a_key_holding_no_tensors(save):
    path = save({"model": model().state_dict(), "epoch": 1})
    with pytest.raises(ContainerKeyNotFound) as caught:
        weightfit.read(path, key="epoch")
    assert str(caught.value) == (
        f"{path}: container key not found: entry 'epoch' holds no tensors; state dicts found: "
        "'model'; top-level keys: model, epoch"
    )


def test_an_unknown_key_exits_3(save, run_cli):
    path = save({"model": model().state_dict()})
    result = run_cli("inspect", path, "--key", "nope")
    assert result.code == 3
    assert "container key not found: no entry 'nope'" in result.err


def test_a_file_without_tensors(save):
    manifest = weightfit.read(save({"epoch": 1, "notes": "none"}))
    assert len(manifest) == 0
    assert manifest.container_reason == "the file holds no tensors"
    assert manifest.extras == {"epoch": 1, "notes": "none"}


def test_a_whole_pickled_module_is_named_by_its_class(save):
    """Legacy files name the class in a persistent id, zip files in a global: both read the same."""
    net = model()
    manifest = weightfit.read(save(net))
    assert list(manifest) == list(net.state_dict())
    assert manifest.container_reason == (
        "the file is a pickled torch.nn.modules.container.Sequential module: "
        "its parameters and buffers"
    )


def test_a_bare_tensor_is_not_called_no_tensors(save):
    manifest = weightfit.read(save(torch.zeros(3, 4)))
    assert len(manifest) == 0
    assert manifest.container_reason == (
        "the file's top level is one tensor (F32[3×4]), not a state dict: it has no tensor names"
    )


def test_tensors_in_lists_are_named_by_their_paths(save):
    path = save({"embeddings": [torch.zeros(2), torch.ones(3)], "step": 3})
    manifest = weightfit.read(path)
    assert len(manifest) == 0
    assert manifest.container_reason == (
        "no state dict (a mapping of names to tensors) found, but 2 tensor(s) outside one: "
        "'embeddings.0', 'embeddings.1'; --key reads one by its path"
    )
    assert weightfit.read(path, key="embeddings.1")["1"].shape == (3,)


def test_an_optimizer_state_file_says_so(save):
    """accelerate's save_state writes optimizer.bin: an optimizer's state_dict() alone."""
    net = model()
    optimizer = trained_optimizer(net)
    path = save(optimizer.state_dict())
    manifest = weightfit.read(path)
    assert len(manifest) == 0
    tensors = 3 * len(list(net.parameters()))  # AdamW: step, exp_avg, exp_avg_sq
    assert manifest.container_reason == (
        f"the file's top level is an optimizer state dict ({tensors} tensors), not model "
        "weights; --key state.N reads parameter N's state"
    )
    assert set(weightfit.read(path, key="state.0")) == {"step", "exp_avg", "exp_avg_sq"}


def test_extras_are_summarised_within_limits(save):
    state = torch.nn.Linear(2, 2).state_dict()
    manifest = weightfit.read(
        save({"model": state, "history": list(range(200)), "text": "x" * 5000, "raw": b"abc"})
    )
    assert manifest.extras["history"][:3] == [0, 1, 2]
    assert manifest.extras["history"][-1] == "… 150 more"
    assert len(manifest.extras["text"]) == 1001
    assert manifest.extras["raw"] == "<3 bytes>"
