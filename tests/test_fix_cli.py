"""``weightfit fix`` and ``weightfit apply`` through the real command-line entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file
from torch import nn

from weightfit.plan import Plan


class Net(nn.Module):
    def __init__(self, depth: int = 2) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(nn.Linear(8, 8) for _ in range(depth))
        self.head = nn.Linear(8, 3)


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """A ``DataParallel``-style checkpoint (``module.`` prefix) and a reference of the model."""
    torch.manual_seed(0)
    trained = Net()
    checkpoint = tmp_path / "ckpt.pt"
    torch.save({f"module.{k}": v for k, v in trained.state_dict().items()}, checkpoint)
    target = tmp_path / "model.safetensors"
    save_file(Net().state_dict(), target)
    return checkpoint, target


def test_fix_writes_plan_and_weights_and_verifies(tmp_path: Path, files: tuple, run_cli) -> None:
    checkpoint, target = files
    result = run_cli("fix", checkpoint, "--against", target, "-o", tmp_path / "out")
    assert result.code == 0, result.err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "model.safetensors",
        "weightfit-plan.yaml",
    ]
    lines = result.out.splitlines()
    assert lines[0] == "Checked: incompatible, 1 finding"
    assert lines[1] == "Plan: 1 op, 0 need review"
    assert lines[2] == "  0. rename  exact         strip='module.', add=''"
    # A checkpoint target: its names and shapes were matched, no model was loaded.
    last = result.out.rstrip().splitlines()[-1]
    assert last == f"Verified: the same tensor names and shapes as {target}"
    plan = yaml.safe_load((tmp_path / "out" / "weightfit-plan.yaml").read_text())
    assert plan["ops"][0]["args"] == {"strip": "module.", "add": ""}
    written = load_file(tmp_path / "out" / "model.safetensors")
    assert sorted(written) == sorted(Net().state_dict())


def test_fix_json(tmp_path: Path, files: tuple, run_cli) -> None:
    checkpoint, target = files
    result = run_cli("fix", checkpoint, "--against", target, "-o", tmp_path / "out", "--json")
    assert result.code == 0
    data = json.loads(result.out)
    assert data["fixed"] is True and data["unfixed"] == []
    assert data["plan"]["ops"][0]["kind"] == "rename"
    assert data["applied"]["files"] == ["model.safetensors", "weightfit-plan.yaml"]
    assert (
        data["applied"]["stamp"]["weightfit.plan_sha256"]
        == Plan.load(tmp_path / "out" / "weightfit-plan.yaml").digest()
    )
    assert data["report"]["findings"][0]["category"] == "prefix"


def test_plan_only_then_apply_an_edited_plan(tmp_path: Path, files: tuple, run_cli) -> None:
    checkpoint, target = files
    review = tmp_path / "review"
    result = run_cli("fix", checkpoint, "--against", target, "-o", review, "--plan-only")
    assert result.code == 0
    assert [p.name for p in review.iterdir()] == ["weightfit-plan.yaml"]
    assert "Review it, then: weightfit apply" in result.out
    plan = yaml.safe_load((review / "weightfit-plan.yaml").read_text())
    plan["ops"].append({"kind": "cast", "args": {"to": "bf16"}, "reason": "smaller"})
    (review / "weightfit-plan.yaml").write_text(yaml.safe_dump(plan))
    result = run_cli(
        "apply",
        review / "weightfit-plan.yaml",
        checkpoint,
        "-o",
        tmp_path / "out",
        "--against",
        target,
        "--shard-size",
        "200B",
    )
    assert result.code == 0, result.err
    shards = sorted((tmp_path / "out").glob("model-*.safetensors"))
    assert len(shards) > 1
    assert (tmp_path / "out" / "model.safetensors.index.json").exists()
    assert {v.dtype for shard in shards for v in load_file(shard).values()} == {torch.bfloat16}


def test_apply_with_dtype_option(tmp_path: Path, files: tuple, run_cli) -> None:
    checkpoint, _ = files
    Plan.from_dict({"version": 1, "ops": [{"kind": "rename", "args": {"strip": "module."}}]}).dump(
        tmp_path / "plan.yaml"
    )
    result = run_cli(
        "apply",
        tmp_path / "plan.yaml",
        checkpoint,
        "-o",
        tmp_path / "out",
        "--dtype",
        "fp16",
        "--no-hash",
    )
    assert result.code == 0, result.err
    written = load_file(tmp_path / "out" / "model.safetensors")
    assert {v.dtype for v in written.values()} == {torch.float16}
    assert "Verified: the files hold exactly what the plan makes" in result.out


def test_unfixable_finding_exits_1_and_applies_nothing(tmp_path: Path, run_cli) -> None:
    torch.manual_seed(0)
    save_file(Net(depth=2).state_dict(), tmp_path / "ckpt.safetensors")
    save_file(Net(depth=3).state_dict(), tmp_path / "deeper.safetensors")
    result = run_cli(
        "fix",
        tmp_path / "ckpt.safetensors",
        "--against",
        tmp_path / "deeper.safetensors",
        "-o",
        tmp_path / "out",
    )
    assert result.code == 1
    assert "Not applied: no operation fixes these findings:" in result.out
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["weightfit-plan.yaml"]


def test_existing_output_exits_3(tmp_path: Path, files: tuple, run_cli) -> None:
    checkpoint, target = files
    (tmp_path / "out").mkdir()
    result = run_cli("fix", checkpoint, "--against", target, "-o", tmp_path / "out")
    assert result.code == 3
    assert result.err.splitlines()[0] == (
        f"error: {tmp_path / 'out'}: destination exists: "
        "pass overwrite=True (--overwrite) to replace it"
    )


def test_invalid_plan_exits_2(tmp_path: Path, files: tuple, run_cli) -> None:
    checkpoint, _ = files
    (tmp_path / "plan.yaml").write_text("version: 1\nops:\n- kind: explode\n")
    result = run_cli("apply", tmp_path / "plan.yaml", checkpoint, "-o", tmp_path / "out")
    assert result.code == 2
    assert result.err.splitlines()[0] == (
        f"error: {tmp_path / 'plan.yaml'}: invalid plan: "
        "op #0 has no known 'kind': {'kind': 'explode'}"
    )


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        (
            "version: 1\nops:\n- kind: drop\n  args: [name]\n",
            "op #0 'args' must be a mapping: ['name']",
        ),
        ("version: 1\nops: drop\n", "'ops' must be a list, found str"),
    ],
)
def test_malformed_plan_entries_exit_2(
    tmp_path: Path, files: tuple, run_cli, text: str, detail: str
) -> None:
    checkpoint, _ = files
    (tmp_path / "plan.yaml").write_text(text)
    result = run_cli("apply", tmp_path / "plan.yaml", checkpoint, "-o", tmp_path / "out")
    assert result.code == 2
    assert result.err.splitlines()[0] == f"error: {tmp_path / 'plan.yaml'}: invalid plan: {detail}"
    assert not (tmp_path / "out").exists()


def test_plan_that_does_not_fit_exits_2(tmp_path: Path, files: tuple, run_cli) -> None:
    checkpoint, _ = files
    (tmp_path / "plan.yaml").write_text("version: 1\nops:\n- kind: drop\n  args: {name: nope}\n")
    result = run_cli("apply", tmp_path / "plan.yaml", checkpoint, "-o", tmp_path / "out")
    assert result.code == 2
    assert result.err.splitlines()[0] == "error: invalid plan: op #0 (drop): no tensor named 'nope'"
    assert not (tmp_path / "out").exists()


def test_missing_checkpoint_exits_3(tmp_path: Path, run_cli) -> None:
    (tmp_path / "plan.yaml").write_text("version: 1\nops: []\n")
    result = run_cli("apply", tmp_path / "plan.yaml", tmp_path / "nope.pt", "-o", tmp_path / "out")
    assert result.code == 3
    assert (
        result.err.splitlines()[0]
        == f"error: {tmp_path / 'nope.pt'}: checkpoint not found: no such file or folder"
    )


def test_bad_shard_size_exits_2(tmp_path: Path, files: tuple, run_cli) -> None:
    checkpoint, _ = files
    (tmp_path / "plan.yaml").write_text("version: 1\nops: []\n")
    result = run_cli(
        "apply", tmp_path / "plan.yaml", checkpoint, "-o", tmp_path / "out", "--shard-size", "huge"
    )
    assert result.code == 2
    assert "not a size: 'huge'" in result.err


def test_apply_reads_the_state_dict_named_by_key(tmp_path: Path, run_cli) -> None:
    torch.manual_seed(0)
    model, ema = Net(), Net()
    torch.save(
        {"model": model.state_dict(), "ema": ema.state_dict(), "epoch": 3}, tmp_path / "c.pt"
    )
    (tmp_path / "plan.yaml").write_text("version: 1\nops: []\n")
    result = run_cli(
        "apply", tmp_path / "plan.yaml", tmp_path / "c.pt", "-o", tmp_path / "out", "--key", "ema"
    )
    assert result.code == 0, result.err
    written = load_file(tmp_path / "out" / "model.safetensors")
    assert torch.equal(written["head.weight"], ema.head.weight)


def test_plan_from_report_merges_and_orders_ops() -> None:
    from weightfit.findings import Finding, Report
    from weightfit.fix import plan_from_report
    from weightfit.plan import Op

    rename = Op("rename", {"from": "blocks.0.w", "to": "layers.0.w"}, "rename")
    prefix = Op("rename", {"strip": "module.", "add": ""}, "prefix")
    report = Report(
        source="ckpt",
        target="model",
        findings=[
            Finding("rank_inflate", "error", "", fix=[Op("unsqueeze", {"name": "x", "dim": 2})]),
            Finding("encoder_swap", "error", "", fix=[Op("reinit", {"name": "y"})]),
            Finding("rename", "error", "", fix=[rename]),
            Finding("prefix", "error", "", fix=[prefix]),
            Finding("extra_state", "info", "", fix=[Op("drop", {"name": "module.step"})]),
            Finding("version", "info", "", fix=[Op("drop", {"name": "module.step"}, "again")]),
        ],
    )
    plan = plan_from_report(report)
    assert [(op.kind, op.args) for op in plan.ops] == [
        ("drop", {"name": "module.step"}),
        ("rename", {"strip": "module.", "add": ""}),
        ("rename", {"from": "blocks.0.w", "to": "layers.0.w"}),
        ("unsqueeze", {"name": "x", "dim": 2}),
        ("reinit", {"name": "y"}),
    ]
    assert (plan.source, plan.target) == ("ckpt", "model")


def test_fix_with_reinit_says_what_a_strict_load_would_miss(tmp_path: Path, run_cli) -> None:
    torch.manual_seed(0)
    checkpoint = tmp_path / "ten-classes.pt"
    torch.save(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 10)).state_dict(), checkpoint)
    target = tmp_path / "five-classes.safetensors"
    save_file(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 5)).state_dict(), target)

    result = run_cli("fix", checkpoint, "--against", target, "-o", tmp_path / "out")

    assert result.code == 0, result.err
    last = " ".join(result.out.split("Verified: ", 1)[1].split())
    assert last.startswith(f"fits {target} exactly, except the 2 tensors left to the model's")
    assert "loads strict" not in result.out


def test_a_diffusers_component_is_written_under_the_name_diffusers_loads(
    tmp_path: Path, run_cli
) -> None:
    """diffusers' from_pretrained reads only diffusion_pytorch_model.*; model.safetensors beside
    a UNet's config is "no file named diffusion_pytorch_model.bin found"."""
    diffusers = pytest.importorskip("diffusers")
    torch.manual_seed(0)
    unet = diffusers.UNet2DConditionModel(
        sample_size=8, block_out_channels=(8, 16), layers_per_block=1, cross_attention_dim=8,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), attention_head_dim=2, norm_num_groups=4,
    )  # fmt: skip
    unet.save_pretrained(tmp_path / "unet")
    wrapped = tmp_path / "wrapped"
    wrapped.mkdir()
    state = {f"module.{k}": v.contiguous() for k, v in unet.state_dict().items()}
    save_file(state, wrapped / "diffusion_pytorch_model.safetensors", metadata={"format": "pt"})
    (wrapped / "config.json").write_text((tmp_path / "unet" / "config.json").read_text())
    for target in ("unet", "unet/config.json"):
        out = tmp_path / f"out-{target.replace('/', '-')}"
        result = run_cli("fix", wrapped, "--against", tmp_path / target, "-o", out)
        assert result.code == 0, result.err
        assert sorted(p.name for p in out.iterdir()) == [
            "config.json",
            "diffusion_pytorch_model.safetensors",
            "weightfit-plan.yaml",
        ]
        loaded = diffusers.UNet2DConditionModel.from_pretrained(out)
        for name, value in unet.state_dict().items():
            assert torch.equal(loaded.state_dict()[name], value), name
    # the plan applied on its own writes what fix wrote, with or without the target
    plan = tmp_path / "out-unet" / "weightfit-plan.yaml"
    for against in (("--against", tmp_path / "unet"), ()):
        out = tmp_path / f"applied{len(against)}"
        assert run_cli("apply", plan, wrapped, "-o", out, *against).code == 0
        assert (out / "diffusion_pytorch_model.safetensors").is_file()
        assert (out / "config.json").is_file() == bool(against)


def test_fix_against_a_transformers_config_writes_a_folder_from_pretrained_loads(
    tmp_path: Path, run_cli
) -> None:
    """The target's config.json is published with the weights: from_pretrained(OUT) builds it."""
    transformers = pytest.importorskip("transformers")
    from small_configs import SMALL_LLAMA

    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**SMALL_LLAMA))
    model.save_pretrained(tmp_path / "llama")
    wrapped = {f"_orig_mod.{k}": v.contiguous() for k, v in model.state_dict().items()}
    save_file(wrapped, tmp_path / "compiled.safetensors", metadata={"format": "pt"})

    out = tmp_path / "out"
    target = tmp_path / "llama" / "config.json"
    result = run_cli("fix", tmp_path / "compiled.safetensors", "--against", target, "-o", out)
    assert result.code == 0, result.err
    assert (out / "config.json").read_bytes() == target.read_bytes()
    loaded = transformers.LlamaForCausalLM.from_pretrained(out)
    for name, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value), name
