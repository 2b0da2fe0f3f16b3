"""``merge_adapter``: a LoRA adapter merged into its base, streamed into new safetensors.

What PEFT's ``merge_and_unload()`` computes, one base tensor at a time:

1. the embeddings and heads are resized first to the rows the adapter saved
   (``pad_rows`` / ``truncate_rows`` ops, recorded in the output's plan), as
   ``resize_token_embeddings`` would before ``PeftModel.from_pretrained``;
2. each adapted weight gets ``scale · B @ A`` added in float32, in place
   (``addmm_``: no ``[out, in]`` temporary), transposed for ``fan_in_fan_out``
   (GPT-2 ``Conv1D``) and ``nn.Embedding`` LoRA; convolutions as PEFT's
   ``get_delta_weight``; ``lora_B.bias`` is added to the base bias;
3. ``modules_to_save`` copies replace their base tensors, trainable-token rows
   overwrite theirs (``index_copy``);
4. :func:`weightfit.apply.write_outcome` writes sharded safetensors into a hidden
   folder, stamps provenance, re-reads, verifies and renames it into place, with
   the base's ``config.json`` (``vocab_size`` updated) and the adapter's
   tokenizer files beside the weights.

Memory stays near the largest base tensor: only it, its ``A`` and ``B`` are held.
DoRA, PEFT types other than LoRA and a ``lora_B.bias`` on a base layer without
a bias are refused (:class:`UnsupportedAdapter`);
an adapter the check finds does not fit is not merged (``MergeResult.merged``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from weightfit import formats, ops, provenance
from weightfit.adapters.check import check_adapter, read_adapter, tokenizer_vocab
from weightfit.adapters.saved import Stack, memory_names
from weightfit.adapters.side_files import side_files
from weightfit.apply import (
    DEFAULT_SHARD_SIZE,
    ApplyResult,
    ProgressFn,
    WriteOptions,
    chosen,
    write_outcome,
)
from weightfit.diagnose.peft_vocab import base_vocab
from weightfit.errors import UnsupportedAdapter, UsageError
from weightfit.findings import Report
from weightfit.formats.folder import PIPELINE, weights_basename
from weightfit.manifest import Manifest, TensorSpec
from weightfit.ops.recipes import Outcome, Recipe, ValueFn
from weightfit.peft.config import AdapterConfig, parse
from weightfit.peft.layout import (
    Layout,
    LoraModule,
    base_tensor,
    base_weight,
    lora_target,
    split,
    strip_peft,
)
from weightfit.plan import Op, Plan
from weightfit.tree import stack_of

if TYPE_CHECKING:
    import torch

ADAPTER_STAMP = f"{provenance.PREFIX}adapter"
"""``__metadata__`` key: JSON of the adapter merged (type, rank, alpha, scale rule, modules)."""

_MERGE_BLOCKING = frozenset({"lora_mismatch", "unexpected", "wrong_variant", "num_classes"})
"""Error categories a merge cannot resolve; ``vocab_resize`` it resolves by resizing."""


@dataclass
class MergeResult:
    """What :func:`merge_adapter` did.

    Attributes:
        report: The adapter check run first (:func:`check_adapter`).
        applied: The written output, or ``None`` when the report blocked the merge.
        modules: LoRA modules merged.
        resized: Base tensors whose row count changed: ``{name: (rows before,
            rows after)}``, by a pad or truncate op or by the adapter's copy.
        replaced: Base tensors replaced by the adapter's whole copies.
        added_rows: Rows the embeddings gained (tokens added; negative: removed).
        added: Tensors the base's files lack that the merge writes: a head the
            base ties to its embeddings, which the adapter untied.
        ignored: Adapter tensors merging does not use: PEFT's ``original_module``
            copies and the second copy of a ``modules_to_save`` tensor.
    """

    report: Report
    applied: ApplyResult | None = None
    modules: int = 0
    resized: dict[str, tuple[int, int]] | None = None
    replaced: list[str] | None = None
    added_rows: int = 0
    added: list[str] | None = None
    ignored: list[str] | None = None

    @property
    def merged(self) -> bool:
        """Whether the merged checkpoint was written."""
        return self.applied is not None

    def __repr__(self) -> str:
        where = f"→ {self.applied.out}" if self.applied else "not merged"
        return f"<MergeResult {self.modules} modules {where}>"


def merge_adapter(
    adapter: str | Path,
    base: str | Path,
    out: str | Path,
    *,
    shard_size: int | str = DEFAULT_SHARD_SIZE,
    overwrite: bool = False,
    hash_sources: bool = True,
    progress: ProgressFn | None = None,
    variant: str | None = None,
    options: WriteOptions | None = None,
) -> MergeResult:
    """Merge a LoRA adapter into its base model, streaming, into new safetensors files.

    Args:
        adapter: A PEFT LoRA adapter folder.
        base: The base model's weights: a checkpoint file, shard index or model folder.
        out: The output folder (created atomically).
        shard_size: Largest shard (``"5GB"``, bytes).
        overwrite: Replace an existing ``out``.
        hash_sources: Record the SHA-256 of the base and adapter files in the stamp.
        progress: Called after each tensor (see :data:`weightfit.apply.ProgressFn`).
        variant: Precision variant of the base folder's weights.
        options: ``shard_size``, ``overwrite``, ``hash_sources`` and ``progress`` as
            one :class:`~weightfit.apply.WriteOptions`, instead of as keywords.

    Returns:
        A :class:`MergeResult`; ``merged`` is false (nothing written) when the
        adapter check finds modules the base lacks or sizes differently.

    Raises:
        UnsupportedAdapter: DoRA, a PEFT type other than LoRA, ``layer_replication``,
            or a ``lora_B.bias`` on a base layer without a bias.
        UsageError: ``base`` has no tensor bytes (a config, not weights) or is a
            diffusers pipeline (merge into one component), or writer
            options are given both as ``options`` and as keywords.
        InputError: the adapter or the base cannot be read.
        OutputError: ``out`` cannot be written (see :func:`weightfit.apply.apply`).

    Example:
        >>> merge_adapter("autotrain-project/", "Llama-2-7b-hf/", "merged/")  # doctest: +SKIP
        <MergeResult 64 modules → merged>

    """
    started = time.monotonic()
    options = chosen(options, WriteOptions(shard_size, overwrite, hash_sources, progress=progress))
    folder = Path(adapter)
    base_manifest = formats.read(base, variant=variant)
    if any(spec.location is None for spec in base_manifest.tensors.values()):
        raise UsageError("the base must be weights (a checkpoint or model folder), not a config")
    if base_manifest.format == PIPELINE:
        raise UsageError(
            "the base is a diffusers pipeline: merge into one of its component folders "
            f"({', '.join(sorted({Path(f).parent.name for f in base_manifest.files}))})"
        )
    source = read_adapter(folder, base_manifest)
    config = parse(source.config)
    layout = split(source.tensors.values())
    _refuse(config, layout)
    if options.basename == WriteOptions().basename:
        # Named as the base's library loads them: diffusers reads diffusion_pytorch_model.*.
        options = replace(options, basename=weights_basename(base_manifest.format))
    view = memory_names(source, base_manifest)
    base_manifest = view.base
    report = check_adapter(folder, base_manifest)
    blocking = [
        f for f in report.findings if f.severity == "error" and f.category in _MERGE_BLOCKING
    ]
    if blocking:
        return MergeResult(report=report)
    plan, rows = _resize_plan(layout, base_manifest, config, folder)
    outcome = ops.run(plan, base_manifest)
    before = dict(outcome.recipes)
    replaced = _replace_whole(outcome, layout)
    added = _add_untied(outcome, layout, view.tied, before)
    modules = _merge_lora(outcome, layout, config, view.stacks)
    _overwrite_tokens(outcome, layout, config)
    stamp = {ADAPTER_STAMP: json.dumps(_described(config, modules), sort_keys=True)}
    applied = write_outcome(
        outcome,
        out,
        plan=plan,
        options=options,
        stamp=stamp,
        started=started,
        extra_files=side_files(folder, Path(base), base_manifest, rows, untie=bool(added)),
    )
    resized = {
        name: (spec.shape[0], outcome.recipes[name].spec.shape[0])
        for name, spec in base_manifest.tensors.items()
        if name in outcome.recipes
        and spec.shape
        and outcome.recipes[name].spec.shape
        and outcome.recipes[name].spec.shape[0] != spec.shape[0]
    }
    rows_added = max((new - old for old, new in resized.values()), key=abs, default=0)
    # A base tensor the adapter replaces is not left out: its copy stands in for it.
    applied.left_out = [name for name in applied.left_out if name not in replaced]
    return MergeResult(
        report,
        applied,
        modules,
        resized,
        replaced,
        rows_added,
        added=added,
        ignored=layout.wrapper_names,
    )


def _refuse(config: AdapterConfig, layout: Layout) -> None:
    """Refuse what a plain ``W + scale · B @ A`` would merge wrongly."""
    if config.peft_type != "LORA":
        raise UnsupportedAdapter(
            f"peft_type {config.peft_type}: only LoRA adapters can be merged "
            "(use PEFT's merge_and_unload for this type)"
        )
    if config.raw.get("layer_replication"):
        raise UnsupportedAdapter(
            "layer_replication: PEFT's merged model has more layers than the base "
            "(copies of its layers, each with its own LoRA), which weightfit does not "
            "write; use PEFT's merge_and_unload"
        )
    dora = [m.name for m in layout.lora.values() if m.magnitude is not None]
    if config.use_dora or dora:
        raise UnsupportedAdapter(
            "DoRA (use_dora): the merged weight needs the norm of every base column "
            "rescaled by its magnitude vector, which weightfit does not compute; "
            "use PEFT's merge_and_unload"
        )


def _resize_plan(
    layout: Layout, base: Manifest, config: AdapterConfig, folder: Path
) -> tuple[Plan, int | None]:
    """``pad_rows`` / ``truncate_rows`` ops giving the base's embeddings the adapter's rows.

    The rows are those of the embeddings the adapter saved whole; without any,
    enough rows for the highest trainable token index; without those, the
    adapter's tokenizer when it counts more tokens than the base has rows (as
    ``resize_token_embeddings(len(tokenizer))`` before attaching).
    """
    old, new = (
        _saved_rows(layout, base)
        or _token_rows(layout, base, config)
        or _tokenizer_rows(folder, base)
        or (None, None)
    )
    if old is None or new is None:
        return Plan(source=base.source), None
    reason = f"adapter rows: the adapter's vocabulary has {new} rows, the base {old}"
    saved = {base_tensor(copy.spec.name, base.tensors) for copy in layout.whole}
    resize: list[Op] = []
    for name in _vocabulary_tensors(base, old):
        if name in saved:
            continue
        if new > old:
            resize.append(Op("pad_rows", {"name": name, "rows": new, "init": "mean"}, reason))
        else:
            resize.append(Op("truncate_rows", {"name": name, "rows": new}, reason))
    return Plan(ops=resize, source=base.source), new


def _vocabulary_tensors(base: Manifest, rows: int) -> list[str]:
    """The base's embeddings and heads of ``rows`` rows: outside the layer stacks, 1-d or 2-d."""
    return [
        name
        for name, spec in base.tensors.items()
        if spec.shape and spec.shape[0] == rows and len(spec.shape) <= 2 and stack_of(name) is None
    ]


