"""Lint model repositories and pipelines before users load them.

``lint(path)`` looks at a transformers model folder, a diffusers pipeline
(``model_index.json`` and its component folders), a diffusers component folder
or a PEFT adapter folder, from file names, headers and configs only, and
returns every :class:`~weightfit.lint.registry.Violation` of the rules in
:mod:`weightfit.lint.registry`. It also says, for each loader rule set and each
variant, which files are fetched and read (:mod:`weightfit.lint.resolution`).
Repairs are :mod:`weightfit.lint.fixes` operations, applied by :func:`apply_fixes`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weightfit.display import Displayable
from weightfit.errors import UsageError
from weightfit.hub.paths import is_hub
from weightfit.lint import fixes, registry
from weightfit.lint.context import Context
from weightfit.lint.fixes import FileOp, FixOutcome
from weightfit.lint.registry import Violation
from weightfit.lint.resolution import Resolution

__all__ = ["FileOp", "FixOutcome", "LintResult", "Resolution", "Violation", "apply_fixes", "lint"]


@dataclass
class LintResult(Displayable):
    """Everything ``lint`` found in one folder.

    Attributes:
        root: The linted path, as given.
        kind: ``diffusers-pipeline``, ``diffusers-component``, ``transformers-folder``,
            ``peft-adapter`` or ``folder``.
        violations: Problems found, by path then code.
        resolutions: What each rule set fetches and reads, per folder and variant.
        weight_sets: Folder (``""`` the root) to its weight sets as plain data.
        codes: The codes that were checked.

    """

    root: str
    kind: str
    violations: list[Violation] = field(default_factory=list)
    resolutions: list[Resolution] = field(default_factory=list)
    weight_sets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    codes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """1 when anything was found, else 0."""
        return 1 if self.violations else 0

    def fix_ops(self) -> list[FileOp]:
        """Every fix operation of every violation, in violation order."""
        return [op for v in self.violations for op in v.fixes]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return {
            "root": self.root,
            "kind": self.kind,
            "violations": [v.to_dict() for v in self.violations],
            "resolutions": [r.to_dict() for r in self.resolutions],
            "weight_sets": self.weight_sets,
            "codes": self.codes,
        }

    def __repr__(self) -> str:
        return (
            f"<LintResult {self.kind} {len(self.violations)} violations {Path(self.root).name!r}>"
        )


def lint(
    path: str | Path,
    *,
    select: Iterable[str] | None = None,
    ignore: Iterable[str] | None = None,
) -> LintResult:
    """Lint a model, component, adapter or pipeline folder.

    Args:
        path: The folder, or a Hub address (``hf://ORG/REPO[@REVISION][/PATH]``),
            read header only through :mod:`weightfit.hub` with the same rules.
        select: Codes, code prefixes (``"WF1"``) or rule names to run; all by default.
        ignore: Codes, prefixes or names to leave out; the more specific selector wins.

    Returns:
        A :class:`LintResult`; ``exit_code`` is 1 when it has violations.

    Raises:
        CheckpointNotFound: ``path`` does not exist.
        NotACheckpoint: ``path`` is a file, or a folder with no config and no weights.
        UsageError: a selector matches no code.

    Example:
        >>> result = weightfit.lint("Sana_1600M_2Kpx_BF16_diffusers")  # doctest: +SKIP
        >>> [v.code for v in result.violations]  # doctest: +SKIP
        ['WF101', 'WF105', 'WF107']

    """
    if isinstance(path, str) and is_hub(path):
        return _lint_hub(path, select, ignore)
    codes = registry.selected(select, ignore)
    ctx = Context(path)
    found: list[Violation] = []
    for code, check in registry.checks().items():
        if code in codes:
            found.extend(check(ctx))
    found.sort(key=lambda v: (v.path, v.code))
    return LintResult(
        root=str(path),
        kind=ctx.kind,
        violations=found,
        resolutions=list(ctx.resolutions),
        weight_sets={f.rel: [ws.to_dict() for ws in f.sets] for f in ctx.folders if f.sets},
        codes=codes,
    )


def apply_fixes(result: LintResult, *, unsafe: bool = False, dry_run: bool = False) -> FixOutcome:
    """Apply the fixes of a lint result to its folder.

    Args:
        result: What :func:`lint` returned for the folder.
        unsafe: Also move and delete weight files (``--unsafe-fixes``).
        dry_run: Return the operations without changing anything.

    Returns:
        The operations applied (or planned), withheld and skipped.

    Raises:
        OutputError: a file cannot be written, moved or deleted.

    """
    if is_hub(result.root):
        raise UsageError(
            f"{result.root} is on the Hub: fixes change files, so lint a clone to fix it"
        )
    return fixes.apply(result.root, result.fix_ops(), unsafe=unsafe, dry_run=dry_run)


def _lint_hub(
    address: str, select: Iterable[str] | None, ignore: Iterable[str] | None
) -> LintResult:
    """Lint a Hub address through its header-only mirror; the result names the address."""
    from weightfit.hub import open_mirror

    mirror = open_mirror(address, purpose="lint")
    with mirror.errors():
        result = lint(mirror.path, select=select, ignore=ignore)
    result.root = address
    result.violations = [
        dataclasses.replace(v, message=mirror.name(v.message)) for v in result.violations
    ]
    return result
