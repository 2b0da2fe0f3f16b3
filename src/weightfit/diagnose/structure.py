"""Text rules that read the structure of the names a paste lists, not their shapes.

- ``extra_layers``: every name one side lacks sits in the tail of a layer stack
  (``layers.24`` … ``layers.31``, or each stage's last blocks) and nothing below it:
  the two have another depth, another size of the same architecture (``wrong_variant``);
  a text about shards says a piece of a sharded save is missing instead (``partitioned``);
  leftovers that are key/value projections alone (no query) are layers both sides have,
  one side's code building them without their own keys and values (``version``);
- ``foreign_names``: missing and unexpected names that share no module words at all
  (indices and parameter leaves aside), both reaching into a model's body (two layers of
  a stack, or a model listed from its beginning: stem modules and layer 0), not a head
  swapped on one backbone: a checkpoint of another model (``unrelated``);
- ``kind_in_every_block``: the model's missing names (nothing unexpected listed) are one
  or a few kinds of layer, each in several blocks (``blocks.N.attn._attention_pool_k``,
  ``module_list.N.Conv2d``, every attention's ``q``/``k``/``v``): one kind of layer built or
  named otherwise throughout, as another code version does, the rest of each block loaded
  (``version``);
- ``sorted_attention_parts``: MLX's sorted listing of a transformer layer's names beginning
  inside its attention (``layers.11.self_attn.indexer.k_norm``): the layer's norms and MLP,
  which sort before ``self_attn``, are there, so the layers exist on both sides and only
  parts of attention differ, as the runtime's model code of another release builds them
  (``version``), not another depth;
- ``upsampler_stages``: every name one side lacks sits in an upsampling module (ESRGAN's
  ``upconv2`` only in a super-resolution text, or a file's tensor a converter's line copies
  into one; a U-Net decoder's ``upconv1`` … ``upconv4`` is no scale): a
  super-resolution network builds its upsampler per scale factor (EDSR, RCAN: one
  convolution and pixel shuffle per factor of 2), so the two were built for other scales
  (``wrong_variant``).
"""

from __future__ import annotations

import re

from weightfit.align.roles import roles
from weightfit.alignment import Pair
from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import whole_text_facts
from weightfit.diagnose.text_file_lookups import shards_named
from weightfit.findings import Finding
from weightfit.tree import is_layer_index, stack_of

MIN_FOREIGN = 4
"""Fewest names on each side for two name lists to be judged foreign to each other."""

MAX_SHARED_WORDS = 0.1
"""Largest share of module words two foreign name lists may have in common."""

MIN_TOPS = 2
"""Fewest top modules beside a first layer for a name list to be a model's beginning."""

UPSAMPLER = re.compile(r"(?:^|\.)(?:up_?sampl\w*|upscal\w*)\.", re.IGNORECASE)
"""A path through an upsampling module (``upsample.up.body.0.weight``, ``upsampler.2``)."""
UPCONV = re.compile(r"(?:^|\.)(?:upconv\d*|conv_up\d*)\.", re.IGNORECASE)
"""ESRGAN's ``upconv2`` and BasicSR's RRDBNet ``conv_up2``, one per factor of 2; but a
U-Net's decoder names its transposed convolutions ``upconv1`` … ``upconv4`` too, so these
count only in a super-resolution text (``SUPER_RESOLUTION``) or copied by a converter."""
SUPER_RESOLUTION = re.compile(
    r"RRDB|ESRGAN|super[-_ ]?resolution|\b(?:up)?scale(?:_factor)?\b\W{1,3}[2348](?![.\d])|"
    r"(?<![\w.])x[2348]\b",
    re.IGNORECASE,
)
"""A text about a super-resolution network: ESRGAN's RRDB blocks, an upscaling factor
(``--scale 4``, ``scale=2``, ``x4``). A bare "scale" is not one (a U-Net's ``--scale 0.5``
resizes its input)."""
COPIED_INTO = re.compile(r"\w+\[\s*['\"]([\w.]+)['\"]\s*\]\s*=\s*\w+\[\s*['\"]([\w.]+)['\"]\s*\]")
"""A converter's line copying a file's tensor into a model's name
(``crt_net['upconv2.weight'] = pretrained_net['model.6.weight']``): the model's, the file's."""

