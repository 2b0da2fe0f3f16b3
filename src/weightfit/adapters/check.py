"""``check_adapter``: will this PEFT adapter attach to that base model, and if not, why.

The adapter folder is read header-only (:func:`weightfit.read`), the base is
any target (:func:`weightfit.targets.resolve`: a checkpoint, a model folder, a
``config.json`` built on ``meta``). The alignment is PEFT's own: whole copies
(``modules_to_save``, saved embeddings) pair with the base tensor of their name
without ``base_model.model.``; LoRA and trainable-token tensors go to the
``lora_mismatch`` rule. Then the ``adapter`` profile of the rules runs, so saved
embeddings with more rows are a ``vocab_resize`` with its
``pad_to_multiple_of``, and the adapter's tokenizer files, when present, say
which vocabulary the rows were made for. The report is ``check``'s.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from weightfit import formats
from weightfit.alignment import Alignment, Pair
from weightfit.diagnose import diagnose
from weightfit.errors import NotACheckpoint, reading
from weightfit.findings import Report
from weightfit.hub.paths import is_hub
from weightfit.manifest import Manifest
from weightfit.peft.config import CONFIG_NAME, MAX_CONFIG_BYTES
from weightfit.peft.layout import base_tensor, is_adapter_tensor

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")
"""Files read to count the adapter's vocabulary (parsed as JSON; ``tokenizers`` is not needed)."""

MAX_TOKENIZER_BYTES = 200_000_000
"""Largest tokenizer file parsed (Gemma's ``tokenizer.json`` is about 35 MB)."""


def check_adapter(adapter: str | Path, base: Any, *, variant: str | None = None) -> Report:
    """Check a PEFT adapter folder against a base model, before loading anything.

    Args:
        adapter: A PEFT adapter folder (``adapter_config.json`` + ``adapter_model.*``),
            local or on the Hub (``hf://ORG/REPO[@REVISION][/PATH]``, header only).
        base: Anything :func:`weightfit.check` takes as a target: a checkpoint or
            model folder, a ``config.json``, a factory, an ``nn.Module``, a ``Manifest``.
        variant: Precision variant of the base folder's weights.

    Returns:
        A :class:`~weightfit.findings.Report` as :func:`weightfit.check` returns:
        ``lora_mismatch`` findings for modules the base lacks, nests differently
        or sizes differently (an ``info`` one for the modules that fit, with rank,
        alpha and scale), ``vocab_resize`` for saved embeddings, trainable tokens
        or a tokenizer with more rows than the base.

    Raises:
        NotACheckpoint: ``adapter`` is not a PEFT adapter folder.
        InputError: the adapter or the base cannot be read.

    Example:
        >>> report = weightfit.check_adapter("project/", "Llama-2-7b-hf/")  # doctest: +SKIP
        >>> [f.category for f in report.findings if f.severity == "error"]  # doctest: +SKIP
        ['vocab_resize']

    """
    from weightfit.ranking import build_report
    from weightfit.targets import resolve

    if isinstance(adapter, str) and is_hub(adapter):
        from weightfit.hub import open_mirror

        mirror = open_mirror(adapter, purpose="lint")
        with mirror.errors():
            report = check_adapter(mirror.path, base, variant=variant)
        return report
    source = read_adapter(adapter)
    target = resolve(base, variant=variant)
    alignment = peft_alignment(source, target)
    findings = diagnose(
        alignment, profile="adapter", facts={"tokenizer": tokenizer_vocab(Path(adapter))}
    )
    # Tensors that fit are part of a healthy adapter, not leftovers to count.
    fitted = {
        name
        for f in findings
        if f.category == "lora_mismatch" and f.severity == "info"
        for name in f.params
    }
    counted = replace(alignment, unexpected=[n for n in alignment.unexpected if n not in fitted])
    return build_report(counted, findings)


def read_adapter(adapter: str | Path) -> Manifest:
    """Read a PEFT adapter folder's manifest (its ``config`` is ``adapter_config.json``).

    Raises:
        NotACheckpoint: the path is not a folder with ``adapter_config.json``.

    """
    path = Path(adapter)
    if not (path / CONFIG_NAME).is_file():
        raise NotACheckpoint(f"not a PEFT adapter folder (no {CONFIG_NAME})", path=path)
    return formats.read(path)


def peft_alignment(source: Manifest, target: Manifest) -> Alignment:
    """Line an adapter up with its base as PEFT does: whole copies by name, LoRA aside.

    No prefix transform is recorded: PEFT strips ``base_model.model.`` by design,
    so it is no finding.
    """
    pairs, leftovers = [], []
    for name in source.tensors:
        found = None if is_adapter_tensor(name) else base_tensor(name, target.tensors)
        if found is None:
            leftovers.append(name)
        else:
            pairs.append(Pair(name, found, "exact" if found == name else "prefix"))
    return Alignment(source=source, target=target, pairs=pairs, unexpected=leftovers)


def tokenizer_vocab(folder: Path) -> tuple[int, bool] | None:
    """Count the tokens of the tokenizer saved in ``folder``, from its JSON files alone.

    ``tokenizer.json`` gives the exact count (model vocabulary ∪ added tokens, as
    ``len(tokenizer)``); without it, ``tokenizer_config.json``'s
    ``added_tokens_decoder`` gives a lower bound (highest id + 1).

    Returns:
        ``(count, exact)``, or ``None`` when no tokenizer file is there.

    """
    full = folder / TOKENIZER_FILES[0]
    if full.is_file():
        data = _load(full)
        model = data.get("model") or {}
        vocab = model.get("vocab") if isinstance(model, dict) else None
        ids: set[int] = set()
        if isinstance(vocab, dict):
            ids.update(i for i in vocab.values() if isinstance(i, int))
        elif isinstance(vocab, list):
            ids.update(range(len(vocab)))
        for token in data.get("added_tokens") or []:
            if isinstance(token, dict) and isinstance(token.get("id"), int):
                ids.add(token["id"])
        return (len(ids), True) if ids else None
    config = folder / TOKENIZER_FILES[1]
    if config.is_file():
        added = _load(config).get("added_tokens_decoder") or {}
        numbers = [int(k) for k in added if str(k).isdigit()]
        return (max(numbers) + 1, False) if numbers else None
    return None


def _load(path: Path) -> dict[str, Any]:
    with reading(path):
        size = path.stat().st_size
        limit = MAX_TOKENIZER_BYTES if path.name == TOKENIZER_FILES[0] else MAX_CONFIG_BYTES
        if size > limit:
            raise NotACheckpoint(f"{size} bytes, more than the {limit} allowed", path=path)
        data = json.loads(path.read_bytes().decode("utf-8"))
    return data if isinstance(data, dict) else {}
