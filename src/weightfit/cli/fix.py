"""``weightfit fix`` and ``weightfit apply``: repair a checkpoint, or apply a reviewed plan.

``fix CKPT --against TARGET -o OUT`` checks, writes ``OUT/weightfit-plan.yaml``,
applies it and verifies; ``apply PLAN CKPT -o OUT`` applies a (possibly edited)
plan. Two commands, one function each; the library does the work.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from weightfit.cli._output import emit, write_options, write_progress, writer_options
from weightfit.errors import EXIT_FINDINGS, EXIT_OK

FIX_HELP = "check a checkpoint against a model, then write a fixed copy (plan included)"
APPLY_HELP = "apply a plan (made by fix, maybe edited) to a checkpoint"


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    """Add the ``fix`` and ``apply`` commands to the parser."""
    fix = subparsers.add_parser(
        "fix", parents=[common], help=FIX_HELP, description=FIX_HELP.capitalize() + "."
    )
    fix.add_argument("checkpoint", metavar="CKPT", help="checkpoint file, shard index or folder")
    fix.add_argument(
        "--against",
        required=True,
        metavar="TARGET",
        help="model to fit: checkpoint, config.json / model folder, or pkg.module:Callable",
    )
    fix.add_argument("--kwargs", type=_json_object, metavar="JSON", help="factory arguments")
    fix.add_argument("--config", metavar="FILE", help="config file for a factory target")
    fix.add_argument("--key", metavar="A.B", help="state dict to read inside a container")
    fix.add_argument("--variant", metavar="NAME", help="weight variant in a folder (bf16 …)")
    fix.add_argument(
        "--plan-only", action="store_true", help="write the plan for review; apply nothing"
    )
    fix.add_argument(
        "--no-cache",
        action="store_true",
        help="build a config target afresh, not from the cache (also WEIGHTFIT_NO_CACHE=1)",
    )
    writer_options(fix)
    fix.set_defaults(run=run_fix)

    apply = subparsers.add_parser(
        "apply", parents=[common], help=APPLY_HELP, description=APPLY_HELP.capitalize() + "."
    )
    apply.add_argument("plan", metavar="PLAN", help="plan file (YAML or JSON)")
    apply.add_argument("checkpoint", metavar="CKPT", help="checkpoint file, shard index or folder")
    apply.add_argument(
        "--against", metavar="TARGET", help="verify the output loads strict into this model"
    )
    apply.add_argument("--key", metavar="A.B", help="state dict to read inside a container")
    apply.add_argument("--variant", metavar="NAME", help="weight variant in a folder (bf16 …)")
    writer_options(apply)
    apply.set_defaults(run=run_apply)


def run_fix(args: argparse.Namespace) -> int:
    """Check, plan, apply and verify; exit 1 when findings are left unfixed."""
    from weightfit.fix import fix
    from weightfit.report.fix import fix_to_dict, render_fix
    from weightfit.targets import cache

    with write_progress(args) as progress, cache.disabled(args.no_cache):
        result = fix(
            args.checkpoint,
            args.against,
            args.out,
            plan_only=args.plan_only,
            dtype=args.dtype,
            kwargs=args.kwargs,
            config=args.config,
            key=args.key,
            variant=args.variant,
            options=write_options(args, progress),
        )
    emit(args, lambda: fix_to_dict(result), lambda console: render_fix(console, result))
    return EXIT_FINDINGS if result.unfixed else EXIT_OK


def run_apply(args: argparse.Namespace) -> int:
    """Apply the plan file to the checkpoint and verify the output."""
    from weightfit.apply import apply
    from weightfit.report.fix import render_apply

    with write_progress(args) as progress:
        result = apply(
            args.plan,
            args.checkpoint,
            args.out,
            dtype=args.dtype,
            target=args.against,
            key=args.key,
            variant=args.variant,
            options=write_options(args, progress),
        )
    emit(args, result.to_dict, lambda console: render_apply(console, result))
    return EXIT_OK


def _json_object(text: str) -> dict[str, Any]:
    """Parse ``--kwargs``: a JSON object."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not JSON: {error.msg}") from error
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object, e.g. '{\"depth\": 28}'")
    return value
