"""Show a :class:`~weightfit.Report`, :class:`~weightfit.Manifest` or ``LintResult`` anywhere.

The result classes stay plain data; their ``__str__``, ``to_text()``,
``__rich_console__`` and ``_repr_html_`` (Jupyter) come here, and each draws
with the same renderer as the command line: plain text for ``print``, rich
text (colours, tables) for a rich console, HTML for a notebook cell.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

from rich.console import Console, ConsoleOptions
from rich.text import Text

if TYPE_CHECKING:
    from weightfit.findings import Report
    from weightfit.lint import LintResult
    from weightfit.manifest import Manifest

    Shown: TypeAlias = Report | Manifest | LintResult

TEXT_WIDTH = 100
"""Width of ``to_text()`` and ``str()``: fixed, so the text is the same everywhere."""

HTML_WIDTH = 120
"""Width of the notebook rendering (a cell scrolls sideways beyond it)."""


def _renderer(shown: Shown) -> Callable[[Console], None]:
    """The command line's renderer for ``shown``, bound to it."""
    from weightfit.findings import Report
    from weightfit.lint import LintResult

    if isinstance(shown, Report):
        from weightfit.report.check import render_report

        return lambda console: render_report(console, shown)
    if isinstance(shown, LintResult):
        from weightfit.report.lint import render_text

        return lambda console: render_text(console, shown)
    from weightfit.report.inspect import render_manifest

    return lambda console: render_manifest(console, shown)


def _console(
    width: int, color_system: str | None, *, terminal: bool = False, record: bool = False
) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        color_system=color_system,  # type: ignore[arg-type]
        force_terminal=terminal,
        record=record,
        highlight=False,
        emoji=False,
        soft_wrap=False,
    )
    return console, buffer


def to_text(shown: Shown, width: int = TEXT_WIDTH) -> str:
    """``shown`` as plain text, as ``weightfit`` prints it at ``width`` columns, no colour."""
    console, buffer = _console(width, None)
    _renderer(shown)(console)
    return "".join(line.rstrip(" ") + "\n" for line in buffer.getvalue().splitlines())


def rich_text(shown: Shown, console: Console, options: ConsoleOptions) -> Text:
    """``shown`` drawn for ``console``: its width, and colour when it is a terminal."""
    inner, buffer = _console(options.max_width, console.color_system, terminal=console.is_terminal)
    _renderer(shown)(inner)
    return Text.from_ansi(buffer.getvalue().rstrip("\n"))


def to_html(shown: Shown) -> str:
    """``shown`` as an HTML fragment with inline styles, for a notebook cell."""
    console, _ = _console(HTML_WIDTH, "truecolor", terminal=True, record=True)
    _renderer(shown)(console)
    return console.export_html(
        inline_styles=True,
        code_format='<pre style="font-family:monospace;line-height:1.3">{code}</pre>',
    )
