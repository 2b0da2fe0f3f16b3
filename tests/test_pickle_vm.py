"""The restricted pickle VM: every protocol, symbolic torch rebuilds, and each guard."""

from __future__ import annotations

import argparse
import io
import pickle
import struct
import zipfile

import pytest
import torch

from attacks import pickles as P
from weightfit.errors import (
    ForbiddenPickleContent,
    HeaderTooLarge,
    MalformedPickle,
    TruncatedFile,
)
from weightfit.formats import pickle_vm
from weightfit.formats.pickle_nodes import Call, PickledDict, Storage, TensorRecord

PLAIN = {
    "ints": [0, 1, -1, 255, 256, 65535, 65536, -(2**31), 2**31 - 1, 2**40, -(2**70), 2**200],
    "floats": [0.0, -1.5, 3.141592653589793, 1e300],
    "text": ["", "ascii", "ünïcødé ✓", "x" * 300],
    "bytes": [b"", b"\x00\xff", b"y" * 300],
    "consts": [None, True, False],
    "tuples": [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)],
    "nested": {"a": {"b": [{"c": ()}]}},
    "set": {1, 2, "three"},
    "frozen": frozenset({4, 5}),
    "complex": 1.5 - 2j,
    7: "int key",
    (1, "t"): "tuple key",
}


def run(data: bytes, **kwargs) -> pickle_vm.PickleResult:
    return pickle_vm.run(data, where="t.pkl", **kwargs)


@pytest.mark.parametrize("protocol", range(6))
def test_plain_data_reads_back_equal_at_every_protocol(protocol):
    result = run(pickle.dumps(PLAIN, protocol=protocol))
    assert result.value == PLAIN
    assert isinstance(result.value, PickledDict)
    assert result.protocol == (protocol if protocol >= 2 else 0)


@pytest.mark.parametrize("protocol", range(6))
def test_bytearray_reads_back_as_bytes(protocol):
    assert run(pickle.dumps([bytearray(b"ab\x00")], protocol=protocol)).value == [b"ab\x00"]


def test_shared_references_stay_shared():
    inner = [1, 2]
    value = run(pickle.dumps({"a": inner, "b": inner}, protocol=2)).value
    assert value["a"] is value["b"]


def test_a_list_containing_itself_is_built_without_recursion():
    loop: list = []
    loop.append(loop)
    value = run(pickle.dumps(loop, protocol=2)).value
    assert value[0] is value


def test_namespace_is_a_call_with_its_state_and_a_benign_global():
    result = run(pickle.dumps(argparse.Namespace(lr=0.1, name="x"), protocol=2))
    assert isinstance(result.value, Call)
    assert result.value.qualname == "argparse.Namespace"
    assert result.value.state == {"lr": 0.1, "name": "x"}
    assert [(g.qualname, g.verdict) for g in result.globals] == [("argparse.Namespace", "benign")]
    assert result.verdict == "benign"


class Custom:
    def __init__(self) -> None:
        self.value = 3


def test_a_user_class_is_an_unknown_global_never_imported():
    result = run(pickle.dumps(Custom(), protocol=4))
    assert isinstance(result.value, Call)
    assert result.value.qualname.endswith("Custom")
    assert result.value.state == {"value": 3}
    assert result.verdict == "unknown"


def test_offsets_are_absolute_with_a_base():
    data = P.pickle_of(P.in_dict(w=P.tensor("0", 4, (2, 2), (2, 1))))
    result = run(data, base=1000)
    record = result.value["w"]
    assert record.storage.offset == 1000 + data.index(b"Q")
    assert result.end == 1000 + len(data)


