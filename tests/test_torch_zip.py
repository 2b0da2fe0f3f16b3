"""Zip-format torch.save files: every manifest field checked against the real tensors."""

from __future__ import annotations

import tracemalloc
import zipfile
from pathlib import Path

import pytest
import torch

import weightfit
from attacks import pickles as P
from weightfit.errors import ForbiddenPickleContent, NotACheckpoint
from weightfit.formats import detect
from weightfit.manifest import TensorSpec

DTYPES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.float64: "F64",
    torch.float8_e4m3fn: "F8_E4M3",
    torch.float8_e5m2: "F8_E5M2",
    torch.complex64: "C64",
    torch.complex128: "C128",
    torch.uint8: "U8",
    torch.int8: "I8",
    torch.int16: "I16",
    torch.int32: "I32",
    torch.int64: "I64",
    torch.uint16: "U16",
    torch.uint32: "U32",
    torch.uint64: "U64",
    torch.bool: "BOOL",
}


def stored_bytes(spec: TensorSpec) -> bytes:
    """The bytes at a spec's location, read with plain file IO."""
    assert spec.location is not None
    with open(spec.location.file, "rb") as handle:
        handle.seek(spec.location.offset)
        return handle.read(spec.location.length)


def raw(tensor: torch.Tensor) -> bytes:
    return tensor.contiguous().view(-1).view(torch.uint8).numpy().tobytes()


def assert_matches(spec: TensorSpec, tensor: torch.Tensor) -> None:
    """Shape, dtype, stride and the bytes at the location all match the tensor."""
    assert spec.shape == tuple(tensor.shape)
    assert spec.dtype == DTYPES[tensor.dtype]
    assert spec.stride == tuple(tensor.stride())
    if tensor.is_contiguous():
        assert stored_bytes(spec) == raw(tensor)
        assert spec.location.length == tensor.numel() * tensor.element_size()


def save(tmp_path: Path, obj, name: str = "ckpt.pt", **kwargs) -> Path:
    path = tmp_path / name
    torch.save(obj, path, **kwargs)
    return path


@pytest.mark.parametrize("dtype", list(DTYPES), ids=[DTYPES[d] for d in DTYPES])
def test_every_dtype_reads_back_with_its_bytes(tmp_path, dtype):
    tensor = (torch.arange(24) % 7).to(dtype).reshape(2, 3, 4)
    path = save(tmp_path, {"t": tensor})
    manifest = weightfit.read(path)
    assert_matches(manifest["t"], tensor)
    assert manifest["t"].location.file == str(path)


def test_manifest_fields_of_a_module_state_dict(tmp_path):
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8))
    state = module.state_dict()
    path = save(tmp_path, state)
    manifest = weightfit.read(path)
    assert detect(path) == "torch_zip"
    assert manifest.format == "torch-zip"
    assert manifest.source == str(path)
    assert manifest.files == [str(path)]
    assert list(manifest.tensors) == list(state)
    for name, tensor in state.items():
        assert_matches(manifest[name], tensor)
        assert manifest[name].is_buffer is None
        assert manifest[name].storage is None
    assert manifest["1.num_batches_tracked"].shape == ()
    assert manifest["1.num_batches_tracked"].dtype == "I64"
    # torch names the archive folder after the file's stem.
    assert manifest.metadata == {"archive": "ckpt", "format_version": "1", "byteorder": "little"}
    assert manifest.container == ""
    assert manifest.container_reason == "the file's top level is a state dict"
    assert manifest.security == "safe"
    assert manifest.globals == []
    assert manifest.extras == {}
    assert manifest.notes == []


def test_scalar_and_empty_tensors(tmp_path):
    state = {"scalar": torch.tensor(2.5), "empty": torch.zeros(0, 4), "after": torch.ones(3)}
    manifest = weightfit.read(save(tmp_path, state))
    assert_matches(manifest["scalar"], state["scalar"])
    assert manifest["empty"].shape == (0, 4)
    assert manifest["empty"].location.length == 0
    assert_matches(manifest["after"], state["after"])


