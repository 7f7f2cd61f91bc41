"""LoRA adapters with random weights for a local base model: test and benchmark fixtures.

Real persona adapters come from fine-tuning (``finetune/``). To test serving (routing, hot-load,
batching, eviction) and to measure adapter overhead, any adapter of the right shape will do, as
long as it really changes the output: ``lora_B`` is drawn from N(0, ``std``) instead of peft's
zeros. A small ``std`` keeps a real model's replies fluent while still changing them.
"""

from __future__ import annotations

from pathlib import Path


def random_adapters(
    base: Path,
    out: Path,
    names: list[str],
    rank: int = 8,
    std: float = 0.02,
    seed: int = 0,
    target_modules: tuple[str, ...] = ("q_proj", "v_proj", "o_proj"),
) -> list[Path]:
    """Write one adapter directory per name under ``out``; returns their paths."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    out = Path(out)
    paths = []
    for i, name in enumerate(names):
        torch.manual_seed(seed + 1 + i)
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
        config = LoraConfig(
            r=rank, lora_alpha=2 * rank, target_modules=list(target_modules), lora_dropout=0.0, init_lora_weights=False
        )
        peft_model = get_peft_model(model, config)
        with torch.no_grad():
            for pname, p in peft_model.named_parameters():
                if "lora_B" in pname:
                    p.normal_(0, std)
        peft_model.save_pretrained(out / name)
        paths.append(out / name)
    return paths
