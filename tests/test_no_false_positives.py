"""No false positives: a checkpoint saved from a model fits that model, and ``check`` says so.

Each case builds a real transformers or diffusers class from a tiny config with
random weights, saves it the way its library does (``save_pretrained``:
safetensors, ``.bin``, sharded, an fp16 variant; ``torch.save`` of the state
dict) and checks the files against the model three ways: its ``config.json``
(built on ``meta``), a folder holding only that config, and the live module.
Every check must be compatible with no ``error`` or ``warning`` finding; the
``info`` findings left must be the benign ones (tied copies, rebuilt buffers).
"""

from __future__ import annotations

import itertools
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import weightfit
from weightfit.findings import Report

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
diffusers = pytest.importorskip("diffusers")

BENIGN_INFO = frozenset({"tied_weights", "version", "dtype_variant"})
"""The ``info`` categories a compatible pair may carry."""

SAVED_LAYOUT_COPIES = ("safetensors", "bin", "sharded", "fp16")
"""Copies written by ``save_pretrained`` (the library's file layout, tied copies left out)."""


@dataclass(frozen=True)
class Case:
    """One architecture: how to build it small, and how to save it."""

    name: str
    library: str
    class_name: str
    config: dict[str, Any]
    bin: bool = False
    sharded: bool = False
    fp16: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def build(self) -> Any:
        """Build the real class from its tiny config, random init, seeded."""
        library = transformers if self.library == "transformers" else diffusers
        cls = getattr(library, self.class_name, None)
        if cls is None:
            pytest.skip(f"{self.library} {library.__version__} has no {self.class_name}")
        torch.manual_seed(0)
        if self.library == "transformers":
            config_cls = cls.config_class
            return cls(config_cls(**self.config)).eval()
        return cls(**self.config).eval()


_LM = {"vocab_size": 96, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2}
_HEADS = {"num_attention_heads": 4, "num_key_value_heads": 2}

