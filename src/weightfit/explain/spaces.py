"""An agent's saved observation or action space against its environment's (Stable-Baselines3).

``ValueError: Observation spaces do not match: Box(low, high, (8,), float32) != Box(...)``:
the agent's file records the spaces it was trained on, and loading it beside an environment
compares them. Each side is read as the shapes of its ``Box`` entries, in order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SPACES = re.compile(r"\b(Observation|Action)\s+spaces\s+do\s+not\s+match:\s*")
SPACE_SHAPE = re.compile(r"\((\d+(?:,\s*\d+)*),?\)")
"""A space's shape as Python prints a tuple: ``(3,)``, ``(84, 84, 4)``."""


@dataclass(frozen=True)
class SpaceMismatch:
    """The saved space's shapes and the environment's, per ``Box``, in the order printed."""

    kind: str
    saved: tuple[tuple[int, ...], ...]
    environment: tuple[tuple[int, ...], ...]

    @property
    def same_shapes(self) -> bool:
        """Whether both spaces hold arrays of the same shapes (bounds or dtypes differ)."""
        return bool(self.saved) and self.saved == self.environment


def space_mismatch(text: str) -> SpaceMismatch | None:
    """The first ``... spaces do not match: A != B`` of a text, its sides read to shapes."""
    said = SPACES.search(text)
    if said is None:
        return None
    saved, end = _space(text, said.end())
    rest = text[end:].lstrip()
    if not rest.startswith("!="):
        return None
    environment, _ = _space(rest, 2)
    return SpaceMismatch(said.group(1).lower(), _shapes(saved), _shapes(environment))


def _space(text: str, start: int) -> tuple[str, int]:
    """One printed space from ``start``: its constructor call, up to its closing parenthesis."""
    depth, began = 0, False
    for at in range(start, len(text)):
        if text[at] == "(":
            depth, began = depth + 1, True
        elif text[at] == ")":
            depth -= 1
            if began and depth == 0:
                return text[start : at + 1], at + 1
    return text[start:], len(text)


def _shapes(space: str) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(int(d) for d in m.group(1).split(",")) for m in SPACE_SHAPE.finditer(space))
