"""Plan op semantics: names and shapes (the dry run), and values on small real modules.

Values are evaluated straight from in-memory tensors (``Recipe.evaluate`` takes
any reader), so these tests cover the ops alone; ``test_apply.py`` covers files.
Exact ops must give bit-equal outputs; the tolerances of the others are stated
next to each assertion.
"""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch
from torch import nn
from torch.nn import functional

from weightfit import ops, values
from weightfit.errors import CastOverflow, InvalidPlan, UnsupportedTensor
from weightfit.manifest import Manifest, TensorSpec
from weightfit.plan import Op, Plan


def manifest_of(state: dict[str, torch.Tensor]) -> Manifest:
    """A shape-only manifest of an in-memory state dict (real dtypes)."""
    from weightfit.dtypes import canonical

    tensors = {
        name: TensorSpec(name, tuple(value.shape), canonical(str(value.dtype)))
        for name, value in state.items()
    }
    return Manifest(tensors=tensors, source="<memory>", format="state-dict")


def run(state: dict[str, torch.Tensor], *op_list: Op) -> dict[str, torch.Tensor]:
    """Apply ops to an in-memory state dict through the real recipes."""
    outcome = ops.run(Plan(list(op_list)), manifest_of(state))

    def read(spec: TensorSpec) -> torch.Tensor:
        return state[spec.name].contiguous()

    return {name: recipe.evaluate(read) for name, recipe in outcome.recipes.items()}


def names(state: dict[str, torch.Tensor], *op_list: Op) -> list[str]:
    return list(ops.run(Plan(list(op_list)), manifest_of(state)).recipes)


def fail(state: dict[str, torch.Tensor], *op_list: Op) -> str:
    with pytest.raises(InvalidPlan) as info:
        ops.run(Plan(list(op_list)), manifest_of(state))
    return str(info.value)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


# --- names -----------------------------------------------------------------


def test_rename_prefix_form_strips_and_adds() -> None:
    state = {"module.a.weight": torch.zeros(1), "module.b": torch.zeros(1), "c": torch.zeros(1)}
    assert names(state, Op("rename", {"strip": "module.", "add": "model."})) == [
        "model.a.weight",
        "model.b",
        "c",
    ]


def test_rename_template_over_layer_indices() -> None:
    state = {f"blocks.{i}.attn.proj.weight": torch.zeros(1) for i in range(3)}
    state["blocks.0.mlp.weight"] = torch.zeros(1)
    op = Op(
        "rename", {"from": "blocks.{i}.attn.proj.weight", "to": "layers.{i}.attn.to_out.0.weight"}
    )
    assert names(state, op) == [
        "layers.0.attn.to_out.0.weight",
        "layers.1.attn.to_out.0.weight",
        "layers.2.attn.to_out.0.weight",
        "blocks.0.mlp.weight",
    ]


def test_rename_regex_uses_fullmatch_and_groups() -> None:
    state = {"enc.0.w": torch.zeros(1), "enc.0.w.extra": torch.zeros(1)}
    op = Op("rename", {"pattern": r"enc\.(\d+)\.w", "replacement": r"encoder.layer.\1.weight"})
    assert names(state, op) == ["encoder.layer.0.weight", "enc.0.w.extra"]


def test_rename_exact_keeps_values_bit_for_bit() -> None:
    state = {"a": torch.randn(3, 2)}
    out = run(state, Op("rename", {"from": "a", "to": "b"}))
    assert torch.equal(out["b"], state["a"])


def test_rename_collision_is_refused() -> None:
    state = {"a": torch.zeros(1), "b": torch.zeros(1)}
    assert fail(state, Op("rename", {"from": "a", "to": "b"})) == (
        "invalid plan: op #0 (rename): two tensors would be named 'b'"
    )


def test_rename_of_absent_name_is_refused() -> None:
    assert fail({"a": torch.zeros(1)}, Op("rename", {"from": "x", "to": "y"})) == (
        "invalid plan: op #0 (rename): no tensor named 'x'"
    )


def test_drop_by_name_and_pattern() -> None:
    state = {
        "w": torch.zeros(1),
        "ema.w": torch.zeros(1),
        "ema.b": torch.zeros(1),
        "step": torch.zeros(1),
    }
    kept = names(state, Op("drop", {"pattern": r"ema\..*"}), Op("drop", {"name": "step"}))
    assert kept == ["w"]


