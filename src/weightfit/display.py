"""How a result object shows itself: ``print``, a rich console, a Jupyter cell.

:class:`Displayable` gives :class:`~weightfit.findings.Report`,
:class:`~weightfit.manifest.Manifest` and ``LintResult`` their ``to_text()``,
``__str__``, ``__rich_console__`` and ``_repr_html_``. The drawing itself is the
command line's, in ``weightfit.report``, a layer above: it registers a finder
here (:func:`register`) when ``weightfit`` is imported, so these plain data
classes never import their renderers.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult

Renderer = Callable[["Console"], None]
"""Draws one object on a console, as the command line does."""

Finder = Callable[[Any], Renderer | None]
"""Returns the renderer bound to an object, or ``None`` when it draws something else."""

TEXT_WIDTH = 100
"""Width of ``to_text()`` and ``str()``: fixed, so the text is the same everywhere."""

HTML_WIDTH = 120
"""Width of the notebook rendering (a cell scrolls sideways beyond it)."""

_FINDERS: list[Finder] = []


def register(finder: Finder) -> None:
    """Add a way to find the renderer of an object (``weightfit.report`` does, on import)."""
    _FINDERS.append(finder)


def _renderer(shown: object) -> Renderer:
    for finder in _FINDERS:
        found = finder(shown)
        if found is not None:
            return found
    raise LookupError(f"no renderer registered for {type(shown).__name__}")


def _console(
    width: int, color_system: str | None, *, terminal: bool = False, record: bool = False
) -> tuple[Console, io.StringIO]:
    from rich.console import Console

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


class Displayable:
    """Text, rich and HTML views of a result, each drawn by the command line's renderer."""

    def to_text(self, width: int = TEXT_WIDTH) -> str:
        """What ``weightfit`` prints for this, at ``width`` columns, with no colour."""
        console, buffer = _console(width, None)
        _renderer(self)(console)
        return "".join(line.rstrip(" ") + "\n" for line in buffer.getvalue().splitlines())

    def __str__(self) -> str:
        return self.to_text()

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.text import Text

        inner, buffer = _console(
            options.max_width, console.color_system, terminal=console.is_terminal
        )
        _renderer(self)(inner)
        yield Text.from_ansi(buffer.getvalue().rstrip("\n"))

    def _repr_html_(self) -> str:
        console, _ = _console(HTML_WIDTH, "truecolor", terminal=True, record=True)
        _renderer(self)(console)
        return console.export_html(
            inline_styles=True,
            code_format='<pre style="font-family:monospace;line-height:1.3">{code}</pre>',
        )
