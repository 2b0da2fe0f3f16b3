"""Which adapter tensor is what, and which base tensor it belongs to.

A PEFT adapter saved with ``save_pretrained`` names its tensors after the
wrapped model with the adapter name removed (``peft.utils.save_and_load``):

- LoRA: ``<module>.lora_A.weight`` ``[r, in]`` and ``<module>.lora_B.weight``
  ``[out, r]`` (convolutions ``[r, in, kh, kw]`` / ``[out, r, 1, 1]``; an
  ``nn.Embedding`` ``<module>.lora_embedding_A`` ``[r, rows]`` and ``_B``
  ``[dim, r]``), ``lora_B.bias`` with ``lora_bias``, ``lora_magnitude_vector``
  with DoRA;
- LoRA on a parameter (``target_parameters``, PEFT ≥ 0.17's ``ParamWrapper``):
  the same ``lora_A``/``lora_B`` under the module that owns the parameter, one
  more ``base_layer.`` for each further parameter of that module (the wrappers
  nest: the last parameter listed is outermost); ``A`` is ``[r·E, in]`` and
  ``B`` ``[out, r·E]`` for an ``[E, …]`` stack of experts;
- trainable tokens: ``<module>.token_adapter.trainable_tokens_delta`` ``[n, dim]``;
- anything else is a whole copy of a base tensor: ``modules_to_save`` (saved as
  ``<module>.weight`` and, with ``save_embedding_layers``, also as
  ``<module>.modules_to_save.weight`` beside the untrained
  ``<module>.original_module.weight``), embeddings saved because they were
  resized or targeted (``<module>.base_layer.weight``; under trainable tokens
  ``<module>.token_adapter.base_layer.weight``), and the biases
  ``bias="all"`` / ``"lora_only"`` trains (``<module>.base_layer.bias`` for an
  adapted module).

Every module name starts with ``base_model.model.``, which PEFT strips to find
the base-model module: nothing else, so a nesting offset makes it miss. The
wrapper segments (``base_layer``, ``modules_to_save``, ``original_module``,
``token_adapter``)
are PEFT's own modules around a base module, never part of the base's names.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from weightfit.manifest import TensorSpec
from weightfit.peft.config import PEFT_PREFIX

_PARTS = {
    ".lora_A.weight": "a",
    ".lora_B.weight": "b",
    ".lora_B.bias": "bias",
    ".lora_embedding_A": "a",
    ".lora_embedding_B": "b",
    ".lora_magnitude_vector.weight": "magnitude",
    ".lora_magnitude_vector": "magnitude",
}
TOKEN_DELTA = ".token_adapter.trainable_tokens_delta"
"""Name ending of a ``TrainableTokensLayer``'s trained rows."""

WRAPPERS = ("base_layer", "modules_to_save", "original_module", "token_adapter")
"""PEFT's wrapper modules between a base module and its tensors (``peft.tuners``); a
``TrainableTokensWrapper``'s ``token_adapter`` holds the embedding as its ``base_layer``."""

ORIGINAL = "original_module"
"""The ``ModulesToSaveWrapper``'s untouched module: what training started from, not merged."""

_COPY_PREFERENCE = ("", "modules_to_save", "base_layer")
"""Which of several copies of one base tensor stands for it (all hold the trained values)."""


