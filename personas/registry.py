"""The persona registry: the ``personas`` table, CRUD, and seeding from a YAML file.

Seeding inserts personas that are missing and never overwrites one an owner has edited. A
persona whose adapter directory is missing or incomplete is kept but marked unavailable with the
reason, so the others keep working.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import JSON, DateTime, Integer, String, Text, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from infra.database import Base, session_factory, transaction, utcnow
from personas.adapter_store import ADAPTER_FILES, AdapterStore
from personas.schemas import Persona, PersonaOut


class PersonaExists(ValueError):
    pass


class PersonaNotFound(KeyError):
    pass


class PersonaRow(Base):
    __tablename__ = "personas"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str | None] = mapped_column(String(64), index=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="available")
    status_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class FaqHitRow(Base):
    """How often each FAQ entry answered (keyed by its normalised question's hash)."""

    __tablename__ = "persona_faq_hits"

    persona: Mapped[str] = mapped_column(String(32), primary_key=True)
    entry_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer, default=0)
    last_hit_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def adapter_problem(persona: Persona, models_dir: Path | None = None) -> str | None:
    """Why the persona's adapter cannot be loaded, or None if it looks complete."""
    if persona.adapter is None:
        return None
    path = Path(persona.adapter.path)
    if not path.is_absolute() and models_dir is not None:
        path = models_dir / path
    if not path.is_dir():
        return f"adapter directory {path} does not exist"
    missing = [f for f in ADAPTER_FILES if not (path / f).is_file()]
    if missing or not any(path.glob("adapter_model.*")):
        return f"adapter directory {path} lacks {', '.join(missing) or 'adapter_model.*'}"
    return None


def _spec(persona: Persona) -> Persona:
    """Only the persona's own fields (a ``PersonaOut`` passed back in carries its status too)."""
    return Persona(**persona.model_dump(include=set(Persona.model_fields)))


def _out(row: PersonaRow) -> PersonaOut:
    return PersonaOut(**row.spec, status=row.status, status_reason=row.status_reason)


