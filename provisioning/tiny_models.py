"""Tiny random models for fast tests: a 2-layer Llama with its own BPE tokenizer, and LoRA adapters.

Nothing is downloaded: the tokenizer is trained here on a few lines of English and Russian, the
weights are random with a fixed seed. vLLM loads the directory like any Hugging Face model, so
tests of engine plumbing (streaming, batching, LoRA routing) run in seconds instead of loading a
real model. Adapters get non-zero ``lora_B`` weights so they really change the output.
"""

from __future__ import annotations

import json
from pathlib import Path

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CORPUS = [
    "Hello, you have reached the office. How can I help you today?",
    "Здравствуйте, вы позвонили в офис. Чем могу помочь?",
    "Please leave a message after the tone and we will call you back.",
    "Оставьте сообщение, и мы вам перезвоним.",
    "Our opening hours are nine to six, Monday to Friday.",
    "Мы работаем с девяти до шести, с понедельника по пятницу.",
] * 20
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def _train_tokenizer(out: Path, vocab_size: int) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out)


def build_tiny_llm(out: Path, adapters: int = 2, hidden: int = 128, layers: int = 2, rank: int = 8, seed: int = 0) -> Path:
    """Write ``out/base`` (model + tokenizer) and ``out/lora-<i>`` adapters; returns ``out``."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from provisioning.adapters import random_adapters

    out = Path(out)
    base = out / "base"
    base.mkdir(parents=True, exist_ok=True)
    _train_tokenizer(base, vocab_size=512)
    tok = AutoTokenizer.from_pretrained(base)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        # head_dim 64: vLLM's CPU attention kernels reject small head sizes such as 16.
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=1024,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=False,
        dtype="float32",
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(base, safe_serialization=True)
    (base / "generation_config.json").write_text(
        json.dumps({"bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id})
    )
    random_adapters(base, out, [f"lora-{i}" for i in range(adapters)], rank=rank, std=0.5, seed=seed)
    return out
