"""Write the quantized fixtures of ``tests/data/saved-by/`` with the real libraries.

Run in a side venv (torch 2.13.0, transformers 5.25.0, bitsandbytes 0.50.2,
optimum-quanto 0.2.7, mlx[cpu] 0.32.4, compressed-tensors 0.20.1, torchao 0.18.0):

    python make_quantized.py OUT_DIR

Each library quantizes one tiny Llama (width 64, MLP 128, one layer, vocabulary 64,
seed 0) as its users do and saves it with its own writer. Only the safetensors header
each writer wrote is kept (``*.header.json``, its bytes as written) with the folder's
``config.json``; the tests rebuild the file around it with zero data. Loading errors
the libraries raised are kept verbatim (``errors/``).
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import struct
import subprocess
import sys
import traceback
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from transformers import BitsAndBytesConfig, LlamaConfig, LlamaForCausalLM

OUT = Path(sys.argv[1])
WORK = OUT / "_work"


def header(path: Path, into: Path) -> None:
    data = path.read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    into.parent.mkdir(parents=True, exist_ok=True)
    into.write_bytes(data[8 : 8 + size])


def keep_folder(folder: Path, into: Path) -> None:
    header(folder / "model.safetensors", into / "model.safetensors.header.json")
    shutil.copy(folder / "config.json", into / "config.json")


def float_model() -> Path:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=64,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    LlamaForCausalLM(config).save_pretrained(WORK / "float")
    return WORK / "float"


def bitsandbytes(source: Path) -> None:
    into = OUT / "bitsandbytes-0.50.2"
    for name, settings in (
        ("nf4", BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4")),
        (
            "fp4-double",
            BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="fp4", bnb_4bit_use_double_quant=True
            ),
        ),
        ("int8", BitsAndBytesConfig(load_in_8bit=True)),
    ):
        model = LlamaForCausalLM.from_pretrained(
            source, quantization_config=settings, device_map="cpu"
        )
        model.save_pretrained(WORK / name)
        keep_folder(WORK / name, into / name)
    # The 4-bit save loaded by a config without its quantization_config.
    plain = WORK / "nf4-without-config"
    shutil.copytree(WORK / "nf4", plain)
    config = json.loads((plain / "config.json").read_text())
    del config["quantization_config"]
    (plain / "config.json").write_text(json.dumps(config, indent=2))
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "from transformers import LlamaForCausalLM; "
            f"LlamaForCausalLM.from_pretrained({str(plain)!r})",
        ],
        capture_output=True,
        text=True,
    )
    errors = into / "errors"
    errors.mkdir(parents=True, exist_ok=True)
    lines = [line for line in run.stderr.splitlines(True) if "Loading weights" not in line]
    (errors / "from_pretrained-nf4-without-quantization_config.txt").write_text("".join(lines))
    buffer = io.StringIO()
    with contextlib.redirect_stderr(buffer):
        try:
            LlamaForCausalLM.from_pretrained(source).load_state_dict(
                load_file(WORK / "nf4" / "model.safetensors")
            )
        except RuntimeError:
            traceback.print_exc(limit=0)
    (errors / "load_state_dict-nf4-into-float.txt").write_text(buffer.getvalue())


def quanto(source: Path) -> None:
    from optimum.quanto import freeze, qint4, qint8, quantization_map, quantize

    into = OUT / "optimum-quanto-0.2.7"
    for name, weights in (("qint4", qint4), ("qint8", qint8)):
        model = LlamaForCausalLM.from_pretrained(source)
        quantize(model, weights=weights)
        freeze(model)
        path = WORK / f"quanto-{name}.safetensors"
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path)
        header(path, into / f"{name}.safetensors.header.json")
        (into / f"{name}.quantization_map.json").write_text(json.dumps(quantization_map(model)))


def mlx_affine(source: Path) -> None:
    import mlx.core as mx

    # nn.quantize turns each Linear and Embedding into its quantized layer with
    # mx.quantize(weight, group_size, bits): the same call on the same weights and names.
    weights = load_file(source / "model.safetensors")
    path = WORK / "mlx-q4-g32.safetensors"
    quantized = {}
    for name, value in weights.items():
        array = mx.array(value.numpy())
        if value.ndim == 2:
            packed, scales, biases = mx.quantize(array, group_size=32, bits=4)
            stem = name.removesuffix(".weight")
            quantized.update({name: packed, f"{stem}.scales": scales, f"{stem}.biases": biases})
        else:
            quantized[name] = array
    mx.save_safetensors(str(path), quantized, metadata={"format": "mlx"})
    header(path, OUT / "mlx-0.32.4" / "q4-g32.safetensors.header.json")


def mlx_group_error() -> None:
    """What MLX's ``load_weights`` raised: group-32 weights into a model quantized by 64."""
    import mlx.core as mx
    import mlx.nn as nn
    from mlx.utils import tree_flatten

    class Tiny(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed_tokens = nn.Embedding(64, 64)

    saved = Tiny()
    nn.quantize(saved, group_size=32, bits=4)
    path = WORK / "mlx-group-32.safetensors"
    mx.save_safetensors(str(path), dict(tree_flatten(saved.parameters())))
    model = Tiny()
    nn.quantize(model, group_size=64, bits=4)
    errors = OUT / "mlx-0.32.4" / "errors"
    errors.mkdir(parents=True, exist_ok=True)
    try:
        model.load_weights(str(path))
    except ValueError as error:
        text = f"ValueError: {error}\n"
        (errors / "load_weights-group-32-into-group-64.txt").write_text(text)


def compressed(source: Path) -> None:
    from compressed_tensors import ModelCompressor
    from compressed_tensors.quantization import (
        QuantizationArgs,
        QuantizationConfig,
        QuantizationScheme,
        QuantizationStatus,
        apply_quantization_config,
    )
    from compressed_tensors.quantization.utils import calculate_qparams

    model = LlamaForCausalLM.from_pretrained(source)
    args = QuantizationArgs(num_bits=8, type="int", symmetric=True, strategy="channel")
    config = QuantizationConfig(
        config_groups={"group_0": QuantizationScheme(targets=["Linear"], weights=args)},
        ignore=["lm_head"],
        format="int-quantized",
        quantization_status=QuantizationStatus.INITIALIZED,
    )
    apply_quantization_config(model, config)
    for module in model.modules():
        if getattr(module, "quantization_scheme", None) is None:
            continue
        weight = module.weight.data
        low = torch.minimum(weight.amin(1, keepdim=True), torch.zeros(1))
        high = torch.maximum(weight.amax(1, keepdim=True), torch.zeros(1))
        scale, zero = calculate_qparams(low, high, args)
        module.weight_scale.data.copy_(scale.reshape(module.weight_scale.shape))
        module.weight_zero_point.data.copy_(zero.reshape(module.weight_zero_point.shape))
    compressor = ModelCompressor.from_pretrained_model(model, quantization_format="int-quantized")
    compressor.compress_model(model)
    model.save_pretrained(WORK / "ct-int8")
    compressor.update_config(WORK / "ct-int8")
    keep_folder(WORK / "ct-int8", OUT / "compressed-tensors-0.20.1" / "int8-channel")


def torchao(source: Path) -> None:
    from torchao.quantization import Int8WeightOnlyConfig
    from transformers import TorchAoConfig

    settings = TorchAoConfig(quant_type=Int8WeightOnlyConfig())
    model = LlamaForCausalLM.from_pretrained(source, quantization_config=settings, device_map="cpu")
    model.save_pretrained(WORK / "ao-int8", safe_serialization=True)
    keep_folder(WORK / "ao-int8", OUT / "torchao-0.18.0" / "int8-weight-only")


if __name__ == "__main__":
    float_folder = float_model()
    bitsandbytes(float_folder)
    quanto(float_folder)
    mlx_affine(float_folder)
    mlx_group_error()
    compressed(float_folder)
    torchao(float_folder)
    shutil.rmtree(WORK)
