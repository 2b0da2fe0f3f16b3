"""The adapter's vocabulary, against its base and its own tokenizer (``adapter`` profile).

Runs after ``vocab_resize``. Saved embeddings with more rows than the base are
repaired by resizing the base (``weightfit adapter merge`` does), not by an op;
the adapter's tokenizer (``facts["tokenizer"]``: its token count and whether the
count is exact, read by ``adapters.check``) says which
``resize_token_embeddings`` call made the rows, or that ids past the base's
rows have none when the adapter saved no embeddings.
"""

from __future__ import annotations

from weightfit.diagnose._context import Context
from weightfit.diagnose.embeddings import padding_multiple
from weightfit.findings import Finding
from weightfit.manifest import Manifest
from weightfit.peft.config import PEFT_PREFIX


def adapter_vocab(ctx: Context) -> None:
    """The rule: resize advice on saved embeddings, then the tokenizer's count."""
    for finding in ctx.findings:
        if finding.category == "vocab_resize" and "checkpoint_rows" in finding.evidence:
            _resize_advice(finding)
    counted: tuple[int, bool] | None = ctx.facts.get("tokenizer")
    if counted is not None:
        for finding in _tokenizer(counted, ctx.findings, ctx.target):
            ctx.add(finding)


def _resize_advice(finding: Finding) -> None:
    """Point a saved-embeddings ``vocab_resize`` at the merge, which resizes the base first."""
    have, want = finding.evidence["checkpoint_rows"], finding.evidence["model_rows"]
    if have <= want:
        return
    multiple = finding.evidence.get("pad_to_multiple_of")
    call = (
        f"model.resize_token_embeddings({want}, pad_to_multiple_of={multiple})"
        if multiple
        else f"model.resize_token_embeddings({have})"
    )
    finding.fix = []
    finding.fix_note = (
        f"the adapter saved {have}-row embeddings: resize the base to {have} rows before "
        f"attaching it ({call}); weightfit adapter merge does this itself"
    )


def _tokenizer(
    counted: tuple[int, bool], findings: list[Finding], target: Manifest
) -> list[Finding]:
    """Compare the adapter's tokenizer with the embedding rows; returns new findings."""
    count, exact = counted
    size = f"{count}" if exact else f"at least {count}"
    resize = next((f for f in findings if f.category == "vocab_resize"), None)
    if resize is not None and "checkpoint_rows" in resize.evidence:
        _explain_rows(resize, count, exact)
        return []
    base_rows = base_vocab(target)
    if base_rows is None or count <= base_rows:
        return []
    return [
        Finding(
            category="vocab_resize",
            severity="warning",
            message=(
                f"the adapter's tokenizer has {size} tokens, the base embeds {base_rows} rows, "
                "and the adapter saved no embeddings: ids past the base's rows have no row"
            ),
            params=[],
            evidence={"tokenizer_vocab": count, "tokenizer_exact": exact, "base_rows": base_rows},
            confidence=0.8 if exact else 0.6,
            fix_note=(
                f"resize the base to len(tokenizer) = {count} before attaching "
                "(model.resize_token_embeddings(len(tokenizer))); the new rows are untrained"
            ),
        )
    ]


def _explain_rows(finding: Finding, count: int, exact: bool) -> None:
    """Say which ``resize_token_embeddings`` call made the adapter's rows from its tokenizer."""
    rows = finding.evidence["checkpoint_rows"]
    finding.evidence["tokenizer_vocab"] = count
    finding.evidence["tokenizer_exact"] = exact
    if rows == count:
        finding.message += f"; the adapter's tokenizer has exactly {count} tokens"
        finding.evidence["tokenizer_pad_to_multiple_of"] = None
        return
    multiple = padding_multiple(count, rows) if exact else None
    finding.evidence["tokenizer_pad_to_multiple_of"] = multiple
    if multiple:
        call = f"resize_token_embeddings({count}, pad_to_multiple_of={multiple})"
        # The tokenizer settles the padding the row counts alone could only guess.
        finding.evidence["pad_to_multiple_of"] = multiple
        finding.message = finding.message.split("; ", 1)[0] + (
            f"; the adapter's tokenizer has {count} tokens and {rows} is {count} rounded up "
            f"to a multiple of {multiple}: trained after {call}"
        )
        finding.fix_note = (
            f"resize the base with model.{call} (= {rows} rows) before attaching the adapter; "
            "weightfit adapter merge does this itself"
        )
    else:
        finding.message += (
            f"; the adapter's tokenizer has {'' if exact else 'at least '}{count} tokens, "
            f"which no pad_to_multiple_of turns into {rows}"
        )


def base_vocab(target: Manifest) -> int | None:
    """The base's vocabulary: ``vocab_size`` of its config, else its input embedding's rows."""
    config = target.config or {}
    for holder in (config, config.get("text_config") or {}):
        value = holder.get("vocab_size") if isinstance(holder, dict) else None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    for name, spec in target.tensors.items():
        stripped = name.removeprefix(PEFT_PREFIX)
        if stripped.endswith(("embed_tokens.weight", "wte.weight")) and spec.shape:
            return spec.shape[0]
    return None
