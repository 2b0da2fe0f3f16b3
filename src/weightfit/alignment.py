"""The result of aligning a checkpoint's manifest with a target's, as plain data.

:mod:`weightfit.align` computes it; :mod:`weightfit.diagnose` reads it. Names on
the ``source`` side are the checkpoint's, on the ``target`` side the model's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from weightfit.manifest import Manifest

MatchKind = Literal["exact", "prefix", "rename", "structure"]

InferredKind = Literal[
    "rename",
    "transpose",
    "reshape",
    "concat",
    "split",
    "stack",
    "stack_concat",
    "unstack",
    "unstack_split",
]


@dataclass(frozen=True)
class PrefixTransform:
    """One global change of name prefix: ``strip`` from the source, then ``add``.

    ``module.x`` → ``x`` is ``PrefixTransform(strip="module.", add="")``.
    """

    strip: str
    add: str

    def apply(self, name: str) -> str | None:
        """The transformed name, or ``None`` when ``name`` lacks the prefix to strip."""
        if not name.startswith(self.strip):
            return None
        return self.add + name[len(self.strip) :]


@dataclass(frozen=True)
class RenameRule:
    """A templated rename over layer indices, e.g. ``blocks.{i}.attn.proj`` → ``...to_out.0``.

    Attributes:
        source: Template on the checkpoint side, ``{i}`` standing for an index.
        target: Template on the model side.
        count: How many tensor pairs it explains.
        score: Confidence in [0, 1] from shape, dtype, name tokens and position.
    """

    source: str
    target: str
    count: int
    score: float


@dataclass(frozen=True)
class Pair:
    """A checkpoint tensor matched to a model tensor by name (shapes may still differ)."""

    source: str
    target: str
    via: MatchKind


@dataclass(frozen=True)
class FusedGroup:
    """Several tensors on one side that make one tensor on the other (q, k, v ↔ qkv).

    Attributes:
        parts: Names of the separate tensors, in concatenation order.
        fused: Name of the fused tensor.
        parts_side: ``"source"`` when the checkpoint holds the parts, else ``"target"``.
        axis: Axis along which the parts concatenate.
    """

    parts: tuple[str, ...]
    fused: str
    parts_side: Literal["source", "target"]
    axis: int = 0


@dataclass(frozen=True)
class Inferred:
    """A mapping between two naming schemes chosen by structure, not by the names.

    Attributes:
        sources: Checkpoint names (as the prefix transform leaves them), in order.
        targets: Model names, in order.
        kind: How the values move: ``rename`` (as is), ``transpose``, ``reshape``,
            ``concat`` / ``split`` (axis 0), ``stack`` / ``unstack`` (experts on
            axis 0), ``stack_concat`` / ``unstack_split`` (experts on axis 0 of
            parts fused on axis 1).
        evidence: What chose it, in words.
        score: How sure, in [0, 1].
        parts: For the ``stack*`` kinds, how many fused parts the sources hold.
    """

    sources: tuple[str, ...]
    targets: tuple[str, ...]
    kind: InferredKind
    evidence: str
    score: float
    parts: int = 1


@dataclass(frozen=True)
class Ambiguity:
    """Model tensors several checkpoint tensors fit equally well: left for a person."""

    targets: tuple[str, ...]
    candidates: tuple[str, ...]
    evidence: str


@dataclass
class Alignment:
    """How two manifests line up.

    Attributes:
        source: The checkpoint's manifest.
        target: The target's manifest.
        pairs: Matched tensors, exact names first.
        prefix: The global prefix transform applied, if one explained leftovers.
        renames: Templated renames inferred for what was still unmatched.
        fused: Many-to-one groups found among the leftovers.
        inferred: Mappings the structural matcher chose (checkpoint names after the prefix).
        ambiguous: What it could not decide, with the candidates.
        missing: Target names no checkpoint tensor matched.
        unexpected: Checkpoint names no target tensor matched.
    """

    source: Manifest
    target: Manifest
    pairs: list[Pair] = field(default_factory=list)
    prefix: PrefixTransform | None = None
    renames: list[RenameRule] = field(default_factory=list)
    fused: list[FusedGroup] = field(default_factory=list)
    inferred: list[Inferred] = field(default_factory=list)
    ambiguous: list[Ambiguity] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)

    def shape_mismatches(self) -> list[Pair]:
        """Pairs whose shapes differ."""
        return [
            pair
            for pair in self.pairs
            if self.source[pair.source].shape != self.target[pair.target].shape
        ]

    def __repr__(self) -> str:
        return (
            f"<Alignment {len(self.pairs)} pairs, {len(self.missing)} missing, "
            f"{len(self.unexpected)} unexpected>"
        )
