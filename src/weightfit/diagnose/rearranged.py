"""The ``rearranged`` rule: the same modules, built or placed differently by another code version.

A text's missing and unexpected names that sit in the same places of the model, but not
as a renaming would put them, tell that the code which saved the checkpoint builds those
modules otherwise than the code that builds the model:

- one side has a module's parameters directly, the other a sub-module there
  (``patch_embed.proj.weight`` against ``patch_embed.proj.0.weight``, ``head.weight``
  against ``head.fc.weight``): a layer became a block, or a block a layer;
- the same module path with other layer indices (``layers.0.downsample.*`` against
  ``layers.3.downsample.*``): a module moved to another stage;
- the same numbered block holding other sub-modules (``ups.0.3.net.0`` against
  ``ups.0.3.1``): the block is built otherwise.

When these account for every leftover name on both sides, the cause is a code version
(a release that changed the architecture's layout, a modified copy of a library), which
no tensor operation fixes without knowing both layouts.
"""

from __future__ import annotations

from weightfit.diagnose._context import Context, layer_template
from weightfit.findings import Finding
from weightfit.tree import is_layer_index

MIN_SHARE = 0.9
"""Share of each side's leftover names the two relations must account for."""

MIN_CUT_SHARE = 0.2
"""The least share of the other side they must account for when the text cut a list short."""


def rearranged(ctx: Context) -> None:
    """Report missing and unexpected names that are the same modules, arranged otherwise."""
    if not ctx.partial or ctx.mismatches():
        return
    missing, unexpected = ctx.missing(), ctx.unexpected()
    if not missing or not unexpected:
        return
    nested = _nested_pairs(missing, unexpected) + _rebuilt_blocks(missing, unexpected)
    moved = _moved(missing, unexpected)
    explained_missing = {m for m, _ in nested} | {m for m, _ in moved}
    explained_unexpected = {u for _, u in nested} | {u for _, u in moved}
    shares = sorted(
        (len(explained_missing) / len(missing), len(explained_unexpected) / len(unexpected))
    )
    # A list cut short ('...') leaves the other list's counterparts unread: one side's
    # account must be whole, the other's only begun.
    enough = MIN_CUT_SHARE if ctx.facts.get("truncated") else MIN_SHARE
    if shares[1] < MIN_SHARE or shares[0] < enough:
        return
    modules = sorted({_common_module(m, u) for m, u in nested})
    templates = sorted({layer_template(m) for m, _ in moved})
    parts = []
    if modules:
        parts.append(f"{', '.join(modules[:3])} built otherwise (a layer against a block)")
    if templates:
        parts.append(f"{', '.join(templates[:2])} in other layers")
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                "the checkpoint's code arranges these modules differently from the model's: "
                + "; ".join(parts)
                + ": the same architecture in another release or a modified copy of its code"
            ),
            params=[*unexpected, *missing],
            evidence={
                "built_otherwise": modules[:8],
                "moved": templates[:8],
                "missing": len(missing),
                "unexpected": len(unexpected),
            },
            confidence=0.5,
            fix_note=(
                "build the model with the code (library version, fork) the checkpoint was "
                "saved with; weightfit check CKPT --against TARGET maps what can be mapped"
            ),
        )
    )
    ctx.consume(missing=missing, unexpected=unexpected)


def _module(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else ""


def _nested_pairs(missing: list[str], unexpected: list[str]) -> list[tuple[str, str]]:
    """Pairs where one name's module holds the other's module (or is it, with another leaf)."""
    pairs = []
    missing_modules = {m: _module(m) for m in missing}
    unexpected_modules = {u: _module(u) for u in unexpected}
    for m, m_module in missing_modules.items():
        for u, u_module in unexpected_modules.items():
            if not m_module or not u_module or m_module == u_module:
                continue  # same module, other leaf: a renaming's business
            if u_module.startswith(m_module + ".") or m_module.startswith(u_module + "."):
                pairs.append((m, u))
    return pairs


def _rebuilt_blocks(missing: list[str], unexpected: list[str]) -> list[tuple[str, str]]:
    """Pairs filling the same numbered block with other sub-modules.

    ``unets.0.ups.0.3.net.0.weight`` against ``unets.0.ups.0.3.1.weight``: block 3 of
    ``ups.0`` holds a ``net`` Sequential on one side, a plain layer list on the other.
    """
    pairs = []
    for m in missing:
        for u in unexpected:
            shared = _shared_prefix(m.split("."), u.split("."))
            if (
                shared
                and is_layer_index(shared[-1])
                and len(shared) < min(len(m.split(".")), len(u.split("."))) - 1
            ):
                pairs.append((m, u))
    return pairs


def _shared_prefix(a: list[str], b: list[str]) -> list[str]:
    shared = []
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        shared.append(x)
    return shared


def _moved(missing: list[str], unexpected: list[str]) -> list[tuple[str, str]]:
    """Pairs with the same name once layer indices are folded, in other layers."""
    by_template: dict[str, list[str]] = {}
    for u in unexpected:
        by_template.setdefault(layer_template(u), []).append(u)
    return [
        (m, u)
        for m in missing
        for u in by_template.get(layer_template(m), [])
        if layer_template(m) != m
    ]


def _common_module(a: str, b: str) -> str:
    """The place both sides fill: the module holding the other's, or the block both share."""
    first, second = _module(a), _module(b)
    if first.startswith(second + ".") or second.startswith(first + "."):
        return first if len(first) <= len(second) else second
    return ".".join(_shared_prefix(first.split("."), second.split(".")))
