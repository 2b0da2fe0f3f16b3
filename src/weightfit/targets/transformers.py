"""transformers models built from their config on the ``meta`` device.

The class comes from the config's ``architectures[0]`` (what ``from_pretrained``
of a hub folder instantiates), or from ``model_type`` through ``AutoModel`` when
there is no ``architectures``. Only classes that ship with the installed
transformers are used: ``auto_map`` remote code is never imported.
``Class._from_config(config)`` under ``torch.device("meta")`` allocates nothing,
so a 70B config builds in well under a second.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Mapping
from types import ModuleType
from typing import Any, Protocol, TypeGuard

from weightfit.errors import MissingDependency, TargetUnavailable
from weightfit.manifest import Manifest
from weightfit.targets.module import import_torch, manifest_of

FORMAT = "transformers-config"

SAVED_LAYOUT = "saved_layout"
"""``Manifest.extras`` key: model tensor → ``{name: shape}`` as ``save_pretrained`` writes it."""


class ModelClass(Protocol):
    """What :func:`build` uses of a ``PreTrainedModel`` subclass.

    transformers is imported at run time only, so its own classes never reach the
    type checker; this names the class attributes the builder relies on.
    """

    __name__: str
    config_class: Any

    def _from_config(self, config: Any) -> Any: ...


def is_config(config: Mapping[str, Any]) -> bool:
    """Whether a mapping looks like a transformers ``config.json``."""
    return "_class_name" not in config and ("architectures" in config or "model_type" in config)


def class_name(config: Mapping[str, Any]) -> str:
    """The class a config builds, named without importing transformers.

    ``architectures[0]``, else ``AutoModel[<model_type>]`` (the base model).
    """
    architectures = config.get("architectures")
    if isinstance(architectures, list) and architectures:
        return str(architectures[0])
    return f"AutoModel[{config.get('model_type')}]"


def is_model_class(obj: object) -> TypeGuard[ModelClass]:
    """Whether ``obj`` is a transformers ``PreTrainedModel`` subclass (no import if unloaded)."""
    module = sys.modules.get("transformers")
    return module is not None and isinstance(obj, type) and issubclass(obj, module.PreTrainedModel)


def build(
    config: Mapping[str, Any], *, source: str, model_class: ModelClass | None = None
) -> Manifest:
    """Build the model a transformers config describes, on ``meta``, and describe it.

    Args:
        config: The ``config.json`` mapping (kwargs already merged in).
        source: How the target was named, for the manifest.
        model_class: A ``PreTrainedModel`` subclass to build instead of the one the
            config names (``transformers:LlamaForCausalLM`` targets).

    Returns:
        The manifest (``format="transformers-config"``); ``config`` is the resolved
        config (``to_dict()``, defaults filled in) and ``extras`` has ``target_class``,
        ``config_hash`` and ``tied`` (e.g. ``lm_head.weight`` → ``model.embed_tokens.weight``).

    Raises:
        MissingDependency: torch or transformers is not installed.
        TargetUnavailable: the class is unknown to the installed transformers, the
            config is rejected, or building fails.

    """
    torch = import_torch("building a transformers model from its config")
    library = _import()
    config_class, make, name = _recipe(library, config, model_class)
    settings = {k: v for k, v in config.items() if k != "auto_map"}
    try:
        with _quiet(library):
            model_config = config_class.from_dict(settings)
    except Exception as error:
        raise TargetUnavailable(
            f"transformers {library.__version__} rejects the config for "
            f"{name}: {type(error).__name__}: {error}"
        ) from error
    try:
        with _quiet(library), torch.device("meta"):
            model = make(model_config)
    except Exception as error:
        raise TargetUnavailable(
            f"building {name} on the meta device failed: {type(error).__name__}: {error}"
        ) from error
    resolved = model.config.to_dict()
    manifest = manifest_of(model, source=source, format=FORMAT, config=resolved, built_on_meta=True)
    manifest.extras["library"] = f"transformers {library.__version__}"
    add_saved_layout(manifest, model)
    return manifest


def config_of(model: object) -> dict[str, Any] | None:
    """Return a built transformers model's config as ``config.json`` holds it, else ``None``.

    A model passed as the target says no more than its tensors without it: whether its
    head is tied, how many labels or key/value heads its config asked for.
    """
    if not is_model_class(type(model)):
        return None
    return dict(model.config.to_dict())  # type: ignore[attr-defined]


def add_saved_layout(manifest: Manifest, model: object) -> None:
    """Record in ``manifest.extras`` the names ``save_pretrained`` writes for ``model``'s tensors.

    transformers 5 keeps some models' tensors under other names in memory than
    in their files (ViT's ``vit.layers`` for ``vit.encoder.layer``, GPT-NeoX's
    ``lm_head`` for ``embed_out``, Mixtral's stacked ``mlp.experts.gate_up_proj``
    for one ``w1`` / ``w3`` per expert): ``from_pretrained`` converts the file
    layout and ``save_pretrained`` writes it back, so hub files and fresh saves
    alike hold it. The layout is transformers' own ``revert_weight_conversion``
    run on the state dict: on ``meta`` no data moves. Only tensors whose saved
    names differ are recorded (``extras["saved_layout"]``); nothing is recorded
    for other models, modules that are not transformers models, or a
    transformers without the conversion.
    """
    if not is_model_class(type(model)):
        return
    layout = _saved_layout(model)
    if layout:
        manifest.extras[SAVED_LAYOUT] = layout


def _saved_layout(model: Any) -> dict[str, dict[str, list[int]]]:
    """Map each tensor saved under other names to those names and their shapes."""
    try:
        from transformers.core_model_loading import revert_weight_conversion
    except ImportError:
        return {}
    state = dict(model.state_dict())
    # The conversion is transformers-internal code on meta tensors; any failure in
    # it only means the saved layout is unknown, never that the target is unusable.
    try:
        saved = revert_weight_conversion(model, dict(state))
    except Exception:
        return {}
    if saved.keys() == state.keys():
        return {}
    # A rename keeps the tensor object; a conversion (stacking experts) makes new ones.
    renamed = {id(tensor): name for name, tensor in saved.items()}
    layout: dict[str, dict[str, list[int]]] = {}
    for name, tensor in state.items():
        written = renamed.get(id(tensor))
        if written == name:
            continue
        if written is not None:
            layout[name] = {written: list(tensor.shape)}
            continue
        try:
            alone = revert_weight_conversion(model, {name: tensor})
        except Exception:
            continue
        if set(alone) != {name}:
            layout[name] = {key: list(value.shape) for key, value in alone.items()}
    return layout


def _import() -> ModuleType:
    try:
        import transformers
    except ImportError as error:
        raise MissingDependency(
            "transformers", "hf", "building a transformers model from its config"
        ) from error
    return transformers


def _recipe(
    library: ModuleType, config: Mapping[str, Any], model_class: ModelClass | None
) -> tuple[Any, Callable[[Any], Any], str]:
    """Pick the config class, the builder and the class name for this config.

    ``architectures[0]`` names the class, as ``from_pretrained`` of a hub folder
    does; without it, ``model_type`` picks the base model through ``AutoModel``.
    """
    architectures = config.get("architectures")
    if model_class is None and isinstance(architectures, list) and architectures:
        name = str(architectures[0])
        found = getattr(library, name, None)
        if not is_model_class(found):
            remote = " (its auto_map points at remote code, which is never run)"
            raise TargetUnavailable(
                f"transformers {library.__version__} has no model class {name!r}"
                + (remote if "auto_map" in config else "")
            )
        model_class = found
    if model_class is not None:
        return model_class.config_class, model_class._from_config, model_class.__name__
    model_type = config.get("model_type")
    if not isinstance(model_type, str):
        raise TargetUnavailable("the config names neither 'architectures' nor 'model_type'")
    if model_type not in library.CONFIG_MAPPING:
        raise TargetUnavailable(
            f"transformers {library.__version__} does not know model_type {model_type!r}"
        )
    return library.CONFIG_MAPPING[model_type], library.AutoModel.from_config, "AutoModel"


@contextlib.contextmanager
def _quiet(library: ModuleType) -> Iterator[None]:
    """Silence transformers' info/warning logging while a config or model is built."""
    logging = library.utils.logging
    before = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        yield
    finally:
        logging.set_verbosity(before)
