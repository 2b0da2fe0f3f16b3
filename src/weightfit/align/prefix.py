"""The one global prefix transform: which leading segments to strip and add.

Derived from the names: every name is split after each of its first few
non-index segments, and a tail shared by a source and a target name votes for
that pair of heads. When renames hide every tail, a run of wrapper words that
every name on one side starts with is the fallback.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from weightfit.alignment import PrefixTransform
from weightfit.tree import is_layer_index

MAX_PREFIX_SEGMENTS = 4
"""Longest prefix (in dotted segments) the prefix pass considers on either side."""

PREFIX_SAMPLE = 4096
"""About how many source names (all with the same few endings) vote for the prefix."""

MAX_PREFIX_COMBINATIONS = 64
"""Skip a shared name tail claimed by more prefix pairs than this (``weight``-like noise)."""

WRAPPER_SEGMENTS = frozenset(
    {
        "module",
        "_orig_mod",
        "_fsdp_wrapped_module",
        "_checkpoint_wrapped_module",
        "model",
        "base_model",
        "diffusion_model",
        "state_dict",
        "transformer",
        "ema",
        "ema_model",
        "net",
        "network",
    }
)
"""Segments that wrap a whole model (DDP, torch.compile, FSDP, PEFT, LDM, EMA ...).

Used only when no shared name tail reveals the prefix: see :func:`_wrapper_prefix`.
"""


def best_prefix(sources: Sequence[str], targets: Sequence[str]) -> PrefixTransform | None:
    """Find the (strip, add) pair of leading segments that maps the most names onto targets.

    Every name is split after each of its first few non-index segments; a tail
    shared by a source and a target name votes for the pair of heads. The winner
    must map at least two names (or every name on the smaller side).
    """
    if not sources or not targets:
        return None
    sampled_sources, sampled_targets = _sample_by_ending(sources, targets)
    source_heads = _heads_by_tail(sampled_sources)
    target_heads = _heads_by_tail(sampled_targets)
    votes: Counter[tuple[str, str]] = Counter()
    for tail, heads in source_heads.items():
        others = target_heads.get(tail)
        if not others or len(heads) * len(others) > MAX_PREFIX_COMBINATIONS:
            continue
        for strip in heads:
            for add in others:
                if strip != add:
                    votes[(strip, add)] += 1
    if not votes:
        return _wrapper_prefix(sources, targets)
    # Most names mapped first; among equals, the shortest (most general) change.
    (strip, add), count = min(
        votes.items(), key=lambda item: (-item[1], len(item[0][0]) + len(item[0][1]), item[0])
    )
    if count < min(2, len(sources), len(targets)):
        return _wrapper_prefix(sources, targets)
    if not _moves_whole_modules(strip, add, sampled_sources, sampled_targets):
        return _wrapper_prefix(sources, targets)
    return PrefixTransform(strip=strip, add=add)


MIN_MOVED_SHARE = 2 / 3
"""Share of the names under a renamed top module that must reappear under its new name."""


def _moves_whole_modules(
    strip: str, add: str, sources: Sequence[str], targets: Sequence[str]
) -> bool:
    """Whether renaming ``strip`` to ``add`` carries most of what ``strip`` holds.

    A module renamed between codebases takes its contents along, under their names or
    renamed (the new module's other names can be those); two look-alike
    submodules of different parts (BERT's masked-LM ``cls.predictions.transform.dense``
    and its ``bert.pooler.dense``, beside a ``LayerNorm`` only one of them has) share a
    tail by chance. A module stripped or added whole must carry most of the names too: a
    ControlNet's ``controlnet_cond_embedding.conv_out`` is no UNet's ``conv_out``, nor a UNet's
    ``up_blocks`` a VAE's ``decoder.up_blocks``. Wrappers (``module.`` → ``""``) and a module
    nested otherwise under the same top module are exempt: renamed layers under them are the
    renames' business.
    """
    words = (strip + add).strip(".").split(".")
    if all(word in WRAPPER_SEGMENTS for word in words if word):
        return True
    if strip and add and strip.split(".", 1)[0] == add.split(".", 1)[0]:
        return True  # one module nested otherwise (``_dynamics.0.`` → ``_dynamics.``): a layout
    under = [name for name in sources if name.startswith(strip)]
    present = set(targets)
    moved = sum(add + name[len(strip) :] in present for name in under)
    # The new module's other names can be the rest renamed (``attn.q`` → ``attn.to_q``);
    # a module dropped or added whole (one side empty) has no new module to hold them.
    room = sum(name.startswith(add) for name in present) - moved if strip and add else 0
    return moved + min(len(under) - moved, max(room, 0)) >= MIN_MOVED_SHARE * len(under)


def _sample_by_ending(
    sources: Sequence[str], targets: Sequence[str]
) -> tuple[Sequence[str], Sequence[str]]:
    """Keep the names of both sides whose last two segments are among a few endings.

    The prefix is global, so a few thousand names vote as well as all of them.
    Every tail that can vote ends with the name's last two segments, so choosing
    names by their ending keeps every source-target pair that shares a tail.
    """
    if len(sources) <= PREFIX_SAMPLE:
        return sources, targets
    by_ending: dict[str, list[str]] = defaultdict(list)
    for name in sources:
        by_ending[_ending(name)].append(name)
    chosen: set[str] = set()
    kept: list[str] = []
    for ending, names in by_ending.items():
        if len(kept) >= PREFIX_SAMPLE:
            break
        chosen.add(ending)
        kept.extend(names)
    return kept, [name for name in targets if _ending(name) in chosen]


def _ending(name: str) -> str:
    """Return the last two dotted segments of a name (all of it when shorter)."""
    cut = name.rfind(".", 0, name.rfind("."))
    return name[cut + 1 :]


def _wrapper_prefix(sources: Sequence[str], targets: Sequence[str]) -> PrefixTransform | None:
    """Fall back to a run of wrapper segments that every name on one side starts with.

    When renames hide every tail (nothing maps exactly), a head made only of
    wrapper words (``module.``, ``_orig_mod.`` ...) shared by all names of one
    side and absent from the other is still the prefix; renames then run on
    the stripped names.
    """
    strip, add = _wrapper_head(sources), _wrapper_head(targets)
    if strip == add:
        return None
    if any(name.startswith(strip) for name in targets) and strip:
        return None
    if any(name.startswith(add) for name in sources) and add:
        return None
    return PrefixTransform(strip=strip, add=add)


def _wrapper_head(names: Sequence[str]) -> str:
    """Return the longest run of wrapper segments every name starts with (``""`` if none)."""
    segments = [name.split(".") for name in names]
    head: list[str] = []
    for position in range(MAX_PREFIX_SEGMENTS):
        words = {s[position] for s in segments if len(s) > position + 1}
        if len(words) != 1 or any(len(s) <= position + 1 for s in segments):
            break
        word = words.pop()
        if word not in WRAPPER_SEGMENTS:
            break
        head.append(word)
    return "".join(f"{word}." for word in head)


def _heads_by_tail(names: Iterable[str]) -> dict[str, list[str]]:
    """Map each tail (of two or more segments) to the leading runs that precede it."""
    heads: dict[str, list[str]] = defaultdict(list)
    for name in names:
        heads[name].append("")
        start = 0
        for _ in range(MAX_PREFIX_SEGMENTS):
            dot = name.find(".", start)
            if dot < 0 or is_layer_index(name[start:dot]) or name.find(".", dot + 1) < 0:
                break
            heads[name[dot + 1 :]].append(name[: dot + 1])
            start = dot + 1
    return heads
