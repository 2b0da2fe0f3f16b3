"""Kohya-style LoRA files (sd-scripts, A1111, ComfyUI, OneTrainer) read as a PEFT adapter.

kohya's ``networks/lora.py`` saves each LoRA module as three tensors under one
flattened name, the module's path with its dots made underscores behind a prefix
naming the model: ``lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight``
(PEFT's ``lora_A``), ``….lora_up.weight`` (``lora_B``) and ``….alpha`` (a scalar;
the update is scaled by alpha / rank, as PEFT scales it; an alpha of 0 or none is
the rank, a scale of 1, as kohya and ComfyUI read it — diffusers gives a module
without one the file's commonest alpha). ``lora_te_`` is the text
encoder, ``lora_te1_`` / ``lora_te2_`` / ``lora_te3_`` those of SDXL and SD3.
LyCORIS writes its LoHa (``hada_w1_a`` …) and LoKr (``lokr_w1`` …) modules under
the same names, with the parameter names PEFT's LoHa and LoKr took over; a file
of one type is read as that PEFT type.

The flattened name does not say which underscores were dots, so each module is
found in the base: the base's module paths are flattened the same way and matched
whole, or behind the prefix a base file adds to all of them
(``model.diffusion_model.`` in a single-file checkpoint). SDXL's files name the
UNet's blocks as the original release does (``lora_unet_input_blocks_4_1_…``):
against a diffusers UNet those are named by diffusers' own ``lora_state_dict``,
run over shape-only tensors, as ``load_lora_weights`` names them. A name that
matches no module, or several, keeps its flattened name, so the check reports it
as a module the base lacks (what ComfyUI prints as ``lora key not loaded``).
Only headers and the alpha scalars are read.
"""

from __future__ import annotations

import math
import re
import struct
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from weightfit import formats
from weightfit.errors import NotACheckpoint
from weightfit.formats.folder import ADAPTER_FOLDER
from weightfit.manifest import Manifest, TensorSpec
from weightfit.peft.config import INFERRED_BY, PEFT_PREFIX
from weightfit.tensor_io import Sources

KOHYA_NAME = re.compile(
    r"^(lora_(?:unet|te\d?|transformer|prior))_(\w+)\."
    r"(lora_down\.weight|lora_up\.weight|alpha|hada_(?:w[12]_[ab]|t[12])|lokr_(?:w[12](?:_[ab])?|t2))$"
)
"""One tensor of a kohya-named module: its component prefix, flattened path and part."""

PARTS = {"lora_down.weight": "lora_A.weight", "lora_up.weight": "lora_B.weight"}
"""kohya's LoRA part names and PEFT's (LyCORIS's LoHa and LoKr parts are PEFT's own)."""

KINDS = {"lora_": "LORA", "hada_": "LOHA", "lokr_": "LOKR"}
"""The adapter type each part's name starts with, as PEFT's ``peft_type``."""

RANK_PARTS = {
    "LORA": (("lora_down.weight", 0),),
    "LOHA": (("hada_w1_b", 0),),
    "LOKR": (("lokr_w2_b", 0), ("lokr_w1_b", 0)),
}
"""Where a module's rank is read: the part and its dimension (a full LoKr factor has none)."""

COMPONENTS = {
    "lora_unet": "unet",
    "lora_transformer": "transformer",
    "lora_prior": "prior",
    "lora_te": "text_encoder",
    "lora_te1": "text_encoder",
    "lora_te2": "text_encoder_2",
    "lora_te3": "text_encoder_3",
}
"""The model each prefix names, as diffusers' pipelines call it."""

INFERRED = "kohya networks/lora.py"
"""The ``inferred_by`` of the config read from a kohya file."""

SCALARS = {"F32": "<f", "F16": "<e", "F64": "<d"}
"""``struct`` formats of the float dtypes an alpha is saved in (BF16 apart)."""


@dataclass(frozen=True)
class KohyaModule:
    """One LoRA module of a kohya file: its prefix, flattened path and tensors by part."""

    prefix: str
    flat: str
    tensors: dict[str, TensorSpec]


def is_kohya(names: Iterable[str]) -> bool:
    """Whether every name is a kohya-named tensor of one adapter type (and there is one)."""
    names = list(names)
    return all(KOHYA_NAME.match(name) for name in names) and len(_kinds(names)) == 1


def _kinds(names: Iterable[str]) -> set[str]:
    """The adapter types of the names' parts (an alpha belongs to any)."""
    parts = [match.group(3) for match in map(KOHYA_NAME.match, names) if match is not None]
    return {kind for part in parts for start, kind in KINDS.items() if part.startswith(start)}


