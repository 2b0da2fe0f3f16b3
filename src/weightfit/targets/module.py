"""The expected manifest of a live ``torch.nn.Module``: its ``state_dict()``, no data read.

``state_dict(keep_vars=True)`` gives the names, shapes and dtypes a strict
``load_state_dict`` checks, persistent buffers included and non-persistent ones
left out, exactly as torch decides. Only tensor metadata is looked at, so a
model built on the ``meta`` device (no storage at all) works the same as a
materialised one.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

from weightfit import dtypes
from weightfit.errors import MissingDependency
from weightfit.manifest import Manifest, TensorSpec
from weightfit.targets.config import config_hash

if TYPE_CHECKING:
    import torch


def import_torch(purpose: str) -> ModuleType:
    """Import torch, or raise :class:`MissingDependency` naming ``purpose``."""
    try:
        import torch
    except ImportError as error:
        raise MissingDependency("torch", "torch", purpose) from error
    return torch


def is_module(value: object) -> bool:
    """Whether ``value`` is a ``torch.nn.Module``, without importing torch.

    If torch was never imported, nothing can be a module, so the answer is ``False``.
    """
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.nn.Module)


def is_state_dict(value: object) -> bool:
    """Whether ``value`` is a non-empty mapping of names to torch tensors."""
    torch = sys.modules.get("torch")
    return (
        torch is not None
        and isinstance(value, Mapping)
        and bool(value)
        and all(isinstance(v, torch.Tensor) for v in value.values())
    )


def qualified_name(obj: object) -> str:
    """``module.QualName`` of a class, or of an instance's class."""
    cls = obj if isinstance(obj, type) else type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def manifest_of(
    module: torch.nn.Module,
    *,
    source: str | None = None,
    format: str = "module",
    config: Mapping[str, Any] | None = None,
    built_on_meta: bool = False,
) -> Manifest:
    """Describe what ``module.load_state_dict`` expects, without touching tensor data.

    Args:
        module: Any ``torch.nn.Module``, on ``meta`` or materialised.
        source: How the target was described; defaults to its class name.
        format: The manifest's ``format`` (``"module"``, ``"transformers-config"`` ...).
        config: The configuration the module was built from, if any; stored as
            ``manifest.config`` and hashed into ``extras["config_hash"]``.
        built_on_meta: The module was built under ``torch.device("meta")``: add a
            note when some tensors were allocated anyway (a factory's explicit device).

    Returns:
        A location-less :class:`~weightfit.manifest.Manifest` in ``state_dict`` order.
        ``is_buffer`` is set on every tensor; ``extras`` holds ``target_class``,
        ``parameters`` (parameter elements, tied ones counted once), ``tied``
        (tied copy to the tensor it shares) and ``config_hash`` when there is a config.

    Example:
        >>> manifest_of(torch.nn.Linear(4, 2))["weight"].shape  # doctest: +SKIP
        (2, 4)

    """
    torch = import_torch("describing a torch module")
    state = module.state_dict(keep_vars=True)
    parameters = {name for name, _ in module.named_parameters(remove_duplicate=False)}
    buffers = {name for name, _ in module.named_buffers(remove_duplicate=False)}
    tensors: dict[str, TensorSpec] = {}
    others: list[str] = []
    for name, value in state.items():
        if not isinstance(value, torch.Tensor):
            others.append(name)
            continue
        kind = True if name in buffers else False if name in parameters else None
        tensors[name] = _spec(name, value, kind)
    manifest = Manifest(
        tensors=tensors,
        source=source or qualified_name(module),
        format=format,
        config=dict(config) if config is not None else None,
    )
    manifest.extras["target_class"] = qualified_name(module)
    manifest.extras["parameters"] = sum(p.numel() for p in module.parameters())
    tied = tied_copies(module, state)
    if tied:
        manifest.extras["tied"] = tied
        manifest.notes.append(
            f"{len(tied)} tied tensor(s) share storage ({_pairs(tied)}); "
            "save_pretrained and safetensors leave the tied copy out of saved files"
        )
    if config is not None:
        manifest.extras["config_hash"] = config_hash(config)
    if others:
        manifest.extras["non_tensor_entries"] = others
    allocated = [
        v for v in state.values() if isinstance(v, torch.Tensor) and v.device.type != "meta"
    ]
    if allocated and built_on_meta:
        held = sum(v.numel() * v.element_size() for v in allocated)
        manifest.notes.append(
            f"{len(allocated)} tensor(s) were created off the meta device ({held} bytes)"
        )
    return manifest


def manifest_of_state_dict(
    state: Mapping[str, torch.Tensor], *, source: str = "<state dict>"
) -> Manifest:
    """Describe an in-memory state dict (name to tensor); ``is_buffer`` stays unknown."""
    tensors = {name: _spec(name, value, None) for name, value in state.items()}
    return Manifest(tensors=tensors, source=source, format="state-dict")


def tied_copies(module: torch.nn.Module, state: Mapping[str, Any]) -> dict[str, str]:
    """Map each tied copy to the tensor it shares, e.g. ``lm_head.weight`` → embeddings.

    Ties are found by identity of the parameter objects (``keep_vars=True``), so
    they work on ``meta`` where every data pointer is 0. The direction follows
    transformers' declared ties (the key is the name ``save_pretrained`` drops);
    otherwise the later name in ``state_dict`` order is the copy.
    """
    first: dict[int, str] = {}
    tied: dict[str, str] = {}
    for name, value in state.items():
        owner = first.setdefault(id(value), name)
        if owner != name:
            tied[name] = owner
    declared = _declared_ties(module)
    oriented: dict[str, str] = {}
    for copy, original in tied.items():
        if declared.get(original) == copy:
            copy, original = original, copy
        oriented[copy] = original
    return oriented


def _declared_ties(module: torch.nn.Module) -> dict[str, str]:
    """Return transformers' ``all_tied_weights_keys`` (v5) as copy → source, else ``{}``."""
    declared = getattr(module, "all_tied_weights_keys", None)
    if isinstance(declared, Mapping):
        return {str(k): str(v) for k, v in declared.items()}
    return {}


def _spec(name: str, tensor: torch.Tensor, is_buffer: bool | None) -> TensorSpec:
    return TensorSpec(
        name=name,
        shape=tuple(int(s) for s in tensor.shape),
        dtype=dtypes.canonical(str(tensor.dtype)),
        is_buffer=is_buffer,
    )


def _pairs(tied: Mapping[str, str]) -> str:
    shown = [f"{copy} = {original}" for copy, original in list(tied.items())[:3]]
    more = f", +{len(tied) - 3} more" if len(tied) > 3 else ""
    return ", ".join(shown) + more
