"""Find the state dicts inside a pickled checkpoint and choose the one to read.

Training code rarely saves a bare state dict: it saves ``{"model": ...,
"model_ema": ..., "optimizer": ..., "epoch": 3, "args": Namespace(...)}``,
Lightning's ``{"state_dict": ..., "callbacks": ..., "optimizer_states": ...}``,
DeepSpeed's ``{"module": ...}``, or a whole pickled ``nn.Module``. This module
walks the object graph the pickle VM built (never importing anything), finds
every *state dict* (a mapping with string keys and tensor values, a pickled
module's parameters and buffers, or a mapping that only groups such state
dicts), and chooses the main one, with the reason:

1. ``key`` given (a dotted path, ``"ema"``, ``"a.b"``): that entry;
2. else a non-EMA state dict under a conventional name (:data:`PREFERRED_KEYS`,
   ``state_dict`` first), the shallowest first;
3. else the largest non-EMA state dict (a plain state dict file is its own
   top level); only EMA copies: the largest of those.

Everything else at the top level is summarised as plain data in ``extras``
(``epoch``, ``args`` fields, ``"optimizer state: 120 tensors"``).
"""

from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass, field
from typing import Any

from weightfit.errors import ContainerKeyNotFound, HeaderTooLarge
from weightfit.formats.pickle_graph import (
    MAX_DEPTH,
    MIN_VISITS,
    count_tensors,
    entries_of,
    is_container,
    is_optimizer,
    loose_tensors,
)
from weightfit.formats.pickle_nodes import (
    Call,
    GlobalRef,
    OpaqueKey,
    PersistentRef,
    Storage,
    TensorRecord,
    canonical_dtype,
)
from weightfit.manifest import Container

PREFERRED_KEYS = (
    "state_dict",
    "model_state_dict",
    "model",
    "module",
    "model_state",
    "net",
    "network",
    "params",
    "weights",
)
"""Keys under which training scripts keep the model's weights, most telling first."""

VISITS_PER_OPCODE = 4
"""Walk budget: node visits allowed per pickle opcode (shared references count each time)."""
MAX_EXTRA_ITEMS = 50
"""Entries kept per list or dict when summarising extras."""
MAX_EXTRA_DEPTH = 4
"""Nesting kept when summarising extras."""
MAX_EXTRA_STRING = 1_000
"""Characters kept of a string in extras."""

TENSOR_REBUILDS = "torch._utils._rebuild_"
"""Prefix of torch's tensor rebuild functions; those not mapped to bytes make other layouts."""

_EMA = re.compile(r"(^|[^a-z])(ema|swa|averaged)([^a-z]|$)")


