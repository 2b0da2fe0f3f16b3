"""The tolerant extractor (``weightfit.explain.extract``): names, shapes, sides and facts
from any wording, after undoing what pasting does."""

from __future__ import annotations

import json

import pytest

from pasting import hard_wrapped
from weightfit.explain.extract import extract
from weightfit.explain.paste import decode, normalise, window
from weightfit.explain.statements import facts


def read(text: str):  # type: ignore[no-untyped-def]
    return extract(normalise(text))


@pytest.mark.parametrize(
    ("text", "have", "want"),
    [
        # Today's wording, without its "Error(s) in loading state_dict" header.
        (
            "size mismatch for enc.embed.weight: copying a param with shape "
            "torch.Size([20, 8]) from checkpoint, the shape in current model is "
            "torch.Size([10, 8]).",
            (20, 8),
            (10, 8),
        ),
        # PyTorch 0.3: the model's shape first.
        (
            "While copying the parameter named enc.embed.weight, whose dimensions in the model "
            "are torch.Size([10, 8]) and whose dimensions in the checkpoint are "
            "torch.Size([20, 8]).",
            (20, 8),
            (10, 8),
        ),
        # Tuples, checkpoint side named after the shape.
        (
            "Skip loading parameter 'enc.embed.weight' to the model due to incompatible "
            "shapes: (20, 8) in the checkpoint but (10, 8) in the model!",
            (20, 8),
            (10, 8),
        ),
        # Lists and the word 'expected' for the model side, 'got' for the checkpoint.
        ("enc.embed.weight expected shape [10, 8], but got [20, 8]", (20, 8), (10, 8)),
        # 'a x b' and a shape before the name.
        (
            'Trying to set a tensor of shape 20 x 8 in "enc.embed.weight" (which has shape '
            "10 x 8), this looks incorrect.",
            (20, 8),
            (10, 8),
        ),
        # Other frameworks' cue words.
        (
            "Shape of pretrained weight enc/embed/weights doesn't match.(Pretrained: (20, 8), "
            "Actual: (10, 8))",
            (20, 8),
            (10, 8),
        ),
    ],
    ids=["current", "while-copying", "fvcore-tuples", "expected-got", "times", "paddle"],
)
def test_shapes_bind_to_their_side_by_cue_words(
    text: str, have: tuple[int, ...], want: tuple[int, ...]
) -> None:
    section = read(text)
    assert list(section.mismatched.values()) == [(have, want)]
    assert next(iter(section.mismatched)).replace("weights", "weight") == "enc.embed.weight"


def test_pasting_damage_is_undone() -> None:
    text = (
        "2024-05-01 10:00:00,123 [rank0]: INFO:root: \x1b[31mRuntimeError\x1b[0m: "
        "Unexpected key(s) in state_dict: &quot;module.blocks.0.attn.qkv.weight&quot;, "
        "&quot;module.blocks.0.attn.pr\noj.weight&quot;, ... (+12 more)\n"
        "[rank0]: size mismatch for head.weight: copying a param with shape "
        "torch.Size([10\n00, 64]) from checkpoint, the shape in current model is "
        "torch.Size([10, 64]).\n"
        r"  File C:\Users\me\proj\train.py, line 3, in <module>"
    )
    section = read(text)
    assert section.unexpected == [
        "module.blocks.0.attn.qkv.weight",
        "module.blocks.0.attn.proj.weight",
    ]
    assert section.truncated
    assert section.mismatched == {"head.weight": ((1000, 64), (10, 64))}


def test_key_lists_take_any_dotted_path_and_free_text_needs_a_parameter_word() -> None:
    text = (
        'File "torch/nn/modules/module.py", line 2041, in load_state_dict\n'
        "missing keys in source state_dict: backbone.stem.conv, backbone.stem.bn.running_mean\n"
        "the checkpoint state_dict contains keys that are not used by the model:\n"
        "  fc.{weight, bias}\n"
    )
    section = read(text)
    assert section.missing == ["backbone.stem.conv", "backbone.stem.bn.running_mean"]
    assert section.unexpected == ["fc.weight", "fc.bias"]


def test_facts_beside_the_tensors() -> None:
    text = normalise(
        "You are using a model of type llava to instantiate a model of type llama. "
        "transformers==4.38.2; loading ./ckpt/model-q4.safetensors (GPTQ, qweight) with "
        "a LoRA adapter; RuntimeError: shape '[4096, 4096]' is invalid for input of size "
        "8388608\nKeyError: 'model.layers.0.mlp.gate_up_proj.qweight'"
    )
    found = facts(text)
    assert found.loading_error
    assert found.model_types == ("llava", "llama")
    assert found.versions["transformers"] == "4.38.2"
    assert "model-q4.safetensors" in found.files
    assert {"gptq", "qweight"} <= set(found.quantization)
    assert "lora" in found.lora
    assert found.invalid_view == ((4096, 4096), 8388608)
    assert found.key_errors == ["model.layers.0.mlp.gate_up_proj.qweight"]
    assert extract(text).unexpected == ["model.layers.0.mlp.gate_up_proj.qweight"]


