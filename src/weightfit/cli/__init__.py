"""The ``weightfit`` command: parses arguments, calls the library, renders.

Each subcommand lives in its own module with ``register(subparsers, common)``;
``main`` is the one place that turns errors into exit codes.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from weightfit._version import __version__
from weightfit.cli import adapter, check, explain, fix, inspect, lint
from weightfit.cli._output import common_options, error_console, silence_stdout
from weightfit.errors import EXIT_INTERNAL, EXIT_OK, EXIT_USAGE, WeightfitError

COMMANDS = (inspect, check, lint, fix, explain, adapter)

DEBUG_VARIABLE = "WEIGHTFIT_DEBUG"

EXIT_BROKEN_PIPE = 128 + 13
"""What a shell reports for a tool killed by SIGPIPE (signal 13)."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="weightfit",
        description="Why a checkpoint will not load into your model, and the fix.",
    )
    parser.add_argument("--version", action="version", version=f"weightfit {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = common_options()
    for command in COMMANDS:
        command.register(subparsers, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (see ``docs/architecture.md``)."""
    parser = build_parser()
    arguments = sys.argv[1:] if argv is None else list(argv)
    if not arguments:
        parser.print_help()
        return EXIT_OK
    args = parser.parse_args(arguments)
    try:
        from weightfit.hub import allow_full_download

        with allow_full_download(getattr(args, "allow_full_download", False)):
            code: int = args.run(args)
    except WeightfitError as error:
        # "usage error: …" already says it is an error; everything else gets the prefix.
        prefix = "" if error.what.endswith("error") else "error: "
        error_console().print(
            f"{prefix}{error.message}", markup=False, highlight=False, soft_wrap=True
        )
        if os.environ.get(DEBUG_VARIABLE):
            traceback.print_exc()
        elif error.exit_code == EXIT_INTERNAL:
            error_console().print(f"(set {DEBUG_VARIABLE}=1 to see the traceback)", style="dim")
        return error.exit_code
    except KeyboardInterrupt:
        return EXIT_USAGE
    except BrokenPipeError:
        # The sinks in _output handle a closed pipe and keep the command's code;
        # a write outside them ends as a SIGPIPE'd tool does (128 + SIGPIPE).
        silence_stdout()
        return EXIT_BROKEN_PIPE
    except Exception as error:
        error_console().print(
            f"internal error: {type(error).__name__}: {error}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        if os.environ.get(DEBUG_VARIABLE):
            traceback.print_exc()
        else:
            error_console().print(
                f"(this is a bug in weightfit; set {DEBUG_VARIABLE}=1 for the traceback)",
                style="dim",
            )
        return EXIT_INTERNAL
    return code


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
