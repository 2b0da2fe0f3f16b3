"""``lora_mismatch``: LoRA tensors that do not fit the base model they are checked against.

A LoRA adapter holds, per adapted module, ``lora_A`` ``[r, in]`` and ``lora_B``
``[out, r]``; merging adds ``scale · B @ A`` to the base weight, found by name
after PEFT strips ``base_model.model.`` (see :mod:`weightfit.peft.layout`).
Against the base, each module either

- fits: ``B @ A`` has the base weight's shape (transposed for GPT-2 ``Conv1D``,
  ``fan_in_fan_out``); one ``info`` finding reports them with the rank, alpha and
  scale, and the base identity the adapter records;
- misses: no base tensor has its name. When a prefix transform maps the misses
  onto the base, the names are *offset* (``model.layers…`` against
  ``model.language_model.layers…``: a CausalLM adapter on a ConditionalGeneration
  base) and a ``rename`` of the adapter fixes it; otherwise the base lacks those
  modules (another architecture) or those layers (another depth);
- misfits: the widths differ (an adapter for another size of model), or the
  base stores the weight transposed and the adapter was saved without
  ``fan_in_fan_out``.

Trainable-token rows (``trainable_token_indices``) past the base's rows are a
``vocab_resize``. The rule runs on the unexpected names of any check, so a plain
``weightfit check ADAPTER --against BASE`` explains LoRA tensors too.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from weightfit.align.prefix import best_prefix
from weightfit.diagnose._context import Context, depths, main_width, shape_text
from weightfit.errors import InvalidHeader
from weightfit.findings import Finding
from weightfit.peft.config import PEFT_PREFIX, AdapterConfig, parse, pattern_key
from weightfit.peft.layout import (
    LoraModule,
    TokenRows,
    base_weight,
    is_adapter_tensor,
    lora_target,
    split,
    strip_peft,
)
from weightfit.plan import Op
from weightfit.tree import stack_of

MAX_EXAMPLES = 3
"""Module names quoted per finding message (evidence lists them all)."""


def lora_mismatch(ctx: Context) -> None:
    """Explain the LoRA and trainable-token tensors a check found no base tensor for."""
    names = [name for name in ctx.unexpected() if is_adapter_tensor(name)]
    if not names:
        return
    layout = split(ctx.source.tensors[name] for name in names)
    config = adapter_config(ctx.source.config)
    fan_in_fan_out = config.fan_in_fan_out if config else False
    parameters = config.target_parameters if config else []
    target = ctx.target.tensors
    fits: list[tuple[LoraModule, str]] = []
    misfits: list[tuple[LoraModule, str]] = []
    misses: list[LoraModule] = []
    for module in layout.lora.values():
        # A layer_replication layer is a copy of a base layer, made when PEFT attaches.
        replica = config.replicated_from(module.module) if config else None
        spellings = (ctx.renamed(module.name), *([replica] if replica else []))
        weight = lora_target(module, target, parameters, *spellings)
        if weight is None:
            misses.append(module)
        elif module.fits(target[weight].shape, fan_in_fan_out):
            fits.append((module, weight))
        else:
            misfits.append((module, weight))
    total = len(layout.lora)
    if misses:
        misses = _offset(ctx, misses, total)
    if misses:
        _missing_modules(ctx, misses, total, config)
    if misfits:
        _misfits(ctx, misfits, fan_in_fan_out)
    if fits:
        _fits(ctx, fits, total, config)
    for rows in layout.tokens:
        _token_rows(ctx, rows, config)
    _legacy_biases(ctx, config)


def adapter_config(config: object) -> AdapterConfig | None:
    """The checkpoint's ``adapter_config.json`` when it is a PEFT adapter folder, else ``None``."""
    if not isinstance(config, dict) or "peft_type" not in config:
        return None
    try:
        return parse(config)
    except InvalidHeader:
        return None


