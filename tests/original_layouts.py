"""Small real models and their weights in the original layouts library converters read.

Each builder takes a diffusers or transformers model's ``state_dict()`` (real
classes, small configs, seeded values) and lays the same tensors out as the
original code saves them, written from the original modules' structure:

- Stable Diffusion's ``ldm.modules.diffusionmodules.openaimodel.UNetModel``
  (``input_blocks.N.{0: ResBlock, 1: SpatialTransformer}``, ``middle_block``,
  ``output_blocks``, ``time_embed``, ``out``) and ``ldm.modules.diffusionmodules.model``
  ``Encoder``/``Decoder`` (``down.N.block.M``, ``mid.block_1``, ``mid.attn_1`` with
  1×1 convolutions for q/k/v/proj_out, decoder ``up`` blocks numbered from the
  bottom), under the ``LatentDiffusion`` prefixes (``model.diffusion_model.``,
  ``first_stage_model.``, ``cond_stage_model.transformer.``);
- OpenCLIP's ``TextTransformer`` (``resblocks.N.attn.in_proj_weight`` = q, k, v
  stacked, ``text_projection`` as ``[width, dim]``) under ``cond_stage_model.model.``;
- Stability's MMDiT (``joint_blocks.N.{x_block,context_block}``, fused ``qkv``,
  ``adaLN_modulation.1`` as shift then scale where diffusers keeps scale then shift).

The builders are written from those layouts, not from the converters under test;
a builder that got a name wrong would make the library's own converter fail to
load strict, which every test checks.
"""

from __future__ import annotations

import re
from typing import Any

import torch

Tensors = dict[str, torch.Tensor]


def _resnet(key: str) -> str:
    """diffusers ResnetBlock2D parameter names → ldm ResBlock names."""
    for new, old in (
        ("norm1", "in_layers.0"),
        ("conv1", "in_layers.2"),
        ("norm2", "out_layers.0"),
        ("conv2", "out_layers.3"),
        ("time_emb_proj", "emb_layers.1"),
        ("conv_shortcut", "skip_connection"),
    ):
        key = key.replace(new, old)
    return key


def ldm_unet(state: Tensors, config: dict, prefix: str = "model.diffusion_model.") -> Tensors:
    """A ``UNet2DConditionModel`` state dict as ldm's ``UNetModel`` names it."""
    per = config["layers_per_block"]
    top = {
        "time_embedding.linear_1": "time_embed.0",
        "time_embedding.linear_2": "time_embed.2",
        "conv_in": "input_blocks.0.0",
        "conv_norm_out": "out.0",
        "conv_out": "out.2",
    }
    out: Tensors = {}
    for key, value in state.items():
        module, _, leaf = key.rpartition(".")
        if module in top:
            name = f"{top[module]}.{leaf}"
        elif m := re.fullmatch(r"down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", key):
            block, kind, layer, rest = int(m[1]), m[2], int(m[3]), m[4]
            index = 1 + block * (per + 1) + layer
            name = (
                f"input_blocks.{index}.0.{_resnet(rest)}"
                if kind == "resnets"
                else f"input_blocks.{index}.1.{rest}"
            )
        elif m := re.fullmatch(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)", key):
            index = 1 + int(m[1]) * (per + 1) + per
            name = f"input_blocks.{index}.0.op.{m[2]}"
        elif m := re.fullmatch(r"mid_block\.resnets\.(\d+)\.(.*)", key):
            name = f"middle_block.{2 * int(m[1])}.{_resnet(m[2])}"
        elif m := re.fullmatch(r"mid_block\.attentions\.0\.(.*)", key):
            name = f"middle_block.1.{m[1]}"
        elif m := re.fullmatch(r"up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", key):
            block, kind, layer, rest = int(m[1]), m[2], int(m[3]), m[4]
            index = block * (per + 1) + layer
            name = (
                f"output_blocks.{index}.0.{_resnet(rest)}"
                if kind == "resnets"
                else f"output_blocks.{index}.1.{rest}"
            )
        elif m := re.fullmatch(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)", key):
            block = int(m[1])
            index = block * (per + 1) + per
            has_attention = any(k.startswith(f"up_blocks.{block}.attentions.") for k in state)
            name = f"output_blocks.{index}.{2 if has_attention else 1}.conv.{m[2]}"
        else:
            raise KeyError(key)
        out[prefix + name] = value
    return out


