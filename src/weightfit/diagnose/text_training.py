"""Rules of the ``text`` profile over the saves a training run writes, read where they do not fit.

A run saves more than weights, and in pieces: its training state beside the weights (where it
stood, the optimizer's and scheduler's state), one file per rank of a sharded run, and the
non-tensor state some layers keep (Transformer Engine's ``_extra_state``). A weights-only file
given to a resume lacks the state (``resume_state`` → ``extra_state``; Lightning saying so itself,
``weights_only_resume`` → ``missing``); a state dict whose
values include Transformer Engine's ``None`` entries breaks code that treats every value as a
tensor (``te_extra_state`` → ``extra_state``); per-rank pieces that do not join up break the
routine that merges them (``shard_merge`` → ``partitioned``).
"""

from __future__ import annotations

import re

from weightfit.diagnose._context import Context
from weightfit.diagnose._facts import text_facts, whole_text_facts
from weightfit.findings import Finding

RESUME_FRAME = re.compile(r"(?:^|_)(?:resume|training_state|load_optimizer)(?:_|$)", re.I)
"""A function that restores a run to continue training (mmcv's ``BaseRunner.resume``, a
trainer's ``resume_from_checkpoint``, ``load_training_state``): it reads more than weights."""
TRAINING_STATE_KEY = re.compile(
    r"meta|epoch|iter(?:ation)?|(?:global_)?step|optimizer\w*|(?:lr_)?scheduler\w*|"
    r"amp|scaler|best_\w+|trainer_state"
)
"""Entries only a training save holds beside the weights: where the run stood (epoch,
iteration, step, mmcv's ``meta``), the optimizer's and scheduler's state."""


def resume_state(ctx: Context) -> None:
    """Report a weights-only file given to a resume, which reads the training state too.

    The ``KeyError`` names a training-state entry and is raised in the function that resumes
    a run: the file holds the weights (a released or exported model) and none of the state a
    training save keeps beside them. A weights entry (``state_dict``, ``model``) missing there
    is another nesting (``nested``), and the same entry read by an inference loader
    (``init_detector``'s ``checkpoint['meta']``) another release's metadata
    (``missing_metadata``).
    """
    facts = text_facts(ctx)
    if facts is None or not facts.key_errors or facts.key_error_frame is None or ctx.findings:
        return
    key = facts.key_errors[-1]
    function = facts.key_error_frame[1]
    if not TRAINING_STATE_KEY.fullmatch(key) or not RESUME_FRAME.search(function):
        return
    ctx.add(
        Finding(
            category="extra_state",
            severity="error",
            message=(
                f"{function}() read the training-state entry '{key}' and the file has none: "
                "resuming restores where a run stood (epoch, optimizer, scheduler) as well as "
                "the weights, and this file holds only the weights (a released or exported "
                "model, not a training save)"
            ),
            evidence={"entry": key, "function": function},
            confidence=0.45,
            fix_note=(
                "load the file as initial weights (load_from / pretrained) instead of resuming, "
                "or resume from a checkpoint the training run itself saved"
            ),
        )
    )


LIGHTNING_WEIGHTS_ONLY = re.compile(
    r"Trying\s+to\s+restore\s+(?P<state>[\w\s-]{1,40}?)\s+state\s+but\s+(?:the\s+)?checkpoint"
    r"\s+contains\s+only\s+the\s+model",
    re.I,
)
"""Lightning's ``_CheckpointConnector`` refusing a resume from a file ``save_weights_only`` wrote
(``restore_training_state``, ``restore_optimizers_and_schedulers``: "Trying to restore
optimizer state but checkpoint contains only the model")."""


def weights_only_resume(ctx: Context) -> None:
    """Report Lightning refusing to resume a run from a file that holds only the weights.

    Lightning checks for ``optimizer_states`` before restoring a run and names the cause
    itself: the file was saved with ``save_weights_only`` (a released model is often saved
    so, to keep it small). The training state the resume reads is missing from the file;
    the weights themselves load.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings:
        return
    refused = LIGHTNING_WEIGHTS_ONLY.search(facts.text)
    if refused is None:
        return
    state = " ".join(refused.group("state").split())
    ctx.add(
        Finding(
            category="missing",
            severity="error",
            message=(
                f"Lightning was asked to restore the {state} state and the checkpoint holds only "
                "the model: it was saved with save_weights_only (as released models often are), "
                "so the optimizer, scheduler and loop state a resume reads are not in the file"
            ),
            evidence={"state": state, "library": "lightning"},
            confidence=0.45,
            fix_note=(
                "load the file as initial weights (load_from_checkpoint, or the model's "
                "load_state_dict) and start a new run, or resume from a full training save"
            ),
        )
    )


NONE_AS_TENSOR = re.compile(
    r"AttributeError:\s*'NoneType'\s+object\s+has\s+no\s+attribute\s+"
    r"'(to|dtype|shape|size|numel|cpu|cuda|float|half|bfloat16|clone|contiguous|detach|view|"
    r"reshape|data|t|transpose|chunk|split)'"
)
"""A tensor's method or attribute asked of ``None``: a state-dict value that is no tensor."""
TE_CODE = re.compile(r"[\w./\\-]*(?:megatron|transformer_engine|nemo)[\w./\\-]*\.py", re.I)
"""A source file of Megatron-LM, Transformer Engine or NeMo (or a tool built on them, a
``Pai-Megatron-Patch`` converter): code whose state dicts hold Transformer Engine's layers."""


