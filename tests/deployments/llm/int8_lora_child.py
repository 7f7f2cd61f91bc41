"""Run in a fresh process by test_int8_without_amx.py: an int8 tiny model with LoRA on, one engine.

A process of its own because ``SECRETARY_CPU_ASSUME_NO_AMX`` changes torch's answer for the
whole process (and vLLM's engine core that it starts), which must not leak into other tests.
Prints one ``RESULT {json}`` line: the plan, base and adapter tokens, and what the worker holds
in place of a prepacked int8 weight.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

PROMPT = [{"role": "user", "content": "Hello, how are you?"}]


def first_qkv_weight(worker) -> dict:
    """Inside vLLM's worker: the first attention projection's int8 weight as the kernel left it."""
    model = worker.model_runner.model
    layer = model.model.layers[0].self_attn.qkv_proj
    base = getattr(layer, "base_layer", layer)  # wrapped by LoRA
    weight = base.weight
    return {
        "lora_wrapped": base is not layer,
        "weight_dtype": str(weight.dtype) if weight is not None else None,
        "weight_numel": int(weight.numel()) if weight is not None else None,
    }


async def run(tiny: Path) -> dict:
    from vllm.lora.request import LoRARequest

    from deployments.llm.engine import SamplingOptions, VLLMChatEngine, VLLMConfig

    config = VLLMConfig(
        model_id="tiny-int8",
        path=str(tiny / "int8"),
        default_max_tokens=8,
        max_adapters=1,
        engine_args={
            "dtype": "float32",
            "enforce_eager": True,
            "max_model_len": 256,
            "max_num_seqs": 4,
            "enable_lora": True,
            "max_lora_rank": 8,
            "lora_target_modules": ["qkv_proj", "o_proj"],
        },
        env={"VLLM_CPU_KVCACHE_SPACE": "1", "SECRETARY_CPU_LORA_OPS": "grouped", "VLLM_CPU_OMP_THREADS_BIND": "{last_cpu}"},
    )
    engine = VLLMChatEngine(config)
    try:
        opts = SamplingOptions(max_tokens=8, temperature=0.0, ignore_eos=True)

        async def tokens(lora=None) -> list[int]:
            last = None
            async for delta in engine.chat(PROMPT, opts, lora_request=lora):
                last = delta
            return list(last.token_ids)

        base = await tokens()
        adapted = await tokens(LoRARequest("lora-0", 1, str(tiny / "lora-0")))
        worker = (await engine.engine.collective_rpc(first_qkv_weight))[0]
        return {"plan": engine.plan.as_dict(), "base": base, "adapter": adapted, "worker": worker}
    finally:
        engine.shutdown()


if __name__ == "__main__":
    # collective_rpc sends first_qkv_weight to the worker by pickle, which vLLM allows only on request.
    os.environ["VLLM_ALLOW_INSECURE_SERIALIZATION"] = "1"
    print("RESULT " + json.dumps(asyncio.run(run(Path(sys.argv[1])))), flush=True)
