"""Shared fixtures: small and generic on purpose (builders live beside their tests)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from weightfit.cli import main


@dataclass
class CliResult:
    """What one run of the command line produced."""

    code: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def _target_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Give every test its own empty target cache: none writes to the real one in ``~/.cache``."""
    monkeypatch.setenv("WEIGHTFIT_CACHE", str(tmp_path_factory.mktemp("weightfit-cache")))
    monkeypatch.delenv("WEIGHTFIT_NO_CACHE", raising=False)


@pytest.fixture
def run_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., CliResult]:
    """Run ``weightfit.cli.main(argv)`` on a fixed-width (100), colourless console.

    Usage errors from argparse (``SystemExit``) come back as their exit code.
    """
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TERM", "dumb")
    monkeypatch.delenv("WEIGHTFIT_DEBUG", raising=False)

    def run(*argv: object) -> CliResult:
        capsys.readouterr()
        try:
            code = main([str(arg) for arg in argv])
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 2
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
