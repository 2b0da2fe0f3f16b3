"""diffusers models built from their config on the ``meta`` device.

A diffusers ``config.json`` names its class in ``_class_name``
(``SanaTransformer2DModel``, ``UNet2DConditionModel``, ``AutoencoderKL``);
``Class.from_config(config)`` under ``torch.device("meta")`` builds it without
allocating, so full-size UNets and DiTs take well under a second. Only classes
of the installed diffusers are used; nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping
from types import ModuleType
from typing import Any, Protocol, TypeGuard

from weightfit.errors import MissingDependency, TargetUnavailable
from weightfit.manifest import Manifest
from weightfit.targets.module import import_torch, manifest_of

FORMAT = "diffusers-config"


class ModelClass(Protocol):
    """What :func:`build` uses of a ``ModelMixin`` subclass.

    diffusers is imported at run time only, so its own classes never reach the
    type checker; this names the class attributes the builder relies on.
    """

    __name__: str

    def from_config(self, config: dict[str, Any]) -> Any: ...  # noqa: D102


def is_config(config: Mapping[str, Any]) -> bool:
    """Whether a mapping looks like a diffusers model ``config.json``."""
    return isinstance(config.get("_class_name"), str)


def is_model_class(obj: object) -> TypeGuard[ModelClass]:
    """Whether ``obj`` is a diffusers ``ModelMixin`` subclass (no import if unloaded)."""
    module = sys.modules.get("diffusers")
    return module is not None and isinstance(obj, type) and issubclass(obj, module.ModelMixin)


def build(
    config: Mapping[str, Any], *, source: str, model_class: ModelClass | None = None
) -> Manifest:
    """Build the model a diffusers config describes, on ``meta``, and describe it.

    Args:
        config: The ``config.json`` mapping (kwargs already merged in).
        source: How the target was named, for the manifest.
        model_class: A ``ModelMixin`` subclass to build instead of ``_class_name``.

    Returns:
        The manifest (``format="diffusers-config"``); ``config`` is the resolved config
        (every ``__init__`` argument, defaults filled in) and ``extras`` has
        ``target_class`` and ``config_hash``.

    Raises:
        MissingDependency: torch or diffusers is not installed.
        TargetUnavailable: the class is unknown to the installed diffusers, or building fails.

    """
    torch = import_torch("building a diffusers model from its config")
    library = _import()
    cls = model_class or _model_class(library, config)
    try:
        with _quiet(library), torch.device("meta"):
            model = cls.from_config(dict(config))
    except Exception as error:
        raise TargetUnavailable(
            f"building {cls.__name__} on the meta device failed: {type(error).__name__}: {error}"
        ) from error
    resolved = {"_class_name": cls.__name__, **dict(model.config)}
    manifest = manifest_of(model, source=source, format=FORMAT, config=resolved, built_on_meta=True)
    manifest.extras["library"] = f"diffusers {library.__version__}"
    return manifest


def _import() -> ModuleType:
    try:
        import diffusers
    except ImportError as error:
        raise MissingDependency(
            "diffusers", "hf", "building a diffusers model from its config"
        ) from error
    return diffusers


def _model_class(library: ModuleType, config: Mapping[str, Any]) -> ModelClass:
    """Find the ``ModelMixin`` subclass ``_class_name`` names."""
    name = str(config.get("_class_name"))
    found = getattr(library, name, None)
    if not is_model_class(found):
        what = "a pipeline, not a model" if name.endswith("Pipeline") else "no model class"
        raise TargetUnavailable(f"diffusers {library.__version__} has {what} named {name!r}")
    return found


@contextlib.contextmanager
def _quiet(library: ModuleType) -> Iterator[None]:
    """Silence diffusers' info/warning logging (unused config keys) while building."""
    logging = library.utils.logging
    before = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        yield
    finally:
        logging.set_verbosity(before)
