"""The ``moe_dense`` rule: a mixture-of-experts model against a dense one of its family.

Mixtral is Mistral with each layer's MLP replaced by a router and several experts
(Qwen2-MoE, DeepSeek-MoE, OLMoE and Switch Transformers likewise). Between two whole
files, when only one side holds expert tensors and every difference lies in layers
whose MLP holds them there, the two are the sparse and the dense variant of one
architecture (``wrong_variant``): the naming rules would otherwise pair the router
(``mlp.gate``, ``[8, 4096]``) with the dense ``mlp.gate_proj`` by their names. Averaging
or picking experts makes another model, so no plan is offered.
"""

from __future__ import annotations

import re

from weightfit.diagnose._context import Context
from weightfit.findings import Finding
from weightfit.tree import stack_of

EXPERT = re.compile(r"(?:^|\.)(?:experts|block_sparse_moe|moe)(?:\.|$)")
"""Names of tensors only a mixture-of-experts layer holds (``mlp.experts.gate_up_proj``,
Mixtral's ``block_sparse_moe.experts.3.w1``, ``mlp.moe.…``)."""

EXPERT_INDEX = re.compile(r"\.experts\.(\d+)\.")
"""An expert kept as its own module (transformers 4's Mixtral, Switch Transformers)."""


def moe_dense(ctx: Context) -> None:
    """Report experts on one side, a dense MLP on the other, and no other difference."""
    if ctx.partial or ctx.findings:
        return
    experts = {
        side: [n for n in manifest.tensors if EXPERT.search(n)]
        for side, manifest in (("checkpoint", ctx.source), ("model", ctx.target))
    }
    if bool(experts["checkpoint"]) == bool(experts["model"]):
        return
    sparse = "checkpoint" if experts["checkpoint"] else "model"
    layers = {found for n in experts[sparse] if (found := stack_of(n)) is not None}
    open_pairs = [p for p in ctx.pairs() if p.via != "exact" or p in ctx.mismatches()]
    names = [
        *ctx.missing(),
        *(ctx.renamed(n) for n in ctx.unexpected()),
        *(p.target for p in open_pairs),
    ]
    if not layers or not names or any(stack_of(n) not in layers for n in names):
        return  # a difference outside the expert layers has a cause of its own
    count = _experts_per_layer(ctx, experts[sparse], sparse)
    dense = "model" if sparse == "checkpoint" else "checkpoint"
    ctx.add(
        Finding(
            category="wrong_variant",
            severity="error",
            message=(
                f"the {sparse} is a mixture-of-experts variant"
                + (f" ({count} experts per layer)" if count else "")
                + f" and the {dense} a dense one: the MLP of {len(layers)} layers differs, "
                "nothing else"
            ),
            params=[*(p.source for p in open_pairs), *ctx.unexpected()],
            evidence={
                "sparse_side": sparse,
                "experts_per_layer": count,
                "layers": len(layers),
                "expert_tensors": len(experts[sparse]),
                "example": experts[sparse][0],
            },
            confidence=0.85,
            fix_note=(
                f"build the model as the {sparse}'s variant (the mixture-of-experts class and "
                "config), or use a checkpoint of the other: averaging or picking experts makes "
                "another model, which no plan pretends to convert"
            ),
        )
    )
    ctx.consume(pairs=open_pairs, missing=ctx.missing(), unexpected=ctx.unexpected())


def _experts_per_layer(ctx: Context, names: list[str], side: str) -> int | None:
    """How many experts a layer holds: expert modules' indices, or a stacked leading axis."""
    indices = {int(m.group(1)) for n in names if (m := EXPERT_INDEX.search(n))}
    if indices:
        return max(indices) + 1
    manifest = ctx.source if side == "checkpoint" else ctx.target
    stacked = {manifest.tensors[n].shape[0] for n in names if len(manifest.tensors[n].shape) == 3}
    return stacked.pop() if len(stacked) == 1 else None
