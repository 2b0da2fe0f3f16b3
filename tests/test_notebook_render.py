"""Results shown outside the command line: ``print``, a rich console, a Jupyter cell."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

import weightfit

torch = pytest.importorskip("torch")
from safetensors.torch import save_file  # noqa: E402


@pytest.fixture
def shown(tmp_path: Path) -> dict[str, object]:
    """One real report, manifest and lint result, each with something to show."""
    save_file({"w.weight": torch.zeros(2, 2)}, tmp_path / "a.safetensors")
    save_file({"w.weight": torch.zeros(2, 3)}, tmp_path / "b.safetensors")
    vae = tmp_path / "vae"
    vae.mkdir()
    (vae / "config.json").write_text(json.dumps({"_class_name": "AutoencoderKL"}))
    save_file({"a": torch.zeros(4)}, vae / "diffusion_pytorch_model.safetensors")
    save_file({"a": torch.zeros(4)}, vae / "diffusion_pytorch_model.bf16.safetensors")
    return {
        "report": weightfit.check(tmp_path / "a.safetensors", tmp_path / "b.safetensors"),
        "manifest": weightfit.read(tmp_path / "a.safetensors"),
        "lint": weightfit.lint(vae),
    }


FIRST_WORDS = {"report": "✗ incompatible", "manifest": "/", "lint": "/"}
SHOWS = {"report": "differences", "manifest": "modules", "lint": "WF105"}


@pytest.mark.parametrize("kind", sorted(SHOWS))
def test_print_gives_the_command_lines_text(shown, kind: str) -> None:
    value = shown[kind]
    text = str(value)
    assert text == value.to_text()
    assert text.startswith(FIRST_WORDS[kind])
    assert SHOWS[kind] in text
    assert not text.startswith("<")
    assert repr(value).startswith("<")  # the short repr stays
    assert all(line == line.rstrip() for line in text.splitlines())


@pytest.mark.parametrize("kind", sorted(SHOWS))
def test_a_rich_console_gets_rich_text(shown, kind: str) -> None:
    out = io.StringIO()
    Console(file=out, width=100, force_terminal=True, color_system="standard").print(shown[kind])
    if kind != "lint":  # lint's lines carry no styles
        assert "\x1b[" in out.getvalue()
    assert SHOWS[kind] in out.getvalue()
    plain = io.StringIO()
    Console(file=plain, width=100, color_system=None).print(shown[kind])
    assert max(len(line) for line in plain.getvalue().splitlines()) <= 100
    assert SHOWS[kind] in plain.getvalue()


@pytest.mark.parametrize("kind", sorted(SHOWS))
def test_a_notebook_gets_html(shown, kind: str) -> None:
    html = shown[kind]._repr_html_()
    assert "<pre" in html
    assert SHOWS[kind] in html
    assert "<Report" not in html and "&lt;Report" not in html
