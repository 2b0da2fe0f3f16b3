"""Options that pick a weight set in a folder are refused, not ignored, for single files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from safetensors.torch import save_file  # noqa: E402

from weightfit.cli._inputs import folder_only  # noqa: E402

STATE = {"w.weight": torch.zeros(2, 3), "w.bias": torch.ones(2)}


@pytest.fixture
def files(tmp_path: Path) -> Path:
    save_file(STATE, tmp_path / "m.safetensors")
    torch.save(STATE, tmp_path / "m.pt")
    (tmp_path / "fold").mkdir()
    save_file(STATE, tmp_path / "fold" / "model.safetensors")
    save_file(STATE, tmp_path / "fold" / "model.fp16.safetensors")
    return tmp_path


REFUSED = {
    "inspect variant": (
        ("inspect", "{d}/m.safetensors", "--variant", "fp16"),
        "--variant fp16 picks one weight set in a folder, but {d}/m.safetensors is a single file",
        "--variant",
    ),
    "inspect format": (
        ("inspect", "{d}/m.pt", "--format", "safetensors"),
        "--format safetensors picks one weight set in a folder, but {d}/m.pt is a single file",
        "--format",
    ),
    "check variant": (
        ("check", "{d}/m.pt", "--against", "{d}/m.safetensors", "--variant", "fp16"),
        "--variant fp16 picks one weight set in a folder, "
        "but {d}/m.pt and {d}/m.safetensors are single files",
        "--variant",
    ),
    "fix variant": (
        ("fix", "{d}/m.pt", "--against", "{d}/m.safetensors", "-o", "{d}/out", "--variant", "fp16"),
        "--variant fp16 picks one weight set in a folder, "
        "but {d}/m.pt and {d}/m.safetensors are single files",
        "--variant",
    ),
    "adapter variant": (
        ("adapter", "check", "{d}/fold", "--base", "{d}/m.safetensors", "--variant", "fp16"),
        "--variant fp16 picks one weight set in a folder, but {d}/m.safetensors is a single file",
        "--variant",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_folder_option_on_files_is_a_usage_error(files: Path, case: str, run_cli) -> None:
    argv, message, option = REFUSED[case]
    result = run_cli(*(part.format(d=files) for part in argv))
    assert result.code == 2
    assert result.err == (
        f"usage error: {message.format(d=files)}: drop {option}, or give the folder\n"
    )
    assert result.out == ""
    assert not (files / "out").exists()


def test_a_folder_on_either_side_lets_variant_through(files: Path, run_cli) -> None:
    result = run_cli("check", files / "m.pt", "--against", files / "fold", "--variant", "fp16")
    assert result.code == 0, result.err
    assert run_cli("inspect", files / "fold", "--variant", "fp16", "--json").code == 0


def test_a_missing_file_is_still_reported_as_missing(files: Path, run_cli) -> None:
    result = run_cli("inspect", files / "nope.safetensors", "--variant", "fp16")
    assert result.code == 3
    assert "checkpoint not found" in result.err


def test_the_installed_entry_point_exits_2(files: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "weightfit",
            "inspect",
            str(files / "m.safetensors"),
            "--variant",
            "bf16",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("usage error: --variant bf16 picks one weight set in a folder")
    assert done.stdout == ""


@pytest.mark.parametrize(
    "address",
    [
        "hf://org/model/unet/diffusion_pytorch_model.safetensors",
        "hf://org/model@v2/model.bin",
        "https://huggingface.co/org/model/resolve/main/model.safetensors",
        "http://127.0.0.1:9/weights/model.gguf?download=1",
    ],
)
def test_an_address_naming_one_file_refuses_variant_before_any_request(
    address: str, run_cli
) -> None:
    result = run_cli("inspect", address, "--variant", "fp16")
    assert result.code == 2
    assert result.err.startswith(
        f"usage error: --variant fp16 picks one weight set in a folder, but {address} "
        "is a single file"
    )


@pytest.mark.parametrize(
    "address", ["hf://org/model", "hf://org/model@v2/unet", "https://huggingface.co/org/model"]
)
def test_an_address_naming_a_repository_or_folder_lets_variant_through(address: str) -> None:
    folder_only("--variant", "fp16", address)
