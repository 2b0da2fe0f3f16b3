"""The published schemas of lint, fix, apply and adapter merge hold for real output."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from referencing import Registry, Resource

torch = pytest.importorskip("torch")
from safetensors.torch import load_file, save_file  # noqa: E402

from adapter_builders import tiny_llama, train_lora  # noqa: E402

REPORT = Path(__file__).resolve().parents[1] / "src" / "weightfit" / "report"
SCHEMAS = {path.name.split(".")[0]: json.loads(path.read_text()) for path in REPORT.glob("*.json")}
REGISTRY = Registry().with_resources(
    (schema["$id"], Resource.from_contents(schema)) for schema in SCHEMAS.values()
)


def validate(kind: str, text: str) -> dict:
    data = json.loads(text)
    jsonschema.Draft202012Validator(SCHEMAS[kind], registry=REGISTRY).validate(data)
    return data


def test_every_schema_is_valid_and_named() -> None:
    assert {"lint", "fix", "apply", "merge"} <= set(SCHEMAS)
    for kind, schema in SCHEMAS.items():
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$id"].startswith(f"https://weightfit.dev/schemas/{kind}-")


def test_lint_json_with_and_without_fixes(tmp_path: Path, run_cli) -> None:
    root = tmp_path / "transformer"
    root.mkdir()
    (root / "config.json").write_text(json.dumps({"_class_name": "SanaTransformer2DModel"}))
    for shard in (1, 2):
        name = f"diffusion_pytorch_model-0000{shard}-of-00002.safetensors"
        save_file({f"w{shard}": torch.zeros(4)}, root / name)
    save_file({"w1": torch.zeros(4), "w2": torch.zeros(4)}, root / "model.bf16.safetensors")
    plain = validate("lint", run_cli("lint", root, "--format", "json").out)
    assert plain["violations"] and "fix" not in plain
    dry = validate("lint", run_cli("lint", root, "--json", "--fix", "--dry-run").out)
    assert dry["fix"]["dry_run"] is True
    unsafe = run_cli("lint", root, "--json", "--fix", "--unsafe-fixes", "--dry-run").out
    assert validate("lint", unsafe)["fix"]["applied"]


def test_fix_and_apply_json(tmp_path: Path, run_cli) -> None:
    weights = {"weight": torch.randn(2, 2), "bias": torch.zeros(2)}
    save_file({f"module.{k}": v for k, v in weights.items()}, tmp_path / "prefixed.safetensors")
    save_file(weights, tmp_path / "model.safetensors")
    argv = ("fix", tmp_path / "prefixed.safetensors", "--against", tmp_path / "model.safetensors")
    fixed = validate("fix", run_cli(*argv, "-o", tmp_path / "fixed", "--json").out)
    assert fixed["fixed"] and fixed["applied"]["tensors"] == 2
    planned = validate("fix", run_cli(*argv, "-o", tmp_path / "plan", "--plan-only", "--json").out)
    assert planned["applied"] is None
    applied = run_cli(
        "apply",
        tmp_path / "plan" / "weightfit-plan.yaml",
        tmp_path / "prefixed.safetensors",
        "--against",
        tmp_path / "model.safetensors",
        "--dtype",
        "bf16",
        "-o",
        tmp_path / "applied",
        "--json",
    )
    assert validate("apply", applied.out)["verified_against"]
    save_file({"other": torch.zeros(3)}, tmp_path / "other.safetensors")
    unfixed = run_cli(
        "fix",
        tmp_path / "other.safetensors",
        "--against",
        tmp_path / "model.safetensors",
        "-o",
        tmp_path / "unfixed",
        "--json",
    )
    assert unfixed.code == 1
    assert validate("fix", unfixed.out)["unfixed"]


def test_fix_export_json_is_a_fix_output_with_the_mapping(tmp_path: Path, run_cli) -> None:
    tiny_llama(vocab=64, hidden=16, layers=1).save_pretrained(tmp_path / "model")
    state = load_file(tmp_path / "model" / "model.safetensors")
    save_file({f"module.{k}": v for k, v in state.items()}, tmp_path / "prefixed.safetensors")
    argv = ("fix", tmp_path / "prefixed.safetensors", "--against", tmp_path / "model")
    exported = run_cli(*argv, "-o", tmp_path / "out", "--export", "key-mapping", "--json")
    assert exported.code == 0, exported.err
    data = validate("fix", exported.out)
    assert (
        data["key_mapping"]
        == {"^module\\.": ""}
        == json.loads((tmp_path / "out" / "key_mapping.json").read_text())
    )
    assert data["applied"] is None


def test_adapter_merge_json(tmp_path: Path, run_cli) -> None:
    tiny_llama(vocab=64, hidden=16, layers=1).save_pretrained(tmp_path / "base")
    tiny_llama(vocab=64, hidden=32, layers=1).save_pretrained(tmp_path / "other-base")
    train_lora(tiny_llama(vocab=64, hidden=16, layers=1), tmp_path / "adapter")
    argv = ("adapter", "merge", tmp_path / "adapter", "--json")
    merged = run_cli(*argv, "--base", tmp_path / "base", "-o", tmp_path / "merged")
    assert validate("merge", merged.out)["merged"] is True
    refused = run_cli(*argv, "--base", tmp_path / "other-base", "-o", tmp_path / "refused")
    assert refused.code == 1
    assert validate("merge", refused.out)["output"] is None
