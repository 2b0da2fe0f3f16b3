"""The ``rename`` rule: the same tensors under other names (another implementation).

The alignment inferred templated rename rules over layer indices; all of them
share one cause (the checkpoint comes from code that names modules otherwise),
so they make one finding with one ``rename`` op per rule. Renames that the
knowledge tables know as a library-version change are left to the ``version``
rule (:mod:`weightfit.diagnose.benign`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from weightfit.alignment import Pair, RenameRule
from weightfit.diagnose import _known
from weightfit.diagnose._context import Context
from weightfit.findings import Finding
from weightfit.plan import Op

_SLOT = re.compile(r"\\\{([a-z]\d*)\\\}")


@dataclass(frozen=True)
class CompiledRule:
    """A rename rule as the regex a plan's ``rename`` op carries."""

    rule: RenameRule
    pattern: str
    replacement: str

    def maps(self, name: str, target: str) -> bool:
        """Whether the rule turns ``name`` into exactly ``target``."""
        match = re.fullmatch(self.pattern, name)
        return match is not None and match.expand(self.replacement) == target

    def op(self, reason: str) -> Op:
        """Return the ``rename`` op applying this rule."""
        return Op("rename", {"pattern": self.pattern, "replacement": self.replacement}, reason)


def compile_rule(rule: RenameRule) -> CompiledRule:
    """Turn ``blocks.{i}.attn.proj`` → ``x.{i}.to_out.0`` into a regex and its replacement.

    The templates stop where the names start to agree, so the pattern (matched
    with ``re.fullmatch``, as plans do) takes the template and any dotted tail,
    which the replacement carries over.
    """
    slots: list[str] = []

    def group(match: re.Match[str]) -> str:
        slots.append(match.group(1))
        return r"(\d+)"

    pattern = _SLOT.sub(group, re.escape(rule.source)) + r"(\..+)?"
    replacement = re.sub(
        r"\{([a-z]\d*)\}",
        lambda m: rf"\g<{slots.index(m.group(1)) + 1}>" if m.group(1) in slots else m.group(0),
        rule.target.replace("\\", "\\\\"),
    )
    replacement += rf"\g<{len(slots) + 1}>"
    return CompiledRule(rule, pattern, replacement)


def rule_pairs(ctx: Context, compiled: list[CompiledRule]) -> dict[int, list[Pair]]:
    """Rename pairs grouped by the (index of the) rule that produces each."""
    grouped: dict[int, list[Pair]] = {}
    for pair in ctx.alignment.pairs:
        if pair.via != "rename":
            continue
        name = ctx.renamed(pair.source)
        for index, rule in enumerate(compiled):
            if rule.maps(name, pair.target):
                grouped.setdefault(index, []).append(pair)
                break
    return grouped


def rename(ctx: Context) -> None:
    """Report the inferred renames no known library change explains, as one finding."""
    compiled = [
        compile_rule(rule)
        for rule in ctx.alignment.renames
        if _known.version_rename(rule.source, rule.target) is None
    ]
    if not compiled:
        return
    grouped = rule_pairs(ctx, compiled)
    used = [(compiled[i], grouped[i]) for i in sorted(grouped)]
    if not used:
        return
    covered = [p.source for _, pairs in used for p in pairs]
    total = sum(len(pairs) for _, pairs in used)
    score = sum(rule.rule.score * len(pairs) for rule, pairs in used) / total
    head = used[0][0].rule
    more = f" and {len(used) - 1} more rule(s)" if len(used) > 1 else ""
    message = (
        f"{total} tensors are stored under other names (another implementation's naming): "
        f"{head.source} → {head.target} ×{len(used[0][1])}{more}"
    )
    evidence = {
        "rules": [
            {
                "checkpoint": rule.rule.source,
                "model": rule.rule.target,
                "count": len(pairs),
                "score": rule.rule.score,
            }
            for rule, pairs in used
        ],
        "tensors": total,
    }
    ctx.add(
        Finding(
            category="rename",
            severity="error",
            message=message,
            params=covered,
            evidence=evidence,
            confidence=round(score, 3),
            fix=[rule.op(f"rename {rule.rule.source} → {rule.rule.target}") for rule, _ in used],
        )
    )
