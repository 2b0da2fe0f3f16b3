"""``version``: a PEFT adapter saved for its model's older module layout (``adapter`` profile).

transformers 5 moved the modules of composite models (a Llava's
``language_model.model.layers`` is ``model.language_model.layers``) and
renames their files' names on load. An adapter saved under transformers 4 is
named after the old layout; ``adapters.saved.older_layout`` finds its tensors
that the base's model now names otherwise (``facts["older_layout"]``).

What PEFT does with such an adapter on load (PEFT 0.21, transformers 5,
``peft.utils.transformers_weight_conversion``): tensors whose name holds
``.lora_`` go through the model's conversion and land in place; every other
tensor keeps its old name, so a ``modules_to_save`` copy fails the load
(``KeyError`` on its new name, from ``set_peft_model_state_dict``) and any
other whole copy is silently left out. Those are an ``error``; LoRA tensors
alone an ``info``. The fix renames the adapter's tensors as today's PEFT would
name them (``weightfit fix`` writes the adapter folder renamed); ``weightfit
adapter merge`` maps the old names itself.

``older_experts``: LoRA on a MoE's per-expert modules (Mixtral's
``experts.{e}.w1``), which transformers 5 stacks into one parameter
(``mlp.experts.gate_up_proj``). PEFT (``_convert_peft_config_moe``) turns such
targets into ``target_parameters`` on the stacked tensor and the expert LoRAs
into one block-diagonal LoRA on load: an ``info``, unless the adapter adapts
only some of the modules one tensor stacks (``w1`` without ``w3``), which PEFT
refuses with a ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from weightfit.diagnose._context import Context
from weightfit.diagnose.adapters import adapter_config
from weightfit.findings import Finding
from weightfit.peft.config import PEFT_PREFIX
from weightfit.peft.layout import TOKEN_DELTA, differing_heads, lora_part, strip_peft, unwrap
from weightfit.plan import Op

CONVERTED = ".lora_"
"""PEFT converts the names holding this, and only those (``transformers_weight_conversion``)."""

OBSERVED_WITH = "PEFT 0.21 with transformers 5"
"""Where the behaviour this rule reports was observed (``tests/test_peft_matrix.py`` runs it)."""

EXPERTS_OBSERVED_WITH = "PEFT 0.22.0 with transformers 5.25.0 (tests/data/saved-by/peft-0.10.0)"
"""Where ``older_experts``' behaviour was observed (``tests/test_saved_by_older.py`` runs it)."""


def older_layout(ctx: Context) -> None:
    """Report the adapter tensors named after the model's older layout, and their new names."""
    facts: Mapping[str, Any] | None = ctx.facts.get("older_layout")
    if not facts or not facts.get("moved"):
        return
    moved: dict[str, str] = dict(facts["moved"])
    converted = [n for n in moved if CONVERTED in n]
    kept = [n for n in moved if CONVERTED not in n]
    config = adapter_config(ctx.source.config)
    saved = config.modules_to_save if config else []
    wrapped = [n for n in kept if _wrapped(moved[n], saved)]
    dropped = [n for n in kept if n not in wrapped]
    prefixes = _prefixes(moved)
    examples = {differing_heads(old, new)[0]: old for old, new in reversed(moved.items())}
    shown = ", ".join(
        f"{_module(examples[head])} → {_module(moved[examples[head]])}" for head in prefixes
    )
    consequences = []
    if wrapped:
        consequences.append(
            f"modules_to_save {_module(moved[wrapped[0]])} fails to load "
            f"(KeyError: '{unwrap_prefixed(moved[wrapped[0]])}')"
        )
    if dropped:
        consequences.append(f"{len(dropped)} whole tensor(s) are left out without a warning")
    if kept:
        tail = (
            f"PEFT renames its {len(converted)} LoRA tensor(s) on load, not its "
            f"{len(kept)} other tensor(s): " + "; ".join(consequences)
        )
    else:
        tail = f"PEFT renames its {len(converted)} LoRA tensor(s) on load, so it attaches"
    ctx.add(
        Finding(
            category="version",
            severity="error" if kept else "info",
            message=(
                f"adapter saved for this model's transformers 4 layout ({shown}); "
                f"{facts.get('library', 'transformers')} names these modules otherwise: {tail}"
            ),
            params=list(moved),
            evidence={
                "renames": prefixes,
                "tensors_renamed": len(moved),
                "converted_on_load": len(converted),
                "not_converted": kept,
                "load_error": (
                    f"KeyError: '{unwrap_prefixed(moved[wrapped[0]])}'" if wrapped else None
                ),
                "left_out": dropped,
                "memory_names_from": f"the base's model built by {facts.get('library')}",
                "observed_with": OBSERVED_WITH,
            },
            confidence=0.95,
            fix=_ops(moved, prefixes, list(ctx.source.tensors)),
            fix_note=(
                "weightfit adapter merge maps these names itself; weightfit fix ADAPTER "
                "--against BASE -o OUT writes the adapter under today's names (the plan's "
                "renames), as PEFT loads it; or load it with transformers < 5"
            ),
        )
    )


