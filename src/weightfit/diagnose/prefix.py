"""The ``prefix`` rule: one global name prefix differs (``module.``, ``_orig_mod.`` ...).

The alignment found the prefix from the names themselves; this rule turns it
into one finding (never one row per tensor) and says which wrapper writes it.
A prefix that renames the top module instead (``blocks.`` → ``transformer_blocks.``)
belongs to the ``rename`` finding.
"""

from __future__ import annotations

from weightfit.align.prefix import WRAPPER_SEGMENTS
from weightfit.diagnose._context import Context
from weightfit.diagnose.rename import is_wrapper_change
from weightfit.findings import Finding
from weightfit.plan import Op

# What writes each wrapper segment, for the message only: detection never
# depends on this list (the alignment derives the prefix from the data).
_WRAPPERS = {
    "module.": "DistributedDataParallel / DataParallel",
    "_orig_mod.": "torch.compile (OptimizedModule)",
    "_fsdp_wrapped_module.": "FSDP",
    "_checkpoint_wrapped_module.": "activation checkpointing (checkpoint_wrapper)",
    "base_model.model.": "PEFT (PeftModel)",
    "model.diffusion_model.": "the original LDM / Stable Diffusion code",
    "state_dict.": "a nested state_dict saved whole",
}


def prefix(ctx: Context) -> None:
    """Report the global prefix transform, with the rename op that applies it."""
    transform = ctx.alignment.prefix
    if transform is None or not is_wrapper_change(transform):
        return
    # A pair an earlier rule explained (a library converter's layout) is not reported again.
    covered = [
        p.source
        for p in ctx.alignment.pairs
        if p.via == "prefix" and p.source not in ctx.done_pairs
    ]
    if not covered:
        # Every pair was renamed further (inferred across naming schemes): those
        # renames are written in names after the prefix transform, so it still applies.
        covered = [
            p.source
            for p in ctx.alignment.pairs
            if p.via != "exact"
            and p.source not in ctx.done_pairs
            and transform.apply(p.source) not in (None, p.source)
        ]
    if not covered or _sibling_fits(ctx, transform.strip, transform.add):
        return
    strip, add = transform.strip, transform.add
    inner = [f"{word}." for word in (strip + add).split(".") if f"{word}." in _WRAPPERS]
    wrapper = _WRAPPERS.get(strip) or _WRAPPERS.get(add) or (_WRAPPERS[inner[0]] if inner else None)
    if strip and add:
        what = f"checkpoint names start with {strip!r} where the model's start with {add!r}"
    elif strip:
        what = f"checkpoint names carry the prefix {strip!r} that the model's lack"
    else:
        what = f"model names carry the prefix {add!r} that the checkpoint's lack"
    by = f" (written by {wrapper})" if wrapper else ""
    message = f"{what}{by}: {len(covered)} tensors"
    op = Op("rename", {"strip": strip, "add": add}, reason=f"prefix {strip!r} → {add!r}")
    evidence = {
        "strip": strip,
        "add": add,
        "tensors": len(covered),
        "of_checkpoint": len(ctx.source),
        "example": {"checkpoint": covered[0], "model": transform.apply(covered[0])},
    }
    if wrapper:
        evidence["wrapper"] = wrapper
    ctx.add(
        Finding(
            category="prefix",
            severity="error",
            message=message,
            params=covered,
            evidence=evidence,
            confidence=1.0 if len(covered) > 1 else 0.8,
            fix=[op],
        )
    )


def _sibling_fits(ctx: Context, strip: str, add: str) -> bool:
    """Whether another top module of the checkpoint, a different part, fits where it does.

    A VAE's ``encoder.*`` and ``decoder.*`` both land on a UNet's names when their top
    segment is stripped (``mid_block.*`` both, ``down_blocks.*`` one and ``up_blocks.*`` the
    other): the file holds two parts of another model, and neither is a prefix. Two copies
    of one network (``generator.`` beside ``generator_ema.``, a student and its teacher)
    land on the same names: the prefix picks one. A wrapper's segment is exempt.
    """
    if add or not strip or all(w in WRAPPER_SEGMENTS for w in strip.strip(".").split(".")):
        return False
    targets = set(ctx.target.tensors)
    fits: dict[str, set[str]] = {}
    for name in ctx.source.tensors:
        top, _, rest = name.partition(".")
        if rest in targets:
            fits.setdefault(f"{top}.", set()).add(rest)
    own = fits.get(strip, set())
    return any(
        top != strip and held & own and held - own and own - held for top, held in fits.items()
    )
