"""What the tolerant extractor reads from real pastes, one test per mechanism.

Every text is a verbatim paste from a public thread (``tests/data/errors-real/<id>.txt``,
its source URL and settled cause in ``<id>.yaml``); only ``split: dev`` texts are used.
Each test asserts what was *read* (names, shapes, sides, facts), and where the reading
settles the cause, the top finding.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import weightfit
from pasting import hard_wrapped
from weightfit.explain import sections
from weightfit.explain._text import clean
from weightfit.explain.paste import normalise
from weightfit.explain.statements import facts

CORPUS = Path(__file__).parent / "data" / "errors-real"


def dev_text(ident: str) -> str:
    meta = yaml.safe_load((CORPUS / f"{ident}.yaml").read_text(encoding="utf-8"))
    assert meta["split"] == "dev", "these tests read only the dev part"
    return (CORPUS / f"{ident}.txt").read_text(encoding="utf-8")


def read(text: str) -> tuple[dict[str, object], list[str], list[str]]:
    """Mismatched, missing and unexpected names over every section of a text."""
    found = sections(text)
    mismatched = {n: v for s in found for n, v in s.mismatched.items()}
    return (
        mismatched,
        [n for s in found for n in s.missing],
        [n for s in found for n in s.unexpected],
    )


def text_facts(text: str):  # type: ignore[no-untyped-def]
    return facts(normalise(clean(text)))


def test_a_pytorch_0_3_stated_key_is_a_key_even_without_a_dot() -> None:
    """``KeyError: 'unexpected key "acc" in state_dict'``: the sentence names a key."""
    text = dev_text("bearpaw__pytorch-classification__11")
    _, missing, unexpected = read(text)
    assert unexpected == ["acc"] and not missing
    assert text_facts(text).key_errors == []  # a sentence, not a key the loader looked up
    assert (
        weightfit.explain(text).findings[0].category == "prefix"
    )  # settled: the weights are nested


def test_a_hand_typed_size_with_swapped_closers_and_a_spaced_check_point() -> None:
    """``torch.Size([1,1,192)] from check point``: both shapes read, on their sides."""
    text = dev_text("FlyEgle__MAE-pytorch__7")
    mismatched, _, _ = read(text)
    assert mismatched == {"cls_token": ((1, 1, 192), (1, 1, 768))}
    assert weightfit.explain(text).findings[0].category == "wrong_variant"


def test_markdown_emphasis_around_names_and_prose_cues_for_the_checkpoint_side() -> None:
    """``saved under the name: _a.b.norm.1.bias_`` … ``missing: _a.b.norm1.bias_``."""
    _, missing, unexpected = read(dev_text("zoogzog__chexnet__11"))
    assert missing == ["module.densenet121.features.denseblock1.denselayer1.norm1.bias"]
    assert unexpected == ["module.densenet121.features.denseblock1.denselayer1.norm.1.bias"]


def test_a_keyerror_is_a_container_key_only_when_the_weights_are_read_by_it() -> None:
    """``obj_factory(checkpoint['arch'])``: a setting beside the weights, not their container;
    ``load_state_dict(torch.load(p)['g_running'])`` and ``torch.load(p)[key]`` are."""
    assert text_facts(dev_text("YuvalNirkin__fsgan__159")).container_key == ""
    assert weightfit.explain(dev_text("YuvalNirkin__fsgan__159")).findings[0].category != ("prefix")
    for ident, key in (
        ("rosinality__style-based-gan-pytorch__109", "g_running"),
        ("rosinality__style-based-gan-pytorch__103", "generator"),
        ("XPixelGroup__BasicSR__253", "params"),
    ):
        assert text_facts(dev_text(ident)).container_key == key


def reading(text: str) -> tuple[list[str], dict[str, object], list[str], list[str]]:
    """The top categories and every name read, to compare a paste with its original."""
    mismatched, missing, unexpected = read(text)
    categories = [f.category for f in weightfit.explain(text).findings[:2]]
    return categories, mismatched, sorted(missing), sorted(unexpected)


WRAPPED = [
    ("fangyuanmao__PID__5", 80),  # "299 missing an" + "d 1048 unexpected keys"
    ("lm-sys__FastChat__486", 80),  # "tensor b (3200" + "1)"
    ("lm-sys__FastChat__486", 64),  # "the size o" + "f tensor b"
    ("lllyasviel__Fooocus__336", 100),  # "shape '[640, 640]" + "' is invalid"
    ("lllyasviel__Fooocus__336", 120),  # "is invalid for inp" + "ut of size"
    ("open-mmlab__mmfewshot__73", 120),  # "state_dict: bac" + "kbone.conv1.weight"
    ("hirotomusiker__CLRerNet__26", 64),  # "ema_backbone_model_base_la" + "yer_0_weight"
    ("SleepySoft__Easy-Langchain-LKB__2", 64),  # "deserializing head" + "er: HeaderTooLarge"
    ("TonyZ1Min__yolo-for-k210__7", 100),  # "line 1004, in load_w" + "eights_from_hdf5_group"
    ("apache__mxnet__11091", 100),  # "which contains parameters" + ": '0.weight', ..."
    ("tensorflow__tfjs__755", 100),  # "no target variable: c" + "onv2d_10_1/kernel"
    ("linClubs__YOLOv8-ROS-TensorRT__13", 120),  # "magicTag == rt" + "::kPLAN_MAGIC_TAG"
    ("araffin__learning-to-drive-in-5-minutes__21", 78),  # "path: logs/sac" + "/DonkeyVae-v0"
]


def test_a_break_at_the_terminals_width_inside_any_word_number_or_name_is_undone() -> None:
    """A terminal breaks at its width wherever it is: inside a word of any message the
    parsers read, a number, a quoted shape or a name whose first half has no parameter word.
    """
    for ident, width in WRAPPED:
        text = dev_text(ident)
        assert reading(hard_wrapped(text, width)) == reading(text), (ident, width)


def test_a_quoting_reply_marks_wrapped_lines_too() -> None:
    """``> ...weig`` + ``> ht``: the marks of the continuation are not part of the name."""
    for ident in ("Acly__krita-ai-diffusion__63", "jwyang__faster-rcnn.pytorch__125"):
        text = dev_text(ident)
        assert reading(hard_wrapped(text, 78, "> ")) == reading(text), ident


def test_logging_and_loguru_prefixes_and_an_indented_load_report() -> None:
    """``%(asctime)s - %(name)s - %(levelname)s - `` and loguru's ``time | LEVEL | mod:fn:1 - ``
    are stripped; a status column (``NAME | UNEXPECTED |``) introduces no list."""
    text = dev_text("RadicalNumerics__RND1__10")
    for prefix in (
        "2024-05-01 10:11:12,345 - root - ERROR - ",
        "2024-05-01 10:11:12.345 | ERROR    | __main__:main:10 - ",
        "    ",
    ):
        pasted = "\n".join(prefix + line for line in text.split("\n"))
        assert reading(pasted) == reading(text), prefix


def test_lines_a_logger_began_are_records_not_the_rest_of_a_wrapped_line() -> None:
    """Two stamped lines of the same length are two records (not a wrap at that width), and
    a name that ends a sentence is not continued by the next record's first word."""
    text = dev_text("jjang-ai__vmlx__87")
    logged = "\n".join(
        "2024-05-01 10:11:12,345 - root - ERROR - " + line for line in text.split("\n")
    )
    _, _, unexpected = read(logged)
    assert unexpected == [
        "language_model.model.per_layer_model_projection.biases",
        "language_model.model.per_layer_model_projection.scales",
    ]