def _saved_rows(layout: Layout, base: Manifest) -> tuple[int, int] | None:
    """(base rows, adapter rows) of the first whole copy whose rows alone differ."""
    for copy in layout.whole:
        spec = copy.spec
        found = base_tensor(spec.name, base.tensors)
        if found is None or not spec.shape:
            continue
        have = base.tensors[found].shape
        if have and have[0] != spec.shape[0] and have[1:] == spec.shape[1:]:
            return have[0], spec.shape[0]
    return None


def _token_rows(layout: Layout, base: Manifest, config: AdapterConfig) -> tuple[int, int] | None:
    """(base rows, highest trainable token index + 1) when the index is past the base's rows."""
    for rows in layout.tokens:
        weight = base_weight(rows.module, base.tensors)
        indices = config.indices_for(strip_peft(rows.module))
        if weight is not None and indices and max(indices) >= base.tensors[weight].shape[0]:
            return base.tensors[weight].shape[0], max(indices) + 1
    return None


def _tokenizer_rows(folder: Path, base: Manifest) -> tuple[int, int] | None:
    """(base rows, tokens) when the adapter's tokenizer counts exactly more tokens than that."""
    counted = tokenizer_vocab(folder)
    rows = base_vocab(base)
    if counted is None or rows is None or not counted[1] or counted[0] <= rows:
        return None
    if not _vocabulary_tensors(base, rows):
        return None
    return rows, counted[0]


