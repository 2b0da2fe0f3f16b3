"""``lora_mismatch`` for PEFT types other than LoRA: LoHa, LoKr, IA³, AdaLoRA, VeRA, OFT ….

Their tensors sit on the module they adapt, under parameters of the type's own
(``q_proj.hada_w1_a``, ``q_proj.lokr_w1``, ``k_proj.ia3_l``, ``q_proj.oft_R.weight``),
so the LoRA rule (:mod:`weightfit.diagnose.adapters`) does not read them and the
whole-model comparison would call them unexpected. What their shapes must be is
the type's own business: this rule checks names only, as PEFT's
``inject_adapter`` does first: each module the adapter names is in the base
(found as PEFT finds it, :func:`weightfit.peft.layout.base_weight`), or not.
Tensors outside ``base_model.model.`` (VeRA's shared ``base_model.vera_A``) belong
to the adapter as a whole.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from weightfit.diagnose._context import Context, shape_text
from weightfit.findings import Finding
from weightfit.manifest import TensorSpec
from weightfit.peft.config import PEFT_PREFIX
from weightfit.peft.layout import base_weight, unwrap

MAX_EXAMPLES = 3
"""Module names quoted per finding message."""


def other_peft_types(ctx: Context) -> None:
    """Find the modules a non-LoRA PEFT adapter names in the base, and check their widths."""
    config = ctx.source.config
    kind = config.get("peft_type") if isinstance(config, dict) else None
    if not isinstance(kind, str) or kind.upper() == "LORA":
        return
    kind = kind.upper()
    modules: dict[str, dict[str, TensorSpec]] = {}
    shared = []
    for name in ctx.unexpected():
        if name.startswith(PEFT_PREFIX):
            module, part = _module(name)
            modules.setdefault(module, {})[part] = ctx.source.tensors[name]
        elif name.startswith("base_model."):
            shared.append(name)
    if not modules:
        return
    target = ctx.target.tensors
    weights = {m: base_weight(m, target) for m in modules}
    transposed = bool(config.get("fan_in_fan_out")) if isinstance(config, dict) else False
    missing = [m for m, w in weights.items() if w is None]
    misfits = {
        m: target[w].shape
        for m, w in weights.items()
        if w is not None and not _fits(_widths(kind, modules[m]), target[w].shape, transposed)
    }
    found = [m for m, w in weights.items() if w is not None and m not in misfits]
    evidence: dict[str, object] = {
        "peft_type": kind,
        "modules": len(modules),
        "modules_found": len(modules) - len(missing),
        "target_modules": config.get("target_modules") if isinstance(config, dict) else None,
    }
    trained_on = config.get("base_model_name_or_path") if isinstance(config, dict) else None
    use_base = "use the base the adapter was trained on" + (
        f" ({trained_on})" if trained_on else ""
    )
    if missing:
        shared = _add(
            ctx,
            modules,
            missing,
            Finding(
                category="lora_mismatch",
                severity="error",
                message=(
                    f"{len(missing)} of {len(modules)} {kind} modules are not in the base "
                    f"(only {len(modules) - len(missing)} found): another model or another "
                    f"layout; e.g. {', '.join(missing[:MAX_EXAMPLES])}"
                ),
                evidence={**evidence, "missing_examples": missing[:10]},
                confidence=0.9 if len(missing) == len(modules) else 0.8,
                fix_note="PEFT leaves those modules unadapted (or refuses to load): " + use_base,
            ),
            shared,
        )
    if misfits:
        first, shape = next(iter(misfits.items()))
        out, width = _widths(kind, modules[first])
        shared = _add(
            ctx,
            modules,
            list(misfits),
            Finding(
                category="lora_mismatch",
                severity="error",
                message=(
                    f"{kind} widths of {len(misfits)} modules do not fit the base: {first} "
                    f"adapts {out if out is not None else '?'} outputs × "
                    f"{width if width is not None else '?'} inputs, the base weight is "
                    f"{shape_text(shape)}: an adapter for another size"
                ),
                evidence={
                    **evidence,
                    "misfits": [
                        {"module": m, "adapter": list(_widths(kind, modules[m])), "base": list(s)}
                        for m, s in list(misfits.items())[:20]
                    ],
                },
                confidence=0.9,
                fix_note="no conversion can fix it: " + use_base,
            ),
            shared,
        )
    if found:
        checked = "names and widths" if kind in _WIDTH_RULES else "names only"
        shared = _add(
            ctx,
            modules,
            found,
            Finding(
                category="lora_mismatch",
                severity="info",
                message=(
                    f"{kind} adapter: {len(found)} of {len(modules)} modules fit the base "
                    f"({checked}; weightfit merges LoRA adapters only: merge this one with "
                    "PEFT's merge_and_unload)"
                ),
                evidence=evidence,
                confidence=1.0,
            ),
            shared,
        )


def _add(
    ctx: Context,
    modules: Mapping[str, Mapping[str, TensorSpec]],
    chosen: list[str],
    finding: Finding,
    shared: list[str],
) -> list[str]:
    """Add ``finding`` over the ``chosen`` modules' tensors (and ``shared``), consume them.

    Returns:
        What is left of ``shared`` for the next finding: nothing.

    """
    finding.params = [s.name for m in chosen for s in modules[m].values()] + shared
    ctx.add(finding)
    ctx.consume(unexpected=finding.params)
    return []


def _module(name: str) -> tuple[str, str]:
    """(the module a tensor adapts, the type's parameter): ``q_proj``, ``oft_R``."""
    parts = unwrap(name).split(".")
    cut = 2 if len(parts) > 2 and parts[-1] in ("weight", "bias") else 1
    return ".".join(parts[:-cut]), parts[-cut]


_WIDTH_RULES = ("LOHA", "LOKR", "ADALORA", "IA3", "VERA", "OFT")
"""Types whose tensors say the widths of the weight they adapt (``peft/tuners/<type>/layer.py``)."""


def _widths(kind: str, params: Mapping[str, TensorSpec]) -> tuple[int | None, int | None]:
    """(outputs, inputs) of the weight a module's tensors adapt; ``None`` where they do not say.

    LoHa ``(w1_a @ w1_b) * (w2_a @ w2_b)``; LoKr ``kron(w1, w2)`` (each whole or
    as ``_a @ _b``); AdaLoRA ``B @ (A * E)``; IA³ scales the outputs (``[out, 1]``)
    or, on a feed-forward module, the inputs (``[1, in]``); VeRA's ``lambda_b``
    scales the outputs; OFT rotates the inputs in blocks of ``b`` (``oft_R``
    ``[in / b, b(b-1)/2]``). Tucker cores (``hada_t1``, ``lokr_t2``) are not read.
    """
    shape = {part: spec.shape for part, spec in params.items()}
    if kind == "LOHA" and "hada_t1" not in shape:
        a, b = shape.get("hada_w1_a"), shape.get("hada_w1_b")
        if a and b:
            return a[0], math.prod(b[1:])
    if kind == "LOKR" and "lokr_t2" not in shape:
        first, second = _factor(shape, "lokr_w1"), _factor(shape, "lokr_w2")
        if first and second:
            return first[0] * second[0], math.prod(first[1:]) * math.prod(second[1:])
    if kind == "ADALORA":
        a, b = shape.get("lora_A"), shape.get("lora_B")
        if a and b:
            return b[0], math.prod(a[1:])
    if kind == "IA3" and (scale := shape.get("ia3_l")) and len(scale) >= 2:
        return (None, scale[1]) if scale[0] == 1 and scale[1] != 1 else (scale[0], None)
    if kind == "VERA" and (scale := shape.get("vera_lambda_b")):
        return scale[0], None
    if kind == "OFT" and (rotation := shape.get("oft_R")) and len(rotation) == 2:
        block = (1 + math.isqrt(1 + 8 * rotation[1])) // 2  # oft_R packs b(b-1)/2 per block
        if block * (block - 1) // 2 == rotation[1]:
            return None, rotation[0] * block
    return None, None


def _factor(shape: Mapping[str, tuple[int, ...]], key: str) -> tuple[int, ...] | None:
    """A Kronecker factor's shape: ``key`` whole, or ``key_a @ key_b``."""
    if key in shape:
        return shape[key]
    a, b = shape.get(f"{key}_a"), shape.get(f"{key}_b")
    return (a[0], *b[1:]) if a and b else None


def _fits(widths: tuple[int | None, int | None], base: tuple[int, ...], transposed: bool) -> bool:
    """Whether (outputs, inputs) agree with a base weight (``[in, out]`` when ``transposed``)."""
    if not base:
        return True
    out, width = base[0], math.prod(base[1:])
    if transposed and len(base) == 2:
        out, width = base[1], base[0]
    want_out, want_in = widths
    return (want_out is None or want_out == out) and (want_in is None or want_in == width)
