"""The ``wrong_variant`` rule: the checkpoint is another size or configuration.

The width and depth of each side are inferred from the tensors themselves (the
size most axes share; the number of layers in each repeated stack), together
with the conditioning width and input channels, and compared. A difference in
width or depth, or two different known families, makes one finding that names
both sides and the config fields to change; every shape difference it implies
is consumed.

:func:`unexplained_shapes` runs last: shape differences no rule explained are
reported as a configuration difference, with the sizes that changed.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from weightfit.alignment import Pair
from weightfit.diagnose import _known
from weightfit.diagnose._context import (
    Context,
    layer_template,
    main_width,
    shape_text,
)
from weightfit.diagnose.rename import is_wrapper_change
from weightfit.findings import NO_SPECIFIC_CAUSE, Finding
from weightfit.manifest import TensorSpec, counted
from weightfit.tree import format_numbers, stack_of

_DIM_WORDS = {
    "hidden_size": "width {}",
    "num_layers": "{} layers",
    "intermediate_size": "MLP {}",
    "context_dim": "context {}",
    "in_channels": "{} input channels",
    "vocab_size": "vocabulary {}",
}
"""How a finding names each inferred dimension, in the order it lists them."""

DEPTH_KEY = re.compile(r"layer|depth|block", re.IGNORECASE)
"""Config fields that can hold a stack's depth (``num_hidden_layers``, ``n_layer``,
``layers_per_block``): a depth of 4 is no ``in_channels=4``, which holds it by chance."""

_EMBED_WORDS = ("embed", "wte", "tok", "word", "shared")
_CROSS_WORDS = (
    "attn2.to_k",
    "cross_attn.k",
    "cross_attn.kv",
    "cross_attention.k",
    "encoder_attn.k",
)

_CROSS_MODULES = ("attn2.", "cross_attn", "cross_attention", "encoder_attn", "EncDecAttention")
"""Modules attending to another sequence, whose key and value matrices read its width."""


@dataclass
class Profile:
    """What one side's tensors say about the model they belong to.

    Attributes:
        width: The hidden size (the size most axes share).
        depths: Layers per repeated stack, keyed by the stack's name.
        dims: Dimensions in the knowledge tables' vocabulary (``hidden_size``,
            ``num_layers``, ``intermediate_size``, ``context_dim``, ``in_channels``,
            ``model_channels``,
            ``patch_size``, ``vocab_size``), as far as the tensors show them.
        family: Known families the side matches.

    """

    width: int | None
    depths: dict[str, int]
    dims: dict[str, int] = field(default_factory=dict)
    family: list[str] = field(default_factory=list)

    def describe(self, dims: list[str]) -> str:
        """Summarise by the given dimensions and family: ``Llama 2 13B (width 5120, 40 layers)``."""
        shown = ", ".join(_DIM_WORDS[d].format(self.dims[d]) for d in dims if d in self.dims)
        if not self.family:
            return shown or f"width {self.width}"
        return " / ".join(self.family) + (f" ({shown})" if shown else "")


def profile(specs: dict[str, TensorSpec]) -> Profile:
    """Infer a side's width, layer stacks and known dimensions from its tensors."""
    width = main_width(specs.values())
    indices: dict[str, set[int]] = defaultdict(set)
    per_stack: Counter[str] = Counter()
    outside: list[tuple[str, TensorSpec]] = []
    for name, spec in specs.items():
        stack = stack_of(name)
        if stack is None:
            outside.append((name, spec))
        else:
            indices[stack[0]].add(stack[1])
            per_stack[stack[0]] += 1
    result = Profile(width=width, depths={stack: len(found) for stack, found in indices.items()})
    dims = result.dims
    if width is not None:
        dims["hidden_size"] = width
    if per_stack:
        # The stack holding the most tensors is the main one (Flux: 19 double blocks
        # hold more than its 38 single blocks).
        main = per_stack.most_common(1)[0][0]
        dims["num_layers"] = result.depths[main]
        if width is not None:
            inner = _intermediate(specs, main, width)
            if inner is not None:
                dims["intermediate_size"] = inner
    contexts: Counter[int] = Counter()
    for name, spec in specs.items():
        if len(spec.shape) == 2 and any(word in name for word in _CROSS_WORDS):
            contexts[spec.shape[1]] += 1
    if contexts:
        dims["context_dim"] = contexts.most_common(1)[0][0]
    first_conv = next((s for _, s in outside if len(s.shape) >= 4), None)
    if first_conv is not None:
        dims["in_channels"] = first_conv.shape[1]
        dims["model_channels"] = first_conv.shape[0]
        if first_conv.shape[-1] == first_conv.shape[-2]:
            dims["patch_size"] = first_conv.shape[-1]
    for name, spec in outside:
        if (
            width is not None
            and len(spec.shape) == 2
            and spec.shape[1] == width
            and spec.shape[0] > width
            and any(word in name.lower() for word in _EMBED_WORDS)
        ):
            dims["vocab_size"] = spec.shape[0]
            break
    result.family = _known.family_labels(dims, specs)
    return result


