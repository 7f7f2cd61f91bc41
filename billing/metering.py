"""Usage metering: atomic check-and-consume in Redis, a durable ledger in SQL, reconciled.

Per tenant and calendar month (UTC), per metric (``call_ms``, ``stt_ms``, ``tts_ms``,
``llm_tokens``, ``finetunes``: integers in the metric's unit).

- **Atomic**: one Lua script checks the limit, counts the amount and appends the event to a
  Redis stream, all or nothing. Fifty concurrent requests against room for twenty admit exactly
  twenty. An event id makes a retried consume count once.
- **Durable**: ``flush`` moves stream events into the ``usage_ledger`` table (keyed by tenant and
  event id, so a replay inserts nothing twice and two tenants' ids never collide) and only then
  acknowledges them. An app killed at any point loses nothing: an event is in the stream (Redis
  runs with its append-only file) until the ledger has it, and an event read but not acknowledged
  is read again. An event the ledger cannot take (malformed, an id too long) goes to
  ``usage_dead_letters`` with the reason, in the same transaction: it never stalls the flush.
- **Reconciled**: ``reconcile`` sets the Redis counters from the ledger plus the events not yet
  flushed, e.g. after Redis lost its data or after a manual correction of the ledger.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, Integer, String, Text, func, select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Mapped, mapped_column

from infra.database import Base, get_engine, session_factory, transaction
from infra.logging import get_logger

log = get_logger(__name__)

METRICS = ("call_ms", "stt_ms", "tts_ms", "llm_tokens", "finetunes")
STREAM = "usage:events"
GROUP = "ledger"
IDS_TTL_S = 40 * 24 * 3600  # event ids are kept a bit longer than a period, for retries
MAX_EVENT_ID = 128
MAX_TENANT_ID = 64

# KEYS: counters hash, ids set, stream. ARGV: metric, amount, limit (-1: none), allow_over (0/1),
# event id, tenant, period, unix ms, ids ttl.
CONSUME = """
local used = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local amount = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
if redis.call('SISMEMBER', KEYS[2], ARGV[5]) == 1 then
  return {1, used, 1}
end
if limit >= 0 and ARGV[4] == '0' and used + amount > limit then
  return {0, used, 0}
end
redis.call('SADD', KEYS[2], ARGV[5])
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[9]))
used = redis.call('HINCRBY', KEYS[1], ARGV[1], amount)
redis.call('XADD', KEYS[3], '*', 'id', ARGV[5], 'tenant', ARGV[6], 'period', ARGV[7], 'metric', ARGV[1],
           'amount', ARGV[2], 'at_ms', ARGV[8])
return {1, used, 0}
"""


# KEYS: counters hash, ids set, stream. ARGV: metric, amount, original id, refund id, tenant, period, unix ms,
# ids ttl. Gives back what the original event counted, once, and only if that event was counted.
REFUND = """
if redis.call('SISMEMBER', KEYS[2], ARGV[4]) == 1 then
  return {0, 1}
end
if redis.call('SISMEMBER', KEYS[2], ARGV[3]) == 0 then
  return {0, 0}
end
redis.call('SADD', KEYS[2], ARGV[4])
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[8]))
redis.call('HINCRBY', KEYS[1], ARGV[1], -tonumber(ARGV[2]))
redis.call('XADD', KEYS[3], '*', 'id', ARGV[4], 'tenant', ARGV[5], 'period', ARGV[6], 'metric', ARGV[1],
           'amount', '-' .. ARGV[2], 'at_ms', ARGV[7])