MLX_LISTING = re.compile(r"\b(?:Missing|Received)\s+\d+\s+parameters\b")
"""``mlx.nn.Module.load_weights``' strict check: ``Missing 285 parameters:`` and ``Received
140 parameters not in model:``, each list printed sorted by name."""
LAYER_ATTENTION = re.compile(r"(?:^|\.)layers\.\d+\.self_attn\.")
"""A path into a transformer layer's attention in the names MLX's models share with
transformers (``model.layers.11.self_attn.k_proj``); the layer's other modules
(``input_layernorm``, ``mlp``, ``post_attention_layernorm``) all sort before ``self_attn``."""


def sorted_attention_parts(ctx: Context) -> None:
    """Report MLX's sorted names of one side all inside layers' attention: not another depth.

    A layer absent from one side would list its names from its first in name order, a norm
    or the MLP; a sorted list whose every name is past them, inside ``self_attn``, shows the
    layers are there and one part of their attention differs: a module the runtime's model
    code adds or drops (a new indexer, shared keys and values) that the checkpoint's release
    of the architecture does not have.
    """
    facts = whole_text_facts(ctx)
    missing, unexpected = ctx.missing(), ctx.unexpected()
    if facts is None or ctx.findings or ctx.mismatches() or bool(missing) == bool(unexpected):
        return
    if not MLX_LISTING.search(facts.text):
        return
    names = missing or unexpected
    if not all(LAYER_ATTENTION.search(n) for n in names):
        return
    holder, lacks = ("model", "checkpoint") if missing else ("checkpoint", "model")
    parts = sorted({n.split(".self_attn.", 1)[1].rsplit(".", 1)[0] for n in names})
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"MLX lists the names sorted, and every one the {lacks} lacks is inside a "
                f"layer's attention ({', '.join(parts[:4])}): the layers' norms and MLP, "
                f"listed first if a layer were absent, are there, so the {holder}'s attention "
                f"has parts the {lacks}'s release of the architecture does not"
            ),
            params=names,
            evidence={"parts": parts[:8], "side": holder},
            confidence=0.45,
            fix_note=(
                "use the runtime release that supports this checkpoint's release of the "
                "architecture (upgrade mlx-lm / mlx-vlm, or install from main), or the "
                "checkpoint converted for the installed one"
            ),
        )
    )
    ctx.consume(missing=missing, unexpected=unexpected)


LEAVES = frozenset({"weight", "bias", "running_mean", "running_var", "num_batches_tracked"})
"""Parameter leaves every model shares; they say nothing about which model it is."""


def extra_layers(ctx: Context) -> None:
    """Report one side's leftover names all in the tails of layer stacks: another depth.

    One stack (``layers.24`` … ``layers.31``) or several, each past its own first layers
    (ResNet-34's ``layer1.2``, ``layer2.2-3``, ``layer3.2-5`` against ResNet-18's two
    blocks per stage).
    """
    if not ctx.partial:
        return
    for side, names, other in (
        ("model", ctx.missing(), ctx.unexpected()),
        ("checkpoint", ctx.unexpected(), ctx.missing()),
    ):
        spans = _tails(names)
        if not spans or any((stack_of(name) or ("",))[0] in spans for name in other):
            continue
        facts = whole_text_facts(ctx)
        # A missing piece of a sharded save takes layers away; it never adds any.
        sharded = side == "model" and facts is not None and shards_named(facts.text) is not None
        _report(ctx, side, spans, names, sharded)
        return


MIN_KIND_NAMES = 4
"""Fewest missing names for one kind of layer in every block to be read."""
MAX_KINDS = 3
"""Most kinds of layer (q, k, v; Conv2d, BatchNorm2d) one such change touches."""