class PersonaRegistry:
    def __init__(
        self,
        url: str | None = None,
        tenant_id: str | None = None,
        models_dir: Path | None = None,
        with_shared: bool = False,
        adapters: AdapterStore | None = None,
    ) -> None:
        """``tenant_id``: see and change only that tenant's personas (None: all, the operator's view).
        ``with_shared``: also *see* the installation's shared personas (no tenant), as ``/v1`` does.
        ``adapters``: the adapter store that checks published adapters (their tenant, their files)."""
        self.url, self.tenant_id, self.models_dir, self.with_shared = url, tenant_id, models_dir, with_shared
        self.adapters = adapters

    def scoped(self, tenant_id: str | None, with_shared: bool = True) -> PersonaRegistry:
        """The registry as one tenant sees it."""
        return PersonaRegistry(self.url, tenant_id, self.models_dir, with_shared, self.adapters)

    def _visible(self, row: PersonaRow | None) -> bool:
        if row is None:
            return False
        if self.tenant_id is None or row.tenant_id == self.tenant_id:
            return True
        return self.with_shared and row.tenant_id is None

    def _status(self, persona: Persona, tenant_id: str | None = None) -> tuple[str, str | None]:
        problem = adapter_problem(persona, self.models_dir)
        if problem is None and persona.adapter is not None and persona.adapter.sha256 is not None:
            if self.adapters is None:
                problem = "no adapter store is configured to check this adapter"
            else:
                problem = self.adapters.problem(tenant_id, persona.adapter)
        return ("unavailable", problem) if problem else ("available", None)

    async def list(self) -> list[PersonaOut]:
        q = select(PersonaRow).order_by(PersonaRow.name)
        if self.tenant_id is not None:
            mine = PersonaRow.tenant_id == self.tenant_id
            q = q.where(or_(mine, PersonaRow.tenant_id.is_(None)) if self.with_shared else mine)
        async with session_factory(self.url)() as s:
            return [_out(r) for r in (await s.execute(q)).scalars()]

    async def get(self, name: str) -> PersonaOut:
        async with session_factory(self.url)() as s:
            row = await s.get(PersonaRow, name)
            if not self._visible(row):
                raise PersonaNotFound(name)
            return _out(row)

    async def create(self, persona: Persona) -> PersonaOut:
        persona = _spec(persona)
        status, reason = await asyncio.to_thread(self._status, persona, self.tenant_id)  # hashes the files
        try:
            async with transaction(self.url) as s:
                s.add(
                    PersonaRow(
                        name=persona.name,
                        tenant_id=self.tenant_id,
                        spec=persona.model_dump(mode="json"),
                        status=status,
                        status_reason=reason,
                        updated_at=utcnow(),
                    )
                )
        except IntegrityError:
            raise PersonaExists(persona.name) from None
        return PersonaOut(**persona.model_dump(), status=status, status_reason=reason)

    async def update(self, name: str, persona: Persona) -> PersonaOut:
        persona = _spec(persona)
        if persona.name != name:
            raise ValueError("a persona's name cannot change; create a new one")
        async with transaction(self.url) as s:
            row = await s.get(PersonaRow, name)
            if row is None or (self.tenant_id is not None and row.tenant_id != self.tenant_id):
                raise PersonaNotFound(name)
            status, reason = await asyncio.to_thread(self._status, persona, row.tenant_id)  # hashes the files
            row.spec, row.status, row.status_reason, row.updated_at = (
                persona.model_dump(mode="json"),
                status,
                reason,
                utcnow(),
            )
        return PersonaOut(**persona.model_dump(), status=status, status_reason=reason)

    async def delete(self, name: str) -> None:
        async with transaction(self.url) as s:
            row = await s.get(PersonaRow, name)
            if row is None or (self.tenant_id is not None and row.tenant_id != self.tenant_id):
                raise PersonaNotFound(name)
            await s.delete(row)
            await s.execute(delete(FaqHitRow).where(FaqHitRow.persona == name))

    async def mark_unavailable(self, name: str, reason: str) -> None:
        """The model server could not load the persona's adapter: keep it out until it is fixed."""
        async with transaction(self.url) as s:
            row = await s.get(PersonaRow, name)
            if row is not None:
                row.status, row.status_reason, row.updated_at = "unavailable", reason[:1000], utcnow()

    async def record_faq_hit(self, name: str, entry_key: str) -> None:
        """Count one answer from an entry (an atomic increment; the first hit inserts the row)."""
        for _ in range(3):
            try:
                async with transaction(self.url) as s:
                    result = await s.execute(
                        update(FaqHitRow)
                        .where(FaqHitRow.persona == name, FaqHitRow.entry_key == entry_key)
                        .values(hits=FaqHitRow.hits + 1, last_hit_at=utcnow())
                    )
                    if result.rowcount == 0:
                        s.add(FaqHitRow(persona=name, entry_key=entry_key, hits=1, last_hit_at=utcnow()))
                return
            except IntegrityError:  # another replica inserted the first hit meanwhile: update instead
                continue

    async def faq_hits(self, name: str) -> dict[str, tuple[int, datetime]]:
        async with session_factory(self.url)() as s:
            rows = (await s.execute(select(FaqHitRow).where(FaqHitRow.persona == name))).scalars()
            return {r.entry_key: (r.hits, r.last_hit_at) for r in rows}

    async def seed(self, path: Path) -> list[str]:
        """Insert the file's personas that do not exist yet; returns the names inserted."""
        text = await asyncio.to_thread(Path(path).read_text, encoding="utf-8")
        data = yaml.safe_load(text) or {}
        personas = [Persona(**p) for p in data.get("personas", [])]
        added = []
        for persona in personas:
            try:
                await self.create(persona)
                added.append(persona.name)
            except PersonaExists:
                pass
        return added