def test_an_escaped_paste_reads_as_its_text() -> None:
    """A JSON log or an exception's repr: ``\\n\\t`` between PyTorch's messages, ``\\"`` around
    its names."""
    for ident in (
        "pytorch__pytorch__3805",
        "rosinality__style-based-gan-pytorch__109",
        "huggingface__diffusers__8795",
        "ultralytics__yolov3__452",
    ):
        text = dev_text(ident)
        assert reading(json.dumps(text)[1:-1]) == reading(text), ident
        assert reading(f"RuntimeError({text!r})") == reading(text), ident


def test_a_list_ended_by_its_period_takes_no_quoted_word_from_the_lines_after() -> None:
    """``Missing key(s) in state_dict: "a", "b". `` is whole: the indented traceback after it
    (``checkpoint['g_ema']``) holds no missing tensor."""
    _, missing, _ = read(dev_text("yuval-alaluf__hyperstyle__39"))
    assert "g_ema" not in missing
    assert "convs.15.conv.blur.kernel" in missing


def test_a_whole_paste_that_is_one_exceptions_repr_loses_its_wrapper() -> None:
    """``RuntimeError("KeyError: 'x.weight\\n")``: the repr's closing quote and parenthesis are
    no part of the name it ends with (the paste had lost the key's own closing quote)."""
    for ident in ("huggingface__peft__1095", "NVIDIA__cosmos__46"):
        text = dev_text(ident)
        assert reading(f"RuntimeError({text!r})") == reading(text), ident


def test_loaders_refusing_a_files_format_architecture_or_dtype_hold_a_loading_error() -> None:
    """llama.cpp / ollama / GGUF nodes / vLLM refusals and diffusers' channel check are
    loading errors: an ``unknown`` finding (exit 1), never "no loading error found"."""
    for ident in (
        "ollama__ollama__3246",  # Error: invalid file magic
        "victorchall__EveryDream2trainer__18",  # expects 4 but received ... = 9
        "city96__ComfyUI-GGUF__184",  # Unexpected architecture type in GGUF file
        "ollama__ollama__6357",  # Error: unknown data type: U8
    ):
        assert text_facts(dev_text(ident)).loading_error, ident
        assert weightfit.explain(dev_text(ident)).findings, ident