@dataclass
class LoraModule:
    """The LoRA tensors of one base module (or of one parameter of it).

    Attributes:
        name: The module as the adapter names it (``base_model.model.…q_proj``).
        a: ``lora_A`` (``[r, in]``, ``[r, in, kh, kw]``, or ``[r, rows]`` for an embedding).
        b: ``lora_B`` (``[out, r]``, ``[out, r, 1, 1]``, or ``[dim, r]``).
        bias: ``lora_B.bias`` (``lora_bias=True``).
        magnitude: DoRA's magnitude vector.
        embedding: ``lora_embedding_A/B`` of an ``nn.Embedding``.
    """

    name: str
    a: TensorSpec | None = None
    b: TensorSpec | None = None
    bias: TensorSpec | None = None
    magnitude: TensorSpec | None = None
    embedding: bool = False

    @property
    def specs(self) -> list[TensorSpec]:
        """Every tensor of the module, in a fixed order."""
        return [s for s in (self.a, self.b, self.bias, self.magnitude) if s is not None]

    @property
    def module(self) -> str:
        """The base-model module: PEFT's prefix and wrapper segments removed."""
        return unwrap(self.name)

    @property
    def depth(self) -> int:
        """How many ``base_layer`` wrappers deep the tensors sit (nested ``ParamWrapper``)."""
        parts = strip_peft(self.name).split(".")
        count = 0
        while parts and parts[-1] == "base_layer":
            parts.pop()
            count += 1
        return count

    @property
    def rank(self) -> int | None:
        """The rank the tensors have (rows of ``A``; ``r·E`` for a stack of experts)."""
        return self.a.shape[0] if self.a is not None and self.a.shape else None

    def rank_on(self, shape: Sequence[int]) -> int | None:
        """The rank against a base tensor of ``shape``: ``A``'s rows per expert of a 3-d stack."""
        rank = self.rank
        if rank is not None and len(shape) == 3 and shape[0] > 0 and rank % shape[0] == 0:
            return rank // shape[0]
        return rank

    def delta_shape(self, fan_in_fan_out: bool) -> tuple[int, ...] | None:
        """The shape of ``B @ A`` as merging adds it to the base weight (``None``: incomplete)."""
        a, b = self.a, self.b
        if a is None or b is None or len(a.shape) < 2 or len(b.shape) < 2:
            return None
        if len(a.shape) == 4:
            return (b.shape[0], a.shape[1], a.shape[2], a.shape[3])
        if self.embedding or fan_in_fan_out:
            return (a.shape[1], b.shape[0])
        return (b.shape[0], a.shape[1])

    def expert_layout(self, shape: Sequence[int]) -> str | None:
        """How ``B @ A`` lands on a 3-d ``[E, d1, d2]`` parameter (PEFT's ``ParamWrapper``).

        Returns:
            ``"out_in"`` when ``[d1, d2]`` is ``[out, in]`` (PEFT swaps the
            parameter's axes: the default), ``"in_out"`` when it is ``[in, out]``
            (a base layer with ``is_transposed``), ``None`` when the tensors
            cannot make that shape. A square ``d1 == d2`` gives the default.
        """
        a, b = self.a, self.b
        if a is None or b is None or len(a.shape) != 2 or len(b.shape) != 2 or len(shape) != 3:
            return None
        experts, first, second = shape
        rows, fan_in = a.shape
        fan_out, columns = b.shape
        if experts <= 0 or rows != columns or rows % experts:
            return None
        if (first, second) == (fan_out, fan_in):
            return "out_in"
        if (first, second) == (fan_in, fan_out):
            return "in_out"
        return None

    def fits(self, shape: Sequence[int], fan_in_fan_out: bool) -> bool:
        """Whether merging can add this module's ``B @ A`` to a base tensor of ``shape``."""
        if len(shape) == 3 and self.a is not None and len(self.a.shape) == 2:
            return self.expert_layout(shape) is not None
        return self.delta_shape(fan_in_fan_out) == tuple(shape)


@dataclass
class TokenRows:
    """Rows of one embedding trained on their own (``trainable_token_indices``)."""

    module: str
    delta: TensorSpec


@dataclass
class WholeCopy:
    """An adapter tensor that replaces a base tensor whole.

    Attributes:
        spec: The adapter's tensor.
        base: The base tensor's name (PEFT's prefix and wrapper segments removed).
        wrapper: The wrapper segment it was saved under (``""``: none).
    """

    spec: TensorSpec
    base: str
    wrapper: str = ""


@dataclass
class Layout:
    """An adapter's tensors, sorted by role.

    Attributes:
        lora: LoRA modules by adapter-side module name.
        tokens: Trainable-token rows.
        whole: Whole copies of base tensors (``modules_to_save``, saved embeddings,
            trained biases), one per base tensor.
        duplicates: Further copies of a base tensor already in ``whole``
            (``modules_to_save.weight`` beside ``weight``).
        originals: ``original_module`` tensors: the base as training saw it.
    """

    lora: dict[str, LoraModule] = field(default_factory=dict)
    tokens: list[TokenRows] = field(default_factory=list)
    whole: list[WholeCopy] = field(default_factory=list)
    duplicates: list[WholeCopy] = field(default_factory=list)
    originals: list[WholeCopy] = field(default_factory=list)

    @property
    def adapter_names(self) -> list[str]:
        """Names of the LoRA and trainable-token tensors."""
        names = [s.name for m in self.lora.values() for s in m.specs]
        return names + [t.delta.name for t in self.tokens]

    @property
    def wrapper_names(self) -> list[str]:
        """Names of the copies that stand for nothing of their own (duplicates, originals)."""
        return [c.spec.name for c in (*self.duplicates, *self.originals)]


def split(specs: Iterable[TensorSpec]) -> Layout:
    """Sort adapter tensors into LoRA modules, trainable tokens and whole copies."""
    layout = Layout()
    copies: dict[str, list[WholeCopy]] = {}
    for spec in specs:
        module, part = lora_part(spec.name)
        if module is not None and part is not None:
            entry = layout.lora.setdefault(module, LoraModule(module))
            setattr(entry, part, spec)
            entry.embedding = entry.embedding or ".lora_embedding_" in spec.name
        elif spec.name.endswith(TOKEN_DELTA):
            layout.tokens.append(TokenRows(spec.name[: -len(TOKEN_DELTA)], spec))
        else:
            copy = WholeCopy(spec, unwrap(spec.name), wrapper_of(spec.name))
            if copy.wrapper == ORIGINAL:
                layout.originals.append(copy)
            else:
                copies.setdefault(copy.base, []).append(copy)
    for group in copies.values():
        group.sort(key=lambda c: _COPY_PREFERENCE.index(c.wrapper))
        layout.whole.append(group[0])
        layout.duplicates.extend(group[1:])
    return layout


