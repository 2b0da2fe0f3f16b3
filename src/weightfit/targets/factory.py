"""Targets named by a factory string ``pkg.module:Callable`` (or ``path/to/file.py:Callable``).

The callable is imported and called with the config (a JSON / YAML file or a
mapping) and ``kwargs`` laid over it, inside ``torch.device("meta")`` so that
parameters are created without storage. transformers and diffusers model
classes (``transformers:LlamaForCausalLM``, ``diffusers:UNet2DConditionModel``)
are built from the config the way their libraries do, not called with kwargs.
Importing a factory runs its module's code: that is the user's own code, named
on purpose; nothing found inside a checkpoint is ever imported.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from weightfit.errors import MissingDependency, TargetUnavailable
from weightfit.manifest import Manifest
from weightfit.targets import diffusers, transformers
from weightfit.targets.config import merged
from weightfit.targets.module import (
    import_torch,
    is_module,
    is_state_dict,
    manifest_of,
    manifest_of_state_dict,
    qualified_name,
)

_SPEC = re.compile(
    r"^(?P<module>(?:[A-Za-z_]\w*)(?:\.[A-Za-z_]\w*)*|[^:]+\.py):"
    r"(?P<attr>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)$"
)
"""``module.path:attr.path`` or ``some/file.py:attr.path``."""

_EXTRAS = {
    "torch": "torch",
    "safetensors": "torch",
    "numpy": "torch",
    "transformers": "hf",
    "diffusers": "hf",
    "peft": "hf",
    "accelerate": "hf",
}
"""Packages a factory may need that weightfit has an install extra for."""


def is_factory(target: str) -> bool:
    """Whether ``target`` has the shape of a factory string (it is not checked to exist)."""
    return _SPEC.match(target) is not None


def build(
    spec: str,
    *,
    kwargs: Mapping[str, Any] | None = None,
    config: str | Path | Mapping[str, Any] | None = None,
) -> Manifest:
    """Import the factory ``spec`` names, build its model on ``meta``, and describe it.

    Args:
        spec: ``pkg.module:Callable`` or ``path/to/file.py:Callable`` (attribute paths
            such as ``pkg.mod:Model.small`` work too).
        kwargs: Keyword arguments for the callable, laid over ``config``.
        config: A JSON / YAML file or a mapping of keyword arguments (for a
            transformers / diffusers class: its config).

    Returns:
        The model's manifest; ``config`` and ``extras["config_hash"]`` record the
        arguments when there are any.

    Raises:
        MissingDependency: the factory needs torch / transformers / diffusers, not installed.
        TargetUnavailable: the module or attribute cannot be imported, the call fails,
            or it returns something that is not a model.

    """
    match = _SPEC.match(spec)
    if match is None:
        raise TargetUnavailable(f"{spec!r} is not a factory of the form 'pkg.module:Callable'")
    factory = _load(spec, match["module"], match["attr"])
    return build_from(factory, kwargs=kwargs, config=config, source=spec)


def build_from(
    factory: Callable[..., Any],
    *,
    kwargs: Mapping[str, Any] | None = None,
    config: str | Path | Mapping[str, Any] | None = None,
    source: str | None = None,
) -> Manifest:
    """Build a model from a class or callable on ``meta`` and describe it (see :func:`build`)."""
    settings = merged(config, kwargs)
    name = source or qualified_name(factory)
    described = _describe(name, settings)
    if transformers.is_model_class(factory):
        assert isinstance(factory, type)
        return transformers.build(settings, source=described, model_class=factory)
    if diffusers.is_model_class(factory):
        assert isinstance(factory, type)
        return diffusers.build(settings, source=described, model_class=factory)
    torch = import_torch(f"building the target {name}")
    try:
        with torch.device("meta"):
            result = factory(**settings)
    except MissingDependency:
        raise
    except ModuleNotFoundError as error:
        raise _missing(error, name) from error
    except Exception as error:
        raise TargetUnavailable(
            f"calling {described} failed: {type(error).__name__}: {error}"
        ) from error
    if is_module(result):
        return manifest_of(result, source=described, config=settings or None, built_on_meta=True)
    if is_state_dict(result):
        return manifest_of_state_dict(result, source=described)
    if isinstance(result, Manifest):
        return result
    raise TargetUnavailable(
        f"{described} returned a {type(result).__name__}, not a torch.nn.Module"
    )


def _load(spec: str, module_name: str, attr: str) -> Callable[..., Any]:
    """Import the module and walk the attribute path."""
    module = _import_file(spec, module_name) if module_name.endswith(".py") else None
    if module is None:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            raise _missing(error, spec, module_name) from error
        except Exception as error:
            raise TargetUnavailable(
                f"factory {spec!r}: importing {module_name!r} failed: "
                f"{type(error).__name__}: {error}"
            ) from error
    found: Any = module
    for part in attr.split("."):
        if not hasattr(found, part):
            raise TargetUnavailable(f"factory {spec!r}: {module_name!r} has no attribute {attr!r}")
        found = getattr(found, part)
    if not callable(found):
        raise TargetUnavailable(
            f"factory {spec!r}: {attr!r} is a {type(found).__name__}, not a callable"
        )
    return found  # type: ignore[no-any-return]


def _import_file(spec: str, filename: str) -> ModuleType:
    """Import a Python file by path, its folder on ``sys.path`` while it runs."""
    path = Path(filename).resolve()
    if not path.is_file():
        raise TargetUnavailable(f"factory {spec!r}: no such file {filename!r}")
    name = f"_weightfit_target_{path.stem}"
    loader = importlib.util.spec_from_file_location(name, path)
    if loader is None or loader.loader is None:
        raise TargetUnavailable(f"factory {spec!r}: cannot import {filename!r}")
    module = importlib.util.module_from_spec(loader)
    sys.path.insert(0, str(path.parent))
    try:
        loader.loader.exec_module(module)
    except ModuleNotFoundError as error:
        raise _missing(error, spec, filename) from error
    except Exception as error:
        raise TargetUnavailable(
            f"factory {spec!r}: importing {filename!r} failed: {type(error).__name__}: {error}"
        ) from error
    finally:
        sys.path.remove(str(path.parent))
    return module


def _missing(
    error: ModuleNotFoundError, spec: str, module_name: str | None = None
) -> MissingDependency | TargetUnavailable:
    """Turn a missing framework into :class:`MissingDependency`, anything else unavailable."""
    top = (error.name or "").partition(".")[0]
    if top in _EXTRAS:
        return MissingDependency(top, _EXTRAS[top], f"the target {spec!r}")
    what = f"cannot import module {module_name!r}" if module_name else "an import failed"
    return TargetUnavailable(f"factory {spec!r}: {what} ({error})")


def _describe(name: str, settings: Mapping[str, Any]) -> str:
    """``name`` plus a short rendering of its arguments, for ``Manifest.source``."""
    if not settings:
        return name
    text = json.dumps(dict(settings), sort_keys=True, default=str, separators=(",", ":"))
    if len(text) > 120:
        text = text[:117] + "..."
    return f"{name} {text}"