def kind_in_every_block(ctx: Context) -> None:
    """Report missing names that are one kind of layer in every block: a code version."""
    missing = ctx.missing()
    if not ctx.partial or ctx.unexpected() or ctx.mismatches() or len(missing) < MIN_KIND_NAMES:
        return
    if any(name.rsplit(".", 1)[-1] not in LEAVES for name in missing):
        return  # buffers and stored values have their own rules
    parents: dict[str, set[str]] = {}
    for name in missing:
        placed = _kind_in_block(name.rsplit(".", 1)[0])
        if placed is None:
            return  # a top-level layer: no block around it
        kind, block = placed
        parents.setdefault(kind, set()).add(block)
    if len(parents) > MAX_KINDS:
        parents = _whole_modules(parents)
    if len(parents) > MAX_KINDS or any(len(held) < 2 for held in parents.values()):
        return
    blocks = sorted(set().union(*parents.values()))
    kinds = sorted(parents)
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"every name the checkpoint lacks is of one kind of layer "
                f"({' / '.join(kinds)}), in {len(blocks)} blocks ({_first_two(blocks)}): "
                "one kind of layer is "
                "built or named otherwise throughout, as another version of the code does, "
                "while the rest of each block loaded"
            ),
            params=missing,
            evidence={"kinds": kinds, "blocks": blocks[:8]},
            confidence=0.45,
            fix_note=(
                "load with the code version that saved the checkpoint, or map that layer's "
                "old names (weightfit check CKPT --against TARGET lists both sides)"
            ),
        )
    )
    ctx.consume(missing=missing)


def tensor_in_every_block(ctx: Context) -> None:
    """Report unexpected names that are one tensor of every block: a code version's addition.

    The checkpoint holds one more parameter or buffer that a module keeps itself (not a
    layer's weight) in each block, VAR's ``blocks.N.attn.scale_mul_1H11``, and nothing is
    missing: the code that saved it defines that tensor, this code does not.
    """
    unexpected = ctx.unexpected()
    if not ctx.partial or ctx.missing() or ctx.mismatches() or len(unexpected) < MIN_KIND_NAMES:
        return
    leaves = {name.rsplit(".", 1)[-1] for name in unexpected}
    if len(leaves) != 1 or leaves <= LEAVES:
        return  # a whole layer (its weight) is a layer built otherwise: a variant or version
    placed = [_kind_in_block(name.rsplit(".", 1)[0]) for name in unexpected]
    if any(p is None for p in placed):
        return
    kinds = {p for p in placed if p is not None}
    blocks = sorted({block for _, block in kinds})
    if len({layer for layer, _ in kinds}) != 1 or len(blocks) < 2:
        return
    kind = f"{next(iter(kinds))[0]}.{unexpected[0].rsplit('.', 1)[-1]}"
    ctx.add(
        Finding(
            category="version",
            severity="error",
            message=(
                f"the checkpoint holds one more tensor, {kind}, in each of {len(blocks)} blocks "
                f"({_first_two(blocks)}) and lacks nothing: "
                "the code that saved it defines that tensor, the code loading it does not"
            ),
            params=unexpected,
            evidence={"tensor": kind, "blocks": blocks[:8]},
            confidence=0.45,
            fix_note=(
                "load with the code version that saved the checkpoint (update the model "
                "code), or drop that tensor if this code version does without it"
            ),
        )
    )
    ctx.consume(unexpected=unexpected)


def _first_two(blocks: list[str]) -> str:
    """The first two blocks of a list, and an ellipsis when there are more."""
    return ", ".join(blocks[:2]) + (" …" if len(blocks) > 2 else "")


