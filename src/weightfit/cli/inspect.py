"""``weightfit inspect PATH``: what a checkpoint holds, read from its headers."""

from __future__ import annotations

import argparse

from weightfit.cli._inputs import folder_only
from weightfit.cli._output import emit
from weightfit.errors import EXIT_FINDINGS, EXIT_OK
from weightfit.formats import read

HELP = "show what a checkpoint file or model folder holds (headers only)"


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    common: argparse.ArgumentParser,
) -> None:
    """Add the ``inspect`` command to the parser."""
    parser = subparsers.add_parser(
        "inspect", parents=[common], help=HELP, description=HELP.capitalize() + "."
    )
    parser.add_argument(
        "path",
        metavar="PATH",
        help="checkpoint file, shard index, model folder or hf://ORG/REPO[@REV][/PATH]",
    )
    parser.add_argument(
        "--key",
        metavar="A.B",
        help="state dict to read inside a container (or a pipeline component)",
    )
    parser.add_argument(
        "--variant", metavar="NAME", help="weight variant in a folder (bf16, fp16 …)"
    )
    parser.add_argument(
        "--format",
        dest="weights_format",
        choices=("safetensors", "pickle"),
        help="which weights to read when a folder has both",
    )
    parser.add_argument(
        "--depth", type=_depth, metavar="N", help="show the module tree N levels deep"
    )
    parser.add_argument(
        "--filter", dest="pattern", metavar="GLOB", help="only tensors whose full name matches"
    )
    parser.add_argument(
        "--allow-global",
        dest="allowed",
        action="append",
        default=[],
        type=_global_name,
        metavar="MOD.NAME",
        help="accept this unknown pickle global (repeatable); exit 0 needs every global "
        "allowlisted, known benign or accepted",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Read the checkpoint and print its manifest."""
    # Imported here: report modules import cli._output, which imports this package.
    from weightfit import security
    from weightfit.report.inspect import manifest_to_dict, render_manifest, write_manifest_json

    folder_only("--variant", args.variant, args.path)
    folder_only("--format", args.weights_format, args.path)
    manifest = read(
        args.path, key=args.key, variant=args.variant, weights_format=args.weights_format
    )
    allowed = frozenset(args.allowed)
    emit(
        args,
        lambda: manifest_to_dict(manifest, pattern=args.pattern, depth=args.depth, allowed=allowed),
        lambda console: render_manifest(
            console, manifest, pattern=args.pattern, depth=args.depth, allowed=allowed
        ),
        stream=lambda out: write_manifest_json(
            out, manifest, pattern=args.pattern, depth=args.depth, allowed=allowed
        ),
    )
    passed = all(security.accepted(g, allowed) for g in manifest.globals)
    return EXIT_OK if passed else EXIT_FINDINGS


def _depth(text: str) -> int:
    """Parse ``--depth``: a whole number, 1 or more."""
    try:
        depth = int(text)
    except ValueError:
        depth = 0
    if depth < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 1, got {text!r}")
    return depth


def _global_name(text: str) -> str:
    """Parse ``--allow-global``: ``module.name`` (``module.sub.Name``)."""
    module, _, name = text.rpartition(".")
    if not module or not name:
        raise argparse.ArgumentTypeError(f"expected MOD.NAME, got {text!r}")
    return text
