"""A tokenizer's size, in its two meanings, from its JSON files alone.

A tokenizer's ids can have holes (an added token at id 256,002 beside a
256,000-token vocabulary), so "how big is it" has two answers, named apart:

- :func:`id_span`, the largest id + 1: the rows an embedding needs so that
  every id the tokenizer can produce indexes it. ``lint`` (WF503, tokenizer
  exceeds ``vocab_size``) needs this one.
- :func:`token_count`, the distinct ids: ``len(tokenizer)``, the rows
  ``resize_token_embeddings(len(tokenizer))`` makes. ``adapter check`` (whether
  saved embedding rows were made for the adapter's tokenizer) needs this one.

The id collectors read already-parsed JSON; each caller reads the files its
own way (lint through its context, the adapter check with its size limits).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def tokenizer_json_ids(data: Mapping[str, Any]) -> set[int]:
    """Ids of a ``tokenizer.json``: its model vocabulary and its added tokens."""
    model = data.get("model")
    vocab = model.get("vocab") if isinstance(model, dict) else None
    ids: set[int] = set()
    if isinstance(vocab, dict):
        ids.update(i for i in vocab.values() if isinstance(i, int))
    elif isinstance(vocab, list):
        ids.update(range(len(vocab)))
    for token in data.get("added_tokens") or []:
        if isinstance(token, dict) and isinstance(token.get("id"), int):
            ids.add(token["id"])
    return ids


def vocab_json_ids(data: Mapping[str, Any]) -> set[int]:
    """Ids of a ``vocab.json`` (token → id)."""
    return {i for i in data.values() if isinstance(i, int)}


def added_decoder_ids(data: Mapping[str, Any]) -> set[int]:
    """Ids of a ``tokenizer_config.json``'s ``added_tokens_decoder`` (id → token)."""
    added = data.get("added_tokens_decoder")
    if not isinstance(added, dict):
        return set()
    return {int(k) for k in added if str(k).isdigit()}


def id_span(ids: Iterable[int]) -> int | None:
    """The largest id + 1 (``None`` for no ids): the rows every id needs."""
    found = list(ids)
    return max(found) + 1 if found else None


def token_count(ids: Iterable[int]) -> int | None:
    """The distinct ids (``None`` for none): ``len(tokenizer)``."""
    found = set(ids)
    return len(found) if found else None