def test_an_unknown_architecture_is_named_with_the_command_that_settles_it() -> None:
    text = dev_text("city96__ComfyUI-GGUF__184")
    assert text_facts(text).unknown_architecture == "hyvid"
    report = weightfit.explain(text)
    assert any("'hyvid'" in hint and "weightfit inspect" in hint for hint in report.hints)


def test_a_refused_storage_dtype_is_quantized_storage() -> None:
    """``unknown data type: U8``: bitsandbytes' packed weights, which a float loader refuses."""
    text = dev_text("ollama__ollama__6357")
    assert text_facts(text).quantization == ["u8 storage"]
    assert weightfit.explain(text).findings[0].category == "quantization"


def test_tensorflow_assign_binds_the_variable_to_the_model_and_the_value_to_the_checkpoint() -> (
    None
):
    """``for 'Assign' ... with input shapes: [model], [checkpoint]`` (``Assign(ref, value)``)."""
    text = dev_text("ZFTurbo__ZF_UNET_224_Pretrained_Model__8")
    mismatched, _, _ = read(text)
    assert list(mismatched.values()) == [((32, 3, 3, 3), (3, 3, 1, 32))]
    assert weightfit.explain(text).findings[0].category == "wrong_variant"


def test_pytorch_0_4s_invalid_size_one_value_short_is_a_misaligned_read() -> None:
    """``size '[144 x 256 x 1 x 1]' is invalid for input with 36863 elements`` (a darknet
    reader, years before LoRA): one value short of the shape, which no configuration
    explains; the file was read shifted (its header is another version's)."""
    text = dev_text("ultralytics__yolov3__30")
    assert text_facts(text).invalid_view == ((144, 256, 1, 1), 36863)
    finding = weightfit.explain(text).findings[0]
    assert finding.category == "version"
    assert finding.evidence == {
        "expected_shape": [144, 256, 1, 1],
        "elements": 36863,
        "expected_elements": 36864,
    }


# Loader messages the dev part does not hold yet, each a verbatim line of a public thread.
LLAMA_CPP_VOCAB = (  # https://github.com/hiyouga/LlamaFactory/issues/8611
    "Error: llama runner process has terminated: error loading model: check_tensor_dims: "
    "tensor 'token_embd.weight' has wrong shape; expected  4096, 128257, got  4096, 128256,"
    "     1,     1"
)
LLAMA_CPP_GQA = (  # https://github.com/xorbitsai/inference/issues/971
    "llama_model_load: error loading model: create_tensor: tensor 'blk.0.attn_k.weight' has "
    "wrong shape; expected  8192,  8192, got  8192,  1024,     1,     1\n"
    "llama_load_model_from_file: failed to load model"
)
MLX_SHAPE = (  # https://github.com/ml-explore/mlx-examples/issues/1064
    "ValueError: Expected shape (4096, 4, 1) but received shape (4096, 1, 4) for parameter "
    "model.layers.0.temporal_block.conv_1d.weight"
)
KERAS_SHAPE = (  # https://github.com/bubbliiiing/centernet-keras/issues/9
    "ValueError: Shape mismatch in layer #175 (named conv2d_transpose_1) for weight "
    "conv2d_transpose_1/kernel:0. Weight expects shape (4, 4, 128, 256). Received saved weight "
    "with shape (2048, 256, 4, 4)"
)
MXNET_SHAPE = (  # https://github.com/MVIG-SJTU/AlphaPose/issues/491
    "AssertionError: Failed loading Parameter 'conv5_weight' from saved params: shape "
    "incompatible expected (17, 0, 3, 3) vs saved (33, 128, 3, 3)"
)
TF_ASSIGN = (  # https://github.com/matterport/Mask_RCNN/issues/2712
    "ValueError: Dimension 1 in both shapes must be equal, but are 40 and 24. Shapes are "
    "[1024,40] and [1024,24]. for 'Assign_682' (op: 'Assign') with input shapes: [1024,40], "
    "[1024,24]."
)
VLLM_SHAPE = (  # https://github.com/verl-project/verl/issues/834
    "AssertionError: Attempted to load weight (torch.Size([3600])) into parameter "
    "(torch.Size([3584]))"
)


def test_llama_cpp_shapes_are_read_in_gguf_axis_order() -> None:
    """``expected  4096, 128257, got  4096, 128256, 1, 1``: GGUF's ``ne``, innermost first and
    padded with 1, is the model's (expected) and the file's (got) shape reversed."""
    mismatched, _, _ = read(LLAMA_CPP_VOCAB)
    assert mismatched == {"token_embd.weight": ((128256, 4096), (128257, 4096))}
    assert weightfit.explain(LLAMA_CPP_VOCAB).findings[0].category == "vocab_resize"
    mismatched, _, _ = read(LLAMA_CPP_GQA)
    assert mismatched == {"blk.0.attn_k.weight": ((1024, 8192), (8192, 8192))}