def _offset(ctx: Context, misses: list[LoraModule], total: int) -> list[LoraModule]:
    """Report misses a prefix transform maps onto the base; return the rest."""
    target = ctx.target.tensors
    stripped = {f"{m.module}.weight": m for m in misses}
    transform = best_prefix(list(stripped), list(target))
    if transform is None:
        return misses
    mapped = {
        name: module
        for name, module in stripped.items()
        if (moved := transform.apply(name)) is not None
        and (moved in target or moved.removesuffix("weight") + "base_layer.weight" in target)
    }
    if len(mapped) * 2 < len(misses):
        return misses
    strip, add = PEFT_PREFIX + transform.strip, PEFT_PREFIX + transform.add
    # Whole copies (modules_to_save) sit under the same offset: the rename carries them too.
    wholes = [
        n
        for n in ctx.unexpected()
        if n.startswith(strip) and not is_adapter_tensor(n) and _moved(n, strip, add) in target
    ]
    params = [s.name for m in mapped.values() for s in m.specs] + wholes
    examples = [m.module for m in list(mapped.values())[:MAX_EXAMPLES]]
    ctx.add(
        Finding(
            category="lora_mismatch",
            severity="error",
            message=(
                f"adapter module names are offset from the base's: PEFT looks for "
                f"'{transform.strip}…', the base nests them under '{transform.add}…' "
                f"({len(mapped)} of {total} LoRA modules; e.g. a CausalLM adapter on a "
                "ConditionalGeneration base): as saved, the adapter attaches to nothing"
            ),
            params=params,
            evidence={
                "adapter_prefix": transform.strip,
                "base_prefix": transform.add,
                "modules_offset": len(mapped),
                "modules": total,
                "examples": examples,
                "whole_tensors_offset": wholes,
            },
            confidence=0.9,
            fix=[
                Op(
                    "rename",
                    {"strip": strip, "add": add},
                    "lora_mismatch: adapter names nested differently from the base",
                )
            ],
            fix_note=(
                "rename the adapter's tensors (the plan's rename), or load the adapter "
                "into the model class it was trained with"
            ),
        )
    )
    ctx.consume(unexpected=params)
    return [m for m in misses if m not in mapped.values()]


def _moved(name: str, strip: str, add: str) -> str:
    """A whole copy's base name after the offset rename and PEFT's own prefix strip."""
    return strip_peft(add + name[len(strip) :])


def _missing_modules(
    ctx: Context, misses: list[LoraModule], total: int, config: AdapterConfig | None
) -> None:
    """Report LoRA modules with no base tensor: another architecture or another depth."""
    base_modules = {name.rsplit(".", 2)[-2] for name in ctx.target.tensors if "." in name}
    kinds = Counter(m.module.rsplit(".", 1)[-1] for m in misses)
    absent = sorted(kind for kind in kinds if kind not in base_modules)
    reached = [stack_of(m.module + ".weight") for m in misses]
    adapter_depth = max((found[1] + 1 for found in reached if found), default=None)
    base_depth = _depth(ctx.target.tensors)
    hits = total - len(misses)
    if absent:
        reason = (
            f"the base has no module named {', '.join(absent)}: the adapter targets modules "
            "of another architecture"
        )
    elif adapter_depth and base_depth and adapter_depth > base_depth:
        reason = (
            f"the adapter reaches layer {adapter_depth - 1}, the base has {base_depth} layers: "
            "an adapter for a deeper model"
        )
    else:
        reason = "those module paths are not in the base: another model or another layout"
    examples = ", ".join(m.module for m in misses[:MAX_EXAMPLES])
    evidence: dict[str, object] = {
        "modules": total,
        "modules_found": hits,
        "modules_missing": len(misses),
        "missing_examples": [m.module for m in misses[:10]],
        "module_kinds_absent_from_base": absent,
        "adapter_layers": adapter_depth,
        "base_layers": base_depth,
    }
    if config is not None:
        evidence["target_modules"] = config.target_modules
        evidence["base_model_name_or_path"] = config.base_model_name_or_path
    trained_on = config.base_model_name_or_path if config else None
    ctx.add(
        Finding(
            category="lora_mismatch",
            severity="error",
            message=(
                f"{len(misses)} of {total} LoRA modules are not in the base "
                f"(only {hits} found): {reason}; e.g. {examples}"
            ),
            params=[s.name for m in misses for s in m.specs],
            evidence=evidence,
            confidence=0.9 if hits == 0 or absent else 0.8,
            fix_note=(
                "PEFT leaves those modules unadapted (or refuses to load): use the base the "
                "adapter was trained on" + (f" ({trained_on})" if trained_on else "")
            ),
        )
    )
    ctx.consume(unexpected=[s.name for m in misses for s in m.specs])


def _depth(names: Iterable[str]) -> int | None:
    """The deepest repeated stack's layer count (``None`` without stacks)."""
    counts = depths(names)
    return max(counts.values()) if counts else None