def test_views_and_shared_storage(tmp_path):
    x = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    state = {"x": x, "tail": x[1:], "t": x.t(), "own": torch.ones(2)}
    manifest = weightfit.read(save(tmp_path, state))
    x_spec, tail, t = manifest["x"], manifest["tail"], manifest["t"]
    assert stored_bytes(x_spec) == raw(x)
    assert stored_bytes(tail) == raw(x[1:])
    assert tail.location.offset == x_spec.location.offset + 4 * 4
    assert (t.shape, t.stride, t.is_contiguous) == ((4, 3), (1, 4), False)
    assert t.location == x_spec.location
    assert x_spec.storage == tail.storage == t.storage is not None
    assert manifest["own"].storage is None
    assert manifest.notes == [
        "3 tensors share 1 storage (tied weights or views): x = tail = t",
        "1 tensor not contiguous (strided views): the byte range runs from the first element "
        "to the last; read it with the stride: t",
    ]


def test_parameters_are_not_buffers(tmp_path):
    parameter = torch.nn.Parameter(torch.randn(2, 3))
    manifest = weightfit.read(save(tmp_path, {"w": parameter}))
    assert manifest["w"].is_buffer is False
    assert_matches(manifest["w"], parameter.detach())


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_every_pickle_protocol(tmp_path, protocol):
    state = {"a": torch.randn(3, 2), "b": torch.ones(1, dtype=torch.bfloat16)}
    manifest = weightfit.read(save(tmp_path, state, pickle_protocol=protocol))
    for name, tensor in state.items():
        assert_matches(manifest[name], tensor)


def test_a_whole_pickled_module_gives_its_state_dict(tmp_path):
    module = torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.BatchNorm1d(2))
    manifest = weightfit.read(save(tmp_path, module))
    assert list(manifest.tensors) == list(module.state_dict())
    assert manifest["0.weight"].is_buffer is False
    assert manifest["1.running_mean"].is_buffer is True
    assert manifest.container_reason == (
        "the file is a pickled torch.nn.modules.container.Sequential module: "
        "its parameters and buffers"
    )
    assert manifest.security == "benign"
    assert {g.module for g in manifest.globals} == {
        "torch.nn.modules.container",
        "torch.nn.modules.linear",
        "torch.nn.modules.batchnorm",
    }


def rewrite(path: Path, out: Path, *, folder: str = "archive", byteorder: str | None = None,
            first: str | None = None) -> Path:  # fmt: skip
    """Copy a torch zip record by record (stored), renaming the folder or changing records."""
    with zipfile.ZipFile(path) as source:
        infos = source.infolist()
        if first is not None:
            infos.sort(key=lambda info: not info.filename.endswith(first))
        with zipfile.ZipFile(out, "w") as target:
            for info in infos:
                name = folder + info.filename[info.filename.index("/") :]
                data = source.read(info)
                if byteorder is not None and name.endswith("/byteorder"):
                    data = byteorder.encode()
                target.writestr(zipfile.ZipInfo(name), data)
    return out


def test_big_endian_archives_are_flagged(tmp_path):
    tensor = torch.randn(3)
    path = rewrite(save(tmp_path, {"w": tensor}), tmp_path / "big.pt", byteorder="big")
    manifest = weightfit.read(path)
    assert manifest.metadata["byteorder"] == "big"
    assert manifest.notes == ["saved on a big-endian machine: tensor bytes are big-endian"]
    assert manifest["w"].shape == (3,)


def test_any_archive_folder_name_and_unaligned_records(tmp_path):
    tensor = torch.randn(5, dtype=torch.float64)
    path = rewrite(save(tmp_path, {"w": tensor}), tmp_path / "renamed.pt", folder="my_model")
    manifest = weightfit.read(path)
    assert manifest.metadata["archive"] == "my_model"
    assert_matches(manifest["w"], tensor)


def test_data_pkl_need_not_be_the_first_record(tmp_path):
    tensor = torch.randn(2, 2)
    path = rewrite(save(tmp_path, {"w": tensor}), tmp_path / "repacked.pt", first="byteorder")
    with zipfile.ZipFile(path) as archive:
        assert not archive.namelist()[0].endswith("data.pkl")
    assert detect(path) == "torch_zip"
    assert_matches(weightfit.read(path)["w"], tensor)


@pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor")
def test_quantized_tensors_are_reported(tmp_path):
    quantized = torch.quantize_per_tensor(torch.randn(4), 0.1, 10, torch.quint8)
    manifest = weightfit.read(save(tmp_path, {"q": quantized}))
    assert (manifest["q"].shape, manifest["q"].dtype) == ((4,), "quint8")
    assert manifest.notes == ["1 tensor quantized: q"]


