"""A dialogue as token ids and labels, with the loss on the assistant's tokens only.

Not every chat template marks where the assistant's tokens are (``{% generation %}``), so the
mask is found by rendering: for each assistant turn, the conversation up to it with the
generation prompt, and up to and including it. The tokens between the two are that turn's
answer (and its end-of-turn marker, so the model learns to stop); everything else, the system
prompt, the user's words and the template's role headers, gets the label -100 and no loss.
"""

from __future__ import annotations

from typing import Any

IGNORE = -100


def _ids(tokenizer: Any, messages: list[dict[str, str]], generation_prompt: bool) -> list[int]:
    out = tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=generation_prompt)
    if isinstance(out, dict) or hasattr(out, "keys"):  # transformers 5 may return a BatchEncoding
        out = out["input_ids"]
    return list(out)


def encode(tokenizer: Any, messages: list[dict[str, str]], max_len: int) -> tuple[list[int], list[int]]:
    """``(input_ids, labels)``; labels are -100 except on assistant tokens. Truncated to ``max_len``."""
    ids = _ids(tokenizer, messages, False)
    labels = [IGNORE] * len(ids)
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        start = len(_ids(tokenizer, messages[:i], True))
        end = len(_ids(tokenizer, messages[: i + 1], False))
        if _ids(tokenizer, messages[: i + 1], False) != ids[:end]:
            raise ValueError("the chat template does not render a conversation as a prefix of its continuation")
        labels[start:end] = ids[start:end]
    return ids[:max_len], labels[:max_len]
