"""diffusers LoRA files read as the PEFT adapter diffusers attaches them as.

diffusers' ``save_lora_weights`` (pipelines) and ``save_lora_adapter`` (models)
write PEFT's LoRA tensors (``lora_A`` / ``lora_B``) into
``pytorch_lora_weights.safetensors`` without an ``adapter_config.json``
(``diffusers/loaders/lora_base.py``, ``loaders/peft.py``). A pipeline's file puts
its component before every name (``unet.``, ``transformer.``, ``text_encoder.``);
either may store the ``LoraConfig`` as JSON under ``lora_adapter_metadata`` in
``__metadata__``, a pipeline's with its keys prefixed the same way. Without it
diffusers scales each module by 1: alpha is the module's rank
(``diffusers.utils.peft_utils.get_peft_kwargs``).

:func:`read` gives the manifest :func:`weightfit.adapters.check.read_adapter`
gives for a PEFT folder: one component's tensors under PEFT's
``base_model.model.`` and the config diffusers would build, as ``config``.
Only headers and the metadata JSON are read.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

from weightfit import formats
from weightfit.errors import NotACheckpoint
from weightfit.formats.folder import ADAPTER_FOLDER, PIPELINE
from weightfit.manifest import Manifest, TensorSpec
from weightfit.peft.config import INFERRED_BY, PEFT_PREFIX, parse
from weightfit.peft.layout import base_weight, lora_part

WEIGHT_NAMES = ("pytorch_lora_weights.safetensors", "pytorch_lora_weights.bin")
"""diffusers' ``LORA_WEIGHT_NAME_SAFE`` and ``LORA_WEIGHT_NAME``."""

METADATA_KEY = "lora_adapter_metadata"
"""diffusers' ``LORA_ADAPTER_METADATA_KEY``: the ``LoraConfig`` as JSON."""

COMPONENTS = (
    "unet",
    "transformer",
    "prior",
    "decoder",
    "text_encoder",
    "text_encoder_2",
    "text_encoder_3",
)
"""Component prefixes of a pipeline's LoRA file, denoisers first (``unet_name`` …)."""


def weights_file(path: str | Path) -> Path | None:
    """The diffusers LoRA file ``path`` is or holds, or ``None`` (a PEFT folder is not one)."""
    path = Path(path)
    if path.is_file():
        return path if path.name in WEIGHT_NAMES else None
    if not path.is_dir() or (path / "adapter_config.json").is_file():
        return None
    return next((path / name for name in WEIGHT_NAMES if (path / name).is_file()), None)


def read(path: str | Path, base: Manifest | None = None) -> Manifest:
    """Read a diffusers LoRA file as a PEFT adapter of one component, or of a pipeline.

    Args:
        path: The file, or a folder holding ``pytorch_lora_weights.safetensors``.
        base: The model it will be checked against or merged into: of a pipeline
            file's components, the one most of whose modules it has is read
            (without it, the first denoiser); against a pipeline folder, all of
            them, each under its component's name.

    Raises:
        NotACheckpoint: no diffusers LoRA file there, or it holds tensors that
            are not PEFT LoRA tensors (kohya's ``lora_down`` / ``alpha`` layout).

    """
    file = weights_file(path)
    if file is None:
        raise NotACheckpoint(
            f"not a PEFT adapter folder (no adapter_config.json) nor a diffusers LoRA file "
            f"({' or '.join(WEIGHT_NAMES)})",
            path=Path(path),
        )
    manifest = formats.read(file)
    foreign = [name for name in manifest.tensors if lora_part(name)[0] is None]
    if not manifest.tensors or foreign:
        first = foreign[0] if foreign else "no tensors"
        raise NotACheckpoint(
            f"a LoRA file not in diffusers' PEFT layout ({first}): "
            "load it with diffusers' load_lora_weights and save it with save_lora_weights",
            path=file,
        )
    groups = _components(list(manifest.tensors))
    # Against a whole pipeline, every component is read under its own name, as the
    # pipeline's load_lora_weights attaches each; against one model, one component.
    whole = base is not None and base.format == PIPELINE and "" not in groups
    chosen = list(groups) if whole else [_chosen(groups, base)]
    tensors: dict[str, TensorSpec] = {}
    configs = []
    for component in chosen:
        prefix = f"{component}." if component and not whole else ""
        part = {}
        for name in groups[component]:
            spec = manifest.tensors[name]
            renamed = PEFT_PREFIX + name.removeprefix(prefix)
            part[renamed] = replace(spec, name=renamed)
        tensors.update(part)
        configs.append((component, _config(manifest.metadata, component, part)))
    others = [c for c in groups if c not in chosen]
    read = ", ".join(repr(c or "(unnamed)") for c in chosen)
    notes = [
        f"diffusers LoRA file read as a PEFT adapter of {read}"
        + (f"; other components here: {', '.join(others)}" if others else "")
    ]
    return Manifest(
        tensors=tensors,
        source=str(path),
        format=ADAPTER_FOLDER,
        files=manifest.files,
        metadata=manifest.metadata,
        config=_joined(configs, tensors),
        notes=notes,
    )


