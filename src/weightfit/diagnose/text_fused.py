"""Fused and split projections read from a text's names alone.

``experts.gate_up_proj`` missing where ``gate_proj``/``up_proj`` are unexpected (or the
reverse); only fused tensors on one side (``attn_qkv`` not found); only the parts of one
fused group on one side, layer after layer (``q_proj``/``k_proj``/``v_proj`` missing);
only grouped experts (``experts.down_proj``) or only one expert's tensors
(``experts.7.down_proj.weight``) on one side, the two layouts of mixture-of-experts weights;
a recurrent cell's one kernel against its input and recurrent matrices kept apart.
"""

from __future__ import annotations

import re

from weightfit.diagnose._context import Context
from weightfit.findings import Finding
from weightfit.manifest import counted


def fused_names(ctx: Context) -> None:
    """Report a fused tensor missing where its parts are unexpected, or the reverse, by name.

    ``experts.gate_up_proj`` against ``experts.0.gate_proj`` / ``experts.0.up_proj``:
    the fused word joins the parts' first words (``gate_up``, ``qkv``), under the same
    parent once layer and expert indices are dropped.
    """
    if not ctx.partial:
        return
    missing, unexpected = ctx.missing(), ctx.unexpected()
    cut = bool(ctx.facts.get("truncated"))
    for fused_side, parts_side in ((missing, unexpected), (unexpected, missing)):
        explained_fused, explained_parts = [], []
        one_part = False
        for fused in fused_side:
            parent, word = _parent_and_word(fused)
            word = word.removesuffix("_proj")  # o_proj's "o" is in every "proj"
            parts = [p for p in parts_side if _parent_and_word(p)[0] == parent]
            heads = sorted(
                {h for p in parts if (h := _head(_parent_and_word(p)[1])) and h in word},
                key=word.find,
            )
            # Lists cut short may show one part of a fused word's group (``to_q`` beside
            # ``qkv``, its ``to_k``, ``to_v`` left out): its first part is enough.
            first_of_cut = cut and heads[:1] == [FUSED_WORDS.get(word, "")]
            if len(heads) < 2 and not first_of_cut:
                continue
            if first_of_cut:
                one_part = True
                explained_fused.append(fused)
                explained_parts += [p for p in parts if _head(_parent_and_word(p)[1]) in heads]
                continue
            if "_".join(heads) not in word and "".join(heads) not in word:
                continue
            explained_fused.append(fused)
            explained_parts += [p for p in parts if _head(_parent_and_word(p)[1]) in heads]
        if not explained_fused:
            continue
        fused_in = "model" if fused_side is missing else "checkpoint"
        ctx.add(
            Finding(
                category="fused_split",
                severity="error",
                message=(
                    f"the {fused_in} holds fused tensors ({explained_fused[0]}) where the other "
                    f"side holds their parts ({', '.join(sorted(set(explained_parts))[:3])})"
                ),
                params=[*explained_fused, *dict.fromkeys(explained_parts)],
                evidence={"fused": explained_fused[:8], "parts": explained_parts[:8]},
                confidence=0.6 if one_part else 0.8,
                fix_note=(
                    "the loader that knows this layout fuses or splits them on load (a "
                    "transformers / vLLM version with the model's conversion mapping); "
                    "weightfit check CKPT --against TARGET plans the concatenation"
                ),
            )
        )
        ctx.consume(
            missing=[*explained_fused, *explained_parts],
            unexpected=[*explained_fused, *explained_parts],
        )
        return
    _one_sided_fused(ctx)


REPARAMETERIZED = re.compile(r"^(?:\w*_)?reparam(?:_\w+)?$")
"""The module word of a block's one inference-time convolution (RepVGG's ``rbr_reparam``,
MobileOne's ``reparam_conv``): its training-time branches folded into one kernel."""


