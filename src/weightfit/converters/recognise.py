"""Recognise, from a manifest alone, a layout a library converter maps to the target.

diffusers knows which converter loads which class from a single file
(``SINGLE_FILE_LOADABLE_CLASSES``: ``UNet2DConditionModel`` →
``convert_ldm_unet_checkpoint``, ``SD3Transformer2DModel`` →
``convert_sd3_transformer_checkpoint_to_diffusers`` …), how to name a
checkpoint's layout from its keys and shapes (``infer_diffusers_model_type``),
and which text-encoder converter a CLIP or OpenCLIP layout takes
(``is_clip_model``, ``is_open_clip_model`` …). Those functions read only names
and shapes, so they run here over shape-only stand-ins
(:func:`weightfit.converters.trace.stand_ins`): no tensor data is read.

A converter is named only when, traced over the checkpoint, it produces exactly
the target's tensors (names and shapes); transformers' declarative conversions
are in :mod:`weightfit.converters.transformers_mapping`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from weightfit.converters.trace import Trace, TraceRefused, stand_ins, trace
from weightfit.manifest import Manifest

CLIP_CLASSES = frozenset({"CLIPTextModel", "CLIPTextModelWithProjection"})
"""transformers classes diffusers' single-file loader fills from an original checkpoint."""


@dataclass
class Recognised:
    """A layout a library converter maps to the target, and the converter's record.

    Attributes:
        library: The library and its version (``diffusers 0.42.1``).
        converter: The converter's name (``convert_ldm_unet_checkpoint``).
        layout: What the library calls the checkpoint's layout (``v1``, ``sd3``).
        target_class: The class the converter's output loads into.
        run: The converter as the library calls it: state dict in, state dict out.
        trace: Its record over shape-only stand-ins, when tracing succeeded.
        refused: What the tracer could not express, when it failed.
        extra: Converter outputs the target does not have (dropped).

    """

    library: str
    converter: str
    layout: str
    target_class: str
    run: Callable[[dict[str, Any]], dict[str, Any]]
    trace: Trace | None = None
    refused: str = ""
    extra: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """``diffusers 0.42.1 convert_ldm_unet_checkpoint``: what each op's reason says."""
        return f"{self.library} {self.converter}"


def recognise_diffusers(source: Manifest, target: Manifest, target_class: str) -> Recognised | None:
    """Name the diffusers converter that maps ``source`` onto ``target``, if one does.

    Returns ``None`` when the target is not a class diffusers converts into,
    when diffusers is not installed, or when the converter's output (traced)
    is not the target's tensors. A converter the tracer refuses is returned with
    ``refused`` set, when its layout was recognised. ``target_class`` is the
    class name (``UNet2DConditionModel``).
    """
    try:
        import diffusers
        from diffusers.loaders import single_file_model as model_loading
        from diffusers.loaders import single_file_utils as utils
    except ImportError:
        return None
    checkpoint = stand_ins(source)
    infer: Any = utils.infer_diffusers_model_type
    try:
        layout = _layout(utils, str(infer(checkpoint)), checkpoint)
    except Exception:
        return None
    library = f"diffusers {diffusers.__version__}"
    found = _converter(utils, model_loading, target_class, target, checkpoint)
    if found is None:
        return None
    name, run, rename_out = found
    recognised = Recognised(library, name, layout, target_class, run)
    try:
        traced = trace(run, source, label=recognised.label)
    except TraceRefused as refused:
        recognised.refused = refused.detail
        return recognised
    except Exception:
        return None
    if rename_out is not None:
        traced.outputs = {rename_out(key): node for key, node in traced.outputs.items()}
    if not _fits(traced, target, recognised):
        return None
    recognised.trace = traced
    return recognised


def _layout(utils: Any, model_type: str, checkpoint: Mapping[str, Any]) -> str:
    """``model_type`` when one of the keys diffusers tells it by is in the checkpoint, else ``""``.

    ``infer_diffusers_model_type`` answers ``v1`` for anything it does not know:
    that default is kept only when the SD 1.x key itself is there.
    """
    for kind, keys in utils.CHECKPOINT_KEY_NAMES.items():
        if model_type == kind or model_type.startswith(f"{kind}-") or model_type.startswith(kind):
            names = keys if isinstance(keys, list) else [keys]
            if any(name in checkpoint for name in names):
                return model_type
    return ""