@dataclass
class Found:
    """One state dict in the file.

    Attributes:
        path: Keys from the top level down to it (``()`` for the top level).
        tensors: Tensor name to record, in file order.
        buffers: Tensor name to whether it is a buffer, where known (pickled modules).
        kind: ``"dict"``, ``"group"`` (a mapping of state dicts) or ``"module"``.
        source: For a pickled module, its class (``"__main__.Net"``).
        unmapped: Entries that are tensors in a layout with no plain storage view
            (sparse, nested), by name: the rebuild function that makes them.

    """

    path: tuple[str, ...]
    tensors: dict[str, TensorRecord]
    buffers: dict[str, bool] = field(default_factory=dict)
    kind: str = "dict"
    source: str = ""
    unmapped: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The dotted path (``""`` for the top level)."""
        return ".".join(self.path)

    @property
    def params(self) -> int:
        """Elements over every tensor."""
        return sum(math.prod(t.shape) for t in self.tensors.values())

    @property
    def is_ema(self) -> bool:
        """Whether a key on its path names an averaged copy (``ema``, ``model_ema`` ...)."""
        return any(_EMA.search(part.lower()) for part in self.path)


@dataclass
class Choice:
    """The state dict chosen, and what else the file holds.

    Attributes:
        key: Dotted path of the chosen state dict (``""`` for the top level).
        reason: Why it was chosen, one sentence.
        tensors: Its tensors, by name.
        buffers: Which of them are buffers, where known.
        containers: Every state dict found, the chosen one included.
        extras: The other top-level entries, as plain JSON-ready data.
        unmapped: Tensors of the chosen state dict left out: name to rebuild function.

    """

    key: str
    reason: str
    tensors: dict[str, TensorRecord]
    buffers: dict[str, bool]
    containers: list[Container]
    extras: dict[str, Any]
    unmapped: dict[str, str] = field(default_factory=dict)


def choose(root: Any, *, key: str | None = None, budget: int = MIN_VISITS) -> Choice:
    """Find every state dict under ``root`` and choose the one to read.

    Args:
        root: The value a pickle produced (see :mod:`weightfit.formats.pickle_vm`).
        key: Dotted path of the state dict to use; ``None`` chooses.
        budget: Opcodes the pickle took; the walk may visit
            :data:`VISITS_PER_OPCODE` times as many nodes.

    Returns:
        The :class:`Choice`.

    Raises:
        ContainerKeyNotFound: ``key`` names nothing, or nothing holding tensors.
        HeaderTooLarge: the graph nests deeper than :data:`MAX_DEPTH` or expands
            past the walk budget (a shared-reference bomb).

    Example:
        >>> choose(weights_graph).key  # doctest: +SKIP
        'model'

    """
    walker = _Walker(max(MIN_VISITS, budget * VISITS_PER_OPCODE))
    walker.visit(root, (), 0)
    found = walker.found
    chosen: Found | None
    if key is not None:
        chosen = _explicit(root, key, found, walker)
        reason = f"asked for with key {key!r}"
    else:
        chosen, reason = _automatic(found)
        if chosen is None:
            reason = _no_state_dict(root)
    containers = [Container(f.key, len(f.tensors), f.params) for f in found]
    if chosen is not None and all(c.key != chosen.key for c in containers):
        containers.insert(0, Container(chosen.key, len(chosen.tensors), chosen.params))
    if chosen is None:
        return Choice("", reason, {}, {}, containers, _extras(root, None, found))
    return Choice(
        key=chosen.key,
        reason=reason,
        tensors=chosen.tensors,
        buffers=chosen.buffers,
        containers=containers,
        extras=_extras(root, chosen.path, found),
        unmapped=chosen.unmapped,
    )


def _automatic(found: list[Found]) -> tuple[Found | None, str]:
    """Choose the main state dict among ``found``; return it and why."""
    if not found:
        return None, "the file holds no tensors"
    if len(found) == 1:
        only = found[0]
        if not only.path:
            return only, _top_reason(only)
        return only, f"the only state dict in the file is under {only.key!r}"
    plain = [f for f in found if not f.is_ema]
    named = [f for f in plain if f.path and f.path[-1] in PREFERRED_KEYS]
    if named:
        best = min(named, key=lambda f: (PREFERRED_KEYS.index(f.path[-1]), len(f.path)))
        return best, f"{best.key!r} is the conventional key for model weights"
    pool = plain or found
    best = max(pool, key=lambda f: (len(f.tensors), f.params, -len(f.path)))
    if not best.path:
        return best, _top_reason(best)
    if not plain:
        return best, f"only averaged (EMA) weights found; {best.key!r} is the largest"
    return best, f"{best.key!r} is the largest state dict ({len(best.tensors)} tensors)"


MAX_LOOSE_NAMES = 3
"""Paths of tensors outside any state dict that a reason lists."""


OPTIMIZER_DEPTH = 3
"""How deep an optimizer state dict is looked for in a file without weights: DeepSpeed's
``*_optim_states.pt`` keeps it at ``optimizer_state_dict.optimizer_state_dict``."""


def _optimizer_within(root: Any, depth: int = OPTIMIZER_DEPTH) -> tuple[str, dict[Any, Any]] | None:
    """The first optimizer state dict at ``root`` or in its mappings, with its key path."""
    mapping = entries_of(root)
    if mapping is None:
        return None
    if is_optimizer(mapping):
        return "", mapping
    if depth == 0:
        return None
    for key, value in mapping.items():
        found = _optimizer_within(value, depth - 1) if isinstance(key, str) else None
        if found is not None:
            return ".".join(p for p in (key, found[0]) if p), found[1]
    return None


def _no_state_dict(root: Any) -> str:
    """Say why nothing was chosen: no tensors at all, or tensors with no names to read them by."""
    if isinstance(root, TensorRecord):
        dims = "×".join(str(d) for d in root.shape) or "scalar"
        return (
            f"the file's top level is one tensor ({canonical_dtype(root.dtype)}[{dims}]), "
            "not a state dict: it has no tensor names"
        )
    found = _optimizer_within(root)
    if found is not None:
        where, mapping = found
        place = (
            f" holds an optimizer state dict under {where!r}"
            if where
            else "'s top level is an optimizer state dict"
        )
        return (
            f"the file{place} "
            f"({count_tensors(mapping.get('state'))} tensors), not model weights; "
            f"--key {where + '.' if where else ''}state.N reads parameter N's state"
        )
    loose = list(loose_tensors(root, "", set()))
    if not loose:
        return "the file holds no tensors"
    shown = ", ".join(repr(p) for p in loose[:MAX_LOOSE_NAMES])
    more = f" (+{len(loose) - MAX_LOOSE_NAMES} more)" if len(loose) > MAX_LOOSE_NAMES else ""
    return (
        f"no state dict (a mapping of names to tensors) found, but {len(loose)} tensor(s) "
        f"outside one: {shown}{more}; --key reads one by its path"
    )


def _label(key: str) -> str:
    return repr(key) if key else "the top level"


def _top_reason(found: Found) -> str:
    if found.kind == "module":
        return f"the file is a pickled {found.source} module: its parameters and buffers"
    if found.kind == "group":
        return "the file's top level groups state dicts; their tensors are read together"
    return "the file's top level is a state dict"


def _explicit(root: Any, key: str, found: list[Found], walker: _Walker) -> Found:
    """Return the state dict at the dotted path ``key``."""
    for f in found:
        if f.key == key:
            return f
    node = _resolve(root, key.split("."))
    if node is _MISSING:
        raise ContainerKeyNotFound(f"no entry {key!r}; {_available(root, found)}")
    sub = _Walker(walker.budget)
    tensors: dict[str, TensorRecord] = {}
    if isinstance(node, TensorRecord):
        tensors[key.rsplit(".", 1)[-1]] = node
    else:
        sub.flatten(node, "", tensors, 0)
    if not tensors:
        raise ContainerKeyNotFound(f"entry {key!r} holds no tensors; {_available(root, found)}")
    return Found(tuple(key.split(".")), tensors)


_MISSING = object()


def _resolve(node: Any, parts: list[str]) -> Any:
    """Follow dotted ``parts`` down mappings and lists (keys may contain dots)."""
    if not parts:
        return node
    mapping = entries_of(node)
    if mapping is not None:
        for split in range(len(parts), 0, -1):
            name = ".".join(parts[:split])
            number = int(name) if name.isdigit() and len(name) < 19 else None
            for candidate in (name, number):
                if candidate is not None and candidate in mapping:
                    result = _resolve(mapping[candidate], parts[split:])
                    if result is not _MISSING:
                        return result
        return _MISSING
    index = parts[0]
    if (
        isinstance(node, list | tuple)
        and index.isdigit()
        and len(index) < 19
        and int(index) < len(node)
    ):
        return _resolve(node[int(parts[0])], parts[1:])
    return _MISSING


def _available(root: Any, found: list[Found]) -> str:
    """Say what ``--key`` could name: the state dicts found and the top-level keys."""
    dicts = ", ".join(_label(f.key) for f in found) or "none"
    mapping = entries_of(root)
    top = ", ".join(str(k) for k in list(mapping)[:30]) if mapping else "none"
    return f"state dicts found: {dicts}; top-level keys: {top}"


def _module_state(node: Any) -> dict[Any, Any] | None:
    """Return the state of a pickled module: an ``nn.Module``, or a TorchScript object.

    An ``nn.Module``'s ``__dict__`` has the three registries (``_parameters``,
    ``_buffers``, ``_modules``); a TorchScript module (``torch.jit.save``) is a
    ``__torch__.*`` object whose attributes are its tensors and submodules.
    """
    if isinstance(node, Call) and isinstance(node.state, dict):
        state = node.state
        if all(k in state for k in _REGISTRIES) or node.qualname.startswith(_SCRIPT):
            return state
    return None


_REGISTRIES = ("_parameters", "_buffers", "_modules")
TORCHSCRIPT_NAMESPACE = "__torch__"
"""The module TorchScript names its compiled classes under, which no Python package defines."""
_SCRIPT = f"{TORCHSCRIPT_NAMESPACE}."


class _Walker:
    """Walks the object graph once, with a visit budget and a depth limit."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.visits = 0
        self.found: list[Found] = []
        self.on_path: set[int] = set()

    def count(self, depth: int) -> None:
        self.visits += 1
        if self.visits > self.budget:
            raise HeaderTooLarge(
                f"pickle's object graph expands past {self.budget} nodes "
                "(shared references repeated like a zip bomb)"
            )
        if depth > MAX_DEPTH:
            raise HeaderTooLarge(f"pickle nests containers deeper than {MAX_DEPTH} levels")

    def visit(self, node: Any, path: tuple[str, ...], depth: int) -> Found | None:
        """Record the state dicts at or under ``node``; return the one at ``node``, if any."""
        self.count(depth)
        if id(node) in self.on_path:
            return None
        if isinstance(node, list | tuple):
            self.on_path.add(id(node))
            for index, item in enumerate(node):
                if is_container(item):
                    self.visit(item, (*path, str(index)), depth + 1)
            self.on_path.discard(id(node))
            return None
        module = _module_state(node)
        if module is not None:
            return self._module(node, module, path, depth)
        mapping = entries_of(node)
        if mapping is None or is_optimizer(mapping):
            return None
        self.on_path.add(id(node))
        tensors: dict[str, TensorRecord] = {}
        unmapped: dict[str, str] = {}
        children: dict[str, Found | None] = {}
        for k, value in mapping.items():
            if isinstance(value, TensorRecord):
                if isinstance(k, str):
                    tensors[k] = value
            elif isinstance(value, Call) and value.qualname.startswith(TENSOR_REBUILDS):
                unmapped[str(k)] = value.qualname
            elif is_container(value):
                children[str(k)] = self.visit(value, (*path, str(k)), depth + 1)
        self.on_path.discard(id(node))
        result: Found | None = None
        if tensors or unmapped:
            result = Found(path, tensors, unmapped=unmapped)
        elif len(children) >= 2 and len(children) == len(mapping) and _groups(children):
            grouped: dict[str, TensorRecord] = {}
            for name, child in children.items():
                assert child is not None
                grouped.update({f"{name}.{t}": r for t, r in child.tensors.items()})
            result = Found(path, grouped, kind="group")
        if result is not None:
            self.found.append(result)
        return result

    def _module(
        self, node: Call, state: dict[Any, Any], path: tuple[str, ...], depth: int
    ) -> Found | None:
        found = Found(path, {}, kind="module", source=node.qualname)
        self._module_tensors(state, "", found, depth)
        if not found.tensors:
            return None
        self.found.append(found)
        return found

    def _module_tensors(self, state: dict[Any, Any], prefix: str, found: Found, depth: int) -> None:
        """Collect parameters, persistent buffers and submodules, named as ``state_dict`` does."""
        self.count(depth)
        if not all(k in state for k in _REGISTRIES):
            self._script_tensors(state, prefix, found, depth)
            return
        transient = state.get("_non_persistent_buffers_set")
        skip = transient if isinstance(transient, set | frozenset) else set()
        for registry, is_buffer in (("_parameters", False), ("_buffers", True)):
            entries = entries_of(state.get(registry))
            for name, value in (entries or {}).items():
                if isinstance(value, TensorRecord) and isinstance(name, str) and name not in skip:
                    found.tensors[prefix + name] = value
                    found.buffers[prefix + name] = is_buffer
        for name, child in (entries_of(state.get("_modules")) or {}).items():
            child_state = _module_state(child)
            if child_state is not None and id(child) not in self.on_path:
                self.on_path.add(id(child))
                self._module_tensors(child_state, f"{prefix}{name}.", found, depth + 1)
                self.on_path.discard(id(child))

    def _script_tensors(self, state: dict[Any, Any], prefix: str, found: Found, depth: int) -> None:
        """Collect a TorchScript module's tensor attributes and submodules, by attribute path."""
        for name, value in state.items():
            if not isinstance(name, str):
                continue
            if isinstance(value, TensorRecord):
                found.tensors[prefix + name] = value
            elif _module_state(value) is not None and id(value) not in self.on_path:
                self.on_path.add(id(value))
                self._module_tensors(value.state, f"{prefix}{name}.", found, depth + 1)
                self.on_path.discard(id(value))

    def flatten(self, node: Any, prefix: str, out: dict[str, TensorRecord], depth: int) -> None:
        """Collect every tensor under ``node``, named by dotted path (for an explicit ``key``)."""
        self.count(depth)
        module = _module_state(node)
        if module is not None:
            found = Found((), {})
            self._module_tensors(module, prefix, found, depth)
            out.update(found.tensors)
            return
        mapping = entries_of(node)
        if mapping is None or id(node) in self.on_path:
            return
        self.on_path.add(id(node))
        for k, value in mapping.items():
            if isinstance(value, TensorRecord):
                out[f"{prefix}{k}"] = value
            elif is_container(value):
                self.flatten(value, f"{prefix}{k}.", out, depth + 1)
        self.on_path.discard(id(node))


