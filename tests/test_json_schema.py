"""The published JSON schema of ``weightfit check --json`` holds for real output."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import torch
from safetensors.torch import save_file
from torch import nn

import weightfit
from weightfit.findings import CATEGORIES
from weightfit.plan import OpKind
from weightfit.report.check import SCHEMA_PATH, report_to_dict

SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


class Block(nn.Module):
    def __init__(self, width: int, fused: bool) -> None:
        super().__init__()
        if fused:
            self.qkv = nn.Linear(width, 3 * width)
        else:
            self.q = nn.Linear(width, width)
            self.k = nn.Linear(width, width)
            self.v = nn.Linear(width, width)
        self.norm = nn.BatchNorm1d(width)


class Net(nn.Module):
    def __init__(
        self, width: int = 16, depth: int = 3, vocab: int = 100, fused: bool = True
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.blocks = nn.ModuleList(Block(width, fused) for _ in range(depth))
        self.head = nn.Linear(width, vocab)


def saved(path: Path, state: dict[str, torch.Tensor]) -> Path:
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path


def cases(tmp_path: Path) -> dict[str, tuple[Path, nn.Module]]:
    """Real checkpoints that differ from their model in several ways at once."""
    model = Net()
    state = model.state_dict()
    prefixed = {f"module.{k}": v for k, v in state.items()}
    resized = Net(vocab=104).state_dict()
    dropped = {k: v for k, v in state.items() if "num_batches_tracked" not in k}
    dropped["optimizer.step"] = torch.zeros(())
    return {
        "same": (saved(tmp_path / "same.safetensors", state), model),
        "prefix": (saved(tmp_path / "prefix.safetensors", prefixed), model),
        "vocab": (saved(tmp_path / "vocab.safetensors", resized), model),
        "buffers": (saved(tmp_path / "buffers.safetensors", dropped), model),
        "fused": (saved(tmp_path / "split.safetensors", Net(fused=False).state_dict()), model),
        "wider": (saved(tmp_path / "wider.safetensors", Net(width=24).state_dict()), model),
    }


def test_the_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_lists_match_the_code() -> None:
    finding = SCHEMA["$defs"]["finding"]["properties"]
    assert finding["category"]["enum"] == list(CATEGORIES)
    assert SCHEMA["$defs"]["op"]["properties"]["kind"]["enum"] == list(OpKind.__args__)  # type: ignore[attr-defined]


@pytest.mark.parametrize("case", ["same", "prefix", "vocab", "buffers", "fused", "wider"])
def test_real_check_output_validates(tmp_path: Path, case: str) -> None:
    ckpt, model = cases(tmp_path)[case]
    data = json.loads(json.dumps(report_to_dict(weightfit.check(ckpt, model))))
    errors = sorted(VALIDATOR.iter_errors(data), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
    # Missing num_batches_tracked buffers and an optimizer step counter are benign.
    assert data["compatible"] is (case in ("same", "buffers"))


def test_cli_json_output_validates(tmp_path: Path, run_cli) -> None:
    model_file = tmp_path / "models.py"
    model_file.write_text(
        "from torch import nn\n"
        "def build(width=16):\n"
        "    return nn.Sequential(nn.Linear(8, width), nn.ReLU(), nn.Linear(width, 4))\n"
    )
    state = nn.Sequential(nn.Linear(8, 12), nn.ReLU(), nn.Linear(12, 4)).state_dict()
    ckpt = saved(tmp_path / "c.safetensors", state)
    result = run_cli("check", ckpt, "--against", f"{model_file}:build", "--json")
    assert result.code == 1, result.err
    VALIDATOR.validate(json.loads(result.out))


def test_a_wrong_field_is_rejected() -> None:
    data = {
        "schema_version": 1,
        "compatible": "yes",
        "source": "a",
        "target": "b",
        "findings": [],
        "summary": {},
        "hints": [],
    }
    assert not VALIDATOR.is_valid(data)


def test_the_documented_example_validates() -> None:
    docs = Path(__file__).resolve().parents[1] / "docs" / "json-schema.md"
    example = docs.read_text(encoding="utf-8").split("```json\n", 1)[1].split("```", 1)[0]
    VALIDATOR.validate(json.loads(example))