def _intermediate(specs: dict[str, TensorSpec], stack: str, width: int) -> int | None:
    """Return the MLP width: the size above ``width`` most matrices of the stack pair with it.

    Cross-attention reads the conditioning's width, not the MLP's (SDXL's 2048-wide
    ``attn2.to_k`` and ``to_v`` outvote its two MLP matrices of other sizes).
    """
    votes: Counter[int] = Counter()
    for name, spec in specs.items():
        if any(word in name for word in _CROSS_MODULES):
            continue
        if len(spec.shape) == 2 and width in spec.shape and name.startswith(stack + "."):
            other = spec.shape[0] if spec.shape[1] == width else spec.shape[1]
            if other > width:
                votes[other] += 1
    return votes.most_common(1)[0][0] if votes else None


def _sides(ctx: Context) -> tuple[Profile, Profile, dict[str, tuple[int, int]]] | None:
    """Profile both sides and the stacks whose depths differ (``None`` when a side is empty)."""
    # Paired checkpoint tensors go under their model names, so stacks line up across renames.
    # Pairs an earlier rule explained (a library's saved layout) still show each side's
    # size: without them two resized embeddings alone would read as a 1002-wide model.
    source_specs = {p.target: ctx.src(p) for p in ctx.alignment.pairs}
    source_specs.update({ctx.renamed(n): ctx.source[n] for n in ctx.unexpected()})
    target_specs = {p.target: ctx.tgt(p) for p in ctx.alignment.pairs}
    target_specs.update({n: ctx.target[n] for n in ctx.missing()})
    if not source_specs or not target_specs:
        return None
    have = profile(source_specs)
    want = profile(target_specs)
    shared = have.depths.keys() & want.depths.keys()
    deeper = {
        s: (have.depths[s], want.depths[s]) for s in shared if have.depths[s] != want.depths[s]
    }
    return have, want, deeper


def known_families(ctx: Context) -> None:
    """Report two known families of one kind (SDXL's UNet against SD 1.x's) before renames.

    Between two files every name is read, and the modules only one family builds are that
    family's: the naming rules would pair them by chance (SD 1.x's ``down_blocks`` onto
    SDXL's ``up_blocks``, one transformer block copied into ten) and plan those pairings.
    """
    prefix = ctx.alignment.prefix
    if ctx.partial or ctx.findings or (prefix is not None and is_wrapper_change(prefix)):
        return  # a converter's layout, or a wrapper's prefix the prefix rule reports first
    if not (ctx.mismatches() or ctx.missing() or ctx.unexpected()):
        return
    sides = _sides(ctx)
    if sides is None:
        return
    have, want, deeper = sides
    if not (have.family and want.family) or set(have.family) & set(want.family):
        return
    _report(ctx, have, want, deeper, ctx.mismatches(), ctx.missing(), ctx.unexpected())
    ctx.consume(pairs=ctx.pairs())  # names the two families share by chance, renamed


