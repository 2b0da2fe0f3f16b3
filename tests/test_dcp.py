"""torch.distributed.checkpoint folders, saved for real by ``dcp.save`` in one process."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
import torch.distributed.checkpoint as dcp

import weightfit
from attacks import pickles as P
from weightfit.errors import (
    ForbiddenPickleContent,
    InconsistentShardIndex,
    InvalidHeader,
)
from weightfit.formats import detect


def save(state: dict, folder: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "torch.distributed is disabled ... single process"
        dcp.save(state, checkpoint_id=folder)
    return folder


def model() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> tuple[Path, dict]:
    module = model()
    optimizer = torch.optim.Adam(module.parameters())
    module(torch.randn(2, 4)).sum().backward()
    optimizer.step()
    state = {
        "model": {**module.state_dict(), "half": torch.zeros(3, 5, dtype=torch.bfloat16)},
        "optim": optimizer.state_dict(),
        "step": 12,
    }
    return save(state, tmp_path_factory.mktemp("dcp") / "ckpt"), state


def test_global_shapes_and_dtypes(checkpoint):
    folder, state = checkpoint
    manifest = weightfit.read(folder)
    assert detect(folder) == "dcp"
    assert manifest.format == "dcp"
    assert list(manifest.tensors) == list(state["model"])
    for name, tensor in state["model"].items():
        spec = manifest[name]
        assert spec.shape == tuple(tensor.shape)
        assert spec.location is None
    assert manifest["half"].dtype == "BF16"
    assert manifest["1.num_batches_tracked"].dtype == "I64"
    assert manifest["0.weight"].dtype == "F32"


def test_container_extras_and_files(checkpoint):
    folder, _ = checkpoint
    manifest = weightfit.read(folder)
    assert manifest.container == "model"
    assert manifest.extras == {
        "optim": "optimizer state: 12 tensors",
        "step": "<pickled value, stored in a .distcp file>",
    }
    assert manifest.files == [str(folder / ".metadata"), str(folder / "__0_0.distcp")]
    assert manifest.metadata == {"version": "1.0.0"}
    assert manifest.notes == [
        "DCP keeps tensor bytes in per-rank chunks across 1 .distcp files; shapes are the full "
        "(global) ones and byte locations are not listed"
    ]
    assert manifest.security == "benign"  # pathlib.PosixPath in StorageMeta


def test_key_picks_another_entry(checkpoint):
    folder, _ = checkpoint
    manifest = weightfit.read(folder, key="optim.state")
    assert manifest.container == "optim.state"
    assert all(name.split(".")[-1] in ("step", "exp_avg", "exp_avg_sq") for name in manifest)


def test_cli_inspect(checkpoint, run_cli):
    folder, _ = checkpoint
    result = run_cli("inspect", folder)
    assert result.code == 0


def test_hostile_metadata(tmp_path, run_cli):
    folder = tmp_path / "evil"
    folder.mkdir()
    canary = tmp_path / "canary"
    (folder / ".metadata").write_bytes(P.os_system(canary))
    with pytest.raises(ForbiddenPickleContent) as caught:
        weightfit.read(folder)
    assert str(caught.value) == (
        f"{folder}: forbidden pickle content: .metadata: names os.system, which reaches the "
        "operating system (files, processes, shell); nothing was run (at byte 2)"
    )
    assert run_cli("inspect", folder).code == 3
    assert not canary.exists()


def test_metadata_that_is_not_dcp_metadata(tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / ".metadata").write_bytes(P.pickle_of(P.in_dict(a=P.integer(1))))
    with pytest.raises(InvalidHeader) as caught:
        weightfit.read(folder)
    assert str(caught.value) == (
        f"{folder}: invalid header: .metadata does not hold a DCP Metadata (found <dict of 1>)"
    )


def test_missing_chunk_file(tmp_path):
    folder = save({"w": torch.ones(3)}, tmp_path / "gone")
    (folder / "__0_0.distcp").unlink()
    with pytest.raises(InconsistentShardIndex) as caught:
        weightfit.read(folder)
    assert str(caught.value) == (
        f"{folder}: inconsistent shard index: .metadata names chunk file '__0_0.distcp', "
        "which is not in the folder"
    )


def test_truncated_chunk_file(tmp_path, run_cli):
    folder = save({"w": torch.ones(300)}, tmp_path / "cut")
    chunk = folder / "__0_0.distcp"
    chunk.write_bytes(chunk.read_bytes()[:100])
    result = run_cli("inspect", folder)
    assert result.code == 3
    assert "truncated file: chunk file '__0_0.distcp' should hold bytes 0.." in result.err


def test_fix_refuses_a_dcp_folder_with_the_conversion_to_run(tmp_path, run_cli):
    # The names need a prefix stripped; the bytes are per-rank torch.save chunks.
    module = model()
    folder = save({"module." + k: v for k, v in module.state_dict().items()}, tmp_path / "dcp")
    factory = tmp_path / "factory.py"
    factory.write_text(
        "import torch\n\ndef build():\n"
        "    return torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6))\n"
    )
    result = run_cli("fix", folder, "--against", f"{factory}:build", "-o", tmp_path / "out")
    assert result.code == 2
    assert "is a torch.distributed.checkpoint folder" in result.err
    assert "format_utils dcp_to_torch DIR OUT.pt" in result.err
    assert not (tmp_path / "out").exists()


def test_a_chunk_file_cut_after_the_model_reads_the_model(tmp_path, run_cli):
    """dcp.load reads only the entries asked for: a file cut inside the optimizer's chunks
    still loads the model, so the model is read and the cut is a note; the optimizer fails."""
    module = model()
    optimizer = torch.optim.Adam(module.parameters())
    module(torch.randn(2, 4)).sum().backward()
    optimizer.step()
    folder = save({"model": module.state_dict(), "optim": optimizer.state_dict()}, tmp_path / "c")
    storage = dcp.FileSystemReader(folder).read_metadata().storage_data
    model_end = max(i.offset + i.length for k, i in storage.items() if k.fqn.startswith("model."))
    optim_end = max(i.offset + i.length for k, i in storage.items() if k.fqn.startswith("optim."))
    assert optim_end > model_end
    chunk = folder / "__0_0.distcp"
    chunk.write_bytes(chunk.read_bytes()[:model_end])
    loaded = {"model": model().state_dict()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dcp.load(loaded, checkpoint_id=folder)  # the real loader reads the model

    manifest = weightfit.read(folder)

    assert manifest.container == "model"
    assert "entries outside the chosen state dict cannot be read (optim." in manifest.notes[-1]
    result = run_cli("inspect", folder, "--key", "optim")
    assert result.code == 3
    assert "truncated file: chunk file '__0_0.distcp' should hold bytes" in result.err
