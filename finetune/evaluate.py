"""How good an adapter is on the held-out dialogues: the loss on the assistant's tokens, and a few replies.

The same measure for the base model, the persona's current adapter and the new one, so the job
can decide whether the new one is better (only then is it published) and the owner can compare
sample replies side by side.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from finetune.tokenize import IGNORE, encode


def assistant_loss(model: Any, tokenizer: Any, dialogues: list[list[dict[str, str]]], max_len: int) -> float:
    """Mean cross-entropy per assistant token over the dialogues."""
    import torch

    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for messages in dialogues:
            ids, labels = encode(tokenizer, messages, max_len)
            n = sum(1 for y in labels[1:] if y != IGNORE)
            if n == 0:
                continue
            out = model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels]))
            total += float(out.loss) * n
            count += n
    if count == 0:
        raise ValueError("the evaluation dialogues have no assistant tokens")
    return total / count


def sample_replies(model: Any, tokenizer: Any, dialogues: list[list[dict[str, str]]], n: int) -> list[dict[str, str]]:
    """Greedy replies to the first user turn of ``n`` held-out dialogues, next to what the owner said."""
    import torch

    out = []
    model.eval()
    for messages in dialogues[:n]:
        first = next((i for i, m in enumerate(messages) if m["role"] == "assistant"), None)
        if first is None:
            continue
        prompt = messages[:first]
        ids = tokenizer.apply_chat_template(prompt, tokenize=True, add_generation_prompt=True, return_tensors="pt")
        ids = ids["input_ids"] if hasattr(ids, "keys") else ids
        with torch.no_grad():
            gen = model.generate(ids, max_new_tokens=48, do_sample=False, pad_token_id=tokenizer.pad_token_id)
        reply = tokenizer.decode(gen[0, ids.shape[1] :], skip_special_tokens=True).strip()
        out.append({"prompt": prompt[-1]["content"], "owner": messages[first]["content"], "reply": reply})
    return out


def evaluate(base_dir: str, adapter_dir: str | Path | None, eval_set: list, max_len: int, samples: int) -> dict:
    """Loss (and sample replies) of the base model, or of the base with ``adapter_dir``."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    if adapter_dir is not None:
        model = PeftModel.from_pretrained(model, str(adapter_dir))
    return {
        "loss": round(assistant_loss(model, tokenizer, eval_set, max_len), 4),
        "samples": sample_replies(model, tokenizer, eval_set, samples),
    }
