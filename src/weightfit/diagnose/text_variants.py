"""Another variant of the same model family, read from the names a text (or a file) shows.

- ``variant_features`` (texts and files): the only tensors one side lacks are those of a
  feature only one variant of the family builds (``knowledge/variant_features.yaml``:
  IBN-Net's ``.IN.``, DeepLab's ``aspp0``, OpenFold's ``aux_heads.tm``, RWKV-5's
  ``time_mix_g``, FLUX.1 dev's guidance embedder): the two are the variants with and
  without it (``wrong_variant``);
- ``stack_lookup``: code looking layers up one by one failed past the first (a name built
  in a loop, ``f"G_mapping/Dense{i}"`` at ``i = 2``; a walk over the file's names stopping
  at ``m.1`` after ``m.0``; PyTorch's ``index 10 is out of range`` on a module list): the
  first layers were there, so the two were built with other depths (``wrong_variant``);
- ``head_options``: missing and unexpected names all under one module, which holds several
  times more modules on one side than on the other (``Prediction.attention_cell.*`` and
  ``Prediction.generator`` against ``Prediction.weight``): no renaming pairs them, the
  module is built with another option (``wrong_variant``);
- ``batched_copies``: every differing parameter given with one leading axis of the same
  length more on one side (``[100, 1, 13]`` against ``[1, 13]``): that side holds a batch of
  models, one per index (an ensemble, GPyTorch's ``batch_shape``, a posterior's samples),
  the other one model (``wrong_variant``).
"""

from __future__ import annotations

import re

from weightfit import knowledge
from weightfit.diagnose._context import Context, shape_text
from weightfit.diagnose._facts import indexed, text_facts, whole_text_facts
from weightfit.findings import Finding
from weightfit.tree import is_layer_index


def variant_features(ctx: Context) -> None:
    """Report one side's only leftovers being a feature one variant of the family builds.

    Between two files every name is known, so the reading is surer than a text's, whose
    lists a loader may have cut short.
    """
    if ctx.mismatches() or ctx.facts.get("truncated"):
        return  # a list cut short may go on past the feature, over the whole model
    missing, unexpected = ctx.missing(), ctx.unexpected()
    for names, other, side in ((missing, unexpected, "model"), (unexpected, missing, "file")):
        if not names or other:
            continue  # names on both sides: a renaming may pair them
        features = {knowledge.variant_feature(n) for n in names}
        if len(features) != 1 or None in features:
            continue
        feature = next(f for f in features if f is not None)
        has, lacks = ("model", "checkpoint") if side == "model" else ("checkpoint", "model")
        ctx.add(
            Finding(
                category="wrong_variant",
                severity="error",
                message=(
                    f"the {lacks} lacks only {names[0]}"
                    + (f" and {len(names) - 1} more" if len(names) > 1 else "")
                    + f": {feature.feature}, which only one variant of {feature.family} "
                    f"builds; the {has} is that variant and the {lacks} another"
                ),
                params=names,
                evidence={"feature": feature.feature, "side": side, "source": feature.source},
                confidence=0.45 if ctx.partial else 0.85,
                fix_note=(
                    f"load the checkpoint into the variant it was saved from ({has} side has "
                    f"{feature.feature}), or use the checkpoint made for this variant"
                ),
            )
        )
        ctx.consume(missing=missing, unexpected=unexpected)
        return


MIN_BATCHED = 2
"""Fewest differing parameters that must all carry the same extra leading axis."""


