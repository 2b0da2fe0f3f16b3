"""JSON output of ``check``, ``explain``, ``lint`` on every demo, seed and error input.

A refactor must not change what users see. Each case runs the real command line and
compares the exit code and standard output, byte for byte, with
``tests/data/golden/<case>.txt``; only this run's temporary folder is normalised (to
``<tmp>``), and PEFT's unordered ``target_modules`` is sorted in the input. Regenerate
with ``WEIGHTFIT_UPDATE_GOLDEN=1`` after a deliberate change, and review the diff.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

import seeds
from adapter_builders import save_tokenizer
from test_lint_seed import build_seed3

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "golden"
ERRORS = DATA / "errors"
SEEDS = DATA / "seeds"
UPDATE = "WEIGHTFIT_UPDATE_GOLDEN"

Argv = Callable[[Path], list[object]]


def _check_case1(tmp: Path) -> list[object]:
    case = seeds.case1_diffusers(tmp)
    return ["check", case.checkpoint, "--against", case.target, "--json"]


def _check_case2(tmp: Path) -> list[object]:
    checkpoint = seeds.case2_checkpoint(tmp)
    target = seeds.write_sparse_safetensors(
        tmp / "opensora-3d.safetensors", seeds.seed_manifest(2, "model")
    )
    return ["check", checkpoint, "--against", target, "--json"]


def _check_dit(tmp: Path) -> list[object]:
    import torch

    torch.manual_seed(0)
    path = tmp / "DiT-2d.pt"
    torch.save(seeds.tiny_dit2d().state_dict(), path)
    return ["check", path, "--against", "seeds:tiny_dit3d", "--json"]


def _adapter_case4(tmp: Path) -> list[object]:
    case = seeds.build_case4_peft(tmp / "autotrain", vocab=1000, added=1, pad_to_multiple_of=8)
    save_tokenizer(case.adapter, 1000, 1)
    config = case.adapter / "adapter_config.json"
    data = json.loads(config.read_text())
    data["target_modules"] = sorted(data["target_modules"])  # PEFT saves a set: any order
    config.write_text(json.dumps(data, indent=2))
    return ["adapter", "check", case.adapter, "--base", case.base, "--json"]


def _lint_seed3(tmp: Path) -> list[object]:
    return ["lint", build_seed3(tmp / "sana"), "--format", "json"]


def _lint_case3(tmp: Path) -> list[object]:
    return ["lint", seeds.case3_folder(tmp), "--format", "json"]


def _explain_file(path: Path) -> Argv:
    return lambda tmp: ["explain", path, "--json"]


def _explain_seed(seed: Path) -> Argv:
    def argv(tmp: Path) -> list[object]:
        data = json.loads(seed.read_text())
        text = tmp / "error.log"
        text.write_text(data["verbatim_error"] + "\n" + data.get("error_tail_reconstructed", ""))
        return ["explain", text, "--json"]

    return argv


CASES: dict[str, Argv] = {
    "check-case1-sana": _check_case1,
    "check-case2-opensora": _check_case2,
    "check-dit-2d-to-3d": _check_dit,
    "adapter-check-case4": _adapter_case4,
    "lint-seed3-sana-pipeline": _lint_seed3,
    "lint-case3-folder": _lint_case3,
    **{f"explain-seed-{p.stem}": _explain_seed(p) for p in sorted(SEEDS.glob("case*.json"))},
    **{f"explain-{p.stem}": _explain_file(p) for p in sorted(ERRORS.glob("*.txt"))},
}


def normalise(text: str, tmp: Path) -> str:
    """This run's temporary folder, as JSON spells it, becomes ``<tmp>``."""
    for spelling in (str(tmp.resolve()), str(tmp)):
        text = text.replace(json.dumps(spelling)[1:-1], "<tmp>")
    return text


@pytest.mark.parametrize("name", sorted(CASES))
def test_json_output_is_byte_identical(
    name: str, tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    monkeypatch.setenv("TRANSFORMERS_VERBOSITY", "error")
    result = run_cli(*CASES[name](tmp_path))
    assert result.code in (0, 1), result.err
    output = normalise(f"exit {result.code}\n{result.out}", tmp_path)
    golden = GOLDEN / f"{name}.txt"
    if os.environ.get(UPDATE):
        golden.write_text(output)
    assert golden.exists(), f"no golden output; run with {UPDATE}=1"
    assert output == golden.read_text()
