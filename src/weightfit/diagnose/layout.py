"""The ``saved_layout`` rule: a library's own file layout, which its loader converts.

transformers 5 keeps some models' tensors under other names in memory than in
their files: ViT's ``vit.layers`` are ``vit.encoder.layer`` on disk, GPT-NeoX's
``lm_head`` is ``embed_out``, Mixtral's stacked ``mlp.experts.gate_up_proj`` is
one ``w1`` and one ``w3`` per expert. ``from_pretrained`` converts the file
layout and ``save_pretrained`` writes it back, so hub files and fresh saves
alike hold it. A target built from such a class records the layout
(``extras["saved_layout"]``: model tensor → the names and shapes written for
it, see :func:`weightfit.targets.transformers.add_saved_layout`); a checkpoint
that holds exactly those tensors is in the library's own format, and the
difference is benign (``version``, ``info``). A plain ``load_state_dict`` does
not convert: one-to-one renames carry ``rename`` ops (a plan or ``load_into``
applies them); merged tensors are left to ``from_pretrained``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from weightfit.align.prefix import best_prefix
from weightfit.alignment import Pair
from weightfit.diagnose._context import Context
from weightfit.diagnose.rename import compile_rule, is_wrapper_change, rule_pairs
from weightfit.findings import Finding
from weightfit.manifest import counted
from weightfit.plan import Op

SAVED_LAYOUT = "saved_layout"
"""The target ``extras`` key (:data:`weightfit.targets.transformers.SAVED_LAYOUT`)."""


def saved_layout(ctx: Context) -> None:
    """Report tensors stored in the layout the target's library writes and converts on load."""
    layout = ctx.target.extras.get(SAVED_LAYOUT)
    if not isinstance(layout, Mapping) or not layout:
        return
    # The layout names files as written; a wrapper prefix on top is the prefix rule's.
    by_name = {ctx.renamed(name): name for name in ctx.source.tensors}
    by_name.update((name, name) for name in ctx.source.tensors)
    for written, name in _file_names(ctx, layout).items():
        by_name.setdefault(written, name)
    pairs = {p.source: p for p in ctx.pairs()}
    missing = set(ctx.missing())
    unexpected = set(ctx.unexpected())
    explained: dict[str, list[str]] = {}
    for model_name, written in layout.items():
        if model_name not in ctx.target.tensors or not isinstance(written, Mapping):
            continue
        lookups = [by_name.get(str(name)) for name in written]
        if any(
            source is None or list(ctx.source[source].shape) != list(shape)
            for source, shape in zip(lookups, written.values(), strict=True)
        ):
            continue
        found = [s for s in lookups if s is not None]
        # Each side must still be open, and paired (if at all) with the other.
        tied = [s for s in found if s in pairs and pairs[s].target == model_name]
        sources_open = all(s in unexpected or s in tied for s in found)
        if sources_open and (model_name in missing or tied):
            explained[model_name] = found
    if not explained:
        return
    sources = [s for found in explained.values() for s in found]
    explained_pairs = [pairs[s] for s in sources if s in pairs]
    models = [m for m in explained if m in missing]
    merged = {m: found for m, found in explained.items() if len(found) > 1}
    ctx.add(
        Finding(
            category="version",
            severity="info",
            message=_message(ctx, explained, merged),
            params=sources + models,
            evidence={
                "library": "transformers",
                "renamed": len(explained) - len(merged),
                "merged": {m: found[:4] for m, found in list(merged.items())[:8]},
                "examples": {found[0]: m for m, found in list(explained.items())[:8]},
            },
            confidence=0.95,
            fix=_rename_ops(ctx, explained, explained_pairs),
            fix_note=(
                "from_pretrained converts this layout; a plain load_state_dict needs the renames"
                + (" and cannot merge the split tensors" if merged else "")
            ),
        )
    )
    ctx.consume(pairs=explained_pairs, missing=models, unexpected=sources)


def _file_names(ctx: Context, layout: Mapping[object, object]) -> dict[str, str]:
    """Checkpoint names spelled as the target's files spell them, under the files' own prefix.

    The alignment's prefix is found against the model's names in memory; a base model's
    file read into its task class (``encoder.layer.0…`` against the files'
    ``vit.encoder.layer.0…``) shows its prefix only against the names as written.
    """
    written = [str(n) for names in layout.values() if isinstance(names, Mapping) for n in names]
    transform = best_prefix(list(ctx.source.tensors), written)
    if transform is None or (transform.strip and transform.add):
        return {}  # only a prefix added or dropped whole, never a module renamed in passing
    spelled = ((transform.apply(name), name) for name in ctx.source.tensors)
    return {file_name: name for file_name, name in spelled if file_name is not None}


def _message(ctx: Context, explained: dict[str, list[str]], merged: dict[str, list[str]]) -> str:
    """Say how many tensors are in the saved layout, with one rename and one merge as examples."""
    target_class = str(ctx.target.extras.get("target_class", "the model")).rsplit(".", 1)[-1]
    count = sum(len(found) for found in explained.values())
    model_name, found = next(iter(explained.items()))
    example = f"{found[0]} → {model_name}"
    if merged:
        name, parts = next(iter(merged.items()))
        example += f"; {len(parts)} tensors → {name}"
    return (
        f"benign: {counted(count, 'checkpoint tensor')} {'is' if count == 1 else 'are'} in the "
        "file layout transformers' "
        f"save_pretrained writes for {target_class}, which from_pretrained converts on load "
        f"(e.g. {example})"
    )


def _rename_ops(ctx: Context, explained: dict[str, list[str]], paired: list[Pair]) -> list[Op]:
    """Return rename ops for the one-to-one renames, merged tensors having none.

    An alignment rule whose pairs are all explained renames them in one op; the
    tensors no such rule covers get one op each.
    """
    ones = {found[0]: model for model, found in explained.items() if len(found) == 1}
    compiled = [compile_rule(rule) for rule in ctx.alignment.renames]
    ops: list[Op] = []
    covered: set[str] = set()
    explained_sources = {p.source for p in paired}
    transform = ctx.alignment.prefix
    if transform is not None and not is_wrapper_change(transform):
        # A prefix that renames the top module (``vit.encoder.layer.`` → ``vit.layers.``)
        # is part of the layout: its op goes first when it moves only explained tensors.
        moved = {p.source for p in ctx.pairs() if p.via == "prefix"}
        if moved and moved <= explained_sources:
            ops.append(
                Op(
                    "rename",
                    {"strip": transform.strip, "add": transform.add},
                    "saved layout: from_pretrained renames the top module",
                )
            )
            covered |= moved
    for index, group in rule_pairs(ctx, compiled).items():
        names = {p.source for p in group}
        if names <= explained_sources and all(ones.get(p.source) == p.target for p in group):
            ops.append(compiled[index].op("saved layout: from_pretrained renames these"))
            covered |= names
    for source, model in ones.items():
        if source in covered or ctx.renamed(source) == model:
            continue  # the prefix op alone names it as the model does
        ops.append(
            Op(
                "rename",
                {
                    "pattern": re.escape(ctx.renamed(source)),
                    "replacement": model.replace("\\", "\\\\"),
                },
                "saved layout: from_pretrained renames this",
            )
        )
    return ops
