"""Model folders: transformers, diffusers, PEFT and bare folders of weight files.

The folder kinds, told apart by the files at the top of the folder:

=======================  ==========================================================
``diffusers-pipeline``   ``model_index.json`` and one subfolder per component
``peft-adapter``         ``adapter_config.json`` + ``adapter_model.safetensors|.bin``
``diffusers-component``  ``config.json`` with ``_class_name`` (diffusers' ``ConfigMixin``)
``transformers-folder``  ``config.json`` without it (``PretrainedConfig``)
``folder``               no config, just weight files
=======================  ==========================================================

Conventions: transformers ``modeling_utils.py`` (``SAFE_WEIGHTS_NAME``,
``SAFE_WEIGHTS_INDEX_NAME``, ``_add_variant``), diffusers ``utils/constants.py``
and ``pipelines/pipeline_loading_utils.py``, PEFT ``utils/constants.py``.

A folder can hold several weight sets (precision variants, ``.bin`` beside
``.safetensors``, single and sharded copies): :mod:`weightfit.weightsets` finds
them, the one asked for is read (``variant``, ``weights_format``; by default the
unlabelled safetensors set), and the manifest says which sets exist
(``notes`` and ``extras["weight_sets"]``).

A pipeline root reads every component that has weights, each tensor named
``<component>.<name>`` (``transformer.proj_out.weight``, ``vae.decoder...``);
``extras["components"]`` describes each. ``key`` picks ONE component by name
(``key="vae"``, or ``"vae.ema"`` to pass ``ema`` on to its file). A variant that
a component lacks falls back to its unlabelled set, as diffusers does
(``_identify_model_variants``), with a note.

Like every reader, this one only reads headers and small JSON files; the
weight files go through their own format's reader.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from weightfit import formats, weightsets
from weightfit.errors import (
    ContainerKeyNotFound,
    InconsistentShardIndex,
    InvalidHeader,
    NotACheckpoint,
    VariantNotFound,
    reading,
)
from weightfit.formats import safetensors_index
from weightfit.manifest import Container, Manifest, SecurityVerdict, counted

NAME = "folder"

MODEL_INDEX = "model_index.json"
"""diffusers ``DiffusionPipeline.config_name``."""
CONFIG = "config.json"
"""transformers ``CONFIG_NAME`` and diffusers ``ModelMixin.config_name``."""
ADAPTER_CONFIG = "adapter_config.json"
"""PEFT ``CONFIG_NAME``."""

ADAPTER_FOLDER = "peft-adapter"
"""The ``format`` of a PEFT adapter folder's manifest."""
PIPELINE = "diffusers-pipeline"
"""The ``format`` of a diffusers pipeline folder's manifest."""
MAX_JSON_BYTES = 16 * 1024 * 1024
"""Largest config file read; real ones are a few kB."""

_SECURITY_ORDER = (None, "safe", "benign", "unknown", "dangerous")

_KINDS: dict[str, tuple[tuple[str, ...], bool]] = {
    ADAPTER_FOLDER: (("adapter_model",), False),
    "diffusers-component": (("diffusion_pytorch_model",), True),
    "transformers-folder": (("model", "pytorch_model"), False),
    "folder": ((), False),
}
"""Folder kind to (weight prefixes its library reads, whether it looks for an index first)."""


def weights_basename(kind: str) -> str:
    """The file name stem the library of a folder ``kind`` loads first (``model`` by default).

    A diffusers model's ``config.json`` (``diffusers-config``) names its folder's weights.
    """
    kind = "diffusers-component" if kind == "diffusers-config" else kind
    prefixes = _KINDS.get(kind, ((), False))[0]
    return prefixes[0] if prefixes and kind != ADAPTER_FOLDER else "model"


