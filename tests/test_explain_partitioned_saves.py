"""``explain`` on what the real loaders raise when a save split across files is incomplete.

Each test makes the save with the real library (transformers' sharded ``save_pretrained``,
``torch.distributed.checkpoint``), removes one piece, loads it with the library's own
loader and hands the traceback to ``explain``: the piece it names is the one removed.
"""

from __future__ import annotations

import traceback
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import torch.distributed.checkpoint as dcp

import weightfit

transformers = pytest.importorskip("transformers")


def raised(action: Callable[[], object]) -> str:
    """The traceback ``action`` raises, as a terminal shows it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DCP in one process, without a process group
            action()
    except BaseException:  # the error is the text under test (DCP raises a BaseException)
        return traceback.format_exc()
    raise AssertionError("the load did not fail")


def top(text: str) -> weightfit.Finding:
    return weightfit.explain(text, resemble=False).findings[0]


def test_a_deleted_shard_of_a_sharded_save_is_named_whole(tmp_path: Path) -> None:
    config = transformers.BertConfig(
        vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=64,
    )  # fmt: skip
    transformers.BertModel(config).save_pretrained(tmp_path, max_shard_size="20KB")
    shards = sorted(tmp_path.glob("model-*-of-*.safetensors"))
    assert len(shards) > 2
    shards[1].unlink()
    text = raised(lambda: transformers.BertModel.from_pretrained(tmp_path))
    # safetensors' safe_open names the path unquoted: "No such file or directory: /…/model-…"
    assert f"No such file or directory: {shards[1]}" in text

    finding = top(text)

    assert finding.category == "partitioned"
    assert finding.evidence["file"] == shards[1].name
    assert "one piece of a sharded save" in finding.message


def test_a_missing_chunk_file_of_a_dcp_save_is_named(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dcp.save({"w": torch.ones(3)}, checkpoint_id=tmp_path)
    (tmp_path / "__0_0.distcp").unlink()
    text = raised(lambda: dcp.load({"w": torch.zeros(3)}, checkpoint_id=tmp_path))

    finding = top(text)

    assert finding.category == "partitioned"
    assert finding.evidence["file"] == "__0_0.distcp"


def test_a_dcp_folder_without_its_metadata_names_the_metadata_file(tmp_path: Path) -> None:
    folder = tmp_path / "step_10"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dcp.save({"w": torch.ones(3)}, checkpoint_id=folder)
    (folder / ".metadata").unlink()
    text = raised(lambda: dcp.load({"w": torch.zeros(3)}, checkpoint_id=folder))

    finding = top(text)

    assert finding.category == "partitioned"
    assert finding.evidence["file"] == ".metadata"


def test_one_dcp_chunk_file_handed_to_torch_load_is_no_broken_download(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dcp.save({"step": 3, "w": torch.ones(3)}, checkpoint_id=tmp_path)
    text = raised(lambda: torch.load(tmp_path / "__0_0.distcp"))
    assert "failed reading zip archive" in text

    finding = top(text)

    assert finding.category == "partitioned"
    assert finding.evidence["file"] == "__0_0.distcp"
    assert "dcp_to_torch" in finding.fix_note