def _misfits(ctx: Context, misfits: list[tuple[LoraModule, str]], fan_in_fan_out: bool) -> None:
    """Report LoRA modules whose ``B @ A`` shape is not the base weight's."""
    target = ctx.target.tensors
    transposed = [
        (m, w)
        for m, w in misfits
        if (shape := m.delta_shape(fan_in_fan_out)) is not None
        and len(shape) == 2
        and shape[::-1] == target[w].shape
    ]
    rows = [
        {
            "module": m.module,
            "lora_A": list(m.a.shape) if m.a else None,
            "lora_B": list(m.b.shape) if m.b else None,
            "delta": list(m.delta_shape(fan_in_fan_out) or ()),
            "base": list(target[w].shape),
        }
        for m, w in misfits
    ]
    first, weight = misfits[0]
    delta = first.delta_shape(fan_in_fan_out) or ()
    adapter_width = main_width(s for m, _ in misfits for s in m.specs)
    base_width = ctx.main_width("target")
    if len(transposed) == len(misfits):
        what = "fan_in_fan_out: true" if not fan_in_fan_out else "fan_in_fan_out: false"
        message = (
            f"LoRA deltas of {len(misfits)} modules are the transpose of their base weights "
            f"({first.module}: B @ A {shape_text(delta)}, base "
            f"{shape_text(target[weight].shape)}): the base stores [in, out] "
            "(GPT-2 Conv1D) or the reverse, and the adapter says otherwise"
        )
        note = f"set {what} in adapter_config.json"
    else:
        message = (
            f"LoRA widths of {len(misfits)} modules do not fit the base: "
            f"{first.module} B @ A is {shape_text(delta)}, the base weight "
            f"{shape_text(target[weight].shape)}"
            + (
                f"; adapter width {adapter_width}, base {base_width}: an adapter for another size"
                if adapter_width and base_width and adapter_width != base_width
                else ""
            )
        )
        note = "no conversion can fix it: use the base the adapter was trained on"
    ctx.add(
        Finding(
            category="lora_mismatch",
            severity="error",
            message=message,
            params=[s.name for m, _ in misfits for s in m.specs],
            evidence={
                "modules": rows[:20],
                "adapter_width": adapter_width,
                "base_width": base_width,
                "fan_in_fan_out": fan_in_fan_out,
            },
            confidence=0.95,
            fix_note=note,
        )
    )
    ctx.consume(unexpected=[s.name for m, _ in misfits for s in m.specs])


def _fits(
    ctx: Context, fits: list[tuple[LoraModule, str]], total: int, config: AdapterConfig | None
) -> None:
    """Report the modules that fit (``info``), and a rank the config misstates (``warning``)."""
    ranks: Counter[int] = Counter()
    scales: Counter[float] = Counter()
    wrong_rank = []
    drifts = []
    for module, weight in fits:
        rank = module.rank_on(ctx.target.tensors[weight].shape) or 0
        ranks[rank] += 1
        if config is None:
            continue
        name = module.module
        scales[round(config.scale(name, rank), 6)] += 1
        if config.rank(name) != rank:
            wrong_rank.append((module, config.rank(name), rank))
        if config.may_predate_0_15 and config.alpha(name) != config.legacy_alpha(name):
            drifts.append((module, rank))
    evidence: dict[str, object] = {
        "modules": total,
        "modules_found": len(fits),
        "ranks": dict(ranks),
        "adapter_layers": _depth(m.module + ".weight" for m, _ in fits),
        "base_layers": _depth(ctx.target.tensors),
        "adapter_width": main_width(s for m, _ in fits for s in m.specs),
        "base_width": ctx.main_width("target"),
        "base": ctx.target.source,
        "base_name_or_path": (ctx.target.config or {}).get("_name_or_path"),
    }
    details = ""
    if config is not None:
        evidence.update(
            peft_type=config.peft_type,
            r=config.r,
            lora_alpha=config.lora_alpha,
            use_rslora=config.use_rslora,
            use_dora=config.use_dora,
            fan_in_fan_out=config.fan_in_fan_out,
            target_modules=config.target_modules,
            modules_to_save=config.modules_to_save,
            base_model_name_or_path=config.base_model_name_or_path,
            scales={str(k): v for k, v in scales.items()},
        )
        formula = "alpha/√r" if config.use_rslora else "alpha/r"
        scale_text = ", ".join(f"{k:g}" for k in scales)
        details = (
            f" (r={config.r}, alpha={config.lora_alpha:g}, scale {formula} = {scale_text}"
            + (", DoRA" if config.use_dora else "")
            + ")"
        )
    ctx.add(
        Finding(
            category="lora_mismatch",
            severity="info",
            message=(
                f"LoRA adapter: {len(fits)} of {total} modules fit their base layers{details}"
            ),
            params=[s.name for m, _ in fits for s in m.specs],
            evidence=evidence,
            confidence=1.0,
            fix_note="merge it with: weightfit adapter merge ADAPTER --base BASE -o OUT",
        )
    )
    ctx.consume(unexpected=[s.name for m, _ in fits for s in m.specs])
    if wrong_rank and config is not None:
        _wrong_rank(ctx, wrong_rank, config)
    if drifts and config is not None:
        _alpha_drift(ctx, drifts, config)


