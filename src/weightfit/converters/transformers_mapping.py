"""transformers 5's declarative conversions (``WeightConverter``, ``WeightRenaming``) as plan ops.

``from_pretrained`` reads ``get_model_conversion_mapping(model)``: renamings
(regex → name) and converters (source patterns → target patterns through
``ConversionOps`` such as ``MergeModulelist``, ``Concatenate``, ``Chunk``,
``Transpose``). Here the model is built on ``meta`` from the target's config,
every checkpoint key is renamed with transformers' own ``rename_source_key``,
keys are grouped per target as its loader groups them, and each group's
``WeightConverter.convert`` runs over shape-only :class:`Traced` tensors: the
record is turned into plan ops like any traced converter's.
"""

from __future__ import annotations

import importlib
from copy import deepcopy
from typing import Any

from weightfit.converters.recognise import Recognised
from weightfit.converters.trace import Node, Trace, TraceRefused, collect, stand_ins
from weightfit.manifest import Manifest


def recognise_transformers(source: Manifest, target: Manifest) -> Recognised | None:
    """Name the transformers conversion that maps ``source`` onto ``target``, if one does.

    Returns ``None`` when transformers has no conversion for the target class,
    when the checkpoint needs none, or when the converted tensors are not the
    target's (names and shapes).
    """
    try:
        import transformers
        from transformers import conversion_mapping
    except ImportError:
        return None
    model = _meta_model(target)
    if model is None:
        return None
    try:
        transforms = conversion_mapping.get_model_conversion_mapping(model)
    except Exception:
        return None
    if not transforms:
        return None
    library = f"transformers {transformers.__version__}"
    names = sorted({type(t).__name__ for t in transforms})
    label = f"{library} get_model_conversion_mapping({type(model).__name__})"
    recognised = Recognised(
        library=library,
        converter=f"conversion_mapping ({', '.join(names)})",
        layout=f"{model.config.model_type} saved layout",
        target_class=type(model).__name__,
        run=lambda state: _convert(model, transforms, state, label),
    )
    try:
        checkpoint = stand_ins(source)
        outputs = collect(_convert(model, transforms, checkpoint, label), label)
    except TraceRefused as refused:
        recognised.refused = refused.detail
        return recognised
    except Exception:
        return None
    if not _changes(outputs) or not _fits(outputs, target):
        return None
    recognised.trace = Trace(outputs=outputs, source=source, converter=label)
    return recognised


def _meta_model(target: Manifest) -> Any:
    """The target's class, built on ``meta`` from its config (``None`` when it cannot be)."""
    qualified = str(target.extras.get("target_class", ""))
    if not qualified.startswith("transformers.") or not target.config:
        return None
    module_name, _, class_name = qualified.rpartition(".")
    try:
        import torch

        cls = getattr(importlib.import_module(module_name), class_name)
        config = cls.config_class.from_dict(dict(target.config))
        with torch.device("meta"):
            return cls._from_config(config)
    except Exception:
        return None


def _convert(
    model: Any, transforms: list[Any], state: dict[str, Any], label: str
) -> dict[str, Any]:
    """Run transformers' conversions over ``state`` as ``from_pretrained`` groups them.

    Renamings and converters are the library's own (``rename_source_key``,
    ``WeightConverter.convert``); this follows the grouping loop of
    ``convert_and_load_state_dict_in_model``: one converter copy per target
    key, tensors added in natural key order. Keys the model does not have are
    left out, as ``from_pretrained`` leaves them.
    """
    from transformers.core_model_loading import (
        WeightConverter,
        WeightRenaming,
        dot_natural_key,
        rename_source_key,
    )

    expected = model.state_dict()
    prefix = model.base_model_prefix
    renamings = [t for t in transforms if isinstance(t, WeightRenaming)]
    converters = [t for t in transforms if isinstance(t, WeightConverter)]
    by_pattern = {pattern: c for c in converters for pattern in c.source_patterns}
    groups: dict[str, Any] = {}
    for key, tensor in sorted(state.items(), key=lambda item: dot_natural_key(item[0])):
        renamed, pattern = rename_source_key(key, renamings, converters, prefix, expected)
        if renamed not in expected and key in expected:
            renamed, pattern = rename_source_key(key, [], [], prefix, expected)
        if renamed not in expected:
            continue
        if pattern is not None:
            mapping = groups.setdefault(renamed, deepcopy(by_pattern[pattern]))
        else:
            mapping = groups.setdefault(renamed, WeightRenaming(key, renamed))
            pattern = key
        mapping.add_tensor(renamed, key, pattern, tensor)
    result: dict[str, Any] = {}
    for name, mapping in groups.items():
        try:
            converted = mapping.convert(name, model=model, config=model.config)
        except TraceRefused:
            raise
        except Exception as error:
            raise TraceRefused(
                f"{label} failed on {name}: {type(error).__name__}: {error}"
            ) from error
        for out, value in converted.items():
            result[out] = value[0] if isinstance(value, list) else value
    return result


def _changes(outputs: dict[str, Node]) -> bool:
    """Whether the conversion does anything (a checkpoint already in memory names needs none)."""
    return any(node.kind != "leaf" or node.name != name for name, node in outputs.items())


def _fits(outputs: dict[str, Node], target: Manifest) -> bool:
    tied: dict[str, str] = dict(target.extras.get("tied") or {})
    for name, spec in target.tensors.items():
        node = outputs.get(name)
        if node is None:
            if name in tied and tied[name] in outputs:
                continue
            return False
        if tuple(node.shape) != tuple(spec.shape):
            return False
    return set(outputs) <= set(target.tensors)


def loaded_names(names: list[str], target: Manifest) -> dict[str, str]:
    """The names ``from_pretrained`` gives file tensors named ``names``, where it renames them.

    transformers' own ``rename_source_key`` over the target's conversion mapping
    (renamings and prefix changes, nested models' included), as the loader runs
    it: only names it changes into one of the model's tensors are returned.
    """
    try:
        from transformers import conversion_mapping
        from transformers.core_model_loading import WeightRenaming, rename_source_key
    except ImportError:
        return {}
    model = _meta_model(target)
    if model is None:
        return {}
    try:
        transforms = conversion_mapping.get_model_conversion_mapping(model)
        expected = model.state_dict()
        renamings = [t for t in transforms if isinstance(t, WeightRenaming)]
        renamed = {
            name: rename_source_key(name, renamings, [], model.base_model_prefix, expected)[0]
            for name in names
        }
    except Exception:
        return {}
    return {old: new for old, new in renamed.items() if old != new and new in expected}
