"""``explain`` on what today's libraries print when a load fails for a known reason.

Each test builds the failing load with the real library on a small model (the cause known by
construction), captures everything the user's terminal shows (tracebacks, logged warnings,
transformers 5's load report, tqdm's progress bars), and checks ``explain``'s top finding.
"""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path

import pytest
import torch

import weightfit

transformers = pytest.importorskip("transformers")


def shown(capfd: pytest.CaptureFixture[str], action: object) -> str:
    """What the terminal shows while ``action`` runs, then the traceback if one is raised.

    transformers' own handler keeps the stream it was made with: its log is sent to the
    captured standard error too, in the order the terminal shows it among progress bars.
    """
    handler = logging.StreamHandler(sys.stderr)
    logger = logging.getLogger("transformers")
    logger.addHandler(handler)
    try:
        action()  # type: ignore[operator]
        raised = ""
    except Exception:  # the error is the text under test
        raised = traceback.format_exc()
    finally:
        logger.removeHandler(handler)
    captured = capfd.readouterr()
    return captured.out + captured.err + raised


def bert(**overrides: int) -> transformers.BertModel:
    config = dict(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
    )
    config.update(overrides)
    return transformers.BertModel(transformers.BertConfig(**config))


def gpt2(vocab: int = 100) -> transformers.GPT2LMHeadModel:
    config = transformers.GPT2Config(
        vocab_size=vocab, n_embd=32, n_layer=2, n_head=2, n_positions=64
    )
    return transformers.GPT2LMHeadModel(config)


def clip_vision() -> transformers.CLIPVisionModel:
    config = transformers.CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=32,
        patch_size=8,
    )
    return transformers.CLIPVisionModel(config)


@pytest.fixture
def warnings_shown() -> object:
    """transformers at its default verbosity (warnings), whatever an earlier test set."""
    before = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_warning()
    yield
    transformers.logging.set_verbosity(before)


