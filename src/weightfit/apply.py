"""Apply a plan: stream a checkpoint, tensor by tensor, into new safetensors files.

The only step of weightfit that touches tensor bytes. Tensors whose bytes a
plan leaves unchanged (renamed, dropped around, reshaped, unsqueezed) are copied
file to file inside the kernel; the others are read one at a time, transformed
and written, then released. Memory stays near the largest tensor the plan
changes, never the checkpoint's size.

The output appears atomically or not at all: everything is written into a
hidden folder beside ``out`` on the same filesystem, flushed to disk, re-read
and verified, then renamed into place. Sources are only opened read-only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from weightfit import destination, ops, provenance
from weightfit.errors import (
    OutputError,
    UsageError,
    VerificationFailed,
)
from weightfit.manifest import Manifest
from weightfit.ops.recipes import Outcome
from weightfit.ops.value_ops import dtype_named
from weightfit.peft.config import MAX_CONFIG_BYTES
from weightfit.plan import Op, Plan
from weightfit.source_identity import require_same
from weightfit.strict_fit import differences, tied_copies
from weightfit.tensor_io import (
    Entry,
    SafetensorsWriter,
    Sources,
    fsync_dir,
    order_for_alignment,
    source_path,
    tensor_bytes,
    writing,
)

DEFAULT_SHARD_SIZE = 5 * 10**9
"""Largest shard, as transformers' ``save_pretrained`` default ``max_shard_size="5GB"``."""

PLAN_FILE = "weightfit-plan.yaml"
"""The plan applied, written beside the weights it made."""

INDEX_SUFFIX = ".safetensors.index.json"

CONFIG_FILE = "config.json"
"""A transformers model's or diffusers component's config, published with the weights."""

_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([kKMGT]i?B|B)?\s*$")
_UNITS = {
    None: 1,
    "B": 1,
    "kB": 10**3,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KiB": 2**10,
    "MiB": 2**20,
    "GiB": 2**30,
    "TiB": 2**40,
}

ProgressFn = Callable[[int, int, int, int], None]
"""Called after each tensor with (tensors written, tensors in all, bytes written, bytes in all)."""


@dataclass(frozen=True)
class WriteOptions:
    """How a checkpoint is written, beside :class:`~weightfit.formats.ReadOptions`.

    How, not what: a ``dtype`` cast changes the tensors, so it is an op of the
    plan (:func:`with_cast`), not an option of the writer.

    Attributes:
        shard_size: Largest shard (``"5GB"``, or bytes); a single file when everything fits.
        overwrite: Replace an existing output folder.
        hash_sources: Record the SHA-256 of every source file read in the stamp
            (reads them once more, in a background thread).
        basename: File name stem: ``model`` gives ``model.safetensors`` or
            ``model-00001-of-00002.safetensors`` + ``model.safetensors.index.json``.
        progress: Called after each tensor (see :data:`ProgressFn`).

    """

    shard_size: int | str = DEFAULT_SHARD_SIZE
    overwrite: bool = False
    hash_sources: bool = True
    basename: str = "model"
    progress: ProgressFn | None = None


def chosen(options: WriteOptions | None, keywords: WriteOptions) -> WriteOptions:
    """The options to write with: ``options`` when given, else those spelled as keywords.

    Raises:
        UsageError: both were given.

    """
    if options is None:
        return keywords
    if keywords != WriteOptions():
        raise UsageError("give the writer options as options= or as keywords, not both")
    return options


