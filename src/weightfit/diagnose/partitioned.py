"""The ``partitioned`` rule: a sharded run saved without gathering its parameters.

DeepSpeed ZeRO-3 keeps each rank's slice of a parameter in the optimizer state
and leaves a size-0 placeholder in the module, so a plain ``state_dict()`` of
the model holds empty tensors; a state dict loaded into a model already partitioned
meets those placeholders on the model's side. FSDP with a sharded or local state dict, and
ZeRO's flat partitions, hold 1-D flat tensors where the model has matrices:
the whole tensor when the element count matches (a reshape restores it), a
``1/k`` slice when the run had ``k`` ranks (the other ranks' files are needed). JAX's
``pmap`` keeps a state replicated along a leading device axis, saved so by mistake.
"""

from __future__ import annotations

import re

from weightfit.alignment import Pair
from weightfit.diagnose._context import Context, shape_text
from weightfit.diagnose._facts import text_facts
from weightfit.findings import Finding
from weightfit.manifest import counted
from weightfit.plan import Op

PARAMETER_LEAF = re.compile(
    r"(?:^|\.)(?:weight|bias|gamma|beta|scale|alpha|lora_\w+|\w*embed\w*|\w*token\w*|\w*param\w*)"
    r"(?:\.\w+)?$"
)
"""Names of trainable parameters, which ZeRO-3 and FSDP partition (buffers they leave whole)."""


_GATHER_NOTE = (
    "gather the full weights first: DeepSpeed writes zero_to_fp32.py into every checkpoint "
    "folder (python zero_to_fp32.py CHECKPOINT_DIR OUTPUT), or save with "
    "stage3_gather_16bit_weights_on_model_save: true; FSDP: save with "
    "StateDictType.FULL_STATE_DICT, or read the torch.distributed.checkpoint folder"
)