def test_a_name_after_its_two_shapes_and_the_received_or_saved_side() -> None:
    """MLX's ``Expected shape A but received shape B for parameter X``, Keras' ``Weight expects
    shape A. Received saved weight with shape B``, MXNet's ``Parameter 'x' ... expected A vs
    saved B``: the name is bound, and *received* / *saved* is the checkpoint."""
    assert read(MLX_SHAPE)[0] == {
        "model.layers.0.temporal_block.conv_1d.weight": ((4096, 1, 4), (4096, 4, 1))
    }
    assert read(KERAS_SHAPE)[0] == {
        "conv2d_transpose_1.kernel": ((2048, 256, 4, 4), (4, 4, 128, 256))
    }
    assert read(MXNET_SHAPE)[0] == {"conv5_weight": ((33, 128, 3, 3), (17, 0, 3, 3))}


def test_tensorflow_assign_reads_its_own_input_shapes() -> None:
    """The ``Shapes are A and B.`` before the op name are not a pair with the op's inputs."""
    assert list(read(TF_ASSIGN)[0].values()) == [((1024, 24), (1024, 40))]


def test_vllms_weight_loader_assertion_is_a_loading_error_with_its_sides() -> None:
    """``Attempted to load weight (A) into parameter (B)``: A is the file's, B the model's."""
    assert list(read(VLLM_SHAPE)[0].values()) == [((3600,), (3584,))]


def test_more_loader_refusals_are_loading_errors() -> None:
    """Each a verbatim line of a public thread: an ``unknown`` finding, never exit 2."""
    for text in (
        # https://github.com/Comfy-Org/ComfyUI/issues/8439
        "ERROR: Could not detect model type of: "
        "D:\\ComfyUI-aki-v1.2\\ComfyUI\\models\\checkpoints\\lumina_2.safetensors",
        # https://github.com/hiyouga/LlamaFactory/issues/181
        "ValueError: Target modules ['q_proj', 'v_proj'] not found in the base model. "
        "Please check the target modules and try again.",
        # https://github.com/AmpereComputingAI/llama.cpp/issues/2
        "llama_model_load: error loading model: done_getting_tensors: wrong number of "
        "tensors; expected 292, got 291",
    ):
        assert text_facts(text).loading_error, text
        assert weightfit.explain(text).findings, text


def test_a_storage_of_the_wrong_size_is_a_file_that_is_not_whole() -> None:
    """https://github.com/uof1745-cmd/PCN/issues/6 (settled: corrupted during download)."""
    text = "RuntimeError: storage has wrong size: expected -3678369713323989701 got 256"
    assert text_facts(text).broken_file == "storage has wrong size"


def test_a_run_longer_than_any_name_is_cut_and_the_names_around_it_kept() -> None:
    """A base64 blob or a wall of wrapped lines is no name: cut into short pieces, so no
    pattern scans it as one word (a quadratic cost), while a real paste reads the same."""
    text = dev_text("open-mmlab__mmdetection3d__1339")
    blob = "QUJD" * 2_000
    pasted = f"{blob}\n{text}\n{blob}"
    assert max(len(word) for word in normalise(clean(pasted)).split()) <= 300
    assert reading(pasted) == reading(text)


def test_typography_of_a_web_page_chat_or_ime_reads_as_its_text() -> None:
    """Curly quotes (a web page, a chat app), full-width punctuation (an IME), no-break
    spaces and zero-width characters around names."""
    for ident in ("rosinality__style-based-gan-pytorch__109", "huggingface__diffusers__8795"):
        text = dev_text(ident)
        curly = text.replace("'", "\u2019").replace('"', "\u201d")
        wide = text.replace(",", "\uff0c").replace(":", "\uff1a").replace(" ", "\u00a0")
        invisible = text.replace(".", ".\u200b")
        for pasted in (curly, wide, invisible):
            assert reading(pasted) == reading(text), ident


def test_tensorflows_key_not_found_in_checkpoint_names_a_missing_variable() -> None:
    """``Key lstm/basic_lstm_cell/kernel not found in checkpoint``: a slash path whose leaf
    is a Keras/TF parameter word (``kernel``), which the checkpoint lacks."""
    _, missing, unexpected = read(dev_text("KranthiGV__Pretrained-Show-and-Tell-model__7"))
    assert missing == ["lstm.basic_lstm_cell.kernel"] and not unexpected


def test_two_records_of_equal_length_are_not_a_wrap() -> None:
    """``lora key not loaded a...weight`` twice, the longest lines of the paste and of one
    length: each line starts a record (same first words), none carries the one before."""
    _, _, unexpected = read(dev_text("Comfy-Org__ComfyUI__1144"))
    assert len(unexpected) == 4 and all(name.endswith(".weight") for name in unexpected)


