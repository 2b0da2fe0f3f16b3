"""WF1xx: weight sets and precision variants that share one folder."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from weightfit import dtypes
from weightfit.lint import fixes
from weightfit.lint.context import Context, Folder
from weightfit.lint.registry import Violation, implements
from weightfit.lint.rules_index import index_name, variant_index_op
from weightfit.manifest import TensorSpec, human_bytes
from weightfit.weightsets import WeightSet

LABEL_DTYPES: dict[str, tuple[str, ...]] = {
    "fp16": ("F16",),
    "float16": ("F16",),
    "half": ("F16",),
    "bf16": ("BF16",),
    "bfloat16": ("BF16",),
    "fp32": ("F32",),
    "float32": ("F32",),
    "fp64": ("F64",),
    "fp8": ("F8_E4M3", "F8_E5M2", "F8_E4M3FNUZ", "F8_E5M2FNUZ"),
}
"""Variant labels that promise a floating-point dtype, and the dtypes that keep the promise."""

DTYPE_LABELS = {"F16": "fp16", "BF16": "bf16", "F32": "fp32", "F64": "fp64"}


def _variant(v: str | None) -> str:
    return f"variant={v!r}" if v is not None else "no variant"


def _sets_touched(ctx: Context, files: tuple[str, ...]) -> list[tuple[Folder, WeightSet]]:
    """The weight sets some files belong to, in first-seen order."""
    touched: list[tuple[Folder, WeightSet]] = []
    for rel in files:
        found = ctx.set_of(rel)
        if found is not None and all(found[1] is not ws for _, ws in touched):
            touched.append(found)
    return touched


def _bytes(ctx: Context, files: tuple[str, ...]) -> int:
    total = 0
    for rel in files:
        folder = ctx.folder_of(rel)
        if folder is not None:
            total += folder.sizes.get(rel.rpartition("/")[2], 0)
    return total


@implements("WF101")
def variant_fetches_several_weight_sets(ctx: Context) -> Iterator[Violation]:
    """What it checks:
        For each rule set (diffusers <= 0.32, diffusers >= 0.33, transformers) and
        each variant present in the folder, which files a download fetches and
        which the model loader then reads. It flags a folder where one request
        fetches files of more than one weight set, and gives the bytes fetched
        and never read.

    Why it matters:
        Users pay for those bytes on every fresh download and in their cache,
        and diffusers <= 0.32 prints "A mixture of bf16 and non-bf16 filenames
        will be loaded", which sends them chasing a precision bug that is not
        there.

    Example:
        ``transformer/`` holds ``diffusion_pytorch_model.bf16.safetensors``
        (3.2 GB) and unlabelled fp32 shards with an unlabelled index (6.4 GB).
        ``SanaPipeline.from_pretrained(repo, variant="bf16")`` on diffusers 0.32
        downloads both and loads only the bf16 file.

    Fix:
        Write ``diffusion_pytorch_model.safetensors.index.bf16.json`` naming the
        single bf16 file: diffusers <= 0.32 then skips the unlabelled shards of
        that folder, and every loader reads the same file as before.

    Fix safety:
        Safe: only a new index file is written; no weight file changes.

    References:
        diffusers v0.32.2 ``pipelines/pipeline_loading_utils.py``
        (``variant_compatible_siblings``); diffusers PR #10646 (v0.33.0);
        diffusers issues #10634 and #11182.

    """
    for r in ctx.resolutions:
        if r.error is not None or not r.needless:
            continue
        read = _sets_touched(ctx, r.loaded)
        touched = read + [
            t for t in _sets_touched(ctx, r.fetched) if all(t[1] is not s for _, s in read)
        ]
        if len(touched) < 2:
            continue
        folder = touched[0][0]
        needless = _bytes(ctx, r.needless)
        others = [
            o
            for o in ctx.resolutions
            if o.component == r.component and o.variant == r.variant and o.rules != r.rules
        ]
        elsewhere = "; ".join(
            f"{o.rules} fetches {', '.join(ws.label for _, ws in _sets_touched(ctx, o.fetched))}"
            for o in others
            if o.error is None
        )
        read_label = ", ".join(ws.label for _, ws in read) or "nothing"
        message = (
            f"{r.rules} with {_variant(r.variant)} fetches {len(touched)} weight sets "
            f"({', '.join(ws.label for _, ws in touched)}) but reads only {read_label}: "
            f"{human_bytes(needless)} fetched needlessly" + (f"; {elsewhere}" if elsewhere else "")
        )
        ops = []
        if r.variant is not None and len(read) == 1 and not read[0][1].sharded:
            op = variant_index_op(ctx, read[0][0], read[0][1], r.variant, "WF101")
            if op is not None:
                ops.append(op)
        yield Violation(
            "WF101",
            folder.rel,
            message,
            evidence={"resolution": r.to_dict(), "needless_bytes": needless},
            fixes=ops,
            fix_note="" if ops else "remove or label the weight set that is never read",
        )


@implements("WF102")
def loaders_disagree_on_weight_set(ctx: Context) -> Iterator[Violation]:
    """What it checks:
        Two weight sets in one folder with the same variant label and format,
        such as ``model.safetensors`` beside ``model-00001-of-00002.safetensors``
        and its index, or two shard series of different lengths.

    Why it matters:
        Loaders break the tie differently: transformers reads the single file
        first, diffusers the index first. The same folder then loads different
        weights depending on the library, and one copy is dead weight.

    Example:
        ``model.safetensors`` (an old save) beside ``model-00001-of-00002.safetensors``,
        ``model-00002-of-00002.safetensors`` and ``model.safetensors.index.json``.

    Fix:
        Delete the stale copy by hand; which one is current cannot be told from
        the headers.

    Fix safety:
        No automatic fix.

    References:
        transformers ``modeling_utils._get_resolved_checkpoint_files``; diffusers
        ``models/modeling_utils.py`` (``_fetch_index_file`` before ``_get_model_file``).

    """
    for folder in ctx.folders:
        groups: dict[tuple[str | None, str], list[WeightSet]] = {}  # (variant, format)
        for ws in folder.sets:
            if ws.files and not ws.is_training_state:
                groups.setdefault((ws.variant, ws.format), []).append(ws)
        for (variant, fmt), sets in groups.items():
            prefixes = {ws.prefix for ws in sets}
            if len(sets) < 2 or len(prefixes) != 1:
                continue
            single = next((ws for ws in sets if not ws.sharded), None)
            indexed = next((ws for ws in sets if ws.sharded and ws.index), None)
            choice = []
            if single is not None and indexed is not None:
                choice = [f"transformers reads {single.label}", f"diffusers reads {indexed.label}"]
            yield Violation(
                "WF102",
                folder.rel,
                f"{len(sets)} {fmt} weight sets with {_variant(variant)}: "
                f"{', '.join(ws.label for ws in sets)}"
                + (f"; {'; '.join(choice)}" if choice else ""),
                evidence={"sets": [ws.to_dict() for ws in sets]},
                fix_note="delete the stale copy",
            )


@implements("WF103")
def variant_fails_to_load(ctx: Context) -> Iterator[Violation]:
    """What it checks:
        For each rule set and each variant whose files are in the folder,
        whether the loader finds a complete weight set at all, for instance
        variant shards without a variant index, or a folder that holds only
        variant files loaded without a variant.

    Why it matters:
        The files are there but ``from_pretrained`` raises "no file named ..."
        or loads nothing for that variant.

    Example:
        ``unet/`` holds ``diffusion_pytorch_model.fp16-00001-of-00002.safetensors``
        and ``-00002-of-00002`` but no ``diffusion_pytorch_model.safetensors.index.fp16.json``.

    Fix:
        Write the missing variant index from the shards' headers.

    Fix safety:
        Safe: only an index file is written. A folder that holds only variant
        files gets no fix; pass the variant, or add unlabelled weights.

    References:
        diffusers ``models/model_loading_utils._fetch_index_file``; transformers
        ``modeling_utils._get_resolved_checkpoint_files``.

    """
    for r in ctx.resolutions:
        if r.error is None or r.loaded:
            continue
        folder = next((f for f in ctx.folders if f.rel == r.component), None)
        ops: list[fixes.FileOp] = []
        if folder is not None and r.variant is not None:
            for ws in folder.sets:
                if (
                    ws.variant == r.variant
                    and ws.sharded
                    and ws.index is None
                    and not ws.missing_shards
                ):
                    op = variant_index_op(ctx, folder, ws, r.variant, "WF103")
                    if op is not None:
                        ops.append(op)
        yield Violation(
            "WF103",
            r.component,
            f"{r.rules} with {_variant(r.variant)} cannot load: {r.error}",
            evidence={"resolution": r.to_dict()},
            fixes=ops,
            fix_note="" if ops else "add the files the loader looks for, or pass a variant",
        )


@implements("WF104")
def legacy_variant_file_names(ctx: Context) -> Iterator[Violation]:
    """What it checks:
        Variant shards named the pre-0.27 diffusers way,
        ``name-00001-of-00002.fp16.safetensors`` with ``name.safetensors.fp16.index.json``,
        instead of ``name.fp16-00001-of-00002.safetensors`` with
        ``name.safetensors.index.fp16.json``.

    Why it matters:
        diffusers warns that the format is deprecated and will stop reading it;
        transformers never reads it.

    Example:
        ``unet/diffusion_pytorch_model-00001-of-00002.fp16.safetensors``.

    Fix:
        Rename the shards to the current names and write the current index
        (with the new shard names), then delete the legacy index.

    Fix safety:
        Unsafe: weight files are renamed.

    References:
        diffusers ``utils/hub_utils._check_legacy_sharding_variant_format`` and
        ``models/model_loading_utils._fetch_index_file_legacy``.

    """
    for folder in ctx.folders:
        for ws in folder.sets:
            if ws.layout != "legacy-sharded" or ws.variant is None:
                continue
            ext = ws.files[0].rsplit(".", 1)[-1] if ws.files else "safetensors"
            renames = {
                name: name.replace(f".{ws.variant}.", ".").replace(
                    f"{ws.prefix}-", f"{ws.prefix}.{ws.variant}-", 1
                )
                for name in ws.files
            }
            ops: list[fixes.FileOp] = []
            clash = [new for new in renames.values() if new in folder.names]
            if not clash and ws.index is not None:
                info = ctx.index(folder.relpath(ws.index))
                if info.error is None:
                    weight_map = {k: renames.get(v, v) for k, v in info.weight_map.items()}
                    meta = (
                        info.data.get("metadata")
                        if isinstance(info.data.get("metadata"), dict)
                        else {}
                    )
                    total = info.total_size if info.total_size is not None else 0
                    new_index = index_name(ws.prefix, ext, ws.variant)
                    ops.append(
                        fixes.write_op(
                            folder.relpath(new_index),
                            fixes.index_text(weight_map, total, meta),
                            "WF104: current index names",
                        )
                    )
                    ops += [
                        fixes.move_op(
                            folder.relpath(old),
                            folder.relpath(new),
                            "WF104: current shard name",
                            size=folder.sizes.get(old, 0),
                        )
                        for old, new in renames.items()
                    ]
                    ops.append(
                        fixes.delete_op(
                            folder.relpath(ws.index), "WF104: legacy index replaced", weights=False
                        )
                    )
            yield Violation(
                "WF104",
                folder.relpath(ws.files[0]) if ws.files else folder.rel,
                f"{ws.label} uses legacy variant shard names; current diffusers warns and "
                "transformers cannot read them",
                evidence={"files": list(ws.files), "renames": renames},
                fixes=ops,
                fix_note="" if ops else "re-save with save_pretrained(variant=...)",
            )


def set_dtypes(tensors: dict[str, TensorSpec]) -> Counter[str]:
    """Bytes per floating-point dtype (other dtypes are buffers, ids, quantized data)."""
    counts: Counter[str] = Counter()
    for spec in tensors.values():
        kind = dtypes.lookup(spec.dtype)
        if kind is not None and kind.kind == "float":
            counts[spec.dtype] += spec.nbytes or 0
    return counts


@implements("WF105")
def variant_dtype_mismatch(ctx: Context) -> Iterator[Violation]:
    """What it checks:
        Weight sets whose variant label promises a precision (``fp16``, ``bf16``,
        ``fp32``, ``fp8`` ...) against the dtypes their headers actually declare,
        by bytes of floating-point tensors.

    Why it matters:
        A ``.bf16.`` file holding float32 costs twice the download and memory
        the label promises, and nobody notices: no loader checks, and
        ``torch_dtype`` casts after loading.

    Example:
        ``vae/diffusion_pytorch_model.bf16.safetensors`` is 1.25 GB, as large as
        the unlabelled float32 file, because it holds F32 tensors.

    Fix:
        When an unlabelled (or correctly labelled) set in the folder holds the
        same tensors, delete the mislabelled copy; a pipeline then falls back to
        the unlabelled weights for that variant. Otherwise rename a single file
        to the label of the dtype it holds. Converting the weights is left to you.

    Fix safety:
        Unsafe: a weight file is deleted or renamed, and loading that one
        component alone with the variant then fails.

    References:
        diffusers ``pipelines/pipeline_loading_utils._identify_model_variants``;
        seed case diffusers#10634 (``vae/`` of Sana_1600M_2Kpx_BF16_diffusers).

    """
    for folder in ctx.folders:
        for ws in folder.sets:
            promised = LABEL_DTYPES.get((ws.variant or "").lower())
            if promised is None or ws.format != "safetensors" or not ws.files:
                continue
            tensors = ctx.set_tensors(folder, ws)
            if not tensors:
                continue
            counts = set_dtypes(tensors)
            if not counts:
                continue
            held, held_bytes = counts.most_common(1)[0]
            if held in promised:
                continue
            duplicate = _duplicate_of(ctx, folder, ws, tensors)
            ops: list[fixes.FileOp] = []
            if duplicate is not None and ctx.kind == "diffusers-pipeline":
                ops = _delete_set_ops(folder, ws, f"WF105: duplicate of {duplicate.label}")
            elif duplicate is None and not ws.sharded and held in DTYPE_LABELS:
                new = ws.files[0].replace(f".{ws.variant}.", f".{DTYPE_LABELS[held]}.", 1)
                if new not in folder.names:
                    ops = [
                        fixes.move_op(
                            folder.relpath(ws.files[0]),
                            folder.relpath(new),
                            "WF105: label of the dtype it holds",
                            size=ws.total_bytes,
                        )
                    ]
            share = held_bytes / max(1, sum(counts.values()))
            yield Violation(
                "WF105",
                folder.relpath(ws.files[0]),
                f"{ws.label} is labelled {ws.variant} but {share:.0%} of its float bytes "
                f"are {held} "
                f"({human_bytes(ws.total_bytes)}, "
                + (f"the same tensors as {duplicate.label})" if duplicate else "no other copy)"),
                evidence={"bytes_by_dtype": dict(counts), "promised": list(promised)},
                fixes=ops,
                fix_note="" if ops else f"convert the weights to {promised[0]} or relabel them",
            )


@implements("WF106")
def mixed_dtypes_in_weight_set(ctx: Context) -> Iterator[Violation]:
    """What it checks:
        Weight sets whose floating-point tensors use more than one dtype
        (integer buffers such as ``position_ids`` and 8-bit quantized sets with
        their scales are not counted).

    Why it matters:
        A half-converted save (some layers still float32) loads, but costs
        memory and can run the model in a precision nobody chose; it often
        means a conversion script skipped tensors.

    Example:
        ``model.fp16.safetensors`` with 290 F16 tensors and 2 F32 ones.

    Fix:
        Re-save the weights in one dtype, or keep the float32 layers on purpose
        (some models do, e.g. ``_keep_in_fp32_modules``) and ignore this code.

    Fix safety:
        No automatic fix: weight bytes are never rewritten.

    References:
        transformers ``PreTrainedModel._keep_in_fp32_modules``.

    """
    for folder in ctx.folders:
        for ws in folder.sets:
            if ws.format != "safetensors" or not ws.files:
                continue
            tensors = ctx.set_tensors(folder, ws)
            counts = set_dtypes(tensors or {})
            if len(counts) < 2 or any(d.startswith("F8") or d == "F4" for d in counts):
                continue
            per_count = Counter(s.dtype for s in (tensors or {}).values() if s.dtype in counts)
            ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
            parts = ", ".join(f"{per_count[d]} {d} ({human_bytes(b)})" for d, b in ranked)
            yield Violation(
                "WF106",
                folder.relpath(ws.files[0]),
                f"{ws.label} mixes floating-point dtypes: {parts}",
                evidence={"bytes_by_dtype": dict(counts), "tensors_by_dtype": dict(per_count)},
                fix_note="re-save in one dtype, or ignore if the float32 layers are deliberate",
            )


def _signature(tensors: dict[str, TensorSpec]) -> frozenset[tuple[str, tuple[int, ...], str]]:
    return frozenset((n, s.shape, s.dtype) for n, s in tensors.items())


def _duplicate_of(
    ctx: Context, folder: Folder, ws: WeightSet, tensors: dict[str, TensorSpec]
) -> WeightSet | None:
    """Another set in the folder with the same names, shapes and dtypes, if any."""
    mine = _signature(tensors)
    for other in folder.sets:
        if other is ws or not other.files:
            continue
        theirs = ctx.set_tensors(folder, other)
        if theirs and _signature(theirs) == mine:
            return other
    return None


def _delete_set_ops(folder: Folder, ws: WeightSet, reason: str) -> list[fixes.FileOp]:
    ops = [
        fixes.delete_op(folder.relpath(n), reason, weights=True, size=folder.sizes.get(n, 0))
        for n in ws.files
    ]
    if ws.index:
        ops.append(fixes.delete_op(folder.relpath(ws.index), reason, weights=False))
    return ops


def _keep_rank(ws: WeightSet, tensors: dict[str, TensorSpec]) -> tuple[int, int, int]:
    """Which of two identical sets to keep: safetensors, honestly labelled, unlabelled."""
    counts = set_dtypes(tensors)
    held = counts.most_common(1)[0][0] if counts else None
    promised = LABEL_DTYPES.get((ws.variant or "").lower())
    honest = ws.variant is None or promised is None or held in promised
    return (ws.format != "safetensors", not honest, ws.variant is not None)


@implements("WF107")
def duplicate_weight_sets(ctx: Context) -> Iterator[Violation]:
    """What it checks:
        Two weight sets in one folder that hold the same tensors: the same
        names, shapes and dtypes, read from their headers.

    Why it matters:
        Every copy is downloaded and stored; the bytes of all but one are
        wasted. Equal headers do not prove equal values, but a repository
        rarely needs two copies of one precision.

    Example:
        ``vae/diffusion_pytorch_model.safetensors`` and
        ``vae/diffusion_pytorch_model.bf16.safetensors`` both hold the same
        F32 tensors (1.25 GB each).

    Fix:
        Delete the copy that is a pickle, mislabelled, or labelled, in that
        order of preference, keeping the other.

    Fix safety:
        Unsafe: a weight file is deleted, and values were not compared.

    References:
        seed case diffusers#10634.

    """
    for folder in ctx.folders:
        readable = []
        for ws in folder.sets:
            if ws.files and not ws.is_training_state:
                tensors = ctx.set_tensors(folder, ws)
                if tensors:
                    readable.append((ws, tensors, _signature(tensors)))
        done: set[int] = set()
        for i, (a, ta, sa) in enumerate(readable):
            for j in range(i + 1, len(readable)):
                b, tb, sb = readable[j]
                if j in done or sa != sb:
                    continue
                done.add(j)
                keep, drop = (a, b) if _keep_rank(a, ta) <= _keep_rank(b, tb) else (b, a)
                yield Violation(
                    "WF107",
                    folder.relpath(drop.files[0]),
                    f"{drop.label} holds the same {len(ta)} tensors as {keep.label}: "
                    f"{human_bytes(drop.total_bytes)} wasted",
                    evidence={
                        "keep": keep.to_dict(),
                        "drop": drop.to_dict(),
                        "wasted_bytes": drop.total_bytes,
                    },
                    fixes=_delete_set_ops(folder, drop, f"WF107: duplicate of {keep.label}"),
                )
