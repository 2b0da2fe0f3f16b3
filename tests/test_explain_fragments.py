"""Diagnosis from fragments: one tensor and two shapes, or names alone, reasoned about with
knowledge as an expert reading the message would (issue 11)."""

from __future__ import annotations

from pathlib import Path

import pytest

import weightfit
from explain_helpers import size_mismatch, top
from weightfit.diagnose import calibration


@pytest.mark.parametrize(
    ("pos", "grids"),
    [([1, 1370, 1024], [37, 16]), ([1, 577, 768], [24, 16])],
    ids=["518/14-vs-224/14", "384/16-vs-224/16"],
)
def test_position_table_gives_the_grid(pos: list[int], grids: list[int]) -> None:
    want = [1, grids[1] ** 2 + 1, pos[2]]
    finding = top(size_mismatch("pos_embed", pos, want))
    assert finding.category == "pos_embed_resize"
    tensor = finding.evidence["tensors"][0]
    assert (tensor["from_grid"][0], tensor["to_grid"][0]) == tuple(grids)


@pytest.mark.parametrize(
    ("name", "have", "want"),
    [
        ("embedding.weight", [20572, 300], [14613, 300]),  # a question vocabulary rebuilt
        ("encoder.embedding.weight", [75, 512], [70, 512]),  # a symbol set
        ("out.weight", [9687, 512], [9686, 512]),  # one token added to an output layer
    ],
)
def test_token_tables_are_vocabularies_never_heads(
    name: str, have: list[int], want: list[int]
) -> None:
    assert top(size_mismatch(name, have, want)).category == "vocab_resize"


def test_a_known_dataset_class_count_is_a_head() -> None:
    finding = top(size_mismatch("head.bias", [1000], [4]))
    assert finding.category == "num_classes"
    assert "ImageNet-1k" in finding.evidence["known_class_counts"]
    # sure (a known dataset's count), but no surer than the num_classes rule has earned
    # on the real dev texts
    assert 0.8 <= finding.confidence <= round(calibration.table()["num_classes"].cap, 2)


def test_a_class_worded_bias_alone_is_a_head_said_less_surely() -> None:
    finding = top(size_mismatch("classifier.bias", [3], [2]))
    assert (finding.category, finding.confidence) == ("num_classes", 0.6)
    # the same bias under a name that does not score classes stays a configuration change
    assert top(size_mismatch("synthesis.output6.bias", [1], [3])).category == "wrong_variant"


def test_a_module_loaded_on_its_own_names_its_parameters_bare() -> None:
    # A paste that broke the sentence after "from checkpoint,": the name still binds.
    text = size_mismatch("bias", [3], [2]).replace("checkpoint, the", "checkpoint,\nthe")
    finding = top(text)
    assert finding.params == ["bias"]
    # a bare layer of 3 outputs against 2, off the width tile: the classifier layer itself
    assert finding.category == "num_classes"
    assert (finding.evidence["checkpoint_classes"], finding.evidence["model_classes"]) == (3, 2)


def test_a_position_grid_of_another_patch_size_is_no_image_resize() -> None:
    text = "\n".join(
        [
            size_mismatch("embeddings.position_embeddings", [1, 1370, 384], [1, 1025, 384]),
            size_mismatch(
                "embeddings.patch_embeddings.projection.weight", [384, 3, 14, 14], [384, 3, 16, 16]
            ),
        ]
    )
    report = weightfit.explain(text)
    assert len(report.findings) == 1  # the patch kernel is the same cause
    tensor = report.findings[0].evidence["tensors"][0]
    assert (tensor["checkpoint_patch_size"], tensor["patch_size"], tensor["image_size"]) == (
        14,
        16,
        [518, 512],
    )
    assert not report.findings[0].fix  # resampling the grid leaves the kernel of another size


def test_detector_box_regression_follows_its_class_head() -> None:
    text = "\n".join(
        [
            size_mismatch("roi_heads.box_predictor.cls_score.weight", [81, 1024], [18, 1024]),
            size_mismatch("roi_heads.box_predictor.cls_score.bias", [81], [18]),
            size_mismatch("roi_heads.box_predictor.bbox_pred.weight", [320, 1024], [68, 1024]),
            size_mismatch("roi_heads.box_predictor.bbox_pred.bias", [320], [68]),
        ]
    )
    report = weightfit.explain(text)
    assert [f.category for f in report.findings] == ["num_classes"]
    assert len(report.findings[0].params) == 4


