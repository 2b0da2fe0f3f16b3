"""Ground truth for bench/convert.py: real converters run on tagged values.

Every pair gives a *source* state dict (the layout a converter reads) whose elements
are distinct integers, and the *truth*: what the converter makes of it, keyed by the
model's own names. Nothing here decides a mapping: names, shapes and values come out
of the libraries' converters.

- ``conversion_mapping``: transformers 5 converts a checkpoint's saved layout on load
  and writes it back on save; ``revert_weight_conversion`` (the save direction) on a
  tagged in-memory state dict gives the saved layout holding the same integers.
- ``gguf``: transformers 5's GGUF loader, ``get_gguf_hf_weights_map`` (gguf-py's
  ``TensorNameMap``) for the names and the architecture's ``TensorProcessor`` for the
  values (RoPE reverse permute, GPT-2 transposes, BLOOM's qkv reshuffle, Gemma's
  norm offset ...), applied to a tagged GGUF-layout state dict.
- ``meta_llama``: Meta's original Llama names (gguf-py's ``TensorNameMap`` rows for
  ``layers.{bid}.attention.wq`` ...) mapped to GGUF names, then the GGUF loader.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

SMALL = {
    "hidden_size": 32,
    "intermediate_size": 48,
    "num_hidden_layers": 3,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 96,
    "moe_intermediate_size": 24,
    "num_local_experts": 4,
    "num_experts": 4,
    "num_experts_per_tok": 2,
    "n_routed_experts": 4,
    "shared_expert_intermediate_size": 40,
    "head_dim": 8,
    "max_position_embeddings": 64,
    "image_size": 32,
    "patch_size": 8,
    "num_channels": 3,
    "kv_lora_rank": 16,
    "q_lora_rank": 16,
    "qk_rope_head_dim": 8,
    "qk_nope_head_dim": 8,
    "v_head_dim": 8,
    "first_k_dense_replace": 1,
    "n_group": 1,
    "topk_group": 1,
    "n_head": 4,
    "n_layer": 3,
    "n_embd": 32,
    "pad_token_id": 0,
    "bos_token_id": 1,
    "eos_token_id": 2,
}
"""A small configuration every model type takes (fields it does not know are ignored)."""


@dataclass
class Pair:
    """One conversion: the source layout (tagged values), the model, and the truth."""

    id: str
    converter: str
    model_type: str
    held_back: bool
    source: dict[str, torch.Tensor]
    truth: dict[str, torch.Tensor]
    model: Any
    notes: list[str] = field(default_factory=list)


def build_model(
    model_type: str, overrides: dict[str, Any] | None = None, *, meta: bool = False
) -> Any:
    """The transformers class for ``model_type``, from the small config (or ``overrides``)."""
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

    fields = dict(overrides if overrides is not None else SMALL)
    try:
        config = AutoConfig.for_model(model_type, **fields)
    except AttributeError:  # a derived field (Falcon's head_dim) that cannot be set
        fields.pop("head_dim", None)
        config = AutoConfig.for_model(model_type, **fields)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.device("meta" if meta else "cpu"):
            try:
                return AutoModelForCausalLM.from_config(config)
            except ValueError:
                return AutoModel.from_config(config)


def tagged(shapes: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """Distinct integers (as float32, exact below 2**24) for every element, in order."""
    values, start = {}, 0
    for name, shape in shapes.items():
        count = math.prod(shape)
        values[name] = torch.arange(start, start + count, dtype=torch.float32).reshape(shape)
        start += count
    assert start < 2**24
    return values


def conversion_mapping(spec: dict[str, Any]) -> Pair:
    """transformers 5: the saved layout (``revert_weight_conversion``) of a tagged model."""
    from transformers.core_model_loading import revert_weight_conversion

    model = build_model(spec["model_type"])
    state = model.state_dict()
    truth = tagged({k: tuple(v.shape) for k, v in state.items()})
    source = revert_weight_conversion(model, dict(truth))
    source = {k: v.contiguous() for k, v in source.items()}
    return Pair(
        spec["id"],
        "conversion_mapping",
        spec["model_type"],
        spec["held_back"],
        source,
        truth,
        model,
    )


def _gguf_processor(model: Any, model_type: str) -> Any:
    from transformers.modeling_gguf_pytorch_utils import TENSOR_PROCESSORS, TensorProcessor

    config = model.config.to_dict()
    config.setdefault("n_head", config.get("num_attention_heads"))
    arch = {"mistral": "llama"}.get(model_type, model_type)
    return TENSOR_PROCESSORS.get(arch, TensorProcessor)(config=config)


def _gguf_names(model: Any, processor: Any, model_type: str) -> dict[str, str]:
    from transformers.modeling_gguf_pytorch_utils import get_gguf_hf_weights_map

    try:
        return get_gguf_hf_weights_map(model, processor)
    except NotImplementedError:
        return get_gguf_hf_weights_map(model, processor, model_type="llama")


def _process(
    processor: Any, value: np.ndarray, name: str
) -> tuple[np.ndarray, str | None, dict[str, Any]]:
    parsed: dict[str, Any] = {"tensors": {}}
    result = processor.process(weights=value, name=name, parsed_parameters=parsed)
    return result.weights, result.name, parsed["tensors"]


def gguf(spec: dict[str, Any], rename: dict[str, str] | None = None) -> Pair:
    """transformers 5's GGUF loader on a tagged GGUF-layout state dict."""
    model = build_model(spec["model_type"])
    processor = _gguf_processor(model, spec["model_type"])
    to_model = _gguf_names(model, processor, spec["model_type"])
    state = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    shapes: dict[str, tuple[int, ...]] = {}
    for gguf_name, model_name in to_model.items():
        shape = state.get(model_name)
        if shape is None:
            continue
        # The stored shape is the one the processor turns into the model's shape.
        for candidate in (shape, shape[::-1]):
            out, _, extra = _process(processor, np.zeros(candidate, dtype=np.float32), gguf_name)
            made = tuple(extra[next(iter(extra))].shape) if extra else tuple(out.shape)
            if made == shape:
                shapes[gguf_name] = candidate
                break
    source = tagged(shapes)
    truth: dict[str, torch.Tensor] = {}
    for gguf_name, value in source.items():
        out, name, extra = _process(processor, value.numpy().copy(), gguf_name)
        for extra_name, extra_value in extra.items():
            truth[extra_name] = extra_value.to(torch.float32)
        if name is not None:
            truth[to_model[gguf_name]] = torch.from_numpy(np.ascontiguousarray(out)).to(
                torch.float32
            )
    if rename:
        source = {rename.get(k, k): v for k, v in source.items()}
    return Pair(
        spec["id"], spec["converter"], spec["model_type"], spec["held_back"], source, truth, model
    )


