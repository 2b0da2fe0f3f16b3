"""``explain`` on what loaders other than plain torch and transformers print when a load fails.

The texts under ``tests/data/saved-by/<library>-<version>/`` were printed by the real
libraries (Lightning, mmengine, accelerate, diffusers, safetensors, huggingface_hub,
sentence-transformers, torch 2.13's weights-only unpickler) on failing loads whose cause
was set up by ``_scripts/loader_failures.py`` (see each folder's ``SOURCE.md``).
"""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest
import torch
from torch import nn

import weightfit

SAVED_BY = Path(__file__).parent / "data" / "saved-by"

READINGS = {
    "lightning-2.6.6/lit_head.txt": "num_classes",
    "lightning-2.6.6/lit_width.txt": "wrong_variant",
    "lightning-2.6.6/lit_wrapped.txt": "prefix",
    "lightning-2.6.6/lit_compiled.txt": "prefix",
    "mmengine-0.10.7/mm_classes.txt": "num_classes",
    "mmengine-0.10.7/mm_classes_strict.txt": "num_classes",
    "mmengine-0.10.7/mm_prefix.txt": "prefix",
    "mmengine-0.10.7/mm_width.txt": "wrong_variant",
    "mmengine-0.10.7/mm_ema.txt": "prefix",
    "mmengine-0.10.7/mm_meta_global.txt": "version",
    "accelerate-1.16.0/acc_dispatch_width.txt": "wrong_variant",
    "accelerate-1.16.0/acc_missing_meta.txt": "wrong_variant",
    "accelerate-1.16.0/acc_wrong_folder.txt": "partitioned",
    "accelerate-1.16.0/acc_missing_shard.txt": "partitioned",
    "accelerate-1.16.0/acc_ddp_prefix.txt": "prefix",
    "safetensors-0.8.0/st_truncated.txt": "partitioned",
    "safetensors-0.8.0/st_truncated_header.txt": "partitioned",
    "safetensors-0.8.0/st_lfs.txt": "partitioned",
    "safetensors-0.8.0/st_html.txt": "partitioned",
    "safetensors-0.8.0/st_empty.txt": "partitioned",
    "safetensors-0.8.0/st_bad_offsets.txt": "partitioned",
    "safetensors-0.8.0/st_shared.txt": "tied_weights",
    "huggingface_hub-2.5.0/hub_offline.txt": "partitioned",
    "huggingface_hub-2.5.0/hub_offline_tf.txt": "partitioned",
    "huggingface_hub-2.5.0/hub_offline_diffusers.txt": "partitioned",
    "huggingface_hub-2.5.0/hub_partial_cache.txt": "partitioned",
    "torch-2.13.0/tl_namespace.txt": "version",
    "torch-2.13.0/tl_numpy_scalar.txt": "version",
    "torch-2.13.0/tl_numpy_array.txt": "version",
    "torch-2.13.0/tl_numpy_dtype.txt": "version",
    "torch-2.13.0/tl_user_class.txt": "version",
    "torch-2.13.0/tl_path.txt": "version",
    "torch-2.13.0/tl_datetime.txt": "version",
    "torch-2.13.0/tl_enum.txt": "version",
    "torch-2.13.0/tl_explicit.txt": "version",
    "torch-2.13.0/tl_whole_module.txt": "version",
    "sentence-transformers-6.3.0/sbert_layers.txt": "wrong_variant",
    "sentence-transformers-6.3.0/sbert_hidden.txt": "wrong_variant",
    "sentence-transformers-6.3.0/sbert_dense_missing.txt": "partitioned",
    "diffusers-0.42.1/df_cross.txt": "encoder_swap",
    "diffusers-0.42.1/df_cross_nolow.txt": "encoder_swap",
    "diffusers-0.42.1/df_ignore_low.txt": "encoder_swap",
    "diffusers-0.42.1/df_inchannels.txt": "latent_channels",
    "diffusers-0.42.1/df_layers.txt": "wrong_variant",
    "diffusers-0.42.1/df_layers_nolow.txt": "wrong_variant",
    "diffusers-0.42.1/df_layers_more.txt": "wrong_variant",
    "diffusers-0.42.1/df_noweights.txt": "partitioned",
    "diffusers-0.42.1/df_lora_other.txt": "lora_mismatch",
    "diffusers-0.42.1/df_lora_keys.txt": "lora_mismatch",
    "diffusers-0.42.1/df_lora_kohya.txt": "lora_mismatch",
}
"""Each text whose cause the text itself supports, and that cause's category."""


@pytest.mark.parametrize("name", sorted(READINGS))
def test_a_live_loaders_text_reads_as_its_cause(name: str) -> None:
    top = weightfit.explain((SAVED_BY / name).read_text()).findings[0]
    assert top.category == READINGS[name]


