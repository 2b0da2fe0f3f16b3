"""The PEFT matrix: every way PEFT saves a LoRA, checked and merged like PEFT itself.

Each case of ``tests/peft_matrix.py`` is built with the installed PEFT; then
``check_adapter`` must name the right category with the right numbers, and
``merge_adapter`` must write what PEFT's ``merge_and_unload()`` computes
(≤ 1e-5), as a model folder that ``from_pretrained`` loads with nothing
missing, unexpected or mismatched. The layouts older PEFT versions wrote
(``tests/data/peft/<version>/``, captured by ``capture.py``) are rebuilt as
adapter folders with the captured names, shapes, dtypes and config, and held
to the same two tests against today's base, with today's PEFT as the reference.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import torch
from safetensors.torch import load_file, save_file

import peft_matrix
import weightfit
from peft_matrix import ADDED, VOCAB, Built
from weightfit.errors import UnsupportedAdapter
from weightfit.findings import Finding, Report
from weightfit.peft.config import PEFT_PREFIX
from weightfit.plan import Plan
from weightfit.report.check import SCHEMA_PATH

TOLERANCE = 1e-5
DATA = Path(__file__).parent / "data" / "peft"
CAPTURED = sorted(
    (path.parent.name, path.stem)
    for path in DATA.glob("*/*.json")
    if not path.name.endswith(".config.json") and path.name != "unsupported.json"
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    """Every case built once with the installed PEFT."""
    cases = {}
    for name, build in peft_matrix.CASES.items():
        cases[name] = build(tmp_path_factory.mktemp(name))
    return cases


def problems(report: Report) -> list[str]:
    """The categories of the findings that make a report incompatible."""
    return [f.category for f in report.findings if f.severity in ("error", "warning")]


def only(report: Report, category: str, severity: str | None = None) -> Finding:
    found = [f for f in report.by_category(category) if severity is None or f.severity == severity]
    assert len(found) == 1, [(f.category, f.severity, f.message) for f in report.findings]
    return found[0]


def loaded(case: Built, out: Path) -> dict[str, torch.Tensor]:
    """The merged folder through ``from_pretrained``: strict (nothing missing, left or resized)."""
    import transformers

    cls = getattr(transformers, case.model_class)
    model, info = cls.from_pretrained(out, output_loading_info=True)
    assert not any(info[key] for key in ("missing_keys", "unexpected_keys", "mismatched_keys"))
    return {name: value.detach() for name, value in model.state_dict().items()}


def assert_merge_equals_peft(case: Built, out: Path) -> None:
    got = loaded(case, out)
    want = peft_matrix.peft_merged(case)
    assert got.keys() == want.keys()
    for name, rows in case.fresh_rows.items():
        # Rows resizing creates: transformers draws them at random, weightfit takes the mean.
        assert got[name].shape == want[name].shape
        got[name], want[name] = got[name][:rows], want[name][:rows]
    worst = max(float((got[n].float() - want[n].float()).abs().max()) for n in got)
    assert worst <= TOLERANCE


def assert_merge_changed_the_base(case: Built, out: Path) -> None:
    """A merge equal to PEFT's must also differ from the base (the adapter was trained)."""
    import transformers

    cls = getattr(transformers, case.model_class)
    base = cls.from_pretrained(case.base).state_dict()
    merged = loaded(case, out)
    same_shape = [n for n in base if n in merged and base[n].shape == merged[n].shape]
    assert any(not torch.equal(base[n], merged[n]) for n in same_shape)


# What check_adapter must say for each case: the incompatible categories, then per-case numbers.
EXPECTED: dict[str, list[str]] = {
    "resized_modules_to_save": ["vocab_resize"],
    "resized_modules_to_save_off": ["vocab_resize"],
    "resized_tied": ["vocab_resize"],
    "resized_saved_embeddings": ["vocab_resize"],
    "resized_unsaved_embeddings": ["vocab_resize"],
    "classifier_head": [],
    "trainable_tokens": [],
    "trainable_tokens_tied": [],
    "rank_alpha_pattern": [],
    "alpha_pattern_keys": [],
    "layers_to_transform": [],
    "target_parameters": [],
    "target_parameters_expert_files": [],
    "embedding_lora": [],
    "conv_lora": [],
    "rslora": [],
    "lora_bias": [],
    "bias_all": [],
    "bias_lora_only": [],
    "dora": [],
    "nested_language_model": [],
}


