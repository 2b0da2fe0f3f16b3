"""Quantized checkpoints as the quantization libraries write them, against float models.

The files under ``tests/data/saved-by/<library>-<version>/`` are the safetensors headers
(and ``config.json``) that bitsandbytes (through transformers' ``save_pretrained``),
optimum-quanto, MLX and compressed-tensors wrote for one tiny Llama
(``make_quantized.py`` beside them, ``SOURCE.md`` in each folder); each test rebuilds the
file around its header with zero data. GGUF files are written here with gguf-py's own
``GGUFWriter`` and ``gguf.quants``.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import gguf
import numpy as np
import pytest
from transformers import LlamaConfig, LlamaForCausalLM

import weightfit
from diagnose_helpers import categories, findings_for, only
from weightfit.errors import CheckpointMismatch, UnsupportedTensor

SAVED_BY = Path(__file__).parent / "data" / "saved-by"


def _rebuild(header: Path, into: Path) -> Path:
    """A safetensors file with a library's header as written and zeros for its data."""
    raw = header.read_bytes()
    entries = {k: v for k, v in json.loads(raw).items() if k != "__metadata__"}
    end = max((entry["data_offsets"][1] for entry in entries.values()), default=0)
    into.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(end))
    return into


def _folder(name: str, tmp_path: Path) -> Path:
    """A saved model folder (``config.json`` and ``model.safetensors``) of a fixture."""
    source = SAVED_BY / name
    folder = tmp_path / source.name
    folder.mkdir()
    (folder / "config.json").write_bytes((source / "config.json").read_bytes())
    _rebuild(source / "model.safetensors.header.json", folder / "model.safetensors")
    return folder


def _float_config() -> dict[str, object]:
    """The tiny Llama's config as it was before quantization (no quantization_config)."""
    config = json.loads((SAVED_BY / "bitsandbytes-0.50.2" / "nf4" / "config.json").read_text())
    del config["quantization_config"]
    return config


def _small_config() -> dict[str, object]:
    """The float config's fields, as LlamaConfig takes them."""
    return {k: v for k, v in _float_config().items() if k not in ("architectures", "dtype")}


def _float_target(tmp_path: Path) -> Path:
    """The float config as a ``config.json`` target."""
    path = tmp_path / "float-config.json"
    path.write_text(json.dumps(_float_config()))
    return path


def _float_folder(tmp_path: Path) -> Path:
    """The float tiny Llama saved by transformers."""
    config = _small_config()
    folder = tmp_path / "float"
    LlamaForCausalLM(LlamaConfig(**config)).save_pretrained(folder)
    return folder


def test_bitsandbytes_nf4_save_against_the_float_model(tmp_path: Path) -> None:
    folder = _folder("bitsandbytes-0.50.2/nf4", tmp_path)

    finding = only(findings_for(folder, _float_target(tmp_path)), "quantization")

    assert categories(findings_for(folder, _float_target(tmp_path))) == ["quantization"]
    assert finding.evidence["scheme"].startswith("bitsandbytes 4-bit (NF4)")
    assert "quant_method=bitsandbytes" in finding.evidence["scheme"]
    assert finding.evidence["bits"] == [4] and finding.evidence["weights"] == 7


def test_float_checkpoint_against_a_model_saved_quantized(tmp_path: Path) -> None:
    """The side tensors the quantized model has belong to its quantization, not a width."""
    quantized = _folder("bitsandbytes-0.50.2/fp4-double", tmp_path)

    findings = findings_for(_float_folder(tmp_path), quantized)

    assert categories(findings) == ["quantization"]
    finding = findings[0]
    assert finding.message.startswith("model is quantized (bitsandbytes 4-bit (FP4))")
    assert "model.layers.0.mlp.up_proj.weight.nested_quant_map" in finding.params
    assert finding.evidence["weights"] == 7 and finding.evidence["side_tensors"] == 35