@dataclass
class ApplyResult:
    """What :func:`apply` wrote.

    Attributes:
        out: The output folder.
        files: Files written in it (shards, index, plan), by name.
        manifest: The output as :func:`weightfit.read` reads it back.
        plan: The plan applied (with the ``dtype`` cast, when one was asked).
        reinitialised: Tensors left to the model's initialisation (parameters to train).
        left_out: Source tensors the output does not use.
        tensors: Tensors written.
        bytes: Tensor bytes written.
        seconds: Wall time.
        stamp: The provenance ``__metadata__`` written into every shard.
        verified_against: The target the output was checked against, if any.
        verified_model: Whether that target is a model (built from code or a config:
            a strict load is what was checked) rather than a checkpoint (its tensor
            names and shapes were matched, whatever the model that loads them).
        tied: Target tensors not written because the model ties each to the one
            named (``lm_head.weight`` → the embedding, as transformers saves them):
            ``from_pretrained`` ties them; a plain ``load_state_dict(strict=True)``
            reports them missing.

    """

    out: Path
    files: list[str]
    manifest: Manifest
    plan: Plan
    reinitialised: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    tensors: int = 0
    bytes: int = 0
    seconds: float = 0.0
    stamp: dict[str, str] = field(default_factory=dict)
    verified_against: str | None = None
    verified_model: bool = False
    tied: dict[str, str] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        """Bytes written per second."""
        return self.bytes / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "out": str(self.out),
            "files": self.files,
            "tensors": self.tensors,
            "bytes": self.bytes,
            "seconds": round(self.seconds, 3),
            "reinitialised": self.reinitialised,
            "left_out": self.left_out,
            "verified_against": self.verified_against,
            "verified_model": self.verified_model,
            "tied": self.tied,
            "stamp": self.stamp,
            "plan": self.plan.to_dict(),
        }

    def __repr__(self) -> str:
        return f"<ApplyResult {self.tensors} tensors, {len(self.files)} files → {self.out}>"


def parse_size(text: str | int) -> int:
    """Bytes from ``5GB``, ``500MB``, ``2GiB`` or a plain integer.

    Raises:
        UsageError: not a size.

    """
    if isinstance(text, int):
        size = text
    else:
        match = _SIZE.match(text)
        if not match or match[2] not in _UNITS:
            raise UsageError(f"not a size: {text!r} (expected e.g. 5GB, 500MB, 2GiB)")
        size = int(float(match[1]) * _UNITS[match[2]])
    if size <= 0:
        raise UsageError(f"size must be positive, not {text!r}")
    return size


def apply(
    plan: Plan | str | Path,
    checkpoint: str | Path | Manifest,
    out: str | Path,
    *,
    shard_size: int | str = DEFAULT_SHARD_SIZE,
    dtype: str | None = None,
    target: object = None,
    overwrite: bool = False,
    hash_sources: bool = True,
    basename: str = "model",
    progress: ProgressFn | None = None,
    key: str | None = None,
    variant: str | None = None,
    options: WriteOptions | None = None,
    allow_other_source: bool = False,
) -> ApplyResult:
    """Apply ``plan`` to ``checkpoint``, writing sharded safetensors into ``out``.

    Args:
        plan: A :class:`~weightfit.plan.Plan` or the path of a plan file.
        checkpoint: A checkpoint path (anything :func:`weightfit.read` takes) or
            its manifest.
        out: The output folder; it must not exist unless ``overwrite``.
        shard_size: Largest shard (``"5GB"``); a single file when everything fits.
        dtype: Cast every floating-point tensor to this dtype at the end (``"bf16"``).
        target: What the output must match (anything ``weightfit.targets.resolve``
            takes); checked on the plan before writing and on the files after.
        overwrite: Replace an existing ``out``.
        hash_sources: Record the sources' SHA-256 in the stamp (reads them once
            more, in a background thread).
        basename: File name stem: ``model`` gives ``model.safetensors`` or
            ``model-00001-of-00002.safetensors`` + ``model.safetensors.index.json``.
        progress: Called after each tensor with (tensors written, tensors in all,
            bytes written, bytes in all).
        key: Which state dict to use inside the checkpoint (as when the plan was made).
        variant: Precision variant of folder weights.
        options: ``shard_size``, ``overwrite``, ``hash_sources``, ``basename`` and
            ``progress`` as one :class:`WriteOptions`, instead of as keywords.
        allow_other_source: Apply the plan even to a checkpoint other than the one
            its ``source_files`` record (same names, another file).

    Returns:
        An :class:`ApplyResult`.

    Raises:
        UsageError: writer options given both as ``options`` and as keywords, or the
            checkpoint was read from a URL or is a torch.distributed.checkpoint folder.
        InvalidPlan: the plan does not fit the checkpoint (or a cast overflows).
        SourceMismatch: the plan records another source than ``checkpoint`` (an
            :class:`InvalidPlan`; ``allow_other_source`` lets it through).
        DestinationExists: ``out`` exists and ``overwrite`` is false.
        DestinationNotWritable: ``out``'s folder cannot be written.
        DiskFull: the disk filled up, or has less room than the output; nothing is left behind.
        TensorTooLarge: a tensor the plan computes needs more memory than the machine has.
        VerificationFailed: the output does not match ``target`` (or the plan).
        InputError: the checkpoint or target cannot be read.

    Example:
        >>> plan = Plan([Op("unsqueeze", {"name": "x_embedder.proj.weight", "dim": 2})])
        >>> apply(plan, "DiT-XL-2-256x256.pt", "dit3d/")  # doctest: +SKIP
        <ApplyResult 292 tensors, 2 files → dit3d>

    """
    started = time.monotonic()
    options = chosen(options, WriteOptions(shard_size, overwrite, hash_sources, basename, progress))
    plan = plan if isinstance(plan, Plan) else Plan.load(plan)
    if dtype is not None:
        plan = with_cast(plan, dtype)
    source = (
        checkpoint
        if isinstance(checkpoint, Manifest)
        else _read(checkpoint, key=key, variant=variant)
    )
    destination.refuse_remote(source)
    destination.refuse_chunked(source)
    if not allow_other_source:
        require_same(plan.source_files, source)
    expected = _resolve(target) if target is not None else None
    return write_outcome(
        ops.run(plan, source),
        out,
        plan=plan,
        options=named_for(expected or source, options),
        target=expected,
        started=started,
        extra_files=target_config(expected),
    )


