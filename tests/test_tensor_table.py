"""A safetensors header read as columns (``TensorTable``) is what the ``json`` path reads."""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from safetensors.torch import save_file

import weightfit
from attacks import safetensors as attacks
from weightfit.errors import WeightfitError
from weightfit.formats import safetensors
from weightfit.manifest import Manifest, TensorSpec, TensorTable
from weightfit.report.inspect import manifest_to_dict, render_manifest, write_manifest_json
from weightfit.tree import build_tree


def _varied(path: Path) -> Path:
    """A real file with several kinds, a scalar, an empty tensor and names that need escapes."""
    tensors = {
        "model.embed.weight": torch.zeros(5, 3, dtype=torch.bfloat16),
        **{f"model.layers.{i}.w": torch.zeros(2, 2) for i in range(12)},
        **{f"model.layers.{i}.b": torch.zeros(2, dtype=torch.float16) for i in range(12)},
        "model.empty": torch.zeros(0, 4),
        "model.scale": torch.tensor(2.0, dtype=torch.float64),
        'head "q" é},': torch.zeros(3, dtype=torch.int8),
        "head.flag": torch.zeros(4, dtype=torch.bool),
    }
    save_file(tensors, path, metadata={"format": "pt", "note": 'a "quoted" value'})
    return path


def _read_by_json(path: Path, monkeypatch: pytest.MonkeyPatch) -> Manifest:
    """Read a file through the general ``json`` path only."""
    with monkeypatch.context() as patch:
        patch.setattr(safetensors, "_columns", lambda *args: None)
        return weightfit.read(path)


def _assert_same(fast: Manifest, slow: Manifest) -> None:
    assert list(fast.tensors) == list(slow.tensors)
    assert [fast.tensors[name] for name in slow.tensors] == list(slow.tensors.values())
    assert fast.totals() == slow.totals()
    assert fast.metadata == slow.metadata


def test_a_compact_header_reads_as_columns_equal_to_the_json_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _varied(tmp_path / "model.safetensors")
    fast, slow = weightfit.read(path), _read_by_json(path, monkeypatch)
    assert isinstance(fast.tensors, TensorTable) and fast.tensors.columns is not None
    assert type(slow.tensors) is dict
    _assert_same(fast, slow)
    assert fast.tensors.columns is not None  # lookups make no dict
    assert fast.tensors == slow.tensors and fast == slow


@pytest.mark.parametrize("chunk", [1, 50, 333])
def test_a_header_read_in_chunks_is_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    path = _varied(tmp_path / "model.safetensors")
    slow = _read_by_json(path, monkeypatch)
    monkeypatch.setattr(safetensors, "_CHUNK_CHARS", chunk)
    _assert_same(weightfit.read(path), slow)


@pytest.mark.parametrize(
    "build", [attacks.begin_inside_the_previous, attacks.closed_before_the_last_entry]
)
def test_a_hostile_header_read_in_chunks_is_refused_as_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, build: Callable[[Path], Path]
) -> None:
    path = build(tmp_path / "model.safetensors")
    with pytest.raises(WeightfitError) as whole:
        weightfit.read(path)
    for chunk in (1, 20, 60):
        monkeypatch.setattr(safetensors, "_CHUNK_CHARS", chunk)
        with pytest.raises(type(whole.value), match=re.escape(str(whole.value))):
            weightfit.read(path)


def test_a_table_behaves_as_the_dict_it_becomes(tmp_path: Path) -> None:
    manifest = weightfit.read(_varied(tmp_path / "model.safetensors"))
    table = manifest.tensors
    assert isinstance(table, TensorTable)
    names = list(table)
    assert len(table) == len(manifest) == 29 and repr(table) == "<TensorTable 29 tensors>"
    assert "model.scale" in table and "nope" not in table and table.get("nope") is None
    with pytest.raises(KeyError):
        table["nope"]
    assert table["model.scale"].shape == () and table["model.scale"].dtype == "F64"
    added = TensorSpec("extra", (1,), "F32")
    table["extra"] = added
    assert table.columns is None and list(table) == [*names, "extra"]
    del table["model.scale"]
    assert "model.scale" not in table and len(table) == 29 and table["extra"] is added
    copied = table.copy()
    assert type(copied) is dict and copied == table and copied is not table.copy()


def test_inspect_of_a_table_makes_no_spec_per_tensor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _varied(tmp_path / "model.safetensors")
    fast, slow = weightfit.read(path), _read_by_json(path, monkeypatch)
    assert build_tree(fast).to_dict() == build_tree(slow).to_dict()
    streamed = [io.StringIO(), io.StringIO()]
    for out, manifest in zip(streamed, (fast, slow), strict=True):
        write_manifest_json(out, manifest)
    assert streamed[0].getvalue() == streamed[1].getvalue()
    assert json.loads(streamed[0].getvalue()) == manifest_to_dict(slow)
    assert _rendered(fast) == _rendered(slow)
    assert isinstance(fast.tensors, TensorTable) and fast.tensors.columns is not None


def _rendered(manifest: Manifest) -> str:
    console = Console(width=100, no_color=True, highlight=False, record=True, file=io.StringIO())
    render_manifest(console, manifest)
    return console.export_text()


_DTYPES = {"F32": 32, "BF16": 16, "U8": 8, "F4": 4, "F64": 64}
_entries = st.lists(
    st.tuples(
        st.text(alphabet='ab.0"\\},]{é:[\x01 ', max_size=4),
        st.sampled_from(sorted(_DTYPES)),
        st.lists(st.integers(0, 3), max_size=2),
    ),
    max_size=8,
)
_edits = st.lists(
    st.tuples(st.integers(0, 10**4), st.sampled_from(["insert", "delete", "replace"])).flatmap(
        lambda edit: st.tuples(st.just(edit), st.sampled_from(list('{}[],:"0123456789 \\eF')))
    ),
    max_size=2,
)


@settings(max_examples=300, deadline=None)
@given(_entries, _edits, st.sampled_from([1, 9, 40, 1 << 23]), st.integers(-1, 1))
def test_the_column_reader_never_reads_otherwise_than_json(
    entries: list[tuple[str, str, list[int]]],
    edits: list[tuple[tuple[int, str], str]],
    chunk: int,
    extra: int,
) -> None:
    """A compact header, edited a little: the columns read it as ``json`` does, or pass it on."""
    header: dict[str, object] = {}
    end = 0
    for i, (name, dtype, shape) in enumerate(entries):
        size = math.prod(shape) * _DTYPES[dtype] // 8
        header[name or f"t{i}"] = {
            "dtype": dtype,
            "shape": shape,
            "data_offsets": [end, end + size],
        }
        end += size
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False)
    for (where, how), char in edits:
        at = where % (len(text) + 1)
        keep = at + (how != "insert")
        text = text[:at] + ("" if how == "delete" else char) + text[keep:]
    try:
        raw = text.encode()
        safetensors._text(raw)
    except (UnicodeEncodeError, WeightfitError):
        return  # not what a decoded header can be
    data_start, data_size = 8 + len(raw), max(end + extra, 0)
    original = safetensors._CHUNK_CHARS
    safetensors._CHUNK_CHARS = chunk
    try:
        fast = safetensors._columns(text, data_start, data_size, "f")
    finally:
        safetensors._CHUNK_CHARS = original
    if fast is None:
        return
    slow = safetensors._read_json(text, data_start, data_start + data_size, "f")
    _assert_same(fast, slow)
