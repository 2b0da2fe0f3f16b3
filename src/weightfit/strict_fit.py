"""Whether a written checkpoint loads strict into a target model, and what is left to it.

``apply`` checks its predicted output with :func:`differences` before writing and
reports the tied copies a model fills itself (:func:`tied_copies`).
"""

from __future__ import annotations

from weightfit.manifest import Manifest


def tied_copies(output: Manifest, target: Manifest) -> dict[str, str]:
    """Target tensors ``output`` leaves out whose tied partner (the value) it holds."""
    tied: dict[str, str] = dict(target.extras.get("tied") or {})
    return {
        name: partner
        for name, partner in tied.items()
        if name in target.tensors and name not in output.tensors and partner in output.tensors
    }


def differences(output: Manifest, target: Manifest, reinit: list[str]) -> str:
    """Say what keeps ``output`` from a strict load into ``target`` (``""``: nothing).

    Tensors the plan reinitialises may be absent, and so may a tied copy whose
    partner is present (``target.extras["tied"]``). Dtypes may differ: loading
    casts them.
    """
    tied = tied_copies(output, target)
    missing = [
        name
        for name in target.tensors
        if name not in output.tensors and name not in reinit and name not in tied
    ]
    unexpected = [name for name in output.tensors if name not in target.tensors]
    shapes = [
        f"{name} {list(spec.shape)} ≠ {list(target[name].shape)}"
        for name, spec in output.tensors.items()
        if name in target.tensors and spec.shape != target[name].shape
    ]
    parts = []
    for label, names in (("missing", missing), ("unexpected", unexpected), ("shape", shapes)):
        if names:
            more = f" (+{len(names) - 3} more)" if len(names) > 3 else ""
            parts.append(f"{len(names)} {label}: {', '.join(names[:3])}{more}")
    return "; ".join(parts)
