"""Real tiny bases and real PEFT adapters for the ``test_adapter_*`` files.

Bases are transformers models from small configs, saved with ``save_pretrained``;
adapters are ``get_peft_model`` LoRAs trained one SGD step (so ``B`` is not zero)
and saved with ``save_pretrained``; tokenizers are real ``tokenizers`` objects
saved through ``PreTrainedTokenizerFast``. Expected merges come from PEFT's own
``merge_and_unload``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file


def tiny_llama(vocab: int = 1000, hidden: int = 32, layers: int = 2, seed: int = 0) -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=4,
        tie_word_embeddings=False,
    )
    return LlamaForCausalLM(config)


def tiny_gpt2(vocab: int = 1000, hidden: int = 32, layers: int = 2, seed: int = 0) -> Any:
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=vocab,
        n_embd=hidden,
        n_layer=layers,
        n_head=4,
        n_positions=64,
        bos_token_id=0,
        eos_token_id=0,
    )
    return GPT2LMHeadModel(config)


def train_lora(model: Any, folder: Path, *, steps: int = 1, **lora: Any) -> Any:
    """Wrap ``model`` in a LoRA (``LoraConfig(**lora)``), train ``steps`` SGD steps, save it."""
    from peft import LoraConfig, get_peft_model

    lora.setdefault("r", 4)
    lora.setdefault("lora_alpha", 8)
    lora.setdefault("task_type", "CAUSAL_LM")
    peft_model = get_peft_model(model, LoraConfig(**lora))
    optimizer = torch.optim.SGD([p for p in peft_model.parameters() if p.requires_grad], lr=0.1)
    vocab = model.get_input_embeddings().weight.shape[0]
    for _ in range(steps):
        ids = torch.randint(0, vocab, (2, 8))
        peft_model(input_ids=ids, labels=ids).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    peft_model.save_pretrained(folder)
    return peft_model


def save_tokenizer(folder: Path, base_tokens: int, added: int) -> int:
    """Save a word-level tokenizer of ``base_tokens`` plus ``added`` tokens; return its length."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    vocab = {f"w{i}": i for i in range(base_tokens)}
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(WordLevel(vocab, unk_token="w0")), unk_token="w0"
    )
    tokenizer.add_tokens([f"<new{i}>" for i in range(added)])
    tokenizer.save_pretrained(folder)
    return len(tokenizer)


def peft_merged(base: Path, adapter: Path, rows: int | None = None, cls: Any = None) -> dict:
    """PEFT's own merge: load the base (resized to ``rows``), attach, ``merge_and_unload``."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = (cls or AutoModelForCausalLM).from_pretrained(base)
    if rows is not None:
        model.resize_token_embeddings(rows)
    merged = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    return {name: value.detach() for name, value in merged.state_dict().items()}


def rename_weights(source: Path, out: Path, old: str, new: str) -> Path:
    """Copy a ``model.safetensors`` with every name starting ``old`` renamed to start ``new``."""
    tensors = load_file(source)
    renamed = {
        (new + name[len(old) :] if name.startswith(old) else name): value
        for name, value in tensors.items()
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(renamed, out, metadata={"format": "pt"})
    return out
