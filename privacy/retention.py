"""Recordings, transcripts, SMS bodies and messages are deleted by age: each tenant's retention period.

Nothing used to be deleted unless someone asked. Now every call older than its tenant's period
(``PUT /billing/privacy/retention``; otherwise ``SECRETARY_RETENTION_DAYS``) loses its recording
(the key is destroyed first: crypto-shredding, backups included), its transcript, and every SMS
its body, its clear number (kept for the owner's message). The call and SMS rows themselves stay,
masked and without content, because plan usage and statistics count them. Messages for the owner
older than the period go with their deliveries, and what the secretary remembered of a caller
who has not called within it. Each sweep that deletes something leaves one audit entry per tenant.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, or_, select, update

from infra.database import session_factory, transaction, utcnow
from infra.logging import get_logger
from infra.recordings import RecordingStore
from messages.models import CallerRow, DeliveryRow, MessageRow
from privacy.models import AuditRow, PrivacySettingsRow
from telephony.call_store import CallRow, SmsRow

log = get_logger(__name__)
MIN_DAYS, MAX_DAYS = 1, 3650


def _key(tenant_id: str | None) -> str:
    return tenant_id or ""


@dataclass
class RetentionReport:
    recordings: int = 0
    transcripts: int = 0
    sms: int = 0
    messages: int = 0
    callers: int = 0
    tenants: dict[str, dict[str, int]] = field(default_factory=dict)

    def counts(self, tenant: str | None) -> dict[str, int]:
        return self.tenants.setdefault(
            _key(tenant), {"recordings": 0, "transcripts": 0, "sms": 0, "messages": 0, "callers": 0}
        )


class Retention:
    def __init__(self, url: str | None = None, recordings: RecordingStore | None = None, default_days: int = 365) -> None:
        self.url, self.default_days = url, default_days
        self.recordings = recordings or RecordingStore()

    async def days(self, tenant_id: str | None) -> tuple[int, bool]:
        """The tenant's period in days, and whether it is the tenant's own choice (False: the default)."""
        async with session_factory(self.url)() as s:
            row = await s.get(PrivacySettingsRow, _key(tenant_id))
        return (row.retention_days, True) if row else (self.default_days, False)

    async def set_days(self, tenant_id: str | None, days: int) -> None:
        if not MIN_DAYS <= days <= MAX_DAYS:
            raise ValueError(f"a retention period is {MIN_DAYS} to {MAX_DAYS} days")
        async with transaction(self.url) as s:
            row = await s.get(PrivacySettingsRow, _key(tenant_id))
            if row is None:
                s.add(PrivacySettingsRow(tenant_id=_key(tenant_id), retention_days=days, updated_at=utcnow()))
            else:
                row.retention_days, row.updated_at = days, utcnow()

    async def sweep(self, now: datetime | None = None) -> RetentionReport:
        """Delete what is past its tenant's period; safe to run again and from several replicas."""
        now = now or utcnow()
        async with session_factory(self.url)() as s:
            chosen = {r.tenant_id: r.retention_days for r in (await s.execute(select(PrivacySettingsRow))).scalars()}
        report = RetentionReport()
        for tenant, days in chosen.items():
            cutoff = now - timedelta(days=days)
            await self._purge(report, cutoff, lambda col, t=tenant: _is(col, t), CallerRow.tenant_key == tenant)
        cutoff, others = now - timedelta(days=self.default_days), list(chosen)
        await self._purge(report, cutoff, lambda col: _not_in(col, others), CallerRow.tenant_key.not_in(others))
        for tenant, counts in report.tenants.items():
            log.info("privacy.retention_swept", tenant=tenant or None, **counts)
        return report

    async def _purge(self, report: RetentionReport, cutoff: datetime, tenant_filter, caller_filter) -> None:
        # Clear transcripts were sealed by migration 0011: content is a recording or a sealed transcript.
        has_content = or_(
            CallRow.recording_ref.is_not(None), CallRow.transcript_sealed.is_not(None), CallRow.number_sealed.is_not(None)
        )
        async with transaction(self.url) as s:
            calls = (
                (
                    await s.execute(
                        select(CallRow).where(tenant_filter(CallRow.tenant_id), CallRow.started_at < cutoff, has_content)
                    )
                )
                .scalars()
                .all()
            )
            for call in calls:
                counts = report.counts(call.tenant_id)
                if call.recording_ref and self.recordings.delete(call.recording_ref):  # key first: shredded
                    counts["recordings"] += 1
                    report.recordings += 1
                if call.transcript_sealed is not None or call.transcript:
                    counts["transcripts"] += 1
                    report.transcripts += 1
                call.recording_ref, call.transcript_sealed, call.transcript = None, None, []
                call.number_sealed = None
            old_sms = and_(
                tenant_filter(SmsRow.tenant_id),
                SmsRow.at < cutoff,
                or_(SmsRow.text_sealed.is_not(None), SmsRow.text != ""),
            )
            sms = (await s.execute(select(SmsRow.tenant_id).where(old_sms))).scalars().all()
            if sms:
                await s.execute(update(SmsRow).where(old_sms).values(text_sealed=None, text=""))
            for tenant in sms:
                counts = report.counts(tenant)
                counts["sms"] += 1
                report.sms += 1
            forgotten = await self._forget(s, report, cutoff, tenant_filter, caller_filter)
            for tenant in {_key(c.tenant_id) for c in calls} | {_key(t) for t in sms} | forgotten:
                _audit(s, tenant, cutoff, report)

    @staticmethod
    async def _forget(s, report: RetentionReport, cutoff: datetime, tenant_filter, caller_filter) -> set[str]:
        """Within ``s``: messages for the owner older than the period (with their deliveries),
        and callers not heard from within it; returns the tenants touched."""
        old = select(MessageRow).where(tenant_filter(MessageRow.tenant_id), MessageRow.created_at < cutoff)
        messages = (await s.execute(old)).scalars().all()
        if messages:
            await s.execute(delete(DeliveryRow).where(DeliveryRow.message_id.in_([m.id for m in messages])))
        for m in messages:
            report.counts(m.tenant_id)["messages"] += 1
            report.messages += 1
            await s.delete(m)
        callers = (await s.execute(select(CallerRow).where(caller_filter, CallerRow.last_call_at < cutoff))).scalars().all()
        for c in callers:
            report.counts(c.tenant_key or None)["callers"] += 1
            report.callers += 1
            await s.delete(c)
        return {_key(m.tenant_id) for m in messages} | {c.tenant_key for c in callers}


def _audit(s, tenant: str, cutoff: datetime, report: RetentionReport) -> None:
    s.add(
        AuditRow(
            tenant_id=tenant or None,
            action="retention",
            subject_hash="",
            actor="retention",
            details=json.dumps({"before": cutoff.isoformat(), **report.tenants[tenant]}),
            at=utcnow(),
        )
    )


def _is(column, tenant: str):
    return column.is_(None) if tenant == "" else column == tenant


def _not_in(column, tenants: list[str]):
    named = [t for t in tenants if t]
    condition = column.is_(None) if "" not in tenants else column.is_not(None)
    if "" in tenants:
        return and_(condition, column.not_in(named)) if named else condition
    return or_(condition, column.not_in(named)) if named else or_(condition, column.is_not(None))
