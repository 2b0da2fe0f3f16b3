"""The PEFT adapter matrix: one real base and one real adapter per way PEFT saves LoRA.

Each builder makes a tiny transformers base (``save_pretrained``), wraps it as a
user would (``from_pretrained`` of that folder, so ``base_model_name_or_path``
is recorded and ``save_embedding_layers="auto"`` decides as it does for users),
trains one SGD step (so ``B`` and the saved copies are not their initial
values) and saves the adapter with the installed PEFT. The same builders run
under older PEFT versions in ``tests/data/peft/capture.py``; a feature that
version lacks raises :class:`Unsupported`.

A builder returns a :class:`Built`; :func:`peft_merged` gives PEFT's own
``merge_and_unload()`` of it, the reference every weightfit merge is held to.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

VOCAB = 320
"""The base vocabulary of the issue's report (``vocab_size=320``)."""

ADDED = 1
"""Tokens added before training (``resize_token_embeddings(321)``)."""


class Unsupported(Exception):
    """The installed PEFT or transformers cannot build this case."""


@dataclass
class Built:
    """A base folder, an adapter folder, and how PEFT rebuilds the pair.

    Attributes:
        base: The base model folder (``save_pretrained``).
        adapter: The adapter folder (``PeftModel.save_pretrained``).
        model_class: The transformers class ``merge_and_unload`` is run on.
        rows: Rows the base is resized to before attaching (``None``: as saved).
        fresh_rows: Row slices PEFT's reference fills at random (resizing draws):
            ``{tensor: first random row}``; compared up to that row only.
    """

    base: Path
    adapter: Path
    model_class: str
    rows: int | None = None
    fresh_rows: dict[str, int] = field(default_factory=dict)


def _peft_version() -> tuple[int, ...]:
    import peft

    return tuple(int(p) for p in peft.__version__.split(".")[:2])


def _require(version: tuple[int, int], feature: str) -> None:
    if _peft_version() < version:
        raise Unsupported(f"{feature} needs PEFT >= {'.'.join(map(str, version))}")


def _llama_config(**overrides: Any) -> Any:
    from transformers import LlamaConfig

    settings: dict[str, Any] = {
        "vocab_size": VOCAB,
        "hidden_size": 32,
        "intermediate_size": 48,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 4,
        "tie_word_embeddings": False,
    }
    settings.update(overrides)
    return LlamaConfig(**settings)


def _save_base(model: Any, folder: Path) -> Path:
    base = folder / "base"
    model.save_pretrained(base)
    return base


def _reloaded(cls: Any, base: Path) -> Any:
    """The base as users start: ``from_pretrained`` of its folder (float32)."""
    return cls.from_pretrained(base, torch_dtype=torch.float32)


def _train_and_save(
    model: Any,
    folder: Path,
    lora: dict[str, Any],
    *,
    inputs: Callable[[Any], dict[str, Any]] | None = None,
    save: dict[str, Any] | None = None,
) -> Path:
    """``get_peft_model``, one SGD step, ``save_pretrained`` into ``folder / "adapter"``."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(1)
    lora = {"r": 4, "lora_alpha": 8, **lora}
    batch = inputs(model) if inputs else _token_batch(model)
    peft_model = get_peft_model(model, LoraConfig(**lora))
    params = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.5)
    out = peft_model(**batch)
    loss = out.loss if getattr(out, "loss", None) is not None else _first(out).float().pow(2).mean()
    loss.backward()
    optimizer.step()
    adapter = folder / "adapter"
    peft_model.save_pretrained(adapter, safe_serialization=True, **(save or {}))
    return adapter


def _first(out: Any) -> torch.Tensor:
    return out[0] if isinstance(out, tuple) else next(iter(out.values()))


def _token_batch(model: Any) -> dict[str, Any]:
    rows = model.get_input_embeddings().weight.shape[0]
    ids = torch.arange(16).reshape(2, 8) % rows
    ids[0, -1] = rows - 1  # the newest token is used, so its rows train
    return {"input_ids": ids, "labels": ids}


def save_tokenizer(folder: Path, base_tokens: int, added: int) -> int:
    """Save a word-level tokenizer of ``base_tokens`` plus ``added`` tokens; return its length."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    vocab = {f"w{i}": i for i in range(base_tokens)}
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(WordLevel(vocab, unk_token="w0")), unk_token="w0"
    )
    tokenizer.add_tokens([f"<new{i}>" for i in range(added)])
    tokenizer.save_pretrained(folder)
    return len(tokenizer)