def named_for(model: Manifest, options: WriteOptions) -> WriteOptions:
    """Name the files as ``model``'s library loads them, unless ``options`` names them.

    diffusers' ``from_pretrained`` reads only ``diffusion_pytorch_model.*``: the
    output is named so for a diffusers target (or, with none, a diffusers source).
    """
    if options.basename != WriteOptions().basename:
        return options
    from weightfit.formats.folder import weights_basename

    return replace(options, basename=weights_basename(model.format))


def target_config(target: Manifest | None) -> dict[str, bytes]:
    """The target's ``config.json``, to publish beside weights made to fit it.

    A target read from a config file, or from a folder holding one (a transformers
    model, a diffusers component), is what ``from_pretrained(OUT)`` must build: the
    output carries it. Other targets (a checkpoint, a factory, the Hub) give none.
    """
    if target is None:
        return {}
    path = Path(target.source)
    file = path if path.name == CONFIG_FILE else path / CONFIG_FILE
    if not file.is_file() or file.stat().st_size > MAX_CONFIG_BYTES:
        return {}
    return {CONFIG_FILE: file.read_bytes()}


def write_outcome(
    outcome: Outcome,
    out: str | Path,
    *,
    plan: Plan,
    options: WriteOptions | None = None,
    target: object = None,
    stamp: Mapping[str, str] | None = None,
    started: float | None = None,
    extra_files: Mapping[str, bytes] | None = None,
) -> ApplyResult:
    """Write an outcome's recipes into ``out``: atomic, sharded, stamped and verified.

    The engine behind :func:`apply`, for callers that build recipes themselves
    (an adapter merge makes each base weight from the base, ``A`` and ``B``
    tensors with a :class:`~weightfit.ops.recipes.Recipe` of its own).

    Args:
        outcome: The tensors to write (``ops.run`` of a plan, possibly edited).
        out: The output folder.
        plan: The plan recorded in ``out/weightfit-plan.yaml`` and the stamp.
        options: How to write (shard size, overwrite, hashing, file names, progress);
            the defaults when ``None``.
        target: What the output must match (checked before and after writing).
        stamp: Extra ``__metadata__`` entries (string values) beside the provenance.
        started: ``time.monotonic()`` when the caller's work began, for ``seconds``.
        extra_files: Small files (name to content) published with the weights, such
            as a merged model's ``config.json``.

    Returns:
        An :class:`ApplyResult`.

    Raises:
        DestinationExists: ``out`` exists and ``overwrite`` is false.
        DestinationNotWritable: ``out``'s folder cannot be written.
        DiskFull: the disk filled up, or has less room than the output; nothing is left behind.
        TensorTooLarge: a tensor to compute needs more memory than the machine has.
        VerificationFailed: the output does not match ``target`` (or the recipes).

    """
    started = time.monotonic() if started is None else started
    options = WriteOptions() if options is None else options
    expected = outcome.manifest()
    target_manifest = _resolve(target) if target is not None else None
    if target_manifest is not None:
        problems = differences(expected, target_manifest, outcome.reinit)
        if problems:
            raise VerificationFailed(
                f"the plan's output would not match {target_manifest.source}: {problems}"
            )
    out = Path(out)
    base = _base_of(outcome.source)
    read = _files_read(outcome, base)
    destination.check_destination(out, read, options.overwrite)
    metadata = {**(stamp or {}), **provenance.stamp(plan, target_manifest, outcome.reinit)}
    temp = destination.make_temp(out)
    try:
        destination.check_output_room(out, outcome)
        with Sources(base) as sources:
            files, written = _write(
                temp,
                outcome,
                sources,
                metadata,
                read,
                options,
            )
        plan.dump(temp / PLAN_FILE)
        files.append(PLAN_FILE)
        for name, content in (extra_files or {}).items():
            with writing(temp / name):
                (temp / name).write_bytes(content)
            files.append(name)
        fsync_dir(temp)
        manifest = _verify(temp, files, expected)
        destination.publish(temp, out, options.overwrite)
    except OutputError as error:
        shutil.rmtree(temp, ignore_errors=True)
        # The hidden folder is gone: name the output the caller asked for.
        error.path = str(out)
        error.args = (error.message,)
        raise
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    manifest.source = str(out)
    return ApplyResult(
        out=out,
        files=files,
        manifest=manifest,
        plan=plan,
        reinitialised=outcome.reinit,
        left_out=outcome.left_out,
        tensors=len(outcome.recipes),
        bytes=written,
        seconds=time.monotonic() - started,
        stamp=provenance.stamped(manifest) or metadata,
        verified_against=target_manifest.source if target_manifest is not None else None,
        verified_model=target_manifest is not None and "target_class" in target_manifest.extras,
        tied=tied_copies(manifest, target_manifest) if target_manifest is not None else {},
    )


