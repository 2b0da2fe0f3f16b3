"""LoRA adapters that do not fit their base: reshape errors and adapter shape mismatches.

A LoRA loader that reshapes a weight to its layer's shape fails with
``shape '[a, b]' is invalid for input of size N``: the loader expected ``a × b``
elements and got ``N``. Factoring ``N`` against the expected axes recovers the
shape the weight really has (``655360 = 320 × 2048``), and the knowledge tables
name the base that width belongs to (2048: the SDXL context, not SD 1.5's 768).

Adapter tensors (``lora_A`` / ``lora_B``, ``lora_down`` / ``lora_up``) that differ
in a ``load_state_dict`` message are read the same way: the rank axis differs
(``r`` in the adapter config) or the base-model axis does (another base model).
"""

from __future__ import annotations

import math
import re

from weightfit.explain._text import Section, shape
from weightfit.findings import Finding
from weightfit.knowledge import width_labels

RESHAPE = re.compile(r"shape\s+'\[([\d,\s-]*)\]'\s+is\s+invalid\s+for\s+input\s+of\s+size\s+(\d+)")

COMMON_RANKS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
"""LoRA ranks people train with: a flat weight of N elements is often ``r × width``."""

_DOWN = re.compile(r"lora_A|lora_down|lora\.down|lora_embedding_A")
_UP = re.compile(r"lora_B|lora_up|lora\.up|lora_embedding_B")

Shapes = tuple[tuple[int, ...], tuple[int, ...]]


def is_adapter_tensor(name: str) -> bool:
    """Whether a tensor name is one half of a LoRA pair."""
    return bool(_DOWN.search(name) or _UP.search(name))


def parse(text: str) -> list[Section]:
    """Find every reshape error and explain the shape its input really had."""
    numbers = {int(n) for n in re.findall(r"\b\d{2,6}\b", text)}
    sections = []
    for match in RESHAPE.finditer(text):
        expected = shape(match.group(1).replace("-1", ""))
        size = int(match.group(2))
        if not expected or -1 in expected:
            continue
        section = Section(model="", origin="lora", start=match.start())
        section.findings.append(_reshape_finding(expected, size, numbers - {size}))
        section.hints.append(
            "compare the adapter with its base tensor by tensor: "
            "weightfit check LORA_FILE --against BASE_MODEL"
        )
        sections.append(section)
    return sections


def _reshape_finding(expected: tuple[int, ...], size: int, numbers: set[int]) -> Finding:
    candidates = implied_shapes(expected, size)
    scored = sorted(
        candidates,
        key=lambda c: (-(bool(width_labels(c[1])) * 2 + (c[1] in numbers)), c[1]),
    )
    want = math.prod(expected)
    evidence: dict[str, object] = {
        "expected_shape": list(expected),
        "elements": size,
        "expected_elements": want,
    }
    if not scored:
        return Finding(
            category="lora_mismatch",
            severity="error",
            message=(
                f"a weight of {size} elements cannot take the layer's shape {list(expected)} "
                f"({want} elements): the adapter was made for another base model"
            ),
            evidence=evidence,
            confidence=0.5,
            fix_note="use an adapter made for this base model",
        )
    implied, value, axis = scored[0]
    ours = expected[axis] if axis < len(expected) else None
    labels = width_labels(value)
    base_labels = width_labels(ours) if ours else []
    evidence.update(
        {
            "implied_shape": list(implied),
            "implied_width": value,
            "model_width": ours,
            "implied_width_matches": labels,
            "model_width_matches": base_labels,
        }
    )
    fits = f" ({', '.join(labels[:3])})" if labels else ""
    base = f" ({', '.join(base_labels[:2])})" if base_labels else ""
    return Finding(
        category="lora_mismatch",
        severity="error",
        message=(
            f"the adapter does not fit this base: a weight of {size} elements is "
            f"{list(implied)}, the layer expects {list(expected)}; it was made for a base "
            f"of width {value}{fits}, this one is {ours}{base}"
        ),
        evidence=evidence,
        confidence=0.85 if labels else 0.6,
        fix_note=(
            f"not shape-repairable: load the adapter onto the base it was trained for "
            f"(width {value}{fits})"
        ),
    )


def implied_shapes(expected: tuple[int, ...], size: int) -> list[tuple[tuple[int, ...], int, int]]:
    """Shapes of ``size`` elements that differ from ``expected`` in one axis (or a rank split).

    Returns:
        ``(shape, new size of the changed axis, axis)`` for each candidate.
    """
    found = []
    for axis in range(len(expected)):
        others = math.prod(expected) // expected[axis] if expected[axis] else 0
        if others and size % others == 0 and size // others != expected[axis]:
            value = size // others
            found.append(((*expected[:axis], value, *expected[axis + 1 :]), value, axis))
    if not found and len(expected) == 2:
        # A flat adapter half of r × width: try the usual ranks against the expected axes.
        for rank in COMMON_RANKS:
            if size % rank == 0 and width_labels(size // rank):
                found.append(((rank, size // rank), size // rank, 1))
    return found


def adapter_findings(model: str, mismatched: dict[str, Shapes]) -> list[Finding]:
    """Explain mismatched LoRA halves: another rank, or another base model's width."""
    rank: dict[str, tuple[int, int]] = {}
    width: dict[str, tuple[int, int]] = {}
    for name, (have, want) in mismatched.items():
        if len(have) != len(want) or len(have) < 2:
            continue
        rank_axis, base_axis = (0, 1) if _DOWN.search(name) else (1, 0)
        if have[rank_axis] != want[rank_axis]:
            rank[name] = (have[rank_axis], want[rank_axis])
        if have[base_axis] != want[base_axis]:
            width[name] = (have[base_axis], want[base_axis])
    findings = []
    if rank:
        ranks = sorted(set(rank.values()))
        have_r, want_r = ranks[0]
        findings.append(
            Finding(
                category="lora_mismatch",
                severity="error",
                message=(
                    f"adapter rank differs: r={have_r} in the checkpoint, r={want_r} in the "
                    f"adapter the model was set up with ({len(rank)} tensor(s))"
                ),
                params=list(rank),
                evidence={
                    "model": model,
                    "checkpoint_rank": have_r,
                    "model_rank": want_r,
                    "ranks": [list(r) for r in ranks],
                    "count": len(rank),
                },
                confidence=0.9,
                fix_note=(
                    f"set r={have_r} (and the same lora_alpha) in the LoraConfig, or load with "
                    "PeftModel.from_pretrained, which reads the adapter's own config"
                ),
            )
        )
    if width:
        sizes = sorted(set(width.values()))
        have_w, want_w = sizes[0]
        labels = width_labels(have_w)
        findings.append(
            Finding(
                category="lora_mismatch",
                severity="error",
                message=(
                    f"adapter made for another base model: its layers are {have_w} wide, this "
                    f"base's are {want_w} ({len(width)} tensor(s))"
                    + (f"; {have_w} = {', '.join(labels[:2])}" if labels else "")
                ),
                params=list(width),
                evidence={
                    "model": model,
                    "checkpoint_width": have_w,
                    "model_width": want_w,
                    "checkpoint_width_matches": labels,
                    "widths": [list(w) for w in sizes],
                    "count": len(width),
                },
                confidence=0.85,
                fix_note="not shape-repairable: load the adapter onto the base it was trained for",
            )
        )
    return findings
