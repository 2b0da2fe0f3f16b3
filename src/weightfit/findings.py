"""Findings and reports: what a comparison concluded, as plain data.

A :class:`Finding` names one cause for a set of differences, with its evidence,
a confidence and the plan operations that would fix it. A :class:`Report` is
what ``check``, ``explain`` and ``adapter check`` return. Rendering lives in
:mod:`weightfit.report`; nothing here prints.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from weightfit.display import Displayable
from weightfit.fix_hint import FixHint
from weightfit.plan import Op

Category = Literal[
    "prefix",
    "rename",
    "vocab_resize",
    "encoder_swap",
    "latent_channels",
    "rank_inflate",
    "pos_embed_resize",
    "num_classes",
    "wrong_variant",
    "quantization",
    "transpose",
    "fused_split",
    "lora_mismatch",
    "dtype_variant",
    "tied_weights",
    "version",
    "partitioned",
    "extra_state",
    "unrelated",
    "missing",
    "unexpected",
    "unknown",
]
CATEGORIES: tuple[str, ...] = Category.__args__  # type: ignore[attr-defined]

Severity = Literal["error", "warning", "info"]
"""``error`` blocks a strict load; ``warning`` loads but is probably wrong; ``info`` is benign."""


NO_SPECIFIC_CAUSE = "no_specific_cause"
"""Evidence key of a catch-all finding (differences no rule explained); it ranks after every
finding that names a cause."""

LOADER_ONLY = "loader_only"
"""Evidence key of a benign finding whose tensors load only through a library's own loader
(a quantized save its config declares, read by ``from_pretrained``): nothing blocks that
load, but no plan turns them into the model built here, so ``fix`` applies none."""

LIST_CUT = "list_cut"
"""Evidence key of a leftover read from a list the paste cut short (``...``): how many
names lack a counterpart is not known, so it ranks after a prefix or rename named surely."""


@dataclass
class Finding:
    """One cause behind a set of differences between a checkpoint and its target.

    Attributes:
        category: Stable identifier of the cause (see ``CATEGORIES``).
        severity: ``error``, ``warning`` or ``info``.
        message: One line naming the cause, with the numbers that matter.
        params: Tensor names the finding covers (checkpoint-side names where both exist).
        evidence: The facts it rests on: names, shapes, matched known dimensions.
        confidence: How sure the rule is, in [0, 1].
        fix: Plan operations that would fix it; empty when none can.
        fix_note: What to change instead, or why no operation can fix it.
    """

    category: Category
    severity: Severity
    message: str
    params: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    confidence: float = 1.0
    fix: list[Op] = field(default_factory=list)
    fix_note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        data = asdict(self)
        data["fix"] = [op.to_dict() for op in self.fix]
        return data

    def __repr__(self) -> str:
        return (
            f"<Finding {self.category} {self.severity} {len(self.params)} params "
            f"conf={self.confidence:.2f}>"
        )


@dataclass
class Report(Displayable):
    """The outcome of comparing a checkpoint with a target.

    Attributes:
        source: What was checked (a path, or ``"<error text>"`` for explain).
        target: What it was checked against.
        findings: Causes, most explanatory first.
        compatible: ``True`` when a strict load would succeed and nothing is wrong.
        summary: Counts: matched, differing, missing, unexpected tensors and more.
        hints: Commands or files that would settle what the input cannot.
        fix_hint: The repair the report suggests, as data (ops and the inputs to
            repeat them on); ``hints`` spells it (:func:`weightfit.fix_hint.spell`).
    """

    source: str
    target: str
    findings: list[Finding] = field(default_factory=list)
    compatible: bool = True
    summary: dict[str, Any] = field(default_factory=dict)
    hints: list[str] = field(default_factory=list)
    fix_hint: FixHint | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data following ``docs/json-schema.md``."""
        return {
            "compatible": self.compatible,
            "source": self.source,
            "target": self.target,
            "findings": [finding.to_dict() for finding in self.findings],
            "summary": self.summary,
            "hints": self.hints,
        }

    def by_category(self, category: str) -> list[Finding]:
        """The findings of one category."""
        return [finding for finding in self.findings if finding.category == category]

    def __repr__(self) -> str:
        verdict = "compatible" if self.compatible else "incompatible"
        return f"<Report {verdict} {len(self.findings)} findings>"