def _replace_whole(outcome: Outcome, layout: Layout) -> list[str]:
    """Point each base tensor the adapter saved whole at the adapter's bytes."""
    replaced = []
    for copy in layout.whole:
        spec = copy.spec
        name = base_tensor(spec.name, outcome.recipes)
        if name is None:
            continue
        old = outcome.recipes[name].spec
        recipe = Recipe(spec=replace(spec, name=name, location=None), source=spec)
        outcome.recipes[name] = _as_dtype(recipe, old.dtype)
        replaced.append(name)
    return replaced


def _add_untied(
    outcome: Outcome,
    layout: Layout,
    tied: dict[str, str],
    before: dict[str, Recipe],
) -> list[str]:
    """Write the tied tensors the adapter unties, which the base's files leave out.

    PEFT's ``modules_to_save`` on an input embedding leaves the tied head on the
    original rows: the merged model has two tensors, and its config unties them.
    The head is the adapter's copy when it saved one, else the base's original
    (``before`` the adapter's copies replaced it), given the adapter's rows.

    Returns:
        The names written.

    """
    copies = {copy.base: copy.spec for copy in layout.whole}
    added = []
    for name, original in tied.items():
        if name in outcome.recipes:
            continue
        target = outcome.recipes[original].spec
        saved = copies.get(name)
        if saved is not None:
            recipe = Recipe(spec=replace(saved, name=name, location=None), source=saved)
        else:
            recipe = _with_rows(before[original], name, target.shape[0])
        outcome.recipes[name] = _as_dtype(recipe, target.dtype)
        added.append(name)
    return added


