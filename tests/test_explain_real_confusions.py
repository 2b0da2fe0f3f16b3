"""``explain`` on texts the real libraries print where it once answered surely and wrongly.

Another variant read as an encoder swap or a position resize, a projection or a layer of
another depth read as a classification head, a lookup the loader fell back from read as a
failed load. Full-size configs are built on the ``meta`` device: the shapes in the text are
the real ones, and nothing is allocated.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_model, save_model
from torch import nn

import weightfit
from weightfit.errors import NoLoadingErrorFound

diffusers = pytest.importorskip("diffusers")


def strict_load_error(checkpoint: torch.nn.Module, model: torch.nn.Module) -> str:
    """The text ``load_state_dict(strict=True)`` raises loading one module into another."""
    with pytest.raises(RuntimeError) as raised:
        model.load_state_dict(checkpoint.state_dict(), strict=True, assign=True)
    return str(raised.value)


def test_an_sd2_unet_loaded_into_an_sd1_unet_is_another_variant_not_an_encoder_swap() -> None:
    # SD 2.x: OpenCLIP-H context (1024) and Linear proj_in; SD 1.x: CLIP-L (768) and 1x1 convs.
    with torch.device("meta"):
        sd2 = diffusers.UNet2DConditionModel(
            sample_size=96,
            cross_attention_dim=1024,
            use_linear_projection=True,
            attention_head_dim=(5, 10, 20, 20),
        )
        sd1 = diffusers.UNet2DConditionModel(
            sample_size=64, cross_attention_dim=768, use_linear_projection=False
        )
    text = strict_load_error(sd2, sd1)
    assert "attn2.to_k.weight: copying a param with shape torch.Size([320, 1024])" in text
    report = weightfit.explain(text)
    top = report.findings[0]
    assert top.category == "wrong_variant"
    assert "encoder_swap" in top.evidence["also_acceptable"]
    assert not [op for f in report.findings for op in f.fix if op.kind == "reinit"]
    # The widths are named by the encoders that SD pipelines use, not by T5 first.
    assert top.evidence["checkpoint_width_matches"][0].startswith("laion/CLIP-ViT-H-14")
    assert top.evidence["model_width_matches"][0].startswith("openai/clip-vit-large-patch14")


def test_sd35_medium_loaded_into_sd3_medium_is_another_variant_not_a_position_resize() -> None:
    # SD3.5-medium: dual attention in the first 13 blocks, qk RMSNorm, pos_embed_max_size 384.
    shared = dict(
        sample_size=128,
        patch_size=2,
        in_channels=16,
        num_layers=24,
        attention_head_dim=64,
        num_attention_heads=24,
        joint_attention_dim=4096,
        caption_projection_dim=1536,
        pooled_projection_dim=2048,
        out_channels=16,
    )
    with torch.device("meta"):
        sd35 = diffusers.SD3Transformer2DModel(
            **shared,
            pos_embed_max_size=384,
            dual_attention_layers=tuple(range(13)),
            qk_norm="rms_norm",
        )
        sd3 = diffusers.SD3Transformer2DModel(**shared, pos_embed_max_size=192)
    text = strict_load_error(sd35, sd3)
    assert "size mismatch for pos_embed.pos_embed" in text
    findings = weightfit.explain(text).findings
    assert findings[0].category == "wrong_variant"
    assert not [op for op in findings[0].fix if op.kind == "resample_pos_embed"]
    # The qk norms every block has are unexpected in the 13 blocks the text names as in the
    # 11 it does not: a module the model lacks, not a model of 13 blocks.
    assert not [f for f in findings if "layer count differs" in f.message]


def small_unet() -> torch.nn.Module:
    return diffusers.UNet2DModel(
        sample_size=8,
        layers_per_block=1,
        block_out_channels=(8, 8),
        norm_num_groups=4,
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
    )


def logged(action: object) -> str:
    """What diffusers logs while ``action`` runs (its handler's stream is set at import)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("diffusers")
    logger.addHandler(handler)
    try:
        action()  # type: ignore[operator]
    except OSError as error:  # the error is part of the text under test
        stream.write(f"OSError: {error}\n")
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_a_lookup_diffusers_fell_back_from_is_no_loading_error(tmp_path: Path) -> None:
    small_unet().save_pretrained(tmp_path, safe_serialization=False)  # a .bin only
    text = logged(lambda: diffusers.UNet2DModel.from_pretrained(tmp_path))
    assert "Defaulting to unsafe serialization" in text
    with pytest.raises(NoLoadingErrorFound):
        weightfit.explain(text)
    # When the fallback fails too, the error after it is still read.
    (tmp_path / "diffusion_pytorch_model.bin").unlink()
    text = logged(lambda: diffusers.UNet2DModel.from_pretrained(tmp_path))
    assert "Defaulting to unsafe serialization" in text
    assert "OSError: Error no file named diffusion_pytorch_model.bin" in text
    assert weightfit.explain(text).findings


SAVED_BY = Path(__file__).parent / "data" / "saved-by"


def test_a_sentence_transformers_projection_of_another_width_is_no_class_head() -> None:
    # A Dense projection's rows are an embedding width: 256 against 512 counts no labels.
    text = (SAVED_BY / "sentence-transformers-6.3.0/sbert_dense_wide.txt").read_text()
    assert "Error(s) in loading state_dict for Dense" in text
    top = weightfit.explain(text).findings[0]
    assert top.category != "num_classes"
    # Tiny widths (16 against 8) could be labels: never surely.
    text = (SAVED_BY / "sentence-transformers-6.3.0/sbert_dense.txt").read_text()
    top = weightfit.explain(text).findings[0]
    assert top.category != "num_classes" or top.confidence < 0.5


def test_an_unnamed_last_layer_of_another_depth_is_no_sure_class_head(tmp_path: Path) -> None:
    # safetensors' load_model prints the size mismatch alone: [2, 8] may be the shallower
    # network's output layer as much as a 2-class head.
    save_model(nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2)), tmp_path / "a.st")
    deeper = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    with pytest.raises(RuntimeError) as raised:
        load_model(deeper, tmp_path / "a.st", strict=False)
    text = str(raised.value)
    assert "size mismatch for 2.weight" in text and "Missing" not in text
    top = weightfit.explain(text).findings[0]
    assert top.category != "num_classes" or top.confidence < 0.5