def _groups(children: dict[str, Found | None]) -> bool:
    """Whether a mapping only groups state dicts (``{"encoder": sd, "decoder": sd}``)."""
    if any(child is None for child in children.values()):
        return False
    return not any(_EMA.search(k.lower()) or k in PREFERRED_KEYS for k in children)


# --- extras: the non-tensor entries, as plain data ----------------------------------------


def _extras(root: Any, chosen: tuple[str, ...] | None, found: list[Found]) -> dict[str, Any]:
    """Summarise the top-level entries other than the chosen state dict as plain data."""
    mapping = entries_of(root)
    if mapping is None or _module_state(root) is not None:
        return {}
    by_id = {id(_node_of(root, f.path)): f for f in found if f.path}
    summary = _Summary(by_id)
    extras: dict[str, Any] = {}
    for k, value in mapping.items():
        name = _text_key(k)
        if chosen and name == chosen[0]:
            continue
        if chosen == () and (isinstance(value, TensorRecord) or id(value) in by_id):
            continue
        extras[name] = summary.plain(value, 0)
    return extras


def _node_of(root: Any, path: tuple[str, ...]) -> Any:
    node = root
    for part in path:
        node = _resolve(node, [part])
    return node


def _text_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, OpaqueKey):
        return repr(key)
    return str(key)


