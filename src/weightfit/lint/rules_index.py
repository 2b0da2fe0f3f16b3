"""WF2xx: shard index integrity, checked against the shards' own headers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from weightfit import weightsets
from weightfit.lint import fixes
from weightfit.lint.context import Context, Folder, IndexInfo
from weightfit.lint.registry import Violation, implements
from weightfit.manifest import human_bytes
from weightfit.weightsets import WeightSet


def index_name(prefix: str, ext: str, variant: str | None) -> str:
    """The current index name: ``model.safetensors.index.bf16.json`` (``_add_variant``)."""
    return f"{prefix}.{ext}.index.{variant}.json" if variant else f"{prefix}.{ext}.index.json"


def _ext(ws: WeightSet) -> str:
    return ws.files[0].rsplit(".", 1)[-1] if ws.files else "safetensors"


def variant_index_op(
    ctx: Context, folder: Folder, ws: WeightSet, variant: str, code: str
) -> fixes.FileOp | None:
    """A variant index naming every tensor of a set's files, or ``None`` if headers fail."""
    name = index_name(ws.prefix, _ext(ws), variant)
    if name in folder.names or ws.format != "safetensors":
        return None
    placed = _placement(ctx, folder, ws.files)
    if placed is None or placed.repeated:
        return None
    text = fixes.index_text(placed.weight_map, placed.total_size)
    return fixes.write_op(folder.relpath(name), text, f"{code}: index for {ws.label}")


@dataclass
class _Placement:
    """Where each tensor really is, over a list of shard files."""

    weight_map: dict[str, str] = field(default_factory=dict)
    repeated: dict[str, list[str]] = field(default_factory=dict)
    total_size: int = 0


def _placement(
    ctx: Context, folder: Folder, files: list[str] | tuple[str, ...]
) -> _Placement | None:
    """Read the headers of ``files``; ``None`` if one is missing or unreadable (memoised)."""
    key = ("placement", folder.rel, tuple(files))
    if key not in ctx.memo:
        ctx.memo[key] = _place(ctx, folder, files)
    return ctx.memo[key]  # type: ignore[no-any-return]


def _place(ctx: Context, folder: Folder, files: list[str] | tuple[str, ...]) -> _Placement | None:
    placed = _Placement()
    for name in files:
        if name not in folder.sizes:
            return None
        probe = ctx.probe(folder.relpath(name))
        if probe.manifest is None:
            return None
        for key, spec in probe.manifest.tensors.items():
            if key in placed.weight_map:
                placed.repeated.setdefault(key, [placed.weight_map[key]]).append(name)
                continue
            placed.weight_map[key] = name
            placed.total_size += spec.nbytes or 0
    return placed


def _indexes(ctx: Context) -> Iterator[tuple[Folder, weightsets.IndexFile, IndexInfo]]:
    """Every shard index in every folder, read as JSON."""
    for folder in ctx.folders:
        for name in folder.names:
            parsed = weightsets.parse_name(name)
            if isinstance(parsed, weightsets.IndexFile):
                yield folder, parsed, ctx.index(folder.relpath(name))


def _its_set(folder: Folder, index: str) -> WeightSet | None:
    return next((ws for ws in folder.sets if ws.index == index), None)


def _rebuild_op(
    ctx: Context, folder: Folder, info: IndexInfo, files: list[str], code: str
) -> fixes.FileOp | None:
    """Rewrite an index from its shards' headers, keeping its other metadata."""
    placed = _placement(ctx, folder, files)
    if placed is None or placed.repeated:
        return None
    meta = info.data.get("metadata") if isinstance(info.data.get("metadata"), dict) else {}
    text = fixes.index_text(placed.weight_map, placed.total_size, meta)
    return fixes.write_op(info.rel, text, f"{code}: index rebuilt from shard headers")


