"""``weightfit explain`` through the real entry point: stdin, files, --json, garbage."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import jsonschema
import pytest

CORPUS = Path(__file__).parent / "data" / "errors"
SCHEMA = json.loads(
    (Path(__file__).parents[1] / "src/weightfit/report/check.schema.json").read_text()
)


def feed(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    """Put ``data`` on standard input, as a pipe would."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_reads_standard_input_by_default(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    feed(monkeypatch, (CORPUS / "seed_opensora.txt").read_bytes())
    result = run_cli("explain")
    assert result.code == 1
    assert "rank_inflate" in result.out
    assert "weightfit check" in result.out and "--against TARGET" in result.out


def test_dash_reads_standard_input(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    feed(monkeypatch, (CORPUS / "seed_qwen.txt").read_bytes())
    assert run_cli("explain", "-").code == 1


def test_json_follows_the_check_schema(run_cli) -> None:
    result = run_cli("explain", CORPUS / "seed_sana.txt", "--json")
    assert result.code == 1
    data = json.loads(result.out)
    jsonschema.validate(data, SCHEMA)
    assert data["source"] == "<error text>"
    assert data["target"] == "SanaMS"
    assert data["findings"][0]["category"] == "encoder_swap"


@pytest.mark.parametrize(
    "name",
    [
        "torch_two_models",
        "transformers_v5_missing_unexpected",
        "torch_weights_only",
        "seed_variant_mix",
    ],
)
def test_json_of_every_message_family_is_valid(run_cli, name: str) -> None:
    result = run_cli("explain", CORPUS / f"{name}.txt", "--json")
    jsonschema.validate(json.loads(result.out), SCHEMA)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "the input is empty"),
        (b"  \n\t\n", "the input is empty"),
        (bytes(range(256)) * 8, "the input is binary, not a log"),
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\xff\xfe" * 200, "the input is binary"),
        (
            b"epoch 1: loss 0.53\nepoch 2: loss 0.41\nsaved model.pt\nTraceback (most recent "
            b"call last):\nKeyError: 'lr'\n",
            "the text names no tensor with shapes",
        ),
    ],
    ids=["empty", "blank", "binary", "zip", "log-without-loading-error"],
)
def test_garbage_is_no_loading_error_exit_2(
    run_cli, monkeypatch: pytest.MonkeyPatch, data: bytes, why: str
) -> None:
    feed(monkeypatch, data)
    result = run_cli("explain")
    assert result.code == 2
    assert result.out == ""
    first = result.err.splitlines()[0]
    assert first.startswith("error: no loading error found: ")
    assert why in first
    assert "Traceback" not in result.err


def test_garbage_file_too(run_cli, tmp_path: Path) -> None:
    log = tmp_path / "weights.bin"
    log.write_bytes(b"\x00" * 64 + b"size mismatch")
    result = run_cli("explain", log)
    assert result.code == 2
    assert "no loading error found" in result.err


def test_missing_file_is_exit_3(run_cli, tmp_path: Path) -> None:
    result = run_cli("explain", tmp_path / "nope.log")
    assert result.code == 3
    assert "nope.log" in result.err


def test_a_folder_is_exit_3_and_said_to_be_one(run_cli, tmp_path: Path) -> None:
    result = run_cli("explain", tmp_path)
    assert result.code == 3
    assert result.err.splitlines()[0] == f"error: {tmp_path}: log not found: a folder, not a file"
