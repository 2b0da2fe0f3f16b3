"""One output sink for every command: human (rich) or JSON, never both."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console

if TYPE_CHECKING:
    from weightfit.apply import ProgressFn, WriteOptions

_ERROR_CONSOLE: Console | None = None


def common_options() -> argparse.ArgumentParser:
    """Options every command takes, defined once: ``--json``, ``--allow-full-download``."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--json", action="store_true", help="print machine-readable JSON instead of a report"
    )
    parent.add_argument(
        "--allow-full-download",
        action="store_true",
        help="for hf:// paths: read on when a server ignores Range requests (downloads more)",
    )
    return parent


def writer_options(parser: argparse.ArgumentParser, *, dtype: bool = True) -> None:
    """Options of every command that writes a checkpoint: ``-o``, ``--shard-size`` and more."""
    parser.add_argument("-o", "--out", required=True, metavar="OUT", help="output folder")
    parser.add_argument(
        "--shard-size", default="5GB", metavar="SIZE", help="largest shard (default 5GB)"
    )
    if dtype:
        parser.add_argument(
            "--dtype", metavar="DTYPE", help="cast floating-point tensors (bf16, fp16, fp32)"
        )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    parser.add_argument(
        "--no-hash",
        dest="hash_sources",
        action="store_false",
        help="do not record the sources' SHA-256 (saves reading them once more)",
    )


def write_options(args: argparse.Namespace, progress: ProgressFn | None) -> WriteOptions:
    """The :class:`~weightfit.apply.WriteOptions` that :func:`writer_options` parsed."""
    from weightfit.apply import WriteOptions

    return WriteOptions(
        shard_size=args.shard_size,
        overwrite=args.overwrite,
        hash_sources=args.hash_sources,
        progress=progress,
    )


def console() -> Console:
    """The console for reports on standard output."""
    return Console(highlight=False, soft_wrap=False, emoji=False)


def error_console() -> Console:
    """The console for errors and progress on standard error."""
    global _ERROR_CONSOLE
    if _ERROR_CONSOLE is None:
        _ERROR_CONSOLE = Console(stderr=True, highlight=False, emoji=False)
    return _ERROR_CONSOLE


def emit(
    args: argparse.Namespace, data: Callable[[], Any], render: Callable[[Console], None]
) -> None:
    """Print ``data()`` as JSON with ``--json``, else let ``render`` draw on the console."""
    if getattr(args, "json", False):
        json.dump(data(), sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        render(console())


@contextmanager
def write_progress(args: argparse.Namespace) -> Iterator[ProgressFn | None]:
    """Yield a progress callback drawing bytes and tensors on standard error (terminals only)."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    console = error_console()
    if args.json or not console.is_terminal:
        yield None
        return
    bar = Progress(
        TextColumn("writing"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[tensors]} tensors"),
        console=console,
        transient=True,
    )
    task = bar.add_task("write", total=None, tensors="0/?")

    def update(tensors: int, tensors_total: int, written: int, total: int) -> None:
        bar.update(task, completed=written, total=total, tensors=f"{tensors}/{tensors_total}")

    with bar:
        yield update