class _Summary:
    """Turns graph nodes into small JSON-ready values, within a size budget."""

    def __init__(self, state_dicts: dict[int, Found]) -> None:
        self.state_dicts = state_dicts
        self.left = MAX_EXTRA_ITEMS * 20

    def plain(self, value: Any, depth: int) -> Any:
        self.left -= 1
        if self.left < 0:
            return "…"
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, str):
            return value if len(value) <= MAX_EXTRA_STRING else value[:MAX_EXTRA_STRING] + "…"
        if isinstance(value, bytes):
            return f"<{len(value)} bytes>"
        if isinstance(value, complex):
            return str(value)
        if isinstance(value, TensorRecord):
            return f"tensor {canonical_dtype(value.dtype)}{list(value.shape)}"
        if id(value) in self.state_dicts:
            count = len(self.state_dicts[id(value)].tensors)
            return f"state dict: {count} tensor{'' if count == 1 else 's'}"
        if isinstance(value, GlobalRef):
            return f"<{value.qualname}>"
        if isinstance(value, Storage | PersistentRef | OpaqueKey):
            return repr(value)
        optimizer = _optimizer_tensors(value)
        if optimizer is not None:
            return f"optimizer state: {optimizer} tensor{'' if optimizer == 1 else 's'}"
        if isinstance(value, Call):
            return self._call(value, depth)
        if depth >= MAX_EXTRA_DEPTH:
            return f"<{type(value).__name__} of {len(value)}>"
        if isinstance(value, dict):
            items = list(value.items())
            out = {_text_key(k): self.plain(v, depth + 1) for k, v in items[:MAX_EXTRA_ITEMS]}
            if len(items) > MAX_EXTRA_ITEMS:
                out["…"] = f"{len(items) - MAX_EXTRA_ITEMS} more"
            return out
        if isinstance(value, list | tuple | set | frozenset):
            items = list(value)
            out_list = [self.plain(v, depth + 1) for v in items[:MAX_EXTRA_ITEMS]]
            if len(items) > MAX_EXTRA_ITEMS:
                out_list.append(f"… {len(items) - MAX_EXTRA_ITEMS} more")
            return out_list
        return f"<{type(value).__name__}>"

    def _call(self, call: Call, depth: int) -> Any:
        name = call.qualname
        scalar = _numpy_scalar(call)
        if scalar is not None:
            return scalar
        if name == "argparse.Namespace" and isinstance(call.state, dict):
            return self.plain(call.state, depth)
        if name.startswith("pathlib.") and all(isinstance(a, str) for a in call.args):
            return "/".join(call.args)
        if call.items is not None:
            return self.plain(call.items, depth)
        if _module_state(call) is not None:
            return f"<{name} module>"
        return f"<{name} object>"