def test_the_config_declaring_the_quantization_loads_it(tmp_path: Path) -> None:
    """``from_pretrained`` builds the model quantized as ``quantization_config`` says."""
    folder = _folder("bitsandbytes-0.50.2/int8", tmp_path)

    report = weightfit.check(folder, folder / "config.json")

    assert report.compatible
    assert categories(report.findings) == ["quantization"]
    assert report.findings[0].severity == "info"
    assert "from_pretrained builds the model quantized" in report.findings[0].message


def test_optimum_quanto_saves_against_the_float_model(tmp_path: Path) -> None:
    for kind, bits in (("qint4", [4]), ("qint8", [])):
        header = SAVED_BY / "optimum-quanto-0.2.7" / f"{kind}.safetensors.header.json"
        path = _rebuild(header, tmp_path / f"{kind}.safetensors")

        findings = findings_for(path, _float_target(tmp_path))

        assert categories(findings) == ["quantization"], kind
        assert findings[0].evidence["scheme"] == f"optimum-quanto {kind}"
        assert findings[0].evidence["bits"] == bits
        assert "lm_head.weight._scale" in findings[0].params
        assert "requantize" in findings[0].fix_note


def test_mlx_affine_quantization_is_not_awq(tmp_path: Path) -> None:
    header = SAVED_BY / "mlx-0.32.4" / "q4-g32.safetensors.header.json"
    path = _rebuild(header, tmp_path / "model.safetensors")

    findings = findings_for(path, _float_target(tmp_path))

    assert categories(findings) == ["quantization"]
    finding = findings[0]
    assert finding.evidence["scheme"] == "MLX affine quantization"
    assert finding.evidence["bits"] == [4] and finding.evidence["group_sizes"] == [32]
    assert "model.embed_tokens.biases" in finding.params
    assert "mx.dequantize" in finding.fix_note


def test_compressed_tensors_int8_is_not_called_fp8(tmp_path: Path) -> None:
    folder = _folder("compressed-tensors-0.20.1/int8-channel", tmp_path)

    finding = only(findings_for(folder, _float_target(tmp_path)), "quantization")

    assert finding.evidence["scheme"].startswith("I8 with scales (weight_scale)")
    assert "format=int-quantized" in finding.evidence["scheme"]
    assert "fp8" not in finding.message


def _gguf_q4_0(model: LlamaForCausalLM, path: Path) -> Path:
    """The model's weights as gguf-py writes a Q4_0 GGUF (llama.cpp's tensor names)."""
    writer = gguf.GGUFWriter(str(path), "llama")
    names = {"model.embed_tokens.weight": "token_embd.weight", "lm_head.weight": "output.weight"}
    names["model.norm.weight"] = "output_norm.weight"
    layer = {
        "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
        "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
        "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm",
        "post_attention_layernorm": "ffn_norm",
    }  # fmt: skip
    for name, tensor in model.state_dict().items():
        if name not in names:
            module = name.removeprefix("model.layers.0.").removesuffix(".weight")
            names[name] = f"blk.0.{layer[module]}.weight"
        values = tensor.detach().numpy().astype(np.float32)
        if values.ndim == 2:
            packed = gguf.quants.quantize(values, gguf.GGMLQuantizationType.Q4_0)
            writer.add_tensor(
                names[name], packed, raw_shape=packed.shape,
                raw_dtype=gguf.GGMLQuantizationType.Q4_0,
            )  # fmt: skip
        else:
            writer.add_tensor(names[name], values)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_a_gguf_quantized_file_against_the_float_model(tmp_path: Path) -> None:
    """Every Q4_0 tensor is named, though structure infers their names too."""
    model = LlamaForCausalLM(LlamaConfig(**_small_config()))
    path = _gguf_q4_0(model, tmp_path / "model-Q4_0.gguf")

    finding = only(findings_for(path, model), "quantization")

    assert finding.evidence["scheme"] == "GGML Q4_0 blocks"
    assert finding.evidence["weights"] == 9  # seven projections, embeddings and head
    assert "gguf_file" in finding.fix_note


