"""The one registry of lint codes: each code's name, status, severity and fix safety.

Codes are stable once published: a code is never reused for another check, and
a retired check keeps its row with status ``removed``. Families:

=========  ==============================================================
``WF1xx``  weight sets and precision variants in one folder
``WF2xx``  shard index integrity
``WF3xx``  weight files themselves (pickles, git-lfs pointers, truncation)
``WF4xx``  ``config.json`` against the weights
``WF5xx``  diffusers pipeline wiring between components
=========  ==============================================================

A rule is a function ``check(ctx) -> Iterable[Violation]`` in one of the
``rules_*`` modules, bound to its row with :func:`implements`. Its docstring is
the rule's documentation (``weightfit lint --explain CODE``), in the fixed
sections of :data:`DOC_SECTIONS`.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from weightfit.errors import UsageError

if TYPE_CHECKING:
    from weightfit.lint.context import Context
    from weightfit.lint.fixes import FileOp

Status = Literal["stable", "preview", "removed"]
Severity = Literal["error", "warning", "info"]
FixSafety = Literal["safe", "unsafe", "none"]

DOC_SECTIONS = ("What it checks", "Why it matters", "Example", "Fix", "Fix safety", "References")
"""Sections every rule docstring has, in this order."""

RULE_MODULES = (
    "weightfit.lint.rules_weightsets",
    "weightfit.lint.rules_index",
    "weightfit.lint.rules_files",
    "weightfit.lint.rules_config",
    "weightfit.lint.rules_pipeline",
)


@dataclass(frozen=True)
class Code:
    """One row of the registry.

    Attributes:
        code: ``WF`` and three digits.
        name: Kebab-case name of the problem.
        status: ``stable``, ``preview`` or ``removed``.
        severity: How bad a violation is.
        category: The :mod:`weightfit.findings` category it falls under.
        fix: Whether ``--fix`` repairs it (``safe``), only ``--unsafe-fixes`` does, or nothing.

    """

    code: str
    name: str
    status: Status
    severity: Severity
    category: str
    fix: FixSafety


CODES: tuple[Code, ...] = (
    Code(
        "WF101", "variant-fetches-several-weight-sets", "stable", "warning", "dtype_variant", "safe"
    ),
    Code("WF102", "loaders-disagree-on-weight-set", "stable", "warning", "dtype_variant", "none"),
    Code("WF103", "variant-fails-to-load", "stable", "error", "dtype_variant", "safe"),
    Code("WF104", "legacy-variant-file-names", "stable", "warning", "version", "unsafe"),
    Code("WF105", "variant-dtype-mismatch", "stable", "error", "dtype_variant", "unsafe"),
    Code("WF106", "mixed-dtypes-in-weight-set", "stable", "warning", "dtype_variant", "none"),
    Code("WF107", "duplicate-weight-sets", "stable", "warning", "dtype_variant", "unsafe"),
    Code("WF201", "index-names-missing-shard", "stable", "error", "missing", "none"),
    Code("WF202", "shard-not-in-index", "stable", "warning", "unexpected", "safe"),
    Code("WF203", "tensor-not-where-index-says", "stable", "error", "missing", "safe"),
    Code("WF204", "tensor-in-several-shards", "stable", "error", "unexpected", "none"),
    Code("WF205", "index-total-size-wrong", "stable", "warning", "missing", "safe"),
    Code("WF206", "index-shared-by-variants", "stable", "error", "dtype_variant", "none"),
    Code("WF207", "index-mislabelled-variant", "stable", "error", "dtype_variant", "safe"),
    Code("WF208", "index-unreadable", "stable", "error", "missing", "none"),
    Code("WF301", "pickle-beside-safetensors", "stable", "warning", "extra_state", "unsafe"),
    Code("WF302", "git-lfs-pointer", "stable", "error", "missing", "none"),
    Code("WF303", "empty-weight-file", "stable", "error", "missing", "none"),
    Code("WF304", "truncated-weight-file", "stable", "error", "missing", "none"),
    Code("WF305", "unreadable-weight-file", "stable", "error", "missing", "none"),
    Code("WF306", "shards-missing", "stable", "error", "missing", "none"),
    Code("WF401", "config-dimension-mismatch", "stable", "error", "wrong_variant", "none"),
    Code("WF402", "config-layer-count-mismatch", "stable", "error", "wrong_variant", "none"),
    Code("WF403", "tied-weights-mismatch", "stable", "warning", "tied_weights", "none"),
    Code("WF404", "config-dtype-from-variant", "stable", "warning", "dtype_variant", "none"),
    Code("WF405", "config-dtype-mismatch", "stable", "warning", "dtype_variant", "none"),
    Code("WF406", "config-label-count-mismatch", "stable", "error", "num_classes", "none"),
    Code("WF501", "text-encoder-width-mismatch", "stable", "error", "encoder_swap", "none"),
    Code("WF502", "latent-channels-mismatch", "stable", "error", "latent_channels", "none"),
    Code("WF503", "tokenizer-exceeds-vocab", "stable", "error", "vocab_resize", "none"),
)
"""Every code, in order. Never renumber."""

BY_CODE: dict[str, Code] = {c.code: c for c in CODES}
BY_NAME: dict[str, Code] = {c.name: c for c in CODES}

Check = Callable[["Context"], Iterable["Violation"]]
_CHECKS: dict[str, Check] = {}


@dataclass
class Violation:
    """One problem a rule found.

    Attributes:
        code: The registry code (``WF101``).
        path: File or folder it is about, relative to the linted root (``""``: the root).
        message: One line with the numbers that matter.
        evidence: The facts behind it, as plain data.
        fixes: File operations that repair it (see :mod:`weightfit.lint.fixes`).
        fix_note: What to do by hand when no operation can fix it.

    """

    code: str
    path: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    fixes: list[FileOp] = field(default_factory=list)
    fix_note: str = ""

    def __post_init__(self) -> None:
        # A fix is applied whole or not at all: one unsafe step makes every step unsafe,
        # so --fix never writes an index that only makes sense after a rename.
        if any(op.safety == "unsafe" for op in self.fixes):
            self.fixes = [dataclasses.replace(op, safety="unsafe") for op in self.fixes]

    @property
    def rule(self) -> Code:
        """The registry row."""
        return BY_CODE[self.code]

    @property
    def name(self) -> str:
        """The rule's kebab-case name."""
        return self.rule.name

    @property
    def severity(self) -> Severity:
        """The rule's severity."""
        return self.rule.severity

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return {
            "code": self.code,
            "name": self.name,
            "severity": self.severity,
            "category": self.rule.category,
            "path": self.path,
            "message": self.message,
            "evidence": self.evidence,
            "fixes": [op.to_dict() for op in self.fixes],
            "fix_note": self.fix_note,
        }

    def __repr__(self) -> str:
        return f"<Violation {self.code} {self.name} {self.path or '.'}>"