def wrong_variant(ctx: Context) -> None:
    """Report another width, depth or known family on the two sides, as one finding."""
    mismatches = ctx.mismatches()
    if not (mismatches or ctx.missing() or ctx.unexpected()):
        return
    sides = _sides(ctx)
    if sides is None:
        return
    have, want, deeper = sides
    wider = have.width is not None and want.width is not None and have.width != want.width
    if wider and ctx.partial:
        # An error text names only the differing tensors, whose most common size is the
        # changed one; it is the hidden width only if the layers both read and write it.
        wider = _read_and_written(ctx, mismatches, (have.width, want.width)) and any(
            w % 8 == 0 for w in (have.width, want.width) if isinstance(w, int)
        )  # hidden widths are multiples of 8; 33 against 25 counts labels, not a width
    families = bool(have.family and want.family and not set(have.family) & set(want.family))
    # Another width (or another known family) changes every shape it touches, so it
    # explains every open mismatch; a depth difference alone explains only the
    # layers one side lacks, and leaves other differences to their own rules.
    structural = wider or (families and bool(mismatches))
    extra_missing = _beyond(ctx.missing(), deeper, side=1)
    extra_unexpected = [n for n in ctx.unexpected() if _beyond([ctx.renamed(n)], deeper, side=0)]
    if ctx.partial and not ctx.facts.get("truncated"):  # a cut list hides what layers hold
        extra_missing = _whole_layers(extra_missing, ctx.missing())
        extra_unexpected = _whole_layers(extra_unexpected, ctx.unexpected())
    if structural:
        _report(ctx, have, want, deeper, mismatches, extra_missing, extra_unexpected)
    elif extra_missing or extra_unexpected:
        _report_depth(ctx, deeper, extra_missing, extra_unexpected)


def _read_and_written(ctx: Context, mismatches: list[Pair], change: tuple[object, object]) -> bool:
    """Whether a size change sits on an input axis of one tensor and the output axis of another."""
    shapes = [(ctx.src(p).shape, ctx.tgt(p).shape) for p in mismatches]
    # A matrix reads its last axis; a [1, V] row (final_logits_bias) only holds V values.
    read = any(
        len(a) >= 2 and len(b) >= 2 and (a[-1], b[-1]) == change and max(a[:-1]) > 1
        for a, b in shapes
    )
    written = any(a and b and (a[0], b[0]) == change for a, b in shapes)
    return read and written


def _report_depth(
    ctx: Context,
    deeper: dict[str, tuple[int, int]],
    extra_missing: list[str],
    extra_unexpected: list[str],
) -> None:
    """Report layer stacks of another depth when nothing else about the size differs."""
    stack, (layers_have, layers_want) = next(iter(deeper.items()))
    extra = extra_unexpected or extra_missing
    where = "checkpoint" if extra_unexpected else "model"
    indices = {found[1] for name in extra if (found := stack_of(ctx.renamed(name))) is not None}
    keys = [k for k in ctx.config_keys(layers_want, layers_have) if DEPTH_KEY.search(k)]
    option = f"model built with {keys[0]}={layers_want}; " if keys else ""
    ctx.add(
        Finding(
            category="wrong_variant",
            severity="error",
            message=(
                f"layer count differs: {stack} has {layers_have} layers in the checkpoint, "
                f"{layers_want} in the model ({len(extra)} tensors of layers "
                f"{format_numbers(indices)} only in the {where})"
            ),
            params=extra_unexpected + extra_missing,
            evidence={
                "depths": {s: {"checkpoint": a, "model": b} for s, (a, b) in deeper.items()},
                "layers_only_in_checkpoint": len(extra_unexpected),
                "layers_only_in_model": len(extra_missing),
            },
            confidence=0.7,
            fix_note=(
                f"{option}build the model with the checkpoint's {layers_have} layers, or check "
                "the checkpoint was saved whole (a truncated save loses the last layers)"
            ),
        )
    )
    ctx.consume(missing=extra_missing, unexpected=extra_unexpected)


def _whole_layers(extra: list[str], leftovers: list[str]) -> list[str]:
    """The names past the other side's depth that are no module every layer lacks.

    A text names only what differs: SD3.5's qk norms, in all 24 blocks, are unexpected in
    the 13 blocks the text names too; they say the model lacks a module, not 11 blocks.
    """
    past = set(extra)
    within = {layer_template(n) for n in leftovers if n not in past}
    return [n for n in extra if layer_template(n) not in within]


def _beyond(names: list[str], deeper: dict[str, tuple[int, int]], side: int) -> list[str]:
    """Names in layers past the other side's depth of a stack whose depth differs."""
    found = []
    for name in names:
        stack = stack_of(name)
        if stack is not None and stack[0] in deeper:
            other = deeper[stack[0]][1 - side]
            if stack[1] >= other:
                found.append(name)
    return found