def test_drop_pattern_matching_nothing_is_refused() -> None:
    assert fail({"w": torch.zeros(1)}, Op("drop", {"pattern": "opt.*"})) == (
        "invalid plan: op #0 (drop): pattern 'opt.*' matches no tensor"
    )


def test_select_keeps_a_subtree_and_strips_its_prefix() -> None:
    state = {"ema.w": torch.randn(2), "model.w": torch.randn(2), "ema.b": torch.randn(1)}
    out = run(state, Op("select", {"prefix": "ema."}))
    assert list(out) == ["w", "b"]
    assert torch.equal(out["w"], state["ema.w"])


def test_reinit_leaves_tensor_out_and_lists_it() -> None:
    state = {"y_proj.weight": torch.zeros(4, 3), "other": torch.zeros(1)}
    outcome = ops.run(
        Plan([Op("reinit", {"name": "y_proj.weight"}), Op("reinit", {"name": "absent.weight"})]),
        manifest_of(state),
    )
    assert list(outcome.recipes) == ["other"]
    assert outcome.reinit == ["y_proj.weight", "absent.weight"]
    assert outcome.left_out == ["y_proj.weight"]


def test_missing_argument_is_named() -> None:
    assert fail({"w": torch.zeros(2)}, Op("unsqueeze", {"name": "w"})) == (
        "invalid plan: op #0 (unsqueeze): needs argument 'dim'"
    )


def test_wrong_argument_type_is_named() -> None:
    assert fail({"w": torch.zeros(2)}, Op("unsqueeze", {"name": "w", "dim": "2"})) == (
        "invalid plan: op #0 (unsqueeze): argument 'dim' must be an integer, not '2'"
    )


def test_ops_see_names_left_by_earlier_ops() -> None:
    state = {"module.conv.weight": torch.randn(8, 4, 2, 2)}
    out = run(
        state,
        Op("rename", {"strip": "module.", "add": ""}),
        Op("unsqueeze", {"name": "conv.weight", "dim": 2}),
    )
    assert out["conv.weight"].shape == (8, 4, 1, 2, 2)


def test_predict_gives_the_output_manifest_without_values() -> None:
    manifest = manifest_of({"w": torch.zeros(8, 4), "b": torch.zeros(8)})
    plan = Plan([Op("pad_rows", {"name": "w", "rows": 10, "pad_to_multiple_of": 8})])
    predicted = ops.predict(plan, manifest)
    assert predicted.shapes() == {"w": (16, 4), "b": (8,)}


def test_recipes_record_the_ops_that_changed_them() -> None:
    state = {"m.w": torch.zeros(4, 2), "m.b": torch.zeros(4)}
    outcome = ops.run(
        Plan(
            [
                Op("rename", {"strip": "m.", "add": ""}),
                Op("transpose", {"name": "w"}),
                Op("cast", {"to": "BF16"}),
            ]
        ),
        manifest_of(state),
    )
    assert outcome.recipes["w"].ops == ("transpose", "cast")
    assert outcome.recipes["b"].ops == ("cast",)


# --- exact shape ops on real modules ----------------------------------------


def test_unsqueeze_turns_conv2d_into_conv3d_with_equal_output_per_frame() -> None:
    conv2d = nn.Conv2d(4, 16, 2, stride=2)
    conv3d = nn.Conv3d(4, 16, (1, 2, 2), stride=(1, 2, 2))
    out = run(dict(conv2d.state_dict()), Op("unsqueeze", {"name": "weight", "dim": 2}))
    conv3d.load_state_dict(out, strict=True)
    frame = torch.randn(2, 4, 8, 8)
    assert torch.equal(conv3d(frame.unsqueeze(2)).squeeze(2), conv2d(frame))


def test_squeeze_turns_conv3d_back_into_conv2d() -> None:
    conv3d = nn.Conv3d(4, 16, (1, 2, 2), stride=(1, 2, 2))
    conv2d = nn.Conv2d(4, 16, 2, stride=2)
    out = run(dict(conv3d.state_dict()), Op("squeeze", {"name": "weight", "dim": 2}))
    conv2d.load_state_dict(out, strict=True)
    frame = torch.randn(1, 4, 6, 6)
    assert torch.equal(conv2d(frame), conv3d(frame.unsqueeze(2)).squeeze(2))


def test_squeeze_of_a_non_singleton_axis_is_refused() -> None:
    assert fail({"w": torch.zeros(2, 3)}, Op("squeeze", {"name": "w", "dim": 1})) == (
        "invalid plan: op #0 (squeeze): w: axis 1 has size 3, not 1"
    )