def reparameterized(ctx: Context) -> None:
    """Report a block's folded convolution on one side, its training branches on the other.

    Re-parameterizable networks (RepVGG, MobileOne, RepViT, YOLOv6/v7's RepConv) train
    parallel branches (``rbr_dense``, ``rbr_1x1``, each a conv and a batch norm) and fold
    them into one convolution for inference (``rbr_reparam``): a model built in one form
    cannot load the other's weights, which the block's own conversion maps.
    """
    if not ctx.partial:
        return
    missing, unexpected = ctx.missing(), ctx.unexpected()
    for folded_side, branch_side in ((missing, unexpected), (unexpected, missing)):
        folded = [n for n in folded_side if REPARAMETERIZED.match(_parent_and_word(n)[1])]
        parents = {_parent_and_word(n)[0] for n in folded}
        branches = {
            name: child
            for name in branch_side
            for parent in parents
            if parent
            and name.startswith(parent + ".")
            and not REPARAMETERIZED.match(child := name[len(parent) + 1 :].split(".")[0])
        }
        if not folded or len(set(branches.values())) < 2:
            continue
        form = "inference (folded)" if folded_side is missing else "training (branched)"
        names = sorted(set(branches.values()))
        ctx.add(
            Finding(
                category="fused_split",
                severity="error",
                message=(
                    f"the model is built in its {form} form: {folded[0]} on one side, the "
                    f"block's training branches ({', '.join(names[:3])}) on the other"
                ),
                params=[*folded, *branches],
                evidence={"folded": folded[:8], "branches": names[:8]},
                confidence=0.6,
                fix_note=(
                    "build the model in the checkpoint's form (deploy=False for training "
                    "weights), then fold the branches with the network's own conversion "
                    "(switch_to_deploy / reparameterize)"
                ),
            )
        )
        ctx.consume(missing=[*folded, *branches], unexpected=[*folded, *branches])
        return


FUSED_WORD = re.compile(
    r"^(?:\w*_)?(?:qkv|query_key_value|c_attn|in_proj(?:_weight|_bias)?|gate_up|w_?pack|wqkv|"
    r"kv)(?:_proj)?$",
    re.IGNORECASE,
)
"""Module words of fused projections (``attn_qkv``, ``query_key_value``, ``gate_up_proj``)."""

GROUPED_EXPERTS = re.compile(r"(?:^|\.)experts\.(?!\d)\w+(?:\.weight)?$")
"""A mixture-of-experts projection holding every expert (``mlp.experts.down_proj``)."""
ONE_EXPERT = re.compile(r"(?:^|\.)experts\.\d+\.\w+(?:\.\w+)?$")
"""One expert's projection (``mlp.experts.224.down_proj.weight``): the per-expert layout."""

PART_GROUPS = (
    frozenset({"q", "k", "v"}),
    frozenset({"wq", "wk", "wv"}),
    frozenset({"gate", "up"}),
)
"""Words of projections that fused layouts store as one tensor."""


def _one_sided_fused(ctx: Context) -> None:
    """Report a text listing only fused tensors, or only the parts a fused tensor holds.

    Only ``attn_qkv`` missing: the loader wants the fused layout and the file stores the
    parts. Only ``q_proj``/``k_proj``/``v_proj`` missing, layer after layer, while the rest
    of each layer loads: the file stores them fused (``in_proj_weight``, ``qkv``).
    """
    missing, unexpected = ctx.missing(), ctx.unexpected()
    for names, other in ((missing, unexpected), (unexpected, missing)):
        if not names or other:
            continue
        words = [_parent_and_word(n)[1] for n in names]
        side = "model" if names is missing else "checkpoint"
        if all(FUSED_WORD.match(w) for w in words):
            held, stored = "fused tensors", "their parts (q, k, v / gate, up)"
        elif _split_parts(names):
            held, stored = "split projections", "them fused (qkv / in_proj / gate_up)"
        elif all(GROUPED_EXPERTS.search(n) for n in names):
            held, stored = "experts grouped into one tensor per projection", "one per expert"
        elif all(ONE_EXPERT.search(n) for n in names):
            held, stored = "one expert's tensors", "the experts grouped (experts.down_proj)"
        else:
            continue
        ctx.add(
            Finding(
                category="fused_split",
                severity="error",
                message=(
                    f"only {held} are in the {side} alone ({names[0]} …): the other side most "
                    f"likely stores {stored}, a layout another version of the loader reads"
                ),
                params=names,
                evidence={"side": side, "names": names[:8]},
                confidence=0.5,
                fix_note=(
                    "use the loader version that knows this layout, or split / fuse the tensors "
                    "(weightfit check CKPT --against TARGET plans it)"
                ),
            )
        )
        ctx.consume(missing=names, unexpected=names)  # each name is on one side only
        return


def _split_parts(names: list[str]) -> bool:
    """Whether the names are two or more parts of one fused group in each of their modules."""
    by_parent: dict[str, set[str]] = {}
    for name in names:
        parent, word = _parent_and_word(name)
        by_parent.setdefault(parent, set()).add(_head(word))
    return all(
        any(len(parts & group) >= 2 and parts <= group for group in PART_GROUPS)
        for parts in by_parent.values()
    )


PART_INITIALS = {"query": "q", "key": "k", "value": "v"}
"""Projection words that fused names abbreviate to their initial (``query`` → ``qkv``)."""