@implements("WF201")
def index_names_missing_shard(ctx: Context) -> Iterator[Violation]:
    """What it checks:
        Every file an index's ``weight_map`` names exists next to the index.

    Why it matters:
        Both diffusers and transformers raise "does not appear to have a file
        named ... which is required according to the checkpoint index", after
        downloading the other shards.

    Example:
        ``model.safetensors.index.json`` names ``model-00003-of-00003.safetensors``;
        the folder has shards 1 and 2 only.

    Fix:
        Upload the missing shard (or re-save the model).

    Fix safety:
        No automatic fix: the tensors are nowhere else.

    References:
        diffusers ``utils/hub_utils._get_checkpoint_shard_files``;
        transformers ``utils/hub.get_checkpoint_shard_files``.

    """
    for folder, _, info in _indexes(ctx):
        if info.error is not None:
            continue
        missing = sorted({f for f in info.weight_map.values() if f not in folder.sizes})
        if missing:
            count = sum(1 for f in info.weight_map.values() if f in missing)
            yield Violation(
                "WF201",
                info.rel,
                f"names {len(missing)} missing file(s) holding {count} tensors: "
                + ", ".join(missing),
                evidence={"missing": missing, "tensors": count},
                fix_note="upload the missing shards or re-save the model",
            )


@implements("WF202")
def shard_not_in_index(ctx: Context) -> Iterator[Violation]:
    """What it checks:
        Shard files of an index's own series (same prefix, variant and
        ``-of-N`` count) that its ``weight_map`` never names.

    Why it matters:
        Loaders read only the shards the index names: the tensors in the
        others are silently left at their initial values, or reported missing.

    Example:
        ``model-00003-of-00003.safetensors`` exists but the index maps every
        tensor to shards 1 and 2.

    Fix:
        Rebuild the index from the shards' headers.

    Fix safety:
        Safe: only the index is rewritten, and only when no tensor is in two shards.

    References:
        huggingface_hub ``split_torch_state_dict_into_shards`` (how indexes are written).

    """
    for folder, parsed, info in _indexes(ctx):
        ws = _its_set(folder, parsed.name)
        if info.error is not None or ws is None:
            continue
        named = set(info.weight_map.values())
        extra = [f for f in ws.files if f not in named]
        if not extra:
            continue
        op = _rebuild_op(ctx, folder, info, sorted(named | set(extra)), "WF202")
        yield Violation(
            "WF202",
            info.rel,
            f"{len(extra)} shard(s) of this series are not in the index: {', '.join(extra)}",
            evidence={"unindexed_shards": extra},
            fixes=[op] if op else [],
            fix_note="" if op else "rebuild the index",
        )


@implements("WF203")
def tensor_not_where_index_says(ctx: Context) -> Iterator[Violation]:
    """What it checks:
        Each tensor the index maps to a shard is in that shard's header, and
        every tensor in the indexed shards is in the index.

    Why it matters:
        transformers reads each tensor from the shard the index names and
        fails or leaves it uninitialised when it is elsewhere; a tensor stored
        but not indexed is never loaded.

    Example:
        The index maps ``lm_head.weight`` to shard 1; shard 2's header holds it.

    Fix:
        Rebuild the index from the shards' headers.

    Fix safety:
        Safe when every indexed tensor exists in some shard, exactly once;
        otherwise no automatic fix.

    References:
        transformers ``modeling_utils`` (``load_state_dict`` per shard from ``weight_map``).

    """
    for folder, parsed, info in _indexes(ctx):
        if info.error is not None:
            continue
        ws = _its_set(folder, parsed.name)
        shards = sorted(set(info.weight_map.values()) | set(ws.files if ws else ()))
        placed = _placement(ctx, folder, [s for s in shards if s in folder.sizes])
        if placed is None:
            continue
        misplaced = [
            k
            for k, f in info.weight_map.items()
            if k in placed.weight_map
            and placed.weight_map[k] != f
            and f not in placed.repeated.get(k, [])
        ]
        nowhere = [
            k
            for k, f in info.weight_map.items()
            if k not in placed.weight_map and f in folder.sizes
        ]
        unindexed = [k for k in placed.weight_map if k not in info.weight_map]
        if not (misplaced or nowhere or unindexed):
            continue
        parts = []
        if misplaced:
            parts.append(f"{len(misplaced)} in another shard than indexed (e.g. {misplaced[0]!r})")
        if nowhere:
            parts.append(f"{len(nowhere)} in no shard (e.g. {nowhere[0]!r})")
        if unindexed:
            parts.append(f"{len(unindexed)} stored but not indexed (e.g. {unindexed[0]!r})")
        op = (
            None
            if nowhere
            else _rebuild_op(ctx, folder, info, [s for s in shards if s in folder.sizes], "WF203")
        )
        yield Violation(
            "WF203",
            info.rel,
            "tensors not where the index says: " + "; ".join(parts),
            evidence={
                "misplaced": misplaced[:20],
                "nowhere": nowhere[:20],
                "unindexed": unindexed[:20],
            },
            fixes=[op] if op else [],
            fix_note="" if op else "tensors in no shard must be restored from another copy",
        )