def test_text_without_a_loading_error_says_so() -> None:
    text = normalise("epoch 3 step 1200 loss 0.42 lr 3e-4\nKeyError: 'lr'\n")
    assert not facts(text).loading_error
    assert not read(text).has_tensors


def test_huge_input_is_read_around_its_loading_words() -> None:
    error = b"size mismatch for head.weight: copying a param with shape torch.Size([3, 4])"
    filler = b"step 1 loss 0.1\n" * 200_000
    text = decode(filler + error + b"\n" + filler)
    assert len(text) < 100_000
    assert error.decode() in text
    assert window("x\n" * 1_000_000) == ""


def test_a_single_line_wrapped_at_any_column_is_rejoined() -> None:
    # One long line broken once, so no repeated width gives the terminal's columns away.
    text = (
        "UserWarning: Found keys that are in the model state dict but not in the c\n"
        "heckpoint: ['word_embedding_model.embeddings.position_ids']\n"
        "unexpected key in source state_dict: ema_backbone_model_base_layer_0_wei\n"
        "ght, ema_backbone_model_base_layer_1_weight"
    )
    section = read(text)
    assert section.missing == ["word_embedding_model.embeddings.position_ids"]
    assert section.unexpected == [
        "ema_backbone_model_base_layer_0_weight",
        "ema_backbone_model_base_layer_1_weight",
    ]


def test_a_word_wrapped_inside_a_statement_of_any_reader_is_rejoined() -> None:
    # The words of every reader's phrases are the un-wrapping vocabulary, wherever the reader
    # lives: spaCy's "requires ... incompatible with the current ... version" is a file reader's.
    text = (
        "UserWarning: [W031] Model 'en_vectors_web_lg' (2.1.0) requires spaCy v2.1 and is "
        "incompatible with the current spaCy ver\nsion (2.3.5). This may lead to unexpected results"
    )
    assert "current spaCy version (2.3.5)" in normalise(text)
    assert facts(normalise(text)).newer_format.startswith("requires spaCy v2.1")


def test_two_shapes_in_a_mismatch_line_without_a_name_are_one_tensor() -> None:
    section = read("AssertionError: torch.Size([1024, 768]) vs torch.Size([1024, 512])")
    assert list(section.mismatched.values()) == [((1024, 768), (1024, 512))]
    other = read("RuntimeError: The size of tensor a (91) must match the size of tensor b (2)")
    assert not other.mismatched  # two tensors meeting in an operation


def test_a_scalar_shape_is_read_as_no_axes() -> None:
    """``torch.Size([])`` (a 0-d tensor) is a shape of no axes, not a parse failure."""
    text = (
        "size mismatch for logit_scale: copying a param with shape torch.Size([]) from "
        "checkpoint, the shape in current model is torch.Size([1])."
    )
    section = extract(text)
    assert section.mismatched["logit_scale"] == ((), (1,))


def test_a_json_log_string_reads_as_its_text() -> None:
    """A JSON log escapes every non-ASCII character (``\\u7248``) and backslash: undone in
    one pass, so ``\\\\x00`` stays a backslash and an ``x``."""
    original = "报错KeyError: 'qwen2'。transformers版本低于4.37.0\ninvalid load key, '\\x00'.\n"
    pasted = json.dumps(original)[1:-1]
    assert normalise(pasted) == normalise(original)


def test_output_pasted_as_comments_behind_a_log_prefix_loses_both() -> None:
    text = "2024-05-01 10:11:12,345 - root - ERROR - # ValueError: Expected shape (2, 3)\n"
    assert normalise(text).strip() == "ValueError: Expected shape (2, 3)"


def test_a_paste_indented_as_a_whole_loses_its_shared_indent() -> None:
    """A Markdown code block indents every line by four spaces: that indent says nothing."""
    original = "WARNING: Some model parameters or buffers are not found\nbackbone.conv1.weight\n"
    indented = "\n".join("    " + line for line in original.split("\n"))
    assert normalise(indented).strip() == normalise(original).strip()


def test_a_quoted_line_broken_just_before_a_space_keeps_the_space() -> None:
    """``> `` quotes a line a terminal broke before a space: ``>  of flux`` goes on."""
    line = (
        "Using GGUF got error!! Unexpected architecture type in GGUF file, expected one of "
        "flux, sd1, sdxl, t5encoder but got 'wan'"
    )
    quoted = hard_wrapped(line, 78, "> ")
    assert ">  of flux" in quoted
    assert normalise(quoted).strip() == line
