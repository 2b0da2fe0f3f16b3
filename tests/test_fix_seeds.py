"""The seed cases fixed end to end: check → plan → apply → verify → load → same numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

import seeds
import weightfit
from weightfit.plan import Op, Plan


def test_opensora_2d_checkpoint_fixed_to_3d_computes_the_same_on_one_frame(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model2d, model3d = seeds.tiny_dit2d(), seeds.tiny_dit3d()
    checkpoint = tmp_path / "DiT-XL-2-256x256.pt"
    torch.save(model2d.state_dict(), checkpoint)

    result = weightfit.fix(checkpoint, model3d, tmp_path / "out")

    kinds = {(op.kind, op.args.get("name")) for op in result.plan.ops}
    assert ("unsqueeze", "x_embedder.proj.weight") in kinds
    assert result.applied is not None and result.applied.verified_against
    written = load_file(tmp_path / "out" / "model.safetensors")
    assert written["x_embedder.proj.weight"].shape == (16, 4, 1, 2, 2)

    report = weightfit.load_into(model3d, tmp_path / "out", strict=True)
    assert report.missing == []

    # Checking the output again reads the stamp: the re-initialised tables are on purpose.
    again = weightfit.check(tmp_path / "out", model3d)
    assert again.compatible, [f.message for f in again.findings]
    (left_out,) = again.findings
    assert (left_out.category, left_out.severity) == ("missing", "info")
    assert sorted(left_out.params) == ["pos_embed_spatial", "pos_embed_temporal"]
    assert "on purpose" in left_out.message
    x, t, y = torch.randn(2, 4, 8, 8), torch.tensor([3, 700]), torch.tensor([1, 4])
    with torch.no_grad():
        assert torch.equal(model3d(x.unsqueeze(2), t, y).squeeze(2), model2d(x, t, y))


def test_opensora_direct_load_into_reports_the_adapted_kernel(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model2d, model3d = seeds.tiny_dit2d(), seeds.tiny_dit3d()
    torch.save(model2d.state_dict(), tmp_path / "dit.pt")
    report = weightfit.load_into(model3d, tmp_path / "dit.pt", strict=True)
    assert report.adapted == {"x_embedder.proj.weight": ["unsqueeze"]}
    assert "pos_embed" in report.left_out
    x, t, y = torch.randn(1, 4, 8, 8), torch.tensor([10]), torch.tensor([2])
    with torch.no_grad():
        assert torch.equal(model3d(x.unsqueeze(2), t, y).squeeze(2), model2d(x, t, y))


def test_opensora_on_meta_leaves_computed_buffers_uninitialised(tmp_path: Path) -> None:
    torch.manual_seed(0)
    torch.save(seeds.tiny_dit2d().state_dict(), tmp_path / "dit.pt")
    with torch.device("meta"):
        model3d = seeds.tiny_dit3d()
    report = weightfit.load_into(model3d, tmp_path / "dit.pt")
    assert report.uninitialised == ["pos_embed_spatial", "pos_embed_temporal"]
    assert model3d.pos_embed_spatial.is_meta and not model3d.x_embedder.proj.weight.is_meta


def llama(vocab: int) -> nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        tie_word_embeddings=False,
    )
    return LlamaForCausalLM(config)


def test_vocabulary_plus_one_token_padded_to_a_multiple(tmp_path: Path) -> None:
    torch.manual_seed(0)
    base = llama(32000)
    base.save_pretrained(tmp_path / "base")
    resized = llama(32000)
    resized.resize_token_embeddings(32001, pad_to_multiple_of=64)
    plan = Plan(
        [
            Op(
                "pad_rows",
                {"name": name, "rows": 32001, "pad_to_multiple_of": 64, "init": "mean"},
                "vocab_resize: one added token",
            )
            for name in ("model.embed_tokens.weight", "lm_head.weight")
        ]
    )
    result = weightfit.apply(plan, tmp_path / "base", tmp_path / "out", target=resized)
    assert result.verified_against is not None
    written = load_file(tmp_path / "out" / "model.safetensors")
    for name in ("model.embed_tokens.weight", "lm_head.weight"):
        assert written[name].shape == (32064, 32)
        assert torch.equal(written[name][:32000], base.state_dict()[name])
    report = weightfit.load_into(resized, tmp_path / "out", strict=True)
    assert report.to_train == []
    ids = torch.tensor([[1, 5, 31999]])
    with torch.no_grad():
        # the original tokens' logits are unchanged; the 64 new rows only add columns
        torch.testing.assert_close(
            resized(ids).logits[..., :32000], base(ids).logits, rtol=0, atol=1e-5
        )


def test_vocabulary_fixed_from_the_diagnosis(tmp_path: Path) -> None:
    torch.manual_seed(0)
    llama(32000).save_pretrained(tmp_path / "base")
    resized = llama(32000)
    resized.resize_token_embeddings(32001, pad_to_multiple_of=64)
    result = weightfit.fix(tmp_path / "base", resized, tmp_path / "out")
    assert {op.kind for op in result.plan.ops} == {"pad_rows"}
    assert result.applied is not None
    assert weightfit.read(tmp_path / "out")["lm_head.weight"].shape == (32064, 32)


def module_like(manifest: weightfit.Manifest) -> nn.Module:
    """A real module whose state dict has the manifest's names, shapes and buffers."""
    root = nn.Module()
    for name, spec in manifest.tensors.items():
        *path, attr = name.split(".")
        module = root
        for part in path:
            if not hasattr(module, part):
                module.add_module(part, nn.Module())
            module = getattr(module, part)
        value = torch.zeros(spec.shape)
        if spec.is_buffer:
            module.register_buffer(attr, value)
        else:
            module.register_parameter(attr, nn.Parameter(value))
    return root


def test_sana_text_encoder_swap_is_a_partial_load(tmp_path: Path) -> None:
    checkpoint = seeds.case1_pth(tmp_path)
    model = module_like(seeds.case1_scaled_model())
    report = weightfit.load_into(model, checkpoint, strict=True)
    assert report.to_train == ["y_embedder.y_embedding", "y_embedder.y_proj.fc1.weight"]
    fc1 = model.y_embedder.y_proj.fc1.weight
    assert report.params_to_train == fc1.numel()  # y_embedding is a buffer: not trained
    assert report.share_to_train == pytest.approx(fc1.numel() / report.total_params)
    assert len(report.loaded) == len(model.state_dict()) - 2


def test_sana_diffusers_analog_partial_load(tmp_path: Path) -> None:
    from diffusers import SanaTransformer2DModel

    config = dict(
        in_channels=4,
        out_channels=4,
        num_attention_heads=2,
        attention_head_dim=8,
        num_layers=2,
        num_cross_attention_heads=2,
        cross_attention_head_dim=8,
        cross_attention_dim=16,
        sample_size=8,
        patch_size=1,
    )
    torch.manual_seed(0)
    trained = SanaTransformer2DModel(**config, caption_channels=24)  # gemma-like width
    save_file(trained.state_dict(), tmp_path / "diffusion_pytorch_model.safetensors")
    with torch.device("meta"):
        model = SanaTransformer2DModel(**config, caption_channels=12)  # qwen-like width
    report = weightfit.load_into(model, tmp_path / "diffusion_pytorch_model.safetensors")
    assert report.to_train == ["caption_projection.linear_1.weight"]
    assert report.params_to_train == 16 * 12
    assert not model.caption_projection.linear_1.weight.is_meta
    assert torch.equal(
        model.caption_projection.linear_2.weight, trained.caption_projection.linear_2.weight
    )
