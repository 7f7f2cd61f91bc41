"""Dialogues from the transcripts of a tenant's calls whose callers consented to voice processing.

A caller's latest ``voice_processing`` decision must be a grant (``privacy/``): a caller who never
said yes, or withdrew, is not trained on. The caller's turns are the user's, the assistant's
are the assistant's.
"""

from __future__ import annotations

from sqlalchemy import select

from finetune.dialogues import Dialogue, Turn, trainable
from infra.database import session_factory
from privacy.models import ConsentRow
from telephony.call_store import CallRow, CallStore


async def consenting_hashes(url: str | None, tenant_id: str | None) -> set[str]:
    """Number hashes whose latest voice-processing decision, in this tenant, is a grant."""
    q = select(ConsentRow).where(ConsentRow.kind == "voice_processing").order_by(ConsentRow.at, ConsentRow.id)
    q = q.where(ConsentRow.tenant_id == tenant_id) if tenant_id else q.where(ConsentRow.tenant_id.is_(None))
    latest: dict[str, bool] = {}
    async with session_factory(url)() as s:
        for row in (await s.execute(q)).scalars():
            latest[row.subject_hash] = row.granted
    return {h for h, granted in latest.items() if granted}


async def dialogues_from_calls(url: str | None, tenant_id: str | None, store: CallStore | None = None) -> list[Dialogue]:
    store = store or CallStore(url, tenant_id)
    allowed = await consenting_hashes(url, tenant_id)
    if not allowed:
        return []
    q = select(CallRow.id).where(CallRow.number_hash.in_(allowed), CallRow.status == "ended")
    q = q.where(CallRow.tenant_id == tenant_id) if tenant_id else q.where(CallRow.tenant_id.is_(None))
    async with session_factory(url)() as s:
        ids = list((await s.execute(q)).scalars())
    out = []
    for call_id in ids:
        record = await store.get_call(call_id)
        turns = [
            Turn("assistant" if t.get("speaker") == "assistant" else "user", str(t.get("text", "")))
            for t in (record or {}).get("transcript", [])
        ]
        if (dialogue := trainable(turns)) is not None:
            out.append(dialogue)
    return out
