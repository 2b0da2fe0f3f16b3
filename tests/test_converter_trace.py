"""The tracer on real library converters: what it follows, and what it refuses and why."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from weightfit.converters.to_plan import plan_ops
from weightfit.converters.trace import TraceRefused, trace
from weightfit.manifest import from_shapes
from weightfit.ops import predict
from weightfit.plan import Plan

diffusers = pytest.importorskip("diffusers")


def test_refuses_a_converter_that_computes_on_values() -> None:
    """diffusers' LoKr converter bakes ``alpha / rank`` into a factor: arithmetic on values."""
    from diffusers.loaders.lora_conversion_utils import _convert_non_diffusers_lokr_to_diffusers

    module = "diffusion_model.layers.0.attention.to_q"
    manifest = from_shapes(
        {
            f"{module}.lokr_w1": (4, 4),
            f"{module}.lokr_w2_a": (8, 2),
            f"{module}.lokr_w2_b": (2, 8),
            f"{module}.alpha": (),
        }
    )
    with pytest.raises(TraceRefused) as refused:
        trace(_convert_non_diffusers_lokr_to_diffusers, manifest, label="lokr")
    assert refused.value.detail == (
        "lokr reads the value of diffusion_model.layers.0.attention.to_q.alpha (`item`) "
        "to compute with it, which a plan cannot express"
    )


def test_refuses_arithmetic_and_names_the_operation() -> None:
    def scaled(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"w": state["w"] * 2}

    with pytest.raises(TraceRefused, match=r"computes `mul` on the values of w"):
        trace(scaled, from_shapes({"w": (2, 2)}), label="scaled")


def test_refuses_a_tensor_made_from_nothing() -> None:
    def eye(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"w": state["w"], "proj": torch.eye(2)}

    with pytest.raises(TraceRefused, match="returns 'proj' as a Tensor not made from checkpoint"):
        trace(eye, from_shapes({"w": (2, 2)}), label="eye")


def test_refuses_a_value_used_twice() -> None:
    def shared(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"a": state["w"], "b": state["w"]}

    with pytest.raises(TraceRefused, match="more than once"):
        plan_ops(trace(shared, from_shapes({"w": (2, 2)})), "shared")


def test_swap_halves_and_slices_become_exact_ops() -> None:
    def convert(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        shift, scale = state["mod"].chunk(2, dim=0)
        weight = state["in_proj"]
        return {
            "mod": torch.cat([scale, shift]),
            "q": weight[:2, :].clone().detach(),
            "k": weight[2:4],
            "conv": state["lin"][:, :, 0, 0],
            "t": state["t"].T.contiguous(),
            "b": state["a"],
            "a": state["b"],
        }

    manifest = from_shapes(
        {"mod": (8,), "in_proj": (6, 3), "lin": (5, 4, 1, 1), "t": (2, 3), "a": (1,), "b": (1,)}
    )
    ops = plan_ops(trace(convert, manifest), "test")
    assert [op.kind for op in ops] == [
        "split",
        "concat",
        "split",
        "drop",
        "reshape",
        "rename",
        "transpose",
        "rename",
        "rename",
        "rename",
    ]
    out = predict(Plan(ops), manifest)
    assert {n: s.shape for n, s in out.tensors.items()} == {
        "mod": (8,),
        "q": (2, 3),
        "k": (2, 3),
        "conv": (5, 4),
        "t": (3, 2),
        "b": (1,),
        "a": (1,),
    }


def test_in_memory_fallback_writes_what_the_converter_returns(tmp_path: Path) -> None:
    """The refused LoKr converter, run in memory on request, written atomically and verified."""
    from diffusers.loaders.lora_conversion_utils import _convert_non_diffusers_lokr_to_diffusers
    from safetensors.torch import load_file, save_file

    import weightfit
    from weightfit.apply import write_outcome
    from weightfit.converters.memory import STAMP_KEY, outcome_in_memory
    from weightfit.converters.recognise import Recognised
    from weightfit.manifest import from_shapes as shapes

    module = "diffusion_model.layers.0.attention.to_q"
    torch.manual_seed(0)
    state = {
        f"{module}.lokr_w1": torch.randn(4, 4),
        f"{module}.lokr_w2_a": torch.randn(8, 2),
        f"{module}.lokr_w2_b": torch.randn(2, 8),
        f"{module}.alpha": torch.tensor(4.0),
    }
    save_file(state, tmp_path / "lokr.safetensors")
    expected = _convert_non_diffusers_lokr_to_diffusers(dict(state))
    recognised = Recognised(
        library=f"diffusers {diffusers.__version__}",
        converter="_convert_non_diffusers_lokr_to_diffusers",
        layout="",
        target_class="",
        run=_convert_non_diffusers_lokr_to_diffusers,
    )
    target = shapes({name: tuple(value.shape) for name, value in expected.items()})
    outcome = outcome_in_memory(recognised, weightfit.read(tmp_path / "lokr.safetensors"), target)
    result = write_outcome(
        outcome, tmp_path / "out", plan=Plan(), target=target, stamp={STAMP_KEY: recognised.label}
    )
    written = load_file(tmp_path / "out" / "model.safetensors")
    assert sorted(written) == sorted(expected)
    assert all(torch.equal(written[k], expected[k]) for k in expected)
    assert result.stamp[STAMP_KEY] == f"diffusers {diffusers.__version__} " + recognised.converter
