"""Model configurations: read from JSON or YAML files, merged with kwargs, hashed.

The hash is the provenance stamp of a target: the SHA-256 of the configuration
as canonical JSON (sorted keys, no spaces), leaving out the keys that record
*who wrote* a config rather than *what model* it describes (library versions,
hub paths, commit hashes). Two configs that build the same model hash alike no
matter which library version saved them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from weightfit.errors import ConfigNotFound, InvalidHeader, TargetUnavailable, reading
from weightfit.yaml_limits import expansion_problem

MAX_CONFIG_BYTES = 16 * 1024 * 1024
"""Largest config file read; real ones are a few kB."""

VOLATILE_KEYS = frozenset(
    {
        "transformers_version",
        "_diffusers_version",
        "_name_or_path",
        "_commit_hash",
        "_use_default_values",
        "_attn_implementation_autoset",
        "_attn_implementation_internal",
    }
)
"""Config keys that say who saved a config, not what it builds; left out of the hash."""


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a JSON or YAML file holding one mapping.

    Args:
        path: A ``.json``, ``.yaml`` or ``.yml`` file (other names are tried as JSON).

    Returns:
        The mapping, as plain Python values.

    Raises:
        ConfigNotFound: the file does not exist.
        HeaderTooLarge: the file is larger than :data:`MAX_CONFIG_BYTES`.
        InvalidHeader: it is not valid JSON / YAML, does not hold a mapping, or its
            YAML aliases expand beyond :data:`~weightfit.yaml_limits.MAX_YAML_VALUES`.

    """
    path = Path(path)
    if not path.exists():
        raise ConfigNotFound("no such file", path=path)
    with reading(path):
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise InvalidHeader(
                f"config of {size} bytes, more than the {MAX_CONFIG_BYTES} allowed", path=path
            )
        text = path.read_bytes().decode("utf-8")
        if path.suffix.lower() in (".yaml", ".yml"):
            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError as error:
                detail = str(error).splitlines()[0]
                raise InvalidHeader(f"invalid YAML ({detail})", path=path) from error
            problem = expansion_problem(data, "config")
            if problem is not None:
                raise InvalidHeader(problem, path=path)
        else:
            data = json.loads(text)
    if not isinstance(data, dict):
        raise InvalidHeader(f"expected a mapping, found {type(data).__name__}", path=path)
    return data


def merged(
    config: str | Path | Mapping[str, Any] | None, kwargs: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Return the config (file or mapping) with ``kwargs`` laid over it, as a new dict."""
    if config is None:
        base: dict[str, Any] = {}
    elif isinstance(config, Mapping):
        base = dict(config)
    elif isinstance(config, str | Path):
        base = load_config(config)
    else:
        raise TargetUnavailable(
            f"config must be a file path or a mapping, not {type(config).__name__}"
        )
    return {**base, **(kwargs or {})}


def config_hash(config: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of ``config`` as canonical JSON, volatile keys left out.

    Values JSON cannot hold (dtypes, tuples of objects) are written with ``str``.

    Example:
        >>> a = config_hash({"hidden_size": 64})
        >>> a == config_hash({"hidden_size": 64, "_commit_hash": "x"})
        True

    """
    canonical = json.dumps(
        _stable(config), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _stable(value: Any) -> Any:
    """Drop volatile keys at every level of a nested config."""
    if isinstance(value, Mapping):
        return {str(k): _stable(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list | tuple):
        return [_stable(v) for v in value]
    return value