def sniff(head: bytes, path: Path) -> bool:
    """Whether ``path`` is a folder with a model config or weight files, here or one level down.

    A folder whose weights are all in subfolders is claimed so that :func:`read`
    can name those subfolders.
    """
    if not path.is_dir():
        return False
    if any((path / name).is_file() for name in (MODEL_INDEX, CONFIG, ADAPTER_CONFIG)):
        return True
    return bool(weightsets.discover(path)) or any(
        sub.is_dir() and weightsets.discover(sub) for sub in path.iterdir()
    )


def read(path: Path, options: formats.ReadOptions) -> Manifest:
    """Read the manifest of the weights a model folder holds.

    Args:
        path: A pipeline root, a component / model / adapter folder, or a folder of weights.
        options: ``variant`` and ``weights_format`` choose the weight set; ``key`` is
            passed to the weight file (a pipeline: names the component first).

    Returns:
        A manifest whose ``format`` is the folder kind and whose ``config`` is the
        folder's ``config.json`` (``adapter_config.json``, ``model_index.json``).

    Raises:
        NotACheckpoint: the folder holds no weight files.
        VariantNotFound: no weight set fits the options, or several do equally.
        ContainerKeyNotFound: ``key`` names no component of a pipeline.
        InputError: any error of the weight files' own readers.

    """
    if (path / MODEL_INDEX).is_file():
        return _read_pipeline(path, options)
    return _read_model(path, options)


def _read_model(path: Path, options: formats.ReadOptions) -> Manifest:
    """Read one model, component or adapter folder."""
    kind, config = _kind(path)
    sets = weightsets.discover(path)
    if not sets:
        raise NotACheckpoint(_no_weights(path, kind), path=path)
    prefixes, prefer_sharded = _KINDS[kind]
    chosen, reason = weightsets.select(
        sets,
        variant=options.variant,
        weights_format=options.weights_format,
        prefixes=prefixes,
        prefer_sharded=prefer_sharded,
    )
    manifest = _read_set(chosen, options.key)
    inner = manifest.format
    manifest.format = kind
    manifest.source = str(path)
    manifest.config = config
    manifest.extras["file_format"] = inner
    manifest.extras["weight_sets"] = [
        {**s.to_dict(), "chosen": s is chosen} for s in sets if s.files or s.index
    ]
    manifest.notes.insert(0, f"read weight set {chosen.label}: {reason}")
    others = [s.label for s in sets if s is not chosen]
    if others:
        manifest.notes.insert(1, "other weight sets here: " + ", ".join(others))
    return manifest


def _read_set(chosen: weightsets.WeightSet, key: str | None) -> Manifest:
    """Read one weight set: a single file, an index, or shards without one."""
    if not chosen.files:
        return _read_index(chosen.folder / str(chosen.index), key)
    if not chosen.sharded:
        return formats.read(chosen.paths[0], key=key)
    if chosen.index_path is not None and chosen.format == "safetensors":
        return _read_index(chosen.index_path, key)
    manifest = _merge([formats.read(p, key=key) for p in chosen.paths], chosen)
    if chosen.index_path is not None:
        _check_index(chosen.index_path, manifest)
    else:
        manifest.notes.append(f"shards without an index file: {', '.join(chosen.files)}")
    if chosen.missing_shards:
        numbers = ", ".join(str(i) for i in chosen.missing_shards)
        manifest.notes.append(f"missing shard(s) {numbers} of {chosen.shards}")
    return manifest


def _read_index(path: Path, key: str | None) -> Manifest:
    """Read an index the folder's layout names: damaged, it is a bad index, not unknown bytes."""
    with reading(path):
        return safetensors_index.read(path, formats.ReadOptions(key=key))


def _merge(parts: list[Manifest], chosen: weightsets.WeightSet) -> Manifest:
    """Join shard manifests into one, in shard order; the first copy of a name wins."""
    merged = Manifest(tensors={}, source=str(chosen.folder), format=f"{parts[0].format}-sharded")
    for part in parts:
        shard = Path(part.source).name
        for name, spec in part.tensors.items():
            if name in merged.tensors:
                merged.notes.append(f"{name} is in more than one shard; kept the first")
                continue
            merged.tensors[name] = spec
        merged.files.extend(part.files or [part.source])
        merged.metadata.update(part.metadata)
        merged.extras.update(part.extras)
        _merge_containers(merged, part)
        merged.globals.extend(g for g in part.globals if g not in merged.globals)
        merged.security = _worst(merged.security, part.security)
        merged.notes.extend(f"{shard}: {note}" for note in part.notes)
    return merged


