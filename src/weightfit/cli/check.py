"""``weightfit check CKPT --against TARGET``: will it load, and if not, why."""

from __future__ import annotations

import argparse
import json
from typing import Any

from weightfit.cli._inputs import folder_only
from weightfit.cli._output import emit, spinner
from weightfit.errors import EXIT_FINDINGS, EXIT_OK

HELP = "tell whether a checkpoint fits a model, and why not (nothing is loaded)"


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    """Add the ``check`` command to the parser."""
    parser = subparsers.add_parser(
        "check", parents=[common], help=HELP, description=HELP.capitalize() + "."
    )
    parser.add_argument(
        "checkpoint",
        metavar="CKPT",
        help="checkpoint file, shard index, folder or hf://ORG/REPO[@REV][/PATH]",
    )
    parser.add_argument(
        "--against",
        required=True,
        metavar="TARGET",
        help="another checkpoint or folder, a config.json, or a factory pkg.module:Callable",
    )
    parser.add_argument(
        "--kwargs", type=_kwargs, metavar="JSON", help="keyword arguments for a factory target"
    )
    parser.add_argument(
        "--config", metavar="FILE", help="a JSON or YAML config for a factory target"
    )
    parser.add_argument(
        "--key", metavar="A.B", help="state dict to use inside the checkpoint (ema, state_dict …)"
    )
    parser.add_argument(
        "--variant", metavar="NAME", help="weight variant of folders (bf16, fp16 …)"
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="build a config target afresh, not from the cache (also WEIGHTFIT_NO_CACHE=1)",
    )
    from weightfit.cli.fix import library_converter_options

    library_converter_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Check the checkpoint against the target; exit 0 when compatible, 1 when not."""
    # Imported here: report modules use cli._output, and cli/__init__ imports this module.
    from weightfit import converters
    from weightfit.check import check
    from weightfit.report.check import render_report, report_to_dict
    from weightfit.targets import cache

    folder_only("--variant", args.variant, args.checkpoint, args.against)
    with (
        cache.disabled(args.no_cache),
        converters.disabled(args.no_library_converters),
        spinner(args, _checking(args.checkpoint, args.against)),
    ):
        report = check(
            args.checkpoint,
            args.against,
            kwargs=args.kwargs,
            config=args.config,
            key=args.key,
            variant=args.variant,
        )
    emit(args, lambda: report_to_dict(report), lambda console: render_report(console, report))
    return EXIT_OK if report.compatible else EXIT_FINDINGS


def _checking(checkpoint: str, target: str) -> str:
    """What the spinner says while the target is read or built."""
    return f"checking {checkpoint} against {target} (a model built from a config takes seconds)"


def _kwargs(text: str) -> dict[str, Any]:
    """Parse ``--kwargs``: a JSON object."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(
            f"not valid JSON ({error.msg} at column {error.colno})"
        ) from error
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {type(value).__name__}")
    return value
