"""``weightfit fix`` and ``weightfit apply``: repair a checkpoint, or apply a reviewed plan.

``fix CKPT --against TARGET -o OUT`` checks, writes ``OUT/weightfit-plan.yaml``,
applies it and verifies; ``apply PLAN CKPT -o OUT`` applies a (possibly edited)
plan. Two commands, one function each; the library does the work.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from weightfit.cli._inputs import folder_only
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
    fix.add_argument(
        "--export",
        choices=["key-mapping"],
        help="write the plan (renames only) as transformers' from_pretrained(key_mapping=...) "
        "JSON to OUT/key_mapping.json and print it; no weights are written",
    )
    fix.add_argument(
        "--in-memory-converter",
        action="store_true",
        help="when the library converter computes on values (it cannot be traced into a "
        "plan), run it in memory instead: the whole checkpoint is loaded",
    )
    library_converter_options(fix)
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
    apply.add_argument(
        "--allow-other-source",
        action="store_true",
        help="apply even to another checkpoint than the plan was made from",
    )
    writer_options(apply)
    apply.set_defaults(run=run_apply)


def run_fix(args: argparse.Namespace) -> int:
    """Check, plan, apply and verify; exit 1 when findings are left unfixed."""
    from weightfit import converters
    from weightfit.fix import fix
    from weightfit.report.fix import fix_to_dict, render_fix
    from weightfit.targets import cache

    folder_only("--variant", args.variant, args.checkpoint, args.against)
    with (
        write_progress(args) as progress,
        cache.disabled(args.no_cache),
        converters.disabled(args.no_library_converters),
    ):
        result = fix(
            args.checkpoint,
            args.against,
            args.out,
            plan_only=args.plan_only or args.export is not None,
            dtype=args.dtype,
            kwargs=args.kwargs,
            config=args.config,
            key=args.key,
            variant=args.variant,
            options=write_options(args, progress),
            in_memory_converter=args.in_memory_converter,
        )
    if args.export == "key-mapping":
        from weightfit.converters.export import key_mapping, write_json

        mapping = key_mapping(result.plan)
        write_json(mapping, result.plan_path.parent / "key_mapping.json")
        text = json.dumps(mapping, indent=2)
        emit(
            args,
            lambda: {**fix_to_dict(result), "key_mapping": mapping},
            lambda console: console.print(text, markup=False, highlight=False),
        )
        return EXIT_OK
    emit(args, lambda: fix_to_dict(result), lambda console: render_fix(console, result))
    return EXIT_FINDINGS if result.unfixed else EXIT_OK


def library_converter_options(parser: argparse.ArgumentParser) -> None:
    """``--no-library-converters``: leave only weightfit's own inference."""
    parser.add_argument(
        "--no-library-converters",
        action="store_true",
        help="do not recognise or trace the converters diffusers and transformers ship "
        "(also WEIGHTFIT_NO_LIBRARY_CONVERTERS=1)",
    )


def run_apply(args: argparse.Namespace) -> int:
    """Apply the plan file to the checkpoint and verify the output."""
    from weightfit.apply import apply
    from weightfit.report.fix import render_apply

    folder_only("--variant", args.variant, args.checkpoint)
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
            allow_other_source=args.allow_other_source,
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