def lora_part(name: str) -> tuple[str | None, str | None]:
    """Split a LoRA tensor name into (module, part); ``(None, None)`` for other names."""
    for ending, part in _PARTS.items():
        if name.endswith(ending):
            return name[: -len(ending)], part
    return None, None


def is_adapter_tensor(name: str) -> bool:
    """Whether ``name`` is a LoRA or trainable-token tensor (not a whole base copy)."""
    return lora_part(name)[0] is not None or name.endswith(TOKEN_DELTA)


def strip_peft(name: str) -> str:
    """A name without PEFT's ``base_model.model.`` (unchanged when it has none)."""
    return name.removeprefix(PEFT_PREFIX)


def unwrap(name: str) -> str:
    """A name without PEFT's prefix and wrapper segments: the base model's name for it."""
    return ".".join(part for part in strip_peft(name).split(".") if part not in WRAPPERS)


def live_base_name(name: str) -> str:
    """A live PEFT model's tensor name as its base model spells it.

    PEFT's prefix, wrapper segments and the adapter name a ``ModulesToSaveWrapper`` keys its
    copy by are removed: ``base_model.model.wte.modules_to_save.default.weight`` → ``wte.weight``.
    """
    parts = strip_peft(name).split(".")
    return ".".join(
        part
        for index, part in enumerate(parts)
        if part not in WRAPPERS
        and not (0 < index < len(parts) - 1 and parts[index - 1] == "modules_to_save")
    )


def wrapper_of(name: str) -> str:
    """The last PEFT wrapper segment in ``name`` (``""`` when there is none)."""
    found = [part for part in strip_peft(name).split(".") if part in WRAPPERS]
    return found[-1] if found else ""


def base_weight(module: str, base: Collection[str], *renamed: str) -> str | None:
    """The base tensor a LoRA module merges into, found as PEFT finds it.

    PEFT strips ``base_model.model.`` and looks the rest up exactly; a base that
    is itself a PEFT model keeps the prefix and wraps the layer (``base_layer``).
    ``renamed`` are other spellings of the module to try (a check's prefix transform).
    """
    for name in dict.fromkeys((strip_peft(module), module, unwrap(module), *renamed)):
        for weight in (f"{name}.weight", f"{name}.base_layer.weight"):
            if weight in base:
                return weight
    return None


def lora_target(
    module: LoraModule,
    base: Mapping[str, TensorSpec],
    parameters: Sequence[str] = (),
    *renamed: str,
) -> str | None:
    """The base tensor a LoRA module merges into: a module's weight, or a targeted parameter.

    Args:
        module: The LoRA module.
        base: The base's tensors.
        parameters: ``target_parameters`` of the adapter's config: a module
            without a ``weight`` of its own adapts one of its parameters named
            there, told apart by shape, then by nesting (the last listed is outermost).
        renamed: Other spellings of the module (a check's prefix transform).

    """
    found = base_weight(module.name, base, *renamed) if module.depth == 0 else None
    if found is not None or not parameters:
        return found
    owners = dict.fromkeys((module.module, *(unwrap(n) for n in renamed)))
    for owner in owners:
        named = [
            full
            for p in parameters
            if (full := f"{owner}.{p.rsplit('.', 1)[-1]}") == p or full.endswith("." + p)
        ]
        listed = [n for n in dict.fromkeys(named) if n in base]
        if not listed:
            continue
        fitting = [n for n in listed if module.fits(base[n].shape, False)]
        position = len(listed) - 1 - module.depth
        if 0 <= position < len(listed) and listed[position] in fitting:
            return listed[position]
        if len(fitting) == 1:
            return fitting[0]
        return listed[position] if 0 <= position < len(listed) else None
    return None


def base_tensor(name: str, base: Collection[str]) -> str | None:
    """The base tensor a whole copy replaces (PEFT's name rule, wrapper segments removed)."""
    for candidate in dict.fromkeys((strip_peft(name), name, unwrap(name))):
        if candidate in base:
            return candidate
    return None


def differing_heads(old: str, new: str) -> tuple[str, str]:
    """The starts of two dotted names where they differ, when they end alike.

    ``("language_model.model.", "model.language_model.")`` for
    ``language_model.model.layers.0.q_proj.weight`` and
    ``model.language_model.layers.0.q_proj.weight``; each keeps its final dot
    (``""`` when one name is the other's ending).
    """
    a, b = old.split("."), new.split(".")
    common = 0
    while common < min(len(a), len(b)) and a[-1 - common] == b[-1 - common]:
        common += 1
    return "".join(p + "." for p in a[: len(a) - common]), "".join(
        p + "." for p in b[: len(b) - common]
    )
