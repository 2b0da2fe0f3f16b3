"""``tied_weights``: a tensor absent (or stored twice) because it shares storage with another.

``lm_head.weight`` ↔ the input embedding: a checkpoint of a model with tied embeddings holds
one copy and the loader re-ties the other.
"""

from __future__ import annotations

from weightfit.diagnose._context import Context
from weightfit.diagnose.embeddings import INPUT_WORDS
from weightfit.findings import Finding
from weightfit.manifest import Manifest
from weightfit.plan import Op


def tied_weights(ctx: Context) -> None:
    """Report tied copies: absent from the checkpoint, or stored in it where the target has none."""
    _absent_copies(ctx)
    _untied_heads(ctx)
    _stored_copies(ctx)


def _untied_heads(ctx: Context) -> None:
    """Report an ``lm_head.weight`` the checkpoint's model tied and the target's keeps apart.

    A model saved with ``tie_word_embeddings=True`` writes the embedding alone; built
    untied, the model misses its head, which ``from_pretrained`` initialises at random.
    The embedding is what the checkpoint's model computed its logits with: copying it
    into the head keeps them.
    """
    theirs, ours = ctx.source.config or {}, ctx.target.config or {}
    if not theirs.get("tie_word_embeddings") or ours.get("tie_word_embeddings", True):
        return
    embedding = _input_embedding(ctx)
    paired = {p.target for p in ctx.alignment.pairs}
    if embedding is None or embedding not in paired:
        return
    shape = ctx.target[embedding].shape
    heads = _output_heads(ctx.missing(), ctx.target, shape)
    if not heads:
        return
    ctx.add(
        Finding(
            category="tied_weights",
            severity="error",
            message=(
                f"{heads[0]} is absent because the checkpoint's config ties it to {embedding} "
                "(tie_word_embeddings=true) and the model's does not"
            ),
            params=heads,
            evidence={"tied": dict.fromkeys(heads, embedding), "source": "checkpoint config"},
            confidence=0.9,
            fix=[Op("copy", {"name": embedding, "into": heads}, "tied_weights: untied head")],
            fix_note=(
                "copying the embedding is exact: the head starts as the checkpoint's tied one; "
                "or build the model with tie_word_embeddings=True"
            ),
        )
    )
    ctx.consume(missing=heads)


def _stored_copies(ctx: Context) -> None:
    """Report a checkpoint's extra ``lm_head.weight`` that the configuration ties to the embeddings.

    ``torch.save(model.state_dict())`` keeps both names of a tied tensor;
    ``save_pretrained`` writes one. Against a saved folder, the copy is left over.
    """
    config = ctx.target.config or ctx.source.config or {}
    if not config.get("tie_word_embeddings"):
        return
    embedding = _input_embedding(ctx)
    if embedding is None:
        return
    shape = ctx.target[embedding].shape
    copies = _output_heads(ctx.unexpected(), ctx.source, shape)
    if not copies:
        return
    ctx.add(
        Finding(
            category="tied_weights",
            severity="info",
            message=(
                f"{copies[0]} is a stored copy of {embedding}, which the configuration ties it "
                "to (torch.save keeps both names of a tied tensor; save_pretrained writes one)"
            ),
            params=copies,
            evidence={"tied": dict.fromkeys(copies, embedding), "source": "config"},
            confidence=0.85,
            fix=[Op("drop", {"name": name}, "tied_weights: stored copy") for name in copies],
            fix_note="dropping it is exact: the model re-ties it to the embeddings",
        )
    )
    ctx.consume(unexpected=copies)


def _absent_copies(ctx: Context) -> None:
    """Report tensors absent because they are tied to another one the checkpoint has."""
    tied = dict(ctx.target.extras.get("tied") or {})
    config = ctx.target.config or ctx.source.config or {}
    paired_targets = {p.target: p for p in ctx.alignment.pairs}
    found: list[tuple[str, str]] = []
    for name in ctx.missing():
        original = tied.get(name)
        if (
            original is None
            and config.get("tie_word_embeddings")
            and name.endswith("lm_head.weight")
        ):
            original = _input_embedding(ctx)
        if original is not None and original in paired_targets:
            found.append((name, original))
    if not found:
        return
    copies = [copy for copy, _ in found]
    first_copy, first_original = found[0]
    ctx.add(
        Finding(
            category="tied_weights",
            severity="info",
            message=(
                f"{first_copy} is absent because it is tied to {first_original}, which the "
                f"checkpoint has (save_pretrained and safetensors leave the tied copy out)"
                + (f" (+{len(found) - 1} more)" if len(found) > 1 else "")
            ),
            params=copies,
            evidence={"tied": dict(found), "source": "target ties" if tied else "config"},
            confidence=0.95 if tied else 0.8,
            fix_note=(
                "nothing to convert: from_pretrained re-ties it; with load_state_dict use "
                "strict=False, then model.tie_weights()"
            ),
        )
    )
    ctx.consume(missing=copies)


def _input_embedding(ctx: Context) -> str | None:
    """Return the target's input embedding: the first embedding-like weight."""
    for name in ctx.target.tensors:
        if any(word in name.lower() for word in INPUT_WORDS) and name.endswith(".weight"):
            return name
    return None


def _output_heads(names: list[str], side: Manifest, shape: tuple[int, ...]) -> list[str]:
    """The ``lm_head.weight`` names among ``names`` whose shape on ``side`` is ``shape``."""
    return [n for n in names if n.endswith("lm_head.weight") and side[n].shape == shape]
