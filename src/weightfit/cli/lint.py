"""``weightfit lint PATH``: repository hygiene rules for model and pipeline folders."""

from __future__ import annotations

import argparse
import functools
from typing import TYPE_CHECKING

from weightfit.cli._output import console, emit, write_json
from weightfit.errors import EXIT_OK, UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from weightfit.lint import FixOutcome, LintResult

HELP = "check a model, adapter or pipeline folder for problems loaders will hit"


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    """Add the ``lint`` command to the parser."""
    parser = subparsers.add_parser(
        "lint", parents=[common], help=HELP, description=HELP.capitalize() + "."
    )
    parser.add_argument(
        "paths", metavar="PATH", nargs="*", help="folders (or hf://ORG/REPO[@REV][/PATH]) to lint"
    )
    parser.add_argument(
        "--format",
        dest="output_format",
        choices=("text", "json", "sarif"),
        default="text",
        help="output format (default: text; --json is the same as --format json)",
    )
    parser.add_argument(
        "--select", metavar="CODES", help="comma-separated codes, prefixes (WF1) or names to run"
    )
    parser.add_argument("--ignore", metavar="CODES", help="comma-separated codes to leave out")
    parser.add_argument("--explain", metavar="CODE", help="print a rule's documentation and exit")
    parser.add_argument("--fix", action="store_true", help="apply safe fixes (index files only)")
    parser.add_argument(
        "--unsafe-fixes",
        action="store_true",
        help="with --fix, also move and delete weight files",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="with --fix, show every file operation, change nothing",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="also show what each loader reads per variant"
    )
    parser.set_defaults(run=run)


def _codes(value: str | None) -> list[str] | None:
    return [c.strip() for c in value.split(",") if c.strip()] if value else None


def run(args: argparse.Namespace) -> int:
    """Lint each folder, optionally fix it, print the results; 1 if anything is left."""
    from weightfit.lint import apply_fixes, lint, registry
    from weightfit.report import lint as render

    if args.explain:
        row = registry.lookup(args.explain)
        console().print(
            f"{row.code} {row.name} ({row.status}, {row.severity}, fix: {row.fix})", highlight=False
        )
        console().print(registry.doc(row.code), highlight=False, markup=False)
        return EXIT_OK
    if not args.paths:
        raise UsageError("give a folder to lint (or --explain CODE)")
    if (args.unsafe_fixes or args.dry_run) and not args.fix:
        raise UsageError("--unsafe-fixes and --dry-run only apply with --fix")
    fmt = "json" if args.json else args.output_format
    code = EXIT_OK
    for path in args.paths:
        result = lint(path, select=_codes(args.select), ignore=_codes(args.ignore))
        outcome = None
        if args.fix:
            outcome = apply_fixes(result, unsafe=args.unsafe_fixes, dry_run=args.dry_run)
            if not args.dry_run and outcome.applied:
                result = lint(path, select=_codes(args.select), ignore=_codes(args.ignore))
        if fmt == "sarif":
            write_json(render.to_sarif(result))
        else:
            args.json = fmt == "json"
            emit(
                args,
                functools.partial(render.to_json, result, outcome),
                functools.partial(_text, result=result, outcome=outcome, verbose=args.verbose),
            )
        code = max(code, result.exit_code)
    return code


def _text(out: Console, result: LintResult, outcome: FixOutcome | None, verbose: bool) -> None:
    """The fix operations (if any), then the violations."""
    from weightfit.report import lint as render

    if outcome is not None:
        render.render_fixes(out, outcome)
    render.render_text(out, result, verbose=verbose)
