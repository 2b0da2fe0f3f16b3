"""Every error class: its message, exit code, builtin base; the docs page; ``reading()``."""

from __future__ import annotations

import importlib.util
import json
import re
import struct
import zipfile
from pathlib import Path

import pytest

from weightfit import errors

ROOT = Path(__file__).resolve().parents[1]


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_errors", ROOT / "docs" / "gen_errors.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATOR = load_generator()
ALL = [cls for _, cls in GENERATOR.classes()]

# Classes whose constructor takes other fields than (detail, *, path, offset).
SPECIAL = {
    errors.MissingDependency: (
        lambda: errors.MissingDependency("torch", "torch", "comparing with a model"),
        "missing dependency: comparing with a model needs torch; "
        "install it with: pip install 'weightfit[torch]'",
    ),
}

BUILTINS = {
    "CheckpointNotFound": ["FileNotFoundError", "OSError"],
    "NotACheckpoint": ["ValueError"],
    "InvalidHeader": ["ValueError"],
    "ContainerKeyNotFound": ["KeyError", "LookupError"],
    "MissingDependency": ["ImportError"],
    "NoLoadingErrorFound": ["ValueError"],
    "InvalidPlan": ["ValueError"],
    "DestinationNotWritable": ["PermissionError", "OSError"],
    "DestinationExists": ["FileExistsError", "OSError"],
}


def branch_exit_code(cls: type) -> int:
    if issubclass(cls, errors.UsageError):
        return errors.EXIT_USAGE
    if issubclass(cls, errors.InputError | errors.OutputError):
        return errors.EXIT_INPUT
    return errors.EXIT_INTERNAL


def test_the_tree_has_the_documented_roots() -> None:
    assert ALL[0] is errors.WeightfitError
    for cls in (errors.UsageError, errors.InputError, errors.OutputError):
        assert cls in ALL


@pytest.mark.parametrize("cls", ALL, ids=lambda cls: cls.__name__)
def test_exit_code_follows_the_branch(cls: type[errors.WeightfitError]) -> None:
    assert cls.exit_code == branch_exit_code(cls)


@pytest.mark.parametrize("cls", ALL, ids=lambda cls: cls.__name__)
def test_message_is_one_line_naming_path_kind_and_detail(cls: type[errors.WeightfitError]) -> None:
    if cls in SPECIAL:
        build, message = SPECIAL[cls]
        error = build()
        assert error.message == str(error) == message
        return
    assert cls.__init__ is errors.WeightfitError.__init__, (
        f"{cls.__name__} has its own constructor: add it to SPECIAL in tests/test_errors.py"
    )
    error = cls("the detail", path="dir/file.bin", offset=12)
    assert str(error) == error.message
    assert error.message == f"dir/file.bin: {error.what}: the detail (at byte 12)"
    assert "\n" not in error.message
    assert (error.detail, error.path, error.offset) == ("the detail", "dir/file.bin", 12)
    assert cls("bare").message == f"{error.what}: bare"


@pytest.mark.parametrize("cls", ALL, ids=lambda cls: cls.__name__)
def test_what_reads_the_class_name_as_words(cls: type[errors.WeightfitError]) -> None:
    instance = SPECIAL[cls][0]() if cls in SPECIAL else cls("x")
    assert instance.what == instance.what.lower().strip()
    assert instance.what.replace(" ", "") == cls.__name__.lower()


def test_what_examples() -> None:
    assert errors.TruncatedFile("x").what == "truncated file"
    assert errors.CheckpointNotFound("x").what == "checkpoint not found"


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_builtin_bases(name: str) -> None:
    cls = getattr(errors, name)
    assert GENERATOR.builtin_bases(cls)[: len(BUILTINS[name])] == BUILTINS[name]


@pytest.mark.parametrize("cls", ALL, ids=lambda cls: cls.__name__)
def test_builtin_bases_match_the_docstring_tree(cls: type) -> None:
    """A builtin a class inherits directly is the one its tree line names in brackets."""
    line = next(
        text for text in (errors.__doc__ or "").splitlines() if f" {cls.__name__} " in text + " "
    )
    named = re.findall(r"\((\w+Error)\)", line)
    direct = [
        b.__name__ for b in cls.__bases__ if b.__module__ == "builtins" and b is not Exception
    ]
    assert direct == named


