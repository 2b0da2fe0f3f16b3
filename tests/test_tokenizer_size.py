"""The two meanings of a tokenizer's size, on a real tokenizer whose ids have a hole."""

from __future__ import annotations

import json
from pathlib import Path

from weightfit.tokenizer_size import (
    added_decoder_ids,
    id_span,
    token_count,
    tokenizer_json_ids,
)


def _holey_tokenizer(folder: Path) -> int:
    """Save a word-level tokenizer with ids 0..9 and 20, plus one added token; its length."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    vocab = {f"w{i}": i for i in range(10)} | {"far": 20}
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(WordLevel(vocab, unk_token="w0")), unk_token="w0"
    )
    tokenizer.add_tokens(["<new>"])
    tokenizer.save_pretrained(folder)
    return len(tokenizer)


def test_count_is_len_tokenizer_and_span_is_largest_id_plus_one(tmp_path: Path) -> None:
    length = _holey_tokenizer(tmp_path)
    data = json.loads((tmp_path / "tokenizer.json").read_text())
    ids = tokenizer_json_ids(data)
    assert token_count(ids) == length
    assert id_span(ids) == max(ids) + 1 > length


def test_added_tokens_decoder_and_empty() -> None:
    assert added_decoder_ids({"added_tokens_decoder": {"5": {}, "12": {}, "x": {}}}) == {5, 12}
    assert added_decoder_ids({"added_tokens_decoder": ["5"]}) == set()
    assert id_span(set()) is None
    assert token_count(set()) is None
