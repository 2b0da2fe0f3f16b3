"""Root causes from fragments (issue 11): general mechanisms that reason from the structure of
what a text lists and from knowledge tables, each checked on inputs built from general
knowledge (known vocabularies, latent channels, layer stacks), never one pasted text."""

from __future__ import annotations

import pytest

import explain_helpers
import weightfit
from explain_helpers import top

HEADER = "RuntimeError: Error(s) in loading state_dict for Model:\n"


def size_mismatch(name: str, have: list[int], want: list[int]) -> str:
    """One line of the list under ``HEADER``: tab-indented, newline-ended."""
    return f"\t{explain_helpers.size_mismatch(name, have, want)}\n"


@pytest.mark.parametrize(
    ("name", "have", "want"),
    [
        ("embeddings.word_embeddings.weight", [50265, 768], [30522, 768]),  # RoBERTa vs BERT
        ("model.embed_tokens.weight", [32000, 4096], [128256, 4096]),  # Llama 2 vs Llama 3
        ("transformer.wte.weight", [50257, 768], [151936, 768]),  # GPT-2 vs Qwen2.5
    ],
)
def test_two_known_vocabularies_of_different_tokenizers_are_another_model(
    name: str, have: list[int], want: list[int]
) -> None:
    finding = top(HEADER + size_mismatch(name, have, want))
    assert finding.category == "wrong_variant"
    assert finding.evidence["checkpoint_vocabulary"] and finding.evidence["model_vocabulary"]


@pytest.mark.parametrize(
    ("have", "want"),
    [
        ([32000, 4096], [32001, 4096]),  # a pad token added to Llama 2
        ([151665, 3584], [151936, 3584]),  # Qwen2.5's tokenizer against its padded config
    ],
)
def test_tokens_added_to_one_vocabulary_stay_a_resize(have: list[int], want: list[int]) -> None:
    assert top(HEADER + size_mismatch("model.embed_tokens.weight", have, want)).category == (
        "vocab_resize"
    )


def key_list(cue: str, names: list[str]) -> str:
    return f"\t{cue} key(s) in state_dict: " + ", ".join(f'"{n}"' for n in names) + ".\n"


def layers(template: str, indices: range) -> list[str]:
    return [template.format(i) for i in indices]


@pytest.mark.parametrize("cue", ["Unexpected", "Missing"])
def test_layers_past_the_other_sides_depth_are_another_depth_not_a_wrapper_prefix(
    cue: str,
) -> None:
    # BERT-large's layers 12-23 beside BERT-base: their leading 'encoder.' is no wrapper (a
    # wrapper renames layer 0 too), and their 'attention.self.query' is no diffusers rename.
    names = layers("encoder.layer.{}.attention.self.query.weight", range(12, 24)) + layers(
        "encoder.layer.{}.output.dense.weight", range(12, 24)
    )
    finding = top(HEADER + key_list(cue, names))
    assert finding.category == "wrong_variant"
    assert (finding.evidence["first"], finding.evidence["last"]) == (12, 23)


def test_a_wrapper_prefix_from_one_side_still_reads_from_layer_zero() -> None:
    # A pasted fragment: the unexpected list alone. A whole PyTorch message that opens on
    # its unexpected keys had none missing: no prefix, unless the wrapped names open at the
    # network's first layer (then nothing of the model loaded and the paste cut the list).
    names = ["module.conv1.weight", *layers("module.layer1.{}.conv1.weight", range(3))]
    assert top(key_list("Unexpected", names)).category == "prefix"
    assert top(HEADER + key_list("Unexpected", names)).category == "prefix"
    deeper = layers("module.layer1.{}.conv1.weight", range(3))
    assert top(HEADER + key_list("Unexpected", deeper)).category != "prefix"