MODULES = {
    "trainable_tokens": 2,
    "trainable_tokens_tied": 2,
    "rank_alpha_pattern": 6,
    "layers_to_transform": 2,
    "embedding_lora": 3,
    "conv_lora": 8,
}
"""LoRA modules each case adapts (the others: q_proj and v_proj, or two of a kind, in 2 layers)."""


def check_numbers(name: str, report: Report) -> None:
    """The numbers each case's report must carry."""
    assert report.summary["unexpected"] == 0
    modules = MODULES.get(name, 4)
    fitted = [f for f in report.by_category("lora_mismatch") if f.severity == "info"]
    assert f"{modules} of {modules} modules fit" in fitted[0].message
    if name.startswith("resized"):
        resize = only(report, "vocab_resize")
        if name == "resized_unsaved_embeddings":
            assert resize.severity == "warning"
            assert (resize.evidence["tokenizer_vocab"], resize.evidence["base_rows"]) == (321, 320)
            return
        assert (resize.evidence["checkpoint_rows"], resize.evidence["model_rows"]) == (321, 320)
        assert resize.evidence["difference"] == ADDED
        assert resize.evidence["tokenizer_vocab"] == VOCAB + ADDED
        assert "exactly 321 tokens" in resize.message
        assert resize.evidence["input_embeddings"] == ["model.embed_tokens.weight"]
        assert resize.evidence["output_heads"] == ["lm_head.weight"]
        assert "resize_token_embeddings(321)" in resize.fix_note
        return
    fits = only(report, "lora_mismatch", "info") if "tokens" not in name else None
    if name == "rank_alpha_pattern":
        assert fits is not None
        # q_proj 8/4, v_proj 8/2, down_proj 3/4 (layer 0) and 3/6 (layer 1 by full name).
        assert fits.evidence["scales"] == {"2.0": 2, "4.0": 2, "0.75": 1, "0.5": 1}
        assert fits.evidence["ranks"] == {4: 3, 2: 2, 6: 1}
    elif name == "alpha_pattern_keys":
        # Saved with its peft_version (PEFT >= 0.18): trained with today's reading, no question.
        assert not [f for f in report.findings if f.severity == "warning"]
    elif name == "rslora":
        assert fits is not None and fits.evidence["scales"] == {"4.0": 4}
    elif name == "layers_to_transform":
        assert fits is not None and "2 of 2 modules fit" in fits.message
    elif name.startswith("target_parameters"):
        assert fits is not None and "4 of 4 modules fit" in fits.message
        assert fits.evidence["ranks"] == {4: 4}  # r·E rows of A read per expert
    elif "tokens" in name:
        tokens = [f for f in report.by_category("lora_mismatch") if "trainable token" in f.message]
        indices = [3, 7] if name.endswith("tied") else [3, 7, 319]
        assert len(tokens) == 1 and tokens[0].evidence["token_indices"] == indices
    elif name == "dora":
        assert fits is not None and fits.evidence["use_dora"] is True


@pytest.mark.parametrize("name", list(peft_matrix.CASES))
def test_check_names_the_cause_with_its_numbers(name: str, built: dict[str, Built]) -> None:
    case = built[name]
    report = weightfit.check_adapter(case.adapter, case.base)
    assert problems(report) == EXPECTED[name], [f.message for f in report.findings]
    check_numbers(name, report)


@pytest.mark.parametrize("name", [n for n in peft_matrix.CASES if n != "dora"])
def test_merge_equals_peft_and_loads_strict(
    name: str, built: dict[str, Built], tmp_path: Path
) -> None:
    case = built[name]
    result = weightfit.merge_adapter(case.adapter, case.base, tmp_path / "merged")
    assert result.merged, [f.message for f in result.report.findings]
    assert_merge_equals_peft(case, tmp_path / "merged")
    assert_merge_changed_the_base(case, tmp_path / "merged")


