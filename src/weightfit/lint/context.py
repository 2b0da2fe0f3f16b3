"""What the lint rules look at: the folders, their weight sets, headers and indexes.

A :class:`Context` lists the linted root once (a pipeline's component folders,
or one model folder), groups each folder's files into weight sets
(:mod:`weightfit.weightsets`), and reads on demand, each at most once: weight
file headers (through :mod:`weightfit.formats`), shard indexes and configs.
Every read failure becomes data (a :class:`Probe` state, an error string) for
the rules to report; only an unreadable root raises.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from weightfit import formats, weightsets
from weightfit.errors import (
    CheckpointNotFound,
    InputError,
    NotACheckpoint,
    TensorOutOfBounds,
    TruncatedFile,
)
from weightfit.formats import DCP_CHUNK_SUFFIX, DCP_METADATA
from weightfit.lint import resolution
from weightfit.manifest import Manifest, TensorSpec

LFS_POINTER = b"version https://git-lfs.github.com/spec/v1"
"""First line of a git-lfs pointer file (https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md)."""
MAX_JSON_BYTES = 64 * 1024 * 1024
"""Largest index or config read; a 60k-tensor index is a few MB."""
MODEL_INDEX = "model_index.json"
CONFIG = "config.json"
ADAPTER_CONFIG = "adapter_config.json"

ProbeState = Literal["ok", "empty", "lfs-pointer", "truncated", "invalid"]


@dataclass(frozen=True)
class Probe:
    """What reading one weight file's header found.

    Attributes:
        rel: Path relative to the root.
        size: File size in bytes.
        state: ``ok``, ``empty``, ``lfs-pointer``, ``truncated`` or ``invalid``.
        manifest: The header's tensors when ``ok``.
        error: The reader's one-line message otherwise.

    """

    rel: str
    size: int
    state: ProbeState
    manifest: Manifest | None = None
    error: str | None = None


@dataclass(frozen=True)
class IndexInfo:
    """A shard index as JSON, and what is wrong with it as JSON.

    Attributes:
        rel: Path relative to the root.
        weight_map: Tensor name to shard file name.
        total_size: ``metadata.total_size`` when present and an integer.
        has_metadata: Whether there is a ``metadata`` object.
        data: The whole JSON object (to rewrite it).
        error: Why the index is unusable, ``None`` when it is usable.

    """

    rel: str
    weight_map: dict[str, str] = field(default_factory=dict)
    total_size: int | None = None
    has_metadata: bool = False
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Folder:
    """One model or component folder.

    Attributes:
        path: The folder on disk.
        rel: Its path relative to the root (``""`` for the root itself).
        kind: ``diffusers-component``, ``transformers-folder``, ``peft-adapter`` or ``folder``.
        names: File names directly inside it.
        sizes: File sizes by name.
        sets: Its weight sets.
        config: Its ``config.json`` (``adapter_config.json``), ``None`` if absent or unreadable.
        library: The library ``model_index.json`` loads it with, if any.
        class_name: The class ``model_index.json`` names for it, if any.

    """

    path: Path
    rel: str
    kind: str
    names: list[str]
    sizes: dict[str, int]
    sets: list[weightsets.WeightSet]
    config: dict[str, Any] | None = None
    library: str | None = None
    class_name: str | None = None

    def relpath(self, name: str) -> str:
        """A file name in this folder as a path relative to the root."""
        return f"{self.rel}/{name}" if self.rel else name

    @property
    def display(self) -> str:
        """The folder as reports name it (``transformer/``, ``.`` for the root)."""
        return f"{self.rel}/" if self.rel else "."


class Context:
    """A linted root: its folders, and cached reads of their files.

    Args:
        root: A pipeline root, model, component or adapter folder.

    Raises:
        CheckpointNotFound: ``root`` does not exist.
        NotACheckpoint: ``root`` is a file, or a folder with no config and no weights.

    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.exists():
            raise CheckpointNotFound("no such file or folder", path=self.root)
        if not self.root.is_dir():
            raise NotACheckpoint(
                "lint takes a model or pipeline folder, not a file", path=self.root
            )
        self._probes: dict[str, Probe] = {}
        self._indexes: dict[str, IndexInfo] = {}
        self._json: dict[str, tuple[dict[str, Any] | None, str | None]] = {}
        self.memo: dict[tuple[object, ...], Any] = {}
        """Results rules share (tensor placements over shard lists), keyed by their inputs."""
        self.model_index: dict[str, Any] | None = None
        self.folders: list[Folder] = []
        if (self.root / MODEL_INDEX).is_file():
            self.kind = "diffusers-pipeline"
            self.model_index, error = self.json(MODEL_INDEX)
            if self.model_index is None:
                raise NotACheckpoint(f"{MODEL_INDEX} is unreadable: {error}", path=self.root)
            for name, value in self.model_index.items():
                if name.startswith("_") or not isinstance(value, list):
                    continue
                if (self.root / name).is_dir():
                    library, cls = [*value, None, None][:2]
                    self.folders.append(self._folder(name, library, cls))
        else:
            folder = self._folder("", None, None)
            self.kind = folder.kind
            if folder.kind == "folder" and not folder.sets:
                raise NotACheckpoint(_no_model(self.root), path=self.root)
            self.folders.append(folder)

    def _folder(self, rel: str, library: Any, class_name: Any) -> Folder:
        path = self.root / rel if rel else self.root
        sizes = {e.name: e.stat().st_size for e in path.iterdir() if e.is_file()}
        names = sorted(sizes)
        sets = weightsets.group(names, folder=path, sizes=sizes)
        config = None
        kind = "folder"
        prefix = f"{rel}/" if rel else ""
        if ADAPTER_CONFIG in sizes:
            kind = "peft-adapter"
            config = self.json(prefix + ADAPTER_CONFIG)[0]
        elif CONFIG in sizes:
            config = self.json(prefix + CONFIG)[0]
            diffusers = library == "diffusers" or (config is not None and "_class_name" in config)
            kind = "diffusers-component" if diffusers else "transformers-folder"
        return Folder(
            path=path,
            rel=rel,
            kind=kind,
            names=names,
            sizes=sizes,
            sets=sets,
            config=config,
            library=library if isinstance(library, str) else None,
            class_name=class_name if isinstance(class_name, str) else None,
        )

    def json(self, rel: str) -> tuple[dict[str, Any] | None, str | None]:
        """A small JSON object file, or ``None`` and why it cannot be read."""
        if rel not in self._json:
            self._json[rel] = _load_json(self.root / rel)
        return self._json[rel]

    def probe(self, rel: str) -> Probe:
        """Read one weight file's header (once), never its tensor data."""
        if rel in self._probes:
            return self._probes[rel]
        path = self.root / rel
        size = path.stat().st_size
        if size == 0:
            probe = Probe(rel, size, "empty", error="the file is empty (0 bytes)")
        else:
            with path.open("rb") as handle:
                head = handle.read(len(LFS_POINTER))
            if head == LFS_POINTER:
                probe = Probe(rel, size, "lfs-pointer", error="git-lfs pointer, not weights")
            else:
                probe = _read_header(path, rel, size)
        self._probes[rel] = probe
        return probe

    def index(self, rel: str) -> IndexInfo:
        """Read one shard index (once) as JSON."""
        if rel not in self._indexes:
            self._indexes[rel] = _index_info(rel, *self.json(rel))
        return self._indexes[rel]

    def index_shards(self, rel: str) -> resolution.IndexShards:
        """What a loader takes from an index: :data:`resolution.IndexReader`."""
        info = self.index(rel)
        shards = tuple(sorted(set(info.weight_map.values())))
        return resolution.IndexShards(shards, info.has_metadata, info.error)

    def set_tensors(self, folder: Folder, ws: weightsets.WeightSet) -> dict[str, TensorSpec] | None:
        """Every tensor of a weight set from its headers; ``None`` if any header is unreadable."""
        key = ("set", folder.rel, ws.files)
        if key in self.memo:
            return self.memo[key]  # type: ignore[no-any-return]
        self.memo[key] = self._set_tensors(folder, ws)
        return self.memo[key]  # type: ignore[no-any-return]

    def _set_tensors(
        self, folder: Folder, ws: weightsets.WeightSet
    ) -> dict[str, TensorSpec] | None:
        tensors: dict[str, TensorSpec] = {}
        for name in ws.files:
            probe = self.probe(folder.relpath(name))
            if probe.manifest is None:
                return None
            for key, spec in probe.manifest.tensors.items():
                tensors.setdefault(key, spec)
        return tensors

    @cached_property
    def listing(self) -> resolution.Listing:
        """The root's files as a hub lists them, for the pipeline rules."""
        files: set[str] = set()
        for folder in self.folders:
            files.update(folder.relpath(n) for n in folder.names)
        if self.kind == "diffusers-pipeline":
            files.update(e.name for e in self.root.iterdir() if e.is_file())
        libraries = {f.rel: f.library for f in self.folders if f.library}
        return resolution.Listing(files, self.model_index, libraries)

    @cached_property
    def resolutions(self) -> list[resolution.Resolution]:
        """Every rule set's choice for every variant present, folder by folder."""
        results: list[resolution.Resolution] = []
        if self.kind == "diffusers-pipeline":
            labels = resolution.variants_in(self.listing.files, _parse)
            for rules in (resolution.OLD, resolution.NEW):
                for variant in (None, *labels):
                    results += resolution.resolve_pipeline(
                        self.listing, variant, rules, self.index_shards
                    )
            return results
        folder = self.folders[0]
        if folder.kind == "transformers-folder":
            rule_sets: tuple[str, ...] = (resolution.TRANSFORMERS,)
        elif folder.kind == "diffusers-component":
            rule_sets = (resolution.OLD, resolution.NEW)
        else:
            return results
        labels = resolution.variants_in(folder.names, _parse)
        for rules in rule_sets:
            for variant in (None, *labels):
                if folder.kind == "diffusers-component":
                    results.append(self._as_component(folder, variant, rules))
                else:
                    results.append(
                        resolution.resolve_model(
                            folder.names, variant, rules, "", self.index_shards
                        )
                    )
        return results

    def _as_component(
        self, folder: Folder, variant: str | None, rules: str
    ) -> resolution.Resolution:
        """A diffusers model folder as the one component of a pipeline repository.

        That is how such folders are published and downloaded, and where the
        diffusers <= 0.32 download rules differ from the model loader's.
        """
        name = "component"
        listing = resolution.Listing(
            {f"{name}/{n}" for n in folder.names} | {"model_index.json"},
            {"_class_name": "DiffusionPipeline", name: ["diffusers", "ModelMixin"]},
            {name: "diffusers"},
        )

        def read(rel: str) -> resolution.IndexShards:
            return self.index_shards(rel.removeprefix(name + "/"))

        (r,) = resolution.resolve_pipeline(listing, variant, rules, read) or [
            resolution.resolve_model(folder.names, variant, rules, "", self.index_shards)
        ]

        def strip(files: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(f.removeprefix(name + "/") for f in files)

        warnings = tuple(w.replace(name + "/", "") for w in r.warnings)
        error = r.error.replace(f"directory {name}.", "directory .") if r.error else None
        return dataclasses.replace(
            r,
            component="",
            fetched=strip(r.fetched),
            loaded=strip(r.loaded),
            warnings=warnings,
            error=error,
        )

    def set_of(self, rel: str) -> tuple[Folder, weightsets.WeightSet] | None:
        """The folder and weight set a root-relative weight or index file belongs to."""
        folder = self.folder_of(rel)
        if folder is None:
            return None
        name = rel.rpartition("/")[2]
        for ws in folder.sets:
            if name in ws.files or name == ws.index:
                return folder, ws
        return None

    def folder_of(self, rel: str) -> Folder | None:
        """The folder a root-relative path is in."""
        parent = rel.rpartition("/")[0]
        return next((f for f in self.folders if f.rel == parent), None)


def _parse(path: str) -> object:
    return weightsets.parse_name(path.rsplit("/", 1)[-1])


def _read_header(path: Path, rel: str, size: int) -> Probe:
    """Read a weight file's header through the format readers."""
    try:
        manifest = formats.read(path)
    except (TruncatedFile, TensorOutOfBounds) as error:
        # The safetensors reader reports a data section cut short as a tensor out of bounds.
        return Probe(rel, size, "truncated", error=error.detail)
    except InputError as error:
        return Probe(rel, size, "invalid", error=error.detail)
    return Probe(rel, size, "ok", manifest=manifest)


def _load_json(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """Load a JSON object file of bounded size; failures come back as text."""
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            return None, f"{size} bytes, more than the {MAX_JSON_BYTES} read"
        data = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as error:
        return None, error.strerror or str(error)
    except UnicodeDecodeError as error:
        return None, f"invalid UTF-8 ({error.reason})"
    except json.JSONDecodeError as error:
        return None, f"invalid JSON ({error.msg} at char {error.pos})"
    except RecursionError:
        return None, "JSON nested too deeply"
    if not isinstance(data, dict):
        return None, f"expected a JSON object, found {type(data).__name__}"
    return data, None


def _index_info(rel: str, data: dict[str, Any] | None, error: str | None) -> IndexInfo:
    """Check an index's JSON shape: a ``weight_map`` of names to file names."""
    if data is None:
        return IndexInfo(rel, error=error)
    weight_map = data.get("weight_map")
    if not isinstance(weight_map, dict):
        return IndexInfo(rel, data=data, error="no 'weight_map' object")
    bad = next((k for k, v in weight_map.items() if not isinstance(v, str)), None)
    if bad is not None:
        return IndexInfo(rel, data=data, error=f"weight_map[{bad!r}] is not a file name")
    metadata = data.get("metadata")
    total = metadata.get("total_size") if isinstance(metadata, dict) else None
    total = total if isinstance(total, int) and not isinstance(total, bool) else None
    return IndexInfo(rel, weight_map, total, isinstance(metadata, dict), data)


def _no_model(root: Path) -> str:
    """Say that a folder is no model repository, naming a DCP folder as one."""
    if (root / DCP_METADATA).is_file() or any(root.glob("*" + DCP_CHUNK_SUFFIX)):
        return (
            "a torch.distributed.checkpoint folder, not a model repository: inspect and "
            "check read it; python -m torch.distributed.checkpoint.format_utils dcp_to_torch "
            "DIR OUT.pt consolidates it"
        )
    return "no model config and no weight files here"
