"""``fix`` against a transformers model whose head is tied to its embedding (GPT-2).

transformers saves a tied ``lm_head.weight`` nowhere: ``from_pretrained`` ties it
back, a plain ``load_state_dict(strict=True)`` reports it missing. The verdict
``fix`` prints must say so, not "loads strict".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

transformers = pytest.importorskip("transformers")


@pytest.fixture
def gpt2(tmp_path: Path) -> tuple[Path, Path]:
    """A tiny GPT-2 saved by ``save_pretrained`` and a ``module.``-prefixed copy of its weights."""
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        n_layer=2,
        n_embd=32,
        n_head=2,
        vocab_size=100,
        n_positions=64,
        bos_token_id=0,
        eos_token_id=0,
    )
    transformers.GPT2LMHeadModel(config).save_pretrained(tmp_path / "gpt2")
    weights = load_file(tmp_path / "gpt2" / "model.safetensors")
    assert "lm_head.weight" not in weights
    prefixed = tmp_path / "prefixed.safetensors"
    save_file({f"module.{name}": value for name, value in weights.items()}, prefixed)
    return prefixed, tmp_path / "gpt2"


def test_a_tied_head_is_said_to_be_left_to_the_model(
    tmp_path: Path, gpt2: tuple[Path, Path], run_cli
) -> None:
    prefixed, folder = gpt2
    config = folder / "config.json"
    result = run_cli("fix", prefixed, "--against", config, "-o", tmp_path / "out")
    assert result.code == 0, result.err
    last = " ".join(result.out.split("Verified: ", 1)[1].split())
    assert last == (
        f"fits {config}; 1 tied copy left to the model, which ties lm_head.weight to "
        "transformer.wte.weight: from_pretrained ties them, a plain "
        "load_state_dict(strict=True) reports them missing (tie the weights after it, "
        "or pass strict=False)"
    )
    assert "loads strict" not in result.out
    # What the message says is what the real loaders do.
    out = tmp_path / "out"
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config.from_pretrained(out))
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "lm_head\.weight"'):
        model.load_state_dict(load_file(out / "model.safetensors"), strict=True)
    loaded = transformers.GPT2LMHeadModel.from_pretrained(out)
    assert torch.equal(loaded.lm_head.weight, loaded.transformer.wte.weight)
    as_json = run_cli("fix", prefixed, "--against", config, "-o", tmp_path / "again", "--json")
    applied = json.loads(as_json.out)["applied"]
    assert applied["tied"] == {"lm_head.weight": "transformer.wte.weight"}
    assert applied["verified_model"] is True


def test_a_saved_folder_as_target_claims_no_strict_load(
    tmp_path: Path, gpt2: tuple[Path, Path], run_cli
) -> None:
    """The folder's weights are the target: names and shapes are matched, no model is built."""
    prefixed, folder = gpt2
    result = run_cli("fix", prefixed, "--against", folder, "-o", tmp_path / "out")
    assert result.code == 0, result.err
    assert result.out.rstrip().splitlines()[-1] == (
        f"Verified: the same tensor names and shapes as {folder}"
    )