def ldm_vae(state: Tensors, config: dict, prefix: str = "first_stage_model.") -> Tensors:
    """An ``AutoencoderKL`` state dict as ldm's ``Encoder``/``Decoder`` name it."""
    levels = len(config["block_out_channels"])
    attention = {
        "group_norm": "norm",
        "to_q": "q",
        "to_k": "k",
        "to_v": "v",
        "to_out.0": "proj_out",
    }
    out: Tensors = {}
    for key, value in state.items():
        name = key.replace("conv_norm_out", "norm_out")
        if m := re.fullmatch(r"encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.*)", key):
            name = (
                f"encoder.down.{m[1]}.block.{m[2]}.{m[3].replace('conv_shortcut', 'nin_shortcut')}"
            )
        elif m := re.fullmatch(r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)", key):
            name = f"encoder.down.{m[1]}.downsample.conv.{m[2]}"
        elif m := re.fullmatch(r"decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.*)", key):
            level = levels - 1 - int(m[1])
            name = (
                f"decoder.up.{level}.block.{m[2]}.{m[3].replace('conv_shortcut', 'nin_shortcut')}"
            )
        elif m := re.fullmatch(r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)", key):
            name = f"decoder.up.{levels - 1 - int(m[1])}.upsample.conv.{m[2]}"
        elif m := re.fullmatch(r"(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.*)", key):
            name = f"{m[1]}.mid.block_{int(m[2]) + 1}.{m[3]}"
        elif m := re.fullmatch(
            r"(encoder|decoder)\.mid_block\.attentions\.0\.(.*)\.(weight|bias)", key
        ):
            name = f"{m[1]}.mid.attn_1.{attention[m[2]]}.{m[3]}"
            if m[3] == "weight" and m[2] != "group_norm":
                value = value.reshape(*value.shape, 1, 1)  # ldm uses 1×1 convolutions
        out[prefix + name] = value
    return out


def ldm_clip(state: Tensors, prefix: str = "cond_stage_model.transformer.") -> Tensors:
    """A ``CLIPTextModel`` state dict under ldm's ``FrozenCLIPEmbedder`` (``transformer.``)."""
    wrapped = any(key.startswith("text_model.") for key in state)
    return {prefix + ("" if wrapped else "text_model.") + k: v for k, v in state.items()}


def open_clip_text(state: Tensors, prefix: str = "cond_stage_model.model.") -> Tensors:
    """A ``CLIPTextModelWithProjection`` state dict as OpenCLIP's ``TextTransformer`` names it."""
    out: Tensors = {}
    names = {
        "text_model.embeddings.token_embedding.weight": "token_embedding.weight",
        "text_model.embeddings.position_embedding.weight": "positional_embedding",
        "text_model.final_layer_norm.weight": "ln_final.weight",
        "text_model.final_layer_norm.bias": "ln_final.bias",
    }
    fused: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        if key in names:
            out[prefix + names[key]] = value
        elif key == "text_projection.weight":
            out[prefix + "text_projection"] = value.T.contiguous()
        elif m := re.fullmatch(r"text_model\.encoder\.layers\.(\d+)\.(.*)", key):
            layer, rest = m[1], m[2]
            if p := re.fullmatch(r"self_attn\.([qkv])_proj\.(weight|bias)", rest):
                fused.setdefault(f"{layer}.{p[2]}", {})[p[1]] = value
                continue
            rest = (
                rest.replace("layer_norm1", "ln_1")
                .replace("layer_norm2", "ln_2")
                .replace("mlp.fc1", "mlp.c_fc")
                .replace("mlp.fc2", "mlp.c_proj")
                .replace("self_attn.out_proj", "attn.out_proj")
            )
            out[f"{prefix}transformer.resblocks.{layer}.{rest}"] = value
    for key, parts in fused.items():
        layer, kind = key.split(".")
        stacked = torch.cat([parts["q"], parts["k"], parts["v"]])
        out[f"{prefix}transformer.resblocks.{layer}.attn.in_proj_{kind}"] = stacked
    return out


def _shift_scale(value: torch.Tensor) -> torch.Tensor:
    """diffusers' AdaLayerNormContinuous keeps (scale, shift); MMDiT writes (shift, scale)."""
    scale, shift = value.chunk(2)
    return torch.cat([shift, scale])


def mmdit(state: Tensors, layers: int) -> Tensors:
    """An ``SD3Transformer2DModel`` state dict as Stability's MMDiT names it."""
    top = {
        "pos_embed.pos_embed": "pos_embed",
        "pos_embed.proj": "x_embedder.proj",
        "time_text_embed.timestep_embedder.linear_1": "t_embedder.mlp.0",
        "time_text_embed.timestep_embedder.linear_2": "t_embedder.mlp.2",
        "time_text_embed.text_embedder.linear_1": "y_embedder.mlp.0",
        "time_text_embed.text_embedder.linear_2": "y_embedder.mlp.2",
        "context_embedder": "context_embedder",
        "proj_out": "final_layer.linear",
        "norm_out.linear": "final_layer.adaLN_modulation.1",
    }
    block = {
        "attn.to_out.0": "x_block.attn.proj",
        "attn.to_add_out": "context_block.attn.proj",
        "attn.norm_q": "x_block.attn.ln_q",
        "attn.norm_k": "x_block.attn.ln_k",
        "attn.norm_added_q": "context_block.attn.ln_q",
        "attn.norm_added_k": "context_block.attn.ln_k",
        "norm1.linear": "x_block.adaLN_modulation.1",
        "norm1_context.linear": "context_block.adaLN_modulation.1",
        "ff.net.0.proj": "x_block.mlp.fc1",
        "ff.net.2": "x_block.mlp.fc2",
        "ff_context.net.0.proj": "context_block.mlp.fc1",
        "ff_context.net.2": "context_block.mlp.fc2",
    }
    out: Tensors = {}
    fused: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        module, _, leaf = key.rpartition(".")
        if key == "pos_embed.pos_embed":
            out["pos_embed"] = value
        elif module in top:
            swap = module == "norm_out.linear"
            out[f"{top[module]}.{leaf}"] = _shift_scale(value) if swap else value
        elif m := re.fullmatch(r"transformer_blocks\.(\d+)\.(.*)", module):
            i, inner = int(m[1]), m[2]
            if p := re.fullmatch(r"attn\.(to|add)_([qkv])(?:_proj)?", inner):
                side = "x_block" if p[1] == "to" else "context_block"
                fused.setdefault(f"joint_blocks.{i}.{side}.attn.qkv.{leaf}", {})[p[2]] = value
                continue
            last_context = i == layers - 1 and inner == "norm1_context.linear"
            out[f"joint_blocks.{i}.{block[inner]}.{leaf}"] = (
                _shift_scale(value) if last_context else value
            )
        else:
            raise KeyError(key)
    for key, parts in fused.items():
        out[key] = torch.cat([parts["q"], parts["k"], parts["v"]])
    return out