def _resized_llama(folder: Path, **lora: Any) -> tuple[Any, Path]:
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    base = _save_base(LlamaForCausalLM(_llama_config()), folder)
    model = _reloaded(LlamaForCausalLM, base)
    model.resize_token_embeddings(VOCAB + ADDED)
    return model, base


def resized_modules_to_save(folder: Path) -> Built:
    """The issue's case: +1 token, ``modules_to_save=[embed_tokens, lm_head]``, PEFT's defaults."""
    model, base = _resized_llama(folder)
    lora = {"target_modules": ["q_proj", "v_proj"], "modules_to_save": ["embed_tokens", "lm_head"]}
    adapter = _train_and_save(model, folder, {**lora, "task_type": "CAUSAL_LM"})
    save_tokenizer(adapter, VOCAB, ADDED)
    return Built(base, adapter, "LlamaForCausalLM", rows=VOCAB + ADDED)


def resized_tied(folder: Path) -> Built:
    """+1 token on a model with tied embeddings (Llama 3.2 1B, Qwen2.5 0.5B), embeddings saved."""
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    base = _save_base(LlamaForCausalLM(_llama_config(tie_word_embeddings=True)), folder)
    model = _reloaded(LlamaForCausalLM, base)
    model.resize_token_embeddings(VOCAB + ADDED)
    lora = {"target_modules": ["q_proj", "v_proj"], "modules_to_save": ["embed_tokens"]}
    adapter = _train_and_save(model, folder, {**lora, "task_type": "CAUSAL_LM"})
    save_tokenizer(adapter, VOCAB, ADDED)
    return Built(base, adapter, "LlamaForCausalLM", rows=VOCAB + ADDED)


def resized_modules_to_save_off(folder: Path) -> Built:
    """The same, saved with ``save_embedding_layers=False``: only the wrapper's trained copies."""
    _require((0, 6), "save_embedding_layers")
    model, base = _resized_llama(folder)
    lora = {"target_modules": ["q_proj", "v_proj"], "modules_to_save": ["embed_tokens", "lm_head"]}
    adapter = _train_and_save(
        model,
        folder,
        {**lora, "task_type": "CAUSAL_LM"},
        save={"save_embedding_layers": False},
    )
    save_tokenizer(adapter, VOCAB, ADDED)
    return Built(base, adapter, "LlamaForCausalLM", rows=VOCAB + ADDED)


def resized_saved_embeddings(folder: Path) -> Built:
    """+1 token, LoRA on q/v only, ``save_embedding_layers=True``: the resized rows saved plain."""
    model, base = _resized_llama(folder)
    adapter = _train_and_save(
        model,
        folder,
        {"target_modules": ["q_proj", "v_proj"], "task_type": "CAUSAL_LM"},
        save={"save_embedding_layers": True},
    )
    save_tokenizer(adapter, VOCAB, ADDED)
    return Built(base, adapter, "LlamaForCausalLM", rows=VOCAB + ADDED)


def resized_unsaved_embeddings(folder: Path) -> Built:
    """+1 token, LoRA on q/v only, ``save_embedding_layers=False``: the tokenizer alone tells."""
    model, base = _resized_llama(folder)
    adapter = _train_and_save(
        model,
        folder,
        {"target_modules": ["q_proj", "v_proj"], "task_type": "CAUSAL_LM"},
        save={"save_embedding_layers": False},
    )
    save_tokenizer(adapter, VOCAB, ADDED)
    fresh = {"model.embed_tokens.weight": VOCAB, "lm_head.weight": VOCAB}
    return Built(base, adapter, "LlamaForCausalLM", rows=VOCAB + ADDED, fresh_rows=fresh)


def classifier_head(folder: Path) -> Built:
    """``task_type=SEQ_CLS``: PEFT adds the ``score`` head to ``modules_to_save`` itself."""
    from transformers import LlamaForSequenceClassification

    torch.manual_seed(0)
    config = _llama_config(num_labels=3, pad_token_id=0)
    base = _save_base(LlamaForSequenceClassification(config), folder)
    model = _reloaded(LlamaForSequenceClassification, base)

    def inputs(_: Any) -> dict[str, Any]:
        return {"input_ids": torch.arange(1, 17).reshape(2, 8), "labels": torch.tensor([0, 2])}

    lora = {"target_modules": ["q_proj", "v_proj"], "task_type": "SEQ_CLS"}
    adapter = _train_and_save(model, folder, lora, inputs=inputs)
    return Built(base, adapter, "LlamaForSequenceClassification")


