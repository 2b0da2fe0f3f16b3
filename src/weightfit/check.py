"""``weightfit.check``: will this checkpoint load into that model, and if not, why.

The pipeline, one step per module: read the checkpoint (:mod:`weightfit.formats`),
resolve the target (:mod:`weightfit.targets`), align the two manifests
(:mod:`weightfit.align`), run the rules (:mod:`weightfit.diagnose`), then rank
the findings and count what they cover into a :class:`~weightfit.findings.Report`
(:mod:`weightfit.ranking`). This module only orchestrates.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from weightfit import formats
from weightfit.adapters import diffusers_lora, kohya_lora
from weightfit.align import align
from weightfit.findings import Report
from weightfit.fix_hint import FixTarget
from weightfit.formats import safetensors_index
from weightfit.formats.folder import ADAPTER_FOLDER
from weightfit.manifest import Manifest
from weightfit.peft.config import CONFIG_NAME, INFERRED_BY
from weightfit.peft.layout import lora_part
from weightfit.ranking import build_report

ADAPTER_WEIGHTS = "adapter_model."
"""How the weight files of a PEFT adapter folder are named (``adapter_model.safetensors``)."""


def check(
    checkpoint: str | Path | Manifest,
    target: Any,
    *,
    kwargs: Mapping[str, Any] | None = None,
    config: str | Path | Mapping[str, Any] | None = None,
    key: str | None = None,
    variant: str | None = None,
) -> Report:
    """Compare a checkpoint with the model it should load into, before loading anything.

    Args:
        checkpoint: A checkpoint file, shard index or model folder (anything
            :func:`weightfit.read` takes), or a :class:`~weightfit.manifest.Manifest`.
            A PEFT adapter folder is checked as PEFT attaches it to ``target``
            (:func:`weightfit.check_adapter`'s report, with a hint saying so).
        target: Anything :func:`weightfit.targets.resolve` takes: another checkpoint
            or folder, a transformers / diffusers ``config.json`` or model folder,
            an ``nn.Module``, a factory ``"pkg.module:Callable"``, or a ``Manifest``.
        kwargs: Keyword arguments for a factory target.
        config: A config file or mapping for a factory target.
        key: Which state dict to use inside the checkpoint (``"ema"``, ``"state_dict"``).
        variant: Precision variant of folder weights (``"bf16"``), for both sides.

    Returns:
        A :class:`~weightfit.findings.Report`: ``compatible`` is ``True`` only when
        no finding is an ``error`` or ``warning``; findings come most explanatory
        first (severity, then parameters covered); ``summary`` holds the counts.

    Raises:
        InputError: the checkpoint or the target cannot be read or built (exit 3).
        MissingDependency: the target needs a framework that is not installed.

    Example:
        >>> report = weightfit.check("ckpt.pth", "pkg.models:build")  # doctest: +SKIP
        >>> report.compatible, [f.category for f in report.findings]  # doctest: +SKIP
        (False, ['prefix'])

    """
    from weightfit.diagnose import diagnose
    from weightfit.targets import resolve

    if isinstance(checkpoint, Manifest):
        source = checkpoint
    else:
        source = formats.read(checkpoint, key=key, variant=variant)
        mark_lone_shard(checkpoint, source)
    expected = resolve(
        target, kwargs=dict(kwargs) if kwargs is not None else None, config=config, variant=variant
    )
    adapter = adapter_folder(source)
    if adapter is not None:
        return _adapter_check(adapter, expected)
    alignment = align(source, expected)
    findings = diagnose(alignment)
    fix_target = _fix_target(checkpoint, target, kwargs, config, key, variant)
    return build_report(alignment, findings, fix_target=fix_target)


def mark_lone_shard(checkpoint: object, source: Manifest) -> None:
    """Record in ``source.extras`` that a file checked alone is one shard of several."""
    if not isinstance(checkpoint, str | Path) or not Path(checkpoint).is_file():
        return
    hint = safetensors_index.lone_shard(Path(checkpoint))
    if hint is not None:
        source.extras[safetensors_index.LONE_SHARD] = hint


def _adapter_check(source: Manifest, expected: Manifest) -> Report:
    """A PEFT adapter folder checked as PEFT attaches it (:func:`check_adapter`), and said so.

    An adapter is no checkpoint of the whole model: its LoRA tensors and PEFT's
    wrapper copies (``modules_to_save``, ``original_module``) have no place in
    the model's own state dict, so the whole-model comparison would call them
    unexpected and every base tensor missing.
    """
    from weightfit.adapters.check import check_adapter

    report = check_adapter(source.source, expected)
    words = [shlex.quote(source.source), "--base", shlex.quote(expected.source)]
    read = (
        f"a kohya-named {source.config.get('peft_type', 'LORA')} file"
        if source.config and source.config.get(INFERRED_BY) == kohya_lora.INFERRED
        else "a diffusers LoRA file"
        if diffusers_lora.weights_file(source.source)
        else CONFIG_NAME
    )
    report.hints.insert(
        0,
        f"read as a PEFT adapter ({read}) attached to its base, as "
        f"`weightfit adapter check {' '.join(words)}` reads it; merge it into the base "
        f"with `weightfit adapter merge {' '.join(words)} -o OUT`",
    )
    return report


def adapter_folder(source: Manifest, base: Manifest | None = None) -> Manifest | None:
    """The PEFT adapter folder ``source`` is, or holds the weights of (``adapter_model.*``).

    A diffusers LoRA file of PEFT LoRA tensors alone is read as its adapter too
    (:mod:`weightfit.adapters.diffusers_lora`), as is a kohya LoRA file
    (:mod:`weightfit.adapters.kohya_lora`), its modules named as ``base`` names them.
    """
    if source.format == ADAPTER_FOLDER:
        return source
    path = Path(source.source)
    if path.is_file() and kohya_lora.is_kohya(source.tensors):
        return kohya_lora.read(path, base)
    if (
        diffusers_lora.weights_file(path) is not None
        and source.tensors
        and all(lora_part(name)[0] is not None for name in source.tensors)
    ):
        return diffusers_lora.read(path)
    if not path.name.startswith(ADAPTER_WEIGHTS) or not (path.parent / CONFIG_NAME).is_file():
        return None
    folder = formats.read(path.parent)
    same = [Path(f).resolve() for f in folder.files] == [Path(f).resolve() for f in source.files]
    return folder if same else None


def _fix_target(
    checkpoint: object,
    target: object,
    kwargs: Mapping[str, Any] | None,
    config: object,
    key: str | None,
    variant: str | None,
) -> FixTarget | None:
    """The inputs ``weightfit fix`` would repeat this check on, if they have a command-line form."""
    if not isinstance(checkpoint, str | Path) or not isinstance(target, str | Path):
        return None
    if config is not None and not isinstance(config, str | Path):
        return None
    return FixTarget(
        checkpoint=str(checkpoint),
        target=str(target),
        kwargs=dict(kwargs) if kwargs is not None else None,
        config=str(config) if config is not None else None,
        key=key,
        variant=variant,
    )
