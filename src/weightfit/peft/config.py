"""``adapter_config.json``: what a PEFT adapter says about itself, as a dataclass.

Field names and defaults follow PEFT's ``LoraConfig`` (``peft/tuners/lora/config.py``);
the per-module rank and alpha follow ``peft.utils.other.get_pattern_key`` and
the scale ``LoraLayer.update_layer`` computes (``lora_alpha / r``, or
``lora_alpha / sqrt(r)`` with rsLoRA). Only JSON is parsed; nothing is imported.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from weightfit.errors import InvalidHeader, reading
from weightfit.tree import stack_of

CONFIG_NAME = "adapter_config.json"
"""PEFT's ``CONFIG_NAME``."""

PEFT_PREFIX = "base_model.model."
"""What ``PeftModel`` puts before every base-model name in a saved adapter."""

INFERRED_BY = "inferred_by"
"""Key of a config weightfit inferred from a file that has none (what inferred it)."""

MAX_CONFIG_BYTES = 1_000_000
"""Largest ``adapter_config.json`` read (real ones are about a kilobyte)."""


@dataclass
class AdapterConfig:
    """The fields of ``adapter_config.json`` that decide shapes, scale and merging.

    Attributes:
        peft_type: ``LORA``, ``LOHA``, ``IA3`` … (upper case, as PEFT writes it).
        r: Default LoRA rank.
        lora_alpha: Default LoRA alpha.
        rank_pattern: Per-module ranks, keys matched against the end of module names.
        alpha_pattern: Per-module alphas, matched the same way.
        use_rslora: Scale by ``alpha / sqrt(r)`` instead of ``alpha / r``.
        use_dora: Weight-decomposed LoRA (a magnitude vector per module).
        fan_in_fan_out: The base layers store ``[in, out]`` (GPT-2 ``Conv1D``).
        target_modules: Module name suffixes (a list) or one regex (a string).
        modules_to_save: Modules saved whole beside the LoRA tensors.
        base_model_name_or_path: What the adapter was trained on, as recorded.
        task_type: ``CAUSAL_LM``, ``SEQ_CLS`` …
        trainable_token_indices: Token rows trained on their own: a list (the
            input embedding) or ``{module name: [rows]}``.
        lora_bias: ``lora_B`` has a bias that merging adds to the base bias.
        target_parameters: Parameters adapted directly (PEFT ≥ 0.17), matched by suffix.
        bias: ``none``, ``all`` or ``lora_only``: which base biases were trained
            and saved whole.
        raw: The whole JSON object.
    """

    peft_type: str
    r: int = 8
    lora_alpha: float = 8
    rank_pattern: dict[str, int] = field(default_factory=dict)
    alpha_pattern: dict[str, float] = field(default_factory=dict)
    use_rslora: bool = False
    use_dora: bool = False
    fan_in_fan_out: bool = False
    target_modules: list[str] | str | None = None
    modules_to_save: list[str] = field(default_factory=list)
    base_model_name_or_path: str | None = None
    task_type: str | None = None
    trainable_token_indices: list[int] | dict[str, list[int]] | None = None
    lora_bias: bool = False
    target_parameters: list[str] = field(default_factory=list)
    bias: str = "none"
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def rank(self, module: str) -> int:
        """The rank of ``module`` (a base-model module name): ``rank_pattern`` first."""
        key = pattern_key(self.rank_pattern, module)
        return int(self.rank_pattern[key]) if key is not None else self.r

    def alpha(self, module: str) -> float:
        """The alpha of ``module``: ``alpha_pattern`` first."""
        key = pattern_key(self.alpha_pattern, module)
        return float(self.alpha_pattern[key]) if key is not None else float(self.lora_alpha)

    def legacy_alpha(self, module: str) -> float:
        r"""The alpha PEFT before 0.15 gave ``module``.

        It took one key for both patterns: the first of ``rank_pattern``'s then
        ``alpha_pattern``'s keys matching ``.*\.key$`` (so never a whole module
        path), and looked the alpha up under that key.
        """
        for key in (*self.rank_pattern, *self.alpha_pattern):
            try:
                found = re.match(rf".*\.{key}$", module) is not None
            except re.error:
                found = False
            if found:
                return float(self.alpha_pattern.get(key, self.lora_alpha))
        return float(self.lora_alpha)

    @property
    def may_predate_0_15(self) -> bool:
        """Whether PEFT before 0.15 may have read this config (and so its patterns otherwise).

        Not when it records ``peft_version`` (PEFT stores it since 0.18), nor when
        it was inferred from the weights (``inferred_by``: no file was read at all).
        """
        return not self.raw.get("peft_version") and not self.raw.get(INFERRED_BY)

    def scale(self, module: str, rank: int | None = None) -> float:
        """The factor merging multiplies ``B @ A`` by, for ``module``.

        Args:
            module: A base-model module name (``model.layers.0.self_attn.q_proj``).
            rank: The rank the tensors have, when it should override the config's.

        """
        r = rank if rank is not None else self.rank(module)
        alpha = self.alpha(module)
        return alpha / math.sqrt(r) if self.use_rslora else alpha / r

    def replicated_from(self, module: str) -> str | None:
        """The base module a ``layer_replication`` layer copies (``None``: no replication).

        PEFT builds the adapted model's layer stack from ``[start, end)`` ranges of
        the base's layers, in order (``peft.tuners.tuners_utils.replicate_layers``):
        layer ``i`` of the adapter is the base's ``i``-th layer of those ranges.
        """
        ranges = self.raw.get("layer_replication")
        found = stack_of(module)
        if not isinstance(ranges, list) or found is None:
            return None
        order = [
            layer
            for pair in ranges
            if isinstance(pair, list | tuple) and len(pair) == 2
            for layer in range(int(pair[0]), int(pair[1]))
        ]
        stack, index = found
        if index >= len(order):
            return None
        return f"{stack}.{order[index]}{module[len(stack) + 1 + len(str(index)) :]}"

    def token_indices(self) -> dict[str, list[int]]:
        """``trainable_token_indices`` as ``{module suffix: rows}`` (a list: ``embed_tokens``)."""
        indices = self.trainable_token_indices
        if indices is None:
            return {}
        if isinstance(indices, list):
            return {"embed_tokens": [int(i) for i in indices]}
        return {str(k): [int(i) for i in v] for k, v in indices.items()}

    def indices_for(self, module: str) -> list[int] | None:
        """The token rows trained in ``module`` (a base-model name), matched by suffix."""
        for key, indices in self.token_indices().items():
            if module == key or module.endswith("." + key):
                return indices
        return None

    def __repr__(self) -> str:
        scale = "rslora " if self.use_rslora else ""
        return (
            f"<AdapterConfig {self.peft_type} r={self.r} alpha={self.lora_alpha:g} {scale}"
            f"base={self.base_model_name_or_path!r}>"
        )