def older_experts(ctx: Context) -> None:
    """Report LoRA modules on per-expert tensors today's model stacks, and what PEFT does."""
    facts: Mapping[str, Any] | None = ctx.facts.get("older_experts")
    if not facts or not facts.get("fused"):
        return
    fused: dict[str, str] = dict(facts["fused"])
    parts: dict[str, list[str]] = dict(facts["parts"])
    targeted: dict[str, list[str]] = dict(facts["targeted"])
    partial = {name: leaves for name, leaves in targeted.items() if leaves != sorted(parts[name])}
    module, stacked = next(iter(fused.items()))
    library = facts.get("library", "transformers")
    if partial:
        name, leaves = next(iter(partial.items()))
        absent = ", ".join(sorted(set(parts[name]) - set(leaves)))
        error = (
            f"ValueError: Cannot convert PEFT target(s) {', '.join(leaves)} without also "
            f"targeting {absent} because they are fused into {name.rsplit('.', 1)[-1]}."
        )
        tail = f"PEFT refuses it on load ({error})"
    else:
        error = None
        tail = (
            "PEFT converts it on load (the expert LoRAs become one LoRA on the stacked "
            "parameter, target_parameters)"
        )
    ctx.add(
        Finding(
            category="version",
            severity="error" if partial else "info",
            message=(
                f"adapter saved for this model's transformers 4 per-expert layout "
                f"(LoRA on {strip_peft(module)}); {library} stacks the experts into "
                f"{stacked}: {tail}"
            ),
            params=[name for name in ctx.source.tensors if _lora_module(name) in fused],
            evidence={
                "stacked_into": sorted(targeted),
                "parts": {name.rsplit(".", 1)[-1]: parts[name] for name in targeted},
                "adapted_parts": {name.rsplit(".", 1)[-1]: targeted[name] for name in targeted},
                "modules": len(fused),
                "load_error": error,
                "observed_with": EXPERTS_OBSERVED_WITH,
            },
            confidence=0.9,
            fix_note=(
                f"adapt {absent} too (retrain), or load it with transformers < 5"
                if partial
                else "nothing to change for PEFT with transformers 5; weightfit adapter merge "
                "ADAPTER --base MODEL_FOLDER merges it into the per-expert files"
            ),
        )
    )


def _lora_module(name: str) -> str | None:
    """The LoRA module a tensor belongs to, as ``split`` names it (``None``: not LoRA)."""
    module, _ = lora_part(name)
    return module


def unwrap_prefixed(name: str) -> str:
    """The key PEFT looks a ``modules_to_save`` copy up under: wrapper segments removed."""
    return PEFT_PREFIX + unwrap(name)


def _module(name: str) -> str:
    """The base-model module a tensor of the adapter belongs to (``model.layers.0.q_proj``)."""
    module, _ = lora_part(name)
    if module is None:
        module = name.removesuffix(TOKEN_DELTA)
        module = module if module != name else name.rsplit(".", 1)[0]
    return strip_peft(unwrap(module))


def _wrapped(name: str, modules_to_save: list[str]) -> bool:
    """Whether PEFT wraps the tensor's module (``modules_to_save`` by suffix, trainable tokens)."""
    module = _module(name)
    return name.endswith(TOKEN_DELTA) or any(
        module == key or module.endswith("." + key) for key in modules_to_save
    )


def _prefixes(moved: Mapping[str, str]) -> dict[str, str]:
    """The renames as prefixes of the adapter's names, longest first: old → new."""
    found: dict[str, str] = {}
    for old, new in moved.items():
        head_old, head_new = differing_heads(old, new)
        found.setdefault(head_old, head_new)
    return dict(sorted(found.items(), key=lambda item: -len(item[0])))


def _ops(moved: Mapping[str, str], prefixes: Mapping[str, str], names: list[str]) -> list[Op]:
    """``rename`` ops giving the tensors their new names: by prefix where that renames just them."""
    reason = "version: the adapter's tensors under today's module names"
    by_prefix = [Op("rename", {"strip": old, "add": new}, reason) for old, new in prefixes.items()]
    current = {name: name for name in names}
    for op in by_prefix:
        strip, add = op.args["strip"], op.args["add"]
        current = {
            n: add + now[len(strip) :] if now.startswith(strip) else now
            for n, now in current.items()
        }
    if all(current[n] == moved.get(n, n) for n in names):
        return by_prefix
    return [Op("rename", {"from": old, "to": new}, reason) for old, new in moved.items()]
