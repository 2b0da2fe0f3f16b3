"""Row-count rules on embeddings and output heads.

- ``vocab_resize``: the rows of the input embedding and the output head differ
  by a few, together: tokens were added or the vocabulary was padded
  (``resize_token_embeddings(n, pad_to_multiple_of=k)``). Where the model's
  config names its vocabulary (``vocab_size``, also under ``text_config``) and
  one side has exactly that many rows, the tensor is a vocabulary whatever its
  size: a 320-token test model's ``lm_head`` is no classifier.
- ``num_classes``: only a terminal head's output rows differ, by a factor or
  more, its input width equal to the model's: a head for another label set.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from weightfit import knowledge
from weightfit.alignment import Pair
from weightfit.diagnose import _known
from weightfit.diagnose._context import Context, config_keys_with, shape_text, shapes_of
from weightfit.diagnose._facts import PLACEHOLDERS
from weightfit.findings import Finding
from weightfit.plan import Op
from weightfit.tree import stack_of

MAX_SMALL_TABLE = 16
"""Rows of a token table too few for any vocabulary (vectors per textual-inversion token,
token types, a handful of prompts): a change among them is a size setting."""

MAX_SETTING_ROWS = 16384
"""Most rows of a table whose size doubling is read as a setting (codebook, prefix length)."""

MAX_VOCAB_CHANGE = 0.05
"""Largest relative row difference read as added or padded tokens (Qwen2.5 151665/152064: 0.3%)."""

MAX_CONFIGURED_CHANGE = 0.5
"""Largest relative row difference read as tokens when the config names the vocabulary."""

VOCAB_KEYS = ("vocab_size", "text_config.vocab_size")
"""Config fields that give the number of token rows (transformers' names)."""

PAD_MULTIPLES = (128, 64, 32, 16, 8)
"""The ``pad_to_multiple_of`` values worth naming, largest first."""

INPUT_WORDS = ("embed", "wte", "tok", "word", "shared")
"""Name words of input embeddings (a model's token tables)."""
LM_HEAD_WORDS = ("lm_head", "embed_out")
"""Name words only a language model's output head carries."""
_OUTPUT_WORDS = ("lm_head", "output", "head", "logits", "embed_out", "decoder", "cls", "pred")
_LABEL_WORDS = ("label", "class_emb")
_LABEL_MODULES = ("y_embed",)
"""Module names that begin a label table (DiT's ``y_embedder``; never ``query_embed``)."""
_HEAD_WORDS = (
    "head",
    "fc",
    "classifier",
    "logit",
    "cls",
    "class",
    "score",
    "pred",  # predictor, prediction, bbox_pred
    "final",
    "output",
    "mbox_conf",  # SSD's class confidences: priors × classes
)
IMAGE_CHANNELS = (1, 3, 4)
"""Input channels of a network's first convolution: a grey, RGB or RGBA image."""
_TOKEN_TABLE_WORDS = ("embed", "wte", "tok", "word", "symbol", "char", "vocab", "emb")
_NOT_TOKEN_WORDS = (
    "pos",
    "label",
    "class",
    "type",
    "patch",
    "speaker",
    "spk",
    "lang",
    "segment",
    "time",
    "rel",
    "y_emb",
)
_SETTING_TABLE_WORDS = (
    "query",
    "queries",
    "refpoint",
    "prompt",
    "prefix",
    "codebook",
    "quantize",
    "register",
)
"""Learned tables whose row count is a setting of the model (DETR's object queries, also
named by their reference points, ``refpoint_embed``, prompt or prefix length, a VQ codebook,
register tokens): neither tokens nor classes. Another table whose rows change alike counts
the same setting (DAB-DETR's ``tgt_embed`` beside ``refpoint_embed``)."""
_BODY_WORDS = ("embed", "patch", "stem", "down", "up", "input", "proj_in", "conv_in", "encoder")
"""Module words of layers inside a network (whose rows are widths), never its output head."""
_ANCHOR_WORDS = ("rpn", "anchor", "objectness")
"""Heads that score anchors or proposals, not classes (their rows count anchors)."""
DENOISER = re.compile(r"(?:^|\.)diffusion_model\.|Diffusion|DiT(?![a-z])")
"""A diffusion network's name or class: its last layer predicts latent patches (``p²·C``
values, doubled with a learned variance), never classes."""


@dataclass
class _RowChange:
    """A pair whose row count (axis 0, or axis 1 of a ``[1, V]`` bias) differs."""

    pair: Pair
    axis: int
    have: int
    want: int
    position: float

    @property
    def name(self) -> str:
        return self.pair.target


def _row_changes(ctx: Context) -> list[_RowChange]:
    """Open mismatches whose only differing axis is the row axis."""
    changes = []
    for pair in ctx.mismatches():
        have, want = ctx.src(pair).shape, ctx.tgt(pair).shape
        if len(have) != len(want) or not have:
            continue
        axes = [i for i, (a, b) in enumerate(zip(have, want, strict=True)) if a != b]
        if len(axes) != 1:
            continue
        axis = axes[0]
        columns = axis == 1 and len(have) == 2
        if axis == 0 or (columns and (have[0] == 1 or _class_columns(pair.target, have, want))):
            changes.append(
                _RowChange(pair, axis, have[axis], want[axis], ctx.position(pair.target))
            )
    return changes


def _class_columns(name: str, have: tuple[int, ...], want: tuple[int, ...]) -> bool:
    """Whether a class-named matrix holds one column per class.

    A zero-shot classifier's ``[dim, classes + 1]`` text embeddings: a known label set's
    count, or it plus background.
    """
    counts = (have[1], want[1], have[1] - 1, want[1] - 1)
    return is_class_worded(name) and bool(_class_count(*counts))


def vocab_resize(ctx: Context) -> None:
    """Report embeddings and heads whose rows differ by a few: added or padded tokens."""
    groups: dict[tuple[int, int], list[_RowChange]] = defaultdict(list)
    # A column per class is no token's row.
    changes = [c for c in _row_changes(ctx) if c.axis == 0 or ctx.src(c.pair).shape[0] == 1]
    # In a text, an output projection with the rows of a token table is that vocabulary's.
    token_rows = {
        (c.have, c.want)
        for c in changes
        if ctx.partial and _is_token_table(c.name) and not _labels_not_symbols(c)
    }
    setting_rows = {
        (c.have, c.want)
        for c in changes
        if any(word in _leaf_module(c.name) for word in _SETTING_TABLE_WORDS)
    }
    vocabularies = configured_vocab(ctx)
    other_tokenizer: set[tuple[int, int]] = set()
    for change in changes:
        if (change.have, change.want) in setting_rows:
            continue  # rows counted with a setting's table: that setting, not tokens
        larger = max(change.have, change.want)
        difference = abs(change.have - change.want)
        table = (change.have, change.want) in token_rows and (
            _is_token_table(change.name) or stack_of(change.name) is None
        )
        configured = bool({change.have, change.want} & vocabularies)
        if table and _table_size_setting(change) and not configured:
            continue  # a codebook's or prefix's size doubled: a setting, not added tokens
        if table:
            pass
        elif configured:
            if difference > MAX_CONFIGURED_CHANGE * larger:
                continue
        elif larger < _known.MIN_VOCAB_ROWS or difference > MAX_VOCAB_CHANGE * larger:
            if not _token_rows_apart(ctx, change):
                continue
            other_tokenizer.add((change.have, change.want))
        if not table and ctx.partial and _class_count(change.have, change.want):
            continue
        if ctx.partial and not (table or configured or _vocab_like(change)):
            continue  # fc2's 80013 against 79077 rows: face identities as well as tokens
        if _kernel_of_no_role(ctx, change):
            continue  # a convolution's outputs, one apart: a width rounded otherwise
        # Embeddings and heads sit outside the repeated layers; rows inside them are widths
        # (a token table in a Sequential, embed.0, is no layer of a stack).
        if stack_of(change.name) is not None and not _is_token_table(change.name):
            continue
        groups[(change.have, change.want)].append(change)
    for (have, want), changes in groups.items():
        inputs = [c for c in changes if _role(c) == "input"]
        outputs = [c for c in changes if _role(c) == "output"]
        tied = _tied_head(ctx, inputs)
        if (have, want) in other_tokenizer:
            _report_other_tokenizer(ctx, have, want, changes)
        else:
            _report_vocab(ctx, have, want, changes, inputs, outputs, tied)


def _table_size_setting(change: _RowChange) -> bool:
    """Whether a small table's rows changed by a power of two: a size setting, not tokens.

    A codebook of 1024 entries against 512, a prefix of 256 rows against 128: up to
    :data:`MAX_SETTING_ROWS` no tokenizer's vocabulary doubles, a configured size does.
    """
    small, large = sorted((change.have, change.want))
    if large <= MAX_SMALL_TABLE:
        return True  # 1 against 8 vectors per placeholder token, 2 token types: no vocabulary
    if large > MAX_SETTING_ROWS or small < 2 or large % small or _known.vocab_labels(large):
        return False
    factor = large // small
    return factor >= 2 and factor & (factor - 1) == 0


def _token_rows_apart(ctx: Context, change: _RowChange) -> bool:
    """Whether a text's token table or LM head has a vocabulary's rows on both sides, far apart.

    Rows of a table named for tokens (``embed_tokens``, ``wte``, ``lm_head``) count tokens
    whatever the difference; thousands apart means another tokenizer (or another release of
    one), which no resize makes right. An LM head's rows are tokens however few: a CTC
    model's 32 characters against 50 is another character set.
    """
    rows = (change.have, change.want)
    lm_head = any(w in change.name for w in LM_HEAD_WORDS)
    if not ctx.partial or stack_of(change.name) is not None:
        return False
    if min(rows) < _known.MIN_VOCAB_ROWS and not lm_head:
        return False  # a language model's head counts tokens however few (CTC's characters)
    if _known.vocab_labels(change.have) and _known.vocab_labels(change.want):
        return False  # two known tokenizers: the families rule names them
    if len(ctx.tgt(change.pair).shape) > 2:
        return False  # a convolution's channels, never tokens
    if _named_role(change) == "output" and _exact_vocabulary(change):
        return True  # XLM's pred_layer.proj of 200000 rows: a known tokenizer's, exactly
    return _is_token_table(change.name) or any(w in change.name for w in LM_HEAD_WORDS)


def _exact_vocabulary(change: _RowChange) -> bool:
    """Whether one side's rows are exactly a known tokenizer's vocabulary, the other's many.

    A head's rows equal to a released vocabulary (``knowledge/vocab_sizes.yaml``) count
    tokens; face identities or classes match none of them.
    """
    rows = (change.have, change.want)
    return min(rows) >= _known.MIN_VOCAB_ROWS and any(knowledge.vocab_candidates(n) for n in rows)


def _report_other_tokenizer(ctx: Context, have: int, want: int, changes: list[_RowChange]) -> None:
    """Report token rows too far apart for added tokens: another tokenizer's vocabulary."""
    share = abs(have - want) / max(have, want)
    ctx.add(
        Finding(
            category="vocab_resize",
            severity="error",
            message=(
                f"vocabularies differ: {changes[0].name} has {have} token rows in the "
                f"checkpoint, {want} in the model ({abs(have - want)} apart, {share:.0%}): "
                "another tokenizer or another release of it, not a few added tokens"
            ),
            params=[c.pair.source for c in changes],
            evidence={
                "checkpoint_rows": have,
                "model_rows": want,
                "difference": have - want,
                "tensors": [c.name for c in changes],
            },
            confidence=0.5,
            fix_note=(
                "use the tokenizer and config the checkpoint was trained with; resizing the "
                "embeddings would give token ids another meaning"
            ),
        )
    )
    ctx.consume(pairs=[c.pair for c in changes])


def _kernel_of_no_role(ctx: Context, change: _RowChange) -> bool:
    """Whether a row change is a 2-D convolution's outputs, nothing naming it a token head.

    A vocabulary is a table's rows or a head's outputs; a 4-D kernel the text names no role
    for counts feature channels.
    """
    conv = len(ctx.src(change.pair).shape) == 4
    return conv and not _is_token_table(change.name) and _named_role(change) is None


def _vocab_like(change: _RowChange) -> bool:
    """Whether a row change reads as tokens.

    A token table's or an LM head's name, known vocabulary rows, or a few rows added
    (:data:`~weightfit.diagnose._known.NEAR_VOCAB`); hundreds more on a layer no name ties
    to tokens count identities or classes as well as tokens.
    """
    known = _known.vocab_labels(change.have) or _known.vocab_labels(change.want)
    near = abs(change.have - change.want) <= _known.NEAR_VOCAB
    return _is_token_table(change.name) or _named_role(change) is not None or bool(known) or near


def _leaf_module(name: str) -> str:
    """The module a tensor belongs to, indices skipped (``embed.0.weight``: ``embed``)."""
    lower = name.lower()
    modules = [part for part in lower.split(".")[:-1] if not part.isdigit()]
    return modules[-1] if modules else lower


def _is_token_table(name: str) -> bool:
    """Tell a token (or symbol) embedding by its name: never a position, label or type table."""
    module = _leaf_module(name)
    if any(word in module for word in (*_NOT_TOKEN_WORDS, *_SETTING_TABLE_WORDS)):
        return False
    return any(word in module for word in _TOKEN_TABLE_WORDS) or module == "shared"


def _setting_table(name: str) -> bool:
    """Whether a tensor's module is a table sized by a setting (:data:`_SETTING_TABLE_WORDS`)."""
    return any(word in _leaf_module(name) for word in _SETTING_TABLE_WORDS)


def _label_rows(change: _RowChange) -> bool:
    """Whether a row change reads as label sets, never a vocabulary.

    One side is a known dataset's class count, the other smaller (1000 against 2). Past
    :data:`MAX_LABELS` only the identity sets of face recognition count, row for row, and
    never a vocabulary's size.
    """
    small, large = sorted((change.have, change.want))
    if large > MAX_LABELS and knowledge.vocab_candidates(large):
        return False
    return bool(_class_count(large)) and small < large


def _labels_not_symbols(change: _RowChange) -> bool:
    """Whether a token-named table's rows read as label sets all the same.

    BigGAN's ``shared`` class embedding of 1000 rows against 2; a symbol table of 150 rows
    against 149 is one symbol more, whatever dataset has 150 classes.
    """
    both_known = bool(_class_count(change.have)) and bool(_class_count(change.want))
    return _label_rows(change) and (both_known or not _symbols_apart(change))


def _symbols_apart(change: _RowChange) -> bool:
    """Whether two row counts differ by a symbol or two (a pad, an end mark), no more."""
    return abs(change.have - change.want) <= NEAR_SYMBOLS


FEW_OUTPUTS = 2
"""Most outputs of a layer that is never a width: a head predicting one or two values (a
mask's foreground, a binary label)."""
NEAR_SYMBOLS = 2
"""Rows a token table gains or loses when symbols are added or dropped (a pad, an end mark)."""


MAX_LABELS = 30_000
"""Most classes a label set has (ImageNet-21k: 21843); more rows are a vocabulary."""


def _class_count(*rows: int) -> list[str]:
    """Name the datasets whose class count is one of ``rows`` (a head, not a vocabulary)."""
    return [d.model for n in rows for d in knowledge.datasets_with_classes(n)]


def configured_vocab(ctx: Context) -> set[int]:
    """The vocabulary sizes the target's config (else the checkpoint's) names."""
    found: set[int] = set()
    for config in (ctx.target.config, ctx.source.config):
        for key in VOCAB_KEYS:
            holder: object = config or {}
            for part in key.split("."):
                holder = holder.get(part) if isinstance(holder, dict) else None
            if isinstance(holder, int) and not isinstance(holder, bool) and holder > 0:
                found.add(holder)
        if found:
            return found
    return found


def _named_role(change: _RowChange) -> str | None:
    """Tell an input embedding from an output head by its name, if the name says."""
    lower = change.name.lower()
    if any(word in lower for word in ("lm_head", "embed_out", "logits")):
        return "output"
    if any(word in lower for word in INPUT_WORDS):
        return "input"
    if any(word in lower for word in _OUTPUT_WORDS):
        return "output"
    return None


def _role(change: _RowChange) -> str:
    """Tell an input embedding from an output head: by name, else by place in the model."""
    return _named_role(change) or ("input" if change.position < 0.5 else "output")


def _tied_head(ctx: Context, inputs: list[_RowChange]) -> str | None:
    """Return a head the target ties to one of these input embeddings, if any."""
    tied = ctx.target.extras.get("tied") or {}
    embedded = {c.name for c in inputs}
    for copy, original in tied.items():
        if original in embedded:
            return str(copy)
    return None


def _report_vocab(
    ctx: Context,
    have: int,
    want: int,
    changes: list[_RowChange],
    inputs: list[_RowChange],
    outputs: list[_RowChange],
    tied: str | None,
) -> None:
    larger, smaller = max(have, want), min(have, want)
    multiple = _multiple_of(larger)
    padded_with = padding_multiple(smaller, larger)
    if larger - smaller > MAX_VOCAB_CHANGE * larger:
        padding = (
            "far more than added or padded tokens: a vocabulary built from other data or "
            "another tokenizer"
        )
    elif padded_with:
        padding = (
            f"{larger} is {smaller} rounded up to a multiple of {padded_with} "
            f"(pad_to_multiple_of={padded_with})"
        )
    elif multiple and smaller % multiple == 0:
        padding = (
            f"both are multiples of {multiple}: {larger - smaller} rows added on an already "
            "padded vocabulary"
        )
    elif multiple:
        padding = f"{larger} is a multiple of {multiple}, {smaller} is not: the larger is padded"
    else:
        padding = f"{larger} is not a multiple of 8: added tokens, no padding"
    known = {rows: _known.vocab_labels(rows) for rows in (have, want)}
    named = "; ".join(f"{rows} = {labels[0]}" for rows, labels in known.items() if labels)
    together = (
        "input embedding and output head"
        if inputs and (outputs or tied)
        else ("input embedding" if inputs else "output head")
    )
    direction = "more" if have > want else "fewer"
    message = (
        f"vocabulary resized: the {together} have {have} rows in the checkpoint, {want} in "
        f"the model ({abs(have - want)} {direction} token row(s)); {padding}"
        + (f"; {named}" if named else "")
    )
    evidence: dict[str, object] = {
        "checkpoint_rows": have,
        "model_rows": want,
        "difference": have - want,
        "larger_multiple_of": multiple,
        "checkpoint_multiple_of": _multiple_of(have),
        "model_multiple_of": _multiple_of(want),
        "pad_to_multiple_of": padded_with,
        "input_embeddings": [c.name for c in inputs],
        "output_heads": [c.name for c in outputs],
        "tensors": [
            {
                "name": c.name,
                **shapes_of(ctx, c.pair),
            }
            for c in changes
        ],
    }
    if tied:
        evidence["tied_head"] = tied
    for side, rows in (("checkpoint", have), ("model", want)):
        if known[rows]:
            evidence[f"{side}_rows_match"] = known[rows]
    ops = []
    for change in changes:
        if change.axis != 0:
            continue
        if have > want:
            ops.append(
                Op(
                    "truncate_rows",
                    {"name": change.name, "rows": want},
                    "vocab_resize: model has fewer rows",
                )
            )
        else:
            ops.append(
                Op(
                    "pad_rows",
                    {"name": change.name, "rows": want, "init": "mean"},
                    "vocab_resize: model has more rows",
                )
            )
    keys = config_keys_with(ctx.target.config, want)
    option = f" (model built with {keys[0]}={want})" if keys else ""
    resize = f"model.resize_token_embeddings({smaller if padded_with else have}"
    resize += f", pad_to_multiple_of={padded_with})" if padded_with and have > want else ")"
    if have > want:
        note = (
            f"the checkpoint holds trained rows for {have - want} more tokens: resize the model "
            f"to {have} before loading ({resize}){option}; truncating drops those rows"
        )
    else:
        note = (
            f"resize the model to the checkpoint's {have} rows ({resize}){option}, or pad the "
            f"checkpoint's rows (new rows are the mean of the others) and train them"
        )
    if inputs and (outputs or tied):
        confidence = 0.95
    elif any(_named_role(c) for c in changes):
        confidence = 0.8
    else:
        confidence = 0.6
    ctx.add(
        Finding(
            category="vocab_resize",
            severity="error",
            message=message,
            params=[c.pair.source for c in changes],
            evidence=evidence,
            confidence=confidence,
            fix=ops,
            fix_note=note,
        )
    )
    ctx.consume(pairs=[c.pair for c in changes])


def _multiple_of(rows: int) -> int | None:
    """Return the largest of 128/64/32/16/8 that divides ``rows``."""
    return next((k for k in PAD_MULTIPLES if rows % k == 0), None)


def padding_multiple(smaller: int, larger: int) -> int | None:
    """Return the smallest ``k`` with ``ceil(smaller / k) * k == larger``, if any."""
    for k in reversed(PAD_MULTIPLES):
        if smaller % k and -(-smaller // k) * k == larger:
            return k
    return None


def num_classes(ctx: Context) -> None:
    """Report terminal heads whose output rows differ: another number of classes."""
    groups: dict[tuple[int, int], list[_RowChange]] = defaultdict(list)
    # Rows, and the class columns _row_changes reads on the second axis (not a [1, V] bias).
    rows = [c for c in _row_changes(ctx) if c.axis == 0 or ctx.src(c.pair).shape[0] > 1]
    heads = {
        (_module_of(change.name), change.have, change.want)
        for change in rows
        if (_is_label_table(change) and _known_labels(ctx, change))
        or (
            not _predicts_latents(ctx, change)
            and (_is_head(ctx, change) or _paired_output(ctx, change, rows))
        )
    }
    for change in rows:
        # A head's bias follows its weight, wherever the position rules would put it alone.
        sibling = _per_class_sibling(change, heads)
        if sibling is not None:
            groups[sibling].append(change)
        elif (_module_of(change.name), change.have, change.want) in heads:
            groups[(change.have, change.want)].append(change)
    for (have, want), changes in groups.items():
        weights = [c for c in changes if len(ctx.tgt(c.pair).shape) >= 2]
        # A head's bias alone says labels where a known label set or the name does.
        worded = any(is_class_worded(c.name) for c in changes) and max(have, want) <= MAX_LABELS
        if not weights and not (ctx.partial and (_class_count(have, want) or worded)):
            continue
        first = (weights or changes)[0]
        width = ctx.tgt(first.pair).shape[1] if weights else None
        keys = config_keys_with(ctx.target.config, want)
        option = f"; model built with {keys[0]}={want}" if keys else ""
        what = (
            "classifier of one column per class (a zero-shot head's class embeddings)"
            if any(c.axis == 1 and ctx.src(c.pair).shape[0] > 1 for c in changes)
            else "label embedding (class-conditional input)"
            if weights and all(_is_label_table(c) for c in weights)
            else "classification head"
        )
        message = (
            f"{what} sized for {have} classes in the checkpoint, {want} in the "
            f"model: {first.name} {shape_text(ctx.src(first.pair).shape)} → "
            f"{shape_text(ctx.tgt(first.pair).shape)}"
        )
        has_bias = any(len(ctx.tgt(c.pair).shape) == 1 for c in changes)
        datasets = _class_count(have, want)
        if not datasets and any(c.axis == 1 for c in changes):
            datasets = _class_count(have - 1, want - 1)  # a column per class and background
        evidence: dict[str, object] = {
            "checkpoint_classes": have,
            "model_classes": want,
            "input_width": width,
            "heads": sorted({_module_of(c.name) for c in changes}),
            "bias_follows": has_bias,
        }
        if keys:
            evidence["config_option"] = keys[0]
        if datasets:
            evidence["known_class_counts"] = datasets
        # A decoder fed its previous prediction (an attention OCR cell reads a one-hot of
        # the classes: 256 + 45 = 301 inputs) grows as the head does: the same cause.
        fed = ctx.changed_by(have - want, [c.pair for c in changes]) if ctx.partial else []
        if fed:
            evidence["classes_fed_back"] = [p.target for p in fed]
        ctx.add(
            Finding(
                category="num_classes",
                severity="error",
                message=message,
                params=[c.pair.source for c in changes] + [p.source for p in fed],
                evidence=evidence,
                confidence=_head_confidence(ctx, changes, has_bias, datasets),
                fix=[
                    Op("reinit", {"name": c.name}, "num_classes: head for another label set")
                    for c in changes
                ],
                fix_note=(
                    f"the backbone loads as is; train a new {want}-way head{option}. If the "
                    f"first {min(have, want)} labels mean the same in both label sets, "
                    "copy_overlap keeps their rows instead"
                ),
            )
        )
        ctx.consume(pairs=[c.pair for c in changes] + fed)


_CLASS_WORDS = ("class", "cls", "label", "logit", "categor", "tag")


def _odd_rows(change: _RowChange, shape: tuple[int, ...]) -> bool:
    """Whether an unnamed matrix's rows read as labels.

    Both counts off the width step, the other axis a width, fewer than any vocabulary:
    TensorFlow's ``Assign`` of a ``[512, 37]`` dense kernel to ``[512, 547]`` (37
    characters against 547).
    """
    odd = change.have % _known.WIDTH_STEP and change.want % _known.WIDTH_STEP
    return (
        bool(odd)
        and len(shape) == 2
        and shape[1] % _known.WIDTH_STEP == 0
        and max(change.have, change.want) <= MAX_LABELS
    )


def _list_of_heads(stack: str, shape: tuple[int, ...]) -> bool:
    """Whether a numbered stack is a list of linear heads (``seq_heads.0``, ``cls_heads.2``).

    Such a list scores each task's labels; a numbered ``head.0`` of 4-D kernels is a
    network's first convolutions (EDSR's), widths not labels.
    """
    return "head" in stack.rsplit(".", 1)[-1].lower() and len(shape) <= 2


def is_class_worded(name: str) -> bool:
    """Whether a tensor's name says it scores classes."""
    return any(word in name.lower() for word in _CLASS_WORDS)


def _head_confidence(
    ctx: Context, changes: list[_RowChange], has_bias: bool, datasets: list[str]
) -> float:
    """How sure a head's row change is a label set.

    From a text, a known dataset's class count or a class word in the name must say
    so: rows may count frequency bins or anchors.
    """
    if not ctx.partial:
        return 0.9 if has_bias else 0.8
    if all(c.name in PLACEHOLDERS for c in changes):
        return UNNAMED_HEAD  # the text named no tensor: only the row counts say labels
    worded = any(word in c.name.lower() for c in changes for word in _CLASS_WORDS)
    if not datasets and all(len(ctx.tgt(c.pair).shape) == 1 for c in changes):
        return BIAS_ONLY_HEAD  # the name alone says labels, no weight's rows confirm them
    return 0.9 if datasets else 0.8 if worded else 0.7


BIAS_ONLY_HEAD = 0.6
"""Confidence of a head read from its class-worded bias alone, no known label set."""


UNNAMED_HEAD = 0.45
"""Confidence of a head read from row counts alone, the text naming no tensor."""


def _predicts_latents(ctx: Context, change: _RowChange) -> bool:
    """Whether a text's output layer is a diffusion network's, which predicts latent patches."""
    return ctx.partial and bool(DENOISER.search(f"{change.name} {ctx.facts.get('model', '')}"))


def _never_labels(ctx: Context, change: _RowChange) -> bool:
    """Whether a layer's rows can be no label set: an image stem's outputs, an LM's tokens.

    A convolution reading the image's own channels (``[32, 3, 3, 3]``) is the network's first
    layer, its rows a width; a language model's output head (``lm_head``) has a row per
    token, however few (a CTC model's 32 characters).
    """
    shape = ctx.tgt(change.pair).shape
    stem = (
        len(shape) >= 3
        and shape[1] in IMAGE_CHANNELS
        and ctx.src(change.pair).shape[1:] == shape[1:]
    )
    return stem or any(word in change.name.lower() for word in LM_HEAD_WORDS)


def _paired_output(ctx: Context, change: _RowChange, rows: list[_RowChange]) -> bool:
    """Whether a top-level module's weight and bias both change rows alike.

    An output layer sized by a label count, read from a text whose names may not say
    "head".
    """
    if not ctx.partial or stack_of(change.name) is not None or change.have >= _known.MIN_VOCAB_ROWS:
        return False
    module = _module_of(change.name)
    if any(word in module.lower().rsplit(".", 1)[-1] for word in _BODY_WORDS):
        return False  # a layer the input passes through (patch_embed.proj, down1), not an output
    same = [c for c in rows if (c.have, c.want) == (change.have, change.want)]
    if any(_never_labels(ctx, c) for c in same if _module_of(c.name) == module):
        return False  # the bias of an image stem or an LM head follows its weight
    if any(_module_of(c.name) != module and _normalises(c.name) for c in same):
        return False  # a norm takes the size next: a width, where labels end the network
    return {c.name.rsplit(".", 1)[-1] for c in same if _module_of(c.name) == module} >= {
        "weight",
        "bias",
    }


NORM_MODULE = re.compile(r"norm|^(?:bn|gn|ln)(?:[a-z]?\d*(?:_\w+)?)?$")
"""A normalisation module's name: ``*norm*``, or ``bn``, ``bn1``, ``bnh_0``, ``gn``, ``ln_f``."""


def _normalises(name: str) -> bool:
    """Whether a tensor belongs to a normalisation layer (``trans.conv2.bnh_0.weight``)."""
    return any(NORM_MODULE.search(part) for part in name.lower().split(".")[:-1])


def _per_class_sibling(
    change: _RowChange, heads: set[tuple[str, int, int]]
) -> tuple[int, int] | None:
    """Return the head a sibling output follows with k rows per class, if one does.

    A detector's box regression has 4 rows per class, with or without background.
    """
    parent = _module_of(_module_of(change.name))
    for module, have, want in heads:
        if _module_of(module) != parent or module == _module_of(change.name):
            continue
        for k in range(2, 9):
            for extra in (0, 1):
                if (change.have, change.want) == (k * (have - extra), k * (want - extra)):
                    return have, want
    return None


def _module_of(name: str) -> str:
    """Return the module a tensor belongs to (``head`` for ``head.weight``)."""
    return name.rsplit(".", 1)[0]


def _known_labels(ctx: Context, change: _RowChange) -> bool:
    """Whether a label table's rows are a known label set (or it plus a null class for CFG).

    A file's own table is read by position and config; a text's ``y_embedding`` of 300
    against 120 rows (PixArt's caption tokens) names no label set.
    """
    rows = (change.have, change.want, change.have - 1, change.want - 1)
    return not ctx.partial or bool(_class_count(*rows))


def _is_label_table(change: _RowChange) -> bool:
    """Tell a class-label embedding (DiT's ``y_embedder``): outside the stacks, named for labels."""
    parts = change.name.lower().split(".")
    return stack_of(change.name) is None and any(
        part.startswith(_LABEL_MODULES) or any(word in part for word in _LABEL_WORDS)
        for part in parts
    )


def _is_head(ctx: Context, change: _RowChange) -> bool:
    """Tell a terminal head: after every layer stack (or named as a head)."""
    shape = ctx.tgt(change.pair).shape
    if len(shape) >= 2 and shape[1] < 2:
        return False
    if _never_labels(ctx, change):
        return False
    module = change.name.lower().rsplit(".", 2)[-2] if "." in change.name else ""
    if any(word in change.name.lower() for word in _ANCHOR_WORDS) or _setting_table(change.name):
        return False
    if _is_token_table(change.name) and not (ctx.partial and _labels_not_symbols(change)):
        return False
    named = any(word in module for word in _HEAD_WORDS)
    if ctx.partial:
        # A text names only what differs: where a tensor sits is unknown, its name tells
        # (any word of its path: classifier.header.conv, head.final_layer), or a known
        # dataset's class count does. Inside repeated layers rows are widths
        # (blocks.0.mlp.fc1: the MLP ratio; EDSR's head.0 is its first conv) unless the
        # name says classes (a Sequential classifier.4, DETR's class_embed.0).
        path = change.name.lower().split(".")[:-1]
        if change.name in PLACEHOLDERS:
            # Only the row counts speak: labels when off the width tile or a known label
            # set far from the other count, never a count one symbol apart (150 against 151
            # is ADE20K with its background as much as a symbol table grown by one).
            if max(change.have, change.want) <= FEW_OUTPUTS:
                return True  # a layer of one or two outputs is no width: a prediction head
            return not _symbols_apart(change) and (_odd_rows(change, shape) or _label_rows(change))
        stack = stack_of(change.name)
        if (
            stack is not None
            and not is_class_worded(change.name)
            and not _list_of_heads(stack[0], shape)
        ):
            return _label_rows(change)
        if max(change.have, change.want) > MAX_LABELS and not _class_count(
            change.have, change.want
        ):
            return False  # more rows than any label set: a vocabulary or a width, not classes
        return any(word in segment for segment in path for word in _HEAD_WORDS) or _label_rows(
            change
        )
    late = change.position >= 0.8
    if stack_of(change.name) is None:
        return named or late
    return named and late