def _merge_containers(merged: Manifest, part: Manifest) -> None:
    """Count a shard's state dicts into the merged ones: shards split one state dict.

    Shards that chose the same key (the top level, as ``save_pretrained`` writes)
    make one chosen container, not one per shard.
    """
    if not merged.containers:
        merged.container, merged.container_reason = part.container, part.container_reason
    elif merged.container != part.container:
        merged.container, merged.container_reason = None, "shards chose different state dicts"
    by_key = {c.key: i for i, c in enumerate(merged.containers)}
    for container in part.containers:
        if container.key in by_key:
            i = by_key[container.key]
            have = merged.containers[i]
            merged.containers[i] = Container(
                have.key, have.tensors + container.tensors, have.params + container.params
            )
        else:
            by_key[container.key] = len(merged.containers)
            merged.containers.append(container)


def _check_index(index: Path, manifest: Manifest) -> None:
    """Check a pickle-shard index names exactly the tensors the shards hold."""
    data = _load_json(index)
    weight_map = data.get("weight_map")
    if not isinstance(weight_map, dict):
        raise InvalidHeader("no 'weight_map' object", path=index)
    gone = sorted(
        {str(shard) for shard in weight_map.values() if not (index.parent / str(shard)).is_file()}
    )
    if gone:
        more = f" (and {counted(len(gone) - 1, 'other')})" if len(gone) > 1 else ""
        why = safetensors_index.why_absent(index.parent / gone[0])
        raise InconsistentShardIndex(
            f"shard {gone[0]!r} named by the index does not exist{more}{why}", path=index
        )
    absent = [name for name in weight_map if name not in manifest.tensors]
    if absent:
        raise InconsistentShardIndex(
            f"{len(absent)} tensor(s) in the index are in no shard, e.g. {absent[0]!r}",
            path=index,
        )
    for name, shard in weight_map.items():
        # Loaders open only the shards the index names for each tensor.
        location = manifest.tensors[name].location
        actual = Path(location.file).name if location is not None else shard
        if actual != shard:
            raise InconsistentShardIndex(
                f"tensor {name!r} is in {actual!r}, but the index puts it in {shard!r}",
                path=index,
            )
    unindexed = [name for name in manifest.tensors if name not in weight_map]
    if unindexed:
        manifest.notes.append(
            f"{len(unindexed)} tensor(s) in the shards are not in the index, e.g. {unindexed[0]!r}"
        )


def _read_pipeline(path: Path, options: formats.ReadOptions) -> Manifest:
    """Read a diffusers pipeline root: every component with weights, names prefixed."""
    model_index = _load_json(path / MODEL_INDEX)
    components = {
        name: value
        for name, value in model_index.items()
        if not name.startswith("_") and (path / name).is_dir()
    }
    if options.key is not None:
        name, _, rest = options.key.partition(".")
        if name not in components:
            raise ContainerKeyNotFound(
                f"no component {name!r}; components: {', '.join(components) or 'none'}",
                path=path,
            )
        one = dataclasses.replace(options, key=rest or None)
        return _read_model(path / name, one)
    manifest = Manifest(tensors={}, source=str(path), format=PIPELINE)
    manifest.config = model_index
    described: dict[str, Any] = {}
    found_variant = options.variant is None
    for name, value in components.items():
        folder = path / name
        sets = weightsets.discover(folder)
        library, cls = value if isinstance(value, list) and len(value) == 2 else (None, None)
        entry: dict[str, Any] = {"library": library, "class": cls, "weights": bool(sets)}
        described[name] = entry
        if not sets:
            continue
        part = _read_component(folder, sets, options, manifest.notes, name)
        found_variant = found_variant or part.extras.get("variant") == options.variant
        _absorb(manifest, part, name)
        entry.update(
            format=part.format,
            variant=part.extras.pop("variant"),
            file_format=part.extras.get("file_format"),
            tensors=len(part),
            params=part.num_params,
            weight_sets=part.extras.get("weight_sets", []),
            config=part.config,
        )
    if not found_variant:
        raise VariantNotFound(f"no component has {options.variant!r} weights", path=path)
    if not manifest.tensors and not any(e["weights"] for e in described.values()):
        raise NotACheckpoint("pipeline has no component with weight files", path=path)
    manifest.extras["components"] = described
    return manifest


