"""``torch.distributed.checkpoint`` (DCP) folders: a ``.metadata`` pickle and ``*.distcp`` files.

``dcp.save`` (``torch/distributed/checkpoint/filesystem.py``, ``metadata.py``)
writes one ``.metadata`` file, a pickled ``Metadata`` dataclass:

- ``state_dict_metadata``: flattened key (``model.fc.weight``) to
  ``TensorStorageMetadata(properties=TensorProperties(dtype, ...), size, chunks)``
  or ``BytesStorageMetadata`` (a pickled non-tensor value);
- ``planner_data``: flattened key to its path in the saved nested dict;
- ``storage_data``: each chunk's ``_StorageInfo(relative_path, offset, length)``.

The ``__<rank>_<n>.distcp`` files hold the chunks. This reader runs
``.metadata`` through weightfit's pickle VM (never importing anything), rebuilds
the nested dict from ``planner_data`` so containers are found as in any other
checkpoint, and reports each tensor's full (global) shape and dtype. Tensor
bytes are split into per-rank chunks, so ``location`` is ``None``; every chunk
is checked to lie inside its tensor and its file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from weightfit.errors import (
    HeaderTooLarge,
    InconsistentShardIndex,
    InvalidHeader,
    TruncatedFile,
)
from weightfit.formats import ReadOptions, containers, pickle_manifest, pickle_vm
from weightfit.formats.pickle_nodes import (
    Call,
    GlobalRef,
    OpaqueKey,
    PickledDict,
    TensorRecord,
    canonical_dtype,
)
from weightfit.manifest import Manifest, TensorSpec

NAME = "dcp"
FORMAT = "dcp"

METADATA_FILE = ".metadata"
"""``torch.distributed.checkpoint.filesystem`` ``_metadata_fn``."""
_METADATA = "torch.distributed.checkpoint.metadata."


def sniff(head: bytes, path: Path) -> bool:
    """Whether ``path`` is a folder with a DCP ``.metadata`` file."""
    return path.is_dir() and (path / METADATA_FILE).is_file()


def read(path: Path, options: ReadOptions) -> Manifest:
    """Read a DCP checkpoint folder's manifest from its ``.metadata`` pickle.

    Args:
        path: The checkpoint folder.
        options: ``options.key`` picks the state dict inside the saved dict
            (``"model"`` for ``dcp.save({"model": ..., "optim": ...})``).

    Returns:
        The manifest: global shapes and dtypes, no byte locations.

    Raises:
        ForbiddenPickleContent: ``.metadata`` names something that can run code.
        MalformedPickle: ``.metadata`` is not a valid pickle.
        InvalidHeader: ``.metadata`` is not DCP metadata, or a chunk lies outside its tensor.
        InconsistentShardIndex: a chunk's file is missing.
        TruncatedFile: a chunk's bytes lie past the end of its file.
        ContainerKeyNotFound: ``options.key`` names nothing.

    """
    metadata_path = path / METADATA_FILE
    size = metadata_path.stat().st_size
    if size > pickle_vm.MAX_PICKLE_BYTES:
        raise HeaderTooLarge(f"{METADATA_FILE} is {size} bytes, over the limit")
    result = pickle_vm.run(metadata_path.read_bytes(), where=METADATA_FILE)
    state = _fields(result.value, "Metadata")
    entries = _fields_dict(state.get("state_dict_metadata"), "state_dict_metadata")
    planner = state.get("planner_data")
    paths = planner if isinstance(planner, dict) else {}
    nested: PickledDict = PickledDict()
    for fqn, entry in entries.items():
        if not isinstance(fqn, str):
            raise InvalidHeader(f"{METADATA_FILE} has a non-string key {fqn!r}")
        value = _entry(fqn, entry)
        _insert(nested, _path(fqn, paths.get(fqn)), value)
    files, cut = _check_chunks(path, state.get("storage_data"))
    choice = containers.choose(nested, key=options.key, budget=result.opcodes)
    chosen = {f"{choice.key}.{name}" if choice.key else name for name in choice.tensors}
    unread = sorted(f for f in cut if f and ".".join(_path(f, paths.get(f))) not in chosen)
    for fqn in cut:
        if fqn not in unread:
            raise cut[fqn]
    tensors = {
        name: TensorSpec(name, record.shape, canonical_dtype(record.dtype))
        for name, record in choice.tensors.items()
    }
    notes = [
        f"DCP keeps tensor bytes in per-rank chunks across {len(files)} .distcp files; "
        "shapes are the full (global) ones and byte locations are not listed"
    ]
    if unread:
        notes.append(
            f"{cut[unread[0]].detail}: {len(unread)} entries outside the chosen state dict "
            f"cannot be read ({unread[0]} …)"
        )
    version = state.get("version")
    return pickle_manifest.build(
        path,
        FORMAT,
        result,
        choice,
        tensors,
        notes,
        files=[str(metadata_path), *(str(path / f) for f in files)],
        metadata={"version": str(version)} if version else {},
    )


def _fields(node: Any, cls: str) -> dict[Any, Any]:
    """Return the fields of a pickled DCP dataclass ``cls`` (its ``BUILD`` state)."""
    if not (isinstance(node, Call) and node.qualname == _METADATA + cls):
        raise InvalidHeader(f"{METADATA_FILE} does not hold a DCP {cls} (found {node!r})")
    state = node.state
    if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):
        state = {**(state[0] or {}), **state[1]}  # (dict state, slot state)
    return state if isinstance(state, dict) else {}


def _fields_dict(node: Any, what: str) -> dict[Any, Any]:
    if not isinstance(node, dict):
        raise InvalidHeader(f"{METADATA_FILE} has no {what} mapping")
    return node


def _entry(fqn: str, entry: Any) -> Any:
    """Make a tensor record of a ``TensorStorageMetadata``; a marker of anything else."""
    if isinstance(entry, Call) and entry.qualname == _METADATA + "BytesStorageMetadata":
        return "<pickled value, stored in a .distcp file>"
    fields = _fields(entry, "TensorStorageMetadata")
    shape = fields.get("size")
    if not isinstance(shape, tuple) or not all(type(s) is int and s >= 0 for s in shape):
        raise InvalidHeader(f"tensor {fqn!r} has size {shape!r}, not a tuple of sizes")
    dtype = _dtype(fqn, fields.get("properties"))
    for chunk in fields.get("chunks") or []:
        _check_chunk(fqn, shape, chunk)
    return TensorRecord(
        storage=None,
        storage_offset=0,
        shape=shape,
        stride=(),
        dtype=dtype,
        requires_grad=False,
        offset=0,
    )


def _dtype(fqn: str, properties: Any) -> str:
    """Find the dtype in ``TensorProperties`` (a tuple state in recent torch, a dict before)."""
    state = properties.state if isinstance(properties, Call) else None
    dtype = None
    if isinstance(state, tuple) and state:
        dtype = state[0]
    elif isinstance(state, dict):
        dtype = state.get("dtype")
    elif isinstance(properties, Call) and properties.args:
        dtype = properties.args[0]
    if not (isinstance(dtype, GlobalRef) and dtype.module == "torch"):
        raise InvalidHeader(f"tensor {fqn!r} has no torch dtype in its properties")
    return dtype.name


def _check_chunk(fqn: str, shape: tuple[int, ...], chunk: Any) -> None:
    fields = _fields(chunk, "ChunkStorageMetadata")
    offsets, sizes = fields.get("offsets"), fields.get("sizes")
    if not (isinstance(offsets, tuple) and isinstance(sizes, tuple)):
        raise InvalidHeader(f"tensor {fqn!r} has a chunk without offsets and sizes")
    if len(offsets) != len(shape) or len(sizes) != len(shape):
        raise InvalidHeader(f"tensor {fqn!r} has a chunk of rank {len(sizes)}, not {len(shape)}")
    for dim, (start, count, full) in enumerate(zip(offsets, sizes, shape, strict=True)):
        if not (type(start) is int and type(count) is int and start >= 0 and start + count <= full):
            raise InvalidHeader(
                f"tensor {fqn!r} has a chunk at {list(offsets)} of {list(sizes)} "
                f"outside its size {list(shape)} (dimension {dim})"
            )


def _path(fqn: str, planned: Any) -> tuple[str, ...]:
    """Where ``fqn`` sat in the saved nested dict (``planner_data``), else the flat key."""
    if isinstance(planned, tuple) and planned and all(isinstance(p, str | int) for p in planned):
        return tuple(str(p) for p in planned)
    return (fqn,)


def _insert(root: PickledDict, path: tuple[str, ...], value: Any) -> None:
    node = root
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, PickledDict):
            child = node[part] = PickledDict()
        node = child
    node[path[-1]] = value


def _check_chunks(folder: Path, storage_data: Any) -> tuple[list[str], dict[str, TruncatedFile]]:
    """List the chunk files ``.metadata`` names, checking each exists.

    Returns:
        The files, and each entry (by key) whose chunk lies past the end of its file: the
        caller fails only for those of the chosen state dict, as ``dcp.load`` reads only
        the entries asked for.
    """
    cut: dict[str, TruncatedFile] = {}
    if not isinstance(storage_data, dict):
        return [], cut
    sizes: dict[str, int] = {}
    for index, info in storage_data.items():
        if not (isinstance(info, Call) and info.qualname.endswith("._StorageInfo")):
            continue
        state = info.state if isinstance(info.state, dict) else {}
        name, offset, length = (state.get(k) for k in ("relative_path", "offset", "length"))
        if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
            raise InvalidHeader(f"{METADATA_FILE} names chunk file {name!r} outside the folder")
        if name not in sizes:
            chunk_path = folder / name
            if not chunk_path.is_file():
                raise InconsistentShardIndex(
                    f"{METADATA_FILE} names chunk file {name!r}, which is not in the folder"
                )
            sizes[name] = chunk_path.stat().st_size
        if type(offset) is int and type(length) is int and offset + length > sizes[name]:
            error = TruncatedFile(
                f"chunk file {name!r} should hold bytes {offset}..{offset + length} "
                f"but has {sizes[name]}"
            )
            cut.setdefault(_fqn(index), error)
    return sorted(sizes), cut


def _fqn(index: Any) -> str:
    """The flattened key a ``MetadataIndex`` names (``""`` when it names none)."""
    call = index.value if isinstance(index, OpaqueKey) else index
    state = call.state if isinstance(call, Call) else None
    fqn = state.get("fqn") if isinstance(state, dict) else None
    return fqn if isinstance(fqn, str) else ""