def _converter(
    utils: Any,
    model_loading: Any,
    target_class: str,
    target: Manifest,
    checkpoint: Mapping[str, Any],
) -> tuple[str, Callable[[dict[str, Any]], dict[str, Any]], Callable[[str], str] | None] | None:
    """The converter diffusers' single-file loader would call for this class and checkpoint."""
    table = getattr(model_loading, "SINGLE_FILE_LOADABLE_CLASSES", {})
    if target_class in table:
        function = table[target_class]["checkpoint_mapping_fn"]
        config = {k: v for k, v in (target.config or {}).items() if not k.startswith("_")}
        wants_config = "config" in inspect.signature(function).parameters

        def run(state: dict[str, Any]) -> dict[str, Any]:
            result = function(state, config=config) if wants_config else function(state)
            return dict(result)

        return str(getattr(function, "__name__", "converter")), run, None
    if target_class in CLIP_CLASSES:
        return _clip_converter(utils, target, checkpoint)
    return None


def _clip_converter(
    utils: Any, target: Manifest, checkpoint: Mapping[str, Any]
) -> tuple[str, Callable[[dict[str, Any]], dict[str, Any]], Callable[[str], str] | None] | None:
    """The branch of diffusers' ``create_diffusers_clip_model_from_ldm`` this checkpoint takes.

    Only the branches that convert without making new values are followed (the
    SD3 CLIP-L branch adds an identity ``text_projection``).
    """
    names = utils.CHECKPOINT_KEY_NAMES
    positions = [s for n, s in target.tensors.items() if n.endswith("position_embedding.weight")]
    width = positions[0].shape[-1] if positions else None
    # CLIPTextModel has no ``text_model.`` level since transformers 5.6: diffusers strips it.
    wrapped = any(name.startswith("text_model.") for name in target.tensors)

    def strip(key: str) -> str:
        return key if wrapped else key.removeprefix("text_model.")

    def width_of(key: str) -> int | None:
        return checkpoint[key].shape[-1] if key in checkpoint else None

    if utils.is_clip_model(checkpoint) or (
        utils.is_clip_sdxl_model(checkpoint) and width_of(names["clip_sdxl"]) == width
    ):
        clip = utils.convert_ldm_clip_checkpoint
        return "convert_ldm_clip_checkpoint", lambda state: dict(clip(state)), strip
    prefix = None
    if utils.is_open_clip_model(checkpoint):
        prefix = "cond_stage_model.model."
    elif utils.is_open_clip_sdxl_model(checkpoint) and width_of(names["open_clip_sdxl"]) == width:
        prefix = "conditioner.embedders.1.model."
    elif utils.is_open_clip_sdxl_refiner_model(checkpoint):
        prefix = "conditioner.embedders.0.model."
    if prefix is None:
        return None
    hidden = (target.config or {}).get("hidden_size", width)
    stub = SimpleNamespace(config=SimpleNamespace(hidden_size=hidden))
    open_clip = utils.convert_open_clip_checkpoint

    def run(state: dict[str, Any]) -> dict[str, Any]:
        return dict(open_clip(stub, state, prefix=prefix))

    return "convert_open_clip_checkpoint", run, strip


def _fits(traced: Trace, target: Manifest, recognised: Recognised) -> bool:
    """Whether the converter's output holds every target tensor, shape for shape.

    Outputs the target does not have are recorded in ``recognised.extra`` (the
    plan drops them); tied copies the target can fill from their partner may be
    absent.
    """
    tied: Mapping[str, str] = target.extras.get("tied") or {}
    for name, spec in target.tensors.items():
        node = traced.outputs.get(name)
        if node is None:
            if name in tied and tied[name] in traced.outputs:
                continue
            return False
        if tuple(node.shape) != tuple(spec.shape):
            return False
    recognised.extra = [name for name in traced.outputs if name not in target.tensors]
    for name in recognised.extra:
        del traced.outputs[name]
    return bool(traced.outputs)
