"""Regenerate the error-text corpus: really run failing loads, then shape pasted variants.

Run with the project's venv (torch, transformers, diffusers, peft, safetensors,
accelerate installed)::

    .venv/bin/python tests/data/errors/make_corpus.py

Each case writes ``<name>.txt`` beside this script and a row in ``expected.yaml``:
the category the top finding must have, evidence a finding of that category must
hold, and how the text was made (``generated``: a real failing call; ``variant``:
a generated text reshaped the way people paste it; ``hand``: a message of a
library version not installed here, or from a seed case). The tests read the
committed texts; this script is slow (it builds models) and never runs in them.
"""

# ruff: noqa: E501 - the hand-made cases are verbatim one-line log messages
from __future__ import annotations

import argparse
import io
import json
import logging
import os
import shutil
import sys
import tempfile
import textwrap
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
SEEDS = HERE.parent / "seeds"
CASES: dict[str, dict[str, Any]] = {}
TEXTS: dict[str, str] = {}
LOGGERS = ("transformers", "diffusers", "peft", "accelerate")


def case(
    name: str,
    text: str,
    category: str,
    evidence: dict[str, Any] | None = None,
    kind: str = "generated",
    also: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Record one case: the top finding's category, its evidence, other findings expected."""
    assert text.strip(), name
    TEXTS[name] = text if text.endswith("\n") else text + "\n"
    CASES[name] = {
        "category": category,
        "evidence": evidence or {},
        "kind": kind,
        "also": also or {},
    }


def capture(call: Callable[[], object]) -> str:
    """Run a failing load; return what it logged, warned and raised, as a person sees it."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    for name in LOGGERS:
        logging.getLogger(name).addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = call()
        for warning in caught:
            buffer.write(f"{warning.category.__name__}: {warning.message}\n")
        if result is not None and "IncompatibleKeys" in repr(result):
            buffer.write(repr(result) + "\n")
    except Exception as error:
        buffer.write(
            f"Traceback (most recent call last):\n  ...\n{type(error).__name__}: {error}\n"
        )
    finally:
        for name in LOGGERS:
            logging.getLogger(name).removeHandler(handler)
    return buffer.getvalue()


def torch_cases(tmp: Path) -> None:
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self, classes: int) -> None:
            super().__init__()
            self.features = nn.Linear(8, 16)
            self.classifier = nn.Linear(16, classes)

    sd = Net(10).state_dict()
    case(
        "torch_num_classes",
        capture(lambda: Net(2).load_state_dict(sd)),
        "num_classes",
        {"checkpoint_classes": 10, "model_classes": 2},
    )
    prefixed = {f"module.{k}": v for k, v in Net(2).state_dict().items()}
    case(
        "torch_prefix_module",
        capture(lambda: Net(2).load_state_dict(prefixed)),
        "prefix",
        {"strip": "module.", "add": ""},
    )
    compiled = {f"_orig_mod.{k}": v for k, v in Net(2).state_dict().items()}
    case(
        "torch_prefix_compile",
        capture(lambda: Net(2).load_state_dict(compiled)),
        "prefix",
        {"strip": "_orig_mod."},
    )

    class Patch(nn.Module):
        def __init__(self, three_d: bool) -> None:
            super().__init__()
            self.proj = nn.Conv3d(4, 32, (1, 2, 2)) if three_d else nn.Conv2d(4, 32, 2)

    class Embedder(nn.Module):
        def __init__(self, three_d: bool) -> None:
            super().__init__()
            self.x_embedder = Patch(three_d)

    flat = Embedder(False).state_dict()
    case(
        "torch_rank_inflate",
        capture(lambda: Embedder(True).load_state_dict(flat)),
        "rank_inflate",
        {"count": 1},
    )

    class LM(nn.Module):
        def __init__(self, vocab: int) -> None:
            super().__init__()
            self.embed_tokens = nn.Embedding(vocab, 64)
            self.norm = nn.LayerNorm(64)
            self.lm_head = nn.Linear(64, vocab, bias=False)

    lm = LM(32001).state_dict()
    case(
        "torch_vocab_resize",
        capture(lambda: LM(32000).load_state_dict(lm)),
        "vocab_resize",
        {"checkpoint_rows": 32001, "model_rows": 32000},
    )
    padded = LM(151665).state_dict()
    case(
        "torch_vocab_qwen",
        capture(lambda: LM(152064).load_state_dict(padded)),
        "vocab_resize",
        {"checkpoint_rows": 151665, "model_rows": 152064},
    )

    class Caption(nn.Module):
        def __init__(self, channels: int) -> None:
            super().__init__()
            self.y_proj = nn.Sequential(nn.Linear(channels, 64), nn.GELU(), nn.Linear(64, 64))
            self.cross_attn_kv = nn.Linear(channels, 128)

    class Dit(nn.Module):
        def __init__(self, channels: int) -> None:
            super().__init__()
            self.y_embedder = Caption(channels)

    caption = Dit(2304).state_dict()
    case(
        "torch_encoder_swap",
        capture(lambda: Dit(1536).load_state_dict(caption)),
        "encoder_swap",
        {"checkpoint_width": 2304, "model_width": 1536},
    )

    class Two(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.Linear(4, 4)
            self.head = nn.Linear(4, 3)

    extra = {**Two().state_dict(), "ema_decay": torch.tensor(0.99), "step": torch.tensor(3)}
    del extra["head.bias"]
    case("torch_missing_unexpected", capture(lambda: Two().load_state_dict(extra)), "missing", {})
    result = capture(lambda: Two().load_state_dict(extra, strict=False))
    case("torch_incompatible_keys", result, "missing", {})

    class Gen(nn.Module):
        def __init__(self, width: int) -> None:
            super().__init__()
            self.classifier = nn.Linear(width, 7)

    gen = capture(lambda: Net(2).load_state_dict(sd))
    disc = capture(lambda: Embedder(True).load_state_dict(flat))
    case(
        "torch_two_models",
        gen + "\nDuring handling of the above exception, another exception occurred:\n\n" + disc,
        "rank_inflate",
        {"model": "Embedder"},
        also={"num_classes": {"model": "Net", "checkpoint_classes": 10}},
    )

    path = tmp / "with_args.pt"
    torch.save({"state_dict": Two().state_dict(), "args": argparse.Namespace(lr=0.1)}, path)
    case(
        "torch_weights_only",
        capture(lambda: torch.load(path, weights_only=True)),
        "version",
        {"globals": [{"global": "argparse.Namespace", "verdict": "benign"}]},
    )
    evil = tmp / "evil.pt"
    torch.save({"w": torch.zeros(1), "cb": os.system}, evil)
    case(
        "torch_weights_only_dangerous",
        capture(lambda: torch.load(evil, weights_only=True)),
        "extra_state",
        {"worst_verdict": "dangerous"},
    )
    case(
        "torch_reshape_lora",
        capture(lambda: torch.zeros(655360).reshape(320, 768)),
        "lora_mismatch",
        {"implied_shape": [320, 2048], "implied_width": 2048},
    )
    case(
        "torch_reshape_conv",
        capture(lambda: torch.zeros(1280 * 4096).view(1280, 768)),
        "lora_mismatch",
        {"implied_width": 4096},
    )


def safetensors_cases(tmp: Path) -> None:
    import torch
    from accelerate.utils import set_module_tensor_to_device
    from safetensors.torch import load_file, load_model, save_file
    from torch import nn

    shared = torch.zeros(4, 4)
    case(
        "safetensors_shared",
        capture(
            lambda: save_file(
                {"lm_head.weight": shared, "embed.weight": shared}, str(tmp / "s.safetensors")
            )
        ),
        "tied_weights",
        {"shared": [["embed.weight", "lm_head.weight"]]},
    )
    pointer = tmp / "pointer.safetensors"
    pointer.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 12\n")
    case(
        "safetensors_lfs_pointer",
        capture(lambda: load_file(str(pointer))),
        "partitioned",
        {"error": "header too large"},
    )
    whole = tmp / "whole.safetensors"
    save_file({"w": torch.zeros(64, 64)}, str(whole))
    cut = tmp / "cut.safetensors"
    cut.write_bytes(whole.read_bytes()[:2000])
    case(
        "safetensors_truncated",
        capture(lambda: load_file(str(cut))),
        "partitioned",
        {"error": "incomplete metadata, file not fully covered"},
    )
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 10))
    other = tmp / "other.safetensors"
    save_file(
        {
            "0.weight": torch.zeros(4, 4),
            "0.bias": torch.zeros(4),
            "2.weight": torch.zeros(5, 4),
            "2.bias": torch.zeros(5),
        },
        str(other),
    )
    case(
        "safetensors_load_model",
        capture(lambda: load_model(model, str(other))),
        "num_classes",
        {"checkpoint_classes": 5, "model_classes": 10},
    )
    case(
        "accelerate_set_tensor",
        capture(
            lambda: set_module_tensor_to_device(model, "2.weight", "cpu", value=torch.zeros(5, 4))
        ),
        "num_classes",
        {"checkpoint_classes": 5, "model_classes": 10},
    )


def transformers_cases(tmp: Path) -> None:
    import transformers
    from transformers import (
        BertConfig,
        BertForMaskedLM,
        BertForSequenceClassification,
        BertModel,
        LlamaConfig,
        LlamaForCausalLM,
    )

    transformers.logging.set_verbosity_warning()
    config = BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=5,
    )
    folder = tmp / "bert"
    BertForSequenceClassification(config).save_pretrained(folder)
    case(
        "transformers_v5_mismatch",
        capture(
            lambda: BertForSequenceClassification.from_pretrained(
                folder, num_labels=3, ignore_mismatched_sizes=True
            )
        ),
        "num_classes",
        {"checkpoint_classes": 5, "model_classes": 3},
    )
    case(
        "transformers_v5_raise",
        capture(lambda: BertForSequenceClassification.from_pretrained(folder, num_labels=3)),
        "num_classes",
        {"checkpoint_classes": 5},
    )
    case(
        "transformers_v5_unexpected",
        capture(lambda: BertModel.from_pretrained(folder)),
        "unexpected",
        {},
    )
    case(
        "transformers_v5_missing_unexpected",
        capture(lambda: BertForMaskedLM.from_pretrained(folder)),
        "missing",
        {},
    )
    llama = LlamaConfig(
        vocab_size=32000,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        tie_word_embeddings=False,
    )
    lm_folder = tmp / "llama"
    LlamaForCausalLM(llama).save_pretrained(lm_folder)
    case(
        "transformers_v5_vocab",
        capture(
            lambda: LlamaForCausalLM.from_pretrained(
                lm_folder, vocab_size=32064, ignore_mismatched_sizes=True
            )
        ),
        "vocab_resize",
        {"checkpoint_rows": 32000, "model_rows": 32064},
    )


def diffusers_cases(tmp: Path) -> None:
    from diffusers import UNet2DConditionModel
    from safetensors.torch import load_file, save_file

    kwargs = dict(
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=16,
        norm_num_groups=4,
        attention_head_dim=2,
        sample_size=8,
    )
    base = tmp / "unet"
    UNet2DConditionModel(**kwargs).save_pretrained(base)

    def variant(name: str, **changes: Any) -> Path:
        folder = tmp / name
        folder.mkdir()
        config = json.loads((base / "config.json").read_text())
        config.update(changes)
        (folder / "config.json").write_text(json.dumps(config))
        shutil.copy(base / "diffusion_pytorch_model.safetensors", folder)
        return folder

    wider = variant("unet_ctx", cross_attention_dim=32)
    case(
        "diffusers_shape",
        capture(lambda: UNet2DConditionModel.from_pretrained(wider)),
        "encoder_swap",
        {"checkpoint_width": 16, "model_width": 32},
    )
    case(
        "diffusers_ignore_mismatched",
        capture(
            lambda: UNet2DConditionModel.from_pretrained(
                wider, low_cpu_mem_usage=False, ignore_mismatched_sizes=True
            )
        ),
        "encoder_swap",
        {"checkpoint_width": 16, "model_width": 32},
    )
    prefixed = tmp / "unet_prefix"
    prefixed.mkdir()
    shutil.copy(base / "config.json", prefixed)
    tensors = load_file(str(base / "diffusion_pytorch_model.safetensors"))
    save_file(
        {f"module.{k}": v for k, v in tensors.items()},
        str(prefixed / "diffusion_pytorch_model.safetensors"),
    )
    case(
        "diffusers_prefix",
        capture(lambda: UNet2DConditionModel.from_pretrained(prefixed)),
        "prefix",
        {"strip": "module."},
    )


def peft_cases(tmp: Path) -> None:
    from peft import (
        LoraConfig,
        PeftModel,
        get_peft_model,
        get_peft_model_state_dict,
        set_peft_model_state_dict,
    )
    from transformers import LlamaConfig, LlamaForCausalLM

    def llama(width: int) -> LlamaForCausalLM:
        return LlamaForCausalLM(
            LlamaConfig(
                vocab_size=64,
                hidden_size=width,
                intermediate_size=32,
                num_hidden_layers=2,
                num_attention_heads=2,
                num_key_value_heads=2,
            )
        )

    adapter = get_peft_model(llama(16), LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    state = get_peft_model_state_dict(adapter)
    other_rank = get_peft_model(llama(16), LoraConfig(r=8, target_modules=["q_proj", "v_proj"]))
    case(
        "peft_rank",
        capture(lambda: set_peft_model_state_dict(other_rank, state)),
        "lora_mismatch",
        {"checkpoint_rank": 4, "model_rank": 8},
    )
    adapter.save_pretrained(tmp / "adapter")
    case(
        "peft_other_base",
        capture(lambda: PeftModel.from_pretrained(llama(32), tmp / "adapter")),
        "lora_mismatch",
        {"checkpoint_width": 16, "model_width": 32},
    )


def variants() -> None:
    """Reshape generated texts the way people paste them."""
    prefix = TEXTS["torch_prefix_module"]
    case(
        "variant_prefix_wrapped80",
        _hard_wrap(prefix, 80),
        "prefix",
        {"strip": "module."},
        "variant",
    )
    case(
        "variant_vocab_wrapped100",
        _hard_wrap(TEXTS["torch_vocab_resize"], 100),
        "vocab_resize",
        {"checkpoint_rows": 32001},
        "variant",
    )
    case(
        "variant_encoder_soft_wrapped",
        _soft_wrap(TEXTS["torch_encoder_swap"], 72),
        "encoder_swap",
        {"checkpoint_width": 2304},
        "variant",
    )
    case(
        "variant_num_classes_ansi",
        _ansi(TEXTS["torch_num_classes"]),
        "num_classes",
        {"checkpoint_classes": 10},
        "variant",
    )
    case(
        "variant_v5_table_ansi",
        "\x1b[1m" + TEXTS["transformers_v5_mismatch"] + "\x1b[0m",
        "num_classes",
        {"model_classes": 3},
        "variant",
    )
    case("variant_prefix_truncated", _truncate(prefix), "prefix", {"strip": "module."}, "variant")
    case(
        "variant_rank_inflate_progress",
        "Loading checkpoint shards:  50%|█████     | 1/2\rLoading checkpoint shards: 100%|"
        "██████████| 2/2\n" + TEXTS["torch_rank_inflate"],
        "rank_inflate",
        {},
        "variant",
    )
    case(
        "variant_diffusers_shape_wrapped",
        _hard_wrap(TEXTS["diffusers_shape"], 80),
        "encoder_swap",
        {"checkpoint_width": 16},
        "variant",
    )
    case(
        "variant_peft_rank_ansi",
        _ansi(TEXTS["peft_rank"]),
        "lora_mismatch",
        {"checkpoint_rank": 4},
        "variant",
    )
    case(
        "variant_weights_only_wrapped",
        _hard_wrap(TEXTS["torch_weights_only"], 120),
        "version",
        {"globals": [{"global": "argparse.Namespace", "verdict": "benign"}]},
        "variant",
    )


def hand_cases() -> None:
    """Messages of library versions not installed here, and the seed cases' texts."""
    case(
        "hand_transformers_v4_shapes",
        textwrap.dedent("""\
        Some weights of ViTForImageClassification were not initialized from the model checkpoint at google/vit-base-patch16-224 and are newly initialized because the shapes did not match:
        - classifier.weight: found shape torch.Size([1000, 768]) in the checkpoint and torch.Size([10, 768]) in the model instantiated
        - classifier.bias: found shape torch.Size([1000]) in the checkpoint and torch.Size([10]) in the model instantiated
        You should probably TRAIN this model on a down-stream task to be able to use it for predictions and inference.
        """),
        "num_classes",
        {"checkpoint_classes": 1000, "model_classes": 10},
        "hand",
    )
    case(
        "hand_transformers_v4_lists",
        textwrap.dedent("""\
        Some weights of the model checkpoint at bert-base-uncased were not used when initializing BertForSequenceClassification: ['cls.predictions.transform.dense.weight', 'cls.predictions.transform.dense.bias', 'cls.predictions.bias', 'cls.seq_relationship.weight', 'cls.seq_relationship.bias']
        - This IS expected if you are initializing BertForSequenceClassification from the checkpoint of a model trained on another task or with another architecture (e.g. initializing a BertForSequenceClassification model from a BertForPreTraining model).
        - This IS NOT expected if you are initializing BertForSequenceClassification from the checkpoint of a model that you expect to be exactly identical (initializing a BertForSequenceClassification model from a BertForSequenceClassification model).
        Some weights of BertForSequenceClassification were not initialized from the model checkpoint at bert-base-uncased and are newly initialized: ['classifier.weight', 'classifier.bias']
        You should probably TRAIN this model on a down-stream task to be able to use it for predictions and inference.
        """),
        "unexpected",
        {},
        "hand",
    )
    case(
        "hand_transformers_v4_raise",
        textwrap.dedent("""\
        RuntimeError: Error(s) in loading state_dict for LlamaForCausalLM:
        \tsize mismatch for model.embed_tokens.weight: copying a param with shape torch.Size([32002, 4096]) from checkpoint, the shape in current model is torch.Size([32000, 4096]).
        \tsize mismatch for lm_head.weight: copying a param with shape torch.Size([32002, 4096]) from checkpoint, the shape in current model is torch.Size([32000, 4096]).
        \tYou may consider adding `ignore_mismatched_sizes=True` in the model `from_pretrained` method.
        """),
        "vocab_resize",
        {"checkpoint_rows": 32002, "model_rows": 32000},
        "hand",
    )
    case(
        "hand_mmengine",
        textwrap.dedent("""\
        04/02 10:11:12 - mmengine - WARNING - The model and loaded state dict do not match exactly

        size mismatch for decode_head.conv_seg.weight: copying a param with shape torch.Size([150, 512, 1, 1]) from checkpoint, the shape in current model is torch.Size([19, 512, 1, 1]).
        size mismatch for decode_head.conv_seg.bias: copying a param with shape torch.Size([150]) from checkpoint, the shape in current model is torch.Size([19]).
        unexpected key in source state_dict: auxiliary_head.conv_seg.weight, auxiliary_head.conv_seg.bias
        """),
        "num_classes",
        {"checkpoint_classes": 150, "model_classes": 19},
        "hand",
    )
    case(
        "hand_mmengine_prefix",
        textwrap.dedent("""\
        The model and loaded state dict do not match exactly

        unexpected key in source state_dict: module.backbone.conv1.weight, module.backbone.bn1.weight, module.backbone.bn1.bias, module.backbone.layer1.0.conv1.weight

        missing keys in source state_dict: backbone.conv1.weight, backbone.bn1.weight, backbone.bn1.bias, backbone.layer1.0.conv1.weight
        """),
        "prefix",
        {"strip": "module."},
        "hand",
    )
    case(
        "hand_fvcore_skip",
        textwrap.dedent("""\
        [04/02 10:11:12 fvcore.common.checkpoint]: [Checkpointer] Loading from model_final_f10217.pkl ...
        WARNING [04/02 10:11:13 fvcore.common.checkpoint]: Skip loading parameter 'roi_heads.box_predictor.cls_score.weight' to the model due to incompatible shapes: (81, 1024) in the checkpoint but (11, 1024) in the model! You might want to double check if this is expected.
        WARNING [04/02 10:11:13 fvcore.common.checkpoint]: Skip loading parameter 'roi_heads.box_predictor.cls_score.bias' to the model due to incompatible shapes: (81,) in the checkpoint but (11,) in the model! You might want to double check if this is expected.
        WARNING [04/02 10:11:13 fvcore.common.checkpoint]: Some model parameters or buffers are not found in the checkpoint:
          roi_heads.box_predictor.cls_score.{bias, weight}
        """),
        "num_classes",
        {"checkpoint_classes": 81, "model_classes": 11},
        "hand",
    )
    case(
        "hand_peft_missing_adapter",
        textwrap.dedent("""\
        UserWarning: Found missing adapter keys while loading the checkpoint: ['base_model.model.model.layers.0.self_attn.k_proj.lora_A.default.weight', 'base_model.model.model.layers.0.self_attn.k_proj.lora_B.default.weight', ...]
        """),
        "missing",
        {},
        "hand",
    )
    case(
        "hand_lora_reshape_sdxl",
        textwrap.dedent("""\
        ERROR lora diffusion_model.input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight shape '[640, 768]' is invalid for input of size 1310720
        """),
        "lora_mismatch",
        {"implied_shape": [640, 2048], "implied_width": 2048},
        "hand",
    )
    seeds = {
        json.loads(p.read_text())["title"][:0] or p.stem: json.loads(p.read_text())
        for p in sorted(SEEDS.glob("*.json"))
    }
    sana = seeds["case1-sana-text-encoder"]
    case(
        "seed_sana",
        sana["verbatim_error"] + "\n" + sana["error_tail_reconstructed"],
        "encoder_swap",
        {
            "checkpoint_width": 2304,
            "model_width": 1536,
            "checkpoint_width_matches": ["google/gemma-2-2b-it hidden_size"],
        },
        "seed",
    )
    case(
        "seed_opensora",
        seeds["case2-opensora-patch-embed"]["verbatim_error"],
        "rank_inflate",
        {
            "tensors": [
                {
                    "name": "x_embedder.proj.weight",
                    "checkpoint": [1152, 4, 2, 2],
                    "model": [1152, 4, 1, 2, 2],
                }
            ]
        },
        "seed",
    )
    case(
        "seed_variant_mix",
        seeds["case3-diffusers-variant-mix"]["verbatim_error"],
        "dtype_variant",
        {"variant": "bf16"},
        "seed",
    )
    autotrain = seeds["case4-autotrain-vocab-resize"]
    case(
        "seed_qwen",
        autotrain["verbatim_error"],
        "vocab_resize",
        {"checkpoint_rows": 151665, "model_rows": 152064},
        "seed",
    )
    case(
        "seed_autotrain",
        autotrain["error_reproduced_for_fixture"],
        "vocab_resize",
        {"checkpoint_rows": 32001, "model_rows": 32000},
        "seed",
    )


def _hard_wrap(text: str, width: int) -> str:
    """Break every line at ``width`` characters, mid-word, as a terminal paste does."""
    lines = []
    for line in text.expandtabs(8).split("\n"):
        lines += [line[i : i + width] for i in range(0, len(line), width)] or [""]
    return "\n".join(lines)


def _soft_wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.fill(line, width) if line else "" for line in text.split("\n"))


