"""Property: any state dict saved by ``safetensors.torch.save_file`` reads back identically."""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

import weightfit

DTYPES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.uint8: "U8",
    torch.bool: "BOOL",
    torch.float8_e4m3fn: "F8_E4M3",
    torch.float8_e5m2: "F8_E5M2",
}

names = st.lists(
    st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True), min_size=1, max_size=4
).map(".".join)
shapes = st.lists(st.integers(min_value=0, max_value=5), min_size=0, max_size=4).map(tuple)


@st.composite
def tensors(draw: st.DrawFn) -> torch.Tensor:
    shape = draw(shapes)
    dtype = draw(st.sampled_from(list(DTYPES)))
    seed = draw(st.integers(min_value=0, max_value=2**31 - 1))
    raw = torch.randint(
        0,
        256,
        (torch.Size(shape).numel() * dtype.itemsize,),
        dtype=torch.uint8,
        generator=torch.Generator().manual_seed(seed),
    )
    if dtype is torch.bool:
        raw = raw % 2
    return raw.view(dtype).reshape(shape)


state_dicts = st.dictionaries(names, tensors(), max_size=8)


@settings(max_examples=60, deadline=None)
@given(state_dicts)
def test_state_dicts_round_trip(state_dict: dict[str, torch.Tensor]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.safetensors"
        save_file(state_dict, path)
        manifest = weightfit.read(path)
        data = path.read_bytes()
    assert set(manifest) == set(state_dict)
    for name, tensor in state_dict.items():
        spec = manifest[name]
        assert spec.shape == tuple(tensor.shape)
        assert spec.dtype == DTYPES[tensor.dtype]
        location = spec.location
        assert location.length == spec.nbytes == tensor.numel() * tensor.element_size()
        stored = data[location.offset : location.end]
        assert stored == tensor.reshape(-1).view(torch.uint8).numpy().tobytes()
