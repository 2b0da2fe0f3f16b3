"""The one way a pickle reader turns its pickle into a :class:`Manifest`.

``torch_zip``, ``torch_legacy`` and ``dcp`` each run a pickle through the VM,
choose the state dict inside it (:func:`containers.choose`) and make tensor
specs their own way; what the manifest says about the pickle itself (its
containers, extras, security verdict and opaque globals) is the same for all
three, and is built here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from weightfit.formats.containers import Choice
from weightfit.formats.pickle_vm import PickleResult, opaque_globals, worst_verdict
from weightfit.manifest import Manifest, TensorSpec


def build(
    path: Path,
    format: str,
    pickle: PickleResult,
    choice: Choice,
    tensors: dict[str, TensorSpec],
    notes: list[str],
    *,
    files: list[str] | None = None,
    metadata: Mapping[str, str] | None = None,
    others: Sequence[PickleResult] = (),
) -> Manifest:
    """Build the manifest of a state dict chosen inside a pickle.

    Args:
        path: The checkpoint (its file, or its folder for DCP); the manifest's source.
        format: The reader's format name (``"torch-zip"`` ...).
        pickle: The pickle that held the state dict: its verdict and globals.
        choice: The state dict chosen in it, with the other containers and extras.
        tensors: The chosen state dict's tensors, as the reader located them.
        notes: What the reader noticed, in order.
        files: Every file read (default: ``path`` alone).
        metadata: String metadata the format stores beside the pickle.
        others: Every other pickle in the file: judged with ``pickle`` (the
            verdict is the worst over all of them, the globals are all of theirs).

    """
    if choice.unmapped:
        listed = ", ".join(
            f"{name} ({rebuild.rsplit('.', 1)[-1]})" for name, rebuild in choice.unmapped.items()
        )
        notes = [
            *notes,
            f"{len(choice.unmapped)} tensor(s) in a layout weightfit does not locate "
            f"(sparse, nested …), left out of the manifest: {listed}",
        ]
    return Manifest(
        tensors=tensors,
        source=str(path),
        format=format,
        files=[str(path)] if files is None else files,
        metadata=dict(metadata or {}),
        extras=choice.extras,
        container=choice.key,
        container_reason=choice.reason,
        containers=choice.containers,
        security=worst_verdict([pickle, *others]),
        globals=opaque_globals([pickle, *others]),
        notes=notes,
    )
