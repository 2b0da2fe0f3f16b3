"""Roles: the spellings different codebases use for the same part of a block.

Soft evidence for the structural matcher (:mod:`weightfit.align.structure`):
two tensors of the same shape in matched blocks are more likely the same part
when their names fold to the same roles. Whole segments are looked up first
(``post_attention_layernorm`` is the norm before the MLP, not an attention
part), then their ``_``-separated words. Spellings are from the libraries
themselves: transformers (``q_proj``, ``input_layernorm``, ``c_attn``), Meta's
Llama (``wq``, ``attention_norm``, ``w1``/``w3``), GGUF (``attn_q``,
``ffn_gate``, ``token_embd``), diffusers (``to_q``, ``to_out.0``), timm
(``qkv``, ``fc1``, ``norm1``).
"""

from __future__ import annotations

import re
from functools import lru_cache

SEGMENT_ROLES: dict[str, tuple[str, ...]] = {
    # the norm before attention, and the one before the MLP
    "input_layernorm": ("norm", "pre_attn"),
    "attention_norm": ("norm", "pre_attn"),
    "attn_norm": ("norm", "pre_attn"),
    "ln_1": ("norm", "pre_attn"),
    "norm1": ("norm", "pre_attn"),
    "layernorm_before": ("norm", "pre_attn"),
    "ln_attn": ("norm", "pre_attn"),
    "post_attention_layernorm": ("norm", "pre_mlp"),
    "ffn_norm": ("norm", "pre_mlp"),
    "ln_2": ("norm", "pre_mlp"),
    "norm2": ("norm", "pre_mlp"),
    "layernorm_after": ("norm", "pre_mlp"),
    "ln_mlp": ("norm", "pre_mlp"),
    "post_attention_norm": ("norm", "post_attn"),
    "pre_feedforward_layernorm": ("norm", "pre_mlp"),
    "post_feedforward_layernorm": ("norm", "post_mlp"),
    "post_ffw_norm": ("norm", "post_mlp"),
    "q_norm": ("norm", "q"),
    "k_norm": ("norm", "k"),
    "attn_q_norm": ("norm", "q"),
    "attn_k_norm": ("norm", "k"),
    # whole-model parts
    "tok_embeddings": ("embed",),
    "token_embd": ("embed",),
    "embed_tokens": ("embed",),
    "wte": ("embed",),
    "word_embeddings": ("embed",),
    "wpe": ("pos",),
    "position_embeddings": ("pos",),
    "output_norm": ("norm", "final"),
    "ln_f": ("norm", "final"),
    "final_layernorm": ("norm", "final"),
    "lm_head": ("head",),
    "embed_out": ("head",),
    # attention projections
    "q_proj": ("q",),
    "k_proj": ("k",),
    "v_proj": ("v",),
    "to_q": ("q",),
    "to_k": ("k",),
    "to_v": ("v",),
    "qkv_proj": ("qkv",),
    "to_qkv": ("qkv",),
    "self_attn": ("attn",),
    "self_attention": ("attn",),
    "c_attn": ("qkv",),
    "query_key_value": ("qkv",),
    "attn_qkv": ("attn", "qkv"),
    "attn_q": ("attn", "q"),
    "attn_k": ("attn", "k"),
    "attn_v": ("attn", "v"),
    "attn_output": ("attn", "out"),
    "attn_out": ("attn", "out"),
    "c_proj": ("out",),
    "o_proj": ("out",),
    "out_proj": ("out",),
    "to_out": ("out",),
    "wo": ("out",),
    # MLP projections (Meta's w1/w3 are gate/up, w2 is down)
    "ffn_gate": ("mlp", "gate"),
    "ffn_up": ("mlp", "up"),
    "ffn_down": ("mlp", "out"),
    "ffn_gate_exps": ("mlp", "gate", "experts"),
    "ffn_up_exps": ("mlp", "up", "experts"),
    "ffn_down_exps": ("mlp", "out", "experts"),
    "ffn_gate_inp": ("router",),
    "gate_proj": ("gate",),
    "w1": ("gate",),
    "up_proj": ("up",),
    "w3": ("up",),
    "fc1": ("up",),
    "c_fc": ("up",),
    "dense_h_to_4h": ("up",),
    "down_proj": ("out",),
    "w2": ("out",),
    "fc2": ("out",),
    "dense_4h_to_h": ("out",),
    "gate_up_proj": ("gate", "up"),
}
"""Whole segments and the roles they name."""

