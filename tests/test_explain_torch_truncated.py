"""``explain`` on what torch.load prints for a ``.pt`` file cut short, built live.

A small state dict is saved with torch.save, cut at several offsets (empty, inside the zip's
first record, inside the data, just before the end) and loaded by torch.load in a child
process: the text is the traceback the user's terminal shows, carets and inner frames included.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import weightfit  # noqa: E402


def cut_and_load(tmp_path: Path, keep: float | int) -> str:
    """torch.load's traceback for the saved file cut to ``keep`` bytes.

    ``keep`` is a fraction of the file, a count of bytes, or (negative) bytes cut off its end.
    """
    whole = tmp_path / "whole.pt"
    torch.save({f"layer{i}.weight": torch.randn(16, 16) for i in range(3)}, whole)
    data = whole.read_bytes()
    size = int(len(data) * keep) if isinstance(keep, float) else keep
    size = size if size >= 0 else len(data) + size
    cut = tmp_path / "model.pt"
    cut.write_bytes(data[:size])
    done = subprocess.run(
        [sys.executable, "-c", f"import torch; torch.load({str(cut)!r})"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    return done.stderr


@pytest.mark.parametrize("keep", [0, 1, 3, 10, 64, 0.5, -120, -30, -1])
def test_a_cut_torch_save_file_reads_as_not_whole(tmp_path: Path, keep: float | int) -> None:
    top = weightfit.explain(cut_and_load(tmp_path, keep)).findings[0]
    assert top.category == "partitioned"
    assert top.message.startswith("the checkpoint file is not whole")
    assert top.confidence >= 0.55


def test_an_empty_file_quotes_the_first_read_and_its_error(tmp_path: Path) -> None:
    """torch 2.x's weights-only unpickler adds frames between torch.load's line and EOFError."""
    text = cut_and_load(tmp_path, 0)
    assert "_weights_only_unpickler.py" in text
    top = weightfit.explain(text).findings[0]
    assert (
        top.evidence["error"] == "magic_number = pickle_module.load(f, **pickle_load_args) EOFError"
    )
    assert "empty file" in top.evidence["likely_cause"]


def test_zip_reader_invalid_argument_reads_as_a_damaged_download(tmp_path: Path) -> None:
    """Cut inside the zip's central directory, torch 2.13's reader fails with the OS's words."""
    text = cut_and_load(tmp_path, -30)
    assert "torch._C.PyTorchFileReader(" in text
    assert text.rstrip().endswith("OSError: [Errno 22] Invalid argument")
    top = weightfit.explain(text).findings[0]
    assert top.category == "partitioned"
    assert top.evidence["error"] == (
        "PyTorchFileReader(name_or_buffer)) OSError: [Errno 22] Invalid argument"
    )
    assert "damaged or incomplete download" in top.evidence["likely_cause"]