@pytest.mark.parametrize(
    ("name", "have", "want"),
    [
        ("post_quant_conv.weight", [16, 16, 1, 1], [4, 4, 1, 1]),  # SD 3 / Flux VAE vs SD 1.x
        ("first_stage_model.quant_conv.weight", [32, 32, 1, 1], [8, 8, 1, 1]),  # 2c: mean, logvar
        ("vae.encoder.conv_out.weight", [32, 512, 3, 3], [8, 512, 3, 3]),
    ],
)
def test_an_autoencoders_latent_layers_name_its_latent_space(
    name: str, have: list[int], want: list[int]
) -> None:
    finding = top(HEADER + size_mismatch(name, have, want))
    assert finding.category == "latent_channels"
    assert (finding.evidence["checkpoint_channels"], finding.evidence["model_channels"]) == (16, 4)


def test_an_autoencoder_of_another_width_is_not_another_latent_space() -> None:
    # Same 4 latents, another width: the latent axis agrees, the rule stays silent.
    text = HEADER + size_mismatch("decoder.conv_in.weight", [512, 4, 3, 3], [256, 4, 3, 3])
    assert all(f.category != "latent_channels" for f in weightfit.explain(text).findings)


RESNET_START = ["conv1.weight", "bn1.weight", "bn1.bias", "layer1.0.conv1.weight", "fc.weight"]
"""A ResNet listed from its beginning: stem modules and the first layer of its first stage."""


@pytest.mark.parametrize(
    "unexpected",
    [
        [  # a transformer's encoder and decoder
            "encoder.layers.0.self_attn.in_proj_weight",
            "encoder.layers.0.linear1.weight",
            "decoder.embed_tokens.weight",
            "decoder.layers.0.fc1.weight",
        ],
        [  # GPT-2 from its first block
            "transformer.wte.weight",
            "transformer.wpe.weight",
            "transformer.h.0.attn.c_attn.weight",
            "transformer.h.0.mlp.c_fc.weight",
            "lm_head.weight",
        ],
    ],
    ids=["resnet-vs-seq2seq", "resnet-vs-gpt2"],
)
def test_two_model_beginnings_sharing_no_module_words_are_unrelated(
    unexpected: list[str],
) -> None:
    text = HEADER + key_list("Missing", RESNET_START) + key_list("Unexpected", unexpected)
    assert top(text).category == "unrelated"


def test_two_heads_around_one_backbone_are_not_unrelated() -> None:
    # DistilBERT's classification head against its masked-LM head: no stack, no beginning.
    missing = ["classifier.weight", "classifier.bias", "pre_classifier.weight"]
    unexpected = ["vocab_transform.weight", "vocab_layer_norm.weight", "vocab_projector.weight"]
    text = HEADER + key_list("Missing", [*missing, "pre_classifier.bias"])
    text += key_list("Unexpected", [*unexpected, "vocab_projector.bias"])
    assert all(f.category != "unrelated" for f in weightfit.explain(text).findings)


def test_a_rule_seen_on_one_or_two_dev_texts_claims_no_more_than_an_unmeasured_one() -> None:
    from weightfit.diagnose.calibration import UNMEASURED, Measured

    assert Measured(1, 1).cap <= UNMEASURED and Measured(2, 2).cap <= UNMEASURED
    assert Measured(1, 0).cap < Measured(1, 1).cap
    # A first miss moves the cap from the unmeasured one no further than two texts' prior.
    assert abs(Measured(1, 0).cap - 0.3) < 1e-9 and Measured(2, 0).cap > 0.2
    # Past the first texts, a lower bound of the precision: more evidence earns more.
    caps = [Measured(n, n).cap for n in (3, 5, 10, 30)]
    assert caps == sorted(caps) and 0.5 < caps[0] < 0.7 and caps[-1] < 0.97
    assert Measured(16, 13).cap < 0.7  # 81 % right on dev is not 0.8 earned