def test_the_issue_case_reports_what_the_merge_resized_and_ignored(
    built: dict[str, Built], tmp_path: Path, run_cli: Any
) -> None:
    case = built["resized_modules_to_save"]
    out = tmp_path / "merged"
    result = run_cli("adapter", "merge", case.adapter, "--base", case.base, "-o", out, "--json")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    assert data["resized"] == {
        "lm_head.weight": {"rows_before": 320, "rows_after": 321},
        "model.embed_tokens.weight": {"rows_before": 320, "rows_after": 321},
    }
    assert data["added_rows"] == 1
    assert sorted(data["replaced"]) == ["lm_head.weight", "model.embed_tokens.weight"]
    assert sorted(data["ignored"]) == [
        "base_model.model.lm_head.modules_to_save.weight",
        "base_model.model.lm_head.original_module.weight",
        "base_model.model.model.embed_tokens.modules_to_save.weight",
        "base_model.model.model.embed_tokens.original_module.weight",
    ]
    assert json.loads((out / "config.json").read_text())["vocab_size"] == 321
    check = run_cli("adapter", "check", case.adapter, "--base", case.base)
    assert check.code == 1
    assert "num_classes" not in check.out and "wrong_variant" not in check.out


def test_unsaved_embeddings_are_padded_to_the_tokenizer(
    built: dict[str, Built], tmp_path: Path
) -> None:
    case = built["resized_unsaved_embeddings"]
    result = weightfit.merge_adapter(case.adapter, case.base, tmp_path / "merged")
    assert result.resized == {"model.embed_tokens.weight": (320, 321), "lm_head.weight": (320, 321)}
    assert result.replaced == [] and result.added_rows == 1


def test_a_tied_head_the_adapter_untied_is_written_and_untied(
    built: dict[str, Built], tmp_path: Path
) -> None:
    case = built["resized_tied"]
    report = weightfit.check_adapter(case.adapter, case.base)
    tied = only(report, "tied_weights")
    assert tied.evidence["tied"] == {"lm_head.weight": "model.embed_tokens.weight"}
    result = weightfit.merge_adapter(case.adapter, case.base, tmp_path / "merged")
    assert result.added == ["lm_head.weight"]
    assert result.resized == {"model.embed_tokens.weight": (320, 321)}
    config = json.loads((tmp_path / "merged" / "config.json").read_text())
    assert (config["tie_word_embeddings"], config["vocab_size"]) == (False, 321)


def test_dora_is_refused_with_its_reason(built: dict[str, Built], tmp_path: Path) -> None:
    case = built["dora"]
    with pytest.raises(UnsupportedAdapter) as info:
        weightfit.merge_adapter(case.adapter, case.base, tmp_path / "merged")
    assert "DoRA (use_dora)" in info.value.message
    assert "magnitude vector" in info.value.message
    assert not (tmp_path / "merged").exists()


def test_a_head_for_another_label_count_stays_num_classes(
    built: dict[str, Built], tmp_path: Path
) -> None:
    """The vocabulary rule reads the config: a 3-way head on a 2-way base is still a label set."""
    from transformers import LlamaForSequenceClassification

    case = built["classifier_head"]
    config = json.loads((case.base / "config.json").read_text())
    torch.manual_seed(0)
    other = LlamaForSequenceClassification(
        peft_matrix._llama_config(num_labels=2, pad_token_id=config.get("pad_token_id"))
    )
    other.save_pretrained(tmp_path / "two")
    report = weightfit.check_adapter(case.adapter, tmp_path / "two")
    head = only(report, "num_classes")
    assert (head.evidence["checkpoint_classes"], head.evidence["model_classes"]) == (3, 2)
    assert not report.by_category("vocab_resize")


def materialize(version: str, name: str, folder: Path) -> Path:
    """An adapter folder with a captured version's names, shapes, dtypes and config."""
    record = json.loads((DATA / version / f"{name}.json").read_text())
    generator = torch.Generator().manual_seed(2)
    tensors = {}
    for tensor, info in record["tensors"].items():
        dtype = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}[info["dtype"]]
        value = torch.randn(info["shape"], generator=generator) * 0.05
        tensors[tensor] = value.to(dtype)
    folder.mkdir(parents=True)
    save_file(tensors, folder / "adapter_model.safetensors", metadata=record["metadata"])
    shutil.copy(DATA / version / f"{name}.config.json", folder / "adapter_config.json")
    return folder


