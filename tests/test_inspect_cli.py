"""``weightfit inspect`` through the real entry point: output, JSON, options, exit codes."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import jsonschema
import pytest
import torch
from rich.console import Console
from safetensors.torch import save_file

from attacks import pickles as P
from weightfit.manifest import (
    ByteRange,
    Container,
    Manifest,
    OpaqueGlobal,
    TensorSpec,
    from_shapes,
)
from weightfit.report.inspect import (
    MAX_ROWS,
    SCHEMA_PATH,
    manifest_to_dict,
    render_manifest,
    write_manifest_json,
)

SCHEMA = json.loads(SCHEMA_PATH.read_text())
HOSTILE = "[bold]x[/bold]\x1b[31m"


def llama_like(layers: int = 6) -> dict[str, torch.Tensor]:
    tensors = {"model.embed_tokens.weight": torch.zeros(32, 8, dtype=torch.bfloat16)}
    for i in range(layers):
        tensors[f"model.layers.{i}.self_attn.q_proj.weight"] = torch.zeros(
            8, 8, dtype=torch.bfloat16
        )
        tensors[f"model.layers.{i}.mlp.up_proj.weight"] = torch.zeros(16, 8, dtype=torch.bfloat16)
        tensors[f"model.layers.{i}.input_layernorm.weight"] = torch.ones(8)
    tensors["model.norm.weight"] = torch.ones(8)
    tensors["lm_head.weight"] = torch.zeros(32, 8, dtype=torch.bfloat16)
    return tensors


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    path = tmp_path / "model.safetensors"
    save_file(llama_like(), path, metadata={"format": "pt"})
    return path


def test_terminal_report_collapses_layers(checkpoint: Path, run_cli) -> None:
    result = run_cli("inspect", checkpoint)
    assert result.code == 0 and result.err == ""
    lines = result.out.splitlines()
    assert lines[:2] == [str(checkpoint), "safetensors · 21 tensors · 1.7K params · 3.6 kB"]
    assert all(len(line) <= 100 for line in lines)
    assert "\x1b" not in result.out
    rows = [line.split() for line in lines]
    assert ["layers.{0..5}", "×6", "1.2K"] in rows
    assert ["self_attn.q_proj.weight", "64", "8×8", "BF16"] in rows
    assert ["dtypes", "BF16", "3.3", "kB", "·", "F32", "224", "B"] in rows
    assert ["meta", "format", "pt"] in rows


def test_json_follows_the_published_schema(checkpoint: Path, run_cli) -> None:
    result = run_cli("inspect", checkpoint, "--json")
    assert result.code == 0
    data = json.loads(result.out)
    jsonschema.validate(data, SCHEMA)
    tensors = llama_like()
    assert data["format"] == "safetensors"
    assert data["tensor_count"] == len(tensors)
    assert data["params"] == sum(t.numel() for t in tensors.values())
    assert data["bytes_by_dtype"] == {"BF16": 3328, "F32": 224}
    assert data["metadata"] == {"format": "pt"}
    assert sorted(t["name"] for t in data["tensors"]) == sorted(tensors)
    by_name = {t["name"]: t for t in data["tensors"]}
    assert by_name["lm_head.weight"]["shape"] == [32, 8]
    assert by_name["lm_head.weight"]["location"]["length"] == 512
    (model, _) = sorted(data["tree"]["children"], key=lambda node: node["name"] != "model")
    layers = next(node for node in model["children"] if node["name"] == "layers.{0..5}")
    assert layers["count"] == 6 and layers["path"] == "model.layers.{0..5}"


def test_filter(checkpoint: Path, run_cli) -> None:
    data = json.loads(run_cli("inspect", checkpoint, "--json", "--filter", "*.mlp.*").out)
    assert sorted(t["name"] for t in data["tensors"]) == sorted(
        f"model.layers.{i}.mlp.up_proj.weight" for i in range(6)
    )
    assert data["tree"]["tensors"] == 6 and data["filter"] == "*.mlp.*"
    assert data["tensor_count"] == 21
    text = run_cli("inspect", checkpoint, "--filter", "*.mlp.*").out
    assert "modules matching *.mlp.*" in text
    assert "q_proj" not in text and "up_proj.weight" in text


def test_filter_matching_nothing(checkpoint: Path, run_cli) -> None:
    result = run_cli("inspect", checkpoint, "--filter", "nothing*")
    assert result.code == 0 and "(no tensors)" in result.out


def test_depth(checkpoint: Path, run_cli) -> None:
    text = run_cli("inspect", checkpoint, "--depth", "1").out
    names = [
        line.split()[0] for line in text.splitlines()[text.splitlines().index("modules") + 2 :]
    ]
    assert sorted(names) == ["lm_head.weight", "model"]
    data = json.loads(run_cli("inspect", checkpoint, "--json", "--depth", "2").out)
    model = next(node for node in data["tree"]["children"] if node["name"] == "model")
    assert all(child["children"] == [] for child in model["children"])


def test_hostile_names_are_printed_literally(tmp_path: Path, run_cli) -> None:
    path = tmp_path / "hostile.safetensors"
    save_file({HOSTILE: torch.zeros(2), "ok": torch.zeros(1)}, path, metadata={HOSTILE: HOSTILE})
    result = run_cli("inspect", path)
    assert result.code == 0
    assert "\x1b" not in result.out
    assert "[bold]x[/bold]\\x1b[31m" in result.out
    data = json.loads(run_cli("inspect", path, "--json").out)
    assert HOSTILE in {t["name"] for t in data["tensors"]}


def test_missing_path_is_exit_3(tmp_path: Path, run_cli) -> None:
    result = run_cli("inspect", tmp_path / "nope.pth")
    assert result.code == 3
    assert result.out == ""
    assert result.err.splitlines() == [
        f"error: {tmp_path / 'nope.pth'}: checkpoint not found: no such file or folder",
    ]


def test_unrecognised_file_is_exit_3(tmp_path: Path, run_cli) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello world")
    result = run_cli("inspect", path)
    assert result.code == 3
    assert result.err.splitlines()[0] == (
        f"error: {path}: not a checkpoint: unrecognised leading bytes b'hello wo'"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ("inspect",),
        ("inspect", "x", "--depth", "0"),
        ("inspect", "x", "--depth", "two"),
        ("inspect", "x", "--format", "onnx"),
        ("nonsense",),
    ],
)
def test_usage_errors_are_exit_2(argv: tuple[str, ...], run_cli) -> None:
    assert run_cli(*argv).code == 2


def test_python_dash_m_runs_the_same_cli(checkpoint: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "weightfit", "inspect", str(checkpoint), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["tensor_count"] == 21


def pickle_like_manifest() -> Manifest:
    """A manifest as a torch reader returns it, to draw every section of the report."""
    tensors = {
        f"blocks.{i}.w": TensorSpec(
            f"blocks.{i}.w", (4, 4), "F32", ByteRange("ckpt.pt", 64 * i, 64)
        )
        for i in range(3)
    }
    return Manifest(
        tensors=tensors,
        source="ckpt.pt",
        format="torch-zip",
        files=["ckpt.pt"],
        extras={"epoch": 3, "optimizer": "optimizer state: 6 tensors"},
        container="model",
        container_reason="preferred key 'model' over 'ema'",
        containers=[Container("model", 3, 48), Container("ema", 3, 48)],
        security="unknown",
        globals=[
            OpaqueGlobal("argparse", "Namespace", "benign"),
            OpaqueGlobal("my.lib", "Cfg", "unknown"),
        ],
        notes=["blocks.0.w and blocks.1.w share one storage"],
    )


def test_render_every_section_fixed_width() -> None:
    console = Console(width=80, no_color=True, highlight=False, record=True, file=io.StringIO())
    render_manifest(console, pickle_like_manifest())
    text = [line.rstrip() for line in console.export_text().splitlines()]
    assert text == [
        "ckpt.pt",
        "torch-zip · 3 tensors · 48 params · 192 B",
        "files        ckpt.pt",
        "dtypes       F32 192 B",
        "container    model (preferred key 'model' over 'ema')",
        "security     unknown, 2 opaque globals",
        "· epoch      3",
        "· optimizer  optimizer state: 6 tensors",
        "note         blocks.0.w and blocks.1.w share one storage",
        "state dicts",
        "   key    tensors  params",
        "→  model        3      48",
        "   ema          3      48",
        "opaque globals (named by the pickle, never imported)",
        "global              verdict  what is known",
        "my.lib.Cfg          unknown  not in weightfit's table: importing it runs package",
        "                             'my', and calling it runs whatever that code does",
        "argparse.Namespace  benign   a data holder or layer class: importing it runs",
        "                             only its library's own code",
        "1 global(s) neither allowlisted nor known benign: exit 1 (accept one with",
        "--allow-global MOD.NAME)",
        "modules",
        "name              ×  params  shape  dtype",
        "blocks.{0..2}.w  ×3      48  4×4    F32",
    ]


def test_manifest_to_dict_of_a_reader_manifest_follows_the_schema() -> None:
    data = manifest_to_dict(pickle_like_manifest())
    jsonschema.validate(data, SCHEMA)
    assert data["containers"][1] == {"key": "ema", "tensors": 3, "params": 48}
    # Globals a CI would not pass come first.
    assert [(g["name"], g["verdict"], g["accepted"]) for g in data["globals"]] == [
        ("Cfg", "unknown", False),
        ("Namespace", "benign", True),
    ]
    assert data["globals"][1]["about"] == (
        "a data holder or layer class: importing it runs only its library's own code"
    )
    assert data["tensors"][2]["location"] == {"file": "ckpt.pt", "offset": 128, "length": 64}


def test_emoji_codes_in_names_and_bytes_print_literally(tmp_path: Path, run_cli) -> None:
    # rich turns ":x:" into an emoji unless told not to; names and bytes must print as they are.
    path = tmp_path / "emoji.safetensors"
    save_file({"blocks.:x:.weight": torch.zeros(2)}, path)
    result = run_cli("inspect", path)
    assert result.code == 0, result.err
    assert ":x:" in result.out and "❌" not in result.out

    passwd = tmp_path / "passwd"
    passwd.write_text("root:x:0:0:root:/root:/bin/bash\n")
    result = run_cli("inspect", passwd)
    assert result.code == 3
    assert "b'root:x:0'" in result.err and "❌" not in result.err


def _with_unknown_global(tmp_path: Path) -> Path:
    path = tmp_path / "hooked.pt"
    data_pkl = P.pickle_of(
        P.in_dict(w=P.tensor("0", 2, (2,), (1,)), hook=P.call(P.glob("mylib.train", "Hook")))
    )
    return P.zip_checkpoint(path, data_pkl, {"0": b"\x00" * 8})


def test_an_unknown_global_fails_the_ci_policy(tmp_path: Path, run_cli) -> None:
    path = _with_unknown_global(tmp_path)
    result = run_cli("inspect", path)
    assert result.code == 1
    assert "1 global(s) neither allowlisted nor known benign: exit 1" in result.out
    data = json.loads(run_cli("inspect", path, "--json").out)
    assert data["globals"][0]["accepted"] is False


def test_allow_global_accepts_one(tmp_path: Path, run_cli) -> None:
    path = _with_unknown_global(tmp_path)
    assert run_cli("inspect", path, "--allow-global", "mylib.train.Hook").code == 0
    assert run_cli("inspect", path, "--allow-global", "mylib.train.Other").code == 1
    assert run_cli("inspect", path, "--allow-global", "nodot").code == 2


def test_known_benign_globals_pass(tmp_path: Path, run_cli) -> None:
    path = tmp_path / "ckpt.pt"
    torch.save({"model": torch.nn.Linear(2, 2).state_dict(), "args": argparse.Namespace()}, path)
    assert run_cli("inspect", path).code == 0


@pytest.mark.parametrize(
    "kwargs", [{}, {"pattern": "blocks.1*"}, {"pattern": "nothing"}, {"depth": 1}]
)
def test_the_streamed_json_equals_the_dict(kwargs) -> None:
    manifest = pickle_like_manifest()
    out = io.StringIO()
    write_manifest_json(out, manifest, **kwargs)
    assert json.loads(out.getvalue()) == json.loads(
        json.dumps(manifest_to_dict(manifest, **kwargs), default=str)
    )


def test_json_streams_one_tensor_per_line(checkpoint: Path, run_cli) -> None:
    result = run_cli("inspect", checkpoint, "--json")
    data = json.loads(result.out)
    lines = result.out.splitlines()
    for spec in data["tensors"]:
        assert "    " + json.dumps(spec, separators=(", ", ": ")) in {
            line.rstrip(",") for line in lines
        }


@pytest.mark.parametrize(
    "spec",
    [
        TensorSpec("w", (2, 3), "F32", ByteRange("ckpt.pt", 0, 24)),
        TensorSpec('ü"\\\n\ud800', (), "BF16", None, (1,), "7", True),
        TensorSpec("b", (0, 4), "Q4", ByteRange("a\tb", 5, 0), None, None, False),
    ],
)
def test_a_tensor_line_is_the_json_of_its_dict(spec: TensorSpec) -> None:
    from weightfit.report.inspect import _COMPACT, _tensor_json, _tensor_to_dict

    assert _tensor_json(spec) == _COMPACT(_tensor_to_dict(spec))


def test_a_tree_that_does_not_fold_is_summarised_within_the_row_budget() -> None:
    # 60 × 60 distinct names fold nowhere: without a budget, 40 + 40 × 40 rows.
    shapes = {f"m{i}x.l{j}x.weight": (2,) for i in range(60) for j in range(60)}
    console = Console(width=100, no_color=True, highlight=False, record=True, file=io.StringIO())
    render_manifest(console, from_shapes(shapes, source="flat.pt"))
    text = console.export_text().splitlines()
    rows = text[text.index("modules") + 2 :]
    drawn = [row for row in rows if not row.lstrip().startswith("…")]
    assert len(drawn) == MAX_ROWS  # m0x … m8x with 40 children each, m9x with 30
    assert rows[-2].split() == ["…", "30", "more", "60"]  # m9x's children past the budget
    assert rows[-1].split() == ["…", "50", "more", "6.0K"]  # m10x … m59x, 120 params each