@pytest.mark.parametrize(
    ("leaves", "scheme"),
    [
        (["q_weight", "q_scale", "q_invperm", "q_groups"], "exl2"),
        (["weight_packed", "weight_scale", "weight_shape"], "compressed-tensors"),
        # A float model has its own q_proj.weight: only MLX's scales and biases are extra.
        (["scales", "biases"], "MLX"),
        # nunchaku's SVDQuant layers (nunchaku/models/linear.py), HQQ's HQQLinear and
        # optimum-quanto's weight tensors, as their state dicts name them.
        (["qweight", "wscales", "smooth_factor", "proj_down"], "nunchaku"),
        (["W_q", "scale", "zero"], "HQQ"),
        (["weight._data", "weight._scale", "input_scale"], "quanto"),
    ],
)
def test_quantized_leaves_name_their_scheme(leaves: list[str], scheme: str) -> None:
    names = [f"model.layers.0.self_attn.q_proj.{leaf}" for leaf in leaves]
    finding = top(HEADER + key_list("Unexpected", names))
    assert finding.category == "quantization"
    assert scheme in finding.evidence["scheme"]


def test_each_stages_last_blocks_on_one_side_are_another_depth() -> None:
    # ResNet-34 (3, 4, 6, 3 blocks) against ResNet-18 (2 per stage): each stage's tail.
    names = ["layer1.2.conv1.weight", "layer1.2.bn1.weight", "layer4.2.conv1.weight"]
    names += layers("layer2.{}.conv1.weight", range(2, 4))
    names += layers("layer3.{}.conv1.weight", range(2, 6))
    finding = top(HEADER + key_list("Missing", names))
    assert finding.category == "wrong_variant"
    assert finding.evidence["stacks"] == {
        "layer1": [2, 2],
        "layer4": [2, 2],
        "layer2": [2, 3],
        "layer3": [2, 5],
    }


def test_rows_inside_repeated_layers_are_widths_not_classes() -> None:
    # blocks.0.mlp.fc1: 'fc' names an MLP here, not a head; its rows are the MLP width.
    text = HEADER + size_mismatch("blocks.0.mlp.fc1.weight", [3072, 768], [4096, 768])
    assert top(text).category == "wrong_variant"


GGUF_LOADER = 'File "/ComfyUI/custom_nodes/ComfyUI-GGUF/loader.py", line 90, in load\n'


@pytest.mark.parametrize(
    ("stored", "kind"),
    [(1728, "Q4_K"), (3264, "Q8_0"), (2520, "Q6_K")],  # 3072 values as GGML blocks of bytes
)
def test_rows_stored_as_ggml_blocks_are_quantized(stored: int, kind: str) -> None:
    name = "double_blocks.0.img_attn.qkv.weight"
    finding = top(GGUF_LOADER + HEADER + size_mismatch(name, [9216, stored], [9216, 3072]))
    assert finding.category == "quantization"
    assert kind in finding.evidence["ggml_types"]


def test_a_block_ratio_without_quantization_words_is_not_read_as_packing() -> None:
    text = HEADER + size_mismatch("double_blocks.0.img_attn.qkv.weight", [9216, 1728], [9216, 3072])
    assert top(text).category != "quantization"


def test_a_sequential_classifier_inside_numbered_modules_is_still_a_head() -> None:
    # torchvision's DeepLabV3: classifier.4 is the last conv of a Sequential head (VOC 21).
    text = HEADER + size_mismatch("classifier.4.weight", [21, 256, 1, 1], [2, 256, 1, 1])
    text += size_mismatch("classifier.4.bias", [21], [2])
    assert top(text).category == "num_classes"


def test_kernels_holding_the_same_axes_in_another_order_are_a_layout_change() -> None:
    # spconv 1.x writes [kD, kH, kW, in, out], 2.x reads [out, kD, kH, kW, in].
    text = HEADER + size_mismatch("net.conv0.0.weight", [3, 3, 3, 16, 16], [16, 3, 3, 3, 16])
    text += size_mismatch("net.down0.0.weight", [3, 3, 3, 16, 32], [32, 3, 3, 3, 16])
    finding = top(text)
    assert finding.category == "transpose"
    # The 16 → 32 kernel settles where out and in go; the square one alone could not.
    assert finding.evidence["likely_permutation"] == [4, 0, 1, 2, 3]