def test_meta_tensors_have_no_location(tmp_path):
    manifest = weightfit.read(save(tmp_path, {"m": torch.empty(2, 3, device="meta")}))
    assert (manifest["m"].shape, manifest["m"].dtype, manifest["m"].location) == (
        (2, 3),
        "F32",
        None,
    )
    assert manifest.notes == ["1 tensor saved without data (meta): m"]


def test_cli_inspect_reads_it(tmp_path, run_cli):
    path = save(tmp_path, {"encoder.weight": torch.zeros(4, 4)})
    result = run_cli("inspect", path, "--json")
    assert result.code == 0
    assert '"format": "torch-zip"' in result.out


def test_reading_never_touches_tensor_bytes(tmp_path):
    path = save(tmp_path, {f"w{i}": torch.zeros(1024, 1024) for i in range(16)})  # 64 MiB
    tracemalloc.start()
    try:
        manifest = weightfit.read(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert manifest.total_bytes == 64 * 2**20
    assert peak < 2 * 2**20


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit is deprecated, still saved
def test_torchscript_archives_give_their_tensors_by_attribute_path(tmp_path):
    module = torch.jit.script(torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU()))
    path = tmp_path / "scripted.pt"
    torch.jit.save(module, path)
    manifest = weightfit.read(path)
    assert list(manifest.tensors) == ["0.weight", "0.bias"]
    assert_matches(manifest["0.weight"], module.state_dict()["0.weight"])
    assert manifest.security == "unknown"  # __torch__.* classes
    assert manifest.notes[0] == (
        "a TorchScript archive (torch.jit.save): its code was neither read nor run"
    )
    # constants.pkl and the *.debug_pkl members are pickles too: judged, none dangerous.
    assert manifest.notes[1].startswith(
        "5 other member(s) are pickles, judged with scripted/data.pkl"
    )


def _state(tmp_path: Path, name: str, extra: dict[str, bytes] | None = None) -> Path:
    """A one-tensor torch zip built by hand, with ``extra`` members added."""
    path = P.zip_checkpoint(
        tmp_path / name,
        P.pickle_of(P.in_dict(w=P.tensor("0", 2, (2,), (1,)))),
        {"0": b"\x00" * 8},
    )
    with zipfile.ZipFile(path, "a") as archive:
        for member, raw in (extra or {}).items():
            archive.writestr(member, raw)
    return path


def test_a_second_pickle_after_data_pkl_stop_is_judged(tmp_path):
    data_pkl = P.pickle_of(P.in_dict(w=P.tensor("0", 2, (2,), (1,))))
    second = P.pickle_of(P.call(P.glob("pip", "main"), P.text("install")))
    path = P.zip_checkpoint(tmp_path / "two.pt", data_pkl + second, {"0": b"\x00" * 8})
    with pytest.raises(
        ForbiddenPickleContent, match=r"archive/data.pkl \(pickle 2\): names pip.main"
    ):
        weightfit.read(path)


def test_a_second_archive_is_judged(tmp_path):
    hook = P.pickle_of(P.call(P.glob("mylib.train", "Hook")))
    path = _state(tmp_path, "second.pt", {"other/data.pkl": hook})
    manifest = weightfit.read(path)
    assert manifest.security == "unknown"
    assert [(g.module, g.name) for g in manifest.globals] == [("mylib.train", "Hook")]
    assert manifest.notes == [
        "1 other member(s) are pickles, judged with archive/data.pkl: 'other/data.pkl'"
    ]


def test_a_dangerous_pickle_in_any_member_is_refused(tmp_path):
    evil = P.pickle_of(P.call(P.glob("torch.utils.collect_env", "run"), P.text("id")))
    path = _state(tmp_path, "member.pt", {"archive/extra/state": evil})
    with pytest.raises(ForbiddenPickleContent, match="archive/extra/state"):
        weightfit.read(path)


def test_a_zip_after_other_bytes_is_read(tmp_path):
    # torch.load reads it from a handle positioned at the zip.
    saved = tmp_path / "saved.pt"
    torch.save({"w": torch.ones(3)}, saved)
    path = tmp_path / "prefixed.pt"
    path.write_bytes(b"header " * 10 + saved.read_bytes())
    manifest = weightfit.read(path)
    assert list(manifest.tensors) == ["w"]
    assert manifest.security == "safe"
    assert manifest.notes == [
        "70 bytes precede the zip archive: torch.load reads the archive only from a handle "
        "positioned past them"
    ]