def partitioned(ctx: Context) -> None:
    """Report empty and flat tensors where the model expects full ones."""
    empty: list[Pair] = []
    placeholders: list[Pair] = []
    flat_whole: list[Pair] = []
    flat_slice: dict[int, list[Pair]] = {}
    for pair in ctx.mismatches():
        have, want = ctx.src(pair), ctx.tgt(pair)
        # A partitioned parameter's placeholder is torch.Size([0]); a zero among other
        # sizes ([0, 2048]) is a module built with a size of 0 (num_classes=0).
        if have.numel == 0 and want.numel > 0:
            if PARAMETER_LEAF.search(pair.target) and _placeholder(have.shape):
                empty.append(pair)
        elif want.numel == 0 and have.numel > 0:
            if PARAMETER_LEAF.search(pair.target) and _placeholder(want.shape):
                placeholders.append(pair)
        elif len(have.shape) == 1 and _is_matrix(want.shape) and have.numel:
            if have.numel == want.numel:
                flat_whole.append(pair)
            elif want.numel % have.numel == 0 and have.shape[0] not in want.shape:
                # A vector as long as one of the model's axes is another tensor (a bias, a
                # norm's weight) met in its place, not a slice of this one.
                flat_slice.setdefault(want.numel // have.numel, []).append(pair)
    if empty:
        _report_empty(ctx, empty)
    if placeholders:
        _report_placeholders(ctx, placeholders)
    if flat_whole:
        _report_flat(ctx, flat_whole)
    for ranks, pairs in flat_slice.items():
        _report_slices(ctx, ranks, pairs)


MAX_RANKS = 64
"""The most ranks a tensor-parallel slice is read for."""


def parallel_slices(ctx: Context) -> None:
    """Report tensors that are one tensor-parallel rank's slice of the other side's.

    Every pasted mismatch differs on one axis by the same power-of-two factor ``k``, and
    the text runs tensor parallelism (``tp_degree``, ``ShardSpec``): the smaller side holds
    ``1/k`` of each tensor, a rank's piece. A model sharded before the full checkpoint is
    copied in (ColossalAI's ``shardinit``), or one rank's file loaded whole.
    """
    facts = text_facts(ctx)
    pairs = ctx.mismatches()
    if facts is None or not facts.tensor_parallel or not pairs or ctx.findings:
        return
    cuts = {_cut(ctx.src(p).shape, ctx.tgt(p).shape) for p in pairs}
    cut = cuts.pop() if len(cuts) == 1 else None
    if cut is None:
        return
    ranks, model_sliced = cut
    sliced, whole = ("model", "checkpoint") if model_sliced else ("checkpoint", "model")
    first = pairs[0]
    ctx.add(
        Finding(
            category="partitioned",
            severity="error",
            message=(
                f"the {sliced} holds 1/{ranks} of each tensor on one axis, e.g. {first.target} "
                f"{shape_text(ctx.src(first).shape)} in the checkpoint, "
                f"{shape_text(ctx.tgt(first).shape)} in the model, in a run splitting "
                f"parameters across ranks ({facts.tensor_parallel}): one rank's slice of the "
                f"{whole}'s tensors"
            ),
            params=[p.source for p in pairs],
            evidence={"ranks": ranks, "sliced_side": sliced, "said": facts.tensor_parallel},
            confidence=0.6,
            fix_note=(
                "load the full checkpoint before the model is split across ranks (or with "
                "the framework's own sharded loader)"
                if model_sliced
                else "merge the ranks' files into one checkpoint (the framework's merge "
                "script), or load them with the same tensor-parallel size"
            ),
        )
    )
    ctx.consume(pairs=pairs)


JAX_WORDS = re.compile(r"\bflax\b|\bjax\b|\bpmap\b|\borbax\b|ScopeParamShapeError", re.I)
"""Words of a JAX program, where ``pmap`` replicates a state along a leading device axis."""


def replicated_state(ctx: Context) -> None:
    """Report JAX parameters given with one more leading axis than the module builds.

    ``jax.pmap`` keeps a training state replicated, one copy per device along a new leading
    axis; a state saved (or restored) replicated and handed to an unreplicated module has
    ``(k, ...)`` where the module builds ``(...)``: ``k`` devices' copies of each parameter.
    """
    facts = text_facts(ctx)
    pairs = ctx.mismatches()
    if facts is None or not pairs or ctx.findings or not JAX_WORDS.search(facts.text):
        return
    copies = {_replicas(ctx.src(p).shape, ctx.tgt(p).shape) for p in pairs}
    devices = copies.pop() if len(copies) == 1 else None
    if devices is None:
        return
    first = pairs[0]
    ctx.add(
        Finding(
            category="partitioned",
            severity="error",
            message=(
                f"{first.target} is {shape_text(ctx.src(first).shape)} where the module builds "
                f"{shape_text(ctx.tgt(first).shape)}: a leading axis of {devices}, the device "
                "axis of a state jax.pmap keeps replicated (one copy per device), saved or "
                "restored without taking one copy back"
            ),
            params=[p.source for p in pairs],
            evidence={"devices": devices},
            confidence=0.5,
            fix_note=(
                "take one replica before use or save: flax.jax_utils.unreplicate(state) "
                "(or jax.tree_util.tree_map(lambda x: x[0], state))"
            ),
        )
    )
    ctx.consume(pairs=pairs)


def _replicas(have: tuple[int, ...], want: tuple[int, ...]) -> int | None:
    """The leading axis ``have`` holds beyond ``want``, if the rest is ``want`` whole."""
    return have[0] if len(have) == len(want) + 1 and have[1:] == want else None


def _cut(have: tuple[int, ...], want: tuple[int, ...]) -> tuple[int, bool] | None:
    """``(k, model is the slice)`` when two shapes differ on one axis by a power of two."""
    if len(have) != len(want):
        return None
    axes = [(a, b) for a, b in zip(have, want, strict=True) if a != b]
    if len(axes) != 1 or 0 in axes[0]:
        return None
    a, b = axes[0]
    small, large = sorted((a, b))
    ranks = large // small
    if large % small or ranks > MAX_RANKS or ranks & (ranks - 1):
        return None
    return ranks, b < a


def _is_matrix(shape: tuple[int, ...]) -> bool:
    """Whether two or more axes are longer than 1 (a 1-D tensor plus singleton axes is not)."""
    return sum(size > 1 for size in shape) >= 2


def _placeholder(shape: tuple[int, ...]) -> bool:
    """Whether an empty shape is a partitioned parameter's placeholder: no size but zeros."""
    return not any(shape)


def _report_empty(ctx: Context, pairs: list[Pair]) -> None:
    share = len(pairs) / max(len(ctx.alignment.pairs), 1)
    first = pairs[0]
    ctx.add(
        Finding(
            category="partitioned",
            severity="error",
            message=(
                f"{counted(len(pairs), 'tensor')} {'is' if len(pairs) == 1 else 'are'} "
                "empty (size 0) "
                f"in the checkpoint, e.g. {first.target} "
                f"{shape_text(ctx.src(first).shape)} where the model has "
                f"{shape_text(ctx.tgt(first).shape)}: saved from a DeepSpeed ZeRO-3 run without "
                f"gathering (the values live in the per-rank optimizer shards)"
            ),
            params=[p.source for p in pairs],
            evidence={
                "empty_tensors": len(pairs),
                "share_of_matched": round(share, 3),
                "example": {"name": first.target, "model": list(ctx.tgt(first).shape)},
            },
            confidence=0.95 if share > 0.5 else 0.8,
            fix_note=_GATHER_NOTE,
        )
    )
    ctx.consume(pairs=pairs)


def _report_placeholders(ctx: Context, pairs: list[Pair]) -> None:
    first = pairs[0]
    ctx.add(
        Finding(
            category="partitioned",
            severity="error",
            message=(
                f"{counted(len(pairs), 'tensor')} {'is' if len(pairs) == 1 else 'are'} "
                "empty (size 0) "
                f"in the model, e.g. {first.target} "
                f"{shape_text(ctx.tgt(first).shape)} where the checkpoint has "
                f"{shape_text(ctx.src(first).shape)}: the model's parameters were already "
                "partitioned by DeepSpeed ZeRO-3 (or FSDP) when the state dict was loaded, so "
                "each rank holds an empty placeholder"
            ),
            params=[p.source for p in pairs],
            evidence={"empty_in_model": len(pairs), "side": "model", "example": first.target},
            confidence=0.85,
            fix_note=(
                "load the weights before deepspeed.initialize / outside zero.Init, or inside "
                "deepspeed.zero.GatheredParameters(model.parameters(), modifier_rank=0); "
                "from_pretrained does this itself under a ZeRO-3 config"
            ),
        )
    )
    ctx.consume(pairs=pairs)


def _report_flat(ctx: Context, pairs: list[Pair]) -> None:
    first = pairs[0]
    ctx.add(
        Finding(
            category="partitioned",
            severity="error",
            message=(
                f"{counted(len(pairs), 'tensor')} {'is' if len(pairs) == 1 else 'are'} stored flat "
                "(1-D) with the model's element count, "
                "e.g. "
                f"{first.target} {shape_text(ctx.src(first).shape)} → "
                f"{shape_text(ctx.tgt(first).shape)}: a flattened (FSDP / ZeRO) save of whole "
                "tensors; reshaping restores them"
            ),
            params=[p.source for p in pairs],
            evidence={"flat_tensors": len(pairs), "example": first.target},
            confidence=0.8,
            fix=[
                Op(
                    "reshape",
                    {"name": p.target, "shape": list(ctx.tgt(p).shape)},
                    "partitioned: flat save of a whole tensor",
                )
                for p in pairs
            ],
            fix_note="row-major order is assumed, as torch's flatten writes it",
        )
    )
    ctx.consume(pairs=pairs)


def _report_slices(ctx: Context, ranks: int, pairs: list[Pair]) -> None:
    first = pairs[0]
    ctx.add(
        Finding(
            category="partitioned",
            severity="error",
            message=(
                f"{counted(len(pairs), 'tensor')} {'holds' if len(pairs) == 1 else 'hold'} "
                f"1/{ranks} "
                "of the model's elements as flat 1-D "
                f"slices, e.g. {first.target} {shape_text(ctx.src(first).shape)} for "
                f"{shape_text(ctx.tgt(first).shape)}: one rank's shard of a {ranks}-way "
                "sharded save"
            ),
            params=[p.source for p in pairs],
            evidence={"ranks": ranks, "sliced_tensors": len(pairs), "example": first.target},
            confidence=0.75,
            fix_note=_GATHER_NOTE,
        )
    )
    ctx.consume(pairs=pairs)


def flat_params(ctx: Context) -> None:
    """Report FSDP ``FlatParameter``s, and the missing tensors each one holds.

    It runs before ``unrelated``: a handful of flat vectors shares no name or shape with the
    model, yet it is the model's own weights, concatenated by FSDP.
    """
    names = [n for n in ctx.unexpected() if n.rsplit(".", 1)[-1] in ("flat_param", "_flat_param")]
    if names:
        _report_flat_params(ctx, names)


def _report_flat_params(ctx: Context, names: list[str]) -> None:
    held = _held_by_flat_params(ctx, names)
    inside = [name for group in held.values() for name in group]
    evidence: dict[str, object] = {"flat_params": names[:8], "holds": len(inside)}
    share = ""
    flat = sum(ctx.alignment.source.tensors[n].numel for n in names)
    specs = [ctx.alignment.target.tensors[n] for n in inside]
    if inside and all(spec.shape_known for spec in specs):
        whole = sum(spec.numel for spec in specs)
        evidence.update(flat_elements=flat, model_elements=whole)
        if 0 < flat < whole:
            ranks = round(whole / flat)
            evidence["ranks"] = ranks
            share = f", {flat} of their {whole} elements: about 1/{ranks}, one rank's shard"
    held_text = (
        f"; they hold the {counted(len(inside), 'model tensor')} reported missing "
        f"({inside[0]} …{share})"
        if inside
        else ""
    )
    ctx.add(
        Finding(
            category="partitioned",
            severity="error",
            message=(
                f"{len(names)} FSDP FlatParameter(s) ({names[0]}) hold whole modules' weights "
                f"concatenated: saved with FSDP's local or sharded state dict{held_text}"
            ),
            params=names + inside,
            evidence=evidence,
            confidence=0.9,
            fix_note=_GATHER_NOTE,
        )
    )
    ctx.consume(unexpected=names, missing=inside)


_FSDP_WRAPPERS = re.compile(r"(?:^|\.)(?:_fsdp_wrapped_module|_fpw_module)(?=\.|$)")
"""The module names FSDP (and fairscale's FlattenParamsWrapper) insert above a wrapped module."""


def _held_by_flat_params(ctx: Context, names: list[str]) -> dict[str, list[str]]:
    """The missing model tensors each FlatParameter holds: those under its FSDP unit.

    A unit's ``FlatParameter`` concatenates the parameters of the module it wraps, minus
    the nested units' own; a missing name belongs to the innermost unit above it.
    """
    owners = {name: _FSDP_WRAPPERS.sub("", name.rsplit(".", 1)[0]).strip(".") for name in names}
    held: dict[str, list[str]] = {name: [] for name in owners}
    for missing in ctx.missing():
        under = [n for n, o in owners.items() if not o or missing.startswith(o + ".")]
        if under:
            held[max(under, key=lambda n: len(owners[n]))].append(missing)
    return held


LONE_SHARD = "lone_shard"
"""The checkpoint ``extras`` key (:data:`weightfit.formats.safetensors_index.LONE_SHARD`)."""


def lone_shard(ctx: Context) -> None:
    """Report a checkpoint that is one shard of a sharded save, read alone.

    The other shards hold the missing tensors: no layer count, shared module or rename
    explains their absence. With the index beside the file, exactly the tensors it
    places elsewhere are explained; without it, the file name's ``-00002-of-00006``
    explains every missing tensor.
    """
    hint = ctx.source.extras.get(LONE_SHARD)
    missing = ctx.missing()
    if not isinstance(hint, dict) or not missing:
        return
    elsewhere = hint.get("elsewhere")
    if elsewhere is None:
        found = missing
    else:
        others = set(elsewhere) | {ctx.renamed(name) for name in elsewhere}
        found = [name for name in missing if name in others]
    if not found:
        return
    index = hint.get("index")
    where = f"the other shards (named in {index})" if index else "the other shards"
    ctx.add(
        Finding(
            category="missing",
            severity="error",
            message=(
                f"the checkpoint is shard {hint.get('shard')} of {hint.get('of')} of a sharded "
                f"save, read alone: {len(found)} tensor(s) are in {where}"
            ),
            params=found,
            evidence={key: hint.get(key) for key in ("shard", "of", "index")},
            confidence=0.95 if index else 0.8,
            fix_note=(
                "check the folder (or its index) instead of one shard: "
                + ("the index lists every shard" if index else "its index was not beside it")
            ),
        )
    )
    ctx.consume(missing=found)
