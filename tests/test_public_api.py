"""The public API is exactly what docs/architecture.md lists, and importing it stays light."""

from __future__ import annotations

import importlib
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

import weightfit

DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


def documented() -> list[str]:
    section = DOC.read_text(encoding="utf-8").split("## Public API", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE)


def test_all_is_exactly_the_documented_api() -> None:
    assert sorted(weightfit.__all__) == sorted(documented())
    assert weightfit.__all__ == sorted(weightfit.__all__)


def test_dir_lists_the_api_and_the_version() -> None:
    assert sorted(dir(weightfit)) == sorted([*weightfit.__all__, "__version__"])


@pytest.mark.parametrize("name", sorted(weightfit._EXPORTS))
def test_every_name_resolves_from_its_module(name: str) -> None:
    module = weightfit._EXPORTS[name]
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not written yet")
    assert getattr(weightfit, name) is getattr(importlib.import_module(module), name)


def test_adapter_functions_are_public() -> None:
    assert {"check_adapter", "merge_adapter"} <= set(weightfit.__all__)
    assert weightfit.merge_adapter.__module__ == "weightfit.adapters.merge"


def test_unknown_names_raise_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'weightfit' has no attribute 'nope'"):
        _ = weightfit.nope


def test_import_and_cli_do_not_import_torch() -> None:
    code = (
        "import sys, weightfit, weightfit.cli, weightfit.formats, weightfit.tree, "
        "weightfit.weightsets, weightfit.report.inspect; weightfit.read; "
        "weightfit.check_adapter; weightfit.merge_adapter; "
        "heavy = ('torch', 'transformers', 'diffusers', 'numpy'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
