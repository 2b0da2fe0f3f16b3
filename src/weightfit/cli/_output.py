"""One output sink for every command: human (rich) or JSON, never both."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

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


def silence_stdout() -> None:
    """The reader of standard output has gone (``| head``): send the rest nowhere.

    Command-line tools stop quietly when their reader leaves; the command keeps
    its own exit code, and nothing more reaches the closed pipe (nor Python's
    final flush, which would otherwise fail too).
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


class _StdoutConsole(Console):
    """Rich's console, minus its exit(1) when the pipe closes: the command's code stands."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        silence_stdout()


PIPE_WIDTH = 100_000
"""Console width when standard output is not a terminal: wide enough that nothing wraps."""


class _PlainLines:
    """A text stream over standard output that ends each line at its last visible character.

    Rich pads table cells and padded blocks to their width; in a log or a CI
    transcript those spaces are noise, so they are cut as each line completes.
    """

    def __init__(self) -> None:
        self._pending = ""

    def write(self, text: str) -> int:
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            sys.stdout.write(line.rstrip(" ") + "\n")
        return len(text)

    def flush(self) -> None:
        # A line printed without its end (``end=""``) must not wait for a newline that never comes.
        if self._pending:
            sys.stdout.write(self._pending)
            self._pending = ""
        sys.stdout.flush()


def console() -> Console:
    """The console for reports on standard output.

    A terminal gets rich's layout at its width. Anything else (a pipe, a file, a
    CI log) gets the same report with nothing wrapped and no padding at line
    ends, so a tensor name is always one grep-able string.
    """
    terminal = _StdoutConsole(highlight=False, soft_wrap=False, emoji=False)
    if terminal.is_terminal:
        return terminal
    return _StdoutConsole(
        file=_PlainLines(),  # type: ignore[arg-type]
        width=PIPE_WIDTH,
        highlight=False,
        soft_wrap=False,
        emoji=False,
    )


def write_json(data: Any) -> None:
    """Print ``data`` as indented JSON on standard output; a closed pipe ends it quietly."""
    try:
        json.dump(data, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()


def error_console() -> Console:
    """The console for errors and progress on standard error."""
    global _ERROR_CONSOLE
    if _ERROR_CONSOLE is None:
        _ERROR_CONSOLE = Console(stderr=True, highlight=False, emoji=False)
    return _ERROR_CONSOLE


def emit(
    args: argparse.Namespace,
    data: Callable[[], Any],
    render: Callable[[Console], None],
    *,
    stream: Callable[[TextIO], None] | None = None,
) -> None:
    """Print ``data()`` as JSON with ``--json``, else let ``render`` draw on the console.

    ``stream``, when given, writes that JSON itself, piece by piece (large outputs).
    """
    if getattr(args, "json", False):
        if stream is None:
            write_json(data())
            return
        try:
            stream(sys.stdout)
            sys.stdout.flush()
        except BrokenPipeError:
            silence_stdout()
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


@contextmanager
def spinner(args: argparse.Namespace, text: str) -> Iterator[None]:
    """Show ``text`` beside a spinner on standard error while the block runs (terminals only).

    Building a model from its config imports the framework and takes seconds;
    a terminal should not look hung meanwhile. Pipes and ``--json`` get nothing.
    """
    from rich.markup import escape

    console = error_console()
    if getattr(args, "json", False) or not console.is_terminal:
        yield
        return
    with console.status(escape(text), spinner="dots"):
        yield
