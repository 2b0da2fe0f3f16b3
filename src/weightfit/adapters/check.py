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
from weightfit.adapters import diffusers_lora, kohya_lora
from weightfit.adapters.saved import memory_names, older_experts, older_layout
from weightfit.alignment import Alignment, Pair
from weightfit.diagnose import diagnose
from weightfit.errors import NotACheckpoint, reading
from weightfit.findings import Report
from weightfit.hub.paths import is_hub
from weightfit.manifest import Manifest
from weightfit.peft.config import CONFIG_NAME, MAX_CONFIG_BYTES
from weightfit.peft.layout import base_tensor, split
from weightfit.tokenizer_size import added_decoder_ids, id_span, token_count, tokenizer_json_ids

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
        or a tokenizer with more rows than the base, ``version`` for an adapter
        saved under the base's transformers 4 module names (or on its per-expert
        modules, which transformers 5 stacks).

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
    target = resolve(base, variant=variant)
    source = read_adapter(adapter, target)
    view = memory_names(source, target)
    older = older_layout(source, view.base)
    experts = older_experts(source, view.base) if older is None else None
    files = older.files if older else experts.files if experts else None
    if files is not None:
        # Its names find the base's files' names: line it up there, the rule says the rest.
        view = replace(view, base=files)
    alignment, _ = peft_alignment(source, view.target())
    facts = {
        "tokenizer": tokenizer_vocab(Path(adapter)),
        "untied": view.tied,
        "older_layout": older.facts() if older else None,
        "older_experts": experts.facts() if experts else None,
    }
    findings = diagnose(alignment, profile="adapter", facts=facts)
    # Tensors that fit are part of a healthy adapter, not leftovers to count.
    fitted = {
        name
        for f in findings
        if f.category == "lora_mismatch" and f.severity == "info"
        for name in f.params
    }
    counted = replace(alignment, unexpected=[n for n in alignment.unexpected if n not in fitted])
    return build_report(counted, findings)


def read_adapter(adapter: str | Path, base: Manifest | None = None) -> Manifest:
    """Read a PEFT adapter folder's manifest (its ``config`` is ``adapter_config.json``).

    A diffusers LoRA file (``pytorch_lora_weights.safetensors``, or a folder of
    one) is read as the PEFT adapter diffusers attaches it as
    (:func:`weightfit.adapters.diffusers_lora.read`): of a pipeline's file, the
    component ``base`` has most modules of. A kohya LoRA file, whatever its name,
    is read as its PEFT adapter (:func:`weightfit.adapters.kohya_lora.read`).

    Raises:
        NotACheckpoint: the path is neither a folder with ``adapter_config.json``
            nor a diffusers or kohya LoRA file.

    """
    path = Path(adapter)
    if (path / CONFIG_NAME).is_file():
        return formats.read(path)
    if (
        path.is_file()
        and diffusers_lora.weights_file(path) is None
        and kohya_lora.is_kohya(formats.read(path).tensors)
    ):
        return kohya_lora.read(path, base)
    return diffusers_lora.read(path, base)


def peft_alignment(source: Manifest, target: Manifest) -> tuple[Alignment, list[str]]:
    """Line an adapter up with its base as PEFT does: whole copies by name, LoRA aside.

    A whole copy pairs with the base tensor of its name without ``base_model.model.``
    and PEFT's wrapper segments (``modules_to_save``, ``base_layer``). Of several
    copies of one base tensor, one pairs; the others (and ``original_module``
    copies, which merging drops) are returned apart when that base tensor exists.
    No prefix transform is recorded: PEFT strips ``base_model.model.`` by design,
    so it is no finding.

    Returns:
        The alignment, and the names of the wrapper copies it accounts for.

    """
    layout = split(source.tensors.values())
    chosen = {copy.spec.name: copy for copy in layout.whole}
    pairs, leftovers = [], []
    for name in source.tensors:
        copy = chosen.get(name)
        found = None if copy is None else base_tensor(name, target.tensors)
        if found is None:
            leftovers.append(name)
        else:
            pairs.append(Pair(name, found, "exact" if found == name else "prefix"))
    wrappers = [
        c.spec.name
        for c in (*layout.duplicates, *layout.originals)
        if base_tensor(c.spec.name, target.tensors) is not None
    ]
    unexpected = [n for n in leftovers if n not in set(wrappers)]
    return Alignment(source=source, target=target, pairs=pairs, unexpected=unexpected), wrappers


def tokenizer_vocab(folder: Path) -> tuple[int, bool] | None:
    """Count the tokens of the tokenizer saved in ``folder``, from its JSON files alone.

    The count of distinct ids (:func:`weightfit.tokenizer_size.token_count`), as
    ``len(tokenizer)`` and so ``resize_token_embeddings`` see it, from
    ``tokenizer.json`` (model vocabulary ∪ added tokens); without that file,
    ``tokenizer_config.json``'s ``added_tokens_decoder`` gives a lower bound, its
    id span (highest id + 1).

    Returns:
        ``(count, exact)``, or ``None`` when no tokenizer file is there.

    """
    full = folder / TOKENIZER_FILES[0]
    if full.is_file():
        count = token_count(tokenizer_json_ids(_load(full)))
        return None if count is None else (count, True)
    config = folder / TOKENIZER_FILES[1]
    if config.is_file():
        span = id_span(added_decoder_ids(_load(config)))
        return None if span is None else (span, False)
    return None


def _load(path: Path) -> dict[str, Any]:
    with reading(path):
        size = path.stat().st_size
        limit = MAX_TOKENIZER_BYTES if path.name == TOKENIZER_FILES[0] else MAX_CONFIG_BYTES
        if size > limit:
            raise NotACheckpoint(f"{size} bytes, more than the {limit} allowed", path=path)
        data = json.loads(path.read_bytes().decode("utf-8"))
    return data if isinstance(data, dict) else {}
