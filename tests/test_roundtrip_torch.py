"""Property: any state dict saved with torch.save (both formats) reads back identically."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import weightfit
from test_torch_zip import DTYPES, raw, stored_bytes

NAMES = st.from_regex(r"[a-z_][a-z0-9_]{0,6}(\.[a-z0-9_]{1,6}){0,3}", fullmatch=True)
SHAPES = st.lists(st.integers(min_value=0, max_value=4), min_size=0, max_size=3).map(tuple)
VIEWS = st.sampled_from(["whole", "transpose", "slice"])


@st.composite
def state_dicts(draw) -> dict[str, torch.Tensor]:
    names = draw(st.lists(NAMES, min_size=1, max_size=6, unique=True))
    state = {}
    for name in names:
        dtype = draw(st.sampled_from(list(DTYPES)))
        shape = draw(SHAPES)
        base = (torch.arange(math.prod(shape)) % 3).to(dtype).reshape(shape)
        view = draw(VIEWS)
        if view == "transpose" and base.dim() >= 2:
            base = base.transpose(0, 1)
        elif view == "slice" and base.dim() >= 1 and base.shape[0] > 1:
            base = base[1:]
        state[name] = base
    return state


def read_back(state: dict[str, torch.Tensor], zip_format: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ckpt.pt"
        torch.save(state, path, _use_new_zipfile_serialization=zip_format)
        manifest = weightfit.read(path)
        assert list(manifest.tensors) == list(state)
        for name, tensor in state.items():
            spec = manifest[name]
            assert spec.shape == tuple(tensor.shape)
            assert spec.dtype == DTYPES[tensor.dtype]
            assert spec.stride == tuple(tensor.stride())
            if tensor.is_contiguous():
                assert stored_bytes(spec) == raw(tensor)
            else:
                assert spec.location.length <= tensor.untyped_storage().nbytes()


SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(state_dicts())
def test_zip_round_trip(state):
    read_back(state, zip_format=True)


@SETTINGS
@given(state_dicts())
def test_legacy_round_trip(state):
    read_back(state, zip_format=False)