def _whole_modules(parents: dict[str, set[str]]) -> dict[str, set[str]]:
    """Kinds that sit in the very same modules lifted to that module's kind.

    ``q``, ``k``, ``v`` and ``proj_out`` each missing from both ``encoder.mid.attn_1`` and
    ``decoder.mid.attn_1`` are one kind of layer, the attention, missing whole.
    """
    held = {frozenset(modules) for modules in parents.values()}
    if len(held) != 1:
        return parents
    lifted: dict[str, set[str]] = {}
    for module in next(iter(held)):
        placed = _kind_in_block(module)
        if placed is None:
            return parents
        kind, block = placed
        lifted.setdefault(kind, set()).add(block)
    return lifted


def _kind_in_block(module: str) -> tuple[str, str] | None:
    """A module's kind of layer and the block holding it (``attn_1`` in ``encoder.mid``).

    The kind is the last named segment, its number dropped; ``None`` at the top level.
    """
    parts = module.split(".")
    kind_at = max((i for i, part in enumerate(parts) if not part.isdigit()), default=-1)
    if kind_at < 1:
        return None
    kind = parts[kind_at].rstrip("0123456789_") or parts[kind_at]
    return kind, ".".join(parts[:kind_at])


def upsampler_stages(ctx: Context) -> None:
    """Report leftover names that all sit in an upsampler: a network built for another scale."""
    leftovers = [*ctx.unexpected(), *ctx.missing()]
    if not ctx.partial or ctx.mismatches() or not leftovers:
        return
    facts = whole_text_facts(ctx)
    # A converter naming the model's tensor it copies a file's name into says what it is.
    text = facts.text if facts else ""
    copied = {m.group(2): m.group(1) for m in COPIED_INTO.finditer(text)}
    resolving = SUPER_RESOLUTION.search(text) is not None
    if not all(
        UPSAMPLER.search(name)
        or (resolving and UPCONV.search(name))
        or UPSAMPLER.search(copied.get(name, ""))
        or UPCONV.search(copied.get(name, ""))
        for name in leftovers
    ):
        return
    side, other = ("checkpoint", "model") if ctx.unexpected() else ("model", "checkpoint")
    shown = leftovers[0] + (
        f", copied into {copied[leftovers[0]]}" if leftovers[0] in copied else ""
    )
    ctx.add(
        Finding(
            category="wrong_variant",
            severity="error",
            message=(
                f"every name the {other} lacks sits in an upsampler ({shown} …): the "
                "upsampling stages are built per scale factor, so the checkpoint is for "
                "another scale"
            ),
            params=leftovers,
            evidence={"side": side, "upsampler_names": leftovers[:8]},
            confidence=0.5,
            fix_note="build the model with the scale factor the checkpoint was trained for",
        )
    )
    ctx.consume(missing=ctx.missing(), unexpected=ctx.unexpected())


def _tails(names: list[str]) -> dict[str, tuple[int, int]]:
    """Each stack's index range when every name is a layer ``>= 1`` of a stack, contiguous.

    A lone index counts when it holds modules of its own (``layers.2.attn.q.weight``); a
    lone ``stopnet.1.weight`` is a Sequential's module, not a layer.
    """
    found = [stack_of(name) for name in names]
    if len(names) < 2 or any(f is None for f in found):
        return {}
    indices: dict[str, set[int]] = {}
    for stack, index in (f for f in found if f is not None):
        indices.setdefault(stack, set()).add(index)
    if sum(len(held) for held in indices.values()) < 2 and not any(
        name.count(".") > stack.count(".") + 2
        for name, (stack, _) in zip(names, (f for f in found if f is not None), strict=True)
    ):
        return {}  # one numbered Linear (decoder.stopnet.1.weight) is a module, not a layer
    spans = {}
    for stack, held in indices.items():
        ordered = sorted(held)
        if ordered[0] < 1 or ordered != list(range(ordered[0], ordered[-1] + 1)):
            return {}
        spans[stack] = (ordered[0], ordered[-1])
    return spans


