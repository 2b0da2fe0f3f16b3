"""The manifest: what a checkpoint holds, read from headers, never from tensor data.

A :class:`Manifest` is an ordered mapping of tensor names to :class:`TensorSpec`
(shape, dtype, and where the bytes live). Models become manifests too (their
``state_dict()`` built on the ``meta`` device), so diagnosis is a comparison of
two manifests.
"""

from __future__ import annotations

import gc
import itertools
import math
import operator
from collections import Counter
from collections.abc import (
    ItemsView,
    Iterator,
    Mapping,
    MutableMapping,
    Sequence,
    ValuesView,
)
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from weightfit import dtypes
from weightfit.display import Displayable

SecurityVerdict = Literal["safe", "benign", "unknown", "dangerous"]
_DTYPE_AND_SHAPE = operator.attrgetter("dtype", "shape")


@dataclass(frozen=True, slots=True)
class ByteRange:
    """Where a tensor's bytes live: ``length`` bytes at ``offset`` in ``file``."""

    file: str
    offset: int
    length: int

    @property
    def end(self) -> int:
        """The offset one past the last byte."""
        return self.offset + self.length


UNKNOWN_DTYPE = "?"
"""The dtype of a tensor known only by name (an error text lists it without a shape)."""


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """One tensor as a header describes it.

    Attributes:
        name: The state-dict key.
        shape: Sizes of each dimension (``()`` for a scalar).
        dtype: Canonical dtype name (``"F32"``, ``"BF16"`` ...); unknown names are kept.
        location: Where the bytes are, or ``None`` for a model built on ``meta``.
        stride: Element strides when the header records them (pickles), else ``None``.
        storage: Key of the storage the tensor views, when it shares one (pickles).
        is_buffer: ``True`` for a module buffer, ``False`` for a parameter, ``None`` unknown.
        decode: Steps from the stored bytes to the values, in order: ``"byteswap"``
            (big-endian bytes), then torch's view flags ``"conj"`` and ``"neg"``. A tensor
            with any is never copied byte for byte.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    location: ByteRange | None = None
    stride: tuple[int, ...] | None = None
    storage: str | None = None
    is_buffer: bool | None = None
    decode: tuple[str, ...] = ()

    @property
    def numel(self) -> int:
        """Number of elements."""
        return math.prod(self.shape)

    @property
    def shape_known(self) -> bool:
        """Whether the shape is real, not a placeholder for a tensor known only by name."""
        return self.dtype != UNKNOWN_DTYPE

    @property
    def nbytes(self) -> int | None:
        """Bytes of the tensor's elements, or ``None`` for an unknown dtype."""
        return dtypes.nbytes(self.dtype, self.shape)

    @property
    def is_contiguous(self) -> bool:
        """Whether the recorded strides are the row-major ones (no stride: yes)."""
        if self.stride is None:
            return True
        expected, running = [], 1
        for size in reversed(self.shape):
            expected.append(running)
            running *= size
        return all(
            size == 1 or have == want
            for size, have, want in zip(self.shape, self.stride, reversed(expected), strict=True)
        )

    def __repr__(self) -> str:
        dims = "×".join(str(s) for s in self.shape) or "scalar"
        return f"<TensorSpec {self.name} {self.dtype}[{dims}]>"


_new = object.__new__
_range_file, _range_offset, _range_length = (
    getattr(ByteRange, name).__set__ for name in ("file", "offset", "length")
)
_spec_slots = tuple(
    getattr(TensorSpec, name).__set__
    for name in (
        "name",
        "shape",
        "dtype",
        "location",
        "stride",
        "storage",
        "is_buffer",
        "decode",
    )
)


def new_spec(
    name: str, shape: tuple[int, ...], dtype: str, file: str, offset: int, length: int
) -> TensorSpec:
    """``TensorSpec(name, shape, dtype, ByteRange(file, offset, length))``, built 3× faster.

    For readers that make a million specs: the frozen dataclasses' ``__init__``
    goes through ``object.__setattr__`` per field; this sets the slots directly.
    """
    location = _new(ByteRange)
    _range_file(location, file)
    _range_offset(location, offset)
    _range_length(location, length)
    spec = _new(TensorSpec)
    set_name, set_shape, set_dtype, set_location, set_stride, set_storage, set_buffer, set_bits = (
        _spec_slots
    )
    set_name(spec, name)
    set_shape(spec, shape)
    set_dtype(spec, dtype)
    set_location(spec, location)
    set_stride(spec, None)
    set_storage(spec, None)
    set_buffer(spec, None)
    set_bits(spec, ())
    return spec


Kind = tuple[tuple[int, ...], str]
"""A tensor's shape and dtype: a million tensors have a few kinds."""


