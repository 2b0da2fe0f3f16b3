"""WF3xx: the weight files themselves: pickles, git-lfs pointers, empty and broken files."""

from __future__ import annotations

from collections.abc import Iterator

from weightfit.lint import fixes
from weightfit.lint.context import Context, Folder, Probe
from weightfit.lint.registry import Violation, implements
from weightfit.manifest import human_bytes


def _probes(ctx: Context) -> Iterator[tuple[Folder, Probe]]:
    """The header probe of every weight file, folder by folder."""
    for folder in ctx.folders:
        for ws in folder.sets:
            for name in ws.files:
                yield folder, ctx.probe(folder.relpath(name))


@implements("WF301")
def pickle_beside_safetensors(ctx: Context) -> Iterator[Violation]:
    """What it checks:
        Pickled weights (``.bin``, ``.pt``, ``.pth``, ``.ckpt``) in a folder that
        also holds safetensors weights of the same variant. A trainer's
        optimizer, scheduler and RNG files are not counted.

    Why it matters:
        Loading a pickle can run arbitrary code, and these files are redundant:
        diffusers ignores ``*.bin`` when safetensors exist and transformers
        prefers safetensors, yet hub downloads without filters fetch both.

    Example:
        ``pytorch_model.bin`` (1.1 GB) beside ``model.safetensors``.

    Fix:
        Delete the pickle when its tensor names and shapes equal the
        safetensors set's (read without unpickling).

    Fix safety:
        Unsafe: weight files are deleted; tools that only read pickles lose them.

    References:
        diffusers ``pipelines/pipeline_loading_utils._get_ignore_patterns``;
        https://huggingface.co/docs/hub/security-pickle

    """
    for folder in ctx.folders:
        safe = [ws for ws in folder.sets if ws.format == "safetensors" and ws.files]
        for ws in folder.sets:
            if ws.format != "pickle" or not ws.files or ws.is_training_state:
                continue
            twins = [s for s in safe if s.variant == ws.variant]
            if not twins:
                continue
            ops: list[fixes.FileOp] = []
            mine = ctx.set_tensors(folder, ws)
            if mine:
                shapes = {n: s.shape for n, s in mine.items()}
                for twin in twins:
                    theirs = ctx.set_tensors(folder, twin)
                    if theirs and {n: s.shape for n, s in theirs.items()} == shapes:
                        reason = f"WF301: same tensors as {twin.label}"
                        ops = [
                            fixes.delete_op(
                                folder.relpath(n), reason, weights=True, size=folder.sizes.get(n, 0)
                            )
                            for n in ws.files
                        ]
                        if ws.index:
                            ops.append(
                                fixes.delete_op(folder.relpath(ws.index), reason, weights=False)
                            )
                        break
            yield Violation(
                "WF301",
                folder.relpath(ws.files[0]),
                f"{ws.label} ({human_bytes(ws.total_bytes)}) beside {twins[0].label}: "
                "pickles can run code when loaded and are redundant here",
                evidence={
                    "pickle": ws.to_dict(),
                    "safetensors": twins[0].to_dict(),
                    "same_tensors": bool(ops),
                },
                fixes=ops,
                fix_note="" if ops else "convert the pickle to safetensors, then delete it",
            )


@implements("WF302")
def git_lfs_pointer(ctx: Context) -> Iterator[Violation]:
    """What it checks:
        Weight files whose content is a git-lfs pointer (text starting
        ``version https://git-lfs.github.com/spec/v1``) instead of weights.

    Why it matters:
        The repository was cloned without ``git lfs``: every loader fails with
        a confusing header error.

    Example:
        ``model.safetensors`` is 134 bytes.

    Fix:
        Run ``git lfs pull`` (or clone with git-lfs installed).

    Fix safety:
        No automatic fix.

    References:
        https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md

    """
    for _, probe in _probes(ctx):
        if probe.state == "lfs-pointer":
            yield Violation(
                "WF302",
                probe.rel,
                f"is a git-lfs pointer ({probe.size} B), not weights",
                fix_note="run `git lfs pull`",
            )


@implements("WF303")
def empty_weight_file(ctx: Context) -> Iterator[Violation]:
    """What it checks:
        Weight files of 0 bytes.

    Why it matters:
        An interrupted upload or copy; the loader fails on it.

    Example:
        ``diffusion_pytorch_model-00002-of-00002.safetensors`` is empty.

    Fix:
        Upload the file again.

    Fix safety:
        No automatic fix.

    References:
        safetensors format: an 8-byte header length comes first.

    """
    for _, probe in _probes(ctx):
        if probe.state == "empty":
            yield Violation("WF303", probe.rel, "is empty (0 bytes)", fix_note="upload it again")


@implements("WF304")
def truncated_weight_file(ctx: Context) -> Iterator[Violation]:
    """What it checks:
        Weight files shorter than their own header says (the data section ends
        early).

    Why it matters:
        An interrupted download or upload: the loader fails, or reads garbage
        past the end with memory mapping.

    Example:
        A 5 GB shard of which 2 GB arrived.

    Fix:
        Download or upload the file again.

    Fix safety:
        No automatic fix.

    References:
        safetensors format (data offsets relative to the byte after the header).

    """
    for _, probe in _probes(ctx):
        if probe.state == "truncated":
            yield Violation(
                "WF304", probe.rel, f"is truncated: {probe.error}", fix_note="fetch it again"
            )


@implements("WF305")
def unreadable_weight_file(ctx: Context) -> Iterator[Violation]:
    """What it checks:
        Weight files whose header does not parse: not the format the name
        says, an invalid header, or a pickle that would run code.

    Why it matters:
        Every loader fails on them, or worse, executes them.

    Example:
        ``model.safetensors`` whose header declares overlapping tensors.

    Fix:
        Replace the file with a valid save.

    Fix safety:
        No automatic fix.

    References:
        ``weightfit inspect FILE`` shows the reader's full diagnosis.

    """
    for _, probe in _probes(ctx):
        if probe.state == "invalid":
            yield Violation(
                "WF305", probe.rel, f"cannot be read: {probe.error}", fix_note="replace it"
            )


@implements("WF306")
def shards_missing(ctx: Context) -> Iterator[Violation]:
    """What it checks:
        Shard series whose names declare more shards than exist
        (``-00001-of-00003`` and ``-00002-of-00003`` but no third), where no
        index already accounts for them.

    Why it matters:
        Part of the weights is gone; loaders fail, or load without them when
        the index was also cut.

    Example:
        ``model-00001-of-00003.safetensors``, ``model-00002-of-00003.safetensors``
        and no index.

    Fix:
        Upload the missing shards.

    Fix safety:
        No automatic fix.

    References:
        huggingface_hub shard naming ``{prefix}-{i:05d}-of-{n:05d}``.

    """
    for folder in ctx.folders:
        for ws in folder.sets:
            if not ws.missing_shards or not ws.files:
                continue
            if ws.index is not None and ctx.index(folder.relpath(ws.index)).error is None:
                named = set(ctx.index(folder.relpath(ws.index)).weight_map.values())
                if not named <= set(ws.files):
                    continue
            numbers = ", ".join(str(i) for i in ws.missing_shards)
            yield Violation(
                "WF306",
                folder.relpath(ws.files[0]),
                f"{ws.label}: shard(s) {numbers} of {ws.shards} are missing",
                evidence={"missing_shards": ws.missing_shards},
                fix_note="upload the missing shards",
            )