FUSED_WORDS = {"qkv": "q", "wqkv": "q", "query_key_value": "q", "gate_up": "gate", "w13": "w1"}
"""Fused projections' module words and the first part each joins, where a cut list may show
that part alone."""


def _head(word: str) -> str:
    """The word a fused name joins for a part: ``q_proj`` → ``q``, ``query`` → ``q``."""
    core = word.lower().removeprefix("to_").split("_")[0]
    return PART_INITIALS.get(core, core)


PARAMETER_LEAVES = frozenset({"weight", "bias", "qweight", "scales", "qzeros", "g_idx"})
"""Leaves of a projection's own parameters (float or quantized)."""
QUANT_SCALE = re.compile(r"(?:[qkv]|weight|input|output)_scale(?:_inv|_2)?|input_zero_point")
"""Scales quantized checkpoints store beside a projection (FP8 ``k_scale``, ``weight_scale``)."""


def _parent_and_word(name: str) -> tuple[str, str]:
    """The parent path without indices and the module word of a name (``weight`` leaves off)."""
    parts = [p for p in name.split(".") if not p.isdigit()]
    if len(parts) > 1 and (parts[-1] in PARAMETER_LEAVES or QUANT_SCALE.fullmatch(parts[-1])):
        parts = parts[:-1]
    return ".".join(parts[:-1]), parts[-1] if parts else ""


FUSED_CELL = re.compile(r"(?:^|\.)\w*(?:cell|lstm|gru|rnn)\w*\.kernel$", re.IGNORECASE)
"""A recurrent cell's one kernel (TensorFlow's ``LSTMCell``, ``LSTMBlockCell``, ``GRUCell``:
``lstm_cell/kernel``, the input and recurrent matrices stacked as ``[in + hidden, 4·hidden]``)."""
SPLIT_CELL = (
    ("W", "W_re"),
    ("kernel", "recurrent_kernel"),
    ("weight_ih", "weight_hh"),
    ("W_ih", "W_hh"),
)
"""Leaf pairs of a recurrent layer that keeps its input and recurrent matrices apart
(RETURNN's ``W`` / ``W_re``, Keras' ``kernel`` / ``recurrent_kernel``, PyTorch's
``weight_ih_l0`` / ``weight_hh_l0``)."""


def recurrent_kernels(ctx: Context) -> None:
    """Report recurrent layers with one fused kernel on one side, two matrices on the other.

    ``lstm0_fw/rec/rnn/lstm_cell/kernel`` missing where ``lstm0_fw/rec/W`` and
    ``lstm0_fw/rec/W_re`` are unexpected, layer after layer: the same LSTM, its input and
    recurrent weights stacked into one kernel by one implementation and kept apart by the
    other. Each layer (the names' top module) must show both layouts.
    """
    if not ctx.partial or ctx.mismatches():
        return
    missing, unexpected = ctx.missing(), ctx.unexpected()
    for fused_side, split_side in ((missing, unexpected), (unexpected, missing)):
        layers = {n.split(".", 1)[0] for n in fused_side if FUSED_CELL.search(n)}
        explained = [
            n
            for n in (*fused_side, *split_side)
            if n.split(".", 1)[0] in layers and _split_layer(n.split(".", 1)[0], split_side)
        ]
        if not layers or not all(_split_layer(layer, split_side) for layer in layers):
            continue
        fused_in = "model" if fused_side is missing else "checkpoint"
        ctx.add(
            Finding(
                category="fused_split",
                severity="error",
                message=(
                    f"in {counted(len(layers), 'recurrent layer')} ({sorted(layers)[0]} …) "
                    f"the {fused_in} "
                    "holds one cell kernel, the input and recurrent matrices stacked, where the "
                    "other side holds them apart (W and W_re, kernel and recurrent_kernel, "
                    "weight_ih and weight_hh): two implementations of the same cell"
                ),
                params=explained,
                evidence={"layers": sorted(layers)[:8], "fused_in": fused_in},
                confidence=0.45,
                fix_note=(
                    "load with the cell implementation the checkpoint was saved with, or "
                    "concatenate the input and recurrent matrices (input first) into the one "
                    "kernel, splitting the other way for the reverse, and check the gate order"
                ),
            )
        )
        ctx.consume(missing=explained, unexpected=explained)
        return


def _split_layer(layer: str, names: list[str]) -> bool:
    """Whether a layer's names hold an input and a recurrent matrix apart."""
    leaves = {n.rsplit(".", 1)[-1].split("_l")[0] for n in names if n.split(".", 1)[0] == layer}
    return any(a in leaves and b in leaves for a, b in SPLIT_CELL)