def materialize_beside(today: Built, version: str, name: str, folder: Path) -> Path:
    """A captured version's adapter folder with today's tokenizer files beside it."""
    adapter = materialize(version, name, folder)
    for extra in today.adapter.glob("tokenizer*.json"):
        shutil.copy(extra, adapter)
    return adapter


def test_captured_fixtures_record_their_versions() -> None:
    assert {version for version, _ in CAPTURED} >= {"0.6.2", "0.13.2"}
    for version, name in CAPTURED:
        record = json.loads((DATA / version / f"{name}.json").read_text())
        assert record["versions"]["peft"] == version and record["case"] == name
        config = json.loads((DATA / version / f"{name}.config.json").read_text())
        assert config["peft_type"] == "LORA"


LEGACY = {
    ("0.6.2", "alpha_pattern_keys"): "another alpha from adapter_config.json in PEFT since 0.15",
    ("0.13.2", "alpha_pattern_keys"): "another alpha from adapter_config.json in PEFT since 0.15",
    ("0.6.2", "bias_all"): "trained biases",
    ("0.6.2", "bias_lora_only"): "trained biases",
    ("0.6.2", "rank_alpha_pattern"): "whole module path",
    ("0.13.2", "rank_alpha_pattern"): "whole module path",
}
"""Layouts today's PEFT reads otherwise than the version that wrote them: a warning each."""

OLDER_LAYOUT = {("0.13.2", "nested_language_model"): "modules_to_save lm_head fails to load"}
"""Adapters saved for a model's transformers 4 layout: a ``version`` error each (see below)."""


def test_alpha_patterns_read_two_ways_are_a_question_for_configs_older_peft_wrote(
    built: dict[str, Built], tmp_path: Path
) -> None:
    today = built["alpha_pattern_keys"]
    adapter = materialize_beside(today, "0.13.2", "alpha_pattern_keys", tmp_path / "adapter")
    drift = only(weightfit.check_adapter(adapter, today.base), "lora_mismatch", "warning")
    # v_proj: today alpha 16 (its own key), before 0.15 the rank key's alpha (default 8);
    # layer 1's down_proj: today 2 (whole path), before 0.15 no key matched (8).
    assert sorted(drift.evidence["modules"]) == [
        "model.layers.0.self_attn.v_proj",
        "model.layers.1.mlp.down_proj",
        "model.layers.1.self_attn.v_proj",
    ]
    assert (drift.evidence["alpha"], drift.evidence["alpha_before_0_15"]) == (16.0, 8.0)
    assert "scale 8; before 0.15 alpha 8, scale 4" in drift.message


@pytest.mark.parametrize(("version", "name"), CAPTURED)
def test_older_peft_layouts_check_and_merge_like_today(
    version: str, name: str, built: dict[str, Built], tmp_path: Path
) -> None:
    today = built[name]
    adapter = materialize_beside(today, version, name, tmp_path / "adapter")
    report = weightfit.check_adapter(adapter, today.base)
    legacy = LEGACY.get((version, name))
    older = OLDER_LAYOUT.get((version, name))
    expected = (["lora_mismatch"] if legacy else []) + (["version"] if older else [])
    assert problems(report) == expected + EXPECTED[name], [f.message for f in report.findings]
    assert report.summary["unexpected"] == 0
    if name == "dora":
        return
    result = weightfit.merge_adapter(adapter, today.base, tmp_path / "merged")
    assert result.merged
    reference = adapter
    if older:
        # The finding's renames give the adapter today's PEFT would save: the reference.
        moved = only(report, "version")
        assert older in moved.message
        reference = with_fix(adapter, moved, tmp_path / "renamed")
        assert set(load_file(reference / "adapter_model.safetensors")) == set(
            load_file(today.adapter / "adapter_model.safetensors")
        )
    if legacy:
        warning = only(report, "lora_mismatch", "warning")
        assert legacy in warning.message
        reference = with_fix(reference, warning, tmp_path / "fixed")
    fresh = dict(today.fresh_rows)
    for added in result.added or []:
        if PEFT_PREFIX + added not in load_file(adapter / "adapter_model.safetensors"):
            # An untied head the adapter did not save (PEFT 0.6): its new rows are drawn.
            fresh[added] = VOCAB
    case = Built(today.base, reference, today.model_class, today.rows, fresh)
    assert_merge_equals_peft(case, tmp_path / "merged")


