"""Plans: ordered, named, reviewable operations that turn one manifest into another.

A plan is data. It is saved as YAML (or JSON) for a person to read and edit,
and it is the only input the applier takes. Each operation is either *exact*
(the bytes are kept or only rearranged), *inferred* (bytes only rearranged, along
a mapping between naming schemes that was guessed, with its evidence and score)
or *needs review* (new values are made up or information is lost). The kinds,
their arguments and their safety are declared once, in
:data:`weightfit.ops.REGISTRY`; ``docs/plans.md`` describes every operation.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import yaml

from weightfit.errors import InvalidPlan, PlanNotFound
from weightfit.ops import KINDS, OPS, safety_of
from weightfit.ops.context import Safety as Safety  # re-exported: Op.safety's type
from weightfit.source_identity import FileIdentity
from weightfit.yaml_limits import expansion_problem

PLAN_VERSION = 1
"""Version of the plan file format; bumped on any incompatible change."""

if TYPE_CHECKING:
    OpKind: TypeAlias = str
else:
    OpKind = Literal[KINDS]
"""The built-in op kinds: derived from the op registry (:data:`weightfit.ops.REGISTRY`)."""


@dataclass
class Op:
    """One named plan operation.

    Attributes:
        kind: What the operation does (see ``docs/plans.md``).
        args: Its arguments, plain JSON values (names, patterns, axes, sizes).
        reason: Why it is in the plan, usually the finding that asked for it.
        inferred: For an op that rests on a guessed mapping between two naming
            schemes: the evidence that chose it and its score (``{"evidence",
            "score"}``); ``None`` when the op follows from the names alone.
    """

    kind: OpKind
    args: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    inferred: dict[str, Any] | None = None

    @property
    def safety(self) -> Safety:
        """Its :class:`OpSpec`'s safety; an exact op on a guessed mapping is *inferred*."""
        safety = safety_of(self.kind, self.args)
        if safety is Safety.EXACT and self.inferred:
            return Safety.INFERRED
        return safety

    def to_dict(self) -> dict[str, Any]:
        """Plain data, with the safety written out (``inferred`` only when set)."""
        data: dict[str, Any] = {"kind": self.kind, "args": self.args, "reason": self.reason}
        if self.inferred:
            data["inferred"] = self.inferred
        data["safety"] = self.safety.value
        return data

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.args.items())
        return f"<Op {self.kind}({args}) {self.safety.value}>"


@dataclass
class Plan:
    """An ordered list of operations, with what it was made from and for.

    Attributes:
        ops: The operations, applied in order.
        source: The checkpoint the plan was made from.
        target: The target the result must match.
        version: Plan file format version.
        source_files: Identity of each file the plan was made from (``fix`` records
            it, ``apply`` checks it); empty for a plan written by hand.
    """

    ops: list[Op] = field(default_factory=list)
    source: str = ""
    target: str = ""
    version: int = PLAN_VERSION
    source_files: list[FileIdentity] = field(default_factory=list)

    @property
    def needs_review(self) -> list[Op]:
        """Operations that make up values or lose information."""
        return [op for op in self.ops if op.safety is Safety.NEEDS_REVIEW]

    @property
    def inferred(self) -> list[Op]:
        """Operations that rest on a guessed mapping (review them before trusting values)."""
        return [op for op in self.ops if op.safety is Safety.INFERRED]

    def to_dict(self) -> dict[str, Any]:
        """Plain data, with each op's safety written out for the reader."""
        data: dict[str, Any] = {"version": self.version, "source": self.source}
        if self.source_files:
            data["source_files"] = [asdict(identity) for identity in self.source_files]
        data["target"] = self.target
        data["ops"] = [op.to_dict() for op in self.ops]
        return data

    def digest(self) -> str:
        """SHA-256 of the plan's canonical JSON: what provenance stamps record."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def dump(self, path: str | Path) -> None:
        """Write the plan as YAML (``.yaml``/``.yml``) or JSON (anything else)."""
        path = Path(path)
        path.write_text(self.dumps(path.suffix), encoding="utf-8")

    def dumps(self, suffix: str = ".yaml") -> str:
        """The plan as YAML (``suffix`` ``.yaml``/``.yml``) or JSON (anything else)."""
        data = self.to_dict()
        if suffix in (".yaml", ".yml"):
            return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        return json.dumps(data, indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, origin: str = "<plan>") -> Plan:
        """Build a plan from plain data, checking its version and op kinds.

        Raises:
            InvalidPlan: wrong version, unknown op kind, or malformed entries.
        """
        if not isinstance(data, dict):
            raise InvalidPlan("a plan must be a mapping with 'version' and 'ops'", path=origin)
        version = data.get("version")
        if version != PLAN_VERSION:
            raise InvalidPlan(
                f"plan version {version!r} is not supported (expected {PLAN_VERSION})", path=origin
            )
        entries = data.get("ops") or []
        if not isinstance(entries, list):
            raise InvalidPlan(f"'ops' must be a list, found {type(entries).__name__}", path=origin)
        ops = []
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict) or entry.get("kind") not in OPS:
                raise InvalidPlan(f"op #{index} has no known 'kind': {entry!r}", path=origin)
            args = entry.get("args") or {}
            if not isinstance(args, dict):
                raise InvalidPlan(f"op #{index} 'args' must be a mapping: {args!r}", path=origin)
            inferred = entry.get("inferred")
            if inferred is not None and not isinstance(inferred, dict):
                raise InvalidPlan(
                    f"op #{index} 'inferred' must be a mapping: {inferred!r}", path=origin
                )
            ops.append(
                Op(
                    kind=entry["kind"],
                    args=dict(args),
                    reason=str(entry.get("reason", "")),
                    inferred=dict(inferred) if inferred else None,
                )
            )
        files = data.get("source_files") or []
        if not isinstance(files, list):
            raise InvalidPlan(f"'source_files' must be a list: {files!r}", path=origin)
        return cls(
            ops=ops,
            source=str(data.get("source", "")),
            target=str(data.get("target", "")),
            source_files=[FileIdentity.from_dict(entry, origin=origin) for entry in files],
        )

    @classmethod
    def load(cls, path: str | Path) -> Plan:
        """Read a plan written by :meth:`dump` (or edited by hand).

        Raises:
            PlanNotFound: there is no such file.
            InvalidPlan: the file is not a valid plan.
        """
        path = Path(path)
        if not path.exists():
            raise PlanNotFound("no such file", path=path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise InvalidPlan(f"cannot read plan ({error})", path=path) from error
        problem = expansion_problem(data, "plan")
        if problem is not None:
            raise InvalidPlan(problem, path=path)
        return cls.from_dict(data, origin=str(path))

    def __repr__(self) -> str:
        return f"<Plan {len(self.ops)} ops, {len(self.needs_review)} need review>"