def batched_copies(ctx: Context) -> None:
    """Report every differing parameter carrying one extra leading axis of the same length.

    A module built for a batch of models (GPyTorch's ``batch_shape``, a fully Bayesian
    model's MCMC samples, ``torch.func.stack_module_state``'s ensemble) keeps each parameter
    as ``(n, ...)``; a single model builds ``(...)``. Each parameter alone could be a kernel
    with another axis; all of them at once, by one length, are ``n`` models against one.
    JAX's replicated training state is ``replicated_state``'s (it runs first).
    """
    pairs = ctx.mismatches()
    if not ctx.partial or ctx.findings or len(pairs) < MIN_BATCHED:
        return
    lengths = {
        _leading_copies(ctx.src(p).shape, ctx.tgt(p).shape)
        or -(_leading_copies(ctx.tgt(p).shape, ctx.src(p).shape) or 0)
        for p in pairs
    }
    if len(lengths) != 1 or abs(count := lengths.pop()) < MIN_BATCHED:
        return
    batched, single = ("checkpoint", "model") if count > 0 else ("model", "checkpoint")
    first = pairs[0]
    ctx.add(
        Finding(
            category="wrong_variant",
            severity="error",
            message=(
                f"every differing parameter has one leading axis of {abs(count)} more in the "
                f"{batched} ({first.target}: {shape_text(ctx.src(first).shape)} in the "
                f"checkpoint, {shape_text(ctx.tgt(first).shape)} in the model): the {batched} "
                f"is a batch of {abs(count)} models (an ensemble, a batch_shape, samples of a "
                f"posterior), the {single} one model"
            ),
            params=[p.source for p in pairs],
            evidence={"batch": abs(count), "batched_side": batched},
            confidence=0.45,
            fix_note=(
                f"build the {single} with the same batch (GPyTorch: batch_shape, or the "
                "sampled model pyro_load_from_samples makes), or take one member of the batch "
                "(index 0 of each parameter) if one model is meant"
            ),
        )
    )
    ctx.consume(pairs=pairs)


def _leading_copies(have: tuple[int, ...], want: tuple[int, ...]) -> int:
    """The extra leading axis ``have`` holds beyond the whole of ``want``, or 0."""
    return have[0] if len(have) == len(want) + 1 and have[1:] == want else 0


FSTRING = re.compile(r"\bf(['\"])(?P<body>[^'\"\n]*\{[^'\"\n]*)\1")
"""A Python f-string in a traceback's code line (``f"G_mapping/Dense{i}"``)."""
PLACEHOLDER = re.compile(r"\{\s*[A-Za-z_]\w*\s*(?:(?P<sign>[+-])\s*(?P<offset>\d+)\s*)?\}")
"""A loop variable formatted into a name, with an offset (``{i}``, ``{i + 1}``)."""
MIN_LITERAL = 3
"""Fewest literal characters an f-string needs to be read as a template of names."""
OUT_OF_RANGE = re.compile(r"\bindex (\d+) is out of range")
"""PyTorch's ``ModuleList`` / ``Sequential`` indexed past its end."""
MODULE_CONTAINER = re.compile(r"[/\\]nn[/\\]modules[/\\]container\.py|_get_abs_string_index")
"""The frame of PyTorch's module containers raising it."""
WALKS_KEYS = re.compile(r"\bfor\s+\w+(?:\s*,\s*\w+)?\s+in\s+[\w.]+\.(?:items|keys)\(\)")
"""Code walking a mapping's names (``for k, v in pretrained_dict.items()``)."""


def stack_lookup(ctx: Context) -> None:
    """Report a layer-by-layer lookup that failed past the first layer: another depth."""
    facts = whole_text_facts(ctx)
    if facts is None or ctx.mismatches():
        return
    found = _looped(facts.text, facts.key_errors) or _walked(facts.text, facts.key_errors)
    if found is None:
        out = OUT_OF_RANGE.search(facts.text)
        if out is None or int(out.group(1)) < 1 or not MODULE_CONTAINER.search(facts.text):
            return
        found = ("", f"a module list indexed at {out.group(1)}", int(out.group(1)))
    name, how, index = found
    left = [n for n in (*ctx.missing(), *ctx.unexpected()) if n == name.replace("/", ".")]
    if ctx.findings and not left:
        return  # another rule explained what the text lists
    ctx.add(
        Finding(
            category="wrong_variant",
            severity="error",
            message=(
                f"the loading code goes through the layers one by one ({how}) and failed at "
                f"{index}, after the layers before it: the two sides hold the same stack with "
                "another number of layers, another depth or size of the model"
            ),
            params=left or ([name] if name else []),
            evidence={"failed_at": name or how, "index": index},
            confidence=0.45,
            fix_note=(
                "build the model with the depth (size, variant) the checkpoint was saved with, "
                "or use the checkpoint of this size"
            ),
        )
    )
    ctx.consume(missing=left, unexpected=left)