@pytest.mark.usefixtures("warnings_shown")
def test_a_checkpoint_of_more_layers_read_from_the_v5_load_report(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # The report merges keys differing only in their index: ``encoder.layer.{2, 3}.…``; the
    # save's ``Writing model shards`` bar, run to its total, is no missing shard.
    text = shown(
        capfd,
        lambda: (
            bert(num_hidden_layers=4).save_pretrained(tmp_path),
            transformers.BertModel.from_pretrained(tmp_path, num_hidden_layers=2),
        ),
    )
    assert "encoder.layer.{2, 3}." in text
    top = weightfit.explain(text).findings[0]
    assert top.category == "wrong_variant"
    assert "encoder.layer.3.attention.self.query.weight" in top.params


@pytest.mark.usefixtures("warnings_shown")
def test_a_model_of_more_layers_after_a_save_in_one_shard_is_another_depth(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    text = shown(
        capfd,
        lambda: (
            bert().save_pretrained(tmp_path),
            transformers.BertModel.from_pretrained(tmp_path, num_hidden_layers=4),
        ),
    )
    assert "Writing model shards" in text
    top = weightfit.explain(text).findings[0]
    assert top.category == "wrong_variant"
    assert top.evidence["side"] == "model"


def test_a_merged_index_range_stands_for_every_index_between() -> None:
    from weightfit.explain.transformers_messages import report_keys

    assert report_keys("h.{0...11}.w")[::11] == ["h.0.w", "h.11.w"]
    assert len(report_keys("h.{0, 1}.e.{0...63}.w")) == 128


peft = pytest.importorskip("peft")


def test_a_saved_copy_of_a_resized_embedding_is_a_vocabulary_resize(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # ``modules_to_save`` keeps its copy under ``wte.modules_to_save.default``: still ``wte``.
    base = gpt2()
    base.resize_token_embeddings(110)
    config = peft.LoraConfig(target_modules=["c_attn"], modules_to_save=["wte"])
    peft.get_peft_model(base, config).save_pretrained(tmp_path)
    text = shown(capfd, lambda: peft.PeftModel.from_pretrained(gpt2(), tmp_path))
    assert "wte.modules_to_save.default.weight" in text
    top = weightfit.explain(text).findings[0]
    assert top.category == "vocab_resize"
    assert "110 rows in the checkpoint, 100 in the model" in top.message


def test_an_embedding_lora_of_other_token_rows_is_a_vocabulary_resize(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    base = gpt2()
    base.resize_token_embeddings(110)
    config = peft.LoraConfig(target_modules=["c_attn", "wte"])
    peft.get_peft_model(base, config).save_pretrained(tmp_path)
    text = shown(capfd, lambda: peft.PeftModel.from_pretrained(gpt2(), tmp_path))
    assert "lora_embedding_A" in text
    top = weightfit.explain(text).findings[0]
    assert top.category == "vocab_resize"
    assert (top.evidence["checkpoint_rows"], top.evidence["model_rows"]) == (110, 100)


def test_an_adapter_for_a_wider_base_stays_a_lora_mismatch(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # Must not fire: every layer is wider, not an embedding's rows alone.
    wide = transformers.GPT2LMHeadModel(
        transformers.GPT2Config(vocab_size=100, n_embd=64, n_layer=2, n_head=2, n_positions=64)
    )
    config = peft.LoraConfig(target_modules=["c_attn", "wte"])
    peft.get_peft_model(wide, config).save_pretrained(tmp_path)
    text = shown(capfd, lambda: peft.PeftModel.from_pretrained(gpt2(), tmp_path))
    assert weightfit.explain(text).findings[0].category == "lora_mismatch"


@pytest.mark.usefixtures("warnings_shown")
def test_a_vision_tower_loaded_as_a_text_tower_is_another_model(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # transformers 5 quotes the types in backticks; the towers share a position table's name.
    clip_vision().save_pretrained(tmp_path)
    text = shown(capfd, lambda: transformers.CLIPTextModel.from_pretrained(tmp_path))
    assert "of type `clip_vision_model` to instantiate a model of type `clip_text_model`" in text
    top = weightfit.explain(text).findings[0]
    assert top.category == "unrelated"
    assert "embeddings.position_embedding.weight" in top.params


def test_a_composite_model_type_read_by_its_own_part_is_no_other_model() -> None:
    # Must not fire: a part's class reads its composite's checkpoint (transformers' wording).
    text = (
        "You are using a model of type `clip` to instantiate a model of type "
        "`clip_text_model`. This may be expected if you are loading a checkpoint that shares "
        "a subset of the architecture\nRuntimeError: Error(s) in loading state_dict for "
        'CLIPTextModel:\n\tMissing key(s) in state_dict: "final_layer_norm.weight". \n'
    )
    assert all(f.category != "unrelated" for f in weightfit.explain(text).findings)


accelerate = pytest.importorskip("accelerate")


def test_a_wrapper_prefix_met_by_accelerate_s_name_walk_is_a_prefix(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from safetensors.torch import save_file

    def net() -> torch.nn.Module:
        return torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))

    path = tmp_path / "model.safetensors"
    save_file({f"module.{k}": v for k, v in net().state_dict().items()}, path)
    with accelerate.init_empty_weights():
        model = net()
    text = shown(
        capfd,
        lambda: accelerate.load_checkpoint_in_model(
            model, str(path), device_map={"": "cpu"}, strict=True
        ),
    )
    assert "object has no attribute 'module'" in text
    top = weightfit.explain(text).findings[0]
    assert (top.category, top.evidence["prefix"]) == ("prefix", "module.")


def test_a_bare_model_asked_for_module_outside_a_load_names_no_prefix() -> None:
    # Must not fire: a training script's ``model.module.state_dict()`` on an unwrapped model.
    model = torch.nn.Linear(2, 2)
    try:
        model.module.state_dict()
    except AttributeError:
        text = traceback.format_exc()
    report = weightfit.explain(text + "\nwhile saving the checkpoint\n", resemble=False)
    assert all(f.evidence.get("wrapper_attribute") is None for f in report.findings)


def test_a_whole_model_handed_to_load_state_dict_is_a_pickled_model(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(2, 2), path)
    loaded = torch.load(path, weights_only=False)
    try:
        torch.nn.Linear(2, 2).load_state_dict(loaded)
    except TypeError:
        text = traceback.format_exc()
    assert (
        "Expected state_dict to be dict-like, got <class 'torch.nn.modules.linear.Linear'>" in text
    )
    top = weightfit.explain(text).findings[0]
    assert (top.category, top.evidence["object_class"]) == ("unrelated", "Linear")


def test_none_handed_to_load_state_dict_is_no_pickled_model() -> None:
    # Must not fire: a loader that returned nothing is no object of the file.
    try:
        torch.nn.Linear(2, 2).load_state_dict(None)  # type: ignore[arg-type]
    except TypeError:
        text = traceback.format_exc()
    findings = weightfit.explain(text, resemble=False).findings
    assert all(f.evidence.get("object_class") is None for f in findings)


@pytest.mark.usefixtures("warnings_shown")
def test_the_v5_load_reports_legend_names_no_tensor(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # A CLIP vision tower loaded as the text model: the report's names are short, so its
    # legend ("- MISSING:\tthose params …", "- MISMATCH:\tckpt weights were loaded …") holds
    # the paste's longest lines. They are sentences, not wrapped lines of one key list.
    clip_vision().save_pretrained(tmp_path / "vision")
    text = shown(
        capfd,
        lambda: transformers.CLIPTextModel.from_pretrained(
            tmp_path / "vision", ignore_mismatched_sizes=True
        ),
    )
    assert "- MISMATCH:" in text or "- MISSING:" in text  # the legend is in the paste
    report = weightfit.explain(text)
    listed = {name for f in report.findings for name in f.params}
    assert not listed & {"weight", "weights", "params"}
    assert report.findings[0].category == "unrelated"


@pytest.mark.usefixtures("warnings_shown")
def test_another_tasks_head_is_no_renamed_module(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # BertForMaskedLM's head (cls.predictions.transform.dense, .LayerNorm) read by the
    # sequence classifier (bert.pooler.dense, classifier): the two dense layers share a
    # tail by chance, the LayerNorm beside one of them has no counterpart.
    transformers.BertForMaskedLM(bert().config).save_pretrained(tmp_path / "mlm")
    text = shown(
        capfd,
        lambda: transformers.BertForSequenceClassification.from_pretrained(tmp_path / "mlm"),
    )
    report = weightfit.explain(text)
    assert "rename" not in {f.category for f in report.findings}
    assert {"unexpected", "missing"} <= {f.category for f in report.findings}