@dataclass(frozen=True)
class TensorColumns:
    """Tensors laid end to end in one file, as columns: one name, kind and end per tensor.

    Tensor ``i`` is a ``kinds[kind_ids[i]]`` of ``sizes[kind_ids[i]]`` bytes,
    ``[start + ends[i - 1], start + ends[i])`` of ``file`` (``ends[-1]`` read as
    0): what a safetensors header in data order describes, without an object
    per tensor. The reader checks that each end is the one before plus the size.

    Attributes:
        names: Tensor names, in file order.
        kinds: The distinct (shape, dtype) pairs.
        sizes: The byte size of a tensor of each kind.
        kind_ids: Each tensor's index into ``kinds``.
        ends: Each tensor's end, relative to ``start``.
        file: The file holding the bytes.
        start: The absolute offset the ends count from.
    """

    names: Sequence[str]
    kinds: Sequence[Kind]
    sizes: Sequence[int]
    kind_ids: Sequence[int]
    ends: Sequence[int]
    file: str
    start: int

    def __len__(self) -> int:
        return len(self.names)

    def offsets(self) -> Iterator[int]:
        """Each tensor's absolute offset, in order."""
        return map(
            self.start.__add__, itertools.islice(itertools.chain((0,), self.ends), len(self))
        )

    def lengths(self) -> Iterator[int]:
        """Each tensor's byte length, in order."""
        return map(self.sizes.__getitem__, self.kind_ids)

    def row_kinds(self) -> list[Kind]:
        """Each tensor's (shape, dtype), shared by the tensors of a kind."""
        return list(map(self.kinds.__getitem__, self.kind_ids))

    def spec(self, row: int) -> TensorSpec:
        """The :class:`TensorSpec` of tensor number ``row``."""
        kind = self.kind_ids[row]
        shape, dtype = self.kinds[kind]
        begin = self.ends[row - 1] if row else 0
        return new_spec(
            self.names[row], shape, dtype, self.file, self.start + begin, self.sizes[kind]
        )

    def specs(self) -> dict[str, TensorSpec]:
        """Every tensor's :class:`TensorSpec` by name, in order."""
        kinds = self.row_kinds()
        specs = map(
            new_spec,
            self.names,
            map(operator.itemgetter(0), kinds),
            map(operator.itemgetter(1), kinds),
            itertools.repeat(self.file),
            self.offsets(),
            self.lengths(),
        )
        return dict(zip(self.names, specs, strict=True))


class TensorTable(MutableMapping[str, TensorSpec]):
    """Tensor name to :class:`TensorSpec`, kept as :class:`TensorColumns` until it changes.

    The safetensors reader hands over a header's columns (a million tensors
    cost a few arrays, not two million objects); a spec is made when one is
    asked for. Iterating over the values or items, or changing the
    table, turns it into a plain ``dict`` once (what reading eagerly costs),
    and it is that dict from then on. ``columns`` is ``None`` from then on too.
    """

    __slots__ = ("_dict", "_index", "columns")

    def __init__(self, columns: TensorColumns) -> None:
        self.columns: TensorColumns | None = columns
        self._index: dict[str, int] | None = None
        self._dict: dict[str, TensorSpec] | None = None

    def _table(self) -> dict[str, TensorSpec]:
        """The plain dict, made once from the columns."""
        if self._dict is None:
            assert self.columns is not None
            with gc_paused():
                self._dict = self.columns.specs()
            self.columns = self._index = None
        return self._dict

    def _rows(self, columns: TensorColumns) -> dict[str, int]:
        """Name to row, made on the first lookup."""
        if self._index is None:
            self._index = dict(zip(columns.names, range(len(columns)), strict=True))
        return self._index

    def __getitem__(self, name: str) -> TensorSpec:
        if self.columns is None:
            return self._table()[name]
        return self.columns.spec(self._rows(self.columns)[name])

    def __contains__(self, name: object) -> bool:
        if self.columns is None:
            return name in self._table()
        return name in self._rows(self.columns)

    def __iter__(self) -> Iterator[str]:
        return iter(self._table() if self.columns is None else self.columns.names)

    def __len__(self) -> int:
        return len(self._table() if self.columns is None else self.columns)

    def __setitem__(self, name: str, spec: TensorSpec) -> None:
        self._table()[name] = spec

    def __delitem__(self, name: str) -> None:
        del self._table()[name]

    def values(self) -> ValuesView[TensorSpec]:
        """Every spec, made once: the table becomes its dict."""
        return self._table().values()

    def items(self) -> ItemsView[str, TensorSpec]:
        """Every (name, spec), made once: the table becomes its dict."""
        return self._table().items()

    def copy(self) -> dict[str, TensorSpec]:
        """A plain ``dict`` of the same tensors, as ``dict.copy`` gives."""
        return dict(self._table())

    def kind_counts(self) -> Counter[tuple[str, tuple[int, ...]]]:
        """How many tensors of each (dtype, shape), without making a spec per tensor."""
        if self.columns is None:
            return Counter(map(_DTYPE_AND_SHAPE, self._table().values()))
        kinds = self.columns.kinds
        return Counter(
            {(kinds[k][1], kinds[k][0]): n for k, n in Counter(self.columns.kind_ids).items()}
        )

    def __repr__(self) -> str:
        return f"<TensorTable {len(self)} tensors>"