def test_a_video_patch_embedding_reading_twice_the_latents_is_latent_channels() -> None:
    # HunyuanVideo image-to-video: 16 video latents + 16 image-conditioning latents.
    text = HEADER + size_mismatch("img_in.proj.weight", [3072, 32, 1, 2, 2], [3072, 16, 1, 2, 2])
    assert top(text).category == "latent_channels"


def test_a_learned_token_whose_shapes_were_lost_is_no_vocabulary() -> None:
    # The shapes are mistyped past reading; the name alone says a ViT's class token.
    text = (
        "size mismatch for cls_token:copying a param with shape torch.Size([1,1,192)] from "
        "check point, the shape in current model is torch.Size([1,1,768])."
    )
    assert top(text).category == "wrong_variant"


def test_hundreds_of_rows_on_a_layer_no_name_ties_to_tokens_are_not_a_vocabulary() -> None:
    # LightCNN variants: 80013 against 79077 face identities on fc2.
    # More rows than any label set holds, and no known dataset's: another configuration.
    text = HEADER + size_mismatch("module.fc2.weight", [80013, 256], [79077, 256])
    assert top(text).category == "wrong_variant"
    # A token or two on the same unnamed layer still read as tokens added.
    text = HEADER + size_mismatch("out.weight", [9687, 512], [9686, 512])
    assert top(text).category == "vocab_resize"


def test_one_numbered_module_missing_is_no_depth() -> None:
    # A stop-token predictor (decoder.stopnet = Sequential(Dropout, Linear)) added later.
    text = HEADER + key_list("Missing", ["decoder.stopnet.1.weight", "decoder.stopnet.1.bias"])
    assert top(text).category != "wrong_variant"


def test_one_extra_layer_holding_modules_of_its_own_is_another_depth() -> None:
    names = ["encoder.layers.2.self_attn.q_proj.weight", "encoder.layers.2.fc1.weight"]
    assert top(HEADER + key_list("Unexpected", names)).category == "wrong_variant"


def test_training_metadata_at_the_top_level_means_the_weights_are_nested() -> None:
    # PyTorch 0.3's message for a whole training checkpoint passed as a state dict.
    text = "model.load_state_dict(torch.load('model_best.pth'))\n"
    text += "KeyError: 'unexpected key \"epoch\" in state_dict'"
    assert top(text).category == "prefix"


@pytest.mark.parametrize(("key", "category"), [("arch", "missing"), ("params", "prefix")])
def test_a_key_error_on_metadata_is_a_missing_entry_on_a_container_a_nesting(
    key: str, category: str
) -> None:
    text = f"G = obj_factory(checkpoint['{key}']).to(device)\nKeyError: '{key}'"
    assert top(text).category == category


def test_a_composite_models_own_part_is_not_another_model() -> None:
    text = (
        "You are using a model of type clip to instantiate a model of type clip_text_model. "
        "This is not supported for all configurations of models and can yield errors.\n"
    )
    text += HEADER + size_mismatch("text_model.final_layer_norm.weight", [768], [512])
    assert all(f.category != "unrelated" for f in weightfit.explain(text).findings)


@pytest.mark.parametrize(
    ("cls", "attribute", "version"),
    [("Upsample", "recompute_scale_factor", "1.11.0"), ("Conv2d", "padding_mode", "1.1.0")],
)
def test_a_module_pickled_before_its_class_gained_an_attribute_is_a_version_matter(
    cls: str, attribute: str, version: str
) -> None:
    text = (
        '  File "/usr/lib/python3.9/site-packages/torch/nn/modules/module.py", line 1185, in '
        f"__getattr__\nAttributeError: '{cls}' object has no attribute '{attribute}'"
    )
    finding = top(text)
    assert finding.category == "version"
    assert version in finding.message