def flux(state: Tensors) -> Tensors:
    """A ``FluxTransformer2DModel`` state dict as Black Forest Labs' ``Flux`` names it."""
    top = {
        "time_text_embed.timestep_embedder.linear_1": "time_in.in_layer",
        "time_text_embed.timestep_embedder.linear_2": "time_in.out_layer",
        "time_text_embed.text_embedder.linear_1": "vector_in.in_layer",
        "time_text_embed.text_embedder.linear_2": "vector_in.out_layer",
        "time_text_embed.guidance_embedder.linear_1": "guidance_in.in_layer",
        "time_text_embed.guidance_embedder.linear_2": "guidance_in.out_layer",
        "context_embedder": "txt_in",
        "x_embedder": "img_in",
        "proj_out": "final_layer.linear",
        "norm_out.linear": "final_layer.adaLN_modulation.1",
    }
    double = {
        "norm1.linear": "img_mod.lin",
        "norm1_context.linear": "txt_mod.lin",
        "attn.norm_q": "img_attn.norm.query_norm",
        "attn.norm_k": "img_attn.norm.key_norm",
        "attn.norm_added_q": "txt_attn.norm.query_norm",
        "attn.norm_added_k": "txt_attn.norm.key_norm",
        "ff.net.0.proj": "img_mlp.0",
        "ff.net.2": "img_mlp.2",
        "ff_context.net.0.proj": "txt_mlp.0",
        "ff_context.net.2": "txt_mlp.2",
        "attn.to_out.0": "img_attn.proj",
        "attn.to_add_out": "txt_attn.proj",
    }
    single = {
        "norm.linear": "modulation.lin",
        "attn.norm_q": "norm.query_norm",
        "attn.norm_k": "norm.key_norm",
        "proj_out": "linear2",
    }
    out: Tensors = {}
    fused: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        module, _, leaf = key.rpartition(".")
        # RMSNorm weights are ``scale`` in the original code.
        norm_leaf = "scale" if "norm_" in module and "linear" not in module else leaf
        if module in top:
            swap = module == "norm_out.linear"
            out[f"{top[module]}.{leaf}"] = _shift_scale(value) if swap else value
        elif m := re.fullmatch(r"transformer_blocks\.(\d+)\.(.*)", module):
            i, inner = m[1], m[2]
            if p := re.fullmatch(r"attn\.(to|add)_([qkv])(?:_proj)?", inner):
                side = "img_attn" if p[1] == "to" else "txt_attn"
                fused.setdefault(f"double_blocks.{i}.{side}.qkv.{leaf}", {})[p[2]] = value
                continue
            out[f"double_blocks.{i}.{double[inner]}.{norm_leaf}"] = value
        elif m := re.fullmatch(r"single_transformer_blocks\.(\d+)\.(.*)", module):
            i, inner = m[1], m[2]
            if p := re.fullmatch(r"attn\.to_([qkv])|(proj_mlp)", inner):
                part = p[1] or "mlp"
                fused.setdefault(f"single_blocks.{i}.linear1.{leaf}", {})[part] = value
                continue
            out[f"single_blocks.{i}.{single[inner]}.{norm_leaf}"] = value
        else:
            raise KeyError(key)
    for key, parts in fused.items():
        order = ["q", "k", "v", "mlp"] if "linear1" in key else ["q", "k", "v"]
        out[key] = torch.cat([parts[p] for p in order])
    return out


def tiny_unet() -> Any:
    """A small diffusers UNet2DConditionModel: one cross-attention and one plain stage."""
    import diffusers

    return diffusers.UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        cross_attention_dim=32,
        attention_head_dim=8,
        norm_num_groups=8,
        sample_size=8,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
    )
