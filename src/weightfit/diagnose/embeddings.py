"""Token rows of embeddings and output heads: the ``vocab_resize`` rule.

The rows of the input embedding and the output head differ by a few, together:
tokens were added or the vocabulary was padded
(``resize_token_embeddings(n, pad_to_multiple_of=k)``). Where the model's config
names its vocabulary (``vocab_size``, also under ``text_config``) and one side has
exactly that many rows, the tensor is a vocabulary whatever its size: a 320-token
test model's ``lm_head`` is no classifier. Which mismatches are row changes, and
what a table's name says of its rows, is :mod:`weightfit.diagnose.table_rows`'s;
heads of another label set are :mod:`weightfit.diagnose.class_heads`'.
"""

from __future__ import annotations

from collections import defaultdict

from weightfit import knowledge
from weightfit.diagnose import _known
from weightfit.diagnose._context import Context, shapes_of
from weightfit.diagnose.table_rows import (
    LM_HEAD_WORDS,
    SETTING_TABLE_WORDS,
    RowChange,
    class_count,
    is_token_table,
    labels_not_symbols,
    leaf_module,
    row_changes,
)
from weightfit.findings import Finding
from weightfit.manifest import counted
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
_OUTPUT_WORDS = ("lm_head", "output", "head", "logits", "embed_out", "decoder", "cls", "pred")


def vocab_resize(ctx: Context) -> None:
    """Report embeddings and heads whose rows differ by a few: added or padded tokens."""
    groups: dict[tuple[int, int], list[RowChange]] = defaultdict(list)
    # A column per class is no token's row.
    changes = [c for c in row_changes(ctx) if c.axis == 0 or ctx.src(c.pair).shape[0] == 1]
    # In a text, an output projection with the rows of a token table is that vocabulary's.
    token_rows = {
        (c.have, c.want)
        for c in changes
        if ctx.partial and is_token_table(c.name) and not labels_not_symbols(c)
    }
    setting_rows = {
        (c.have, c.want)
        for c in changes
        if any(word in leaf_module(c.name) for word in SETTING_TABLE_WORDS)
    }
    vocabularies = configured_vocab(ctx)
    other_tokenizer: set[tuple[int, int]] = set()
    for change in changes:
        if (change.have, change.want) in setting_rows:
            continue  # rows counted with a setting's table: that setting, not tokens
        larger = max(change.have, change.want)
        difference = abs(change.have - change.want)
        table = (change.have, change.want) in token_rows and (
            is_token_table(change.name) or stack_of(change.name) is None
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
        if not table and ctx.partial and class_count(change.have, change.want):
            continue
        if ctx.partial and not (table or configured or _vocab_like(change)):
            continue  # fc2's 80013 against 79077 rows: face identities as well as tokens
        if _kernel_of_no_role(ctx, change):
            continue  # a convolution's outputs, one apart: a width rounded otherwise
        # Embeddings and heads sit outside the repeated layers; rows inside them are widths
        # (a token table in a Sequential, embed.0, is no layer of a stack).
        if stack_of(change.name) is not None and not is_token_table(change.name):
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


def _table_size_setting(change: RowChange) -> bool:
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


def _token_rows_apart(ctx: Context, change: RowChange) -> bool:
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
    return is_token_table(change.name) or any(w in change.name for w in LM_HEAD_WORDS)


def _exact_vocabulary(change: RowChange) -> bool:
    """Whether one side's rows are exactly a known tokenizer's vocabulary, the other's many.

    A head's rows equal to a released vocabulary (``knowledge/vocab_sizes.yaml``) count
    tokens; face identities or classes match none of them.
    """
    rows = (change.have, change.want)
    return min(rows) >= _known.MIN_VOCAB_ROWS and any(knowledge.vocab_candidates(n) for n in rows)


def _report_other_tokenizer(ctx: Context, have: int, want: int, changes: list[RowChange]) -> None:
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


def _kernel_of_no_role(ctx: Context, change: RowChange) -> bool:
    """Whether a row change is a 2-D convolution's outputs, nothing naming it a token head.

    A vocabulary is a table's rows or a head's outputs; a 4-D kernel the text names no role
    for counts feature channels.
    """
    conv = len(ctx.src(change.pair).shape) == 4
    return conv and not is_token_table(change.name) and _named_role(change) is None


def _vocab_like(change: RowChange) -> bool:
    """Whether a row change reads as tokens.

    A token table's or an LM head's name, known vocabulary rows, or a few rows added
    (:data:`~weightfit.diagnose._known.NEAR_VOCAB`); hundreds more on a layer no name ties
    to tokens count identities or classes as well as tokens.
    """
    known = _known.vocab_labels(change.have) or _known.vocab_labels(change.want)
    near = abs(change.have - change.want) <= _known.NEAR_VOCAB
    return is_token_table(change.name) or _named_role(change) is not None or bool(known) or near


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


def _named_role(change: RowChange) -> str | None:
    """Tell an input embedding from an output head by its name, if the name says."""
    lower = change.name.lower()
    if any(word in lower for word in ("lm_head", "embed_out", "logits")):
        return "output"
    if any(word in lower for word in INPUT_WORDS):
        return "input"
    if any(word in lower for word in _OUTPUT_WORDS):
        return "output"
    return None


def _role(change: RowChange) -> str:
    """Tell an input embedding from an output head: by name, else by place in the model."""
    return _named_role(change) or ("input" if change.position < 0.5 else "output")


def _tied_head(ctx: Context, inputs: list[RowChange]) -> str | None:
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
    changes: list[RowChange],
    inputs: list[RowChange],
    outputs: list[RowChange],
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
        f"vocabulary resized: the {together} {'have' if ' and ' in together else 'has'} "
        f"{have} rows in the checkpoint, {want} in the model "
        f"({counted(abs(have - want), f'{direction} token row')}); {padding}"
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
    keys = ctx.config_keys(want, have)
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
