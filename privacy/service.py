"""Consent and erasure, scoped to a tenant (``None``: the single-tenant installation).

Erasure removes every record of a data subject (a caller, by phone number): their calls with
transcripts, their recordings (by destroying each recording's key, ``infra/recordings.py``), their
SMS and their consent records, and leaves one audit entry that says what was erased, when and by
whom. The audit entry keeps only the number's keyed hash, which cannot be turned back into it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from infra.database import session_factory, transaction, utcnow
from infra.pii import account_hash, number_hash
from infra.recordings import RecordingStore
from messages.caller_memory import CallerMemory
from messages.models import DeliveryRow, MessageRow
from privacy.models import ACCOUNT_CONSENT, CONSENT_KINDS, AuditRow, ConsentRow
from telephony.call_store import CallRow, SmsRow


@dataclass(frozen=True)
class Consent:
    kind: str
    granted: bool
    text_version: str
    channel: str
    at: datetime


@dataclass(frozen=True)
class Erasure:
    calls: int
    recordings: int
    sms: int
    consents: int
    messages: int = 0  # messages for the owner about this caller, with their deliveries
    callers: int = 0  # what the secretary remembered of the caller (name, last message)


class PrivacyService:
    def __init__(
        self,
        url: str | None = None,
        tenant_id: str | None = None,
        recordings: RecordingStore | None = None,
        everywhere: bool = False,
    ) -> None:
        """``tenant_id``: that tenant's data (None: the installation's own). ``everywhere``: the
        operator's view, across every tenant (an erasure request to the operator must also reach the
        rows of the tenant whose line the modem is)."""
        self.url, self.tenant_id, self.everywhere = url, tenant_id, everywhere
        self.recordings = recordings or RecordingStore()

    def _scoped(self, q, column):
        if self.everywhere:
            return q
        return q.where(column == self.tenant_id) if self.tenant_id is not None else q.where(column.is_(None))

    async def _record(self, subject_hash: str, kind: str, granted: bool, text_version: str, channel: str) -> Consent:
        row = ConsentRow(
            tenant_id=self.tenant_id,
            subject_hash=subject_hash,
            kind=kind,
            granted=granted,
            text_version=text_version,
            channel=channel,
            at=utcnow(),
        )
        async with transaction(self.url) as s:
            s.add(row)
        return Consent(kind, granted, text_version, channel, row.at)

    async def _decisions(self, subject_hash: str | None) -> list[ConsentRow]:
        """Every decision recorded for this subject in scope, oldest first."""
        q = self._scoped(select(ConsentRow).where(ConsentRow.subject_hash == subject_hash), ConsentRow.tenant_id)
        async with session_factory(self.url)() as s:
            return list((await s.execute(q.order_by(ConsentRow.at, ConsentRow.id))).scalars().all())

    async def record_consent(
        self, number: str, kind: str, granted: bool, text_version: str, channel: str = "admin"
    ) -> Consent:
        if kind not in CONSENT_KINDS:
            raise ValueError(f"consent kind must be one of {CONSENT_KINDS}")
        return await self._record(number_hash(number), kind, granted, text_version, channel)

    async def record_account_consent(self, user_id: str, text_version: str, granted: bool = True) -> Consent:
        """An account user's acceptance of the privacy policy (sign-up), kept like a caller's consent."""
        return await self._record(account_hash(user_id), ACCOUNT_CONSENT, granted, text_version, "web")

    async def account_consents(self, user_id: str) -> list[Consent]:
        """Every decision the account's user made on the policy, oldest first."""
        return [
            Consent(r.kind, r.granted, r.text_version, r.channel, r.at) for r in await self._decisions(account_hash(user_id))
        ]

    async def consents(self, number: str) -> dict[str, Consent]:
        """The latest decision per kind (a withdrawal after a grant wins)."""
        rows = await self._decisions(number_hash(number))
        return {r.kind: Consent(r.kind, r.granted, r.text_version, r.channel, r.at) for r in rows}

    async def recording_allowed(self, number: str | None) -> bool:
        """May this caller's call be recorded? Not once their latest ``call_recording`` decision is a withdrawal."""
        if not number:
            return True
        decision = (await self.consents(number)).get("call_recording")
        return decision is None or decision.granted

    async def erase(self, number: str, actor: str) -> Erasure:
        subject = number_hash(number)
        async with transaction(self.url) as s:
            calls = (
                (await s.execute(self._scoped(select(CallRow).where(CallRow.number_hash == subject), CallRow.tenant_id)))
                .scalars()
                .all()
            )
            refs = [(c.recording_ref, c.tenant_id) for c in calls if c.recording_ref]
            for c in calls:
                await s.delete(c)
            sms = (
                await s.execute(self._scoped(delete(SmsRow).where(SmsRow.number_hash == subject), SmsRow.tenant_id))
            ).rowcount
            consents = (
                await s.execute(
                    self._scoped(delete(ConsentRow).where(ConsentRow.subject_hash == subject), ConsentRow.tenant_id)
                )
            ).rowcount
            messages = list(
                (
                    await s.execute(
                        self._scoped(select(MessageRow).where(MessageRow.number_hash == subject), MessageRow.tenant_id)
                    )
                ).scalars()
            )
            if messages:
                await s.execute(delete(DeliveryRow).where(DeliveryRow.message_id.in_([m.id for m in messages])))
                for m in messages:
                    await s.delete(m)
            callers = await CallerMemory(self.url, self.tenant_id).forget(s, subject, self.everywhere)
            recordings = sum(self.recordings.delete(ref) for ref, _ in refs)  # the keys go: crypto-shredded
            result = Erasure(len(calls), recordings, sms or 0, consents or 0, len(messages), callers)
            s.add(
                AuditRow(
                    tenant_id=self.tenant_id,
                    action="erasure",
                    subject_hash=subject,
                    actor=actor,
                    details=json.dumps(result.__dict__),
                    at=utcnow(),
                )
            )
        return result

    async def audit(self) -> list[dict]:
        q = self._scoped(select(AuditRow), AuditRow.tenant_id).order_by(AuditRow.at)
        async with session_factory(self.url)() as s:
            return [
                {
                    "action": r.action,
                    "subject_hash": r.subject_hash,
                    "actor": r.actor,
                    "details": json.loads(r.details),
                    "at": r.at.isoformat(),
                }
                for r in (await s.execute(q)).scalars()
            ]