def _report(
    ctx: Context,
    have: Profile,
    want: Profile,
    deeper: dict[str, tuple[int, int]],
    mismatches: list[Pair],
    extra_missing: list[str],
    extra_unexpected: list[str],
) -> None:
    differ = [d for d in _DIM_WORDS if have.dims.get(d) != want.dims.get(d)]
    message = (
        f"checkpoint is another variant of the model: checkpoint: {have.describe(differ)}; "
        f"model built as {want.describe(differ)}"
    )
    options = []
    if have.width != want.width and want.width is not None:
        options += [
            f"{k}={want.width}→{have.width}" for k in ctx.config_keys(want.width, have.width)[:1]
        ]
    for _, (layers_have, layers_want) in deeper.items():
        keys = [k for k in ctx.config_keys(layers_want, layers_have) if DEPTH_KEY.search(k)]
        options += [f"{k}={layers_want}→{layers_have}" for k in keys[:1]]
    for dim in ("context_dim", "in_channels", "vocab_size"):
        ours, theirs = want.dims.get(dim), have.dims.get(dim)
        if ours and theirs and ours != theirs:
            options += [f"{k}={ours}→{theirs}" for k in ctx.config_keys(ours, theirs)[:1]]
    evidence: dict[str, object] = {
        "checkpoint_width": have.width,
        "model_width": want.width,
        "checkpoint_depths": have.depths,
        "model_depths": want.depths,
        "checkpoint_family": have.family,
        "model_family": want.family,
        "differing_tensors": len(mismatches),
        "layers_only_in_checkpoint": len(extra_unexpected),
        "layers_only_in_model": len(extra_missing),
        "checkpoint_dims": have.dims,
        "model_dims": want.dims,
    }
    options = list(dict.fromkeys(options))  # two stacks of one depth name one field
    if options:
        evidence["config_changes"] = options
    built = f" (change {', '.join(options)})" if options else ""
    ctx.add(
        Finding(
            category="wrong_variant",
            severity="error",
            message=message,
            params=[p.source for p in mismatches] + extra_unexpected,
            evidence=evidence,
            confidence=(0.9 if (have.family or want.family or deeper) else 0.8)
            - (0.15 if ctx.partial and len(mismatches) < 3 else 0.0),
            fix_note=(
                f"no tensor operation turns one model size into another: build the model like "
                f"the checkpoint{built}, or use a checkpoint made for this configuration"
            ),
        )
    )
    ctx.consume(pairs=mismatches, missing=extra_missing, unexpected=extra_unexpected)


def unexplained_shapes(ctx: Context) -> None:
    """Report the shape differences no rule explained, grouped by the sizes that changed."""
    mismatches = ctx.mismatches()
    if not mismatches:
        return
    changes: Counter[tuple[int, int]] = Counter()
    templates: dict[str, list[Pair]] = defaultdict(list)
    for pair in mismatches:
        have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
        templates[layer_template(pair.target)].append(pair)
        if len(have) == len(want):
            for a, b in zip(have, want, strict=True):
                if a != b:
                    changes[(a, b)] += 1
    first = mismatches[0]
    sizes = [f"{a}→{b}" for (a, b), _ in changes.most_common(4)]
    options = []
    for (a, b), _ in changes.most_common(4):
        options += [f"{k}={b} (checkpoint: {a})" for k in ctx.config_keys(b, a)[:1]]
    message = (
        f"{counted(len(mismatches), 'tensor')} "
        f"{'differs' if len(mismatches) == 1 else 'differ'} in shape with no more specific cause: "
        f"{first.target} {shape_text(ctx.src(first).shape)} in the checkpoint, "
        f"{shape_text(ctx.tgt(first).shape)} in the model"
        + (f"; sizes {', '.join(sizes)}" if sizes else "")
    )
    ctx.add(
        Finding(
            category="wrong_variant",
            severity="error",
            message=message,
            params=[p.source for p in mismatches],
            evidence={
                "size_changes": [
                    {"checkpoint": a, "model": b, "axes": n} for (a, b), n in changes.most_common(8)
                ],
                "templates": {t: len(ps) for t, ps in list(templates.items())[:20]},
                "config_fields": options,
                NO_SPECIFIC_CAUSE: True,
            },
            confidence=0.5,
            fix_note=(
                "the model is configured otherwise than the checkpoint"
                + (f": model built with {', '.join(options)}" if options else "")
            ),
        )
    )
    ctx.consume(pairs=mismatches)