def with_fix(adapter: Path, warning: Finding, folder: Path) -> Path:
    """The adapter as the warning says to fix it, for today's PEFT to read as trained."""
    if warning.fix:
        weightfit.apply(
            Plan(warning.fix),
            adapter / "adapter_model.safetensors",
            folder,
            basename="adapter_model",
        )
    else:
        shutil.copytree(adapter, folder)
    config = json.loads((adapter / "adapter_config.json").read_text())
    if "config_rank" in warning.evidence:
        key = warning.evidence["rank_pattern_key"]
        config["rank_pattern"][key] = warning.evidence["file_rank"]
    (folder / "adapter_config.json").write_text(json.dumps(config))
    return folder


def _peft_attached(case: Built, adapter: Path) -> Any:
    """Today's PEFT attaching ``adapter`` to today's model of ``case``'s base."""
    import transformers
    from peft import PeftModel

    model = getattr(transformers, case.model_class).from_pretrained(case.base)
    return PeftModel.from_pretrained(model, adapter)


def test_an_adapter_for_the_transformers_4_layout_is_what_peft_rejects(
    built: dict[str, Built], tmp_path: Path
) -> None:
    """PEFT 0.13.2's Llava adapter: today's PEFT renames its LoRA tensors but not lm_head's copy."""
    case = built["nested_language_model"]
    adapter = materialize("0.13.2", "nested_language_model", tmp_path / "adapter")
    report = weightfit.check_adapter(adapter, case.base)
    assert not report.compatible
    moved = only(report, "version", "error")
    assert "language_model.lm_head → lm_head" in moved.message
    assert moved.evidence["converted_on_load"] == 8
    assert moved.evidence["not_converted"] == ["base_model.model.language_model.lm_head.weight"]
    built_base = weightfit.check_adapter(adapter, case.base / "config.json")
    assert problems(built_base) == ["version"] and built_base.summary["unexpected"] == 0
    assert only(built_base, "version").evidence == moved.evidence
    with pytest.raises(KeyError) as info:
        _peft_attached(case, adapter)
    assert moved.evidence["load_error"] == f"KeyError: {info.value}"
    renamed = with_fix(adapter, moved, tmp_path / "renamed")
    _peft_attached(case, renamed)
    again = weightfit.check_adapter(renamed, case.base)
    assert again.compatible and not again.by_category("version")


def test_lora_tensors_alone_in_the_transformers_4_layout_attach_and_are_noted(
    built: dict[str, Built], tmp_path: Path
) -> None:
    case = built["nested_language_model"]
    saved = materialize("0.13.2", "nested_language_model", tmp_path / "saved")
    tensors = load_file(saved / "adapter_model.safetensors")
    lora = {name: value for name, value in tensors.items() if ".lora_" in name}
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    save_file(lora, adapter / "adapter_model.safetensors", metadata={"format": "pt"})
    config = json.loads((saved / "adapter_config.json").read_text())
    (adapter / "adapter_config.json").write_text(json.dumps({**config, "modules_to_save": None}))
    report = weightfit.check_adapter(adapter, case.base)
    assert report.compatible
    note = only(report, "version", "info")
    assert note.evidence["converted_on_load"] == 8 and note.evidence["not_converted"] == []
    attached = _peft_attached(case, adapter).state_dict()
    old = "base_model.model.language_model.model.layers.1.self_attn.v_proj.lora_B.weight"
    new = "base_model.model.model.language_model.layers.1.self_attn.v_proj.lora_B.default.weight"
    assert torch.equal(attached[new], lora[old])