def test_inpainting_conv_in_is_latent_channels() -> None:
    finding = top(size_mismatch("conv_in.weight", [320, 9, 3, 3], [320, 4, 3, 3]))
    assert finding.category == "latent_channels"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ('unexpected key "module.features.conv0.weight" in state_dict', "prefix"),
        (
            'Missing key(s) in state_dict: "model.layers.0.self_attn.q_proj.qzeros", '
            '"model.layers.0.self_attn.q_proj.scales", ...',
            "quantization",
        ),
        (
            'Unexpected running stats buffer(s) "enc.model.0.norm.running_mean" and '
            '"enc.model.0.norm.running_var" for InstanceNorm2d with track_running_stats=False.',
            "version",
        ),
        (
            "model.layers.0.mlp.experts.0.gate_proj.weight | UNEXPECTED |\n"
            "model.layers.0.mlp.experts.0.up_proj.weight   | UNEXPECTED |\n"
            "model.layers.0.mlp.experts.gate_up_proj       | MISSING    |",
            "fused_split",
        ),
        ('Unexpected key(s) in state_dict: "state_dict".', "prefix"),
        (
            "You are using a model of type bert to instantiate a model of type llama. "
            "This is not supported for all configurations of models and can yield errors.",
            "unrelated",
        ),
        (
            "AttributeError: Can't get attribute 'C3k2' on <module 'ultralytics.nn.modules."
            "block'> while torch.load(weights)",
            "version",
        ),
        (
            "ValueError: You are trying to load a checkpoint from a folder containing more "
            "than one .index.json file: model.safetensors.index.json, "
            "pytorch_model.bin.index.json",
            "partitioned",
        ),
        (
            "lora key not loaded: lora_unet_down_blocks_0_attentions_0_proj_in.alpha\n"
            "lora key not loaded: lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight",
            "lora_mismatch",
        ),
        (
            "size mismatch for base.model.layers.0.mlp.down_proj.lora_A.default.weight: copying "
            "a param with shape torch.Size([0]) from checkpoint, the shape in current model is "
            "torch.Size([8, 14336]).",
            "partitioned",
        ),
        ("Restored from sd-v2.ckpt with 376 missing and 2 unexpected keys", "missing"),
        ("_pickle.UnpicklingError: invalid load key, 'v'.", "partitioned"),
        (
            "OSError: You seem to have cloned a repository without having git-lfs installed. "
            "Please install git-lfs and run `git lfs install` followed by `git lfs pull` in the "
            "folder you cloned.",
            "partitioned",
        ),
        (
            "ValueError: Tokenizer class LLaMATokenizer does not exist or is not currently "
            "imported.",
            "version",
        ),
        ("RuntimeError: Unknown model (vit_base_patch16_224_in21k)", "version"),
        ("RuntimeError: Cannot find callable dinov2_vitl14_reg in hubconf", "version"),
        (
            "OSError: Unable to open file (truncated file: eof = 21430272, sblock->base_addr = 0, "
            "stored_eof = 94765736)",
            "partitioned",
        ),
        (
            "Exception: data did not match any variant of untagged enum ModelWrapper at line "
            "1251003 column 3",
            "version",
        ),
        (
            "RuntimeError: Internal: src/sentencepiece_processor.cc(1101) "
            "[model_proto->ParseFromArray(serialized.data(), serialized.size())]",
            "partitioned",
        ),
        (
            "RuntimeError: Error(s) in loading state_dict for T5ForConditionalGeneration:\n"
            '\tMissing key(s) in state_dict: "encoder.embed_tokens.weight", '
            '"decoder.embed_tokens.weight", "lm_head.weight".',
            "tied_weights",
        ),
        (
            'ValueError: Layer #0 (named "conv2d") expects 2 weight(s), but the saved weights '
            "have 1 element(s).",
            "version",
        ),
        (
            "AssertionError: model_file D:\\Deep-Live-Cam\\models\\inswapper_128_fp16.onnx should "
            "exist",
            "partitioned",
        ),
        (
            "open file failed because of errno 2 on fopen: No such file or directory, file path: "
            "F:\\models\\sonic\\yoloface_v5m.pt",
            "partitioned",
        ),
    ],
    ids=[
        "wrapper",
        "quantized",
        "instance-norm",
        "fused",
        "nested",
        "model-types",
        "pickle",
        "two-indexes",
        "lora-keys",
        "zero3-empty",
        "counted",
        "lfs-pointer",
        "lfs-clone",
        "tokenizer-class",
        "timm-name",
        "hub-callable",
        "hdf5-truncated",
        "tokenizer-json-newer",
        "sentencepiece-unparsed",
        "tied-copies",
        "keras-layer-weights",
        "model-file-should-exist",
        "fopen-no-such-file",
    ],
)
def test_names_alone(text: str, category: str) -> None:
    assert top(text).category == category


def test_a_loading_error_no_rule_explains_is_unknown_with_what_was_read(
    run_cli, tmp_path: Path
) -> None:
    text = (
        "RuntimeError: Error(s) in loading state_dict for Net:\n"
        "\tsize mismatch for block.weird: copying a param with shape torch.Size([3]) from "
        "checkpoint (from ckpt.pth)"
    )
    report = weightfit.explain(text)
    finding = report.findings[0]
    assert finding.category == "unknown"
    assert finding.confidence < 0.5
    assert "weightfit check ckpt.pth --against" in finding.fix_note
    assert "ckpt.pth" in finding.evidence["files"]
    log = tmp_path / "log.txt"
    log.write_text(text)
    assert run_cli("explain", log).code == 1