WORD_ROLES: dict[str, str] = {
    "q": "q",
    "query": "q",
    "wq": "q",
    "to_q": "q",
    "k": "k",
    "key": "k",
    "wk": "k",
    "v": "v",
    "value": "v",
    "wv": "v",
    "o": "out",
    "out": "out",
    "proj": "out",
    "output": "out",
    "attention": "attn",
    "attn": "attn",
    "attn1": "attn",
    "self_attn": "attn",
    "self": "attn",
    "mlp": "mlp",
    "feed_forward": "mlp",
    "ffn": "mlp",
    "ff": "mlp",
    "feedforward": "mlp",
    "intermediate": "mlp",
    "norm": "norm",
    "ln": "norm",
    "layernorm": "norm",
    "layer_norm": "norm",
    "rmsnorm": "norm",
    "gamma": "weight",
    "weight": "weight",
    "scale": "weight",
    "beta": "bias",
    "bias": "bias",
    "gate": "gate",
    "router": "router",
    "experts": "experts",
    "expert": "experts",
    "qkv": "qkv",
    "embed": "embed",
    "embeddings": "embed",
    "head": "head",
}
"""Single words and the role they name."""

_WORDS = re.compile(r"[a-z]+|[0-9]+")
_FILLER = frozenset({"proj", "to", "layer", "layers", "module", "block", "blocks"})
"""Words inside a segment that name no role (``q_proj`` is q, ``to_out`` is out)."""


@lru_cache(maxsize=1 << 16)
def roles(path: str) -> frozenset[str]:
    """The roles a dotted name (or a part of one) spells: ``attention.wq.weight`` → q, attn, weight.

    Index segments are skipped; unknown words stand for themselves.
    """
    found: set[str] = set()
    for segment in path.lower().split("."):
        if not segment or segment.isdigit():
            continue
        if segment in SEGMENT_ROLES:
            found.update(SEGMENT_ROLES[segment])
            continue
        if segment in WORD_ROLES:
            found.add(WORD_ROLES[segment])
            continue
        for word in _WORDS.findall(segment):
            if not word.isdigit() and word not in _FILLER:
                found.add(WORD_ROLES.get(word, word))
    return frozenset(found)


BUFFER_LEAVES = frozenset(
    {
        "running_mean",
        "running_var",
        "num_batches_tracked",
        "inv_freq",
        "position_ids",
        "in_proj_weight",
        "in_proj_bias",
        "e_score_correction_bias",
    }
)
"""Last segments that name their own kind of tensor (statistics, buffers, packed projections)."""


def leaf_kind(name: str) -> str:
    """The kind of tensor a name ends in: ``bias`` (also ``beta``), a buffer, or ``weight``.

    Parameters named after their module (``experts.gate_up_proj``, ``A_log``,
    ``cls_token``) are weights.
    """
    last = name.rsplit(".", 1)[-1].lower()
    if last in ("bias", "beta", "b") or last.endswith("_bias"):
        return "bias"
    if last in BUFFER_LEAVES:
        return last
    return "weight"


EXCLUSIVE_ROLES = frozenset(
    {
        "q",
        "k",
        "v",
        "qkv",
        "out",
        "gate",
        "up",
        "embed",
        "head",
        "pos",
        "pre_attn",
        "pre_mlp",
        "post_attn",
        "post_mlp",
        "final",
        "router",
    }
)
"""Roles a tensor has at most one of: two tensors naming different ones are different parts."""


def conflict(left: frozenset[str], right: frozenset[str]) -> bool:
    """Whether two role sets name different parts (``up`` against ``out``).

    Fused roles count as their parts: ``gate_up`` names gate and up, ``qkv`` q, k and v.
    """
    mine, theirs = left & EXCLUSIVE_ROLES, right & EXCLUSIVE_ROLES
    return bool(mine and theirs and not mine & theirs)


def similarity(left: frozenset[str], right: frozenset[str]) -> float:
    """Dice coefficient of two role sets (1 for equal sets, 0 for disjoint ones)."""
    if not left and not right:
        return 1.0
    return 2 * len(left & right) / (len(left) + len(right))
