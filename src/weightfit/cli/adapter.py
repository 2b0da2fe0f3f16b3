"""``weightfit adapter check|merge``: a PEFT adapter against its base, and merged into it."""

from __future__ import annotations

import argparse

from weightfit.cli._inputs import folder_only
from weightfit.cli._output import emit, spinner, write_options, write_progress, writer_options
from weightfit.errors import EXIT_FINDINGS, EXIT_OK

HELP = "check a PEFT LoRA adapter against a base model, or merge it in"
CHECK_HELP = "tell whether an adapter fits a base model, and why not (nothing is loaded)"
MERGE_HELP = "merge a LoRA adapter into its base, streaming, into new safetensors"


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    """Add the ``adapter`` command and its ``check`` and ``merge`` subcommands."""
    adapter = subparsers.add_parser("adapter", help=HELP, description=HELP.capitalize() + ".")
    actions = adapter.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = actions.add_parser(
        "check", parents=[common], help=CHECK_HELP, description=CHECK_HELP.capitalize() + "."
    )
    _inputs(check)
    check.set_defaults(run=run_check)
    merge = actions.add_parser(
        "merge", parents=[common], help=MERGE_HELP, description=MERGE_HELP.capitalize() + "."
    )
    _inputs(merge)
    writer_options(merge, dtype=False)
    merge.set_defaults(run=run_merge)


def _inputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "adapter", metavar="ADAPTER", help="PEFT adapter folder or hf://ORG/REPO[@REV][/PATH]"
    )
    parser.add_argument(
        "--base",
        required=True,
        metavar="BASE",
        help="base model: checkpoint, model folder, or config.json (check only)",
    )
    parser.add_argument("--variant", metavar="NAME", help="weight variant of the base (bf16 …)")


def run_check(args: argparse.Namespace) -> int:
    """Check the adapter against the base; exit 0 when it fits, 1 when not."""
    from weightfit.adapters.check import check_adapter
    from weightfit.report.check import render_report, report_to_dict

    folder_only("--variant", args.variant, args.base)
    with spinner(args, f"checking {args.adapter} against {args.base}"):
        report = check_adapter(args.adapter, args.base, variant=args.variant)
    emit(args, lambda: report_to_dict(report), lambda console: render_report(console, report))
    return EXIT_OK if report.compatible else EXIT_FINDINGS


def run_merge(args: argparse.Namespace) -> int:
    """Merge the adapter into the base; exit 1 (nothing written) when it does not fit."""
    from weightfit.adapters.merge import merge_adapter
    from weightfit.report.adapter import merge_to_dict, render_merge

    folder_only("--variant", args.variant, args.base)
    with write_progress(args) as progress:
        result = merge_adapter(
            args.adapter,
            args.base,
            args.out,
            variant=args.variant,
            options=write_options(args, progress),
        )
    emit(args, lambda: merge_to_dict(result), lambda console: render_merge(console, result))
    return EXIT_OK if result.merged else EXIT_FINDINGS
