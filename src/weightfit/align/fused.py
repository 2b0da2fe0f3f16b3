"""Many-to-one structure: separate tensors that make one fused tensor (q, k, v ↔ qkv)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from weightfit.align.names import canonical_segment
from weightfit.manifest import TensorSpec


def fused_groups(
    parts: Mapping[str, TensorSpec], whole: Mapping[str, TensorSpec]
) -> list[tuple[tuple[str, ...], str]]:
    """Sibling tensors on one side that concatenate (axis 0) into one tensor on the other.

    Siblings share a parent module and a leaf (``weight``/``bias``); the fused
    module's name must spell the parts' names in order (``qkv`` = ``q``+``k``+``v``,
    ``gate_up`` = ``gate``+``up``) and the first dimensions must add up.
    """
    siblings: dict[tuple[str, str], list[str]] = defaultdict(list)
    for name in parts:
        parent, module, leaf = _split_module(name)
        if module is not None:
            siblings[(parent, leaf)].append(name)
    found = []
    for name, spec in whole.items():
        parent, module, leaf = _split_module(name)
        if module is None or not spec.shape:
            continue
        candidates = siblings.get((parent, leaf), [])
        spelled = _fused_spelling(module)
        for size in (3, 2):
            match = _find_parts(candidates, parts, spec, spelled, size)
            if match is not None:
                found.append((match, name))
                candidates[:] = [c for c in candidates if c not in match]
                break
    return found


def _split_module(name: str) -> tuple[str, str | None, str]:
    """Split ``a.b.module.leaf`` into parent ``a.b``, module and leaf."""
    segments = name.rsplit(".", 2)
    if len(segments) == 1:
        return "", None, name
    if len(segments) == 2:
        return "", segments[0], segments[1]
    return segments[0], segments[1], segments[2]


def _fused_spelling(module: str) -> str:
    return canonical_segment(module).replace("_", "")


def _find_parts(
    candidates: list[str],
    specs: Mapping[str, TensorSpec],
    fused: TensorSpec,
    spelled: str,
    size: int,
) -> tuple[str, ...] | None:
    """Pick ``size`` candidates whose names spell, and first dims sum to, ``fused``."""
    if len(candidates) < size or len(spelled) < size:
        return None
    words = {c: _fused_spelling(_split_module(c)[1] or "") for c in candidates}
    ordered = _spelling_order(candidates, words, spelled, size)
    if ordered is None:
        return None
    shapes = [specs[c].shape for c in ordered]
    if any(len(s) != len(fused.shape) or s[1:] != fused.shape[1:] for s in shapes):
        return None
    if sum(s[0] for s in shapes) != fused.shape[0]:
        return None
    return tuple(ordered)


def _spelling_order(
    candidates: list[str], words: Mapping[str, str], spelled: str, size: int
) -> list[str] | None:
    """Candidates whose words, concatenated, spell ``spelled`` exactly (depth-first)."""

    def search(rest: str, chosen: list[str]) -> list[str] | None:
        if not rest:
            return chosen if len(chosen) == size else None
        if len(chosen) == size:
            return None
        for candidate in candidates:
            word = words[candidate]
            if candidate not in chosen and word and rest.startswith(word):
                found = search(rest[len(word) :], [*chosen, candidate])
                if found is not None:
                    return found
        return None

    return search(spelled, [])