CASES = [
    Case("llama", "transformers", "LlamaForCausalLM", {**_LM, **_HEADS}, bin=True, sharded=True),
    Case(
        "llama-tied",
        "transformers",
        "LlamaForCausalLM",
        {**_LM, **_HEADS, "tie_word_embeddings": True},
        fp16=True,
    ),
    Case("mistral", "transformers", "MistralForCausalLM", {**_LM, **_HEADS}),
    Case("qwen2", "transformers", "Qwen2ForCausalLM", {**_LM, **_HEADS}, bin=True),
    Case("gemma2", "transformers", "Gemma2ForCausalLM", {**_LM, **_HEADS, "head_dim": 8}),
    Case(
        "gpt2",
        "transformers",
        "GPT2LMHeadModel",
        {"vocab_size": 96, "n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 64},
        bin=True,
        fp16=True,
    ),
    Case(
        "gpt-neox",
        "transformers",
        "GPTNeoXForCausalLM",
        {
            "vocab_size": 96,
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "intermediate_size": 64,
        },
    ),
    Case(
        "bert",
        "transformers",
        "BertForMaskedLM",
        {
            "vocab_size": 96,
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "intermediate_size": 64,
            "max_position_embeddings": 64,
        },
        bin=True,
    ),
    Case(
        "bert-base",
        "transformers",
        "BertModel",
        {
            "vocab_size": 96,
            "hidden_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 4,
            "intermediate_size": 64,
            "max_position_embeddings": 64,
        },
    ),
    Case(
        "roberta",
        "transformers",
        "RobertaForMaskedLM",
        {
            "vocab_size": 96,
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "intermediate_size": 64,
            "max_position_embeddings": 64,
        },
    ),
    Case(
        "t5",
        "transformers",
        "T5ForConditionalGeneration",
        {
            "vocab_size": 96,
            "d_model": 32,
            "d_kv": 8,
            "d_ff": 64,
            "num_layers": 2,
            "num_decoder_layers": 2,
            "num_heads": 4,
        },
        bin=True,
        sharded=True,
    ),
    Case(
        "bart",
        "transformers",
        "BartForConditionalGeneration",
        {
            "vocab_size": 96,
            "d_model": 32,
            "encoder_layers": 1,
            "decoder_layers": 1,
            "encoder_attention_heads": 4,
            "decoder_attention_heads": 4,
            "encoder_ffn_dim": 64,
            "decoder_ffn_dim": 64,
            "max_position_embeddings": 64,
        },
    ),
    Case(
        "vit",
        "transformers",
        "ViTForImageClassification",
        {
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "intermediate_size": 64,
            "image_size": 32,
            "patch_size": 8,
            "num_labels": 3,
        },
    ),
    Case(
        "clip",
        "transformers",
        "CLIPModel",
        {
            "text_config": {
                "vocab_size": 96,
                "hidden_size": 32,
                "intermediate_size": 64,
                "num_hidden_layers": 1,
                "num_attention_heads": 4,
                "max_position_embeddings": 32,
            },
            "vision_config": {
                "hidden_size": 32,
                "intermediate_size": 64,
                "num_hidden_layers": 1,
                "num_attention_heads": 4,
                "image_size": 32,
                "patch_size": 8,
            },
            "projection_dim": 16,
        },
        bin=True,
    ),
    Case(
        "whisper",
        "transformers",
        "WhisperForConditionalGeneration",
        {
            "vocab_size": 96,
            "d_model": 32,
            "encoder_layers": 1,
            "decoder_layers": 1,
            "encoder_attention_heads": 4,
            "decoder_attention_heads": 4,
            "encoder_ffn_dim": 64,
            "decoder_ffn_dim": 64,
            "num_mel_bins": 16,
            "max_source_positions": 32,
            "max_target_positions": 32,
            "pad_token_id": 1,
            "bos_token_id": 2,
            "eos_token_id": 2,
            "decoder_start_token_id": 2,
            "suppress_tokens": [],
            "begin_suppress_tokens": [],
        },
    ),
    Case(
        "mixtral",
        "transformers",
        "MixtralForCausalLM",
        {**_LM, **_HEADS, "num_local_experts": 4, "num_experts_per_tok": 2},
        sharded=True,
    ),
    Case(
        "falcon",
        "transformers",
        "FalconForCausalLM",
        {"vocab_size": 96, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4},
    ),
    Case(
        "phi",
        "transformers",
        "PhiForCausalLM",
        {**_LM, "num_attention_heads": 4},
    ),
    Case(
        "unet2d-condition",
        "diffusers",
        "UNet2DConditionModel",
        {
            "sample_size": 16,
            "in_channels": 4,
            "out_channels": 4,
            "block_out_channels": (16, 32),
            "layers_per_block": 1,
            "down_block_types": ("CrossAttnDownBlock2D", "DownBlock2D"),
            "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D"),
            "cross_attention_dim": 16,
            "attention_head_dim": 4,
            "norm_num_groups": 8,
        },
        bin=True,
        sharded=True,
        fp16=True,
    ),
    Case(
        "autoencoder-kl",
        "diffusers",
        "AutoencoderKL",
        {
            "in_channels": 3,
            "out_channels": 3,
            "block_out_channels": (16, 32),
            "down_block_types": ("DownEncoderBlock2D", "DownEncoderBlock2D"),
            "up_block_types": ("UpDecoderBlock2D", "UpDecoderBlock2D"),
            "latent_channels": 4,
            "norm_num_groups": 8,
            "layers_per_block": 1,
        },
        fp16=True,
    ),
    Case(
        "sd3",
        "diffusers",
        "SD3Transformer2DModel",
        {
            "sample_size": 16,
            "patch_size": 2,
            "in_channels": 4,
            "num_layers": 2,
            "attention_head_dim": 8,
            "num_attention_heads": 2,
            "joint_attention_dim": 32,
            "caption_projection_dim": 16,
            "pooled_projection_dim": 24,
            "out_channels": 4,
            "pos_embed_max_size": 16,
        },
    ),
    Case(
        "flux",
        "diffusers",
        "FluxTransformer2DModel",
        {
            "patch_size": 1,
            "in_channels": 8,
            "num_layers": 1,
            "num_single_layers": 1,
            "attention_head_dim": 8,
            "num_attention_heads": 2,
            "joint_attention_dim": 24,
            "pooled_projection_dim": 16,
            "axes_dims_rope": (2, 2, 4),
        },
        bin=True,
    ),
    Case(
        "sana",
        "diffusers",
        "SanaTransformer2DModel",
        {
            "in_channels": 4,
            "out_channels": 4,
            "num_attention_heads": 2,
            "attention_head_dim": 8,
            "num_layers": 2,
            "num_cross_attention_heads": 2,
            "cross_attention_head_dim": 8,
            "cross_attention_dim": 16,
            "caption_channels": 24,
            "sample_size": 16,
            "patch_size": 1,
        },
    ),
    Case(
        "pixart",
        "diffusers",
        "PixArtTransformer2DModel",
        {
            "num_attention_heads": 2,
            "attention_head_dim": 8,
            "in_channels": 4,
            "out_channels": 8,
            "num_layers": 2,
            "cross_attention_dim": 16,
            "caption_channels": 24,
            "sample_size": 8,
            "patch_size": 2,
            "norm_num_groups": 8,
        },
    ),
    Case(
        "dit",
        "diffusers",
        "DiTTransformer2DModel",
        {
            "num_attention_heads": 2,
            "attention_head_dim": 8,
            "in_channels": 4,
            "out_channels": 8,
            "num_layers": 2,
            "sample_size": 8,
            "patch_size": 2,
            "num_embeds_ada_norm": 10,
            "norm_num_groups": 8,
        },
    ),
    Case(
        "transformer2d-dit",
        "diffusers",
        "Transformer2DModel",
        {
            "num_attention_heads": 2,
            "attention_head_dim": 8,
            "in_channels": 4,
            "out_channels": 8,
            "num_layers": 1,
            "sample_size": 8,
            "patch_size": 2,
            "norm_type": "ada_norm_zero",
            "num_embeds_ada_norm": 10,
            "norm_num_groups": 8,
        },
    ),
    Case(
        "autoencoder-dc",
        "diffusers",
        "AutoencoderDC",
        {
            "in_channels": 3,
            "latent_channels": 4,
            "attention_head_dim": 8,
            "encoder_block_types": ("ResBlock", "EfficientViTBlock"),
            "decoder_block_types": ("ResBlock", "EfficientViTBlock"),
            "encoder_block_out_channels": (16, 32),
            "decoder_block_out_channels": (16, 32),
            "encoder_layers_per_block": (1, 1),
            "decoder_layers_per_block": (1, 1),
            "encoder_qkv_multiscales": ((), (5,)),
            "decoder_qkv_multiscales": ((), (5,)),
            "upsample_block_type": "interpolate",
            "downsample_block_type": "Conv",
            "decoder_norm_types": "rms_norm",
            "decoder_act_fns": "silu",
        },
        bin=True,
    ),
]


