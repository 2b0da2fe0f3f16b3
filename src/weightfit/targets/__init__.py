"""Targets: the manifest a checkpoint is expected to match, built without weights.

A target is whatever names the model a checkpoint should load into:

===============================================  ====================================
target                                           manifest
===============================================  ====================================
a :class:`~weightfit.manifest.Manifest`          itself
a checkpoint file, index or folder with weights  :func:`weightfit.read` of it
a transformers ``config.json`` (``architectures``  the class, built on ``meta``
or ``model_type``), or a folder with only one    (``format="transformers-config"``)
a diffusers ``config.json`` (``_class_name``),   the class, built on ``meta``
or a folder with only one                        (``format="diffusers-config"``)
a pipeline folder (``model_index.json``) whose   every component built from its config,
components have configs but no weights           names prefixed ``<component>.``
``pkg.module:Callable`` / ``file.py:Callable``   called with config + kwargs on ``meta``
a ``torch.nn.Module`` (Python API)               its ``state_dict()`` (``format="module"``)
a class or callable (Python API)                 as a factory
===============================================  ====================================

A folder that holds weights *and* a config is read for its weights (they are
the real thing, and reading headers is exact and fast); name its
``config.json`` to build the model from the config instead. ``kwargs`` and
``config`` apply to factories and to config targets (``--kwargs
'{"caption_channels": 1536}'`` overrides a value of a ``config.json``).

Nothing here allocates tensor storage, downloads, or runs code a checkpoint or
config names: transformers ``auto_map`` remote code is refused, and torch is
imported only when a model must be built (built config targets are cached, see
:mod:`weightfit.targets.cache`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from weightfit import formats, weightsets
from weightfit.errors import InputError, TargetNotFound, TargetUnavailable, UsageError
from weightfit.hub.paths import is_hub
from weightfit.manifest import Manifest, TensorSpec
from weightfit.targets import cache, diffusers, factory, transformers
from weightfit.targets.config import config_hash, load_config, merged
from weightfit.targets.module import is_module, is_state_dict, manifest_of, manifest_of_state_dict

__all__ = ["config_hash", "load_config", "manifest_of", "resolve"]

_CONFIG_SUFFIXES = (".json", ".yaml", ".yml")
MODEL_INDEX = "model_index.json"
CONFIG = "config.json"


def resolve(
    target: object,
    *,
    kwargs: Mapping[str, Any] | None = None,
    config: str | Path | Mapping[str, Any] | None = None,
    key: str | None = None,
    variant: str | None = None,
) -> Manifest:
    """Return the manifest ``target`` expects a checkpoint to match.

    Args:
        target: A manifest, a checkpoint path, a config file or folder (local, or
            on the Hub as ``hf://ORG/REPO[@REVISION][/PATH]``), a factory
            string ``pkg.module:Callable``, an ``nn.Module``, or a class / callable.
        kwargs: Keyword arguments for a factory, or values laid over a config.
        config: A JSON / YAML file or mapping: a factory's arguments, or a base
            config for a transformers / diffusers class.
        key: For a checkpoint target, the state dict inside its container (or the
            pipeline component).
        variant: For a folder target, the precision variant of its weights.

    Returns:
        The expected :class:`~weightfit.manifest.Manifest`. Built models carry
        ``extras["target_class"]``, ``extras["config_hash"]`` (when built from a
        config or arguments), ``extras["tied"]`` and the config in ``config``;
        transformers models whose files name tensors otherwise also carry
        ``extras["saved_layout"]`` (:func:`weightfit.targets.transformers.add_saved_layout`).

    Raises:
        TargetNotFound: a path that does not exist (and is not a factory string).
        UsageError: ``kwargs`` / ``config`` given for a target that takes none.
        MissingDependency: torch, transformers or diffusers is needed but not installed.
        TargetUnavailable: a factory, class or config that cannot be built.
        InputError: any error reading a checkpoint target.

    Example:
        >>> target = resolve("meta-llama-2-7b/config.json")  # doctest: +SKIP
        >>> target["lm_head.weight"].shape, target.extras["tied"]  # doctest: +SKIP
        ((32000, 4096), {})

    """
    takes_arguments = kwargs is not None or config is not None
    if isinstance(target, Manifest):
        _no_arguments(takes_arguments, "a manifest")
        return target
    if is_module(target):
        _no_arguments(takes_arguments, "a built module")
        config = transformers.config_of(target)
        manifest = manifest_of(target, config=config)  # type: ignore[arg-type]
        transformers.add_saved_layout(manifest, target)
        return manifest
    if is_state_dict(target):
        _no_arguments(takes_arguments, "a state dict")
        return manifest_of_state_dict(target)  # type: ignore[arg-type]
    if isinstance(target, str) and is_hub(target):
        from weightfit.hub import open_mirror

        mirror = open_mirror(target)
        with mirror.errors():
            built = resolve(mirror.path, kwargs=kwargs, config=config, key=key, variant=variant)
        return mirror.manifest(built)
    if isinstance(target, str | Path):
        path = Path(target)
        if path.exists():
            return _from_path(path, kwargs, config, key, variant)
        if isinstance(target, str) and factory.is_factory(target):
            return factory.build(target, kwargs=kwargs, config=config)
        raise TargetNotFound("no such file or folder, nor a 'pkg.module:Callable'", path=path)
    if callable(target):
        return factory.build_from(target, kwargs=kwargs, config=config)
    raise TargetUnavailable(f"cannot build a target from a {type(target).__name__}")


def _from_path(
    path: Path,
    kwargs: Mapping[str, Any] | None,
    config: str | Path | Mapping[str, Any] | None,
    key: str | None,
    variant: str | None,
) -> Manifest:
    """Read the weights at ``path``, or build the model its config names."""
    if path.is_dir():
        if (path / MODEL_INDEX).is_file() and not _pipeline_has_weights(path):
            return _pipeline(path, kwargs, config, key)
        if (path / CONFIG).is_file() and not _has_weights(path):
            return _config_file(path / CONFIG, kwargs, config)
    elif path.suffix.lower() in _CONFIG_SUFFIXES and _is_model_config(path):
        return _config_file(path, kwargs, config)
    _no_arguments(kwargs is not None or config is not None, "a checkpoint")
    return formats.read(path, key=key, variant=variant)


def _config_file(
    path: Path,
    kwargs: Mapping[str, Any] | None,
    config: str | Path | Mapping[str, Any] | None,
) -> Manifest:
    """Build the model a transformers or diffusers config file describes."""
    settings = {**merged(config, None), **load_config(path), **(kwargs or {})}
    return build_config(settings, source=str(path))


def build_config(settings: Mapping[str, Any], *, source: str) -> Manifest:
    """Build a model from a transformers or diffusers config mapping, on ``meta``.

    The manifest comes from :mod:`weightfit.targets.cache` when it holds this
    config, without importing torch or the framework.

    Raises:
        TargetUnavailable: the mapping is neither kind of config.

    """
    if diffusers.is_config(settings):
        return cache.cached(
            settings,
            library="diffusers",
            class_name=str(settings["_class_name"]),
            source=source,
            build=lambda: diffusers.build(settings, source=source),
        )
    if transformers.is_config(settings):
        return cache.cached(
            settings,
            library="transformers",
            class_name=transformers.class_name(settings),
            source=source,
            build=lambda: transformers.build(settings, source=source),
        )
    raise TargetUnavailable(
        "not a model config: no '_class_name' (diffusers), 'architectures' or "
        f"'model_type' (transformers) in {source}"
    )


def _pipeline(
    path: Path,
    kwargs: Mapping[str, Any] | None,
    config: str | Path | Mapping[str, Any] | None,
    key: str | None,
) -> Manifest:
    """Build every model component of a weightless diffusers pipeline folder from its config."""
    _no_arguments(kwargs is not None or config is not None, "a pipeline folder")
    index = load_config(path / MODEL_INDEX)
    components = {
        name: path / name / CONFIG
        for name in index
        if not name.startswith("_") and (path / name / CONFIG).is_file()
    }
    if key is not None:
        name, _, rest = key.partition(".")
        if name not in components or rest:
            raise TargetUnavailable(
                f"no buildable component {key!r} in {path}; components: {', '.join(components)}"
            )
        return _config_file(components[name], None, None)
    manifest = Manifest(tensors={}, source=str(path), format="diffusers-pipeline-config")
    manifest.config = index
    described: dict[str, Any] = {}
    for name, file in components.items():
        settings = load_config(file)
        if not (diffusers.is_config(settings) or transformers.is_config(settings)):
            continue
        part = build_config(settings, source=str(file))
        for tensor, spec in part.tensors.items():
            full = f"{name}.{tensor}"
            manifest.tensors[full] = TensorSpec(
                full, spec.shape, spec.dtype, is_buffer=spec.is_buffer
            )
        described[name] = {
            "format": part.format,
            "class": part.extras["target_class"],
            "config_hash": part.extras["config_hash"],
            "tensors": len(part),
            "params": part.num_params,
        }
        for copy, original in part.extras.get("tied", {}).items():
            manifest.extras.setdefault("tied", {})[f"{name}.{copy}"] = f"{name}.{original}"
        for tensor, saved in part.extras.get(transformers.SAVED_LAYOUT, {}).items():
            manifest.extras.setdefault(transformers.SAVED_LAYOUT, {})[f"{name}.{tensor}"] = {
                f"{name}.{written}": shape for written, shape in saved.items()
            }
        manifest.notes.extend(f"{name}: {note}" for note in part.notes)
    if not described:
        raise TargetUnavailable(f"no component of {path} has a model config to build")
    manifest.extras["components"] = described
    manifest.extras["config_hash"] = config_hash(
        {name: entry["config_hash"] for name, entry in described.items()}
    )
    return manifest


def _has_weights(folder: Path) -> bool:
    return any(s.files for s in weightsets.discover(folder))


def _pipeline_has_weights(root: Path) -> bool:
    return any(_has_weights(child) for child in root.iterdir() if child.is_dir()) or _has_weights(
        root
    )


def _is_model_config(path: Path) -> bool:
    """Whether a JSON / YAML file is a model config (not, e.g., a shard index)."""
    try:
        data = load_config(path)
    except InputError:
        return False
    return diffusers.is_config(data) or transformers.is_config(data)


def _no_arguments(given: bool, what: str) -> None:
    if given:
        raise UsageError(f"kwargs and config apply to factories and configs, not to {what}")
