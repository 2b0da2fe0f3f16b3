"""Every example in README.md runs as written after ``make demo``, and shows what it says.

The demo (``examples/demo.py``) runs once in a temporary folder, its commands
in-process (the same ``weightfit.cli.main`` the console script calls) to keep the
suite fast. Then each ``$ weightfit …`` line of the README runs verbatim from
that folder: it must exit 0 or 1, and every line the README shows after it must
be in the real output (a ``…`` stands for text left out). Python blocks that
read ``demo-out/`` run too.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import sys
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from weightfit.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def shell_examples() -> list[tuple[str, list[str]]]:
    """``(command, shown output lines)`` for every ``$ weightfit`` line of the README."""
    examples: list[tuple[str, list[str]]] = []
    for language, body in BLOCK.findall(README):
        if language:
            continue
        shown: list[str] | None = None
        for line in body.splitlines():
            if line.startswith("$ "):
                shown = []
                examples.append((line[2:], shown))
            elif shown is not None and line.strip():
                shown.append(line)
    return examples


def python_examples() -> list[str]:
    return [
        body
        for language, body in BLOCK.findall(README)
        if language == "python" and "demo-out/" in body
    ]


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The working folder of a finished ``make demo`` run."""
    spec = importlib.util.spec_from_file_location("demo", ROOT / "examples" / "demo.py")
    assert spec is not None and spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    sys.modules["demo"] = demo  # its dataclass looks itself up there
    spec.loader.exec_module(demo)
    folder = tmp_path_factory.mktemp("make-demo")
    before = Path.cwd()
    sys.path.insert(0, str(ROOT / "tests"))
    os.chdir(folder)
    try:
        demo.run = lambda argv: main(argv)
        assert demo.main() == 0
    finally:
        os.chdir(before)
    return folder


def test_the_readme_has_examples_for_the_tour() -> None:
    commands = [command.split()[1] for command, _ in shell_examples()]
    assert {"inspect", "check", "lint"} <= set(commands)
    assert python_examples()


@pytest.mark.parametrize(
    "command, shown", shell_examples(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_shell_example_runs_verbatim(
    demo_folder: Path, command: str, shown: list[str], monkeypatch, capsys
) -> None:
    monkeypatch.chdir(demo_folder)
    monkeypatch.delenv("COLUMNS", raising=False)
    argv = shlex.split(command)
    assert argv[0] == "weightfit"
    capsys.readouterr()
    code = main(argv[1:])
    out = capsys.readouterr().out
    assert code in (0, 1), out
    for line in shown:
        for fragment in (part.strip() for part in line.split("…")):
            assert fragment in out, f"{fragment!r} is not in the output of {command!r}:\n{out}"


def test_python_examples_run(demo_folder: Path, monkeypatch) -> None:
    monkeypatch.chdir(demo_folder)
    for code in python_examples():
        exec(compile(code, "README.md", "exec"), {})
