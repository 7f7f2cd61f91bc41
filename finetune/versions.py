"""Every adapter version a job produced for a persona, with its evaluation: publish, compare, roll back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from infra.database import Base, session_factory, transaction, utcnow


class AdapterVersionRow(Base):
    __tablename__ = "adapter_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str | None] = mapped_column(String(64), index=True)
    persona: Mapped[str] = mapped_column(String(32), index=True)
    version: Mapped[int] = mapped_column(Integer)
    job_id: Mapped[str] = mapped_column(String(40))
    adapter: Mapped[dict[str, Any]] = mapped_column(JSON)  # personas.schemas.Adapter, as published
    evaluation: Mapped[dict[str, Any]] = mapped_column(JSON)  # losses of base, current, new; samples
    status: Mapped[str] = mapped_column(String(16))  # "published" | "rejected" | "rolled_back"
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@dataclass(frozen=True)
class AdapterVersion:
    persona: str
    version: int
    job_id: str
    adapter: dict[str, Any]
    evaluation: dict[str, Any]
    status: str
    created_at: datetime


def _out(r: AdapterVersionRow) -> AdapterVersion:
    return AdapterVersion(r.persona, r.version, r.job_id, r.adapter, r.evaluation, r.status, r.created_at)


class AdapterVersions:
    def __init__(self, url: str | None = None, tenant_id: str | None = None) -> None:
        self.url, self.tenant_id = url, tenant_id

    def _q(self, persona: str):
        q = select(AdapterVersionRow).where(AdapterVersionRow.persona == persona)
        if self.tenant_id is None:
            return q.where(AdapterVersionRow.tenant_id.is_(None))
        return q.where(AdapterVersionRow.tenant_id == self.tenant_id)

    async def list(self, persona: str) -> list[AdapterVersion]:
        async with session_factory(self.url)() as s:
            rows = (await s.execute(self._q(persona).order_by(AdapterVersionRow.version))).scalars()
            return [_out(r) for r in rows]

    async def next_version(self, persona: str, current: int = 0) -> int:
        versions = [v.version for v in await self.list(persona)]
        return max([current, *versions]) + 1

    async def add(self, persona: str, version: int, job_id: str, adapter: dict, evaluation: dict, status: str) -> None:
        async with transaction(self.url) as s:
            s.add(
                AdapterVersionRow(
                    tenant_id=self.tenant_id,
                    persona=persona,
                    version=version,
                    job_id=job_id,
                    adapter=adapter,
                    evaluation=evaluation,
                    status=status,
                    created_at=utcnow(),
                )
            )

    async def set_status(self, persona: str, version: int, status: str) -> None:
        async with transaction(self.url) as s:
            for r in (await s.execute(self._q(persona).where(AdapterVersionRow.version == version))).scalars():
                r.status = status

    async def roll_back(self, persona: str, current_version: int) -> AdapterVersion | None:
        """Mark the current version rolled back; the published version before it (None: the base model)."""
        async with transaction(self.url) as s:
            rows = list((await s.execute(self._q(persona).order_by(AdapterVersionRow.version))).scalars())
            for r in rows:
                if r.version == current_version and r.status == "published":
                    r.status = "rolled_back"
            earlier = [r for r in rows if r.status == "published" and r.version < current_version]
            return _out(earlier[-1]) if earlier else None