def trainable_tokens(folder: Path) -> Built:
    """``trainable_token_indices`` on the input embedding: only those rows are saved."""
    _require((0, 15), "trainable_token_indices")
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    base = _save_base(LlamaForCausalLM(_llama_config()), folder)
    model = _reloaded(LlamaForCausalLM, base)
    lora = {
        "target_modules": ["q_proj"],
        "trainable_token_indices": [3, 7, 319],
        "task_type": "CAUSAL_LM",
    }
    adapter = _train_and_save(model, folder, lora)
    return Built(base, adapter, "LlamaForCausalLM")


def trainable_tokens_tied(folder: Path) -> Built:
    """``trainable_token_indices`` on a model with tied embeddings: the head shares the rows."""
    _require((0, 15), "trainable_token_indices")
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    base = _save_base(LlamaForCausalLM(_llama_config(tie_word_embeddings=True)), folder)
    model = _reloaded(LlamaForCausalLM, base)
    lora = {
        "target_modules": ["q_proj"],
        "trainable_token_indices": [3, 7],
        "task_type": "CAUSAL_LM",
    }
    adapter = _train_and_save(model, folder, lora)
    return Built(base, adapter, "LlamaForCausalLM")


def rank_alpha_pattern(folder: Path) -> Built:
    """Per-module ranks and alphas (``rank_pattern`` / ``alpha_pattern``), one layer by name."""
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    base = _save_base(LlamaForCausalLM(_llama_config()), folder)
    model = _reloaded(LlamaForCausalLM, base)
    lora = {
        "target_modules": ["q_proj", "v_proj", "down_proj"],
        "rank_pattern": {"v_proj": 2, "model.layers.1.mlp.down_proj": 6},
        "alpha_pattern": {"down_proj": 3},
        "task_type": "CAUSAL_LM",
    }
    adapter = _train_and_save(model, folder, lora)
    return Built(base, adapter, "LlamaForCausalLM")


def alpha_pattern_keys(folder: Path) -> Built:
    """Patterns PEFT reads otherwise since 0.15: one module under two keys, a whole path."""
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    base = _save_base(LlamaForCausalLM(_llama_config()), folder)
    model = _reloaded(LlamaForCausalLM, base)
    lora = {
        "target_modules": ["v_proj", "down_proj"],
        "rank_pattern": {"v_proj": 2},
        "alpha_pattern": {"self_attn.v_proj": 16, "model.layers.1.mlp.down_proj": 2},
        "task_type": "CAUSAL_LM",
    }
    adapter = _train_and_save(model, folder, lora)
    return Built(base, adapter, "LlamaForCausalLM")


def layers_to_transform(folder: Path) -> Built:
    """``layers_to_transform=[1]``: one layer of two adapted."""
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    base = _save_base(LlamaForCausalLM(_llama_config()), folder)
    model = _reloaded(LlamaForCausalLM, base)
    lora = {
        "target_modules": ["q_proj", "o_proj"],
        "layers_to_transform": [1],
        "layers_pattern": "layers",
        "task_type": "CAUSAL_LM",
    }
    adapter = _train_and_save(model, folder, lora)
    return Built(base, adapter, "LlamaForCausalLM")


def target_parameters(folder: Path) -> Built:
    """LoRA on MoE expert parameters (``target_parameters``, 3-d ``[experts, in, out]``)."""
    _require((0, 17), "target_parameters")
    import transformers

    torch.manual_seed(0)
    config = transformers.AutoConfig.for_model(
        "llama4_text",
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=24,
        intermediate_size_mlp=48,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        num_local_experts=4,
        num_experts_per_tok=1,
        head_dim=8,
    )
    cls = transformers.Llama4ForCausalLM
    base = _save_base(cls(config), folder)
    model = _reloaded(cls, base)
    lora = {
        "target_modules": [],
        "target_parameters": [
            "feed_forward.experts.gate_up_proj",
            "feed_forward.experts.down_proj",
        ],
        "task_type": "CAUSAL_LM",
    }
    adapter = _train_and_save(model, folder, lora)
    return Built(base, adapter, "Llama4ForCausalLM")


