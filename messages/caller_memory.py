"""Caller memory: a returning caller is recognised by number, per tenant ("Hello again, John").

What is kept is the name they gave and their last message, sealed; the number only as its keyed
hash. It goes with the caller's data on erasure (``privacy/service.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from infra.crypto import DecryptionError, Keyring, open_text, seal_text
from infra.database import session_factory, utcnow
from infra.pii import number_hash
from infra.recordings import SealsPersonalData
from messages.models import CallerRow, MessageRow, tenant_key


def caller_context(key: str, digest: str) -> bytes:
    return f"caller|{key}|{digest}".encode()


@dataclass(frozen=True)
class Caller:
    name: str | None
    calls: int
    last_summary: str | None


class CallerMemory(SealsPersonalData):
    def __init__(self, url: str | None = None, tenant_id: str | None = None, keyring: Keyring | None = None) -> None:
        self.url, self.key = url, tenant_key(tenant_id)
        self._keyring = keyring

    async def recall(self, number: str | None) -> Caller | None:
        digest = number_hash(number)
        if digest is None:
            return None
        async with session_factory(self.url)() as s:
            row = await s.get(CallerRow, (self.key, digest))
            if row is None:
                return None
            name = self._open(row.name_sealed, digest)
            summary = None
            if row.last_message_id:
                msg = await s.get(MessageRow, row.last_message_id)
                if msg is not None and msg.screened is None:
                    from messages.store import open_body

                    summary = open_body(self.keyring, msg).get("summary")
            return Caller(name, row.calls, summary)

    def _open(self, sealed: str | None, digest: str) -> str | None:
        if sealed is None:
            return None
        try:
            return open_text(self.keyring, sealed, caller_context(self.key, digest))
        except DecryptionError:
            return None

    async def remember(self, s, digest: str | None, name: str | None, message_id: str | None) -> None:
        """Within the message's transaction ``s``: one more call, the name if given, the last message."""
        if digest is None:
            return
        row = await s.get(CallerRow, (self.key, digest))
        if row is None:
            row = CallerRow(tenant_key=self.key, number_hash=digest, calls=0)
            s.add(row)
        row.calls = (row.calls or 0) + 1
        row.last_call_at = utcnow()
        if name:
            row.name_sealed = seal_text(self.keyring, name, caller_context(self.key, digest))
        if message_id:
            row.last_message_id = message_id

    async def forget(self, s, digest: str, everywhere: bool = False) -> int:
        """Within transaction ``s``: forget the caller (this tenant's memory, or every tenant's)."""
        q = select(CallerRow).where(CallerRow.number_hash == digest)
        if not everywhere:
            q = q.where(CallerRow.tenant_key == self.key)
        rows = list((await s.execute(q)).scalars())
        for row in rows:
            await s.delete(row)
        return len(rows)