@dataclass(frozen=True)
class Container:
    """A state dict found inside a checkpoint file (e.g. ``model``, ``ema``)."""

    key: str
    tensors: int
    params: int


@dataclass(frozen=True)
class OpaqueGlobal:
    """A global a pickle names that is not a known tensor rebuild; never imported."""

    module: str
    name: str
    verdict: SecurityVerdict


FOLDER_EXTRAS = frozenset({"file_format", "weight_sets", "components", "variant"})
"""``Manifest.extras`` keys the folder reader adds about the folder, not a weight file's entries."""


@dataclass
class Manifest(Displayable):
    """An ordered set of tensors read from one checkpoint (or built from a model).

    Attributes:
        tensors: Tensor name to :class:`TensorSpec`, in file order: a ``dict``, or
            the :class:`TensorTable` the safetensors reader keeps a header in.
        source: The path, URL or target description it came from.
        format: Reader that produced it (``"safetensors"``, ``"torch-zip"`` ...).
        files: Every file read, in order.
        metadata: String metadata stored with the weights (``__metadata__``).
        extras: Non-tensor entries (epoch, args, optimizer summary) as plain values.
        container: Key of the chosen state dict inside the file ("" for the top level).
        container_reason: Why that state dict was chosen.
        containers: Every state dict found, the chosen one included.
        security: For pickles, the worst verdict over the globals they name.
        globals: For pickles, every global that is not a known tensor rebuild.
        config: A model folder's ``config.json``, when there is one.
        notes: Facts a reader noticed that a person should know.
    """

    tensors: MutableMapping[str, TensorSpec]
    source: str
    format: str
    files: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    container: str | None = None
    container_reason: str | None = None
    containers: list[Container] = field(default_factory=list)
    security: SecurityVerdict | None = None
    globals: list[OpaqueGlobal] = field(default_factory=list)
    config: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.tensors)

    def __iter__(self) -> Iterator[str]:
        return iter(self.tensors)

    def __contains__(self, name: object) -> bool:
        return name in self.tensors

    def __getitem__(self, name: str) -> TensorSpec:
        return self.tensors[name]

    @property
    def num_params(self) -> int:
        """Total elements over every tensor."""
        return self.totals()[0]

    @property
    def total_bytes(self) -> int:
        """Total bytes over every tensor of known dtype."""
        return sum(self.bytes_by_dtype().values())

    def bytes_by_dtype(self) -> dict[str, int]:
        """Bytes per dtype, largest first."""
        return self.totals()[1]

    def totals(self) -> tuple[int, dict[str, int]]:
        """``(num_params, bytes_by_dtype())`` in one pass over the tensors.

        A million tensors have few kinds (dtype and shape): both are sums over those.
        """
        tensors = self.tensors
        kinds = (
            tensors.kind_counts()
            if isinstance(tensors, TensorTable)
            else Counter(map(_DTYPE_AND_SHAPE, tensors.values()))
        )
        params = sum(math.prod(shape) * n for (_, shape), n in kinds.items())
        counts: Counter[str] = Counter()
        for (dtype, shape), n in kinds.items():
            counts[dtype] += (dtypes.nbytes(dtype, shape) or 0) * n
        return params, dict(counts.most_common())

    def shapes(self) -> Mapping[str, tuple[int, ...]]:
        """Tensor name to shape."""
        return {name: spec.shape for name, spec in self.tensors.items()}

    def __repr__(self) -> str:
        name = Path(self.source).name or self.source
        return (
            f"<Manifest {self.format} {len(self.tensors)} tensors "
            f"{human_count(self.num_params)} params {human_bytes(self.total_bytes)} {name!r}>"
        )


def from_shapes(
    shapes: Mapping[str, tuple[int, ...] | list[int]],
    *,
    dtype: str = "F32",
    source: str = "<shapes>",
    format: str = "shapes",
) -> Manifest:
    """Build a location-less manifest from a name-to-shape mapping (tests, error logs)."""
    tensors = {
        name: TensorSpec(name=name, shape=tuple(int(s) for s in shape), dtype=dtype)
        for name, shape in shapes.items()
    }
    return Manifest(tensors=tensors, source=source, format=format)


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``1 tensor``, ``2 tensors``: a count with its noun in the right number."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def human_count(n: int) -> str:
    """A count in K/M/B/T, e.g. ``1.6B``."""
    for unit, size in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def human_bytes(n: int) -> str:
    """A size in decimal units, e.g. ``6.4 GB``."""
    for unit, size in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a million acyclic objects are built.

    Each allocation counts towards a collection that walks the whole growing heap:
    for a 1.1M-tensor safetensors header the collections cost as much as the parse
    itself, and building the module tree of 58k tensors took 2.3 s against 0.7 s.
    Readers and the tree use it; nothing they build forms a cycle.

    On leaving, what was built moves to the oldest generation (``freeze`` then
    ``unfreeze``, which walks nothing): otherwise the first young collection after
    the pause would walk all of it, then the middle one again (0.5 s each for 1.1M
    tensors). It stays collectable by a full collection.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.unfreeze()
            gc.enable()