def te_extra_state(ctx: Context) -> None:
    """Report a Megatron or NeMo state dict's ``None`` values treated as tensors.

    Transformer Engine's layers save an ``_extra_state`` entry beside their weights (FP8
    scaling state: ``None`` or a ``BytesIO`` when there is none). Code that walks a Megatron
    state dict and calls a tensor's method on every value (``val.to(dtype)``) fails on the
    first such entry. Only in Megatron, Transformer Engine or NeMo code: a ``None`` met
    elsewhere is any missing value.
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings:
        return
    none = NONE_AS_TENSOR.search(facts.text)
    if none is None or TE_CODE.search(facts.text, 0, none.start()) is None:
        return
    ctx.add(
        Finding(
            category="extra_state",
            severity="error",
            message=(
                f"code of a Megatron/Transformer Engine model asked '{none.group(1)}' of a "
                "state-dict value that is None: Transformer Engine layers save an "
                "'_extra_state' entry (FP8 state, None when unused) beside their weights, "
                "which is no tensor"
            ),
            evidence={"attribute": none.group(1)},
            confidence=0.4,
            fix_note=(
                "skip the '_extra_state' entries (and any value that is not a tensor) when "
                "converting or casting the state dict"
            ),
        )
    )


FRAME_FUNCTION = re.compile(r"\.py\b[^\n]{0,120}?\bin\s+(\w+)")
"""The function of one traceback frame (``File "a/b.py", line 3, in merge_shards``)."""
SHARD_MERGE = re.compile(
    r"(?:merge|consolidat|gather|combin)\w*_(?:state_dicts?|shards?|ranks?|fsdp|zero)\w*|"
    r"(?:fsdp|shards?|ranks?|zero)_\w*(?:merge|consolidat)\w*|zero_to_fp32\w*",
    re.I,
)
"""A routine that joins the pieces each rank of a sharded run saved (verl's
``_load_and_merge_state_dicts``, ``consolidate_shards``, DeepSpeed's ``zero_to_fp32``)."""
TENSOR_OP_ERROR = re.compile(
    r"^\s*(?:\w+\.)*(?:RuntimeError|ValueError|IndexError|AssertionError|KeyError)\b", re.M
)
"""The error the merge raised: a tensor operation, an index or a lookup over the pieces."""


def shard_merge(ctx: Context) -> None:
    """Report a merge of per-rank pieces failing: the pieces are not the ones it joins.

    The traceback runs through a routine that joins what each rank of a sharded (FSDP,
    ZeRO, tensor-parallel) run saved, and fails there on a tensor operation, an index or a
    lookup: the pieces found are not the set the routine expects (a rank missing, another
    world size, a piece saved whole or as a scalar where a slice belongs).
    """
    facts = whole_text_facts(ctx)
    if facts is None or ctx.findings or ctx.missing() or ctx.unexpected() or ctx.mismatches():
        return
    functions = [m.group(1) for m in FRAME_FUNCTION.finditer(facts.text)]
    merging = next((f for f in functions if SHARD_MERGE.search(f)), None)
    if merging is None or TENSOR_OP_ERROR.search(facts.text) is None:
        return
    ctx.add(
        Finding(
            category="partitioned",
            severity="error",
            message=(
                f"the error is raised while {merging}() joins the pieces the ranks of a sharded "
                "run saved: the pieces it found are not the set it joins (a rank missing, "
                "another world size or sharding, a piece saved whole where a slice belongs)"
            ),
            evidence={"function": merging},
            confidence=0.4,
            fix_note=(
                "check that every rank's file is there and was saved by the same run and "
                "sharding the merger expects (world size, FSDP/ZeRO version)"
            ),
        )
    )
