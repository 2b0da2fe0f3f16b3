"""A real tiny SanaTransformer2DModel in the seed-3 layout, loaded by the real diffusers.

fp32 sharded with an unlabelled index beside a bf16 single file: diffusers
must load bf16 for ``variant="bf16"`` and fp32 without one, before and after
``--fix`` writes the bf16 index, and lint's resolution must name the files it read.
"""

from __future__ import annotations

import shutil

import pytest

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")

from weightfit.lint import apply_fixes, lint  # noqa: E402
from weightfit.lint.resolution import NEW, OLD  # noqa: E402

TINY = dict(
    in_channels=4,
    out_channels=4,
    num_attention_heads=2,
    attention_head_dim=4,
    num_layers=2,
    num_cross_attention_heads=2,
    cross_attention_head_dim=4,
    cross_attention_dim=8,
    caption_channels=8,
    sample_size=8,
    patch_size=1,
)


def _build(tmp_path):
    torch.manual_seed(0)
    model = diffusers.SanaTransformer2DModel(**TINY)
    folder = tmp_path / "transformer"
    model.save_pretrained(folder, max_shard_size="3KB")
    single = tmp_path / "bf16"
    model.to(torch.bfloat16).save_pretrained(single, variant="bf16")
    shutil.copy(single / "diffusion_pytorch_model.bf16.safetensors", folder)
    return folder


def _dtypes(folder, variant):
    """The precision of the weights diffusers read: the model is built in float32,
    so bf16 weights show as values that survive a round trip through bfloat16."""
    model = diffusers.SanaTransformer2DModel.from_pretrained(folder, variant=variant)
    params = [p.detach() for p in model.parameters()]
    if all(torch.equal(p, p.to(torch.bfloat16).float()) for p in params):
        return {torch.bfloat16}
    return {p.dtype for p in params}


def test_real_sana_layout_loads_the_same_before_and_after_the_fix(tmp_path):
    folder = _build(tmp_path)
    names = sorted(p.name for p in folder.iterdir())
    assert "diffusion_pytorch_model.safetensors.index.json" in names
    assert any(n.startswith("diffusion_pytorch_model-00001-of-") for n in names)
    assert _dtypes(folder, "bf16") == {torch.bfloat16}
    assert _dtypes(folder, None) == {torch.float32}

    result = lint(folder)
    by = {(r.rules, r.variant): r for r in result.resolutions}
    assert by[(NEW, "bf16")].loaded == ("diffusion_pytorch_model.bf16.safetensors",)
    assert by[(OLD, None)].loaded[0] == "diffusion_pytorch_model.safetensors.index.json"

    outcome = apply_fixes(result)
    assert [op.path for op in outcome.applied] == [
        "diffusion_pytorch_model.safetensors.index.bf16.json"
    ]
    assert _dtypes(folder, "bf16") == {torch.bfloat16}
    assert _dtypes(folder, None) == {torch.float32}
    after = {(r.rules, r.variant): r for r in lint(folder).resolutions}
    assert after[(NEW, "bf16")].loaded == (
        "diffusion_pytorch_model.safetensors.index.bf16.json",
        "diffusion_pytorch_model.bf16.safetensors",
    )
    assert not any(r.needless or r.error for r in after.values())