def torch_pickle(obj, protocol: int = 2) -> bytes:
    """data.pkl of a real torch.save (read as bytes from the archive we wrote)."""
    buffer = io.BytesIO()
    torch.save(obj, buffer, pickle_protocol=protocol)
    with zipfile.ZipFile(buffer) as archive:
        return archive.read("archive/data.pkl")


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_torch_rebuilds_become_tensor_records(protocol):
    x = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    state = {
        "x": x,
        "t": x.t(),
        "tail": x[1:],
        "half": torch.zeros(2, 3, dtype=torch.float16),
        "f8": torch.zeros(5, dtype=torch.float8_e5m2),
        "p": torch.nn.Parameter(torch.ones(2)),
        "scalar": torch.tensor(7),
    }
    result = run(torch_pickle(state, protocol))
    value = result.value
    assert all(isinstance(v, TensorRecord) for v in value.values())
    assert (value["t"].shape, value["t"].stride) == ((4, 3), (1, 4))
    assert (value["tail"].storage_offset, value["tail"].shape) == (4, (2, 4))
    assert value["x"].storage is value["t"].storage is value["tail"].storage
    assert value["x"].storage.typename == "torch.FloatStorage"
    assert value["half"].dtype == "float16"
    assert value["f8"].dtype == "float8_e5m2"
    assert value["f8"].storage.dtype is None  # untyped storage, dtype from _rebuild_tensor_v3
    assert value["p"].is_parameter and value["p"].requires_grad
    assert (value["scalar"].shape, value["scalar"].dtype) == ((), "int64")
    assert set(result.storages) == {"0", "1", "2", "3", "4"}
    assert result.verdict == "safe"


# --- guards: each failure its own test and its exact message ---------------------------------


def test_invalid_opcode():
    with pytest.raises(MalformedPickle) as caught:
        run(P.invalid_opcode())
    assert str(caught.value) == "malformed pickle: t.pkl: invalid opcode 0xff (at byte 3)"


def test_stream_without_stop():
    with pytest.raises(MalformedPickle) as caught:
        run(P.PROTO2 + P.EMPTY_DICT)
    assert (
        str(caught.value)
        == "malformed pickle: t.pkl: pickle ends without a STOP opcode (at byte 3)"
    )


def test_stream_without_stop_reports_the_callers_error_class():
    with pytest.raises(TruncatedFile) as caught:
        run(P.PROTO2 + P.EMPTY_DICT, eof_error=TruncatedFile)
    assert (
        str(caught.value) == "truncated file: t.pkl: pickle ends without a STOP opcode (at byte 3)"
    )


def test_partial_stream_asks_for_more_when_not_final():
    with pytest.raises(pickle_vm.NeedMoreData):
        run(P.PROTO2 + P.text("abc")[:5], final=False)


def test_stack_underflow():
    with pytest.raises(MalformedPickle) as caught:
        run(P.PROTO2 + P.NONE + P.REDUCE + P.STOP)
    assert str(caught.value) == "malformed pickle: t.pkl: stack underflow (at byte 3)"


def test_pop_below_a_mark_is_an_underflow():
    with pytest.raises(MalformedPickle) as caught:
        run(P.PROTO2 + P.NONE + P.MARK + P.TUPLE1 + P.STOP)
    assert str(caught.value) == "malformed pickle: t.pkl: stack underflow (at byte 4)"


def test_memo_entry_never_stored():
    with pytest.raises(MalformedPickle) as caught:
        run(P.PROTO2 + P.BINGET + b"\x05" + P.STOP)
    assert str(caught.value) == "malformed pickle: t.pkl: memo entry 5 was never stored (at byte 2)"


def test_string_longer_than_the_bytes_left():
    with pytest.raises(MalformedPickle) as caught:
        run(P.string_past_end())
    assert str(caught.value) == (
        "malformed pickle: t.pkl: string needs 2147483647 bytes but only 4 remain (at byte 2)"
    )


def test_negative_binstring_length():
    with pytest.raises(MalformedPickle) as caught:
        run(P.PROTO2 + b"T" + struct.pack("<i", -5) + P.STOP)
    assert str(caught.value) == (
        "malformed pickle: t.pkl: BINSTRING declares a negative length -5 (at byte 2)"
    )


def test_bytes8_length_over_the_limit():
    with pytest.raises(HeaderTooLarge) as caught:
        run(b"\x80\x04\x8e" + struct.pack("<Q", 2**62) + P.STOP)
    assert str(caught.value) == (
        f"header too large: t.pkl: BINBYTES8 declares {2**62} bytes, over the limit of "
        f"{pickle_vm.MAX_PICKLE_BYTES} (at byte 2)"
    )