def meta_llama(spec: dict[str, Any]) -> Pair:
    """Meta's Llama names (gguf-py's own table of them) read through the GGUF loader."""
    from gguf import MODEL_ARCH, get_tensor_name_map

    model = build_model(spec["model_type"])
    table = get_tensor_name_map(MODEL_ARCH.LLAMA, model.config.num_hidden_layers)
    to_meta = _meta_names(table)
    processor = _gguf_processor(model, "llama")
    rename = {}
    for gguf_name in _gguf_names(model, processor, "llama"):
        stem, _, leaf = gguf_name.rpartition(".")
        if stem in to_meta:
            rename[gguf_name] = f"{to_meta[stem]}.{leaf}"
    pair = gguf(spec, rename)
    missing = [k for k in pair.source if k not in rename.values()]
    if missing:
        pair.notes.append(f"no Meta name for {missing}")
    return pair


META_WORDS = ("attention.w", "feed_forward.w", "attention_norm", "ffn_norm")
"""How Meta's Llama ``model.py`` names block tensors: picks gguf-py's llama-pth rows."""


def _meta_names(table: Any) -> dict[str, str]:
    """GGUF name → Meta's name, from the rows of gguf-py's table that are Meta's spelling."""
    to_meta: dict[str, str] = {}
    for key, (_, gguf_name) in table.mapping.items():
        block = key.startswith("layers.") and any(word in key for word in META_WORDS)
        if block or key in ("tok_embeddings", "norm", "output"):
            to_meta.setdefault(gguf_name, key)
    return to_meta


BUILDERS = {"conversion_mapping": conversion_mapping, "gguf": gguf, "meta_llama": meta_llama}


def full_size_manifests(spec: dict[str, Any]) -> tuple[dict[str, tuple[int, ...]], Any]:
    """Source names and shapes of a full-size config, and the model, built on ``meta``."""
    model = build_model(spec["model_type"], dict(spec["full_size"]), meta=True)
    state = model.state_dict()
    if spec["converter"] == "conversion_mapping":
        from transformers.core_model_loading import revert_weight_conversion

        saved = revert_weight_conversion(model, dict(state))
        return {k: tuple(v.shape) for k, v in saved.items()}, model
    processor = _gguf_processor(model, spec["model_type"])
    to_model = _gguf_names(model, processor, spec["model_type"])
    shapes = {g: tuple(state[m].shape) for g, m in to_model.items() if m in state}
    if spec["converter"] == "meta_llama":
        from gguf import MODEL_ARCH, get_tensor_name_map

        to_meta = _meta_names(get_tensor_name_map(MODEL_ARCH.LLAMA, model.config.num_hidden_layers))
        renamed = {}
        for name, shape in shapes.items():
            stem, _, leaf = name.rpartition(".")
            renamed[f"{to_meta.get(stem, stem)}.{leaf}"] = shape
        shapes = renamed
    return dict(sorted(shapes.items())), model
