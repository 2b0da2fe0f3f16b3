"""The base's files in its model's memory names: transformers' saved layout, undone for PEFT.

PEFT names an adapter's tensors after the model in memory; transformers 5
writes some models' files in another layout and converts on load (see
:func:`weightfit.targets.transformers.add_saved_layout`):

- one-to-one renames: a Llava's ``model.language_model.layers…`` is written as
  ``language_model.model.layers…``;
- stacks: a Qwen3-MoE's ``mlp.experts.gate_up_proj`` ``[E, 2I, H]`` is written
  as ``experts.{e}.gate_proj.weight`` and ``experts.{e}.up_proj.weight``
  ``[I, H]``, recorded part by part (every expert's ``gate_proj``, then every
  ``up_proj``), each part's rows stacked along the memory tensor's second axis.

A tied copy is left out of the files too (``lm_head.weight`` of a model with
``tie_word_embeddings``). PEFT's ``modules_to_save`` on the input embedding
unties it: the trained copy replaces the embedding, the head keeps the
original rows (``save_embedding_layers`` saves them apart; older PEFT saved
nothing of them). Such a copy has a place in the model, which the files alone
do not show, and the merged model must keep it apart.

When an adapter's names miss the base's files and the base is a model folder,
its model is built from ``config.json`` on ``meta`` (cached) and its saved
layout and ties read. Renames are applied to the base manifest; stacks and
tied copies are returned beside it (:class:`MemoryView`), so a check sees the
memory tensors and a merge can add each expert's delta to the file tensors
that hold it and write the head the adapter untied.

The other way round, an adapter saved under transformers 4 names its tensors
after the files' layout, which was then the memory's too: :func:`older_layout`
finds such tensors and the names today's PEFT gives them, and
:func:`older_experts` the LoRA modules on per-expert tensors memory stacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from weightfit.errors import WeightfitError
from weightfit.manifest import Manifest, TensorSpec
from weightfit.peft.config import PEFT_PREFIX, parse
from weightfit.peft.layout import (
    base_tensor,
    base_weight,
    differing_heads,
    lora_target,
    split,
    strip_peft,
    unwrap,
)
from weightfit.targets.transformers import SAVED_LAYOUT


@dataclass(frozen=True)
class Stack:
    """A memory tensor ``[E, d1, d2]`` the base's files hold as per-expert parts.

    Attributes:
        name: The tensor's name in memory.
        shape: Its shape in memory.
        parts: The file tensors, part-major: ``parts[p * E + e]`` holds
            ``rows[p]`` rows of expert ``e``, after the rows of parts ``0 … p-1``.
        rows: The rows each part contributes.
    """

    name: str
    shape: tuple[int, ...]
    parts: tuple[str, ...]
    rows: tuple[int, ...]

    def piece(self, index: int) -> tuple[int, int, int]:
        """(expert, first row, rows) of ``parts[index]`` in the memory tensor."""
        experts = self.shape[0]
        part, expert = divmod(index, experts)
        return expert, sum(self.rows[:part]), self.rows[part]


@dataclass
class MemoryView:
    """The base as PEFT sees it: file tensors under memory names, stacks and tied copies.

    Attributes:
        base: The base's manifest, one-to-one renames applied (tensor bytes as read).
        stacks: Memory tensors the files hold as per-expert parts, by memory name.
        tied: Tied copies the files leave out and the adapter unties (it saves
            the copy, or replaces the tensor it shares): copy name → that tensor.
    """

    base: Manifest
    stacks: dict[str, Stack] = field(default_factory=dict)
    tied: dict[str, str] = field(default_factory=dict)

    def target(self) -> Manifest:
        """The manifest a check aligns with: stacks whole, tied copies present (no bytes)."""
        manifest = with_stacks(self.base, self.stacks)
        if not self.tied:
            return manifest
        tensors = dict(manifest.tensors)
        for copy, original in self.tied.items():
            tensors[copy] = replace(tensors[original], name=copy, location=None)
        return replace(manifest, tensors=tensors)


def memory_names(adapter: Manifest, base: Manifest) -> MemoryView:
    """The base with its files' names turned into memory names, its stacks and tied copies.

    Returns:
        The view; the base unchanged, without stacks or ties, when the adapter's
        names already find their tensors, the base is not a model folder, or its
        model does not explain the misses.

    """
    needed = _misses(adapter, MemoryView(base)) or (
        _ties(base.config) and bool(split(adapter.tensors.values()).whole)
    )
    model = _model(base) if needed else None
    if model is None:
        return MemoryView(base)
    layout = model.extras.get("saved_layout") or {}
    renames: dict[str, str] = {}
    stacks: dict[str, Stack] = {}
    for name, written in layout.items():
        if not isinstance(written, dict) or not all(w in base.tensors for w in written):
            continue
        if len(written) == 1:
            renames[next(iter(written))] = name
        elif name in model.tensors:
            stack = _stack(name, tuple(model.tensors[name].shape), written)
            if stack is not None:
                stacks[name] = stack
    renamed = _renamed(base, renames)
    tensors = renamed.tensors
    copies = {unwrap(c.spec.name) for c in split(adapter.tensors.values()).whole}
    tied = {
        copy: original
        for copy, original in (model.extras.get("tied") or {}).items()
        if (copy in copies or original in copies) and copy not in tensors and original in tensors
    }
    view = MemoryView(renamed, stacks, tied)
    return MemoryView(base) if _misses(adapter, view) else view


def older_layout(adapter: Manifest, base: Manifest) -> OlderLayout | None:
    """The adapter's tensors named after the base's files where its model's memory names differ.

    transformers 5 moved the modules of composite models (a config with a
    sub-model's config: ``text_config``, ``vision_config`` …): a Llava's
    ``language_model.model.layers`` is ``model.language_model.layers`` in
    memory, yet its files keep the names transformers 4 gave both, which
    ``from_pretrained`` renames on load. An adapter trained under transformers
    4 carries those names; PEFT names tensors after memory. Only such a base is
    built (from its ``config.json``, cached), so checking another costs nothing.

    Returns:
        What moved, or ``None`` when no adapter tensor uses a file name that
        memory renames, or the renamed adapter would not find its base tensors.

    """
    if not _composite(base.config):
        return None
    # A base built from a config is in memory names and records its files' own.
    model = base if base.extras.get(SAVED_LAYOUT) else _model(base)
    if model is None:
        return None
    renames = {
        next(iter(written)): name
        for name, written in (model.extras.get(SAVED_LAYOUT) or {}).items()
        if isinstance(written, dict) and len(written) == 1
    }
    if _misses(adapter, MemoryView(base)):
        # A fresh save's layout is not every file's: transformers 4 kept a nested
        # model's own prefix (vision_tower.vision_model.…), which the loader renames too.
        renames |= _loaded(adapter, model)
    files = _renamed(base, {new: old for old, new in renames.items() if new in base.tensors})
    renames = {old: new for old, new in renames.items() if old in files.tensors}
    if not renames:
        return None
    base = files
    layout = split(adapter.tensors.values())
    parameters = _target_parameters(adapter)
    owners: list[tuple[list[TensorSpec], str | None]] = [
        (m.specs, lora_target(m, base.tensors, parameters)) for m in layout.lora.values()
    ]
    owners += [([t.delta], base_weight(t.module, base.tensors)) for t in layout.tokens]
    owners += [
        ([c.spec], base_tensor(c.spec.name, base.tensors))
        for c in (*layout.whole, *layout.duplicates, *layout.originals)
    ]
    moved: dict[str, str] = {}
    for specs, weight in owners:
        if weight is None or weight not in renames:
            continue
        for spec in specs:
            new = _moved(spec.name, weight, renames[weight])
            if new is None:
                return None
            moved[spec.name] = new
    if not moved:
        return None
    memory = _renamed(base, renames)
    if _misses(_renamed(adapter, moved), MemoryView(memory)):
        return None
    return OlderLayout(moved, str(model.extras.get("library") or "transformers"), files)


def _loaded(adapter: Manifest, model: Manifest) -> dict[str, str]:
    """The adapter's base tensors under their file names → the names ``from_pretrained`` gives."""
    from weightfit.converters.transformers_mapping import loaded_names

    layout = split(adapter.tensors.values())
    names = [strip_peft(unwrap(module.name)) + ".weight" for module in layout.lora.values()]
    names += [strip_peft(unwrap(copy.spec.name)) for copy in layout.whole]
    return loaded_names(names, model)


@dataclass(frozen=True)
class OlderLayout:
    """Adapter tensors saved under a base's file names, which its model renames in memory.

    Attributes:
        moved: Adapter tensor → its name on today's model (as PEFT would save it now).
        library: The library whose model gave the memory names (``transformers 5.2.0``).
        files: The base under its files' names, which the adapter's names find.
    """

    moved: dict[str, str]
    library: str
    files: Manifest = field(repr=False)

    def facts(self) -> dict[str, object]:
        """What the ``older_layout`` rule reads (``facts["older_layout"]``)."""
        return {"moved": dict(self.moved), "library": self.library}


@dataclass(frozen=True)
class OlderExperts:
    """LoRA modules on a base's per-expert file tensors, which its model stacks in memory.

    Attributes:
        fused: Adapter LoRA module → the memory tensor its expert's part is stacked into.
        parts: Each such memory tensor → the module names of its parts (``w1``, ``w3``).
        targeted: Each such memory tensor → the parts the adapter adapts.
        library: The library whose model stacks them (``transformers 5.2.0``).
        files: The base under its files' names, which the adapter's names find.
    """

    fused: dict[str, str]
    parts: dict[str, list[str]]
    targeted: dict[str, list[str]]
    library: str
    files: Manifest = field(repr=False)

    def facts(self) -> dict[str, object]:
        """What the ``older_experts`` rule reads (``facts["older_experts"]``)."""
        return {
            "fused": dict(self.fused),
            "parts": dict(self.parts),
            "targeted": dict(self.targeted),
            "library": self.library,
        }


def older_experts(adapter: Manifest, base: Manifest) -> OlderExperts | None:
    """The adapter's LoRA modules on per-expert tensors the base's model stacks in memory.

    transformers 5 keeps a Mixtral's experts as one ``mlp.experts.gate_up_proj``
    ``[E, 2I, H]`` (and ``down_proj``) in memory, while its files, like every
    transformers 4 model, hold ``block_sparse_moe.experts.{e}.w1`` … per expert.
    An adapter trained under transformers 4 adapts those per-expert modules; a
    base in memory names (a ``config.json`` built on ``meta``) has none of them.

    Returns:
        What is stacked, or ``None`` when the adapter's names find the base, no
        LoRA module adapts a stacked part, or the files' names would not find
        every module either.

    """
    if not _misses(adapter, MemoryView(base)):
        return None
    model = base if base.extras.get(SAVED_LAYOUT) else _model(base)
    if model is None:
        return None
    renames: dict[str, str] = {}
    stacks: dict[str, Stack] = {}
    for name, written in (model.extras.get(SAVED_LAYOUT) or {}).items():
        if not isinstance(written, dict) or name not in base.tensors:
            continue
        if len(written) == 1:
            renames[name] = next(iter(written))
        elif name in model.tensors:
            stack = _stack(name, tuple(model.tensors[name].shape), written)
            if stack is not None:
                stacks[name] = stack
    if not stacks:
        return None
    files = _renamed(_unstacked(base, stacks, model), renames)
    if _misses(adapter, MemoryView(files)):
        return None
    owner = {part: stack for stack in stacks.values() for part in stack.parts}
    parameters = _target_parameters(adapter)
    fused: dict[str, str] = {}
    targeted: dict[str, set[str]] = {}
    for module in split(adapter.tensors.values()).lora.values():
        weight = lora_target(module, files.tensors, parameters)
        stack = owner.get(weight or "")
        if stack is not None and weight is not None:
            fused[module.name] = stack.name
            targeted.setdefault(stack.name, set()).add(_leaf(weight))
    if not fused:
        return None
    return OlderExperts(
        fused=fused,
        parts={n: list(dict.fromkeys(_leaf(p) for p in stacks[n].parts)) for n in targeted},
        targeted={n: sorted(leaves) for n, leaves in targeted.items()},
        library=str(model.extras.get("library") or "transformers"),
        files=files,
    )


def _unstacked(base: Manifest, stacks: dict[str, Stack], model: Manifest) -> Manifest:
    """``base``, each stacked memory tensor replaced by its per-expert file tensors (no bytes)."""
    written = model.extras.get(SAVED_LAYOUT) or {}
    tensors = {n: s for n, s in base.tensors.items() if n not in stacks}
    for stack in stacks.values():
        dtype = base.tensors[stack.name].dtype
        for part in stack.parts:
            tensors[part] = TensorSpec(part, tuple(written[stack.name][part]), dtype)
    return replace(base, tensors=tensors)


def _leaf(weight: str) -> str:
    """The module a file tensor belongs to, its last name (``w1`` of ``…experts.0.w1.weight``)."""
    return weight.rsplit(".", 2)[-2] if "." in weight else weight


def _moved(name: str, file_name: str, memory_name: str) -> str | None:
    """``name`` (an adapter tensor of the module ``file_name`` belongs to) with memory's prefix."""
    old, new = differing_heads(file_name, memory_name)
    body = strip_peft(name)
    if not body.startswith(old):
        return None
    return PEFT_PREFIX + new + body[len(old) :]


def _composite(config: object) -> bool:
    """Whether a model config holds a sub-model's config (``text_config`` …): a composite model."""
    return isinstance(config, dict) and any(
        isinstance(value, dict) and "model_type" in value for value in config.values()
    )


def _renamed(manifest: Manifest, renames: dict[str, str]) -> Manifest:
    """``manifest`` with the tensors ``renames`` names under their new names (no bytes move)."""
    tensors = {
        renames.get(n, n): replace(s, name=renames.get(n, n)) for n, s in manifest.tensors.items()
    }
    return replace(manifest, tensors=tensors)


def _model(base: Manifest) -> Manifest | None:
    """The base's model, built from its folder's ``config.json`` (``None``: none, or it fails)."""
    from weightfit.targets import resolve

    config = Path(base.source) / "config.json"
    if not config.is_file():
        return None
    try:
        return resolve(config)
    except WeightfitError:
        return None


def _target_parameters(adapter: Manifest) -> list[str]:
    config = adapter.config if isinstance(adapter.config, dict) else {}
    try:
        return parse(config).target_parameters if "peft_type" in config else []
    except WeightfitError:
        return []


def with_stacks(base: Manifest, stacks: dict[str, Stack]) -> Manifest:
    """``base`` with each stack's parts replaced by the memory tensor (no bytes: a check's view)."""
    if not stacks:
        return base
    parts = {part for stack in stacks.values() for part in stack.parts}
    tensors = {n: s for n, s in base.tensors.items() if n not in parts}
    for stack in stacks.values():
        dtype = base.tensors[stack.parts[0]].dtype
        tensors[stack.name] = TensorSpec(stack.name, stack.shape, dtype)
    return replace(base, tensors=tensors)


def _stack(name: str, shape: tuple[int, ...], written: dict[str, list[int]]) -> Stack | None:
    """The parts of a ``[E, d1, d2]`` tensor, if ``written`` is laid out as documented above."""
    names = list(written)
    if len(shape) != 3 or shape[0] <= 0 or len(names) % shape[0]:
        return None
    experts, first, second = shape
    rows = []
    for start in range(0, len(names), experts):
        group = names[start : start + experts]
        shapes = {tuple(written[n]) for n in group}
        if len(shapes) != 1 or not _numbered(group):
            return None
        (part,) = shapes
        if len(part) != 2 or part[1] != second:
            return None
        rows.append(part[0])
    if sum(rows) != first:
        return None
    return Stack(name, shape, tuple(names), tuple(rows))


def _numbered(group: list[str]) -> bool:
    """Whether the names differ in one dotted segment only, which reads 0, 1, 2 … in order."""
    split_names = [n.split(".") for n in group]
    if len({len(parts) for parts in split_names}) != 1:
        return False
    varying = [i for i in range(len(split_names[0])) if len({p[i] for p in split_names}) > 1]
    if len(group) == 1:
        return True
    return len(varying) == 1 and [p[varying[0]] for p in split_names] == [
        str(e) for e in range(len(group))
    ]


def _ties(config: object) -> bool:
    """Whether a config ties word embeddings (top level or ``text_config``)."""
    if not isinstance(config, dict):
        return False
    text = config.get("text_config")
    return bool(config.get("tie_word_embeddings")) or (
        isinstance(text, dict) and bool(text.get("tie_word_embeddings"))
    )


def _misses(adapter: Manifest, view: MemoryView) -> bool:
    """Whether some LoRA module or whole copy of the adapter finds no base tensor."""
    layout = split(adapter.tensors.values())
    parameters = _target_parameters(adapter)
    specs = view.target().tensors
    return any(base_tensor(c.spec.name, specs) is None for c in layout.whole) or any(
        lora_target(m, specs, parameters) is None for m in layout.lora.values()
    )