def _read_component(
    folder: Path,
    sets: list[weightsets.WeightSet],
    options: formats.ReadOptions,
    notes: list[str],
    name: str,
) -> Manifest:
    """Read one pipeline component, falling back to its unlabelled set like diffusers."""
    asked = dataclasses.replace(options, key=None)
    if options.variant is not None and not any(s.variant == options.variant for s in sets):
        notes.append(f"{name}: no {options.variant!r} weights; read the unlabelled set")
        asked = dataclasses.replace(asked, variant=None)
    part = _read_model(folder, asked)
    part.extras["variant"] = asked.variant
    return part


def _absorb(manifest: Manifest, part: Manifest, component: str) -> None:
    """Add one component's manifest to the pipeline's, every name prefixed."""
    for name, spec in part.tensors.items():
        full = f"{component}.{name}"
        manifest.tensors[full] = dataclasses.replace(spec, name=full)
    manifest.files.extend(part.files)
    manifest.metadata.update({f"{component}.{k}": v for k, v in part.metadata.items()})
    # Every component's chosen state dict is loaded; only the others it held are
    # state dicts the pipeline leaves out (a pipeline has no one chosen container).
    manifest.containers.extend(
        Container(f"{component}.{c.key}" if c.key else component, c.tensors, c.params)
        for c in part.containers
        if c.key != part.container
    )
    manifest.globals.extend(g for g in part.globals if g not in manifest.globals)
    manifest.security = _worst(manifest.security, part.security)
    manifest.notes.extend(f"{component}: {note}" for note in part.notes)


def _kind(path: Path) -> tuple[str, dict[str, Any] | None]:
    """Tell the folder kind from the config files present, and load its config."""
    if (path / ADAPTER_CONFIG).is_file():
        return ADAPTER_FOLDER, _load_json(path / ADAPTER_CONFIG)
    if (path / CONFIG).is_file():
        config = _load_json(path / CONFIG)
        kind = "diffusers-component" if "_class_name" in config else "transformers-folder"
        return kind, config
    return "folder", None


def _load_json(path: Path) -> dict[str, Any]:
    """Load a small JSON object file, with its size and type checked."""
    with reading(path):
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise InvalidHeader(f"{size} bytes, more than the {MAX_JSON_BYTES} allowed", path=path)
        data = json.loads(path.read_bytes().decode("utf-8"))
    if not isinstance(data, dict):
        raise InvalidHeader(f"expected a JSON object, found {type(data).__name__}", path=path)
    return data


def _no_weights(path: Path, kind: str) -> str:
    """Say that a folder has no weights, and which subfolders have some."""
    nested = sorted(p.name for p in path.iterdir() if p.is_dir() and weightsets.discover(p))
    what = "no weight files" if kind == "folder" else f"{kind} config but no weight files"
    found = f"; subfolders with weights: {', '.join(nested)}" if nested else ""
    return what + found


def _worst(a: SecurityVerdict | None, b: SecurityVerdict | None) -> SecurityVerdict | None:
    """Return the worse of two security verdicts (``None`` means not a pickle)."""
    return max(a, b, key=_SECURITY_ORDER.index)
