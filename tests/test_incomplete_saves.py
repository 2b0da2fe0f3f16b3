"""Saves split across files, with a piece missing: the read names the piece and what it sees.

A Hugging Face cache laid out by huggingface_hub's own helpers (a download that stopped
leaves ``blobs/<hash>.incomplete`` and no link), and a ``torch.distributed.checkpoint``
folder whose ``.metadata`` (written last) is gone.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import pytest
import torch
import torch.distributed.checkpoint as dcp

import weightfit
from weightfit.errors import InconsistentShardIndex, NotACheckpoint

transformers = pytest.importorskip("transformers")
file_download = pytest.importorskip("huggingface_hub.file_download")


def cached(saved: Path, cache: Path, *, stopped: str, link_stopped: bool) -> Path:
    """``saved``'s files in a Hub cache; ``stopped`` downloaded a third of the way."""
    storage = cache / file_download.repo_folder_name(repo_id="org/tiny", repo_type="model")
    (storage / "blobs").mkdir(parents=True)
    for file in saved.iterdir():
        data = file.read_bytes()
        blob = storage / "blobs" / hashlib.sha256(data).hexdigest()
        pointer = Path(file_download._get_pointer_path(str(storage), "abc123", file.name))
        pointer.parent.mkdir(parents=True, exist_ok=True)
        if file.name == stopped:
            Path(f"{blob}.incomplete").write_bytes(data[: len(data) // 3])
            if not link_stopped:
                continue
        else:
            blob.write_bytes(data)
        file_download._create_symlink(str(blob), str(pointer))
    return pointer.parent


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("saved")
    config = transformers.BertConfig(
        vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=64,
    )  # fmt: skip
    transformers.BertModel(config).save_pretrained(folder, max_shard_size="20KB")
    return folder


@pytest.mark.parametrize("link_stopped", [False, True])
def test_a_shard_whose_download_stopped_in_a_hub_cache(
    saved: Path, tmp_path: Path, link_stopped: bool
) -> None:
    shard = sorted(saved.glob("model-*-of-*.safetensors"))[1].name
    snapshot = cached(saved, tmp_path, stopped=shard, link_stopped=link_stopped)

    with pytest.raises(InconsistentShardIndex) as caught:
        weightfit.read(snapshot)

    message = str(caught.value)
    assert f"shard {shard!r} named by the index does not exist (" in message
    assert ".incomplete" in message
    assert ("stopped before the end" if link_stopped else "1 unfinished download") in message


def test_a_dcp_folder_without_its_metadata(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DCP in one process, without a process group
        dcp.save({"w": torch.ones(3)}, checkpoint_id=tmp_path)
    (tmp_path / ".metadata").unlink()

    with pytest.raises(NotACheckpoint) as caught:
        weightfit.read(tmp_path)

    assert str(caught.value) == (
        f"{tmp_path}: not a checkpoint: 1 torch.distributed.checkpoint chunk file(s) "
        "(__0_0.distcp) but no .metadata: an incomplete DCP save or copy (.metadata is written "
        "last, once every rank has saved); copy it from the source or save again"
    )


@pytest.mark.parametrize("piece", ["__0_0.distcp", ".metadata"])
def test_one_piece_of_a_dcp_folder_read_alone_names_the_folder(tmp_path: Path, piece: str) -> None:
    # torch.load of __0_0.distcp may even return one tensor: the last chunk's archive.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dcp.save({"w": torch.ones(3), "b": torch.zeros(2)}, checkpoint_id=tmp_path)

    with pytest.raises(NotACheckpoint) as caught:
        weightfit.read(tmp_path / piece)

    assert str(caught.value).endswith(
        "of a torch.distributed.checkpoint folder, not a checkpoint of its own: tensors are "
        f"chunks that only .metadata places; read the folder ({tmp_path})"
    )


def test_lint_names_a_dcp_folder(tmp_path: Path, run_cli) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dcp.save({"w": torch.ones(3)}, checkpoint_id=tmp_path)

    result = run_cli("lint", tmp_path)

    assert result.code == 3
    assert "a torch.distributed.checkpoint folder, not a model repository" in result.err