@pytest.mark.parametrize(("name", "code"), [("resized_modules_to_save", 1), ("rslora", 0)])
def test_check_of_an_adapter_folder_is_the_adapter_check(
    name: str, code: int, built: dict[str, Built], run_cli: Any
) -> None:
    """``check ADAPTER --against BASE`` reads PEFT's layout: no wrapper copy is "unexpected"."""
    case = built[name]
    checked = run_cli("check", case.adapter, "--against", case.base, "--json")
    adapter = run_cli("adapter", "check", case.adapter, "--base", case.base, "--json")
    assert (checked.code, adapter.code) == (code, code), checked.err
    got, want = json.loads(checked.out), json.loads(adapter.out)
    jsonschema.validate(got, json.loads(SCHEMA_PATH.read_text()))
    assert got["findings"] == want["findings"] and got["summary"] == want["summary"]
    assert got["summary"]["unexpected"] == 0 and got["summary"]["missing"] == 0
    assert "read as a PEFT adapter" in got["hints"][0]
    assert f"weightfit adapter merge {case.adapter} --base {case.base} -o OUT" in got["hints"][0]
    weights = run_cli(
        "check", case.adapter / "adapter_model.safetensors", "--against", case.base, "--json"
    )
    assert weights.code == code and json.loads(weights.out)["findings"] == want["findings"]
    if name == "resized_modules_to_save":
        resize = [f for f in got["findings"] if f["category"] == "vocab_resize"]
        assert [
            (f["evidence"]["checkpoint_rows"], f["evidence"]["model_rows"]) for f in resize
        ] == [(321, 320)]


def test_fix_of_an_adapter_renames_it_into_an_adapter_peft_loads(
    built: dict[str, Built], tmp_path: Path, run_cli: Any
) -> None:
    case = built["nested_language_model"]
    adapter = materialize("0.13.2", "nested_language_model", tmp_path / "adapter")
    out = tmp_path / "fixed"
    result = run_cli("fix", adapter, "--against", case.base, "-o", out)
    assert result.code == 0, result.out + result.err
    assert {p.name for p in out.iterdir()} == {
        "adapter_config.json",
        "adapter_model.safetensors",
        "weightfit-plan.yaml",
    }
    assert set(load_file(out / "adapter_model.safetensors")) == set(
        load_file(case.adapter / "adapter_model.safetensors")
    )
    _peft_attached(case, out)
    assert weightfit.check_adapter(out, case.base).compatible
    again = weightfit.fix(adapter / "adapter_model.safetensors", case.base, tmp_path / "again")
    assert (
        again.fixed
        and load_file(out / "adapter_model.safetensors").keys()
        == load_file(tmp_path / "again" / "adapter_model.safetensors").keys()
    )


def test_fix_of_a_resized_adapter_leaves_the_resize_to_the_merge(
    built: dict[str, Built], tmp_path: Path
) -> None:
    case = built["resized_modules_to_save"]
    result = weightfit.fix(case.adapter, case.base, tmp_path / "fixed")
    assert not result.fixed
    assert [f.category for f in result.unfixed] == ["vocab_resize"]
    assert "weightfit adapter merge does this itself" in result.unfixed[0].fix_note
    assert sorted(p.name for p in (tmp_path / "fixed").iterdir()) == ["weightfit-plan.yaml"]


@pytest.mark.parametrize(("version", "name"), CAPTURED)
def test_what_the_check_calls_compatible_todays_peft_attaches(
    version: str, name: str, built: dict[str, Built], tmp_path: Path
) -> None:
    """No confident wrong answer: each older layout called compatible loads in today's PEFT."""
    case = built[name]
    adapter = materialize_beside(case, version, name, tmp_path / "adapter")
    if not weightfit.check_adapter(adapter, case.base).compatible:
        return
    attached = list(_peft_attached(case, adapter).state_dict().values())
    for tensor, value in load_file(adapter / "adapter_model.safetensors").items():
        if ".original_module." not in tensor:  # the untrained copy: PEFT keeps the base's
            assert any(v.shape == value.shape and torch.equal(v, value) for v in attached), tensor
