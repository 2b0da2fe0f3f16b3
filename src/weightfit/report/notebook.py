"""The renderers behind ``print(report)``, a rich console and a Jupyter cell.

:mod:`weightfit.display` gives the result classes their text, rich and HTML
views; this module tells it which of the command line's renderers draws each
class. ``weightfit/__init__`` imports it, so the finder is there before any
result exists.
"""

from __future__ import annotations

from weightfit import display
from weightfit.display import Renderer


def _find(shown: object) -> Renderer | None:
    """The command line's renderer for a report, a manifest or a lint result."""
    from weightfit.findings import Report
    from weightfit.lint import LintResult
    from weightfit.manifest import Manifest

    if isinstance(shown, Report):
        from weightfit.report.check import render_report

        return lambda console: render_report(console, shown)
    if isinstance(shown, LintResult):
        from weightfit.report.lint import render_text

        return lambda console: render_text(console, shown)
    if isinstance(shown, Manifest):
        from weightfit.report.inspect import render_manifest

        return lambda console: render_manifest(console, shown)
    return None


display.register(_find)