def implements(code: str) -> Callable[[Check], Check]:
    """Bind a check function to its registry row.

    Raises:
        ValueError: the code is not in :data:`CODES` or already has a check.

    """

    def bind(check: Check) -> Check:
        if code not in BY_CODE or code in _CHECKS:
            raise ValueError(f"{code} is unknown or bound twice")
        _CHECKS[code] = check
        return check

    return bind


def checks() -> dict[str, Check]:
    """Every active code's check function, in code order."""
    for module in RULE_MODULES:
        importlib.import_module(module)
    return {c.code: _CHECKS[c.code] for c in CODES if c.status != "removed" and c.code in _CHECKS}


def doc(code: str) -> str:
    """The documentation of one code, from its check's docstring.

    Raises:
        UsageError: no such code or name.

    """
    row = lookup(code)
    check = checks().get(row.code)
    return inspect.cleandoc(check.__doc__ or "") if check else ""


def lookup(code_or_name: str) -> Code:
    """The registry row for a code (``WF101``) or a name.

    Raises:
        UsageError: no such code or name.

    """
    row = BY_CODE.get(code_or_name.upper()) or BY_NAME.get(code_or_name)
    if row is None:
        raise UsageError(f"no lint rule {code_or_name!r}; codes are WF101 ... {CODES[-1].code}")
    return row


def selected(select: Iterable[str] | None, ignore: Iterable[str] | None) -> list[str]:
    """Codes chosen by ``--select`` and ``--ignore`` (codes, prefixes like ``WF1``, or ``ALL``).

    A longer (more specific) match wins, as in ruff; on a tie ``ignore`` wins.

    Raises:
        UsageError: a selector matches no code.

    """
    select = list(select) if select else ["ALL"]
    ignore = list(ignore or [])
    for selector in (*select, *ignore):
        if not _matching(selector):
            raise UsageError(f"--select/--ignore {selector!r} matches no lint code")
    chosen = []
    for row in CODES:
        if row.status == "removed":
            continue
        picked = max((_specificity(s, row) for s in select), default=-1)
        dropped = max((_specificity(s, row) for s in ignore), default=-1)
        if picked >= 0 and picked > dropped:
            chosen.append(row.code)
    return chosen


def _specificity(selector: str, row: Code) -> int:
    """How closely a selector names a row: -1 no match, else the prefix length."""
    if selector.upper() == "ALL":
        return 0
    if selector == row.name:
        return len(row.code)
    return len(selector) if row.code.startswith(selector.upper()) else -1


def _matching(selector: str) -> list[Code]:
    return [row for row in CODES if _specificity(selector, row) >= 0]
