"""The repair a report suggests, as data, and its one spelling for a person.

``check`` and ``explain`` describe the repair they suggest as a :class:`FixHint`:
the ops that would fix the report's blocking findings, and the inputs ``weightfit
fix`` would repeat them on (:class:`FixTarget`; ``None`` when the inputs have no
command-line form, such as a model built in Python). :func:`spell` writes it as
the report's hint: the ``weightfit fix … --plan-only`` command line, quoted for a
POSIX shell, or the Python call.

The spelling sits here, in the data layer, rather than in ``report/``, because
the library's own :attr:`~weightfit.findings.Report.hints` and ``explain``'s
exception notes carry it too, and neither may import ``report/``.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from typing import Any

from weightfit.plan import Op

PYTHON_FORM = "weightfit.fix(checkpoint, target, out, plan_only=True)"
"""The hint when the inputs have no command-line form."""


@dataclass(frozen=True)
class FixTarget:
    """What ``weightfit fix`` would be run on: the inputs of the check, as a person typed them.

    Attributes:
        checkpoint: The checkpoint path (or what a log names, or ``CKPT``).
        target: The target (a path, ``pkg.module:Callable``, or ``TARGET``).
        kwargs: Keyword arguments for a factory target.
        config: A config file for a factory target.
        key: The state dict inside a container.
        variant: The precision variant of folder weights.
        verbatim: Words written as they are (a log's names and placeholders for a
            person to replace), not quoted for the shell.

    """

    checkpoint: str
    target: str
    kwargs: dict[str, Any] | None = None
    config: str | None = None
    key: str | None = None
    variant: str | None = None
    verbatim: bool = False


@dataclass(frozen=True)
class FixHint:
    """The repair a report suggests: ops that fix its blocking findings, and where.

    Attributes:
        ops: The fix ops of the blocking findings, in report order (``weightfit fix``
            merges and orders them into its plan).
        target: The inputs to repeat them on, or ``None`` without a command-line form.

    """

    ops: list[Op] = field(default_factory=list)
    target: FixTarget | None = None


def spell(hint: FixHint) -> str:
    """The hint as a report shows it: ``write a reviewable plan: <command>``."""
    return f"write a reviewable plan: {command(hint.target)}"


def command(target: FixTarget | None) -> str:
    """The ``weightfit fix … -o OUT --plan-only`` line for ``target`` (the Python call if none)."""
    if target is None:
        return PYTHON_FORM
    quote = (lambda word: word) if target.verbatim else shlex.quote
    words = ["weightfit", "fix", quote(target.checkpoint), "--against", quote(target.target)]
    if target.kwargs is not None:
        words += ["--kwargs", quote(json.dumps(target.kwargs))]
    if target.config is not None:
        words += ["--config", quote(target.config)]
    if target.key is not None:
        words += ["--key", quote(target.key)]
    if target.variant is not None:
        words += ["--variant", quote(target.variant)]
    return " ".join([*words, "-o", "OUT", "--plan-only"])