def _as_dtype(recipe: Recipe, dtype: str) -> Recipe:
    """``recipe`` cast to ``dtype`` (itself when it has that dtype already)."""
    if recipe.spec.dtype == dtype:
        return recipe
    return Recipe(
        spec=replace(recipe.spec, dtype=dtype),
        inputs=(recipe,),
        fn=_cast_to(dtype),
        ops=("cast",),
    )


def _with_rows(base: Recipe, name: str, rows: int) -> Recipe:
    """A copy of ``base`` named ``name``, padded (mean) or truncated to ``rows`` rows."""
    spec = replace(base.spec, name=name)
    if spec.shape[0] == rows:
        return replace(base, spec=spec)

    def fn(values: list[torch.Tensor]) -> torch.Tensor:
        from weightfit.values import padded

        value = values[0]
        return padded(value, rows, "mean", 0) if rows > value.shape[0] else value[:rows]

    shape = (rows, *spec.shape[1:])
    return Recipe(spec=replace(spec, shape=shape), inputs=(base,), fn=fn, ops=("pad_rows",))


def _merge_lora(
    outcome: Outcome, layout: Layout, config: AdapterConfig, stacks: dict[str, Stack]
) -> int:
    """Replace each adapted base tensor's recipe with ``W + scale · B @ A``; returns the count."""
    merged = 0
    specs = {name: recipe.spec for name, recipe in outcome.recipes.items()}
    specs.update((s.name, TensorSpec(s.name, s.shape, "F32")) for s in stacks.values())
    for module in layout.lora.values():
        weight = lora_target(module, specs, config.target_parameters)
        if weight is None or module.a is None or module.b is None:
            continue
        shape = specs[weight].shape
        scale = config.scale(module.module, module.rank_on(shape))
        if weight in stacks:
            _merge_stack(outcome, module, (module.a, module.b), scale, stacks[weight])
            merged += 1
            continue
        base = outcome.recipes[weight]
        fn = (
            _expert_merged(module, scale, shape)
            if len(shape) == 3 and len(module.a.shape) == 2
            else _merged(module, scale, config.fan_in_fan_out)
        )
        outcome.recipes[weight] = Recipe(
            spec=base.spec,
            inputs=(base, _leaf(module.a), _leaf(module.b)),
            fn=fn,
            ops=(*base.ops, "lora_merge"),
        )
        bias_name = weight.removesuffix("weight") + "bias"
        if module.bias is not None and bias_name not in outcome.recipes:
            raise UnsupportedAdapter(
                f"lora_bias: {module.module} has a lora_B.bias but its base layer has no bias "
                f"({bias_name} is not in the base), so no merged model holds it; "
                "PEFT's merge_and_unload refuses it too"
            )
        if module.bias is not None:
            bias = outcome.recipes[bias_name]
            outcome.recipes[bias_name] = Recipe(
                spec=bias.spec,
                inputs=(bias, _leaf(module.bias)),
                fn=_biased(scale),
                ops=(*bias.ops, "lora_merge"),
            )
        merged += 1
    return merged


