"""``write_adapter``: a plan applied to a PEFT adapter's own tensors, written as an adapter folder.

What ``weightfit fix`` writes for an adapter: its repairs (renames such as an
older model layout's, see :mod:`weightfit.diagnose.peft_layout`) change the
adapter, not the base, so the output is again a folder PEFT reads, with
``adapter_model.safetensors`` (one file: PEFT reads no shards) beside the
adapter's ``adapter_config.json`` (for a LoRA file that has none, the config it
was read with), README and tokenizer files, through the same
atomic, stamped and verified writer as every output (:func:`weightfit.apply.write_outcome`).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from weightfit import ops
from weightfit.adapters.side_files import COPIED_FILES, MAX_COPIED_BYTES
from weightfit.apply import ApplyResult, WriteOptions, with_cast, write_outcome
from weightfit.errors import UsageError
from weightfit.manifest import Manifest
from weightfit.peft.config import CONFIG_NAME, INFERRED_BY
from weightfit.plan import Plan

BASENAME = "adapter_model"
"""PEFT's ``SAFETENSORS_WEIGHTS_NAME`` without its suffix."""

ADAPTER_FILES = (CONFIG_NAME, "README.md", *COPIED_FILES)
"""Files of the adapter folder written beside the rewritten tensors."""

ONE_FILE = 1 << 62
"""A shard size no adapter reaches: PEFT loads ``adapter_model.safetensors`` alone."""


def write_adapter(
    plan: Plan, adapter: Manifest, out: str | Path, *, options: WriteOptions, dtype: str | None
) -> ApplyResult:
    """Apply ``plan`` to an adapter folder's tensors and write the result as an adapter folder.

    Args:
        plan: Operations on the adapter's tensor names (as the adapter check's findings give).
        adapter: The adapter folder's manifest (:func:`weightfit.read` of a local folder).
        out: The output folder.
        options: How to write; the file name and a single file are the adapter's.
        dtype: Cast floating-point tensors to this dtype.

    Raises:
        UsageError: the adapter has no local tensor bytes (read from the Hub).
        InvalidPlan: the plan does not fit the adapter.
        OutputError: ``out`` cannot be written (see :func:`weightfit.apply.apply`).

    """
    if any(spec.location is None for spec in adapter.tensors.values()):
        raise UsageError("the adapter must be a local folder with its tensor bytes")
    if dtype is not None:
        plan = with_cast(plan, dtype)
    folder = Path(adapter.source)
    files = {
        name: (folder / name).read_bytes()
        for name in ADAPTER_FILES
        if (folder / name).is_file() and (folder / name).stat().st_size <= MAX_COPIED_BYTES
    }
    if CONFIG_NAME not in files and isinstance(adapter.config, dict):
        # A LoRA file without a config (diffusers', kohya's): the config it was read with.
        config = {k: v for k, v in adapter.config.items() if k != INFERRED_BY}
        files[CONFIG_NAME] = (json.dumps(config, indent=2, sort_keys=True) + "\n").encode()
    return write_outcome(
        ops.run(plan, adapter),
        out,
        plan=plan,
        options=replace(options, basename=BASENAME, shard_size=ONE_FILE),
        extra_files=files,
    )
