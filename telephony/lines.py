"""The line registry: every SIM7600 by its IMEI, the tenant whose line it is and the persona that answers.

A business may plug several modems into one office machine, or into machines in several offices.
Each modem is a line: found by its IMEI on whichever node has it (``secretary node modems``
writes the node's map, ``SECRETARY_MODEM_LINES``), registered here by the operator, and answered
by its own ingress actor (``telephony/ingress_actor.py``). The actor asks for the custom resource
``line_<IMEI>``, which only the node with that modem advertises, so Ray places it there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, DateTime, String, select
from sqlalchemy.orm import Mapped, mapped_column

from infra.database import Base, session_factory, transaction, utcnow

IMEI = re.compile(r"^\d{15}$")


class LineRow(Base):
    __tablename__ = "lines"

    imei: Mapped[str] = mapped_column(String(15), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    persona: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(64), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@dataclass(frozen=True)
class Line:
    imei: str
    tenant_id: str
    persona: str
    label: str = ""
    enabled: bool = True

    def as_dict(self) -> dict:
        return {
            "imei": self.imei,
            "tenant_id": self.tenant_id,
            "persona": self.persona,
            "label": self.label,
            "enabled": self.enabled,
        }


def line_resource(imei: str) -> str:
    """The custom resource a node advertises for the modem it has (``ray start --resources``)."""
    if not IMEI.match(imei):
        raise ValueError(f"an IMEI has 15 digits, not {imei!r}")
    return f"line_{imei}"


def _line(row: LineRow) -> Line:
    return Line(row.imei, row.tenant_id, row.persona, row.label, row.enabled)


class LineRegistry:
    def __init__(self, url: str | None = None) -> None:
        self.url = url

    async def list(self, tenant_id: str | None = None, enabled_only: bool = False) -> list[Line]:
        """The lines (``tenant_id``: that tenant's only; None: all, for the operator)."""
        q = select(LineRow).order_by(LineRow.imei)
        if tenant_id is not None:
            q = q.where(LineRow.tenant_id == tenant_id)
        if enabled_only:
            q = q.where(LineRow.enabled.is_(True))
        async with session_factory(self.url)() as s:
            return [_line(r) for r in (await s.execute(q)).scalars()]

    async def get(self, imei: str, tenant_id: str | None = None) -> Line | None:
        """The line, if it exists and (``tenant_id`` given) is that tenant's."""
        async with session_factory(self.url)() as s:
            row = await s.get(LineRow, imei)
        if row is None or (tenant_id is not None and row.tenant_id != tenant_id):
            return None
        return _line(row)

    async def put(self, line: Line) -> Line:
        line_resource(line.imei)  # validates the IMEI
        async with transaction(self.url) as s:
            row = await s.get(LineRow, line.imei)
            if row is None:
                row = LineRow(imei=line.imei, created_at=utcnow())
                s.add(row)
            row.tenant_id, row.persona, row.label, row.enabled = line.tenant_id, line.persona, line.label, line.enabled
            row.updated_at = utcnow()
        return line

    async def delete(self, imei: str) -> bool:
        async with transaction(self.url) as s:
            row = await s.get(LineRow, imei)
            if row is None:
                return False
            await s.delete(row)
            return True