def _components(names: list[str]) -> dict[str, list[str]]:
    """Names by their component prefix (``""``: a model's own file, no prefix)."""
    groups: dict[str, list[str]] = {}
    for name in names:
        first = name.split(".", 1)[0]
        groups.setdefault(first if first in COMPONENTS else "", []).append(name)
    return groups


def _chosen(groups: dict[str, list[str]], base: Manifest | None) -> str:
    """The component ``base`` has most modules of; without a base, the first denoiser."""
    order = sorted(groups, key=lambda c: COMPONENTS.index(c) if c else -1)
    if base is None or len(order) == 1:
        return order[0]

    def hits(component: str) -> int:
        prefix = f"{component}." if component else ""
        modules = {lora_part(n)[0] or "" for n in groups[component]}
        return sum(base_weight(m.removeprefix(prefix), base.tensors) is not None for m in modules)

    return max(order, key=hits)


def _config(metadata: dict[str, str], component: str, tensors: dict[str, TensorSpec]) -> Any:
    """The ``LoraConfig`` diffusers loads the component with, as ``adapter_config.json`` says it."""
    saved = _saved_config(metadata, component)
    if saved is not None:
        return saved
    ranks = {
        name.removeprefix(PEFT_PREFIX)[: -len(".lora_A.weight")]: spec.shape[0]
        for name, spec in tensors.items()
        if name.endswith(".lora_A.weight") and spec.shape
    }
    r = Counter(ranks.values()).most_common(1)[0][0] if ranks else 8
    pattern = {module: rank for module, rank in ranks.items() if rank != r}
    return {
        "peft_type": "LORA",
        INFERRED_BY: "diffusers get_peft_kwargs",
        "r": r,
        "lora_alpha": r,  # no alpha saved: diffusers scales by 1 (alpha = rank)
        "rank_pattern": pattern,
        "alpha_pattern": dict(pattern),
        "target_modules": sorted(
            {(lora_part(n)[0] or "").removeprefix(PEFT_PREFIX) for n in tensors}
        ),
        "use_dora": any(".lora_magnitude_vector" in n for n in tensors),
        "lora_bias": any(".lora_B." in n and n.endswith(".bias") for n in tensors),
    }


def _joined(configs: list[tuple[str, Any]], tensors: dict[str, TensorSpec]) -> Any:
    """One config for several components' modules (names ``unet.…``, ``text_encoder.…``).

    The first component's, with each other module's rank and alpha (as its own
    component's config gives them) as patterns of its whole path, matched first.
    """
    first = dict(configs[0][1])
    ranks: dict[str, int] = {}
    alphas: dict[str, float] = {}
    for component, config in configs[1:]:
        parsed = parse(config)
        for name in tensors:
            module = (lora_part(name)[0] or "").removeprefix(PEFT_PREFIX)
            if module.startswith(f"{component}."):
                key = re.escape(module)
                ranks[key] = parsed.rank(module.removeprefix(f"{component}."))
                alphas[key] = parsed.alpha(module.removeprefix(f"{component}."))
    if ranks:
        first["rank_pattern"] = {**ranks, **(first.get("rank_pattern") or {})}
        first["alpha_pattern"] = {**alphas, **(first.get("alpha_pattern") or {})}
    return first


def _saved_config(metadata: dict[str, str], component: str) -> dict[str, Any] | None:
    """The ``lora_adapter_metadata`` JSON of ``component`` (keys without its prefix)."""
    raw = metadata.get(METADATA_KEY)
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    if component:
        prefix = f"{component}."
        data = {k.removeprefix(prefix): v for k, v in data.items() if k.startswith(prefix)}
    if not data:
        return None
    return data if "peft_type" in data else {**data, "peft_type": "LORA"}