def test_integer_wider_than_the_limit():
    with pytest.raises(HeaderTooLarge) as caught:
        run(P.PROTO2 + b"\x8b" + struct.pack("<i", 100_000) + b"\x00" * 100_000 + P.STOP)
    assert str(caught.value) == (
        "header too large: t.pkl: LONG4 declares a 100000-byte integer (at byte 2)"
    )


def test_marks_nested_past_the_limit():
    with pytest.raises(HeaderTooLarge) as caught:
        run(P.deep_marks(pickle_vm.MAX_MARK_DEPTH + 1))
    assert str(caught.value) == (
        f"header too large: t.pkl: MARKs nest deeper than {pickle_vm.MAX_MARK_DEPTH} "
        f"(at byte {2 + pickle_vm.MAX_MARK_DEPTH})"
    )


def test_setitems_with_an_odd_count():
    with pytest.raises(MalformedPickle) as caught:
        run(P.PROTO2 + P.EMPTY_DICT + P.MARK + P.NONE + P.SETITEMS + P.STOP)
    assert str(caught.value) == (
        "malformed pickle: t.pkl: SETITEMS with an odd number of items (at byte 5)"
    )


def test_setitem_on_a_list():
    with pytest.raises(MalformedPickle) as caught:
        run(P.PROTO2 + P.EMPTY_LIST + P.NONE + P.NONE + P.SETITEM + P.STOP)
    assert str(caught.value) == "malformed pickle: t.pkl: SETITEM on a list (at byte 5)"


def test_stack_global_with_non_string_operands():
    with pytest.raises(MalformedPickle) as caught:
        run(P.PROTO4 + P.NONE + P.NONE + P.STACK_GLOBAL + P.STOP)
    assert str(caught.value) == (
        "malformed pickle: t.pkl: STACK_GLOBAL operands are not strings (at byte 4)"
    )


def test_unsupported_protocol():
    with pytest.raises(MalformedPickle) as caught:
        run(b"\x80\x06N.")
    assert str(caught.value) == "malformed pickle: t.pkl: unsupported pickle protocol 6 (at byte 0)"


def test_out_of_band_buffer_is_refused():
    with pytest.raises(MalformedPickle) as caught:
        run(P.out_of_band_buffer())
    assert str(caught.value) == (
        "malformed pickle: t.pkl: uses an out-of-band buffer (protocol 5), which torch.save "
        "never writes (at byte 2)"
    )


@pytest.mark.parametrize("opcode", [b"\x82\x01", b"\x83\x01\x00", b"\x84\x01\x00\x00\x00"])
def test_extension_registry_imports_are_forbidden(opcode):
    with pytest.raises(ForbiddenPickleContent) as caught:
        run(P.PROTO2 + opcode + P.STOP)
    assert str(caught.value) == (
        "forbidden pickle content: t.pkl: imports a global through the copyreg extension "
        "registry, which cannot be checked; nothing was run (at byte 2)"
    )


def test_text_persistent_id_is_not_a_storage():
    with pytest.raises(MalformedPickle) as caught:
        run(b"Pabc\n.")
    assert str(caught.value) == (
        "malformed pickle: t.pkl: text persistent id b'abc' is not a torch storage (at byte 0)"
    )


def test_storage_persistent_id_with_too_few_fields():
    pid = P.MARK + P.text("storage") + P.glob("torch", "FloatStorage") + P.TUPLE + P.BINPERSID
    with pytest.raises(MalformedPickle) as caught:
        run(P.pickle_of(pid))
    assert str(caught.value) == (
        "malformed pickle: t.pkl: storage persistent id has 2 fields, not 5 or 6 (at byte 36)"
    )


def test_storage_type_must_be_a_torch_storage_class():
    pid = P.MARK + P.text("storage") + P.glob("torch", "Tensor") + P.text("0") + P.text("cpu")
    with pytest.raises(MalformedPickle) as caught:
        run(P.pickle_of(pid + P.integer(1) + P.TUPLE + P.BINPERSID))
    assert "storage type <global torch.Tensor> is not a torch storage class" in str(caught.value)