def _optimizer_tensors(value: Any) -> int | None:
    """Tensors in an optimizer state dict (or a list of them, as Lightning saves), else None."""
    items = value if isinstance(value, list) and value else [value]
    total = 0
    for item in items:
        mapping = entries_of(item)
        if mapping is None or not is_optimizer(mapping):
            return None
        total += count_tensors(mapping.get("state"))
    return total


_NUMPY_SCALAR = {"numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar"}
_NUMPY_FORMATS = {
    "f8": "d", "f4": "f", "f2": "e", "i8": "q", "i4": "i", "i2": "h", "i1": "b",
    "u8": "Q", "u4": "I", "u2": "H", "u1": "B", "b1": "?",
}  # fmt: skip


def _numpy_scalar(call: Call) -> Any:
    """Decode a pickled numpy scalar (``numpy.float64(0.93)``); ``None`` if it is not one."""
    if call.qualname not in _NUMPY_SCALAR or len(call.args) != 2:
        return None
    dtype, raw = call.args
    if not (isinstance(dtype, Call) and dtype.args and isinstance(dtype.args[0], str)):
        return None
    code = _NUMPY_FORMATS.get(dtype.args[0])
    state = dtype.state if isinstance(dtype.state, tuple) else ()
    order = ">" if len(state) > 1 and state[1] == ">" else "<"
    if code is None or not isinstance(raw, bytes) or len(raw) != struct.calcsize(code):
        return None
    return struct.unpack(order + code, raw)[0]
