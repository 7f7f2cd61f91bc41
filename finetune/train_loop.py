"""The training function each Ray Train worker runs: a peft LoRA adapter on the persona's base model.

- The loss is on the assistant's tokens only (``finetune/tokenize.py``).
- Every ``checkpoint_every`` steps rank 0 saves the adapter, the optimiser and the step as a Ray
  Train checkpoint; a worker that dies is replaced and the run resumes from the last one
  (``FailureConfig`` in ``finetune/job.py``), and so does a resubmitted job with the same id.
- Each step's loss, tokens and time are reported to Ray Train (the dashboard's Train view shows
  them; ``report_every`` > 1 thins that out where a report costs more than a step, as for tiny
  test models) and printed by rank 0 as one ``FINETUNE_PROGRESS {json}`` line, which the CLI
  reads from the job's logs for its progress bar.
- The adapter is LoRA on the configured modules only, never ``modules_to_save``: vLLM loads
  exactly that format.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

PROGRESS = "FINETUNE_PROGRESS"


def _batches(shard: Any, batch_size: int):
    """Rows of the worker's dataset shard, epoch after epoch (the step budget ends training)."""
    while True:
        empty = True
        for batch in shard.iter_batches(batch_size=batch_size, batch_format="pyarrow"):
            empty = False
            yield batch.to_pylist()
        if empty:
            raise RuntimeError("this worker's share of the dataset is empty")


def _collate(tokenizer: Any, rows: list[dict], max_len: int) -> tuple[Any, Any, Any, int]:
    import torch

    from finetune.tokenize import IGNORE, encode

    encoded = [encode(tokenizer, row["messages"], max_len) for row in rows]
    width = max(len(ids) for ids, _ in encoded)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    ids = torch.full((len(encoded), width), pad, dtype=torch.long)
    labels = torch.full((len(encoded), width), IGNORE, dtype=torch.long)
    attention = torch.zeros((len(encoded), width), dtype=torch.long)
    for i, (x, y) in enumerate(encoded):
        ids[i, : len(x)] = torch.tensor(x)
        labels[i, : len(y)] = torch.tensor(y)
        attention[i, : len(x)] = 1
    return ids, labels, attention, int(attention.sum())


def load_base(spec: Any) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    p = spec.params
    tokenizer = AutoTokenizer.from_pretrained(spec.base_model)
    kwargs: dict[str, Any] = {"dtype": torch.bfloat16 if p.bf16 else torch.float32}
    if p.load_in_4bit:  # GPU only: bitsandbytes quantises the frozen base
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_compute_dtype=torch.bfloat16)
    model = AutoModelForCausalLM.from_pretrained(spec.base_model, **kwargs)
    return tokenizer, model


def train_loop_per_worker(config: dict) -> None:
    import ray.train
    import torch
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
    from peft.utils import get_peft_model_state_dict

    from finetune.spec import JobSpec

    spec = JobSpec(**config["spec"])
    p = spec.params
    torch.manual_seed(p.seed)
    torch.set_num_threads(max(1, int(p.cpus_per_worker)))
    tokenizer, base = load_base(spec)
    lora = LoraConfig(
        r=p.lora_r,
        lora_alpha=p.lora_alpha,
        lora_dropout=p.lora_dropout,
        target_modules=p.target_modules,
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(base, lora)
    optimizer = torch.optim.AdamW([w for w in model.parameters() if w.requires_grad], lr=p.learning_rate)
    step = 0
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is not None:  # a replaced worker or a resubmitted job: go on from the last checkpoint
        with checkpoint.as_directory() as d:
            set_peft_model_state_dict(model, torch.load(Path(d) / "adapter_state.pt", weights_only=True))
            optimizer.load_state_dict(torch.load(Path(d) / "optimizer.pt", weights_only=True))
            step = json.loads((Path(d) / "state.json").read_text())["step"]
    model = ray.train.torch.prepare_model(model)
    model.train()
    rank = ray.train.get_context().get_world_rank()
    shard = ray.train.get_dataset_shard("train")
    batches = _batches(shard, p.batch_size)
    while step < p.max_steps:
        t0 = time.monotonic()
        ids, labels, attention, tokens = _collate(tokenizer, next(batches), p.max_len)
        loss = model(input_ids=ids, attention_mask=attention, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        step += 1
        metrics = {"step": step, "loss": float(loss.detach()), "tokens": tokens, "step_s": time.monotonic() - t0}
        if rank == 0:
            print(f"{PROGRESS} {json.dumps({**metrics, 'max_steps': p.max_steps})}", flush=True)
        if step % p.checkpoint_every == 0 or step == p.max_steps:  # every worker takes the same branches
            with tempfile.TemporaryDirectory() as tmp:
                saved = None
                if rank == 0:
                    inner = model.module if hasattr(model, "module") else model
                    torch.save(get_peft_model_state_dict(inner), Path(tmp) / "adapter_state.pt")
                    torch.save(optimizer.state_dict(), Path(tmp) / "optimizer.pt")
                    (Path(tmp) / "state.json").write_text(json.dumps({"step": step}))
                    if step == p.max_steps:  # the adapter itself, as vLLM loads it
                        inner.save_pretrained(Path(tmp) / "adapter")
                    saved = ray.train.Checkpoint.from_directory(tmp)
                ray.train.report(metrics, checkpoint=saved)
        elif step % p.report_every == 0:
            ray.train.report(metrics)