def test_unsqueeze_dim_out_of_range_is_refused() -> None:
    assert fail({"w": torch.zeros(2, 3)}, Op("unsqueeze", {"name": "w", "dim": 5})) == (
        "invalid plan: op #0 (unsqueeze): dim 5 is out of range for 3 axes"
    )


def test_transpose_turns_gpt2_conv1d_into_linear() -> None:
    from transformers.pytorch_utils import Conv1D

    conv1d = Conv1D(12, 5)  # nf=12 outputs, nx=5 inputs: weight [5, 12]
    linear = nn.Linear(5, 12)
    out = run(dict(conv1d.state_dict()), Op("transpose", {"name": "weight", "dims": [1, 0]}))
    linear.load_state_dict(out, strict=True)
    x = torch.randn(3, 5)
    torch.testing.assert_close(linear(x), conv1d(x), rtol=0, atol=1e-6)  # matmul order only
    assert torch.equal(out["weight"], conv1d.weight.T)


def test_reshape_turns_linear_into_1x1_conv() -> None:
    linear = nn.Linear(4, 8)
    conv = nn.Conv2d(4, 8, 1)
    out = run(dict(linear.state_dict()), Op("reshape", {"name": "weight", "shape": [8, 4, 1, 1]}))
    conv.load_state_dict(out, strict=True)
    x = torch.randn(2, 4, 3, 3)
    expected = linear(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    torch.testing.assert_close(conv(x), expected, rtol=0, atol=1e-6)


def test_reshape_with_wrong_count_is_refused() -> None:
    assert fail({"w": torch.zeros(8, 4)}, Op("reshape", {"name": "w", "shape": [8, 3]})) == (
        "invalid plan: op #0 (reshape): w: cannot reshape [8, 4] to [8, 3]"
    )


def test_split_fused_qkv_into_three_linears() -> None:
    fused = nn.Linear(6, 18)
    q, k, v = nn.Linear(6, 6), nn.Linear(6, 6), nn.Linear(6, 6)
    parts = ["q.weight", "k.weight", "v.weight"]
    out = run(
        {"qkv.weight": fused.weight.detach(), "qkv.bias": fused.bias.detach()},
        Op("split", {"name": "qkv.weight", "into": parts, "sizes": [6, 6, 6]}),
        Op(
            "split",
            {"name": "qkv.bias", "into": ["q.bias", "k.bias", "v.bias"], "sizes": [6, 6, 6]},
        ),
    )
    for index, (name, layer) in enumerate(zip("qkv", (q, k, v), strict=True)):
        rows = slice(index * 6, (index + 1) * 6)
        assert torch.equal(out[f"{name}.weight"], fused.weight[rows])
        layer.load_state_dict({"weight": out[f"{name}.weight"], "bias": out[f"{name}.bias"]})
        x = torch.randn(2, 6)
        # same weights; a smaller matmul may sum in another order: 1e-6
        torch.testing.assert_close(layer(x), fused(x)[:, rows], rtol=0, atol=1e-6)


def test_split_sizes_must_add_up() -> None:
    op = Op("split", {"name": "w", "into": ["a", "b"], "sizes": [2, 2]})
    assert fail({"w": torch.zeros(5, 1)}, op) == (
        "invalid plan: op #0 (split): w: sizes [2, 2] do not add up to axis 0 (5)"
    )


def test_concat_gate_and_up_into_gate_up() -> None:
    gate, up = nn.Linear(4, 8, bias=False), nn.Linear(4, 8, bias=False)
    fused = nn.Linear(4, 16, bias=False)
    out = run(
        {"gate.weight": gate.weight.detach(), "x": torch.zeros(1), "up.weight": up.weight.detach()},
        Op("concat", {"names": ["gate.weight", "up.weight"], "into": "gate_up.weight", "dim": 0}),
    )
    assert list(out) == ["gate_up.weight", "x"]
    assert torch.equal(out["gate_up.weight"], torch.cat([gate.weight, up.weight]))
    fused.load_state_dict({"weight": out["gate_up.weight"]})
    x = torch.randn(3, 4)
    expected = torch.cat([gate(x), up(x)], dim=-1)
    torch.testing.assert_close(fused(x), expected, rtol=0, atol=1e-6)  # matmul order only


def test_concat_of_mismatched_parts_is_refused() -> None:
    state = {"a": torch.zeros(2, 3), "b": torch.zeros(2, 4)}
    op = Op("concat", {"names": ["a", "b"], "into": "ab"})
    assert fail(state, op) == (
        "invalid plan: op #0 (concat): b F32[2, 4] does not concatenate with a F32[2, 3] on axis 0"
    )


# --- value ops (need review) -------------------------------------------------


@pytest.mark.parametrize("mode", ["center", "mean"])
def test_inflate_conv2d_over_time_matches_on_a_still_clip(mode: str) -> None:
    conv2d = nn.Conv2d(3, 8, 3, padding=1)
    conv3d = nn.Conv3d(3, 8, (3, 3, 3), padding=(0, 1, 1))
    op = Op("inflate", {"name": "weight", "dim": 2, "size": 3, "mode": mode})
    conv3d.load_state_dict(run(dict(conv2d.state_dict()), op), strict=True)
    frame = torch.randn(1, 3, 5, 5)
    clip = frame.unsqueeze(2).expand(-1, -1, 3, -1, -1)
    # center: one non-zero slice, bit-equal; mean: a sum of three thirds, float rounding only
    tolerance = 0 if mode == "center" else 1e-5
    torch.testing.assert_close(conv3d(clip).squeeze(2), conv2d(frame), rtol=0, atol=tolerance)


def test_inflate_with_size_one_is_exact_unsqueeze() -> None:
    state = {"w": torch.randn(4, 2, 3, 3)}
    op = Op("inflate", {"name": "w", "dim": 2, "size": 1, "mode": "mean"})
    assert op.safety.value == "exact"
    assert torch.equal(run(state, op)["w"], state["w"].unsqueeze(2))
    assert ops.run(Plan([op]), manifest_of(state)).recipes["w"].source is not None


def test_pad_rows_mean_resizing_keeps_old_rows_and_pads_to_multiple() -> None:
    embedding = nn.Embedding(32000 // 100, 16)  # 320 tokens, scaled down
    state = {"embed_tokens.weight": embedding.weight.detach()}
    op = Op("pad_rows", {"name": "embed_tokens.weight", "rows": 321, "pad_to_multiple_of": 64})
    out = run(state, op)["embed_tokens.weight"]
    assert out.shape == (384, 16)
    assert torch.equal(out[:320], state["embed_tokens.weight"])
    mean = state["embed_tokens.weight"].mean(dim=0)
    # new rows are drawn with 1e-9 × the covariance: equal to the mean within 1e-3
    torch.testing.assert_close(out[320:], mean.expand(64, -1), rtol=0, atol=1e-3)
    assert not torch.equal(out[320], out[321])


PADDING_MEMORY = """
import threading, time, psutil, torch
from weightfit.values import padded
table = torch.randn(80000, 1024).bfloat16()
process = psutil.Process()
base = peak = process.memory_info().rss
done = threading.Event()
def watch():
    global peak
    while not done.is_set():
        peak = max(peak, process.memory_info().rss)
        time.sleep(0.002)
watcher = threading.Thread(target=watch)
watcher.start()
padded(table, 80064, "mean", 0)
done.set()
watcher.join()
print((peak - base) / table.nbytes)
"""


def test_pad_rows_mean_holds_no_float32_copy_of_the_whole_table() -> None:
    """A 7B model's bf16 embedding padded by mean peaked at 8x its size (2.1 GB): a float32
    copy and a centred float32 copy beside the result; the moments are now summed by blocks."""
    done = subprocess.run(
        [sys.executable, "-c", PADDING_MEMORY], capture_output=True, text=True, check=True
    )
    assert float(done.stdout) < 2.5  # the result itself, a block, the covariance


def test_pad_rows_moments_are_the_whole_tables() -> None:
    table = torch.randn(9000, 48, dtype=torch.float64).mul(3).add(1).bfloat16()
    mean, covariance = values._moments(table)
    whole = table.float()
    centred = whole - whole.mean(dim=0)
    assert covariance is not None
    torch.testing.assert_close(mean, whole.mean(dim=0), rtol=0, atol=1e-5)
    torch.testing.assert_close(covariance, centred.T @ centred / 9000, rtol=1e-4, atol=1e-4)


def test_pad_rows_is_deterministic_for_a_seed() -> None:
    state = {"w": torch.randn(10, 4)}
    op = Op("pad_rows", {"name": "w", "rows": 12, "seed": 7})
    assert torch.equal(run(state, op)["w"], run(state, op)["w"])


def test_pad_rows_zeros_and_1d_bias() -> None:
    state = {"w": torch.randn(5, 3), "b": torch.randn(5)}
    out = run(
        state,
        Op("pad_rows", {"name": "w", "rows": 7, "init": "zeros"}),
        Op("pad_rows", {"name": "b", "rows": 7}),
    )
    assert torch.equal(out["w"][5:], torch.zeros(2, 3))
    assert torch.equal(out["b"][:5], state["b"])
    torch.testing.assert_close(out["b"][5:], state["b"].mean().expand(2), rtol=0, atol=1e-6)


def test_pad_rows_on_bf16_keeps_dtype_and_old_rows() -> None:
    state = {"w": torch.randn(6, 4).to(torch.bfloat16)}
    out = run(state, Op("pad_rows", {"name": "w", "rows": 8}))["w"]
    assert out.dtype == torch.bfloat16
    assert torch.equal(out[:6], state["w"])


def test_pad_rows_cannot_shrink() -> None:
    assert fail({"w": torch.zeros(5, 2)}, Op("pad_rows", {"name": "w", "rows": 4})) == (
        "invalid plan: op #0 (pad_rows): w has 5 rows; pad_rows cannot shrink it to 4"
    )


def test_truncate_rows_keeps_the_first_rows() -> None:
    state = {"lm_head.weight": torch.randn(10, 4)}
    out = run(state, Op("truncate_rows", {"name": "lm_head.weight", "rows": 8}))
    assert torch.equal(out["lm_head.weight"], state["lm_head.weight"][:8])


@pytest.mark.parametrize("classes", [5, 12])
def test_copy_overlap_for_a_head_with_another_class_count(classes: int) -> None:
    head = nn.Linear(6, 10)
    out = run(
        {"head.weight": head.weight.detach(), "head.bias": head.bias.detach()},
        Op("copy_overlap", {"name": "head.weight", "shape": [classes, 6]}),
        Op("copy_overlap", {"name": "head.bias", "shape": [classes]}),
    )
    new = nn.Linear(6, classes)
    new.load_state_dict({"weight": out["head.weight"], "bias": out["head.bias"]})
    kept = min(classes, 10)
    assert torch.equal(out["head.weight"][:kept], head.weight[:kept])
    x = torch.randn(2, 6)
    torch.testing.assert_close(new(x)[:, :kept], head(x)[:, :kept], rtol=0, atol=1e-6)
    assert torch.equal(out["head.weight"][kept:], torch.zeros(classes - kept, 6))


def test_copy_overlap_normal_init_fills_new_rows() -> None:
    out = run(
        {"w": torch.ones(2, 3)},
        Op("copy_overlap", {"name": "w", "shape": [400, 3], "init": "normal", "std": 0.02}),
    )["w"]
    assert torch.equal(out[:2], torch.ones(2, 3))
    assert abs(float(out[2:].std()) - 0.02) < 0.003


def test_resample_pos_embed_same_grid_is_identity_and_keeps_prefix() -> None:
    pos = torch.randn(1, 1 + 16, 8)
    op = Op(
        "resample_pos_embed",
        {"name": "pos", "from_grid": [4, 4], "to_grid": [4, 4], "prefix_tokens": 1},
    )
    assert torch.equal(run({"pos": pos}, op)["pos"], pos)


def test_resample_pos_embed_bicubic_follows_a_smooth_field() -> None:
    def field(size: int) -> torch.Tensor:
        centres = (torch.arange(size) + 0.5) / size  # cell centres, as align_corners=False
        y, x = torch.meshgrid(centres, centres, indexing="ij")
        return torch.stack([torch.sin(2 * x) + y, torch.cos(3 * y) * x], dim=-1).reshape(-1, 2)

    cls = torch.tensor([[7.0, -7.0]])
    pos = torch.cat([cls, field(16)]).unsqueeze(0)
    op = Op(
        "resample_pos_embed",
        {"name": "pos_embed", "from_grid": [16, 16], "to_grid": [24, 24], "prefix_tokens": 1},
    )
    out = run({"pos_embed": pos}, op)["pos_embed"]
    assert out.shape == (1, 1 + 24 * 24, 2)
    assert torch.equal(out[0, 0], cls[0])
    grid = out[0, 1:].reshape(24, 24, 2)
    want = field(24).reshape(24, 24, 2)
    # torch's bicubic kernel (a = -0.75, as OpenCV) is first-order accurate: on this
    # field, grid step 1/16, interior cells stay within 1e-2; borders are clamped
    torch.testing.assert_close(grid[2:-2, 2:-2], want[2:-2, 2:-2], rtol=0, atol=1e-2)


def test_resample_pos_embed_non_square_2d_layout() -> None:
    pos = torch.randn(6 * 4, 8)
    op = Op(
        "resample_pos_embed",
        {"name": "p", "from_grid": [6, 4], "to_grid": [3, 2], "mode": "bilinear"},
    )
    out = run({"p": pos}, op)["p"]
    image = pos.reshape(1, 6, 4, 8).permute(0, 3, 1, 2)
    expected = functional.interpolate(image, size=(3, 2), mode="bilinear", align_corners=False)
    assert torch.equal(out, expected.permute(0, 2, 3, 1).reshape(6, 8))


def test_resample_pos_embed_wrong_token_count_is_refused() -> None:
    op = Op("resample_pos_embed", {"name": "p", "from_grid": [4, 4], "to_grid": [8, 8]})
    assert fail({"p": torch.zeros(1, 17, 4)}, op) == (
        "invalid plan: op #0 (resample_pos_embed): p has 17 tokens, not 0 prefix + 4×4 grid"
    )


def test_cast_down_to_bf16_equals_torch_cast_and_skips_integers() -> None:
    state = {"w": torch.randn(4, 4), "step": torch.tensor([3]), "h": torch.randn(2).half()}
    out = run(state, Op("cast", {"to": "bf16"}))
    assert out["w"].dtype == torch.bfloat16 and torch.equal(out["w"], state["w"].bfloat16())
    assert out["h"].dtype == torch.bfloat16
    assert out["step"].dtype == torch.int64


def test_cast_from_filter_and_pattern() -> None:
    state = {"a.w": torch.randn(2), "a.h": torch.randn(2).half(), "b.w": torch.randn(2)}
    out = run(state, Op("cast", {"pattern": r"a\..*", "from": "F32", "to": "F16"}))
    assert [out[n].dtype for n in state] == [torch.float16, torch.float16, torch.float32]


def test_cast_up_is_exact() -> None:
    state = {"w": torch.randn(8).to(torch.bfloat16)}
    op = Op("cast", {"from": "BF16", "to": "F32"})
    assert op.safety.value == "exact"
    assert torch.equal(run(state, op)["w"].bfloat16(), state["w"])


def test_cast_overflow_names_the_tensor() -> None:
    state = {"lm_head.weight": torch.tensor([1.0, 70000.0, -3.0])}
    with pytest.raises(CastOverflow) as info:
        run(state, Op("cast", {"to": "F16"}))
    assert str(info.value) == (
        "cast overflow: lm_head.weight: |value| up to 70000 exceeds the largest F16 (65504); "
        "add 'clamp: true' to saturate"
    )


def test_cast_clamp_saturates_and_keeps_infinities() -> None:
    state = {"w": torch.tensor([1.0, 70000.0, -1e6, math.inf])}
    out = run(state, Op("cast", {"to": "F16", "clamp": True}))["w"]
    assert out.tolist() == [1.0, 65504.0, -65504.0, math.inf]


def test_cast_to_fp8_checks_its_range() -> None:
    state = {"w": torch.tensor([1.0, 500.0])}
    with pytest.raises(CastOverflow):
        run(state, Op("cast", {"to": "F8_E4M3"}))
    out = run({"w": torch.tensor([1.0, 2.5])}, Op("cast", {"to": "F8_E4M3"}))["w"]
    assert out.dtype == torch.float8_e4m3fn and out.float().tolist() == [1.0, 2.5]


def test_value_op_on_unknown_dtype_is_refused() -> None:
    manifest = Manifest(
        tensors={"blk.0.w": TensorSpec("blk.0.w", (32, 32), "Q4_K")}, source="x.gguf", format="gguf"
    )
    with pytest.raises(UnsupportedTensor) as info:
        ops.run(Plan([Op("transpose", {"name": "blk.0.w"})]), manifest)
    assert str(info.value) == (
        "unsupported tensor: blk.0.w: op #0 (transpose) cannot compute on dtype Q4_K"
    )


def test_unknown_dtype_in_output_is_refused_unless_dropped() -> None:
    manifest = Manifest(
        tensors={"q": TensorSpec("q", (4,), "Q4_K"), "w": TensorSpec("w", (4,), "F32")},
        source="x.gguf",
        format="gguf",
    )
    with pytest.raises(UnsupportedTensor) as info:
        ops.run(Plan([]), manifest)
    assert "q: dtype Q4_K cannot be written to safetensors" in str(info.value)
    assert list(ops.run(Plan([Op("drop", {"name": "q"})]), manifest).recipes) == ["w"]