def test_yolo_outputs_are_anchors_times_classes_plus_five() -> None:
    text = "\n".join(
        [
            size_mismatch("model.24.m.0.weight", [255, 128, 1, 1], [18, 128, 1, 1]),
            size_mismatch("model.24.m.0.bias", [255], [18]),
        ]
    )
    finding = top(text)
    assert finding.category == "num_classes"
    assert (finding.evidence["checkpoint_classes"], finding.evidence["model_classes"]) == (80, 1)


def test_a_first_convolution_for_grayscale_images_is_another_variant() -> None:
    """The network built for another image channel count: one setting, the same network."""
    finding = top(size_mismatch("conv1.weight", [64, 3, 7, 7], [64, 1, 7, 7]))
    assert finding.category == "wrong_variant"
    assert finding.evidence["checkpoint_channels"] == 3


@pytest.mark.parametrize(
    ("name", "have", "want"),
    [
        ("model.layers.0.self_attn.q_proj.weight", [8388608, 1], [4096, 4096]),  # bnb 4-bit
        ("model.layers.0.self_attn.q_proj.qweight", [4096, 512], [512, 4096]),  # AWQ vs GPTQ
        ("model.layers.0.mlp.down_proj.weight", [2048, 128], [2048, 1024]),  # 4-bit in int32
    ],
    ids=["bnb-4bit-bytes", "qweight-packing", "int4-words"],
)
def test_packed_storage_is_quantization(name: str, have: list[int], want: list[int]) -> None:
    assert top(size_mismatch(name, have, want)).category == "quantization"


def test_a_quantization_error_in_words_is_a_loading_error() -> None:
    text = (
        "ValueError: Supplied state dict for model.layers.0.mlp.down_proj.weight does not "
        "contain `bitsandbytes__*` and possibly other `quantized_stats` components."
    )
    assert top(text).category == "quantization"


def test_token_rows_split_exactly_are_a_tensor_parallel_shard() -> None:
    # No known vocabulary has 51476 rows, but no tokenizer loses exactly three quarters.
    finding = top(size_mismatch("transformer.wte.weight", [12869, 4096], [51476, 4096]))
    assert (finding.category, finding.evidence["tensor_parallel"]) == ("partitioned", 4)
    # a prefix encoder's 256 rows against 128 is its length setting, no shard
    assert (
        top(size_mismatch("prefix_encoder.embedding.weight", [256, 14336], [128, 14336])).category
        != "partitioned"
    )


def test_a_ggml_type_the_reader_does_not_know_is_a_newer_file() -> None:
    # llama.cpp before a quantization type (MXFP4 is 39) reading a file that uses it.
    text = "gguf_init_from_file_impl: tensor 'blk.0.attn_q.weight' has invalid ggml type 39 (NONE)"
    assert top(text).category == "version"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        (
            "OSError: ./model does not appear to have a file named "
            "pytorch_model-00002-of-00003.bin.",
            "partitioned",
        ),
        (
            "OSError: Error no file named diffusion_pytorch_model.fp16.safetensors found in "
            "directory ./unet.",
            "dtype_variant",
        ),
    ],
    ids=["missing-shard", "missing-variant-file"],
)
def test_errors_about_files(text: str, category: str) -> None:
    finding = top(text)
    assert finding.category == category
    assert finding.confidence <= 0.5


@pytest.mark.parametrize(
    ("text", "category"),
    [
        (
            "ValueError: There is no module or parameter named 'lm_head' in LlamaForCausalLM",
            "tied_weights",
        ),
        ('Missing key(s) in state_dict: "lm_head.weight".', "tied_weights"),
        (
            "ValueError: You are trying to load a weight file containing 13 layers into a "
            "model with 16 layers.",
            "wrong_variant",
        ),
    ],
    ids=["stored-head", "absent-head", "keras-layers"],
)
def test_heads_and_layer_counts(text: str, category: str) -> None:
    assert top(text).category == category


def test_a_webuis_unmatched_network_keys_are_leftover_names() -> None:
    text = (
        "Failed to match keys when loading network lora_v1: "
        "{'lora_te1_text_model_encoder_layers_0_mlp_fc1.alpha': "
        "'te1_text_model_encoder_layers_0_mlp_fc1'}"
    )
    finding = top(text)
    assert finding.category == "unexpected"
    assert "lora_te1_text_model_encoder_layers_0_mlp_fc1.alpha" in finding.params


@pytest.mark.parametrize(
    ("name", "have", "want", "category"),
    [
        ("conv_body_first.weight", [32, 3, 3, 3], [64, 3, 3, 3], "wrong_variant"),  # a stem
        ("lm_head.weight", [32, 768], [50, 768], "vocab_resize"),  # CTC's characters
    ],
    ids=["image-stem", "ctc-lm-head"],
)
def test_an_image_stem_and_an_lm_head_are_never_class_heads(
    name: str, have: list[int], want: list[int], category: str
) -> None:
    bias = name.rsplit(".", 1)[0] + ".bias"
    text = size_mismatch(name, have, want) + "\n" + size_mismatch(bias, have[:1], want[:1])
    assert top(text).category == category
