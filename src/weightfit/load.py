"""``weightfit.load_into``: load a checkpoint into a model, fixed on the way in.

Each tensor is read from its byte range, transformed by the plan, and put into
the model's parameter or buffer at once, then released: the checkpoint is never
held whole. Materialised models are filled in place (``copy_``); parameters on
the ``meta`` device are replaced by real ones (as ``load_state_dict(assign=True)``
does), keeping the model's dtype and ``requires_grad``, and tied parameters stay
tied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from weightfit import ops, provenance
from weightfit.errors import CheckpointMismatch, UsageError
from weightfit.manifest import Manifest, human_count
from weightfit.ops.recipes import Outcome
from weightfit.plan import Plan
from weightfit.source_identity import require_same
from weightfit.tensor_io import Sources

if TYPE_CHECKING:
    import torch


@dataclass
class LoadReport:
    """What :func:`load_into` did with every tensor.

    Attributes:
        loaded: Model tensors that received values (adapted ones included).
        adapted: Model tensors whose value went through an op, with the op kinds.
        reinitialised: Model tensors the plan left to the model's initialisation.
        left_out: Checkpoint tensors that went nowhere (dropped, or no place in the model).
        missing: Model tensors nothing was loaded into, not asked for by the plan.
        uninitialised: Tensors to train that stay on the ``meta`` device because
            their module has no ``reset_parameters``: initialise them before use.
        params_to_train: Parameter elements in ``reinitialised`` and ``missing``
            (tied ones once; buffers not counted).
        total_params: Parameter elements of the model (tied ones once).
        plan: The plan that was applied.

    """

    loaded: list[str] = field(default_factory=list)
    adapted: dict[str, list[str]] = field(default_factory=dict)
    reinitialised: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    uninitialised: list[str] = field(default_factory=list)
    params_to_train: int = 0
    total_params: int = 0
    plan: Plan = field(default_factory=Plan)

    @property
    def to_train(self) -> list[str]:
        """Model tensors that keep their initialisation: what must be trained."""
        return [*self.reinitialised, *self.missing]

    @property
    def share_to_train(self) -> float:
        """``params_to_train`` as a fraction of the model's parameters."""
        return self.params_to_train / self.total_params if self.total_params else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "loaded": self.loaded,
            "adapted": self.adapted,
            "reinitialised": self.reinitialised,
            "left_out": self.left_out,
            "missing": self.missing,
            "uninitialised": self.uninitialised,
            "params_to_train": self.params_to_train,
            "total_params": self.total_params,
            "share_to_train": self.share_to_train,
            "plan": self.plan.to_dict(),
        }

    def __repr__(self) -> str:
        return (
            f"<LoadReport {len(self.loaded)} loaded, {len(self.adapted)} adapted, "
            f"{len(self.to_train)} to train ({human_count(self.params_to_train)} params, "
            f"{self.share_to_train:.2%})>"
        )


def load_into(
    model: torch.nn.Module,
    path: str | Path | Manifest,
    fix: Literal["auto", "none"] | Plan | str | Path = "auto",
    strict: bool = True,
    *,
    key: str | None = None,
    variant: str | None = None,
    allow_other_source: bool = False,
) -> LoadReport:
    """Load a checkpoint into ``model`` tensor by tensor, applying a plan on the way.

    Args:
        model: The ``torch.nn.Module`` to fill (materialised or on ``meta``).
        path: A checkpoint (anything :func:`weightfit.read` takes) or its manifest.
        fix: ``"auto"`` plans the repair as :func:`weightfit.fix` does; ``"none"``
            loads as is; or a :class:`~weightfit.plan.Plan` / plan file path.
        strict: Refuse to load when a model tensor would get no value (unless the
            plan re-initialises it) or a checkpoint tensor has no place.
        key: Which state dict to use inside the checkpoint.
        variant: Precision variant of folder weights.
        allow_other_source: Use a plan even on another checkpoint than the one its
            ``source_files`` record (as ``apply --allow-other-source``).

    Returns:
        A :class:`LoadReport`: what was loaded, adapted, re-initialised, left out
        and missing, and the parameters to train with their share of the model.

    Raises:
        CheckpointMismatch: ``strict`` and the checkpoint does not fit; the
            message gives the diagnosis. Nothing is loaded.
        InvalidPlan: the plan does not fit the checkpoint.
        SourceMismatch: the plan was made from another checkpoint (an ``InvalidPlan``).
        InputError: the checkpoint cannot be read.

    Example:
        >>> report = weightfit.load_into(model, "Sana_1600M_1024px.pth")  # doctest: +SKIP
        >>> report.to_train, f"{report.share_to_train:.2%}"  # doctest: +SKIP
        (['y_embedder.y_embedding', 'y_embedder.y_proj.fc1.weight'], '0.22%')

    """
    from weightfit.formats import read
    from weightfit.targets import resolve

    source = path if isinstance(path, Manifest) else read(path, key=key, variant=variant)
    target = resolve(model)
    plan = _plan_for(fix, source, target)
    if not allow_other_source:
        require_same(plan.source_files, source)
    outcome = ops.run(plan, source)
    for name in provenance.reinit_of(source):
        if name not in outcome.reinit and name not in outcome.recipes:
            outcome.reinit.append(name)
    state = model.state_dict(keep_vars=True)
    report = _sort(outcome, state, plan)
    if strict:
        _refuse_misfit(report, outcome, source, target, fix)
    report.uninitialised = _materialise(model, report.to_train, state)
    with Sources(_base_of(source)) as sources:
        _fill(model, state, outcome, report.loaded, sources)
    return report