def test_more_breaks_a_paste_makes() -> None:
    """A code block indents the rest of a broken name as its start; a break just before a
    closing quote and its comma; a list that goes on after its comma on the next line."""
    text = dev_text("anveshane__Comfyui_turbodiffusion__40")  # "b" + "locks.0...", indented
    assert reading("\n".join("    " + line for line in text.split("\n"))) == reading(text)
    text = dev_text("ClayShoaf__oobabooga-one-click-bandaid__1")  # '...scales' + '", ...'
    assert reading(hard_wrapped(text, 120)) == reading(text)
    text = dev_text("hirotomusiker__CLRerNet__26")  # "a_weight, " + "> b_weight,..."
    assert reading(hard_wrapped(text, 78, "> ")) == reading(text)


def test_files_a_loader_cannot_open_hold_a_loading_error() -> None:
    """A file that is not what its loader expects, or not whole (each a verbatim line)."""
    for text in (
        # https://github.com/MrGiovanni/ModelsGenesis/issues/13 (Keras, another layout)
        "when I load the pre-trained weights, I got the ----ValueError: axes don't match array",
        # https://github.com/yeyupiaoling/MASR/issues/62 (torch.jit.load of a plain checkpoint)
        "RuntimeError: PytorchStreamReader failed locating file constants.pkl: file not found",
        # https://github.com/rahul-goel/isrf_code/issues/3 (pickle.load of a torch file)
        "_pickle.UnpicklingError: A load persistent id instruction was encountered,\n"
        "but no persistent_load function was specified.",
        # https://github.com/uof1745-cmd/PCN/issues/6 (corrupted during download)
        "RuntimeError: storage has wrong size: expected -3678369713323989701 got 256",
    ):
        assert text_facts(text).loading_error, text
        assert weightfit.explain(text).findings, text


def test_an_exception_raised_inside_a_load_call_or_a_loader_node_is_a_loading_error() -> None:
    """No message weightfit knows, but the exception came out of a load: ``unknown``."""
    for text in (
        # https://github.com/kijai/ComfyUI-DynamiCrafterWrapper/issues/92
        "Error occurred when executing CheckpointLoaderSimple:\n\n"
        "'NoneType' object has no attribute 'lower'\n",
        # https://github.com/yolain/ComfyUI-Easy-Use/issues/238
        "!!! Exception during processing!!! 'NoneType' object has no attribute 'lower'\n"
        "Traceback (most recent call last):\n"
        '  File "/comfyui/custom_nodes/ComfyUI-Easy-Use/py/libs/loader.py", line 415, in '
        "load_main\n"
        "    model, clip, vae, clip_vision = self.load_checkpoint(ckpt_name_1)\n",
    ):
        assert text_facts(text).loading_error, text
        assert weightfit.explain(text).findings[0].category == "unknown"


def test_copying_a_param_is_the_checkpoints_side() -> None:
    """PyTorch's ``copying a param with shape A from checkpoint``: the *param* copied is the
    checkpoint's, so a paste that breaks or misspells ``from checkpoint`` keeps its sides."""
    text = dev_text("FlyEgle__MAE-pytorch__7")  # "from c" + "heck point" at 100 columns
    assert reading(hard_wrapped(text, 100)) == reading(text)


def test_vllm_glog_and_docker_compose_prefixes() -> None:
    """vLLM's ``ERROR 12-04 11:26:27 engine.py:366]`` (as in unslothai/unsloth#1380), glog's
    ``E1204 ... loader.cc:123]`` and docker compose's ``service  | `` (as in
    cobryan05/Yolo2Mqtt#1) are stripped: line breaks inside the prefixed lines are undone
    as in the bare paste, and a load report's ``NAME | STATUS |`` rows are kept."""
    for prefix in (
        "ERROR 12-04 11:26:27 engine.py:366] ",
        "E1204 11:26:27.123456 12345 loader.cc:123] ",
        "vllm-server  | ",
    ):
        for ident in ("RadicalNumerics__RND1__10", "cobryan05__Yolo2Mqtt__1"):
            text = dev_text(ident)
            pasted = "\n".join(prefix + line for line in text.split("\n"))
            assert reading(pasted) == reading(text), (prefix, ident)
            assert reading(hard_wrapped(pasted, 100)) == reading(text), (prefix, ident)


def test_a_name_the_paste_cut_inside_its_quote_is_not_read() -> None:
    """``"layer1.0.0.b`` at the paste's end, newline or not: a cut name, never a key."""
    text = dev_text("XiaLiPKU__EMANet__9")
    for pasted in (text, text.rstrip("\n")):
        _, _, unexpected = read(pasted)
        assert "layer1.0.0.b" not in unexpected
        assert weightfit.explain(pasted).findings[0].category == "rename"


