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

from weightfit.align.prefix import WRAPPER_SEGMENTS
from weightfit.alignment import Pair, PrefixTransform, RenameRule
from weightfit.diagnose import _known
from weightfit.diagnose._context import Context, layer_template
from weightfit.findings import Finding
from weightfit.manifest import counted
from weightfit.plan import Op

_SLOT = re.compile(r"\\\{([a-z]\d*)\\\}")

RULE_EVIDENCE = "name words, shape, dtype and position in the layer"
"""What a rename rule of :mod:`weightfit.align.rename` rests on."""

TOP_MODULE_EVIDENCE = "one leading path differs for every tensor that matches after it"
TOP_MODULE_SCORE = 0.9
"""A renamed top module is guessed from names like any rule: inferred, never exact."""


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

    def op(self, reason: str, *, inferred: bool = False) -> Op:
        """Return the ``rename`` op applying this rule.

        With ``inferred`` (a rule guessed from names, not known from a table) the
        op carries its evidence and score, so it is never reported exact.
        """
        note = {"evidence": RULE_EVIDENCE, "score": self.rule.score} if inferred else None
        return Op(
            "rename", {"pattern": self.pattern, "replacement": self.replacement}, reason, note
        )


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
    """Group the open rename pairs by the (index of the) rule that produces each.

    Names folded to the same layer template share their rule, so each template
    is matched against the rules once, not each name.
    """
    grouped: dict[int, list[Pair]] = {}
    by_template: dict[str, int | None] = {}
    for pair in ctx.pairs():
        if pair.via != "rename":
            continue
        name = ctx.renamed(pair.source)
        key = layer_template(name)
        if key not in by_template:
            by_template[key] = next(
                (i for i, rule in enumerate(compiled) if rule.maps(name, pair.target)), None
            )
        index = by_template[key]
        if index is not None:
            grouped.setdefault(index, []).append(pair)
    return grouped


def is_wrapper_change(transform: PrefixTransform) -> bool:
    """Whether a prefix transform adds or strips a wrapper, rather than renaming a module.

    ``module.`` → ``""`` and ``model.`` → ``transformer.`` are wrappers;
    ``blocks.`` → ``transformer_blocks.`` renames the top module, which is the
    same cause as the renames below it (another implementation's naming).
    A wrapper put around one submodule (``encoder._orig_mod.`` → ``encoder.``: that part
    compiled, or wrapped in DataParallel, alone) is a wrapper too.
    """
    if not transform.strip or not transform.add:
        return True
    if _unwrapped(transform.strip) == _unwrapped(transform.add):
        return True
    words = (transform.strip + transform.add).strip(".").split(".")
    return all(word in WRAPPER_SEGMENTS for word in words if word)


INNER_WRAPPER_SEGMENTS = frozenset(
    {"module", "_orig_mod", "_fsdp_wrapped_module", "_checkpoint_wrapped_module"}
)
"""Segments only a wrapper object writes (DDP, torch.compile, FSDP, activation
checkpointing), wherever in a path it wraps a module."""


def _unwrapped(prefix: str) -> list[str]:
    """A prefix's segments without the segments only wrappers write."""
    return [word for word in prefix.split(".") if word not in INNER_WRAPPER_SEGMENTS]


def rename(ctx: Context) -> None:
    """Report the inferred renames no known library change explains, as one finding."""
    compiled = [
        compile_rule(rule)
        for rule in ctx.alignment.renames
        if _known.version_rename(rule.source, rule.target) is None
    ]
    grouped = rule_pairs(ctx, compiled)
    used = [(compiled[i], grouped[i]) for i in sorted(grouped)]
    transform = ctx.alignment.prefix
    moved: list[Pair] = []
    if transform is not None and not is_wrapper_change(transform):
        moved = [p for p in ctx.pairs() if p.via == "prefix"]
    if not used and not moved:
        return
    covered = [p.source for p in moved] + [p.source for _, pairs in used for p in pairs]
    total = len(covered)
    scored = sum(rule.rule.score * len(pairs) for rule, pairs in used)
    score = (scored + TOP_MODULE_SCORE * len(moved)) / total
    shown = [f"{rule.rule.source} → {rule.rule.target} ×{len(pairs)}" for rule, pairs in used]
    if moved and transform is not None:
        shown.insert(0, f"{transform.strip}… → {transform.add}… ×{len(moved)}")
    more = f" and {counted(len(shown) - 1, 'more rule')}" if len(shown) > 1 else ""
    message = (
        f"{total} tensors are stored under other names (another implementation's naming): "
        f"{shown[0]}{more}"
    )
    evidence: dict[str, object] = {
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
    fix = [
        rule.op(f"rename {rule.rule.source} → {rule.rule.target}", inferred=True)
        for rule, _ in used
    ]
    if moved and transform is not None:
        evidence["prefix"] = {"strip": transform.strip, "add": transform.add, "count": len(moved)}
        fix.insert(
            0,
            Op(
                "rename",
                {"strip": transform.strip, "add": transform.add},
                f"rename top module {transform.strip!r} → {transform.add!r}",
                {"evidence": TOP_MODULE_EVIDENCE, "score": TOP_MODULE_SCORE},
            ),
        )
    ctx.add(
        Finding(
            category="rename",
            severity="error",
            message=message,
            params=covered,
            evidence=evidence,
            confidence=round(score, 3),
            fix=fix,
        )
    )