def test_an_attribute_no_known_change_added_is_no_loading_error() -> None:
    text = "AttributeError: 'NoneType' object has no attribute 'shape'"
    with pytest.raises(weightfit.errors.NoLoadingErrorFound):
        weightfit.explain(text)


@pytest.mark.parametrize(
    ("names", "category"),
    [
        (["model_ema.conv1.weight", "model_ema.fc.weight"], "extra_state"),
        (
            ["lora_unet_down_blocks_0.lora_up.weight", "lora_unet_down_blocks_0.alpha"],
            "lora_mismatch",
        ),
    ],
)
def test_leftovers_that_all_carry_one_origin_marker_name_their_origin(
    names: list[str], category: str
) -> None:
    assert top(HEADER + key_list("Unexpected", names)).category == category


def test_leftovers_of_mixed_origin_are_not_read_by_one_marker() -> None:
    names = ["model_ema.conv1.weight", "lora_unet_down_blocks_0.alpha", "fc.weight"]
    findings = weightfit.explain(HEADER + key_list("Unexpected", names)).findings
    assert "lora_mismatch" not in {f.category for f in findings}
    # The EMA name alone is still read as such, by the per-name rule, never the LoRA key.
    extra = [p for f in findings if f.category == "extra_state" for p in f.params]
    assert not any(p.startswith("lora_unet") for p in extra)


@pytest.mark.parametrize(
    "text",
    [
        "Failed loading checkpoint from /data/vssm_tiny.pth: shape '[96, 96]' is invalid for "
        "input of size 18432",
        "    conv_weights = conv_weights.view_as(conv.weight.data)\nRuntimeError: invalid "
        "argument 2: size '[512 x 256 x 3 x 3]' is invalid for input with 209204 elements",
    ],
    ids=["checkpoint-words", "th-storage-era"],
)
def test_a_checkpoints_own_weight_that_cannot_take_its_layers_shape_is_another_configuration(
    text: str,
) -> None:
    assert top(text).category == "wrong_variant"


def test_a_reshape_error_among_lora_words_stays_an_adapter_for_another_base() -> None:
    text = (
        "Error loading LoRA my_lora.safetensors: shape '[320, 768]' is invalid for input of "
        "size 655360"
    )
    assert top(text).category == "lora_mismatch"


def test_an_inpainting_pipeline_feeding_a_plain_unet_is_latent_channels() -> None:
    # diffusers' StableDiffusionInpaintPipeline check, as it prints it.
    text = (
        "ValueError: Incorrect configuration settings! The config of `pipeline.unet`: "
        "FrozenDict([...]) expects 4 but received `num_channels_latents`: 4 + "
        "`num_channels_mask`: 1 + `num_channels_masked_image`: 4 = 9. Please verify the config "
        "of `pipeline.unet` or your `mask_image` or `image` input."
    )
    finding = top(text)
    assert finding.category == "latent_channels"
    assert (finding.evidence["unet_in_channels"], finding.evidence["fed_channels"]) == (4, 9)


def test_a_tensorflow_restore_is_read_in_pytorchs_layout() -> None:
    # TF 1.x Saver.restore: lhs is the graph's variable, rhs the checkpoint's value; a dense
    # kernel is [in, out], read as [out, in] so the head's rows are its classes.
    text = (
        "InvalidArgumentError: Assign requires shapes of both tensors to match. lhs shape= "
        '[1024,10] rhs shape= [1024,1000]\n\t [[Node: save/Assign_5 = Assign[_class=["loc:@'
        'logits/weights"], use_locking=true](logits/weights, save/RestoreV2_5)]]'
    )
    finding = top(text)
    assert finding.category == "num_classes"
    assert (finding.evidence["checkpoint_classes"], finding.evidence["model_classes"]) == (
        1000,
        10,
    )