def test_rebuild_from_something_other_than_a_storage():
    rebuild = P.call(
        P.glob("torch._utils", "_rebuild_tensor_v2"),
        P.NONE, P.integer(0), P.EMPTY_TUPLE, P.EMPTY_TUPLE, P.NEWFALSE, P.NONE,
    )  # fmt: skip
    with pytest.raises(MalformedPickle) as caught:
        run(P.pickle_of(rebuild))
    assert str(caught.value) == (
        "malformed pickle: t.pkl: tensor rebuilt from None, not a storage (at byte 47)"
    )


def test_rebuild_with_a_negative_size():
    with pytest.raises(MalformedPickle) as caught:
        run(P.pickle_of(P.tensor("0", 4, (-1,), (1,))))
    assert "tensor size (-1,) is not a tuple of non-negative integers" in str(caught.value)


def test_rebuild_with_size_and_stride_of_different_rank():
    with pytest.raises(MalformedPickle) as caught:
        run(P.pickle_of(P.tensor("0", 4, (2, 2), (1,))))
    assert "tensor size (2, 2) and stride (1,) differ in length" in str(caught.value)


def test_storage_records_are_typed_from_their_class():
    result = run(P.pickle_of(P.storage("7", 3, "BFloat16Storage")))
    storage = result.value
    assert isinstance(storage, Storage)
    assert (storage.key, storage.dtype, storage.numel, storage.itemsize) == ("7", "bfloat16", 3, 2)


def framed(body: bytes, declared: int) -> bytes:
    """Protocol 5 with one FRAME declaring ``declared`` bytes, then ``body`` and STOP."""
    return b"\x80\x05\x95" + struct.pack("<Q", declared) + body + b"."


@pytest.mark.parametrize(
    "body, declared",
    [
        (b"B" + struct.pack("<I", 20) + b"A" * 20, 5),  # BINBYTES past its frame
        (b"\x8c\x14" + b"A" * 20, 3),  # SHORT_BINUNICODE
        (b"cmacos\nsleep\n", 4),  # GLOBAL module line
        (b"ccollections\nOrderedDict\n", 14),  # GLOBAL name line
        (b"Vhello world\n", 5),  # UNICODE
        (b"J" + struct.pack("<i", 7), 2),  # BININT
        (b"K\x07", 1),  # BININT1 (inlined in the VM's loop)
        (b"N\x95" + struct.pack("<Q", 1) + b"N", 12),  # a frame opening inside another
    ],
)
def test_an_opcode_crossing_its_frame_is_malformed(body, declared):
    # The straddle variants of fickling's test_bypasses.py (CPython issue 154848).
    with pytest.raises(MalformedPickle, match="frames and opcodes disagree"):
        run(framed(body, declared))


def test_the_frame_boundary_trick_is_refused_not_read_as_bytes():
    # fickling test_frame_boundary_divergence: BINBYTES declares 0x107 bytes in a
    # 2-byte frame; CPython's C unpickler reading a file runs the GLOBAL inside.
    hidden = b"cos\nsystem\nVecho pwned\n\x85R"
    payload = (
        b"\x80\x05NV" + b"a" * (8192 * 16 - 17) + b"\n0("
        + b"\x95" + struct.pack("<Q", 2)
        + b"B\x07\x01\x00\x00\x00\x00"
        + (hidden + b"(").ljust(256 + 5, b"N")
        + b"1."
    )  # fmt: skip
    with pytest.raises(MalformedPickle, match="frames and opcodes disagree"):
        run(payload)


@pytest.mark.parametrize("protocol", [4, 5])
@pytest.mark.parametrize(
    "value", [[1, 2, 3], b"x" * 100_000, [1, b"y" * 100_000, 2], list(range(200_000))]
)
def test_well_formed_frames_read(protocol, value):
    # CPython writes large bytes outside any frame, between two frames.
    assert run(pickle.dumps(value, protocol=protocol)).value == value
