"""``partitioned``: sharded runs saved without gathering (DeepSpeed ZeRO-3, FSDP flat saves)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from diagnose_helpers import after_fix, categories, findings_for, save_safetensors, save_torch


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 16)
        self.blocks = nn.ModuleList(nn.Linear(16, 16) for _ in range(3))
        self.head = nn.Linear(16, 4)


def test_zero3_model_states_hold_size_0_placeholders(tmp_path: Path) -> None:
    # What a ZeRO-3 engine's module.state_dict() holds without gathering: empty tensors.
    state = {name: torch.empty(0, dtype=t.dtype) for name, t in Net().state_dict().items()}
    path = save_torch(tmp_path / "mp_rank_00_model_states.pt", {"module": state})

    findings = findings_for(path, Net())

    assert categories(findings) == ["partitioned"]
    finding = findings[0]
    assert finding.evidence["empty_tensors"] == len(state)
    assert finding.evidence["share_of_matched"] == 1.0
    assert "ZeRO-3" in finding.message
    assert "zero_to_fp32.py" in finding.fix_note
    assert finding.confidence >= 0.9
    assert set(finding.params) == set(state)


def test_flat_whole_tensors_reshape_back(tmp_path: Path) -> None:
    state = {name: t.flatten() for name, t in Net().state_dict().items()}
    path = save_safetensors(tmp_path / "flat.safetensors", state)

    findings = findings_for(path, Net())

    assert categories(findings) == ["partitioned"]
    (finding,) = findings
    assert {op.args["name"] for op in finding.fix} == {
        "embed.weight",
        "blocks.0.weight",
        "blocks.1.weight",
        "blocks.2.weight",
        "head.weight",
    }
    op = next(o for o in finding.fix if o.args["name"] == "head.weight")
    assert (op.kind, op.args["shape"], op.safety.value) == ("reshape", [4, 16], "exact")


def test_one_rank_of_a_sharded_flat_save(tmp_path: Path) -> None:
    state = {
        name: t.flatten()[: t.numel() // 2] if t.dim() == 2 else t
        for name, t in Net().state_dict().items()
    }
    path = save_safetensors(tmp_path / "rank0.safetensors", state)

    findings = findings_for(path, Net())

    assert categories(findings) == ["partitioned"]
    assert findings[0].evidence["ranks"] == 2
    assert findings[0].fix == []


def test_gathered_checkpoint_yields_no_finding(tmp_path: Path) -> None:
    path = save_torch(tmp_path / "gathered.pt", {"module": Net().state_dict()})

    assert findings_for(path, Net()) == []


def test_reshape_ops_restore_flat_tensors(tmp_path: Path) -> None:
    state = {name: t.flatten() for name, t in Net().state_dict().items()}
    path = save_safetensors(tmp_path / "flat.safetensors", state)

    assert after_fix(path, Net()) == []


def test_fsdp_flat_parameters_hold_the_missing_tensors(tmp_path: Path) -> None:
    # A real FSDP run (one gloo rank on CPU), each Linear its own unit: its parameters as
    # the FlatParameters FSDP keeps, saved by name. They hold every tensor the model misses.
    import functools

    import torch.distributed as dist
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
    from torch.distributed.fsdp.wrap import ModuleWrapPolicy

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rdv'}", rank=0, world_size=1)
    try:
        wrap = functools.partial(FSDP, device_id=torch.device("cpu"))
        fsdp = wrap(Net(), auto_wrap_policy=ModuleWrapPolicy({nn.Linear}))
        state = {name: p.detach().clone() for name, p in fsdp.named_parameters()}
    finally:
        dist.destroy_process_group()
    assert "_fsdp_wrapped_module.blocks.0._fsdp_wrapped_module._flat_param" in state
    path = save_torch(tmp_path / "flat_params.pt", state)

    findings = findings_for(path, Net())

    assert categories(findings) == ["partitioned"]
    assert findings[0].evidence["holds"] == len(Net().state_dict())
    assert findings[0].evidence["model_elements"] == findings[0].evidence["flat_elements"]
