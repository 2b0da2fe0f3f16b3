"""``weightfit explain [FILE | -]``: diagnose a pasted loading error, no files at hand."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from weightfit.cli._output import emit, error_console
from weightfit.errors import EXIT_FINDINGS, EXIT_OK, LogNotFound

HELP = "diagnose a loading error from its text (a log file, or standard input)"


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    """Add the ``explain`` command to the parser."""
    parser = subparsers.add_parser(
        "explain", parents=[common], help=HELP, description=HELP.capitalize() + "."
    )
    parser.add_argument(
        "log",
        metavar="FILE",
        nargs="?",
        default="-",
        help="a file holding the error text; '-' or nothing reads standard input",
    )
    parser.add_argument(
        "--rules-only",
        action="store_true",
        help="name only causes a rule reads from the text, never the one the settled threads "
        "most like it were found to be",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Explain the text; exit 1 when it shows an incompatibility, 2 when it holds no error."""
    from weightfit.explain import explain
    from weightfit.report.check import render_report, report_to_dict

    if args.log == "-":
        if sys.stdin.isatty():
            error_console().print(
                "Paste the loading error, then press Ctrl-D on a line of its own "
                "(or: weightfit explain error.log)",
                highlight=False,
            )
        data = sys.stdin.buffer.read()
    else:
        path = Path(args.log)
        if not path.is_file():
            raise LogNotFound(
                "a folder, not a file" if path.is_dir() else "no such file", path=path
            )
        data = path.read_bytes()
    report = explain(data, resemble=not args.rules_only)
    emit(args, lambda: report_to_dict(report), lambda console: render_report(console, report))
    return EXIT_OK if report.compatible else EXIT_FINDINGS