def test_explain_reads_every_row_of_a_padded_load_report() -> None:
    """transformers pads the report's last column: a padded row is no wrapped line."""
    errors = SAVED_BY / "bitsandbytes-0.50.2" / "errors"
    text = (errors / "from_pretrained-nf4-without-quantization_config.txt").read_text()

    report = weightfit.explain(text)

    packed = [f for f in report.findings if "stored packed" in f.message]
    assert len(packed) == 1 and len(packed[0].params) == 7


def test_fix_writes_no_copy_of_a_save_only_its_loader_reads(tmp_path: Path) -> None:
    """No plan makes the 8-bit save fit the float model the config builds: nothing applied."""
    folder = _folder("bitsandbytes-0.50.2/int8", tmp_path)

    result = weightfit.fix(folder, folder / "config.json", tmp_path / "out")

    assert not result.fixed and categories(result.unfixed) == ["quantization"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["weightfit-plan.yaml"]


def test_torchao_flattened_tensor_subclasses(tmp_path: Path) -> None:
    """transformers saves torchao's Int8Tensor as ``_weight_qdata`` and its scales."""
    folder = _folder("torchao-0.18.0/int8-weight-only", tmp_path)

    findings = findings_for(folder, _float_target(tmp_path))

    assert categories(findings) == ["quantization"]
    assert findings[0].evidence["scheme"].startswith("torchao Int8Tensor")
    assert "model.layers.0.mlp.up_proj._weight_zero_point" in findings[0].params
    assert findings[0].evidence["weights"] == 7


def test_explain_reads_another_group_size_in_mlx_scales() -> None:
    """A scales tensor's last axis counts groups per row: another size is another group size."""
    errors = SAVED_BY / "mlx-0.32.4" / "errors"
    text = (errors / "load_weights-group-32-into-group-64.txt").read_text()

    finding = only(weightfit.explain(text).findings, "quantization")

    assert finding.evidence["groups_per_row"] == [2, 1]
    assert "another group size" in finding.message and "bits" not in finding.evidence


def test_two_quantizations_of_one_model_against_each_other(tmp_path: Path) -> None:
    """Side tensors of two schemes are one cause: no other width, no rename of NF4 to FP4."""
    nf4 = _folder("bitsandbytes-0.50.2/nf4", tmp_path)
    for other, scheme in (
        ("bitsandbytes-0.50.2/fp4-double", "bitsandbytes 4-bit (FP4)"),
        ("bitsandbytes-0.50.2/int8", "bitsandbytes 8-bit (LLM.int8)"),
    ):
        report = weightfit.check(nf4, _folder(other, tmp_path))

        assert categories(report.findings) == ["quantization"], other
        assert report.findings[0].evidence["model_schemes"] == [scheme]
        assert report.findings[0].fix == []
    qint4, qint8 = (
        _rebuild(
            SAVED_BY / "optimum-quanto-0.2.7" / f"{kind}.safetensors.header.json",
            tmp_path / f"{kind}.safetensors",
        )
        for kind in ("qint4", "qint8")
    )

    assert categories(weightfit.check(qint4, qint8).findings) == ["quantization"]


def test_load_into_names_quantization_as_what_no_fix_repairs(tmp_path: Path) -> None:
    folder = _folder("bitsandbytes-0.50.2/nf4", tmp_path)
    config = _small_config()
    model = LlamaForCausalLM(LlamaConfig(**config))

    with pytest.raises(CheckpointMismatch) as raised:
        weightfit.load_into(model, folder, fix="auto")

    assert "No operation repairs it: quantization" in str(raised.value)
    assert "dequantize" in str(raised.value)


def test_load_into_refuses_ggml_blocks_with_the_way_out(tmp_path: Path) -> None:
    model = LlamaForCausalLM(LlamaConfig(**_small_config()))
    path = _gguf_q4_0(model, tmp_path / "model-Q4_0.gguf")

    with pytest.raises(UnsupportedTensor) as raised:
        weightfit.load_into(model, path, fix="auto")

    assert "GGML block quantization" in str(raised.value)
    assert "gguf_file" in str(raised.value)
