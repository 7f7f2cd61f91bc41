"""A fine-tuning job's spec: what to train on, where to publish, and its hyper-parameters.

Hyper-parameters come from the submitted spec; what it leaves out comes from the profile's
defaults (``cluster/finetune.yaml``: fractional CPUs on the CPU profile, bf16 on GPUs). The
trainer never hard-codes any of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from infra.settings import PROJECT_ROOT

DEFAULTS = PROJECT_ROOT / "cluster" / "finetune.yaml"


class HyperParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lora_r: int = Field(ge=1, le=256)
    lora_alpha: int = Field(ge=1, le=1024)
    lora_dropout: float = Field(ge=0.0, lt=1.0)
    target_modules: list[str] = Field(min_length=1)
    learning_rate: float = Field(gt=0, le=1.0)
    max_steps: int = Field(ge=1, le=100_000)
    batch_size: int = Field(ge=1, le=1024)
    max_len: int = Field(ge=16, le=32_768)
    checkpoint_every: int = Field(ge=1)
    report_every: int = Field(default=1, ge=1)  # steps between reports to Ray Train (checkpoints always report)
    eval_samples: int = Field(ge=0, le=20)
    seed: int = 7
    num_workers: int = Field(ge=1, le=64)
    cpus_per_worker: float = Field(gt=0, le=64)
    use_gpu: bool = False
    bf16: bool = False
    load_in_4bit: bool = False


def hyperparams(profile: str = "cpu", overrides: dict[str, Any] | None = None, path: Path = DEFAULTS) -> HyperParams:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if profile not in data["profiles"]:
        raise ValueError(f"no fine-tuning profile {profile!r}; one of {', '.join(data['profiles'])}")
    return HyperParams(**{**data["common"], **data["profiles"][profile], **(overrides or {})})


def base_model(profile: str, language: str, path: Path = DEFAULTS) -> str:
    """The model directory name a persona of ``language`` is served on in ``profile``."""
    models = yaml.safe_load(path.read_text(encoding="utf-8"))["base_models"].get(profile, {})
    if language not in models:
        raise ValueError(f"no base model for {language!r} personas in the {profile} profile (cluster/finetune.yaml)")
    return models[language]


class JobSpec(BaseModel):
    """Everything the job needs, written next to its dataset (the job reads nothing else)."""

    model_config = ConfigDict(extra="forbid")

    job_id: str = Field(pattern=r"^ft-[a-z0-9]{8,32}$")
    tenant_id: str | None
    persona: str
    base_model: str  # a model directory (the persona's LLM's base weights, in HF format)
    dataset_dir: str  # train.jsonl, eval.jsonl
    work_dir: str  # checkpoints, the staged adapter, progress and result
    storage_path: str  # Ray Train's run storage (checkpoints for resume)
    database_url: str | None = None
    adapters_dir: str
    params: HyperParams
