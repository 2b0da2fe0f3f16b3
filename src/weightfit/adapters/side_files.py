"""Small files published with a merged adapter: the base's config, the adapter's tokenizer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from weightfit.manifest import Manifest

COPIED_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "tokenizer.model",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "chat_template.jinja",
)
"""Adapter-folder files published with the merged weights (the tokenizer trained with)."""

BASE_FILES = ("generation_config.json",)
"""Base-folder files published with the merged weights, besides ``config.json``."""

MAX_COPIED_BYTES = 100_000_000
"""Largest side file copied into the output."""


def side_files(
    adapter: Path, base: Path, manifest: Manifest, rows: int | None, *, untie: bool = False
) -> dict[str, bytes]:
    """The base's ``config.json`` (vocabulary updated, untied) and the adapter's tokenizer files."""
    files: dict[str, bytes] = {}
    folder = base if base.is_dir() else None
    config = manifest.config if folder is not None and manifest.format != "peft-adapter" else None
    if isinstance(config, dict):
        updated = _untied(_with_vocab(config, rows)) if untie else _with_vocab(config, rows)
        files["config.json"] = json.dumps(updated, indent=2).encode() + b"\n"
    for name in BASE_FILES:
        _copy(folder / name if folder else None, files)
    for name in COPIED_FILES:
        _copy(adapter / name, files)
    return files


def _copy(path: Path | None, files: dict[str, bytes]) -> None:
    if path is not None and path.is_file() and path.stat().st_size <= MAX_COPIED_BYTES:
        files[path.name] = path.read_bytes()


def _untied(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with ``tie_word_embeddings`` false (top level and ``text_config``)."""
    updated = {**config, "tie_word_embeddings": False}
    text = updated.get("text_config")
    if isinstance(text, dict) and "tie_word_embeddings" in text:
        updated["text_config"] = {**text, "tie_word_embeddings": False}
    return updated


def _with_vocab(config: dict[str, Any], rows: int | None) -> dict[str, Any]:
    """``config`` with ``vocab_size`` (top level or ``text_config``) set to ``rows``."""
    if rows is None:
        return config
    updated = dict(config)
    if isinstance(updated.get("vocab_size"), int):
        updated["vocab_size"] = rows
    text = updated.get("text_config")
    if isinstance(text, dict) and isinstance(text.get("vocab_size"), int):
        updated["text_config"] = {**text, "vocab_size": rows}
    return updated