def test_a_keras_kernel_for_other_image_channels_is_read_in_pytorchs_layout() -> None:
    text = (
        "ValueError: Layer weight shape (3, 3, 1, 32) not compatible with provided weight "
        "shape (3, 3, 3, 32)"
    )
    finding = top(text)
    assert finding.category == "wrong_variant"
    assert (finding.evidence["checkpoint_channels"], finding.evidence["model_channels"]) == (3, 1)


def test_a_keras_hdf5_load_on_tensorflow_1_is_a_loading_error() -> None:
    text = (
        "ValueError: Dimension 0 in both shapes must be equal, but are 3 and 64 for 'Assign' "
        "(op: 'Assign') with input shapes: [3,3,3,64], [3,3,3,32]."
    )
    finding = top(text)  # the 64 filters against the file's 32: another width, not unknown
    assert finding.category == "wrong_variant"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        (
            "ValueError: The checkpoint you are trying to load has model type `qwen3` but "
            "Transformers does not recognize this architecture. This could be because of an "
            "issue with the checkpoint, or because your version of Transformers is out of date.",
            "qwen3",
        ),
        (
            "llama_model_load: error loading model: error loading model architecture: unknown "
            "model architecture: 'gemma3'",
            "gemma3",
        ),
        (
            '    config_class = CONFIG_MAPPING[config_dict["model_type"]]\n'
            '  File "configuration_auto.py", line 734, in __getitem__\n'
            "    raise KeyError(key)\nKeyError: 'mistral'",
            "mistral",
        ),
    ],
    ids=["transformers", "llama.cpp", "config-mapping"],
)
def test_a_loader_that_does_not_know_the_architecture_is_older_than_the_model(
    text: str, name: str
) -> None:
    finding = top(text)
    assert finding.category == "version"
    assert finding.evidence["architecture"] == name


def test_a_web_page_saved_as_the_checkpoint_is_a_download_that_never_brought_the_file() -> None:
    assert top("_pickle.UnpicklingError: invalid load key, '<'.").category == "partitioned"


def test_an_empty_file_read_by_torch_load_is_a_loading_error() -> None:
    text = (
        '  File "/usr/lib/python3/torch/serialization.py", line 1040, in _legacy_load\n'
        "    magic_number = pickle_module.load(f, **pickle_load_args)\nEOFError: Ran out of input"
    )
    assert top(text).category == "partitioned"


def test_an_embedding_tables_rows_are_never_read_as_anchors_times_classes() -> None:
    # 300 = 3 × 100 would be three anchors of CIFAR-100; a caption table's rows are tokens.
    text = HEADER + size_mismatch("y_embedder.y_embedding", [300, 4096], [120, 4096])
    assert all("anchors" not in f.evidence for f in weightfit.explain(text).findings)
    # Nor as a label set: 300 and 120 (+1 for a null class) are no known dataset's classes.
    assert top(text).category == "wrong_variant"
    # The same rows on a YOLO head's 1x1 conv still read as a detector's classes.
    text = HEADER + size_mismatch("model.24.m.0.weight", [255, 128, 1, 1], [18, 128, 1, 1])
    finding = top(text)
    assert finding.category == "num_classes" and finding.evidence["anchors"] == 3


def test_a_class_label_table_of_a_known_label_set_is_still_a_class_count() -> None:
    # DiT: ImageNet's 1000 classes + 1 null class for classifier-free guidance.
    text = HEADER + size_mismatch("y_embedder.embedding_table.weight", [1001, 1152], [11, 1152])
    assert top(text).category == "num_classes"


def test_half_a_known_vocabulary_is_one_rank_of_a_tensor_parallel_save() -> None:
    text = (
        'ValueError: Trying to set a tensor of shape torch.Size([16000, 5120]) in "weight" '
        "(which has shape torch.Size([32000, 5120])), this looks incorrect."
    )
    finding = top(text)
    assert finding.category == "partitioned"
    assert finding.evidence["tensor_parallel"] == 2