def read(path: str | Path, base: Manifest | None = None) -> Manifest:
    """Read a kohya-named LoRA, LoHa or LoKr file as a PEFT adapter of the component ``base`` is.

    Args:
        path: The ``.safetensors`` (or other checkpoint) file.
        base: The model it is checked against or merged into. Without it, or for
            modules it does not have, names stay flattened.

    Raises:
        NotACheckpoint: the file holds tensors that are not kohya LoRA tensors.

    """
    manifest = formats.read(path)
    if not is_kohya(manifest.tensors):
        first = next((n for n in manifest.tensors if not KOHYA_NAME.match(n)), "no tensors")
        raise NotACheckpoint(f"not a kohya LoRA file of one type ({first})", path=Path(path))
    (kind,) = _kinds(manifest.tensors)
    modules = _modules(manifest.tensors.values())
    by_prefix: dict[str, list[KohyaModule]] = defaultdict(list)
    for module in modules:
        by_prefix[module.prefix].append(module)
    base_modules = _base_modules(base.tensors) if base is not None else set()
    resolved = {p: _resolve(ms, base_modules) for p, ms in by_prefix.items()}
    unfound = [m for m in by_prefix.get("lora_unet", []) if resolved["lora_unet"][m.flat] is None]
    mapped = _diffusers_names(unfound, base) if kind == "LORA" else {}
    for flat, named in mapped.items():
        if resolved["lora_unet"][flat] is None and named in base_modules:
            resolved["lora_unet"][flat] = named
    chosen = max(
        by_prefix,
        key=lambda p: (sum(v is not None for v in resolved[p].values()), p == "lora_unet"),
    )
    tensors: dict[str, TensorSpec] = {}
    ranks: dict[str, int] = {}
    alphas: dict[str, float] = {}
    with Sources(Path(path).parent) as sources:
        for module in by_prefix[chosen]:
            name = resolved[chosen][module.flat] or f"{module.prefix}_{module.flat}"
            for part, spec in module.tensors.items():
                if part != "alpha":
                    renamed = f"{PEFT_PREFIX}{name}.{PARTS.get(part, part)}"
                    tensors[renamed] = replace(spec, name=renamed)
            rank = _rank(kind, module)
            ranks[name] = rank
            alpha = module.tensors.get("alpha")
            value = _scalar(sources, alpha) if alpha is not None else 0.0
            if not math.isfinite(value) or value < 0:
                raise NotACheckpoint(
                    f"{alpha.name if alpha else name} is {value}, no LoRA alpha", path=Path(path)
                )
            # kohya trains an alpha of 0 (or none) as alpha = rank, a scale of 1.
            alphas[name] = value or float(rank)
    found = sum(v is not None for v in resolved[chosen].values())
    others = sorted(COMPONENTS.get(p, p) for p in by_prefix if p != chosen)
    notes = [
        f"kohya-named {kind} file read as a PEFT adapter of its {COMPONENTS.get(chosen, chosen)} "
        f"({chosen}_…): {found} of {len(by_prefix[chosen])} module(s) found in the base"
        + (f"; other components here: {', '.join(others)}" if others else "")
        + ("; block names mapped by diffusers' lora_state_dict" if mapped else "")
    ]
    return Manifest(
        tensors=tensors,
        source=str(path),
        format=ADAPTER_FOLDER,
        files=manifest.files,
        metadata=manifest.metadata,
        config=_config(kind, ranks, alphas),
        notes=notes,
    )


def _modules(specs: Iterable[TensorSpec]) -> list[KohyaModule]:
    """The file's modules, in file order."""
    modules: dict[tuple[str, str], dict[str, TensorSpec]] = {}
    for spec in specs:
        match = KOHYA_NAME.match(spec.name)
        if match is not None:
            prefix, flat, part = match.groups()
            modules.setdefault((prefix, flat), {})[part] = spec
    return [KohyaModule(p, f, t) for (p, f), t in modules.items()]


def _base_modules(names: Collection[str]) -> set[str]:
    """The base's modules that own a ``weight``."""
    return {name.removesuffix(".weight") for name in names if name.endswith(".weight")}