def _alpha_drift(ctx: Context, drifts: list[tuple[LoraModule, int]], config: AdapterConfig) -> None:
    """Report modules whose alpha (so scale) depends on the PEFT version that loads them.

    PEFT before 0.15 looked a module's alpha up under the first key of either
    pattern that matched it, and matched no whole module path; PEFT since looks
    each pattern up on its own. Nothing in the files tells which one trained it.
    """
    module, rank = drifts[0]
    name = module.module
    new, old = config.alpha(name), config.legacy_alpha(name)
    scale_new, scale_old = config.scale(name, rank), config.scale(name, rank) * old / new
    ctx.add(
        Finding(
            category="lora_mismatch",
            severity="warning",
            message=(
                f"{len(drifts)} LoRA modules get another alpha from adapter_config.json in "
                f"PEFT since 0.15 than before ({name}: alpha {new:g}, scale {scale_new:g}; "
                f"before 0.15 alpha {old:g}, scale {scale_old:g}): rank_pattern and "
                "alpha_pattern match it through different keys, or through a whole module path"
            ),
            params=[s.name for m, _ in drifts for s in m.specs],
            evidence={
                "modules": [m.module for m, _ in drifts[:10]],
                "alpha": new,
                "alpha_before_0_15": old,
                "rank_pattern": config.rank_pattern,
                "alpha_pattern": config.alpha_pattern,
            },
            confidence=0.8,
            fix_note=(
                "weightfit adapter merge uses today's reading (as merge_and_unload does); if the "
                "adapter was trained with PEFT before 0.15, give alpha_pattern the module's full "
                f"path with alpha {old:g} first"
            ),
        )
    )


def _wrong_rank(
    ctx: Context, wrong_rank: list[tuple[LoraModule, int, int]], config: AdapterConfig
) -> None:
    """Report modules whose tensors have another rank than ``adapter_config.json`` gives them."""
    module, said, rank = wrong_rank[0]
    key = pattern_key(config.rank_pattern, module.module)
    # PEFT before 0.15 matched pattern keys with ".*\.key$": a key naming the whole
    # module path never matched, so the adapter was trained at the default rank.
    whole_path = key is not None and module.module == key
    cause = (
        f"; the rank_pattern key {key!r} is the whole module path, which PEFT before 0.15 "
        f"did not match: the adapter was trained at r={config.r}"
        if whole_path and rank == config.r
        else ""
    )
    ctx.add(
        Finding(
            category="lora_mismatch",
            severity="warning",
            message=(
                f"{len(wrong_rank)} LoRA modules have rank {rank} in the file, "
                f"adapter_config.json gives r={said} ({module.module}): PEFT builds them at "
                f"r={said} and cannot load the tensors (size mismatch){cause}"
            ),
            params=[s.name for m, _, _ in wrong_rank for s in m.specs],
            evidence={
                "file_rank": rank,
                "config_rank": said,
                "rank_pattern_key": key,
                "modules": [m.module for m, _, _ in wrong_rank[:10]],
            },
            confidence=0.9,
            fix_note=(
                "set r (or rank_pattern) in adapter_config.json to the files' rank; "
                "weightfit adapter merge uses the files' rank"
            ),
        )
    )


