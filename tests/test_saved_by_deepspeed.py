"""DeepSpeed ZeRO checkpoint folders, saved for real (``tests/data/saved-by/deepspeed-0.19.8``).

A ``global_step*`` folder holds the module state (``mp_rank_00_model_states.pt``, under
ZeRO-3 ``zero_pp_rank_0_mp_rank_00_model_states.pt``) beside each rank's optimizer partition
(``*_optim_states.pt``): the optimizer files are training state, never the folder's weights.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import weightfit
from weightfit.errors import VariantNotFound

SAVED = Path(__file__).parent / "data" / "saved-by" / "deepspeed-0.19.8"


class Net(nn.Module):
    """The model ``make.py`` trained."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(8, 12)
        self.norm = nn.LayerNorm(12)
        self.fc2 = nn.Linear(12, 4)


def test_a_zero1_step_folder_reads_its_model_states() -> None:
    manifest = weightfit.read(SAVED / "zero1" / "global_step1")

    assert manifest.container == "module"
    assert [Path(f).name for f in manifest.files] == ["mp_rank_00_model_states.pt"]
    assert weightfit.check(SAVED / "zero1" / "global_step1", Net()).compatible


def test_a_zero3_step_folder_is_partitioned() -> None:
    report = weightfit.check(SAVED / "zero3" / "global_step1", Net())

    assert report.findings[0].category == "partitioned"
    assert "ZeRO-3" in report.findings[0].message
    assert "zero_to_fp32.py" in report.findings[0].fix_note


def test_an_accelerate_state_without_its_model_file_says_so(tmp_path: Path) -> None:
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=True)
    model = nn.Linear(4, 3)
    optimizer = torch.optim.Adam(model.parameters())
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    accelerator.save_state(tmp_path)
    (tmp_path / "model.safetensors").unlink()

    with pytest.raises(VariantNotFound) as caught:
        weightfit.read(tmp_path)

    assert str(caught.value) == (
        f"{tmp_path}: variant not found: no model weights, only a trainer's optimizer, "
        "scheduler or RNG state: optimizer (pickle, 1 file), scheduler (pickle, 1 file); "
        "the weights file is missing from the saved state"
    )


def test_an_optimizer_partition_read_alone_is_named_not_weights() -> None:
    path = SAVED / "zero3" / "global_step1" / "zero_pp_rank_0_mp_rank_00_optim_states.pt"
    manifest = weightfit.read(path)
    assert not manifest.tensors
    assert manifest.container_reason.startswith(
        "the file holds an optimizer state dict under 'optimizer_state_dict.optimizer_state_dict'"
    )

    (finding,) = weightfit.check(path, Net()).findings

    assert finding.category == "missing"
    assert finding.fix_note.startswith("the checkpoint holds no model tensors: the file holds")