def test_llama_cpp_shapes_are_read_in_pytorchs_order() -> None:
    # GGML lists axes innermost first and pads them to four.
    text = (
        "llama_model_load: error loading model: tensor 'token_embd.weight' has wrong shape; "
        "expected  4096, 32001, got  4096, 32000,     1,     1"
    )
    finding = top(text)
    assert finding.category == "vocab_resize"


def test_convert_py_vocabulary_sizes_that_meet_are_tokens_added() -> None:
    text = (
        "Exception: Vocab size mismatch (model has 32000, but models/7B/tokenizer.model has 32001)"
    )
    assert top(text).category == "vocab_resize"


def test_a_fused_experts_quantization_scale_is_a_quantized_name() -> None:
    text = (
        "    param = params_dict[full_param_name]\n"
        "KeyError: 'layers.1.feed_forward.experts.w2_weight_input_scale'"
    )
    finding = top(text)
    assert finding.category == "quantization"
    assert finding.evidence["scheme"] == "fp8"


@pytest.mark.parametrize(
    ("have", "want", "grids", "prefixes"),
    [
        ([1, 785, 768], [1, 578, 768], ([28, 28], [24, 24]), (1, 2)),  # 448/16 vs DeiT 384/16
        ([1, 198, 768], [1, 197, 768], ([14, 14], [14, 14]), (2, 1)),  # a pretext token added
    ],
)
def test_a_position_grid_with_its_own_prefix_tokens_on_each_side(
    have: list[int], want: list[int], grids: tuple[list[int], list[int]], prefixes: tuple[int, int]
) -> None:
    finding = top(HEADER + size_mismatch("pos_embed", have, want))
    assert finding.category == "pos_embed_resize"
    tensor = finding.evidence["tensors"][0]
    assert (tensor["from_grid"], tensor["to_grid"]) == grids
    assert (tensor["prefix_tokens"], tensor["model_prefix_tokens"]) == prefixes
    assert not finding.fix  # resampling keeps one prefix count: no exact repair


def test_a_lora_error_no_rule_explains_is_read_as_an_adapter_for_another_base() -> None:
    text = (
        '  File "extensions-builtin/Lora/lora.py", line 176, in load_lora\n'
        "    module.weight.copy_(weight)\n"
        "RuntimeError: output with shape [8, 320, 1, 1] doesn't match the broadcast shape "
        "[8, 320, 8, 320]"
    )
    finding = top(text)
    assert finding.category == "lora_mismatch"
    assert finding.confidence < 0.5  # the words say what the file is, not what differs


def test_a_keras_embedding_keeps_its_rows_as_the_vocabulary() -> None:
    # Keras 2 load_weights; an embedding is [vocabulary, width] in TensorFlow as in PyTorch.
    text = (
        'ValueError: Layer #1 (named "embedding"), weight <tf.Variable '
        "'embedding_4/embeddings:0' shape=(209, 100) dtype=float32_ref> has shape (209, 100), "
        "but the saved weight has shape (465, 100)."
    )
    assert top(text).category == "vocab_resize"


def test_whole_prompts_of_another_encoders_width_are_an_encoder_swap() -> None:
    # 308 = 4 prompts of 77 CLIP tokens, 2048 wide (SDXL), into SD 1.x's 768-wide attn2.
    text = (
        'File "ComfyUI/comfy/ldm/modules/attention.py", line 336, in forward\n'
        "RuntimeError: mat1 and mat2 shapes cannot be multiplied (308x2048 and 768x320)"
    )
    finding = top(text)
    assert finding.category == "encoder_swap"
    assert (finding.evidence["fed_width"], finding.evidence["read_width"]) == (2048, 768)


def test_a_matrix_product_of_other_rows_says_nothing_of_a_text_encoder() -> None:
    text = "RuntimeError: mat1 and mat2 shapes cannot be multiplied (64x2048 and 768x320)"
    try:
        categories = {f.category for f in weightfit.explain(text).findings}
    except weightfit.errors.NoLoadingErrorFound:
        categories = set()
    assert "encoder_swap" not in categories