def _report(
    ctx: Context,
    side: str,
    spans: dict[str, tuple[int, int]],
    names: list[str],
    sharded: bool,
) -> None:
    holder = "checkpoint" if side == "model" else "model"
    stack, (first, last) = next(iter(spans.items()))
    span = ", ".join(
        f"{name}.{low}" + (f" … {name}.{high}" if high > low else "")
        for name, (low, high) in spans.items()
    )
    evidence = {"stack": stack, "first": first, "last": last, "side": side}
    if len(spans) > 1:
        evidence["stacks"] = {name: list(bounds) for name, bounds in spans.items()}
    if sharded:
        finding = Finding(
            category="partitioned",
            severity="error",
            message=(
                f"the {side} has layers {span} the {holder} lacks, and the text is about "
                "shards: a piece of a sharded save is missing or was never written"
            ),
            params=names,
            evidence=evidence,
            confidence=0.55,
            fix_note="check every shard the index names is present (re-download it)",
        )
    else:
        stops = ", ".join(f"{name}.{low - 1}" for name, (low, _) in spans.items())
        # The checkpoint's depth: the first layer the model has alone, or past its own last.
        depths = ", ".join(
            f"{low if side == 'model' else high + 1} layers in {name}"
            for name, (low, high) in spans.items()
        )
        finding = Finding(
            category="wrong_variant",
            severity="error",
            message=(
                f"the {side} has layers {span} the {holder} lacks (the {holder} stops at "
                f"{stops}): another depth, another size of the same architecture"
            ),
            params=names,
            evidence=evidence,
            confidence=0.6,
            fix_note=f"build the model with {depths}, or use the matching file",
        )
    ctx.add(finding)
    ctx.consume(
        missing=names if side == "model" else [], unexpected=names if side != "model" else []
    )


def foreign_names(ctx: Context) -> None:
    """Report missing and unexpected names with no module word in common: another model."""
    if not ctx.partial:
        return
    # The alignment may have paired names by position alone: judge them as unpaired.
    guessed = [pair for pair in ctx.pairs() if pair.source != pair.target]
    missing = ctx.missing() + [pair.target for pair in guessed]
    unexpected = ctx.unexpected() + [pair.source for pair in guessed]
    if len(missing) < MIN_FOREIGN or len(unexpected) < MIN_FOREIGN:
        _few_foreign_names(ctx, missing, unexpected, guessed)
        return
    if not (_bodies(missing) and _bodies(unexpected)):
        return  # heads and necks swapped around one body (a backbone reused), not two models
    want, have = _words(missing), _words(unexpected)
    if not want or not have:
        return
    shared = len(want & have) / len(want | have)
    if shared > MAX_SHARED_WORDS:
        return
    ctx.add(
        Finding(
            category="unrelated",
            severity="error",
            message=(
                f"the checkpoint's names ({', '.join(sorted(have)[:4])} …) and the model's "
                f"({', '.join(sorted(want)[:4])} …) share {shared:.0%} of their module words: "
                "these look like different models"
            ),
            params=unexpected,
            evidence={"shared_words": round(shared, 2), "missing": len(missing)},
            confidence=0.55,
            fix_note="load the checkpoint made for this model (check the file and its config)",
        )
    )
    ctx.consume(pairs=guessed, missing=ctx.missing(), unexpected=ctx.unexpected())


def _bodies(names: list[str]) -> bool:
    """Whether names reach into a model's body, not only its heads.

    Two or more layers of a repeated stack, or its first layer among top modules of
    their own (``conv1``, ``bn1``, ``layer1.0`` …: a model listed from its beginning).
    """
    stacks = {found for name in names if (found := stack_of(name)) is not None}
    tops = {name.split(".", 1)[0] for name in names}
    return len(stacks) >= 2 or (any(s[1] == 0 for s in stacks) and len(tops) >= MIN_TOPS)


def _words(names: list[str]) -> set[str]:
    """The module words of names: dotted and underscored words, indices and leaves aside."""
    words: set[str] = set()
    for name in names:
        for segment in name.split(".")[:-1]:
            if is_layer_index(segment) or segment in LEAVES:
                continue
            words.update(w for w in re.split(r"[_\d]+", segment.lower()) if len(w) > 1)
    return words