@implements("WF204")
def tensor_in_several_shards(ctx: Context) -> Iterator[Violation]:
    """What it checks:
        A tensor name stored in more than one of an index's shards.

    Why it matters:
        Which copy wins depends on the loader's shard order; the other is
        wasted bytes, and the two copies may differ.

    Example:
        ``model.norm.weight`` is in shard 1 and shard 2.

    Fix:
        Re-save the model; the right copy cannot be told from the headers.

    Fix safety:
        No automatic fix.

    References:
        safetensors format (one name per file; nothing prevents it across files).

    """
    for folder, parsed, info in _indexes(ctx):
        if info.error is not None:
            continue
        ws = _its_set(folder, parsed.name)
        files = set(info.weight_map.values()) | set(ws.files if ws else ())
        placed = _placement(ctx, folder, sorted(f for f in files if f in folder.sizes))
        if placed is None or not placed.repeated:
            continue
        name, where = next(iter(placed.repeated.items()))
        yield Violation(
            "WF204",
            info.rel,
            f"{len(placed.repeated)} tensor(s) stored in several shards, "
            f"e.g. {name!r} in {', '.join(where)}",
            evidence={"repeated": dict(list(placed.repeated.items())[:20])},
            fix_note="re-save the model",
        )


@implements("WF205")
def index_total_size_wrong(ctx: Context) -> Iterator[Violation]:
    """What it checks:
        ``metadata.total_size`` against the sum of the byte sizes of every
        tensor in the shards the index names (as transformers computes it).

    Why it matters:
        Tools that plan downloads, memory or device maps from the index
        (accelerate, hub viewers) get the size wrong; a wrong total also
        betrays an index copied from another save.

    Example:
        ``total_size`` says 6,417,851,008 but the shards hold 3,208,925,504 bytes of tensors.

    Fix:
        Rewrite the index with the correct ``total_size``.

    Fix safety:
        Safe: only the index is rewritten.

    References:
        transformers ``modeling_utils.PreTrainedModel.save_pretrained`` (``total_size``).

    """
    for folder, _, info in _indexes(ctx):
        if info.error is not None or info.total_size is None:
            continue
        shards = sorted(set(info.weight_map.values()))
        placed = _placement(ctx, folder, shards)
        if placed is None or placed.repeated or placed.total_size == info.total_size:
            continue
        meta = dict(info.data.get("metadata") or {})
        text = fixes.index_text(info.weight_map, placed.total_size, meta)
        yield Violation(
            "WF205",
            info.rel,
            f"metadata.total_size is {info.total_size:,} but the shards hold "
            f"{placed.total_size:,} bytes of tensors ({human_bytes(placed.total_size)})",
            evidence={"declared": info.total_size, "actual": placed.total_size},
            fixes=[fixes.write_op(info.rel, text, "WF205: correct total_size")],
        )


def _labels(files: set[str]) -> set[str | None]:
    labels: set[str | None] = set()
    for name in files:
        parsed = weightsets.parse_name(name)
        labels.add(parsed.variant if isinstance(parsed, weightsets.WeightFile) else None)
    return labels