def _ansi(text: str) -> str:
    return "\n".join(
        f"\x1b[31m{line}\x1b[0m" if "Error" in line or "size" in line else line
        for line in text.split("\n")
    )


def _truncate(text: str) -> str:
    """Cut each key list after its first two names, as a log viewer does."""
    out = []
    for line in text.split("\n"):
        if "key(s) in state_dict:" in line:
            head, _, rest = line.partition(":")
            names = rest.split(",")
            line = f"{head}:{','.join(names[:2])}, ..."
        out.append(line)
    return "\n".join(out)


def main() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        torch_cases(root)
        safetensors_cases(root)
        transformers_cases(root)
        diffusers_cases(root)
        peft_cases(root)
    variants()
    hand_cases()
    for old in HERE.glob("*.txt"):
        old.unlink()
    for name, text in TEXTS.items():
        (HERE / f"{name}.txt").write_text(_portable(text), encoding="utf-8")
    (HERE / "expected.yaml").write_text(
        "# Written by make_corpus.py: expected category and evidence of each case.\n"
        + yaml.safe_dump(CASES, sort_keys=True, allow_unicode=True),
        encoding="utf-8",
    )
    print(f"{len(CASES)} cases written to {HERE}", file=sys.stderr)


def _portable(text: str) -> str:
    """Replace this run's temporary folder with a stable placeholder."""
    tmp = tempfile.gettempdir()
    import re

    return re.sub(re.escape(tmp) + r"/tmp\w+", "/tmp/corpus", text)


if __name__ == "__main__":
    main()