def load(folder: str | Path) -> AdapterConfig:
    """Read ``adapter_config.json`` from an adapter folder.

    Raises:
        CheckpointNotFound: the folder has no ``adapter_config.json``.
        InvalidHeader: it is not a JSON object, too large, or a field has the wrong type.

    """
    path = Path(folder) / CONFIG_NAME
    with reading(path):
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise InvalidHeader(f"{size} bytes, more than the {MAX_CONFIG_BYTES} allowed")
        data = json.loads(path.read_bytes().decode("utf-8"))
        return parse(data)


def parse(data: object) -> AdapterConfig:
    """Build an :class:`AdapterConfig` from the loaded JSON.

    Raises:
        InvalidHeader: not an object, or a field has the wrong type.

    """
    if not isinstance(data, Mapping):
        raise InvalidHeader(f"expected a JSON object, found {type(data).__name__}")
    peft_type = data.get("peft_type")
    if not isinstance(peft_type, str):
        raise InvalidHeader("'peft_type' is missing or not a string")
    targets = data.get("target_modules")
    if targets is not None and not isinstance(targets, str):
        targets = _strings(data, "target_modules")
    indices = data.get("trainable_token_indices")
    if indices is not None and not isinstance(indices, list | dict):
        raise InvalidHeader("'trainable_token_indices' must be a list or an object")
    return AdapterConfig(
        peft_type=peft_type.upper(),
        r=_number(data, "r", 8, int),
        lora_alpha=_number(data, "lora_alpha", 8, float),
        rank_pattern=_patterns(data, "rank_pattern"),
        alpha_pattern=_patterns(data, "alpha_pattern"),
        use_rslora=bool(data.get("use_rslora") or False),
        use_dora=bool(data.get("use_dora") or False),
        fan_in_fan_out=bool(data.get("fan_in_fan_out") or False),
        target_modules=targets,
        modules_to_save=_strings(data, "modules_to_save"),
        base_model_name_or_path=_optional_str(data, "base_model_name_or_path"),
        task_type=_optional_str(data, "task_type"),
        trainable_token_indices=indices,
        lora_bias=bool(data.get("lora_bias") or False),
        target_parameters=_strings(data, "target_parameters"),
        bias=_optional_str(data, "bias") or "none",
        raw=dict(data),
    )


def pattern_key(patterns: Mapping[str, object], module: str) -> str | None:
    """The first pattern key that matches the end of ``module`` (``get_pattern_key``)."""
    for key in patterns:
        try:
            if re.match(rf"(.*\.)?({key})$", module):
                return key
        except re.error:
            if module == key or module.endswith("." + key):
                return key
    return None


def _number(data: Mapping[str, Any], key: str, default: float, kind: type) -> Any:
    value = data.get(key, default)
    if value is None:
        return kind(default)
    if not _positive(value):
        raise InvalidHeader(f"{key!r} must be a positive number, not {value!r}")
    return kind(value)


def _positive(value: object) -> bool:
    """A finite number above zero (JSON booleans, NaN and Infinity are not)."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def _patterns(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, dict) or not all(_positive(v) for v in value.values()):
        raise InvalidHeader(f"{key!r} must map module names to positive numbers")
    return {str(k): v for k, v in value.items()}


def _strings(data: Mapping[str, Any], key: str) -> list[str]:
    value = data.get(key) or []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InvalidHeader(f"{key!r} must be a list of module names")
    return list(value)


def _optional_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None