return {1, 0}
"""
REFUND_SUFFIX = ":refund"


class UsageRow(Base):
    __tablename__ = "usage_ledger"

    tenant_id: Mapped[str] = mapped_column(String(MAX_TENANT_ID), primary_key=True, index=True)
    event_id: Mapped[str] = mapped_column(String(MAX_EVENT_ID), primary_key=True)
    period: Mapped[str] = mapped_column(String(7))  # "2026-11"
    metric: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    day: Mapped[int] = mapped_column(Integer)  # day of the month, for the daily series


class DeadLetterRow(Base):
    """A stream event the ledger could not take, kept whole with the reason (for an operator to mend)."""

    __tablename__ = "usage_dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    stream_id: Mapped[str] = mapped_column(String(64))
    fields: Mapped[str] = mapped_column(Text)  # the event's fields as JSON
    error: Mapped[str] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BadEvent(ValueError):
    """A stream event that can never become a ledger row."""


def ledger_row(fields: dict[str, str]) -> dict:
    """The ledger row for one stream event; ``BadEvent`` says which field is wrong."""
    for name in ("id", "tenant", "period", "metric", "amount", "at_ms"):
        if not fields.get(name):
            raise BadEvent(f"field {name!r} is missing")
    if len(fields["id"]) > MAX_EVENT_ID:
        raise BadEvent(f"event id longer than {MAX_EVENT_ID} characters")
    if len(fields["tenant"]) > MAX_TENANT_ID:
        raise BadEvent(f"tenant id longer than {MAX_TENANT_ID} characters")
    if fields["metric"] not in METRICS:
        raise BadEvent(f"unknown metric {fields['metric']!r}")
    try:
        amount, at_ms = int(fields["amount"]), int(fields["at_ms"])
        at = datetime.fromtimestamp(at_ms / 1000, UTC)
    except (ValueError, OverflowError, OSError):
        raise BadEvent("amount or at_ms is not a number") from None
    if amount < 0 and not fields["id"].endswith(REFUND_SUFFIX):
        raise BadEvent("negative amount")
    if fields["period"] != period_of(at):
        raise BadEvent(f"period {fields['period']!r} does not match the event's time")
    return {
        "event_id": fields["id"],
        "tenant_id": fields["tenant"],
        "period": fields["period"],
        "metric": fields["metric"],
        "amount": amount,
        "at": at,
        "day": at.day,
    }


@dataclass(frozen=True)
class Consumption:
    allowed: bool
    used: int  # after this consumption if allowed, before it if refused
    limit: int | None
    duplicate: bool = False


def period_of(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).strftime("%Y-%m")


def _keys(tenant: str, period: str) -> tuple[str, str]:
    base = f"usage:{{{tenant}}}:{period}"  # the hash tag keeps a tenant's keys on one cluster slot
    return base, base + ":ids"


class UsageMeter:
    def __init__(self, redis_url: str, db_url: str | None = None, stream: str = STREAM) -> None:
        """``stream``: the Redis stream the events wait in (the cluster's one; a test may keep its own,
        so that no other flusher on the same Redis drains its events into another ledger)."""
        import redis.asyncio as redis

        self.redis = redis.from_url(redis_url, decode_responses=True)
        self.db_url, self.stream = db_url, stream
        self._consume = self.redis.register_script(CONSUME)
        self._refund = self.redis.register_script(REFUND)
        self._group_ready = False

    async def close(self) -> None:
        await self.redis.aclose()

    async def consume(
        self,
        tenant: str,
        metric: str,
        amount: int,
        limit: int | None = None,
        event_id: str | None = None,
        allow_over: bool = False,
        at: datetime | None = None,
    ) -> Consumption:
        """Count ``amount`` unless it would pass ``limit`` (``allow_over``: count anyway, e.g. the
        tokens of a reply already generated). Same ``event_id`` twice counts once."""
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; one of {METRICS}")
        if amount < 0:
            raise ValueError("usage cannot be negative")
        if event_id is not None and not 0 < len(event_id) <= MAX_EVENT_ID:
            raise ValueError(f"an event id has 1 to {MAX_EVENT_ID} characters")
        if not 0 < len(tenant) <= MAX_TENANT_ID:
            raise ValueError(f"a tenant id has 1 to {MAX_TENANT_ID} characters")
        at = at or datetime.now(UTC)
        period = period_of(at)
        counters, ids = _keys(tenant, period)
        allowed, used, dup = await self._consume(
            keys=[counters, ids, self.stream],
            args=[
                metric,
                int(amount),
                -1 if limit is None else int(limit),
                int(allow_over),
                event_id or uuid.uuid4().hex,
                tenant,
                period,
                int(at.timestamp() * 1000),
                IDS_TTL_S,
            ],
        )
        return Consumption(bool(allowed), int(used), limit, bool(dup))

    async def refund(self, tenant: str, metric: str, amount: int, event_id: str, at: datetime | None = None) -> bool:
        """Give back ``amount`` counted under ``event_id`` (a reservation whose work never happened).

        Once: True the first time, False for a repeat or an event that was never counted. The
        ledger gets a negative event ``<event_id>:refund``, so its totals stay equal to the counters.
        """
        if metric not in METRICS or amount <= 0:
            raise ValueError("a refund names a metric and a positive amount")
        at = at or datetime.now(UTC)
        period = period_of(at)
        counters, ids = _keys(tenant, period)
        refunded, _ = await self._refund(
            keys=[counters, ids, self.stream],
            args=[
                metric,
                int(amount),
                event_id,
                event_id + REFUND_SUFFIX,
                tenant,
                period,
                int(at.timestamp() * 1000),
                IDS_TTL_S,
            ],
        )
        return bool(refunded)

    async def used(self, tenant: str, metric: str, period: str | None = None) -> int:
        counters, _ = _keys(tenant, period or period_of())
        return int(await self.redis.hget(counters, metric) or 0)

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        from redis.exceptions import ResponseError

        try:
            await self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def flush(self, batch: int = 500) -> int:
        """Move pending events into the ledger; returns how many were written (duplicates skipped)."""
        await self._ensure_group()
        written = 0
        for start in ("0", ">"):  # first what was read before and never acknowledged, then new events
            while True:
                reply = await self.redis.xreadgroup(GROUP, "flusher", {self.stream: start}, count=batch)
                entries = reply[0][1] if reply else []
                if not entries:
                    break
                written += await self._insert(entries)
                ids = [entry_id for entry_id, _ in entries]
                await self.redis.xack(self.stream, GROUP, *ids)
                await self.redis.xdel(self.stream, *ids)
        return written

    async def backlog(self) -> int:
        """Usage events in the stream not yet written to the ledger (``metering_backlog``)."""
        return int(await self.redis.xlen(self.stream))

    async def _insert(self, entries: list[tuple[str, dict[str, str]]]) -> int:
        """Write a batch: good events to the ledger, bad ones to the dead letters, in one transaction.

        Should the database refuse the batch for a reason no check foresaw, the events go one
        by one, each refused one to the dead letters. Only a database that is away (connection
        errors) leaves them in the stream for the next flush.
        """
        good, bad = [], []
        for stream_id, fields in entries:
            try:
                good.append(ledger_row(fields))
            except BadEvent as exc:
                bad.append((stream_id, fields, str(exc)))
        try:
            return await self._write(good, bad)
        except (OperationalError, InterfaceError):
            raise
        except DBAPIError as exc:
            if len(entries) == 1:
                if not good:  # the dead-letter table itself refused: a broken database, not a bad event
                    raise
                return await self._write([], [(entries[0][0], entries[0][1], _db_reason(exc))])
            log.warning("usage.flush_batch_refused", error=type(exc.orig).__name__, events=len(entries))
        written = 0
        for stream_id, fields in entries:
            written += await self._insert([(stream_id, fields)])
        return written

    async def _write(self, rows: list[dict], bad: list[tuple[str, dict[str, str], str]]) -> int:
        dialect = get_engine(self.db_url).dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        written = 0
        async with transaction(self.db_url) as s:
            if rows:
                stmt = insert(UsageRow).values(rows).on_conflict_do_nothing(index_elements=["tenant_id", "event_id"])
                written = max((await s.execute(stmt)).rowcount or 0, 0)
            for stream_id, fields, reason in bad:
                log.warning("usage.dead_letter", stream_id=stream_id, reason=reason)
                s.add(
                    DeadLetterRow(
                        stream_id=stream_id,
                        fields=json.dumps(fields, ensure_ascii=False)[:100_000],
                        error=reason[:500],
                        at=datetime.now(UTC),
                    )
                )
        return written

    async def dead_letters(self) -> list[dict]:
        """The events the ledger refused, oldest first (for an operator)."""
        async with session_factory(self.db_url)() as s:
            rows = (await s.execute(select(DeadLetterRow).order_by(DeadLetterRow.id))).scalars().all()
            return [{"stream_id": r.stream_id, "fields": json.loads(r.fields), "error": r.error, "at": r.at} for r in rows]

    async def ledger_totals(self, tenant: str, period: str | None = None) -> dict[str, int]:
        return await UsageLedger(self.db_url).totals(tenant, period)

    async def daily(self, tenant: str, metric: str, period: str | None = None) -> dict[int, int]:
        return await UsageLedger(self.db_url).daily(tenant, metric, period)

    async def reconcile(self, tenant: str, period: str | None = None) -> dict[str, int]:
        """Make the Redis counters equal the ledger (after flushing what is pending).

        A maintenance step (Redis restored empty, a corrected ledger): usage consumed between
        the flush and the reset would be missing from the counters until the next reconcile, so
        run it while the tenant is idle.
        """
        period = period or period_of()
        await self.flush()
        totals = await self.ledger_totals(tenant, period)
        counters, _ = _keys(tenant, period)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(counters)
            if totals:
                pipe.hset(counters, mapping=totals)
            await pipe.execute()
        return totals


def _db_reason(exc: DBAPIError) -> str:
    return f"refused by the database: {type(exc.orig).__name__}: {str(exc.orig)[:300]}"


class UsageLedger:
    """Reads of the durable ledger (no Redis needed): totals and the daily series for the charts."""

    def __init__(self, db_url: str | None = None) -> None:
        self.db_url = db_url

    async def totals(self, tenant: str, period: str | None = None) -> dict[str, int]:
        q = (
            select(UsageRow.metric, func.sum(UsageRow.amount))
            .where(UsageRow.tenant_id == tenant, UsageRow.period == (period or period_of()))
            .group_by(UsageRow.metric)
        )
        async with session_factory(self.db_url)() as s:
            return {m: int(total) for m, total in (await s.execute(q)).all()}

    async def daily(self, tenant: str, metric: str, period: str | None = None) -> dict[int, int]:
        q = (
            select(UsageRow.day, func.sum(UsageRow.amount))
            .where(UsageRow.tenant_id == tenant, UsageRow.period == (period or period_of()), UsageRow.metric == metric)
            .group_by(UsageRow.day)
            .order_by(UsageRow.day)
        )
        async with session_factory(self.db_url)() as s:
            return {int(d): int(total) for d, total in (await s.execute(q)).all()}
