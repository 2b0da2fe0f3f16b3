"""What a dry run makes: a :class:`Recipe` per output tensor, the :class:`Outcome` of a plan.

A recipe is the spec an output tensor will be written with and how its value is made from
source tensors; :mod:`weightfit.apply` and :mod:`weightfit.load` evaluate them tensor by
tensor. :class:`DryState` holds the recipes as the ops run so far left them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from weightfit.manifest import Manifest, TensorSpec

if TYPE_CHECKING:
    import torch

ValueFn = Callable[[list["torch.Tensor"]], "torch.Tensor"]
"""Makes a tensor's value from its inputs' values (torch is imported inside)."""


@dataclass(frozen=True)
class Recipe:
    """How one output tensor is made.

    Attributes:
        spec: Name, shape and dtype it is written with (``location`` is ``None``).
        source: For a tensor whose bytes are a source tensor's bytes unchanged
            (renamed, reshaped, unsqueezed), that source tensor; else ``None``.
        inputs: The recipes whose values ``fn`` combines, when ``source`` is ``None``.
        fn: Computes the value from the inputs' values.
        ops: Kinds of the ops that changed its shape or values, in order (renames
            are not counted): what ``load_into`` reports as *adapted*.

    """

    spec: TensorSpec
    source: TensorSpec | None = None
    inputs: tuple[Recipe, ...] = ()
    fn: ValueFn | None = field(default=None, compare=False)
    ops: tuple[str, ...] = ()

    @property
    def copyable(self) -> bool:
        """Whether the output bytes are one contiguous source byte range, copied as is."""
        source = self.source
        return (
            source is not None
            and source.location is not None
            and source.is_contiguous
            and source.location.length == source.nbytes
            and not source.decode
        )

    def leaves(self) -> Iterator[TensorSpec]:
        """Every source tensor this one is made from."""
        if self.source is not None:
            yield self.source
        for recipe in self.inputs:
            yield from recipe.leaves()

    def evaluate(self, read: Callable[[TensorSpec], torch.Tensor]) -> torch.Tensor:
        """Compute the value, reading source tensors with ``read`` (contiguous, CPU)."""
        if self.source is not None:
            return read(self.source).reshape(self.spec.shape)
        assert self.fn is not None
        return self.fn([recipe.evaluate(read) for recipe in self.inputs]).reshape(self.spec.shape)


@dataclass
class Outcome:
    """A plan run over a manifest: the output tensors and what was left out.

    Attributes:
        recipes: Output name to :class:`Recipe`, in output order.
        reinit: Names left to the model's own initialisation (parameters to train).
        source: The manifest the plan ran over.

    """

    recipes: dict[str, Recipe]
    reinit: list[str]
    source: Manifest

    @property
    def left_out(self) -> list[str]:
        """Source tensors no output tensor is made from (dropped, reinitialised)."""
        used = {leaf.name for recipe in self.recipes.values() for leaf in recipe.leaves()}
        return [name for name in self.source.tensors if name not in used]

    def manifest(self) -> Manifest:
        """Return the predicted output manifest (no byte locations)."""
        return Manifest(
            tensors={name: recipe.spec for name, recipe in self.recipes.items()},
            source=self.source.source,
            format="plan-output",
            metadata=dict(self.source.metadata),
        )


@dataclass
class DryState:
    """The tensors as the ops run so far left them (one dry run, op by op)."""

    recipes: dict[str, Recipe]
    reinit: list[str] = field(default_factory=list)

    def copy(self) -> DryState:
        """Return an independent copy, to try an op without committing to it."""
        return DryState(dict(self.recipes), list(self.reinit))


def start(manifest: Manifest) -> DryState:
    """Begin a dry run over ``manifest``: every tensor as itself."""
    return DryState(
        recipes={
            name: Recipe(spec=replace(spec, location=None), source=spec)
            for name, spec in manifest.tensors.items()
        }
    )