@pytest.mark.parametrize(
    ("ident", "width"),
    [
        ("matterport__Mask_RCNN__78", 120),  # "input shape" + "s: [1024,8], ..."
        ("matterport__Mask_RCNN__187", 120),  # "but are 244 and " + "324 for 'Assign_682'"
        ("mrharicot__monodepth__57", 80),  # "lhs shape" + "= [7,7,6,64]"
        ("OpenBuddy__OpenBuddy__31", 80),  # "openllama-13b-" + "v7-fp16\\tokenizer.model"
        ("TempleX98__MoVA__4", 120),  # "normalized_sha" + "pe = [1024]"
        ("OpenBuddy__OpenBuddy__31", 64),  # "D:\\openbudd" + "y-openllama-13b-v7-fp16"
        ("meta-llama__llama__665", 64),  # "but world size" + " is 8"
        ("iscyy__ultralyticsPro__22", 80),  # "object has no at" + "tribute 'end2end'"
        ("nomic-ai__pygpt4all__17", 80),  # "(bad magic [" + "got 0x67676d66 want ..."
        ("bojone__bert4keras__24", 91),  # "bert/embeddings/word_embeddings_" + "2 not found"
    ],
)
def test_a_terminal_wrap_at_its_width_keeps_the_reading(ident: str, width: int) -> None:
    text = dev_text(ident)
    want = weightfit.explain(text).findings[0].category
    assert weightfit.explain(hard_wrapped(text, width)).findings[0].category == want


def test_a_whole_file_name_at_the_width_then_a_sentence_is_no_wrap() -> None:
    """``.../stylegan2-ffhq-config-f.pt`` as the longest line, then ``but got error:``: the
    file name is whole, the next line a sentence; ``KeyError: 'params_ema'`` stays the
    container a named PyTorch file lacks."""
    finding = weightfit.explain(dev_text("TencentARC__GFPGAN__27")).findings[0]
    assert finding.category == "prefix"
    assert finding.evidence["container_key"] == "params_ema"


def test_a_file_name_at_the_width_then_a_capitalised_record_is_no_wrap() -> None:
    """``... --model_path assets/m1.png`` as the longest line, then ``Loading pipeline
    components...``: the file name is whole and the next line a record of its own."""
    text = dev_text("ShineChen1024__MagicClothing__5")
    assert "--model_path assets/m1.png\nLoading pipeline" in normalise(text)


def test_a_line_broken_at_a_space_before_a_quoted_word_goes_on() -> None:
    """``... for 'Assign_42' (op: `` + ``'Assign') with input shapes: [512,3], [512,6]``:
    rejoined, TensorFlow's Assign order (the variable, then the saved value) holds."""
    text = dev_text("rlcode__reinforcement-learning__31")
    assert (
        read(hard_wrapped(text, 91))[0] == read(text)[0] == {"unnamed_tensor": ((512, 6), (512, 3))}
    )


def test_tensorflow_2_variable_assignment_names_the_variable_first() -> None:
    """TensorFlow before 2.4 raised ``Shapes (150, 384) and (151, 384) are incompatible``
    from ``self._shape.assert_is_compatible_with(value.shape)`` (the variable, then the
    saved value) while Keras' ``load_weights`` filled the model."""
    mismatched, _, _ = read(dev_text("TensorSpeech__TensorFlowTTS__641"))
    assert mismatched == {"unnamed_tensor": ((151, 384), (150, 384))}


def test_tensorflow_2_named_assignment_reads_variable_and_value() -> None:
    """The message as ``tensorflow/python/ops/resource_variable_ops.py`` formats it in
    tensorflow-cpu 2.13.0 (``f"Cannot assign value to variable '{tensor_name}': Shape
    mismatch.The variable shape {self._shape}, and the assigned value shape ..."``)."""
    text = (
        "ValueError: Cannot assign value to variable ' dense_1/kernel:0': Shape mismatch."
        "The variable shape (512, 10), and the assigned value shape (512, 1000) are "
        "incompatible."
    )
    mismatched, _, _ = read(text)
    assert mismatched == {"dense_1.kernel": ((1000, 512), (10, 512))}


def test_a_log_pasted_as_one_line_still_states_its_quantity() -> None:
    """Newlines lost: the exception's sentence is cut from the frame before it."""
    text = dev_text("TempleX98__MoVA__4")
    top = weightfit.explain(" ".join(text.splitlines())).findings[0]
    assert top.category == "wrong_variant"
    assert top.evidence["values"] == [1536, 1024]


def test_a_shape_on_the_line_before_belongs_to_that_lines_tensor() -> None:
    """YOLOX's ``Shape of X in checkpoint is A, while shape of X in model is B`` per line."""
    mismatched, _, _ = read(dev_text("zht8506__ETDNet__5"))
    assert mismatched["head.cls_preds.1.bias"] == ((80,), (6,))
    assert mismatched["head.cls_preds.2.weight"] == ((80, 128, 1, 1), (6, 128, 1, 1))


