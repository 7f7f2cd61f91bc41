"""Each tenant's allow and block lists of numbers (by the number's keyed hash, shown masked).

A blocked number is turned away politely before the persona answers; an allowed one is never
screened as sales or spam. An owner's correction of a screened call feeds these lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from infra.database import Base, session_factory, transaction, utcnow
from infra.pii import dialable_number, mask_number, number_hash

LISTS = ("allow", "block")


class ScreeningEntryRow(Base):
    __tablename__ = "screening_entries"

    tenant_key: Mapped[str] = mapped_column(String(64), primary_key=True)  # tenant id, "" for the installation
    number_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    list: Mapped[str] = mapped_column(String(8))  # allow | block
    number_masked: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16), default="owner")  # owner | correction
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class InvalidNumber(ValueError):
    """Not a phone number the lists can hold."""


@dataclass(frozen=True)
class Entry:
    number: str  # masked
    list: str
    note: str | None
    source: str
    number_hash: str

    def as_dict(self) -> dict:
        return {"number": self.number, "list": self.list, "note": self.note, "source": self.source, "id": self.number_hash}


class ScreeningLists:
    def __init__(self, url: str | None = None, tenant_id: str | None = None) -> None:
        self.url, self.key = url, tenant_id or ""

    async def lookup(self, number: str | None) -> str | None:
        """ "allow", "block" or None for ``number`` (a hidden number is on no list)."""
        digest = number_hash(number)
        if digest is None:
            return None
        async with session_factory(self.url)() as s:
            row = await s.get(ScreeningEntryRow, (self.key, digest))
            return row.list if row is not None else None

    async def put(self, number: str, list_: str, note: str | None = None, source: str = "owner") -> Entry:
        if list_ not in LISTS:
            raise ValueError(f"list must be one of {LISTS}")
        if dialable_number(number) is None:
            raise InvalidNumber(f"{number!r} is not a phone number")
        digest = number_hash(number)
        async with transaction(self.url) as s:
            row = await s.get(ScreeningEntryRow, (self.key, digest))
            if row is None:
                row = ScreeningEntryRow(tenant_key=self.key, number_hash=digest, created_at=utcnow())
                s.add(row)
            row.list, row.note, row.source, row.number_masked = list_, note, source, mask_number(number)
            return self._entry(row)

    async def put_hash(self, digest: str, masked: str, list_: str, source: str = "correction") -> None:
        """A correction: the number is known only by its hash (the screened call's)."""
        async with transaction(self.url) as s:
            row = await s.get(ScreeningEntryRow, (self.key, digest))
            if row is None:
                row = ScreeningEntryRow(tenant_key=self.key, number_hash=digest, created_at=utcnow(), note=None)
                s.add(row)
            row.list, row.source, row.number_masked = list_, source, masked

    async def remove(self, entry_id: str) -> bool:
        async with transaction(self.url) as s:
            q = delete(ScreeningEntryRow).where(
                ScreeningEntryRow.tenant_key == self.key, ScreeningEntryRow.number_hash == entry_id
            )
            return bool((await s.execute(q)).rowcount)

    async def entries(self) -> list[Entry]:
        async with session_factory(self.url)() as s:
            q = select(ScreeningEntryRow).where(ScreeningEntryRow.tenant_key == self.key)
            return [self._entry(r) for r in (await s.execute(q.order_by(ScreeningEntryRow.created_at))).scalars()]

    @staticmethod
    def _entry(row: ScreeningEntryRow) -> Entry:
        return Entry(row.number_masked, row.list, row.note, row.source, row.number_hash)