def _resolve(modules: list[KohyaModule], base: set[str]) -> dict[str, str | None]:
    """Each flattened path's base module, found whole or behind one prefix common to all.

    The base's module paths are flattened from every dot on (``a.b.c`` as ``a_b_c``,
    ``b_c`` behind ``a.``, ``c`` behind ``a.b.``); the prefix that finds most modules
    is used for all, and a flattened path two modules share behind it is left unfound.
    """
    behind: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for module in sorted(base):
        parts = module.split(".")
        for cut in range(len(parts)):
            prefix = ".".join(parts[:cut])
            behind[prefix]["_".join(parts[cut:])].append(module)
    wanted = {m.flat for m in modules}
    counts = Counter(
        {
            prefix: sum(len(found.get(f, ())) == 1 for f in wanted)
            for prefix, found in behind.items()
        }
    )
    prefix = max(counts, key=lambda p: (counts[p], -len(p)), default="")
    if not counts or counts[prefix] == 0:
        return dict.fromkeys(wanted)
    found = behind[prefix]
    return {f: found[f][0] if len(found.get(f, ())) == 1 else None for f in wanted}


def _diffusers_names(modules: list[KohyaModule], base: Manifest | None) -> dict[str, str]:
    """UNet modules named as diffusers' ``lora_state_dict`` names them, by flattened path.

    Only for a diffusers UNet base (its config gives ``layers_per_block``, which
    numbers the original release's blocks) and modules the flattened match left
    unfound; empty when diffusers or torch is missing, library converters are off,
    or the converter refuses the names.
    """
    from weightfit import converters

    config = base.config if base is not None and isinstance(base.config, dict) else {}
    per_block = config.get("layers_per_block")
    if not modules or not isinstance(per_block, int) or converters.is_disabled():
        return {}
    try:
        import torch
        from diffusers.loaders.lora_pipeline import StableDiffusionXLLoraLoaderMixin
        from diffusers.utils import state_dict_utils
    except ImportError:
        return {}
    state: dict[str, Any] = {}
    for module in modules:
        for part, spec in module.tensors.items():
            name = f"{module.prefix}_{module.flat}.{part}"
            if part in PARTS:
                state[name] = torch.empty(spec.shape, device="meta")
            else:
                state[name] = torch.tensor(1.0)
    by_tensor = {id(value): name for name, value in state.items()}
    try:
        named, _ = StableDiffusionXLLoraLoaderMixin.lora_state_dict(
            dict(state), unet_config=SimpleNamespace(layers_per_block=per_block)
        )
        unet = {k.removeprefix("unet."): v for k, v in named.items() if k.startswith("unet.")}
        to_peft: Any = state_dict_utils.convert_unet_state_dict_to_peft
        peft = to_peft(unet)
    except (KeyError, ValueError, IndexError, AttributeError, TypeError, RuntimeError):
        return {}
    found: dict[str, str] = {}
    for name, value in peft.items():
        original = by_tensor.get(id(value), "")
        match = KOHYA_NAME.match(original)
        if match is not None and name.endswith(".lora_A.weight"):
            found[match.group(2)] = name.removesuffix(".lora_A.weight")
    return found


def _rank(kind: str, module: KohyaModule) -> int:
    """The module's rank, from its low-rank factor (1 when it has none)."""
    for part, dim in RANK_PARTS[kind]:
        spec = module.tensors.get(part)
        if spec is not None and len(spec.shape) > dim:
            return spec.shape[dim]
    return 1


def _scalar(sources: Sources, spec: TensorSpec) -> float:
    """A 0-d (or one-element) float tensor's value, from its bytes."""
    raw = bytes(sources.read_bytes(spec))
    if spec.dtype == "BF16" and len(raw) >= 2:
        return float(struct.unpack("<f", b"\0\0" + raw[:2])[0])
    fmt = SCALARS.get(spec.dtype)
    if fmt is None or len(raw) < struct.calcsize(fmt):
        raise NotACheckpoint(f"{spec.name}: an alpha of dtype {spec.dtype} is no float scalar")
    return float(struct.unpack(fmt, raw[: struct.calcsize(fmt)])[0])


def _config(kind: str, ranks: dict[str, int], alphas: dict[str, float]) -> dict[str, Any]:
    """The PEFT config that scales each module as kohya does (alpha / rank).

    LoHa and LoKr configs call alpha ``alpha``; LoRA's calls it ``lora_alpha``.
    """
    r = Counter(ranks.values()).most_common(1)[0][0] if ranks else 8
    alpha = Counter(alphas.values()).most_common(1)[0][0] if alphas else float(r)
    return {
        "peft_type": kind,
        INFERRED_BY: INFERRED,
        "r": r,
        "lora_alpha" if kind == "LORA" else "alpha": alpha,
        "rank_pattern": {re.escape(m): k for m, k in ranks.items() if k != r},
        "alpha_pattern": {re.escape(m): a for m, a in alphas.items() if a != alpha},
        "target_modules": sorted(ranks),
    }