def _merge_stack(
    outcome: Outcome,
    module: LoraModule,
    factors: tuple[TensorSpec, TensorSpec],
    scale: float,
    stack: Stack,
) -> None:
    """Add an expert stack's delta to the file tensors that hold it, one expert's rows each."""
    a, b = factors
    for index, part in enumerate(stack.parts):
        base = outcome.recipes[part]
        expert, first, rows = stack.piece(index)
        outcome.recipes[part] = Recipe(
            spec=base.spec,
            inputs=(base, _leaf(a), _leaf(b)),
            fn=_expert_part(module, scale, stack.shape, expert, slice(first, first + rows)),
            ops=(*base.ops, "lora_merge"),
        )


def _overwrite_tokens(outcome: Outcome, layout: Layout, config: AdapterConfig) -> None:
    """Write trainable-token rows into their embedding (PEFT's ``index_copy``)."""
    for rows in layout.tokens:
        weight = base_weight(rows.module, outcome.recipes)
        chosen = config.indices_for(strip_peft(rows.module))
        if weight is None or chosen is None:
            continue
        base = outcome.recipes[weight]
        outcome.recipes[weight] = Recipe(
            spec=base.spec,
            inputs=(base, _leaf(rows.delta)),
            fn=_token_copy(chosen),
            ops=(*base.ops, "trainable_tokens"),
        )


def _leaf(spec: TensorSpec) -> Recipe:
    return Recipe(spec=replace(spec, location=None), source=spec)


def _merged(module: LoraModule, scale: float, fan_in_fan_out: bool) -> ValueFn:
    """The value function adding ``scale · B @ A`` to a base weight, in float32."""
    transposed = fan_in_fan_out or module.embedding

    def fn(values: list[torch.Tensor]) -> torch.Tensor:
        weight, a, b = values
        result = weight.float()
        a, b = a.float(), b.float()
        if a.dim() == 4:
            result.add_(_conv_delta(a, b), alpha=scale)
        elif transposed:
            result.addmm_(a.T, b.T, alpha=scale)
        else:
            result.addmm_(b, a, alpha=scale)
        return result.to(weight.dtype)

    return fn


