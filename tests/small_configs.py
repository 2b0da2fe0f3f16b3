"""Small configs of real model families, shared by tests that build them on ``meta``."""

from __future__ import annotations

SMALL_BERT = {
    "vocab_size": 100,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "max_position_embeddings": 64,
}
"""A two-layer BERT config's fields, for real transformers models saved by tests."""

SMALL_LLAMA = {
    "vocab_size": 100,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
}
"""A two-layer Llama config's fields (grouped-query attention), likewise."""


def llava_configs(vocab_size: int) -> dict[str, dict[str, object]]:
    """A one-layer Llama text model and CLIP vision tower: a LLaVA(-NeXT) config's parts."""
    text = {
        "model_type": "llama", "hidden_size": 16, "intermediate_size": 32,
        "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 2,
        "vocab_size": vocab_size,
    }  # fmt: skip
    vision = {
        "model_type": "clip_vision_model", "hidden_size": 16, "intermediate_size": 32,
        "num_hidden_layers": 1, "num_attention_heads": 2, "image_size": 28, "patch_size": 14,
    }  # fmt: skip
    return {"text_config": text, "vision_config": vision}