WRAPPER_WORDS = frozenset({"module", "model", "orig", "mod", "net", "network"})
"""Words wrappers put before a network's own names: shared or not, they say nothing."""
MIN_STEM = 3
"""Shortest word read as another's stem (``conv`` of ``convs``; ``bn`` is too short)."""


def _few_foreign_names(
    ctx: Context, missing: list[str], unexpected: list[str], guessed: list[Pair]
) -> None:
    """Report the few names a cut list shows on each side, with no module word in common.

    Too few names to weigh a share of words; but a detector's ``basenet.slice1`` against a
    refiner's ``last_conv``, or a ResNet's ``backbone.conv1``/``bn1`` against an MLP's
    ``layers``, share no word at all, not even a stem, nor a role of a block's part:
    another network's file. The same network under other names keeps some word (``conv``,
    ``layer``, ``attn``; ``blocks`` in ``resblocks``) or some role (timm's ``norm1`` and
    OpenCLIP's ``ln_1`` are both the norm before attention). Both lists must open on a
    network's first layer: a head missing beside another head unexpected is one part of the
    model, not two models.
    """
    if not missing or not unexpected or ctx.mismatches():
        return
    if not (_network_front(missing[0]) and _network_front(unexpected[0])):
        return  # a head or a module renamed on its own, not two networks from their start
    want, have = _words(missing) - WRAPPER_WORDS, _words(unexpected) - WRAPPER_WORDS
    if not want or not have or _stems_meet(want, have):
        return
    if (_roles(missing) & _roles(unexpected)) - WRAPPER_WORDS:
        return  # timm's norm1 and OpenCLIP's ln_1: one part of a block spelled two ways
    ctx.add(
        Finding(
            category="unrelated",
            severity="error",
            message=(
                f"the model's missing names ({', '.join(sorted(want)[:4])}) and the file's "
                f"unexpected ones ({', '.join(sorted(have)[:4])}) share no module word, not "
                "even a stem: the file holds another network than the model builds"
            ),
            params=unexpected,
            evidence={"model_words": sorted(want), "file_words": sorted(have)},
            confidence=0.45,
            fix_note=(
                "load the checkpoint made for this network (a project's other released file "
                "is often the one meant)"
            ),
        )
    )
    ctx.consume(pairs=guessed, missing=ctx.missing(), unexpected=ctx.unexpected())


def _stems_meet(one: set[str], other: set[str]) -> bool:
    """Whether two sets of words share one, or one word begins or ends another.

    ``conv`` of ``convs``, ``blocks`` of OpenCLIP's ``resblocks``.
    """
    return any(
        a == b
        or (
            min(len(a), len(b)) >= MIN_STEM
            and (a.startswith(b) or b.startswith(a) or a.endswith(b) or b.endswith(a))
        )
        for a in one
        for b in other
    )


def _roles(names: list[str]) -> set[str]:
    """The roles the module segments of names fold to (``norm1`` and ``ln_1``: norm, pre_attn).

    Indices and parameter leaves aside, as in :func:`_words`.
    """
    found: set[str] = set()
    for name in names:
        for segment in name.split(".")[:-1]:
            if not is_layer_index(segment) and segment not in LEAVES:
                found |= roles(segment)
    return found


def _network_front(name: str) -> bool:
    """Whether a name sits in a network's first layer: every index on its path the first.

    ``basenet.slice1.0.weight``, ``last_conv.0.weight``, ``backbone.conv1.weight`` (a
    numbered module counts from 1); a path with no index at all (``classifier.weight``)
    says nothing of where it sits.
    """
    numbered = [
        (part, int(found.group()))
        for part in name.split(".")[:-1]
        if (found := re.search(r"\d+$", part)) is not None
    ]
    return bool(numbered) and all(
        index == 0 or (index == 1 and not part.isdigit()) for part, index in numbered
    )
