"""Legacy torch.save files (``_use_new_zipfile_serialization=False``), checked field by field."""

from __future__ import annotations

import argparse
import collections
import pickle
import tracemalloc
from pathlib import Path

import pytest
import torch

import weightfit
from attacks import pickles as P
from test_torch_zip import DTYPES, assert_matches, raw, stored_bytes
from weightfit.errors import InvalidHeader, TensorSizeMismatch
from weightfit.formats import detect


def save(tmp_path: Path, obj, name: str = "legacy.pt", **kwargs) -> Path:
    path = tmp_path / name
    torch.save(obj, path, _use_new_zipfile_serialization=False, **kwargs)
    return path


@pytest.mark.parametrize("dtype", list(DTYPES), ids=[DTYPES[d] for d in DTYPES])
def test_every_dtype_reads_back_with_its_bytes(tmp_path, dtype):
    tensor = (torch.arange(24) % 5).to(dtype).reshape(4, 6)
    manifest = weightfit.read(save(tmp_path, {"t": tensor}))
    assert_matches(manifest["t"], tensor)


def test_manifest_fields_of_a_module_state_dict(tmp_path):
    module = torch.nn.Sequential(
        torch.nn.Linear(6, 3), torch.nn.LayerNorm(3), torch.nn.BatchNorm1d(3)
    )
    state = module.state_dict()
    path = save(tmp_path, state)
    manifest = weightfit.read(path)
    assert detect(path) == "torch_legacy"
    assert (manifest.format, manifest.source, manifest.files) == (
        "torch-legacy",
        str(path),
        [str(path)],
    )
    assert list(manifest.tensors) == list(state)
    for name, tensor in state.items():
        assert_matches(manifest[name], tensor)
    assert manifest.container == ""
    assert manifest.security == "safe"
    assert manifest.globals == []
    assert manifest.notes == []


def test_storages_are_located_by_walking_their_counts(tmp_path):
    # Storages follow the pickles in sorted-key order, each after an 8-byte count.
    state = {f"w{i}": torch.full((i + 1, 3), float(i)) for i in range(12)}
    manifest = weightfit.read(save(tmp_path, state))
    for name, tensor in state.items():
        assert stored_bytes(manifest[name]) == raw(tensor)
    ends = sorted(spec.location.end for spec in manifest.tensors.values())
    assert ends[-1] == (tmp_path / "legacy.pt").stat().st_size


def test_scalar_empty_and_views(tmp_path):
    x = torch.arange(6, dtype=torch.int32).reshape(2, 3)
    state = {"scalar": torch.tensor(True), "empty": torch.zeros(0), "x": x, "row": x[1], "t": x.t()}
    manifest = weightfit.read(save(tmp_path, state))
    assert_matches(manifest["scalar"], state["scalar"])
    assert manifest["empty"].location.length == 0
    assert stored_bytes(manifest["row"]) == raw(x[1])
    assert manifest["t"].stride == (1, 3)
    assert manifest["x"].storage == manifest["row"].storage == manifest["t"].storage


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_pickle_protocols(tmp_path, protocol):
    tensor = torch.randn(3, dtype=torch.bfloat16)
    manifest = weightfit.read(save(tmp_path, {"w": tensor}, pickle_protocol=protocol))
    assert_matches(manifest["w"], tensor)


def test_parameters_and_whole_modules(tmp_path):
    module = torch.nn.Linear(2, 2)
    manifest = weightfit.read(save(tmp_path, {"p": module.weight}))
    assert manifest["p"].is_buffer is False
    whole = weightfit.read(save(tmp_path, module, name="module.pt"))
    assert list(whole.tensors) == ["weight", "bias"]
    assert whole.security == "benign"


def test_large_pickles_grow_the_read_window(tmp_path):
    state = {f"block.{i}.with.a.long.name.weight": torch.zeros(1) for i in range(12_000)}
    manifest = weightfit.read(save(tmp_path, state))
    assert len(manifest) == 12_000


def test_trailing_bytes_are_noted(tmp_path):
    path = save(tmp_path, {"w": torch.ones(2)})
    with path.open("ab") as handle:
        handle.write(b"extra")
    assert weightfit.read(path).notes == ["5 bytes follow the last storage and belong to no tensor"]