@implements("WF206")
def index_shared_by_variants(ctx: Context) -> Iterator[Violation]:
    """What it checks:
        An index whose ``weight_map`` names files of more than one variant
        (for example unlabelled shards and ``.fp16.`` shards).

    Why it matters:
        The index does not describe one weight set: loading it mixes
        precisions, and every variant-aware loader treats its files as
        belonging to one variant only.

    Example:
        ``model.safetensors.index.json`` maps half the tensors to
        ``model-00001-of-00002.safetensors`` and half to ``model.fp16-00002-of-00002.safetensors``.

    Fix:
        Re-save each variant with its own index.

    Fix safety:
        No automatic fix.

    References:
        diffusers ``pipelines/pipeline_loading_utils.variant_compatible_siblings``.

    """
    for _, _, info in _indexes(ctx):
        if info.error is not None:
            continue
        labels = _labels(set(info.weight_map.values()))
        if len(labels) > 1:
            shown = ", ".join(sorted(label or "unlabelled" for label in labels))
            yield Violation(
                "WF206",
                info.rel,
                f"one index for several variants: its shards are {shown}",
                evidence={"labels": sorted(label or "" for label in labels)},
                fix_note="re-save each variant with its own index",
            )


@implements("WF207")
def index_mislabelled_variant(ctx: Context) -> Iterator[Violation]:
    """What it checks:
        An index whose own variant label (none, for ``model.safetensors.index.json``)
        differs from the one label all of its shards carry.

    Why it matters:
        Loaders find indexes by name: an unlabelled index over ``.fp16.``
        shards is used when no variant is asked for (loading fp16 as the
        default) and is missing when ``variant="fp16"`` is asked for.

    Example:
        ``model.safetensors.index.json`` maps every tensor to
        ``model.fp16-00001-of-00002.safetensors`` and ``-00002-of-00002``.

    Fix:
        Write the index under the name of its shards' variant
        (``model.safetensors.index.fp16.json``) and delete the mislabelled one.

    Fix safety:
        Safe: only index files are written and deleted.

    References:
        diffusers and transformers ``_add_variant``.

    """
    for folder, parsed, info in _indexes(ctx):
        if info.error is not None or not info.weight_map:
            continue
        labels = _labels(set(info.weight_map.values()))
        if len(labels) != 1:
            continue
        (label,) = labels
        if label == parsed.variant:
            continue
        right = index_name(
            parsed.prefix, "safetensors" if parsed.format == "safetensors" else "bin", label
        )
        ops = []
        if right not in folder.names:
            ops = [
                fixes.write_op(
                    folder.relpath(right),
                    fixes.index_text(
                        info.weight_map,
                        info.total_size or 0,
                        info.data.get("metadata")
                        if isinstance(info.data.get("metadata"), dict)
                        else {},
                    ),
                    "WF207: index under its shards' variant",
                ),
                fixes.delete_op(info.rel, "WF207: mislabelled index replaced", weights=False),
            ]
        yield Violation(
            "WF207",
            info.rel,
            f"index labelled {parsed.variant or 'unlabelled'} but all its shards are "
            f"{label or 'unlabelled'}; loaders look for it as {right}",
            evidence={"index_variant": parsed.variant, "shard_variant": label},
            fixes=ops,
            fix_note="" if ops else f"{right} exists already; delete the mislabelled index",
        )


@implements("WF208")
def index_unreadable(ctx: Context) -> Iterator[Violation]:
    """What it checks:
        Every shard index parses as a JSON object with a ``weight_map`` of
        tensor names to file names (and, for diffusers, a ``metadata`` object).

    Why it matters:
        Loaders fail with a JSON error, or diffusers with ``KeyError: 'metadata'``.

    Example:
        An index cut short by an interrupted upload.

    Fix:
        Re-save the model, or rebuild the index from the shards.

    Fix safety:
        No automatic fix.

    References:
        diffusers ``utils/hub_utils._get_checkpoint_shard_files``.

    """
    for folder, _, info in _indexes(ctx):
        if info.error is not None:
            message = f"unreadable index: {info.error}"
        elif not info.has_metadata and folder.kind == "diffusers-component":
            message = "index has no 'metadata' object: diffusers raises KeyError: 'metadata'"
        else:
            continue
        yield Violation("WF208", info.rel, message, fix_note="re-save the model")