def target_parameters_expert_files(folder: Path) -> Built:
    """``target_parameters`` on a Qwen3-MoE, whose files hold one tensor per expert and part."""
    _require((0, 17), "target_parameters")
    import transformers

    if not hasattr(transformers, "Qwen3MoeForCausalLM"):
        raise Unsupported("Qwen3MoeForCausalLM needs transformers >= 4.51")
    torch.manual_seed(0)
    config = transformers.AutoConfig.for_model(
        "qwen3_moe",
        vocab_size=VOCAB,
        hidden_size=32,
        intermediate_size=48,
        moe_intermediate_size=24,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        num_experts=4,
        num_experts_per_tok=2,
    )
    cls = transformers.Qwen3MoeForCausalLM
    base = _save_base(cls(config), folder)
    model = _reloaded(cls, base)
    lora = {
        "target_modules": [],
        "target_parameters": ["mlp.experts.gate_up_proj", "mlp.experts.down_proj"],
        "task_type": "CAUSAL_LM",
    }
    adapter = _train_and_save(model, folder, lora)
    return Built(base, adapter, "Qwen3MoeForCausalLM")


def embedding_lora(folder: Path) -> Built:
    """LoRA on ``embed_tokens`` itself (``lora_embedding_A/B``)."""
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    base = _save_base(LlamaForCausalLM(_llama_config()), folder)
    model = _reloaded(LlamaForCausalLM, base)
    lora = {"target_modules": ["embed_tokens", "q_proj"], "task_type": "CAUSAL_LM"}
    adapter = _train_and_save(model, folder, lora)
    return Built(base, adapter, "LlamaForCausalLM")


def conv_lora(folder: Path) -> Built:
    """LoRA on the 3×3 and 1×1 convolutions of a small ResNet."""
    from transformers import ResNetConfig, ResNetForImageClassification

    torch.manual_seed(0)
    config = ResNetConfig(
        embedding_size=8,
        hidden_sizes=[8, 16],
        depths=[1, 1],
        layer_type="bottleneck",
        num_labels=3,
    )
    base = _save_base(ResNetForImageClassification(config), folder)
    model = _reloaded(ResNetForImageClassification, base)

    def inputs(_: Any) -> dict[str, Any]:
        return {"pixel_values": torch.randn(2, 3, 32, 32), "labels": torch.tensor([0, 2])}

    lora = {"target_modules": ["convolution"], "modules_to_save": ["classifier"]}
    adapter = _train_and_save(model, folder, lora, inputs=inputs)
    return Built(base, adapter, "ResNetForImageClassification")


def rslora(folder: Path) -> Built:
    """``use_rslora``: scale ``alpha / sqrt(r)``."""
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    base = _save_base(LlamaForCausalLM(_llama_config()), folder)
    model = _reloaded(LlamaForCausalLM, base)
    lora = {"target_modules": ["q_proj", "up_proj"], "use_rslora": True, "task_type": "CAUSAL_LM"}
    adapter = _train_and_save(model, folder, lora)
    return Built(base, adapter, "LlamaForCausalLM")


def lora_bias(folder: Path) -> Built:
    """``lora_bias=True`` on biased projections: ``lora_B.bias`` adds to the base bias."""
    _require((0, 14), "lora_bias")
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    base = _save_base(LlamaForCausalLM(_llama_config(attention_bias=True)), folder)
    model = _reloaded(LlamaForCausalLM, base)
    lora = {"target_modules": ["q_proj", "v_proj"], "lora_bias": True, "task_type": "CAUSAL_LM"}
    adapter = _train_and_save(model, folder, lora)
    return Built(base, adapter, "LlamaForCausalLM")


def _bias(folder: Path, mode: str) -> Built:
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    base = _save_base(LlamaForCausalLM(_llama_config(attention_bias=True)), folder)
    model = _reloaded(LlamaForCausalLM, base)
    lora = {"target_modules": ["q_proj", "v_proj"], "bias": mode, "task_type": "CAUSAL_LM"}
    adapter = _train_and_save(model, folder, lora)
    return Built(base, adapter, "LlamaForCausalLM")


def bias_all(folder: Path) -> Built:
    """``bias="all"``: every bias of the model trained and saved."""
    return _bias(folder, "all")