@pytest.mark.parametrize(
    ("name", "file"),
    [
        ("huggingface_hub-2.5.0/hub_offline.txt", "model.safetensors"),
        ("huggingface_hub-2.5.0/hub_partial_cache.txt", "pytorch_model.bin"),
        ("sentence-transformers-6.3.0/sbert_dense_missing.txt", "model.safetensors"),
        ("huggingface_hub-2.5.0/hub_offline_tf.txt", "the Hugging Face cache (read offline)"),
    ],
)
def test_a_weights_file_a_loader_or_an_offline_cache_lacks_is_named(name: str, file: str) -> None:
    top = weightfit.explain((SAVED_BY / name).read_text()).findings[0]
    assert (top.category, top.evidence["file"]) == ("partitioned", file)


def test_a_submodule_compiled_alone_is_a_wrapper_prefix() -> None:
    # torch.compile on one part writes ``encoder._orig_mod.``: a wrapper, not a renaming.
    top = weightfit.explain((SAVED_BY / "lightning-2.6.6/lit_compiled.txt").read_text()).findings[0]
    assert (top.evidence["strip"], top.evidence["add"]) == ("encoder._orig_mod.", "encoder.")
    assert top.evidence["wrapper"] == "torch.compile (OptimizedModule)"


def test_a_submodule_compiled_alone_live() -> None:
    class Net(nn.Module):
        def __init__(self, compiled: bool) -> None:
            super().__init__()
            encoder = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
            self.encoder = torch.compile(encoder) if compiled else encoder
            self.head = nn.Linear(4, 2)

    try:
        Net(compiled=False).load_state_dict(Net(compiled=True).state_dict())
    except RuntimeError:
        text = traceback.format_exc()
    assert '"encoder._orig_mod.0.weight"' in text
    assert weightfit.explain(text).findings[0].category == "prefix"


def test_accelerate_s_unused_names_with_the_model_left_on_meta_are_a_prefix() -> None:
    # accelerate says transformers' "were not used when initializing" and lists no missing
    # name; the meta tensor it leaves behind says the model's own names did not load.
    text = (SAVED_BY / "accelerate-1.16.0/acc_ddp_prefix.txt").read_text()
    top = weightfit.explain(text).findings[0]
    assert (top.category, top.evidence["segment"]) == ("prefix", "module.")


def mlp(depth: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Linear(8, 8), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(8, 2))


def test_a_shallower_checkpoint_s_head_on_a_hidden_layer_is_no_class_count() -> None:
    # The checkpoint's head (2.weight [2, 8]) sits where the model has a hidden layer: the
    # model's 4.weight is missing, so its 2.weight is no terminal head.
    try:
        mlp(2).load_state_dict(mlp(1).state_dict())
    except RuntimeError:
        text = traceback.format_exc()
    assert 'Missing key(s) in state_dict: "4.weight", "4.bias"' in text
    findings = weightfit.explain(text).findings
    assert findings[0].category == "wrong_variant"
    assert "num_classes" not in {f.category for f in findings}


def test_a_head_with_no_layer_after_it_stays_a_class_count() -> None:
    # Must not fire: the same Sequential, its last layer sized for other labels.
    model = mlp(1)
    model[2] = nn.Linear(8, 10)
    try:
        mlp(1).load_state_dict(model.state_dict())
    except RuntimeError:
        text = traceback.format_exc()
    assert weightfit.explain(text).findings[0].category == "num_classes"


def test_a_vae_loaded_as_a_unet_names_no_prefix() -> None:
    # diffusers loads the VAE folder into the UNet with warnings only; the VAE's encoder.*
    # and decoder.* both fit the UNet's names with their top segment stripped.
    text = (SAVED_BY / "diffusers-0.42.1/df_wrong_class.txt").read_text()
    assert "newly initialized" in text
    assert "prefix" not in {f.category for f in weightfit.explain(text).findings}


def test_two_copies_of_one_network_keep_their_prefix(tmp_path: Path) -> None:
    # Must not fire: generator. beside generator_ema. land on the same names.
    from safetensors.torch import save_file

    net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    state = net.state_dict()
    save_file(
        {
            f"{top}.{k}": v.clone()
            for top in ("generator", "generator_ema")
            for k, v in state.items()
        },
        tmp_path / "gan.safetensors",
    )
    save_file(state, tmp_path / "net.safetensors")
    report = weightfit.check(tmp_path / "gan.safetensors", tmp_path / "net.safetensors")
    prefixes = report.by_category("prefix")
    assert prefixes and prefixes[0].evidence["strip"] == "generator."