def test_big_endian_sys_info_is_flagged(tmp_path):
    main = P.pickle_of(P.in_dict(w=P.tensor("0", 2, (2,), (1,))))
    path = P.legacy_checkpoint(tmp_path / "big.pt", main, {"0": (2, b"\x00" * 8)})
    data = path.read_bytes().replace(
        P.SYS_INFO_PICKLE, P.pickle_of(P.in_dict(little_endian=P.NEWFALSE))
    )
    path.write_bytes(data)
    manifest = weightfit.read(path)
    assert manifest.notes == ["saved on a big-endian machine: tensor bytes are big-endian"]
    assert manifest["w"].location.offset == len(data) - 8


@pytest.mark.parametrize("protocol", range(6))
def test_a_plain_pickle_is_read_with_its_globals_and_verdict(tmp_path, protocol):
    # A plain pickle (no torch magic) that torch.load and pickle.load would run.
    path = tmp_path / "plain.pkl"
    value = {"args": argparse.Namespace(lr=0.1), "net": collections.Counter("ab")}
    path.write_bytes(pickle.dumps(value, protocol=protocol))
    manifest = weightfit.read(path)
    assert manifest.format == "pickle"
    assert len(manifest) == 0
    assert manifest.security == "benign"
    assert ("argparse", "Namespace") in [(g.module, g.name) for g in manifest.globals]
    shown = protocol if protocol >= 2 else "0/1"
    assert manifest.notes == [
        f"a plain pickle (protocol {shown}), not a torch.save checkpoint: it holds a dict "
        "of 2 entries; pickle.load and torch.load run it, so it lists no tensors"
    ]


def test_every_one_of_the_five_pickles_is_judged(tmp_path):
    main = P.pickle_of(P.in_dict(w=P.tensor("0", 2, (2,), (1,))))
    path = P.legacy_checkpoint(tmp_path / "five.pt", main, {"0": (2, b"\x00" * 8)})
    hooked = P.in_dict(little_endian=b"\x88", hook=P.call(P.glob("mylib.hooks", "setup")))
    data = path.read_bytes().replace(P.SYS_INFO_PICKLE, P.pickle_of(hooked))
    path.write_bytes(data)
    manifest = weightfit.read(path)
    assert manifest.security == "unknown"
    assert [(g.module, g.name) for g in manifest.globals] == [("mylib.hooks", "setup")]


def test_a_pickle_after_the_storages_is_judged(tmp_path):
    main = P.pickle_of(P.in_dict(w=P.tensor("0", 2, (2,), (1,))))
    path = P.legacy_checkpoint(tmp_path / "after.pt", main, {"0": (2, b"\x00" * 8)})
    with path.open("ab") as handle:
        handle.write(P.pickle_of(P.call(P.glob("mylib", "hook"))))
    manifest = weightfit.read(path)
    assert manifest.security == "unknown"
    assert manifest.notes == [
        "1 pickle(s) follow the last storage: torch.load does not read them; judged with the rest"
    ]


def test_a_storage_count_that_disagrees_with_the_pickle(tmp_path):
    main = P.pickle_of(P.in_dict(w=P.tensor("0", 2, (2,), (1,))))
    path = P.legacy_checkpoint(tmp_path / "count.pt", main, {"0": (3, b"\x00" * 12)})
    offset = len(path.read_bytes()) - 12 - 8
    with pytest.raises(TensorSizeMismatch) as caught:
        weightfit.read(path)
    assert str(caught.value) == (
        f"{path}: tensor size mismatch: storage '0' holds 3 elements but the pickle declares 2 "
        f"(at byte {offset})"
    )


def test_a_storage_missing_from_the_key_list(tmp_path):
    main = P.pickle_of(P.in_dict(w=P.tensor("0", 2, (2,), (1,))))
    path = P.legacy_checkpoint(tmp_path / "keys.pt", main, {})
    with pytest.raises(InvalidHeader) as caught:
        weightfit.read(path)
    assert str(caught.value) == (
        f"{path}: invalid header: storages ['0'] are in the pickle but not in the key list"
    )


def test_reading_never_touches_tensor_bytes(tmp_path):
    path = save(tmp_path, {f"w{i}": torch.zeros(1024, 1024) for i in range(16)})  # 64 MiB
    tracemalloc.start()
    try:
        manifest = weightfit.read(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert manifest.total_bytes == 64 * 2**20
    assert peak < 4 * 2**20  # the first 1 MiB window holds the pickles