def _looped(text: str, names: list[str]) -> tuple[str, str, int] | None:
    """A failed name an f-string formatted with a loop variable past its first value.

    ``layers.{i}`` counts from 0; a number glued to a word (``conv{i}``, ``Dense{i}``) may
    count from 1, so there only 2 and on are past the first (``conv1`` is the first layer).
    """
    for match in FSTRING.finditer(text):
        body = match.group("body")
        if "{" in PLACEHOLDER.sub("", body) or len(PLACEHOLDER.sub("", body)) < MIN_LITERAL:
            continue
        pattern, last, glued = "", 0, False
        offsets: list[int] = []
        for held in PLACEHOLDER.finditer(body):
            if not offsets:  # a number glued to a word (conv{i}, Dense{i}) may count from 1
                glued = body[last : held.start()][-1:].isalpha()
            pattern += re.escape(body[last : held.start()]) + r"(\d+)"
            sign = -1 if held.group("sign") == "-" else 1
            offsets.append(sign * int(held.group("offset") or 0))
            last = held.end()
        pattern += re.escape(body[last:])
        for name in names:
            formatted = re.match(pattern, name)
            if formatted is None:
                continue
            value = int(formatted.group(1)) - offsets[0]
            if value >= 1 and (not glued or int(formatted.group(1)) >= 2):
                return name, f'f"{body}"', value
    return None


def _walked(text: str, names: list[str]) -> tuple[str, str, int] | None:
    """A file's name a walk over its names failed on, its innermost layer past the first.

    Code walking the file's names in order and looking each up in the model stops at the
    first the model lacks; ``m.0`` came before ``m.1.cv1.conv.weight`` and was found. Only
    indices of a stack of blocks count: the index just before a leaf
    (``stem.1.running_mean``) is a Sequential's module, a conv's BatchNorm, not a layer.
    """
    if not WALKS_KEYS.search(text):
        return None
    for name in names:
        if indexed(text, name):
            continue  # a literal lookup, not a walk
        indices = [int(s) for s in name.split(".")[1:-2] if is_layer_index(s)]
        if indices and indices[-1] >= 1:
            return name, "a walk over the file's names", indices[-1]
    return None


MIN_MODULE_RATIO = 3
"""How many times more modules one side must hold under the shared module than the other."""


def head_options(ctx: Context) -> None:
    """Report missing and unexpected names under one module built with another option."""
    if text_facts(ctx) is None or ctx.mismatches():
        return
    missing, unexpected = ctx.missing(), ctx.unexpected()
    if not missing or not unexpected:
        return
    parent = _shared_module([*missing, *unexpected])
    if not parent or is_layer_index(parent.rsplit(".", 1)[-1]):
        return  # the whole model, or one numbered block built otherwise (another release)
    held = [_modules(names, parent) for names in (missing, unexpected)]
    fewer, more = sorted(len(h) for h in held)
    if fewer < 1 or more < MIN_MODULE_RATIO * fewer or held[0] & held[1]:
        return
    children = [_children(names, parent) for names in (missing, unexpected)]
    if children[0] & children[1]:
        return  # the same child module on both sides: built otherwise inside, not swapped
    if any(side and all(is_layer_index(c) for c in side) for side in children):
        return  # a layer against a Sequential of layers: a release rebuilt it (rearranged)
    ctx.add(
        Finding(
            category="wrong_variant",
            severity="error",
            message=(
                f"every name either side lacks sits in {parent}, which holds "
                f"{len(held[0])} module(s) in the model ({', '.join(sorted(held[0])[:3])}) "
                f"and {len(held[1])} in the checkpoint ({', '.join(sorted(held[1])[:3])}): "
                "no renaming pairs them, so the module is built with another option (another "
                "head or block type of the same model)"
            ),
            params=[*unexpected, *missing],
            evidence={"module": parent, "model": sorted(held[0]), "file": sorted(held[1])},
            confidence=0.45,
            fix_note=(
                f"build {parent} with the option the checkpoint was trained with (its config), "
                "or use the checkpoint of this configuration"
            ),
        )
    )
    ctx.consume(missing=missing, unexpected=unexpected)


def _shared_module(names: list[str]) -> str:
    """The deepest module every name sits in (``""``: none but the model)."""
    split = [n.split(".")[:-1] for n in names]
    shared: list[str] = []
    for parts in zip(*split, strict=False):
        if len(set(parts)) != 1:
            break
        shared.append(parts[0])
    return ".".join(shared)


def _modules(names: list[str], parent: str) -> set[str]:
    """The modules holding the names' parameters, relative to ``parent``."""
    return {n[len(parent) :].rsplit(".", 1)[0].lstrip(".") or parent for n in names}


def _children(names: list[str], parent: str) -> set[str]:
    """The named child modules of ``parent`` the names sit in (parameters of ``parent`` aside)."""
    tails = [n[len(parent) + 1 :].split(".") for n in names]
    return {t[0] for t in tails if len(t) > 1}