def test_shapes_of_two_statements_on_one_line_are_not_one_pair() -> None:
    """``... is torch.Size([256]). size mismatch for out.2.weight: ... [6, 128, 3, 3]``."""
    mismatched, _, _ = read(dev_text("soumik-kanad__diff2lip__2"))
    assert ((6, 128, 3, 3), (256,)) not in mismatched.values()
    assert ((256,), (6, 128, 3, 3)) not in mismatched.values()


def test_a_tracebacks_quoted_escape_is_source_not_a_repr() -> None:
    """``"\\n\\t".join(error_msgs)`` in a frame is source code: no repr to unescape."""
    text = dev_text("bryandlee__FreezeG__6")
    assert '"\\n\\t".join(error_msgs)' in text
    assert '"\\n\\t".join(error_msgs)' in normalise(clean(text))
    repr_line = (
        "RuntimeError('Error(s) in loading state_dict for A:\\n\\tMissing key(s) in "
        'state_dict: "a.b".\')'
    )
    assert "\n\tMissing key(s)" in normalise(repr_line)


def test_a_tensorflow_dense_kernel_is_read_output_first() -> None:
    """``dense/kernel`` is ``[in, out]``: 512 against 128 inputs, the same 10 classes."""
    mismatched, _, _ = read(dev_text("google-research__simclr__39"))
    assert mismatched["head_supervised.linear_layer.dense.kernel"] == ((10, 128), (10, 512))
    assert weightfit.explain(dev_text("google-research__simclr__39")).findings[0].category == (
        "wrong_variant"
    )


def test_an_unexpected_thing_that_is_no_key_opens_no_key_list() -> None:
    """``Unexpected architecture type in GGUF file: 'qwen_image'``: an adjective, not a cue."""
    text = dev_text("Comfy-Org__ComfyUI__9211")
    _, missing, unexpected = read(text)
    assert (missing, unexpected) == ([], [])
    assert weightfit.explain(text).findings[0].category == "version"


def test_a_qualified_key_list_is_still_a_key_list() -> None:
    """``Missing VAE keys [...]``: a qualifier before the key word keeps the cue."""
    _, missing, _ = read(dev_text("victorchall__EveryDream2trainer__257"))
    assert "encoder.mid.attn_1.q.weight" in missing


def test_paddles_shape_warning_reads_the_model_first_then_the_loaded_params() -> None:
    """PaddleOCR: ``model params X [120, 18] not matched with loaded params X [120, 6625]``.

    Paddle stores a Linear weight as ``[in, out]``: read in PyTorch's layout; an embedding
    is ``[rows, width]`` in both."""
    (section,) = [s for s in sections(dev_text("PaddlePaddle__PaddleOCR__10666")) if s.mismatched]
    assert section.mismatched["head.ctc_head.fc.weight"] == ((6625, 120), (18, 120))
    embedding = section.mismatched["head.gtc_head.embedding.embedding.weight"]
    assert embedding == ((6629, 384), (22, 384))


def test_a_shape_another_name_labels_is_not_the_next_names() -> None:
    """``'a.weight': torch.Size([2048, 2048]), 'b.weight': torch.Size([1024, 2048])``: two
    tensors with their own shapes, no mismatch."""
    found = sections(dev_text("alibaba__Pai-Megatron-Patch__65"))
    assert not any(s.mismatched for s in found)


def test_a_name_an_npz_archive_lacks_is_a_missing_tensor() -> None:
    """Chainer's ``KeyError: 'encoder/0/W is not a file in the archive'``."""
    found = sections(dev_text("wuhuikai__GP-GAN__35"))
    assert "encoder.0.W" in [name for s in found for name in s.missing]


def test_a_key_error_a_missing_list_names_stays_on_that_side() -> None:
    """``missing weight keys like: KeyError: 'model.language_model.embed_tokens.weight'``:
    the cue said missing; the lookup it failed in does not make it unexpected too."""
    _, missing, unexpected = read(dev_text("ahydchh__Impromptu-VLA__52"))
    assert "model.language_model.embed_tokens.weight" in missing
    assert not set(missing) & set(unexpected)


def test_a_vector_as_long_as_a_model_axis_is_no_flat_shard() -> None:
    """``[24]`` from the checkpoint for ``[16, 24, 1, 1]``: a tensor met in another's place
    (a loader pairing by position), not one rank's 1/16 flat slice."""
    text = dev_text("wlguan__Stronger-yolo-pytorch__27")
    assert "partitioned" not in [f.category for f in weightfit.explain(text).findings]


def test_actual_is_what_the_file_gave_and_expected_what_the_model_has() -> None:
    """MLX Swift's ``Mismatched parameter weight shape. Actual [100, 256], expected [100,
    1024]``: the actual shape is the one loaded (the packed file), the expected the model's."""
    mismatched, _, _ = read(dev_text("rudrankriyam__Glosik__1"))
    assert list(mismatched.values()) == [((100, 256), (100, 1024))]