def bias_lora_only(folder: Path) -> Built:
    """``bias="lora_only"``: the biases of the adapted layers trained and saved."""
    return _bias(folder, "lora_only")


def dora(folder: Path) -> Built:
    """``use_dora=True``: a magnitude vector per module (merge refused)."""
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    base = _save_base(LlamaForCausalLM(_llama_config()), folder)
    model = _reloaded(LlamaForCausalLM, base)
    lora = {"target_modules": ["q_proj", "v_proj"], "use_dora": True, "task_type": "CAUSAL_LM"}
    adapter = _train_and_save(model, folder, lora)
    return Built(base, adapter, "LlamaForCausalLM")


def nested_language_model(folder: Path) -> Built:
    """A Llava model (text model under ``model.language_model``), LoRA on its text layers."""
    import transformers

    if not hasattr(transformers, "LlavaForConditionalGeneration"):
        raise Unsupported("LlavaForConditionalGeneration needs transformers >= 4.36")
    torch.manual_seed(0)
    vision = transformers.CLIPVisionConfig(
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=16,
        patch_size=8,
        projection_dim=16,
    )
    text = _llama_config()
    config = transformers.LlavaConfig(
        vision_config=vision, text_config=text, image_token_index=VOCAB - 1
    )
    cls = transformers.LlavaForConditionalGeneration
    base = _save_base(cls(config), folder)
    model = _reloaded(cls, base)
    lora = {
        "target_modules": r".*language_model.*\.(q_proj|v_proj)",
        "modules_to_save": ["lm_head"],
        "task_type": "CAUSAL_LM",
    }

    def inputs(_: Any) -> dict[str, Any]:
        ids = torch.arange(1, 17).reshape(2, 8)
        return {"input_ids": ids, "labels": ids}

    adapter = _train_and_save(model, folder, lora, inputs=inputs)
    return Built(base, adapter, "LlavaForConditionalGeneration")


CASES: dict[str, Callable[[Path], Built]] = {
    "resized_modules_to_save": resized_modules_to_save,
    "resized_modules_to_save_off": resized_modules_to_save_off,
    "resized_tied": resized_tied,
    "resized_saved_embeddings": resized_saved_embeddings,
    "resized_unsaved_embeddings": resized_unsaved_embeddings,
    "classifier_head": classifier_head,
    "trainable_tokens": trainable_tokens,
    "trainable_tokens_tied": trainable_tokens_tied,
    "rank_alpha_pattern": rank_alpha_pattern,
    "alpha_pattern_keys": alpha_pattern_keys,
    "layers_to_transform": layers_to_transform,
    "target_parameters": target_parameters,
    "target_parameters_expert_files": target_parameters_expert_files,
    "embedding_lora": embedding_lora,
    "conv_lora": conv_lora,
    "rslora": rslora,
    "lora_bias": lora_bias,
    "bias_all": bias_all,
    "bias_lora_only": bias_lora_only,
    "dora": dora,
    "nested_language_model": nested_language_model,
}
"""Every case, by name (the fixtures under ``tests/data/peft/<version>/`` use these names)."""


def peft_merged(built: Built) -> dict[str, torch.Tensor]:
    """PEFT's own merge: the base (resized to ``rows``), attached, ``merge_and_unload()``."""
    import transformers
    from peft import PeftModel

    cls = getattr(transformers, built.model_class)
    model = _reloaded(cls, built.base)
    if built.rows is not None:
        model.resize_token_embeddings(built.rows)
    merged = PeftModel.from_pretrained(model, built.adapter).merge_and_unload()
    return {name: value.detach().clone() for name, value in merged.state_dict().items()}


def header(adapter: Path) -> dict[str, Any]:
    """The adapter's tensors as PEFT wrote them: ``{name: [dtype, shape]}`` from the header."""
    from safetensors import safe_open

    path = adapter / "adapter_model.safetensors"
    tensors: dict[str, Any] = {}
    with safe_open(path, "pt") as handle:
        for name in handle.keys():  # noqa: SIM118 - safe_open has no __iter__
            piece = handle.get_slice(name)
            tensors[name] = [piece.get_dtype(), list(piece.get_shape())]
    return dict(sorted(tensors.items()))


def adapter_config(adapter: Path) -> dict[str, Any]:
    """The adapter's ``adapter_config.json``."""
    data: dict[str, Any] = json.loads((adapter / "adapter_config.json").read_text())
    return data