def with_cast(plan: Plan, dtype: str) -> Plan:
    """``plan`` with a final cast of every floating-point tensor to ``dtype``.

    Raises:
        UsageError: ``dtype`` is not a known floating-point dtype.

    """
    known = dtype_named(dtype)
    if known is None or not known.is_float:
        raise UsageError(f"unknown floating-point dtype {dtype!r} (try bf16, fp16, fp32)")
    cast = Op("cast", {"to": known.name}, reason=f"--dtype {dtype}")
    return replace(plan, ops=[*plan.ops, cast])


def _read(path: str | Path, *, key: str | None, variant: str | None) -> Manifest:
    from weightfit.formats import read

    return read(path, key=key, variant=variant)


def _resolve(target: object) -> Manifest:
    if isinstance(target, Manifest):
        return target
    from weightfit.targets import resolve

    return resolve(target)


def _base_of(source: Manifest) -> Path | None:
    """Return the folder that relative byte-range file names start from."""
    path = Path(source.source)
    return path if path.is_dir() else path.parent


def _files_read(outcome: Outcome, base: Path | None) -> list[Path]:
    """Every distinct file the output's tensors are made from, in order."""
    files: dict[Path, None] = {}
    for recipe in outcome.recipes.values():
        for leaf in recipe.leaves():
            if leaf.location is not None:
                files.setdefault(source_path(leaf.location.file, base))
    return list(files)