def test_no_model_found_at_a_path_names_the_absent_file() -> None:
    """rl-zoo's ``No model found for sac on ..., path: logs/.../DonkeyVae-v0-level-0.pkl``."""
    text = dev_text("araffin__learning-to-drive-in-5-minutes__21")
    assert text_facts(text).absent_file == "DonkeyVae-v0-level-0.pkl"
    assert weightfit.explain(text).findings[0].evidence["file"] == "DonkeyVae-v0-level-0.pkl"


def test_a_step_failing_on_a_named_weights_file_is_a_loading_error() -> None:
    """stable-diffusion.cpp's ``get sd version from file failed: '...flux1-dev-Q6_K.gguf'``."""
    text = dev_text("william-murray1204__stable-diffusion-cpp-python__3")
    assert text_facts(text).loading_error


def test_keras_skip_warnings_name_the_layers_kernel_and_bias() -> None:
    """Keras warns once per weight of a skipped layer, naming the layer only: a 4-D shape is
    its kernel (printed transposed back to PyTorch's order), a vector its bias."""
    text = (
        "UserWarning: Skipping loading of weights for layer classification_submodel due to "
        "mismatch in shape ((3, 3, 256, 630) vs (720, 256, 3, 3))\n"
        "UserWarning: Skipping loading of weights for layer classification_submodel due to "
        "mismatch in shape ((630,) vs (720,))\n"
    )
    mismatched, _, _ = read(text)
    assert mismatched == {
        "classification_submodel.kernel": ((720, 256, 3, 3), (630, 256, 3, 3)),
        "classification_submodel.bias": ((720,), (630,)),
    }
    assert weightfit.explain(text).findings[0].category == "num_classes"


LLAMA_CPP_LOAD_FAILED = "llama_load_model_from_file: failed to load model\n"
"""The line llama.cpp logs after any loader error (llama.cpp src/llama.cpp)."""


@pytest.mark.parametrize(
    ("error", "key", "value"),
    [
        # llama-model-loader.cpp: format("key not found in model: %s", key); the next
        # record is the logger's own line, never the rest of the key.
        (
            "error loading model hyperparameters: key not found in model: llama.context_length",
            "entry",
            "llama.context_length",
        ),
        # llama-vocab.cpp: format("unknown pre-tokenizer type: '%s'", tokenizer_pre).
        (
            "error loading model vocabulary: unknown pre-tokenizer type: 'qwen2'",
            "architecture",
            "qwen2",
        ),
    ],
    ids=["missing-metadata-key", "unknown-pre-tokenizer"],
)
def test_llama_cpps_refusals_are_the_converters_or_its_own_release(
    error: str, key: str, value: str
) -> None:
    text = f"llama_model_load: error loading model: {error}\n" + LLAMA_CPP_LOAD_FAILED
    top = weightfit.explain(text).findings[0]
    assert top.category == "version"
    assert top.evidence[key] == value


def test_keras_missing_a_saved_class_is_a_loading_error() -> None:
    # keras/src/saving/serialization_lib.py: "Could not locate class '{class_name}'. Make
    # sure custom classes are decorated with `@keras.saving.register_keras_serializable()`."
    text = (
        "TypeError: Could not locate class 'Functional'. Make sure custom classes are "
        "decorated with `@keras.saving.register_keras_serializable()`."
    )
    assert weightfit.explain(text, resemble=False).findings[0].category == "unknown"


def test_numpys_pickled_random_state_of_another_release_is_a_version_change() -> None:
    # numpy/random/_pickle.py: the constructors a pickled RandomState names took other
    # arguments in other NumPy releases; Python's own words when the count differs.
    text = (
        'File "train.py", line 12, in load\n    predictor = pickle.load(f)\n'
        "TypeError: __randomstate_ctor() takes from 0 to 1 positional arguments but 2 were given"
    )
    assert weightfit.explain(text).findings[0].category == "version"


@pytest.mark.parametrize(
    ("text", "name", "kind"),
    [
        (
            "RuntimeError: Unknown model (vit_giant_patch14_dinov2)",
            "vit_giant_patch14_dinov2",
            "registry",
        ),
        (
            "ValueError: Tokenizer class Qwen2Tokenizer does not exist or is not currently "
            "imported.",
            "Qwen2Tokenizer",
            "tokenizer",
        ),
        (
            "error loading model vocabulary: unknown pre-tokenizer type: 'qwen2'",
            "qwen2",
            "pre_tokenizer",
        ),
        (
            "ValueError: The checkpoint you are trying to load has model type `qwen3` but "
            "Transformers does not recognize this architecture.",
            "qwen3",
            "architecture",
        ),
    ],
    ids=["timm-registry", "tokenizer-class", "pre-tokenizer", "model-type"],
)
def test_an_unknown_name_keeps_the_kind_its_loader_said(text: str, name: str, kind: str) -> None:
    said = facts(text)
    assert (said.unknown_architecture, said.unknown_kind) == (name, kind)