def _saved(case: Case, root: Path) -> tuple[Any, list[tuple[str, Path, str | None]]]:
    """Build the model and save it every way the case asks; return it and the saved copies."""
    model = case.build()
    copies: list[tuple[str, Path, str | None]] = []
    folder = root / "safetensors"
    model.save_pretrained(folder)
    copies.append(("safetensors", folder, None))
    if case.bin and case.library == "diffusers":
        model.save_pretrained(root / "bin", safe_serialization=False)
        copies.append(("bin", root / "bin", None))
    elif case.bin:
        # transformers 5 writes safetensors only; a v4-era folder holds the state dict
        # as pytorch_model.bin, tied copies included.
        (root / "bin").mkdir()
        shutil.copy(folder / "config.json", root / "bin" / "config.json")
        torch.save(model.state_dict(), root / "bin" / "pytorch_model.bin")
        copies.append(("bin", root / "bin", None))
    if case.sharded:
        model.save_pretrained(root / "sharded", max_shard_size="20KB")
        copies.append(("sharded", root / "sharded", None))
    if case.fp16:
        half = case.build().half()
        half.save_pretrained(root / "fp16", variant="fp16")
        copies.append(("fp16", root / "fp16", "fp16"))
    torch.save(model.state_dict(), root / "state_dict.pt")
    copies.append(("torch.save", root / "state_dict.pt", None))
    return model, copies