def test_a_pickle_before_a_zip_is_judged(tmp_path):
    # torch.load(path) checks the first bytes for a zip and unpickles anything else.
    saved = tmp_path / "saved.pt"
    torch.save({"w": torch.ones(3)}, saved)
    path = tmp_path / "prefixed.pt"
    path.write_bytes(P.pickle_of(P.call(P.glob("mylib", "Hook"))) + saved.read_bytes())
    manifest = weightfit.read(path)
    assert manifest.security == "unknown"
    assert manifest.notes[0].endswith("by path it unpickles them (a pickle, judged here)")


def test_a_member_with_an_empty_name_is_judged_not_a_crash(tmp_path):
    # Found by tests/fuzz/readers.py: zipfile's is_dir() fails on an empty name.
    path = _state(tmp_path, "empty.pt", {"Q": P.pickle_of(P.call(P.glob("mylib", "Hook")))})
    raw = bytearray(path.read_bytes())
    entry = raw.rindex(b"PK\x01\x02")  # the central directory record of member "Q"
    assert raw[entry + 46 : entry + 47] == b"Q"
    raw[entry + 28 : entry + 30] = (0).to_bytes(2, "little")
    del raw[entry + 46]
    end = raw.rindex(b"PK\x05\x06")
    size = int.from_bytes(raw[end + 12 : end + 16], "little")
    raw[end + 12 : end + 16] = (size - 1).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    with pytest.raises(NotACheckpoint, match="File name in directory '' and header b'Q' differ"):
        weightfit.read(path)


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_packed_fp4_pairs_take_one_byte_each(tmp_path: Path, zip_format: bool) -> None:
    """torch's float4_e2m1fn_x2 holds two FP4 values per element: nbytes is one per element."""
    path = tmp_path / "fp4.pt"
    tensor = torch.arange(6, dtype=torch.uint8).view(torch.float4_e2m1fn_x2).reshape(2, 3)
    torch.save({"w": tensor}, path, _use_new_zipfile_serialization=zip_format)
    manifest = weightfit.read(path)
    spec = manifest["w"]
    assert (spec.dtype, spec.shape) == ("float4_e2m1fn_x2", (2, 3))
    assert spec.location is not None
    assert spec.nbytes == spec.location.length == 6
    assert manifest.total_bytes == 6
    assert manifest.bytes_by_dtype() == {"float4_e2m1fn_x2": 6}
    assert stored_bytes(spec) == bytes(range(6))


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_conj_and_neg_views_are_noted(tmp_path: Path, zip_format: bool) -> None:
    """torch.save keeps a conj/neg view's storage as is and a flag torch.load applies."""
    z = torch.randn(3, dtype=torch.complex64)
    state = {"z": z, "zc": z.conj(), "im": torch.randn(3, dtype=torch.complex64).conj().imag}
    assert state["zc"].is_conj() and state["im"].is_neg()
    path = tmp_path / "views.pt"
    torch.save(state, path, _use_new_zipfile_serialization=zip_format)
    manifest = weightfit.read(path)
    assert stored_bytes(manifest["zc"]) == raw(z)  # not z.conj()'s values
    assert (
        "2 tensors saved as conj/neg views: the stored bytes are the values before torch.load "
        "applies conj and neg: zc, im"
    ) in manifest.notes
    plain = tmp_path / "plain.pt"
    torch.save({"z": z}, plain, _use_new_zipfile_serialization=zip_format)
    assert not any("views:" in note for note in weightfit.read(plain).notes)


@pytest.mark.filterwarnings("ignore:The PyTorch API of nested tensors is in prototype")
@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_sparse_and_nested_tensors_are_not_dropped_silently(tmp_path: Path, zip_format) -> None:
    """A sparse buffer is a tensor of the state dict: `check` must not call it missing unsaid."""
    state = {
        "dense": torch.zeros(2),
        "adjacency": torch.eye(3).to_sparse(),
        "ragged": torch.nested.nested_tensor([torch.zeros(2), torch.zeros(3)]),
    }
    path = tmp_path / "layouts.pt"
    torch.save(state, path, _use_new_zipfile_serialization=zip_format)
    manifest = weightfit.read(path)
    assert list(manifest) == ["dense"]
    assert manifest.container == ""
    assert manifest.notes[-1] == (
        "2 tensor(s) in a layout weightfit does not locate (sparse, nested …), left out of the "
        "manifest: adjacency (_rebuild_sparse_tensor), ragged (_rebuild_nested_tensor)"
    )
