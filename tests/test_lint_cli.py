"""``weightfit lint`` through the real entry point: lines, JSON, SARIF, exit codes, fixes."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

torch = pytest.importorskip("torch")
from safetensors.torch import save_file  # noqa: E402

SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"


def _folder(root: Path, *, mislabelled: bool = True) -> Path:
    root.mkdir()
    (root / "config.json").write_text(json.dumps({"_class_name": "AutoencoderKL"}))
    dtype = torch.float32 if mislabelled else torch.bfloat16
    save_file({"a": torch.zeros(4)}, str(root / "diffusion_pytorch_model.safetensors"))
    save_file(
        {"a": torch.zeros(4, dtype=dtype)}, str(root / "diffusion_pytorch_model.bf16.safetensors")
    )
    return root


def test_text_lines_and_exit_1(tmp_path, run_cli):
    root = _folder(tmp_path / "vae")
    result = run_cli("lint", root)
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0].startswith(
        f"{root}/diffusion_pytorch_model.bf16.safetensors:WF105 variant-dtype-mismatch: "
    )
    assert lines[1].startswith(
        f"{root}/diffusion_pytorch_model.bf16.safetensors:WF107 duplicate-weight-sets: "
    )
    assert lines[-1] == "Found 2 problems (1 with --fix --unsafe-fixes)."


def test_clean_folder_exit_0(tmp_path, run_cli):
    result = run_cli("lint", _folder(tmp_path / "vae", mislabelled=False))
    assert (result.code, result.out) == (0, "All checks passed.\n")


def test_select_ignore_and_explain(tmp_path, run_cli):
    root = _folder(tmp_path / "vae")
    assert run_cli("lint", root, "--ignore", "WF105,WF107").code == 0
    assert run_cli("lint", root, "--select", "WF107").out.count("WF107") == 1
    explained = run_cli("lint", "--explain", "WF105")
    assert explained.code == 0
    assert explained.out.startswith(
        "WF105 variant-dtype-mismatch (stable, error, fix: unsafe)\nWhat it checks:"
    )
    assert run_cli("lint", "--explain", "WF999").code == 2
    assert run_cli("lint", root, "--select", "XX").code == 2


def test_unreadable_path_exit_3(tmp_path, run_cli):
    missing = run_cli("lint", tmp_path / "nope")
    assert missing.code == 3
    assert f"{tmp_path / 'nope'}: checkpoint not found: no such file or folder" in missing.err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run_cli("lint", empty).code == 3


def test_json_and_sarif_validate(tmp_path, run_cli):
    root = _folder(tmp_path / "vae")
    data = json.loads(run_cli("lint", root, "--format", "json").out)
    assert [v["code"] for v in data["violations"]] == ["WF105", "WF107"]
    assert {r["rules"] for r in data["resolutions"]} == {"diffusers<=0.32", "diffusers>=0.33"}
    sarif = json.loads(run_cli("lint", root, "--format", "sarif").out)
    jsonschema.validate(sarif, json.loads(SCHEMA.read_text()))
    run = sarif["runs"][0]
    assert [r["ruleId"] for r in run["results"]] == ["WF105", "WF107"]
    assert run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"] == {
        "uri": "diffusion_pytorch_model.bf16.safetensors",
        "uriBaseId": "%SRCROOT%",
    }
    assert len(run["tool"]["driver"]["rules"]) == 30


def test_dry_run_changes_nothing_and_unsafe_fix_deletes(tmp_path, run_cli):
    root = _folder(tmp_path / "vae")
    before = sorted(p.name for p in root.iterdir())
    dry = run_cli("lint", root, "--fix", "--unsafe-fixes", "--dry-run")
    assert "would delete diffusion_pytorch_model.bf16.safetensors (80 B)" in dry.out
    assert sorted(p.name for p in root.iterdir()) == before
    safe = run_cli("lint", root, "--fix")
    assert "1 unsafe operation on weight files (80 B) withheld" in safe.out
    assert run_cli("lint", root, "--fix", "--unsafe-fixes").code == 0
    assert sorted(p.name for p in root.iterdir()) == [
        "config.json",
        "diffusion_pytorch_model.safetensors",
    ]
    assert run_cli("lint", root, "--dry-run").code == 2
