"""Evaluation and publishing in-process (what the job runs after training): better adapters only, versions, rollback."""

from __future__ import annotations

import json
import uuid

import pytest

from finetune.dataset import prepare
from finetune.job import Progress, evaluate_and_publish
from finetune.publish import roll_back, use_version
from finetune.sources.telegram import dialogues_from_export
from finetune.spec import JobSpec, hyperparams
from finetune.train_loop import _collate
from finetune.versions import AdapterVersions
from infra.database import upgrade
from personas.adapter_store import AdapterStore
from personas.registry import PersonaRegistry
from personas.schemas import Persona
from tests.finetune.telegram_fixture import export_bytes

LINES = {"greeting": "Hi", "farewell": "Bye", "silence_prompt": "Hello?", "hangup_line": "Bye", "apology": "Sorry"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from provisioning.tiny_models import build_tiny_llm

    return build_tiny_llm(tmp_path_factory.mktemp("tiny"), adapters=1)


def train_adapter(base: str, dataset, out, steps: int = 30) -> None:
    """A few plain PyTorch steps of the job's own LoRA setup and collation (no Ray): a better adapter."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(base),
        LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], task_type="CAUSAL_LM"),
    )
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    rows = [{"messages": d.messages} for d in dataset.train]
    for step in range(steps):
        ids, labels, attention, _ = _collate(tokenizer, rows[(step * 4) % len(rows) :][:4] or rows[:4], 256)
        model(input_ids=ids, attention_mask=attention, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(out)


async def test_only_a_better_adapter_is_published_then_rolled_back(db_url, tmp_path, tiny):
    await upgrade(db_url)
    tenant, name = f"t{uuid.uuid4().hex[:8]}", f"anna-{uuid.uuid4().hex[:6]}"
    store = AdapterStore(tmp_path / "adapters")
    registry = PersonaRegistry(db_url, tenant, adapters=store)
    await registry.create(Persona(name=name, display_name="A", language="en", system_prompt="x", lines=LINES, voice="joe"))
    dataset = prepare(dialogues_from_export(export_bytes()))
    dataset.write(tmp_path / "data")
    base = str(tiny / "base")

    def spec(job: str) -> JobSpec:
        return JobSpec(
            job_id=job,
            tenant_id=tenant,
            persona=name,
            base_model=base,
            dataset_dir=str(tmp_path / "data"),
            work_dir=str(tmp_path / job),
            storage_path=str(tmp_path / "runs"),
            database_url=db_url,
            adapters_dir=str(store.root),
            params=hyperparams("cpu", {"eval_samples": 2}),
        )

    trained = tmp_path / "trained"
    train_adapter(base, dataset, trained)
    (tmp_path / "ft-aaaaaaaa0001").mkdir()
    outcome = await evaluate_and_publish(spec("ft-aaaaaaaa0001"), trained, Progress(tmp_path / "ft-aaaaaaaa0001"))
    assert outcome["published"] and outcome["version"] == 1, outcome
    ev = outcome["evaluation"]
    assert ev["new"]["loss"] < ev["base"]["loss"] and "current" not in ev
    assert len(ev["new"]["samples"]) == 2 and {"prompt", "owner", "reply"} <= set(ev["new"]["samples"][0])
    first = await registry.get(name)
    assert first.adapter.version == 1 and first.status == "available"
    # A worse adapter (random weights) against the published one: evaluated, recorded, not published.
    (tmp_path / "ft-aaaaaaaa0002").mkdir()
    worse = await evaluate_and_publish(spec("ft-aaaaaaaa0002"), tiny / "lora-0", Progress(tmp_path / "ft-aaaaaaaa0002"))
    assert worse["published"] is False and worse["evaluation"]["current"]["loss"] <= worse["evaluation"]["new"]["loss"]
    assert (await registry.get(name)).adapter == first.adapter
    # A second better one becomes v3 (v2 was the rejected one), and rolling back returns v1.
    better = tmp_path / "better"
    train_adapter(base, dataset, better, steps=60)
    (tmp_path / "ft-aaaaaaaa0003").mkdir()
    third = await evaluate_and_publish(spec("ft-aaaaaaaa0003"), better, Progress(tmp_path / "ft-aaaaaaaa0003"))
    assert third["published"] and third["version"] == 3, third["evaluation"]
    versions = AdapterVersions(db_url, tenant)
    assert [(v.version, v.status) for v in await versions.list(name)] == [
        (1, "published"),
        (2, "rejected"),
        (3, "published"),
    ]
    back = await roll_back(registry, versions, name)
    assert back["version"] == 1 and (await registry.get(name)).adapter.version == 1
    # The owner changes their mind: v3 is served again; the rejected v2 has nothing to serve.
    again = await use_version(registry, versions, name, 3)
    assert again["version"] == 3 and (await registry.get(name)).adapter.version == 3
    assert [(v.version, v.status) for v in await versions.list(name)] == [
        (1, "published"),
        (2, "rejected"),
        (3, "published"),
    ]
    with pytest.raises(LookupError):
        await use_version(registry, versions, name, 2)
    back = await roll_back(registry, versions, name)
    assert back["version"] == 1
    assert await roll_back(registry, versions, name) is None and (await registry.get(name)).adapter is None
    with pytest.raises(LookupError):
        await roll_back(registry, versions, name)
    # Nothing half-written in the store: two complete version directories, no staging left.
    entries = sorted(p.name for p in (store.root / tenant / name).iterdir())
    assert entries == ["v1-ft-aaaaaaaa0001", "v3-ft-aaaaaaaa0003"]
    assert json.loads((store.root / tenant / name / entries[0] / "adapter_config.json").read_text())["r"] == 8