def test_key_error_subclass_prints_its_message_not_a_repr() -> None:
    error = errors.ContainerKeyNotFound("no 'ema'; keys: model", path="a.pt")
    assert str(error) == "a.pt: container key not found: no 'ema'; keys: model"


@pytest.mark.parametrize("cls", ALL, ids=lambda cls: cls.__name__)
def test_the_module_docstring_tree_names_every_class(cls: type) -> None:
    assert errors.__doc__ is not None and f" {cls.__name__} " in errors.__doc__ + " "


def test_docs_page_is_generated_from_the_code() -> None:
    committed = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    assert committed == GENERATOR.render(), "docs/errors.md is stale: run python docs/gen_errors.py"


def raise_in_reading(exception: BaseException) -> errors.WeightfitError:
    with pytest.raises(errors.WeightfitError) as caught, errors.reading("f.bin"):
        raise exception
    assert caught.value.__cause__ is exception
    return caught.value


def test_reading_translates_file_not_found() -> None:
    error = raise_in_reading(FileNotFoundError(2, "No such file"))
    assert isinstance(error, errors.CheckpointNotFound)
    assert error.message == "f.bin: checkpoint not found: no such file or folder"


def test_reading_translates_is_a_directory() -> None:
    error = raise_in_reading(IsADirectoryError(21, "Is a directory"))
    assert isinstance(error, errors.NotACheckpoint)
    assert error.message == "f.bin: not a checkpoint: is a folder where a file was expected"


def test_reading_translates_struct_error() -> None:
    try:
        struct.unpack("<Q", b"\x00" * 3)
    except struct.error as exc:
        error = raise_in_reading(exc)
    assert isinstance(error, errors.TruncatedFile)
    assert error.message == (
        "f.bin: truncated file: ended early (unpack requires a buffer of 8 bytes)"
    )


def test_reading_translates_eof() -> None:
    error = raise_in_reading(EOFError("Ran out of input"))
    assert isinstance(error, errors.TruncatedFile)
    assert error.message == "f.bin: truncated file: ended early (Ran out of input)"


def test_reading_translates_bad_zip() -> None:
    error = raise_in_reading(zipfile.BadZipFile("File is not a zip file"))
    assert isinstance(error, errors.NotACheckpoint)
    assert error.message == "f.bin: not a checkpoint: damaged zip archive (File is not a zip file)"


def test_reading_translates_json() -> None:
    try:
        json.loads('{"a": ')
    except json.JSONDecodeError as exc:
        error = raise_in_reading(exc)
    assert isinstance(error, errors.InvalidHeader)
    assert error.message == "f.bin: invalid header: invalid JSON (Expecting value at char 6)"


def test_reading_translates_unicode() -> None:
    try:
        b"\xff".decode("utf-8")
    except UnicodeDecodeError as exc:
        error = raise_in_reading(exc)
    assert isinstance(error, errors.InvalidHeader)
    assert error.message == "f.bin: invalid header: invalid UTF-8 (invalid start byte)"


@pytest.mark.parametrize("exception", [OverflowError(), MemoryError(), RecursionError()])
def test_reading_translates_impossible_sizes(exception: BaseException) -> None:
    error = raise_in_reading(exception)
    assert isinstance(error, errors.InvalidHeader)
    assert error.message == (
        f"f.bin: invalid header: declares impossible sizes ({type(exception).__name__})"
    )


def test_reading_fills_in_a_missing_path_and_keeps_our_own_errors() -> None:
    original = errors.TensorOutOfBounds("ends past the data", offset=99)
    with pytest.raises(errors.TensorOutOfBounds) as caught, errors.reading("g.safetensors"):
        raise original
    assert caught.value is original
    assert str(original) == "g.safetensors: tensor out of bounds: ends past the data (at byte 99)"
    with pytest.raises(errors.TensorOutOfBounds) as caught, errors.reading("other"):
        raise errors.TensorOutOfBounds("x", path="first")
    assert caught.value.path == "first"


def test_reading_lets_unrelated_exceptions_through() -> None:
    with pytest.raises(ZeroDivisionError), errors.reading("f.bin"):
        raise ZeroDivisionError


def test_a_detail_quoting_a_multi_line_exception_prints_as_one_line() -> None:
    error = errors.TargetUnavailable(
        "transformers rejects the config: Validation error for field 'hidden_size':\n"
        "    TypeError: expected int, got str"
    )
    assert error.message == (
        "target unavailable: transformers rejects the config: Validation error for field "
        "'hidden_size': TypeError: expected int, got str"
    )