def _blocking(report: Report) -> list[str]:
    return [
        f"{f.severity} {f.category}: {f.message}"
        for f in report.findings
        if f.severity in ("error", "warning")
    ]


def _assert_fits(report: Report, what: str) -> None:
    blocking = _blocking(report)
    assert report.compatible and not blocking, f"{what}: {blocking}"
    odd = [f"{f.category}: {f.message}" for f in report.findings if f.category not in BENIGN_INFO]
    assert not odd, f"{what}: unexpected info findings {odd}"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_saved_model_fits_its_model(case: Case, tmp_path: Path) -> None:
    model, copies = _saved(case, tmp_path / "saved")
    config_file = tmp_path / "saved" / "safetensors" / "config.json"
    config_only = tmp_path / "config-only"
    config_only.mkdir()
    shutil.copy(config_file, config_only / "config.json")
    for label, path, variant in copies:
        for target_label, target in (
            ("config.json", config_file),
            ("config folder", config_only),
            ("module", model),
        ):
            report = weightfit.check(path, target, variant=variant)
            _assert_fits(report, f"{label} against {target_label}")


def test_cases_cover_twenty_architectures() -> None:
    assert len({c.class_name for c in CASES}) >= 20


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_saved_copies_fit_each_other(case: Case, tmp_path: Path) -> None:
    _, copies = _saved(case, tmp_path)
    saved = [c for c in copies if c[0] in SAVED_LAYOUT_COPIES]
    if case.library == "transformers":
        saved = [c for c in saved if c[0] != "bin"]
    for (left, path, variant), (right, other, other_variant) in itertools.permutations(saved, 2):
        source = weightfit.read(path, variant=variant)
        report = weightfit.check(source, weightfit.read(other, variant=other_variant))
        _assert_fits(report, f"{left} against {right}")


@pytest.mark.parametrize("name", ["vit", "gpt-neox", "mixtral"])
def test_saved_layout_is_benign_and_says_so(name: str, tmp_path: Path) -> None:
    case = next(c for c in CASES if c.name == name)
    model = case.build()
    model.save_pretrained(tmp_path)
    report = weightfit.check(tmp_path, tmp_path / "config.json")
    [finding] = [f for f in report.findings if f.category == "version"]
    assert report.compatible and finding.severity == "info"
    assert finding.message.startswith("benign: ")
    assert "save_pretrained writes" in finding.message
    assert "from_pretrained converts" in finding.message
    assert report.summary["params_reinitialised"] == 0


@pytest.mark.parametrize("name", ["vit", "gpt-neox"])
def test_saved_layout_renames_load_into_the_module(name: str, tmp_path: Path) -> None:
    case = next(c for c in CASES if c.name == name)
    model = case.build()
    model.save_pretrained(tmp_path)
    fresh = case.build()
    for tensor in fresh.state_dict().values():
        torch.nn.init.zeros_(tensor)
    weightfit.load_into(fresh, tmp_path)
    expected = model.state_dict()
    for key, value in fresh.state_dict().items():
        assert torch.equal(value, expected[key]), key


def test_pickle_folders_report_no_phantom_entries(tmp_path: Path) -> None:
    """A diffusers .bin folder, sharded or in a pipeline, has no other entries to report."""
    case = next(c for c in CASES if c.name == "autoencoder-kl")
    model = case.build()
    model.save_pretrained(tmp_path / "single", safe_serialization=False)
    model.save_pretrained(tmp_path / "sharded", safe_serialization=False, max_shard_size="100KB")
    pipeline = tmp_path / "pipeline"
    model.save_pretrained(pipeline / "vae", safe_serialization=False)
    (pipeline / "model_index.json").write_text(
        '{"_class_name": "StableDiffusionPipeline", "vae": ["diffusers", "AutoencoderKL"]}'
    )
    for folder in (tmp_path / "single", tmp_path / "sharded", pipeline):
        report = weightfit.check(folder, folder)
        assert report.findings == [] and report.hints == [], folder
    assert len(list((tmp_path / "sharded").glob("*.bin"))) > 1
