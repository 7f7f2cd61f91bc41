"""The persona registry on SQLite and PostgreSQL: CRUD, seeding, adapters, validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from infra.database import upgrade
from infra.settings import PROJECT_ROOT
from personas.registry import PersonaExists, PersonaNotFound, PersonaRegistry
from personas.schemas import Persona


def persona(name: str = "olga", **over) -> Persona:
    base = dict(
        name=name,
        display_name=name.title(),
        language="ru",
        voice="joe",
        system_prompt="Ты секретарь.",
        lines=dict(
            greeting="Здравствуйте!",
            recording_notice="Идёт запись.",
            farewell="До свидания!",
            silence_prompt="Алло?",
            hangup_line="Не слышно, до свидания.",
            apology="Извините, перезвоните позже.",
        ),
    )
    return Persona(**{**base, **over})


@pytest.fixture
async def registry(db_url, tmp_path):
    await upgrade(db_url)
    return PersonaRegistry(db_url, models_dir=tmp_path)


async def test_crud(registry):
    created = await registry.create(persona())
    assert created.status == "available"
    with pytest.raises(PersonaExists):
        await registry.create(persona())
    updated = await registry.update("olga", persona(display_name="Ольга"))
    assert updated.display_name == "Ольга" and (await registry.get("olga")).display_name == "Ольга"
    assert [p.name for p in await registry.list()] == ["olga"]
    with pytest.raises(ValueError, match="cannot change"):
        await registry.update("olga", persona(name="olga2"))
    await registry.delete("olga")
    with pytest.raises(PersonaNotFound):
        await registry.get("olga")
    with pytest.raises(PersonaNotFound):
        await registry.delete("olga")
    with pytest.raises(PersonaNotFound):
        await registry.update("olga", persona())


async def test_seed_adds_missing_and_keeps_edits(registry):
    added = await registry.seed(PROJECT_ROOT / "cluster" / "personas.yaml")
    assert sorted(added) == ["anna", "marina"]
    anna = await registry.get("anna")
    await registry.update("anna", anna.model_copy(update={"display_name": "Anna (edited)"}))
    assert await registry.seed(PROJECT_ROOT / "cluster" / "personas.yaml") == []
    assert (await registry.get("anna")).display_name == "Anna (edited)"
    marina = await registry.get("marina")
    assert marina.language == "ru" and "Марина" in marina.lines.greeting


async def test_a_missing_or_broken_adapter_marks_the_persona_unavailable(registry, tmp_path):
    missing = await registry.create(persona("p1", adapter={"name": "p1", "version": 1, "path": "adapters/p1/v1"}))
    assert missing.status == "unavailable" and "does not exist" in missing.status_reason
    broken = tmp_path / "adapters" / "p2" / "v1"
    broken.mkdir(parents=True)
    (broken / "adapter_config.json").write_text("{}")
    p2 = await registry.create(persona("p2", adapter={"name": "p2", "version": 1, "path": str(broken)}))
    assert p2.status == "unavailable" and "adapter_model" in p2.status_reason
    (broken / "adapter_model.safetensors").write_bytes(b"\0")
    fixed = await registry.update("p2", persona("p2", adapter={"name": "p2", "version": 1, "path": str(broken)}))
    assert fixed.status == "available" and fixed.status_reason is None
    # the others keep working
    assert (await registry.create(persona("p3"))).status == "available"


async def test_tenants_do_not_see_each_others_personas(db_url):
    await upgrade(db_url)
    a, b = PersonaRegistry(db_url, tenant_id="a"), PersonaRegistry(db_url, tenant_id="b")
    await a.create(persona("olga"))
    assert await b.list() == []
    with pytest.raises(PersonaNotFound):
        await b.get("olga")
    with pytest.raises(PersonaNotFound):
        await b.delete("olga")


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "Olga"},
        {"name": "o"},
        {"name": "olga;drop"},
        {"language": "russian"},
        {"timezone": "Mars/Olympus"},
        {"extra": 1},
        {"sampling": {"temperature": 5}},
        {"adapter": {"name": "x", "version": 0, "path": "p"}},
    ],
)
def test_validation(bad):
    with pytest.raises(ValidationError):
        persona(**bad)


def test_session_config_feeds_the_pipeline():
    from pipeline.session import SessionConfig

    config = SessionConfig.from_dict(persona().session_config(), sample_rate=8000)
    assert config.language == "ru" and config.greeting == "Здравствуйте!" and config.apology.startswith("Извините")