def _expert_merged(module: LoraModule, scale: float, shape: tuple[int, ...]) -> ValueFn:
    """The value function adding a ``ParamWrapper``'s delta to an ``[E, d1, d2]`` expert stack.

    ``A`` ``[r·E, in]`` is read as ``[E, r, in]`` and ``B`` ``[out, r·E]`` as
    ``[out, r, E]`` (PEFT's reshapes); expert ``e`` gets ``B[:, :, e] @ A[e]``,
    transposed when the stack is ``[E, in, out]``.
    """
    experts = shape[0]
    transposed = module.expert_layout(shape) == "in_out"

    def fn(values: list[torch.Tensor]) -> torch.Tensor:
        import torch

        weight, a, b = values
        a = a.float().reshape(experts, -1, a.shape[-1])
        b = b.float().reshape(b.shape[0], -1, experts).permute(2, 0, 1)
        delta = torch.bmm(b, a)
        if transposed:
            delta = delta.transpose(1, 2)
        return (weight.float() + delta * scale).to(weight.dtype)

    return fn


def _expert_part(
    module: LoraModule, scale: float, shape: tuple[int, ...], expert: int, rows: slice
) -> ValueFn:
    """The value function adding rows ``rows`` of expert ``expert``'s delta to one file tensor."""
    experts = shape[0]
    transposed = module.expert_layout(shape) == "in_out"

    def fn(values: list[torch.Tensor]) -> torch.Tensor:
        weight, a, b = values
        a = a.float().reshape(experts, -1, a.shape[-1])[expert]
        b = b.float().reshape(b.shape[0], -1, experts)[:, :, expert]
        delta = b @ a
        if transposed:
            delta = delta.T
        return (weight.float() + delta[rows] * scale).to(weight.dtype)

    return fn


def _conv_delta(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``B @ A`` of a convolution LoRA, as PEFT's ``Conv2d.get_delta_weight``."""
    from torch.nn import functional

    if a.shape[2:] == (1, 1):
        return (b.squeeze(3).squeeze(2) @ a.squeeze(3).squeeze(2)).unsqueeze(2).unsqueeze(3)
    return functional.conv2d(a.permute(1, 0, 2, 3), b).permute(1, 0, 2, 3)


def _biased(scale: float) -> ValueFn:
    def fn(values: list[torch.Tensor]) -> torch.Tensor:
        bias, lora_bias = values
        return (bias.float() + lora_bias.float() * scale).to(bias.dtype)

    return fn


def _token_copy(indices: list[int]) -> ValueFn:
    def fn(values: list[torch.Tensor]) -> torch.Tensor:
        import torch

        weight, delta = values
        index = torch.tensor(indices, dtype=torch.long)
        return weight.index_copy(0, index, delta.to(weight.dtype))

    return fn


def _cast_to(dtype: str) -> ValueFn:
    def fn(values: list[torch.Tensor]) -> torch.Tensor:
        from weightfit.tensor_io import torch_dtype

        return values[0].to(torch_dtype(dtype))

    return fn


def _described(config: AdapterConfig, modules: int) -> dict[str, Any]:
    """The adapter facts stamped into the output."""
    return {
        "peft_type": config.peft_type,
        "r": config.r,
        "lora_alpha": config.lora_alpha,
        "rank_pattern": config.rank_pattern,
        "alpha_pattern": config.alpha_pattern,
        "use_rslora": config.use_rslora,
        "fan_in_fan_out": config.fan_in_fan_out,
        "modules_merged": modules,
        "modules_to_save": config.modules_to_save,
        "base_model_name_or_path": config.base_model_name_or_path,
    }