def _write(
    temp: Path,
    outcome: Outcome,
    sources: Sources,
    stamp: dict[str, str],
    read: list[Path],
    options: WriteOptions,
) -> tuple[list[str], int]:
    """Write every shard (and the index when there are several); returns names and bytes."""
    shard_size = parse_size(options.shard_size)
    basename, hash_sources, progress = options.basename, options.hash_sources, options.progress
    entries = order_for_alignment(
        [
            Entry(r.spec.name, r.spec.dtype, r.spec.shape, r.spec.nbytes or 0)
            for r in outcome.recipes.values()
        ]
    )
    shards = _shards(entries, shard_size)
    names = (
        [f"{basename}.safetensors"]
        if len(shards) == 1
        else [
            f"{basename}-{i:05d}-of-{len(shards):05d}.safetensors"
            for i in range(1, len(shards) + 1)
        ]
    )
    placeholders: dict[Path, bytes] = {}
    if hash_sources:
        placeholders = {path: f"{'#' * 56}{i:08d}".encode() for i, path in enumerate(read)}
    listing = [
        {"file": path.name, "sha256": placeholders[path].decode() if hash_sources else None}
        for path in read
    ]
    stamp[provenance.SOURCES] = json.dumps(listing)
    hasher = provenance.SourceHasher(list(placeholders))
    hasher.start()
    writers: list[SafetensorsWriter] = []
    done = written = 0
    total = sum(entry.nbytes for entry in entries)
    try:
        for name, shard in zip(names, shards, strict=True):
            writer = SafetensorsWriter(temp / name, shard, stamp)
            writers.append(writer)
            for entry in shard:
                recipe = outcome.recipes[entry.name]
                if recipe.copyable:
                    assert recipe.source is not None
                    writer.copy(entry.name, sources, recipe.source)
                else:
                    value = recipe.evaluate(sources.read_tensor)
                    writer.write(entry.name, tensor_bytes(value))
                    del value
                done += 1
                written += entry.nbytes
                if progress is not None:
                    progress(done, len(entries), written, total)
        digests = hasher.result()
        for writer in writers:
            for path, holder in placeholders.items():
                writer.patch(holder, digests[path].encode())
            writer.close()
    finally:
        hasher.stop()
        for writer in writers:
            writer.abandon()
    if len(shards) > 1:
        _write_index(temp, basename, names, shards, stamp, placeholders, hasher)
        names.append(f"{basename}{INDEX_SUFFIX}")
    return names, written


def _shards(entries: list[Entry], shard_size: int) -> list[list[Entry]]:
    """Greedy, in order: a new shard when the next tensor would overflow this one."""
    shards: list[list[Entry]] = [[]]
    size = 0
    for entry in entries:
        if shards[-1] and size + entry.nbytes > shard_size:
            shards.append([])
            size = 0
        shards[-1].append(entry)
        size += entry.nbytes
    return shards


def _write_index(
    temp: Path,
    basename: str,
    names: list[str],
    shards: list[list[Entry]],
    stamp: dict[str, str],
    placeholders: Mapping[Path, bytes],
    hasher: provenance.SourceHasher,
) -> None:
    """``<basename>.safetensors.index.json`` as transformers writes it, plus the stamp."""
    text = json.dumps(stamp)
    for path, holder in placeholders.items():
        text = text.replace(holder.decode(), hasher.digests[path])
    index = {
        "metadata": {
            "total_size": sum(e.nbytes for shard in shards for e in shard),
            **json.loads(text),
        },
        "weight_map": {
            e.name: name for name, shard in zip(names, shards, strict=True) for e in shard
        },
    }
    path = temp / f"{basename}{INDEX_SUFFIX}"
    with writing(path), path.open("x", encoding="utf-8") as handle:
        json.dump(index, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())


def _verify(temp: Path, files: list[str], expected: Manifest) -> Manifest:
    """Re-read what was written; it must be exactly the predicted manifest."""
    from weightfit.formats import read

    index = [name for name in files if name.endswith(INDEX_SUFFIX)]
    manifest = read(temp / (index[0] if index else files[0]))
    have = {name: (spec.shape, spec.dtype) for name, spec in manifest.tensors.items()}
    want = {name: (spec.shape, spec.dtype) for name, spec in expected.tensors.items()}
    if have != want:
        wrong = sorted(set(have.items()) ^ set(want.items()))[:3]
        raise VerificationFailed(f"written tensors differ from the plan's: {wrong}", path=temp)
    return manifest
