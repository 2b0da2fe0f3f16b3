"""Which adapter tensor is what, and which base tensor it belongs to.

A PEFT adapter saved with ``save_pretrained`` names its tensors after the
wrapped model with the adapter name removed (``peft.utils.save_and_load``):

- LoRA: ``<module>.lora_A.weight`` ``[r, in]`` and ``<module>.lora_B.weight``
  ``[out, r]`` (convolutions ``[r, in, kh, kw]`` / ``[out, r, 1, 1]``; an
  ``nn.Embedding`` ``<module>.lora_embedding_A`` ``[r, rows]`` and ``_B``
  ``[dim, r]``), ``lora_B.bias`` with ``lora_bias``, ``lora_magnitude_vector``
  with DoRA;
- trainable tokens: ``<module>.token_adapter.trainable_tokens_delta`` ``[n, dim]``;
- anything else is a whole copy of a base tensor (``modules_to_save``, or
  embeddings saved because they were resized).

Every module name starts with ``base_model.model.``, which PEFT strips to find
the base-model module: nothing else, so a nesting offset makes it miss.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
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


@dataclass
class LoraModule:
    """The LoRA tensors of one base module.

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
    def rank(self) -> int | None:
        """The rank the tensors have (rows of ``A``)."""
        return self.a.shape[0] if self.a is not None and self.a.shape else None

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


@dataclass
class TokenRows:
    """Rows of one embedding trained on their own (``trainable_token_indices``)."""

    module: str
    delta: TensorSpec


@dataclass
class Layout:
    """An adapter's tensors, sorted by role.

    Attributes:
        lora: LoRA modules by adapter-side module name.
        tokens: Trainable-token rows.
        whole: Whole copies of base tensors (``modules_to_save``, saved embeddings).
    """

    lora: dict[str, LoraModule] = field(default_factory=dict)
    tokens: list[TokenRows] = field(default_factory=list)
    whole: list[TensorSpec] = field(default_factory=list)

    @property
    def adapter_names(self) -> list[str]:
        """Names of the LoRA and trainable-token tensors."""
        names = [s.name for m in self.lora.values() for s in m.specs]
        return names + [t.delta.name for t in self.tokens]


def split(specs: Iterable[TensorSpec]) -> Layout:
    """Sort adapter tensors into LoRA modules, trainable tokens and whole copies."""
    layout = Layout()
    for spec in specs:
        module, part = lora_part(spec.name)
        if module is not None and part is not None:
            entry = layout.lora.setdefault(module, LoraModule(module))
            setattr(entry, part, spec)
            entry.embedding = entry.embedding or ".lora_embedding_" in spec.name
        elif spec.name.endswith(TOKEN_DELTA):
            layout.tokens.append(TokenRows(spec.name[: -len(TOKEN_DELTA)], spec))
        else:
            layout.whole.append(spec)
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


def base_weight(module: str, base: Collection[str], *renamed: str) -> str | None:
    """The base tensor a LoRA module merges into, found as PEFT finds it.

    PEFT strips ``base_model.model.`` and looks the rest up exactly; a base that
    is itself a PEFT model keeps the prefix and wraps the layer (``base_layer``).
    ``renamed`` are other spellings of the module to try (a check's prefix transform).
    """
    for name in (strip_peft(module), module, *renamed):
        for weight in (f"{name}.weight", f"{name}.base_layer.weight"):
            if weight in base:
                return weight
    return None


def base_tensor(name: str, base: Collection[str]) -> str | None:
    """The base tensor a whole copy replaces (PEFT's name rule)."""
    for candidate in (strip_peft(name), name):
        if candidate in base:
            return candidate
    return None
