"""The GGUF reader: real files from gguf-py's ``GGUFWriter``, checked against ``GGUFReader``."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from gguf import GGMLQuantizationType, GGUFEndian, GGUFReader, GGUFWriter
from gguf.quants import quantize

import weightfit
from attacks import gguf as attacks
from weightfit import errors
from weightfit.formats import detect


def write(path: Path, tensors: dict[str, tuple[np.ndarray, GGMLQuantizationType | None]], **kw):
    writer = GGUFWriter(path, "llama", **kw)
    writer.add_context_length(4096)
    writer.add_float32("llama.rope.freq_base", 10000.5)
    writer.add_float32("llama.attention.layer_norm_rms_epsilon", 1e-5)
    writer.add_bool("llama.use_parallel_residual", True)
    writer.add_string("general.name", "tiny ünïcode")
    writer.add_array("llama.layer_types", [1, 2, 3])
    writer.add_array("tokenizer.ggml.tokens", [f"tok{i}" for i in range(100)])
    writer.add_array("tokenizer.ggml.scores", [float(i) for i in range(40)])
    for name, (array, raw_dtype) in tensors.items():
        writer.add_tensor(name, array, raw_dtype=raw_dtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def real_tensors() -> dict[str, tuple[np.ndarray, GGMLQuantizationType | None]]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 64)).astype(np.float32)
    bf16 = (x.view(np.uint32) >> 16).astype(np.uint16)
    return {
        "token_embd.weight": (x, None),
        "blk.0.attn_norm.weight": (np.ones(64, np.float16), None),
        "blk.0.attn_q.weight": (bf16, GGMLQuantizationType.BF16),
        "blk.0.ffn_up.weight": (
            quantize(x, GGMLQuantizationType.Q8_0),
            GGMLQuantizationType.Q8_0,
        ),
        "blk.0.ffn_down.weight": (
            rng.integers(0, 255, (2, 2 * 144), dtype=np.uint8),
            GGMLQuantizationType.Q4_K,
        ),
        "conv.weight": (rng.standard_normal((2, 3, 4, 5)).astype(np.float64), None),
        "pos": (np.arange(6, dtype=np.int32), None),
        "ids": (np.arange(3, dtype=np.int64), None),
        "mask": (np.arange(5, dtype=np.int8), None),
    }


EXPECTED_DTYPES = {
    "token_embd.weight": "F32",
    "blk.0.attn_norm.weight": "F16",
    "blk.0.attn_q.weight": "BF16",
    "blk.0.ffn_up.weight": "Q8_0",
    "blk.0.ffn_down.weight": "Q4_K",
    "conv.weight": "F64",
    "pos": "I32",
    "ids": "I64",
    "mask": "I8",
}
EXPECTED_SHAPES = {
    "token_embd.weight": (4, 64),
    "blk.0.attn_norm.weight": (64,),
    "blk.0.attn_q.weight": (4, 64),
    "blk.0.ffn_up.weight": (4, 64),
    "blk.0.ffn_down.weight": (2, 512),
    "conv.weight": (2, 3, 4, 5),
    "pos": (6,),
    "ids": (3,),
    "mask": (5,),
}


def read_location(spec: weightfit.TensorSpec) -> bytes:
    with open(spec.location.file, "rb") as handle:
        handle.seek(spec.location.offset)
        return handle.read(spec.location.length)


def test_every_field_matches_gguf_reader(tmp_path: Path) -> None:
    tensors = real_tensors()
    path = write(tmp_path / "model.gguf", tensors)

    manifest = weightfit.read(path)
    reference = GGUFReader(path)

    assert manifest.format == "gguf"
    assert manifest.source == str(path) and manifest.files == [str(path)]
    assert manifest.extras == {"version": 3, "alignment": 32}
    assert manifest.notes == []
    assert list(manifest) == [t.name for t in reference.tensors] == list(tensors)
    for tensor in reference.tensors:
        spec = manifest[tensor.name]
        assert spec.shape == EXPECTED_SHAPES[tensor.name]
        assert spec.shape == tuple(int(d) for d in reversed(tensor.shape))
        assert spec.dtype == EXPECTED_DTYPES[tensor.name] == tensor.tensor_type.name
        assert spec.location.offset == tensor.data_offset
        assert spec.nbytes == spec.location.length == tensor.n_bytes
        assert read_location(spec) == tensors[tensor.name][0].tobytes()
    assert manifest.metadata == {
        "general.architecture": "llama",
        "llama.context_length": "4096",
        "llama.rope.freq_base": "10000.5",
        "llama.attention.layer_norm_rms_epsilon": "1e-05",
        "llama.use_parallel_residual": "true",
        "general.name": "tiny ünïcode",
        "llama.layer_types": "[1, 2, 3]",
        "tokenizer.ggml.tokens": "[100 STRING values]",
        "tokenizer.ggml.scores": "[40 FLOAT32 values]",
    }


def test_custom_alignment_and_nested_arrays(tmp_path: Path) -> None:
    writer = GGUFWriter(tmp_path / "a.gguf", "llama")
    writer.add_custom_alignment(64)
    writer.add_array("nested", [[1, 2], [3]])
    writer.add_tensor("a", np.ones(3, np.float32))
    writer.add_tensor("b", np.ones(5, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    manifest = weightfit.read(tmp_path / "a.gguf")
    assert manifest.extras["alignment"] == 64
    assert manifest.metadata["nested"] == "[[1, 2], [3]]"
    assert manifest["b"].location.offset - manifest["a"].location.offset == 64


def test_big_endian_files_are_read_and_noted(tmp_path: Path) -> None:
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    expected = array.astype(">f4").tobytes()
    path = write(tmp_path / "be.gguf", {"w": (array, None)}, endianess=GGUFEndian.BIG)
    manifest = weightfit.read(path)
    assert manifest["w"].shape == (2, 3) and manifest["w"].dtype == "F32"
    assert manifest.metadata["llama.context_length"] == "4096"
    assert manifest.metadata["llama.rope.freq_base"] == "10000.5"
    assert read_location(manifest["w"]) == expected
    assert manifest.notes == ["big-endian GGUF: tensor bytes are big-endian"]


def test_123_tensors_is_gguf_not_safetensors(tmp_path: Path) -> None:
    """A tensor count of 123 puts a "{" at byte 8, the safetensors signature."""
    tensors = {f"t{i}": (np.zeros(1, np.float32), None) for i in range(123)}
    path = write(tmp_path / "m.gguf", tensors)
    assert path.read_bytes()[8:9] == b"{"
    assert detect(path) == "gguf"
    assert len(weightfit.read(path)) == 123


def test_a_huge_string_value_is_summarised_not_copied(tmp_path: Path) -> None:
    value = attacks.kv("tokenizer.chat_template", attacks.STRING, attacks.string("x" * 70_000))
    manifest = weightfit.read(attacks.build(tmp_path / "x.gguf", kvs=[value]))
    assert manifest.metadata == {"tokenizer.chat_template": "[string of 70000 bytes]"}


def test_a_63_byte_tensor_name_is_allowed(tmp_path: Path) -> None:
    path = attacks.build(tmp_path / "x.gguf", [attacks.info("n" * 63, [8])], data=bytes(32))
    assert list(weightfit.read(path)) == ["n" * 63]


def test_a_file_without_tensors(tmp_path: Path) -> None:
    manifest = weightfit.read(attacks.build(tmp_path / "x.gguf"))
    assert len(manifest) == 0 and manifest.metadata == {}


def test_version_2(tmp_path: Path) -> None:
    path = attacks.build(tmp_path / "x.gguf", [attacks.info("a", [8])], data=bytes(32), version=2)
    manifest = weightfit.read(path)
    assert manifest.extras["version"] == 2 and manifest["a"].shape == (8,)


def test_bytes_after_the_last_tensor_are_noted_like_ggml_ignores_them(tmp_path: Path) -> None:
    manifest = weightfit.read(attacks.f32_pair(tmp_path / "x.gguf", data=bytes(64 + 40)))
    assert manifest.notes == ["40 bytes after the last tensor's padding belong to no tensor"]


def test_the_last_tensor_may_end_without_padding(tmp_path: Path) -> None:
    path = attacks.build(tmp_path / "x.gguf", [attacks.info("a", [3])], data=bytes(12))
    assert weightfit.read(path).notes == []


def test_an_unknown_ggml_type_is_kept_and_noted(tmp_path: Path) -> None:
    path = attacks.build(
        tmp_path / "x.gguf", [attacks.info("w", [8], ggml_type=77)], data=bytes(32)
    )
    manifest = weightfit.read(path)
    assert manifest["w"].dtype == "GGML_TYPE_77"
    assert manifest["w"].location is None and manifest["w"].nbytes is None
    assert manifest.notes == [
        "1 tensor(s) of unknown GGML type, e.g. 'w' (GGML_TYPE_77): no byte range, "
        "layout not checked"
    ]


def test_a_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(errors.ContainerKeyNotFound):
        weightfit.read(attacks.build(tmp_path / "x.gguf"), key="model")


def test_the_reader_reads_only_the_header(tmp_path: Path) -> None:
    """A 60 GB sparse GGUF: reading it touches only the header pages."""
    dims = [8192, 8192]
    infos = [attacks.info(f"w{i}", dims, offset=i * 8192 * 8192 * 4) for i in range(224)]
    path = attacks.build(tmp_path / "big.gguf", infos)
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size + 224 * 8192 * 8192 * 4)
    manifest = weightfit.read(path)
    assert manifest.total_bytes == 224 * 8192 * 8192 * 4


ATTACKS: list[tuple[Callable[[Path], Path], type[errors.InputError], str]] = [
    (
        attacks.version_1,
        errors.InvalidHeader,
        "invalid header: version 1 is not supported (only 2, 3) (at byte 4)",
    ),
    (
        attacks.tensor_count_huge,
        errors.HeaderTooLarge,
        "header too large: declares 1152921504606846976 tensor infos, more than the 8 bytes "
        "left could hold (at byte 24)",
    ),
    (
        attacks.kv_count_huge,
        errors.HeaderTooLarge,
        "header too large: declares 1099511627776 metadata key-value pairs, more than the "
        "8 bytes left could hold (at byte 24)",
    ),
    (
        attacks.key_length_past_eof,
        errors.TruncatedFile,
        "truncated file: file ends inside a metadata key (at byte 32)",
    ),
    (
        attacks.unknown_value_type,
        errors.InvalidHeader,
        "invalid header: 'general.name' has unknown value type 99 (at byte 44)",
    ),
    (
        attacks.bool_of_two,
        errors.InvalidHeader,
        "invalid header: 'x.flag' is a BOOL of value 2, not 0 or 1",
    ),
    (
        attacks.array_count_huge,
        errors.HeaderTooLarge,
        "header too large: declares 1125899906842624 STRING values in 'tokens', more than "
        "the 10 bytes left could hold (at byte 54)",
    ),
    (
        attacks.arrays_nested_too_deep,
        errors.InvalidHeader,
        "invalid header: 'deep' nests arrays more than 4 deep",
    ),
    (
        attacks.duplicate_key,
        errors.InvalidHeader,
        "invalid header: metadata key 'general.name' appears twice",
    ),
    (
        attacks.alignment_not_power_of_two,
        errors.InvalidHeader,
        "invalid header: general.alignment 48 is not a power of two",
    ),
    (
        attacks.alignment_wrong_type,
        errors.InvalidHeader,
        "invalid header: general.alignment must be a UINT32, found type 8",
    ),
    (
        attacks.duplicate_tensor_name,
        errors.InvalidHeader,
        "invalid header: tensor 'a' appears twice",
    ),
    (
        attacks.name_not_utf8,
        errors.InvalidHeader,
        "invalid header: a tensor name is not valid UTF-8 (invalid start byte) (at byte 33)",
    ),
    (
        attacks.name_too_long,
        errors.InvalidHeader,
        "invalid header: a tensor name of 64 bytes exceeds 63 (at byte 32)",
    ),
    (
        attacks.five_dims,
        errors.InvalidHeader,
        "invalid header: tensor 'a' has 5 dimensions, more than 4",
    ),
    (
        attacks.dims_overflow,
        errors.InvalidHeader,
        "invalid header: tensor 'a' dimensions [4294967296, 4294967296] overflow int64",
    ),
    (
        attacks.partial_quant_block,
        errors.InvalidHeader,
        "invalid header: tensor 'q' rows of 31 elements are not whole Q8_0 blocks of 32",
    ),
    (
        attacks.misaligned_offset,
        errors.InvalidHeader,
        "invalid header: tensor 'b' offset 36 is not a multiple of the alignment 32",
    ),
    (
        attacks.overlapping,
        errors.OverlappingTensors,
        "overlapping tensors: tensor 'b' [32, 64] starts inside 'a', which ends at 64 "
        "(at byte 128)",
    ),
    (
        attacks.hole,
        errors.UncoveredBytes,
        "uncovered bytes: data section bytes [32, 64) belong to no tensor (at byte 128)",
    ),
    (
        attacks.out_of_bounds,
        errors.TensorOutOfBounds,
        "tensor out of bounds: tensor 'b' [4096, 4128] ends past the 64-byte data section "
        "(at byte 4192)",
    ),
    (
        attacks.truncated_data,
        errors.TruncatedFile,
        "truncated file: file ends at byte 136, 24 bytes before its last tensor 'b' does "
        "(at byte 136)",
    ),
    (
        attacks.truncated_header,
        errors.TruncatedFile,
        "truncated file: file ends inside the type of 'b' (at byte 78)",
    ),
]


@pytest.mark.parametrize(
    ("build", "error", "message"), ATTACKS, ids=[build.__name__ for build, _, _ in ATTACKS]
)
def test_hostile_file(
    tmp_path: Path,
    run_cli,
    build: Callable[[Path], Path],
    error: type[errors.InputError],
    message: str,
) -> None:
    path = build(tmp_path / "model.gguf")
    expected = f"{path}: {message}"
    with pytest.raises(error) as caught:
        weightfit.read(path)
    assert type(caught.value) is error
    assert str(caught.value) == expected
    result = run_cli("inspect", path)
    assert result.code == 3
    assert f"error: {expected}" in result.err.replace("\n", "")


def test_magic_only(tmp_path: Path) -> None:
    path = tmp_path / "x.gguf"
    path.write_bytes(b"GGUF" + struct.pack("<I", 3))
    with pytest.raises(errors.TruncatedFile) as caught:
        weightfit.read(path)
    assert caught.value.detail == "file ends inside the tensor count"