def _legacy_biases(ctx: Context, config: AdapterConfig | None) -> None:
    """Report trained biases of adapted modules saved where PEFT before 0.7 kept them.

    Until 0.7 a LoRA layer *was* the base layer (``q_proj.bias``); since then it
    wraps it (``q_proj.base_layer.bias``), and ``set_peft_model_state_dict``
    leaves keys it does not know aside without a word: ``bias="all"`` or
    ``"lora_only"`` biases saved the old way are not loaded by today's PEFT.
    """
    if config is None or config.bias == "none":
        return
    layout = split(ctx.source.tensors.values())
    adapted = {m.module for m in layout.lora.values()}
    old = [
        c.spec.name
        for c in layout.whole
        if not c.wrapper and c.base.endswith(".bias") and c.base[: -len(".bias")] in adapted
    ]
    if not old:
        return
    kinds = sorted({name.rsplit(".", 2)[-2] for name in old})
    pattern = rf"(.*\.(?:{'|'.join(re.escape(k) for k in kinds)}))\.bias"
    ctx.add(
        Finding(
            category="lora_mismatch",
            severity="warning",
            message=(
                f"{len(old)} trained biases (bias={config.bias!r}) of adapted modules are saved "
                f"as '<module>.bias' ({strip_peft(old[0])}), PEFT's layout before 0.7; since "
                "then PEFT looks for '<module>.base_layer.bias' and PeftModel.from_pretrained "
                "leaves these out without a warning"
            ),
            params=old,
            evidence={"bias": config.bias, "tensors": len(old), "module_kinds": kinds},
            confidence=0.85,
            fix=[
                Op(
                    "rename",
                    {"pattern": pattern, "replacement": r"\1.base_layer.bias"},
                    "lora_mismatch: trained biases in PEFT's layout before 0.7",
                )
            ],
            fix_note=(
                "rename them (the plan's rename) before loading with today's PEFT; "
                "weightfit adapter merge keeps them as trained"
            ),
        )
    )


def _token_rows(ctx: Context, rows: TokenRows, config: AdapterConfig | None) -> None:
    """Check trainable-token rows against the embedding they overwrite."""
    target = ctx.target.tensors
    weight = base_weight(rows.module, target, ctx.renamed(rows.module))
    module = strip_peft(rows.module)
    indices = (config.indices_for(module) if config else None) or []
    if weight is None:
        return
    base_rows, width = target[weight].shape[0], target[weight].shape[-1]
    delta = rows.delta.shape
    evidence: dict[str, object] = {
        "module": module,
        "base_rows": base_rows,
        "token_indices": indices,
        "delta": list(delta),
    }
    if len(delta) != 2 or delta[1] != width:
        ctx.add(
            Finding(
                category="lora_mismatch",
                severity="error",
                message=(
                    f"trainable token rows of {module} are {shape_text(delta)}, the base "
                    f"embedding is {shape_text(target[weight].shape)}: another width"
                ),
                params=[rows.delta.name],
                evidence=evidence,
                confidence=0.95,
                fix_note="use the base the adapter was trained on",
            )
        )
    elif indices and max(indices) >= base_rows:
        needed = max(indices) + 1
        ctx.add(
            Finding(
                category="vocab_resize",
                severity="error",
                message=(
                    f"trainable token rows reach index {needed - 1}, the base {module} has "
                    f"{base_rows} rows: tokens were added to the vocabulary after the base"
                ),
                params=[rows.delta.name],
                evidence={**evidence, "implied_rows": needed},
                confidence=0.9,
                fix_note=(
                    f"resize the base to at least {needed} rows first "
                    "(model.resize_token_embeddings(len(tokenizer)))"
                ),
            )
        )
    else:
        ctx.add(
            Finding(
                category="lora_mismatch",
                severity="info",
                message=(
                    f"trainable token rows fit {module}: {delta[0]} rows of width {width} "
                    f"within its {base_rows}"
                ),
                params=[rows.delta.name],
                evidence=evidence,
                confidence=1.0,
            )
        )
    ctx.consume(unexpected=[rows.delta.name])


def untied_heads(ctx: Context) -> None:
    """Say that an adapter unties a head its base ties to the embeddings, and what merging does.

    ``facts["untied"]`` (tied copy → the tensor it shares, read by
    ``adapters.saved`` from the base's model) names the heads the base's files
    leave out whose embedding the adapter replaces: ``modules_to_save`` on the
    input embedding leaves the tied head on the original rows, so PEFT's model
    has two tensors.
    """
    tied: dict[str, str] = dict(ctx.facts.get("untied") or {})
    if not tied:
        return
    copy, original = next(iter(tied.items()))
    ctx.add(
        Finding(
            category="tied_weights",
            severity="info",
            message=(
                f"the base ties {copy} to {original} (its files leave the copy out); the "
                f"adapter's copy of {original} (modules_to_save) unties them in PEFT: {copy} "
                "keeps the rows training started from"
            ),
            params=[PEFT_PREFIX + name for name in tied],
            evidence={"tied": tied, "source": "model built from the base's config"},
            confidence=0.9,
            fix_note=(
                f"weightfit adapter merge writes {copy} apart (the adapter's copy, else the "
                "base's rows) and sets tie_word_embeddings to false, as merge_and_unload does"
            ),
        )
    )