def _plan_for(fix: object, source: Manifest, target: Manifest) -> Plan:
    if isinstance(fix, Plan):
        return fix
    if fix == "none":
        return Plan(source=source.source, target=target.source)
    if fix == "auto":
        from weightfit.check import check
        from weightfit.converters import plan_for
        from weightfit.fix import plan_from_report

        report = check(source, target)
        return plan_for(report) or plan_from_report(report, source)
    if isinstance(fix, str | Path) and Path(fix).is_file():
        return Plan.load(fix)
    raise UsageError(f"fix must be 'auto', 'none', a Plan or a plan file, not {fix!r}")


def _base_of(source: Manifest) -> Path:
    path = Path(source.source)
    return path if path.is_dir() else path.parent


def _sort(outcome: Outcome, state: dict[str, Any], plan: Plan) -> LoadReport:
    """Decide, by name and shape only, where each output tensor goes."""
    report = LoadReport(plan=plan)
    unplaced: list[str] = []
    for name, recipe in outcome.recipes.items():
        have = state.get(name)
        if have is None or tuple(have.shape) != recipe.spec.shape:
            unplaced.append(name)
            continue
        report.loaded.append(name)
        if recipe.ops:
            report.adapted[name] = list(recipe.ops)
    filled = {id(state[name]) for name in report.loaded}
    report.reinitialised = [name for name in outcome.reinit if name in state]
    report.missing = [
        name
        for name in state
        if name not in report.loaded
        and name not in report.reinitialised
        and id(state[name]) not in filled
    ]
    report.left_out = [*outcome.left_out, *unplaced]
    counted: set[int] = set()
    for name in report.to_train:
        value = state[name]
        if _is_parameter(value) and id(value) not in counted:
            counted.add(id(value))
            report.params_to_train += value.numel()
    seen: set[int] = set()
    for value in state.values():
        if _is_parameter(value) and id(value) not in seen:
            seen.add(id(value))
            report.total_params += value.numel()
    return report


def _is_parameter(value: Any) -> bool:
    import torch

    return isinstance(value, torch.nn.Parameter)


def _aliases(state: dict[str, Any]) -> dict[int, list[str]]:
    """State names grouped by the tensor object they refer to (tied weights share one)."""
    groups: dict[int, list[str]] = {}
    for name, value in state.items():
        groups.setdefault(id(value), []).append(name)
    return groups


def _refuse_misfit(
    report: LoadReport, outcome: Outcome, source: Manifest, target: Manifest, fix: object
) -> None:
    """Raise :class:`CheckpointMismatch` with the diagnosis when a strict load would fail."""
    unplaced = [name for name in report.left_out if name in outcome.recipes]
    if not report.missing and not unplaced:
        return
    parts = []
    if report.missing:
        parts.append(f"{len(report.missing)} missing ({_names(report.missing)})")
    if unplaced:
        parts.append(f"{len(unplaced)} without a place ({_names(unplaced)})")
    detail = "; ".join(parts)
    from weightfit.check import check

    findings = check(source, target).findings
    if fix == "none":
        causes = "; ".join(f"{f.category}: {f.message}" for f in findings[:3])
        if causes:
            detail += f". Diagnosis: {causes}. Pass fix='auto' to repair"
    else:
        # What no plan operation repairs (quantized weights, another model): the cause, and
        # what to do instead, rather than the names left over.
        unfixable = [f for f in findings if f.severity == "error" and not f.fix]
        causes = "; ".join(f"{f.category}: {f.message}" for f in unfixable[:3])
        if causes:
            detail += f". No operation repairs it: {causes}"
            detail += f" ({unfixable[0].fix_note})" if unfixable[0].fix_note else ""
    raise CheckpointMismatch(detail, path=source.source)


def _names(names: list[str]) -> str:
    more = f", +{len(names) - 3} more" if len(names) > 3 else ""
    return ", ".join(names[:3]) + more


def _owner(model: torch.nn.Module, name: str) -> tuple[torch.nn.Module, str]:
    module_name, _, attr = name.rpartition(".")
    return model.get_submodule(module_name), attr


def _materialise(model: torch.nn.Module, names: list[str], state: dict[str, Any]) -> list[str]:
    """Initialise tensors to train that are on ``meta``, where their module can.

    A module with ``reset_parameters`` gets real storage and its own
    initialisation. Others (computed buffers, custom parameters) stay on ``meta``,
    so using them fails loudly instead of computing with garbage; their names
    are returned.
    """
    left: list[str] = []
    changed = False
    for name in names:
        module, attr = _owner(model, name)
        if not getattr(module, attr).is_meta:
            continue
        reset = getattr(module, "reset_parameters", None)
        if not callable(reset):
            left.append(name)
            continue
        module.to_empty(device="cpu", recurse=False)
        reset()
        changed = True
    if changed:
        state.update(model.state_dict(keep_vars=True))
    return left


def _fill(
    model: torch.nn.Module,
    state: dict[str, Any],
    outcome: Outcome,
    names: list[str],
    sources: Sources,
) -> None:
    """Evaluate each recipe and put its value into the model, one tensor at a time."""
    import torch

    aliases = _aliases(state)
    done: set[int] = set()
    for name in names:
        current = state[name]
        if id(current) in done:
            continue
        done.add(id(current))
        value = outcome.recipes[name].evaluate(sources.read_tensor)
        if not current.is_meta:
            with torch.no_grad():
                current.copy_(value)
            continue
        value = value.to(current.dtype)
        new: torch.Tensor
        if isinstance(current, torch.nn.Parameter):
            new = torch.nn.Parameter(value, requires_grad=current.requires_grad)
        else:
            new = value
        for alias in aliases[id(current)]:
            module, attr = _owner(model, alias)
            if isinstance(new, torch.nn.Parameter):
                module._parameters[attr] = new
            else:
                module._buffers[attr] = new
