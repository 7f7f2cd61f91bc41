"""E-mails to a tenant's owners when a monthly limit is 80 % and 100 % used: once per threshold per period.

"Once" holds across replicas and restarts: the first consumer to cross a threshold claims it in
Redis (``HSETNX`` on the period's notice hash) and only that one sends. If sending fails the
claim is released, so the next consumption past the threshold tries again; a notice is late
rather than lost. Without an SMTP host the notice is only logged.
"""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from typing import Any

from infra.logging import get_logger
from infra.mail import SmtpConfig, send_mail

log = get_logger(__name__)
THRESHOLDS = (80, 100)
NOTICE_TTL_S = 40 * 24 * 3600
UNITS = {
    "call_ms": ("call minutes", "минут звонков", 60_000),
    "stt_ms": ("transcription minutes", "минут распознавания", 60_000),
    "tts_ms": ("speech minutes", "минут синтеза речи", 60_000),
    "llm_tokens": ("LLM tokens", "токенов LLM", 1),
    "finetunes": ("fine-tuning jobs", "дообучений", 1),
}


def reached(used: int, limit: int) -> list[int]:
    """The thresholds (percent of ``limit``) that ``used`` has reached."""
    return [t for t in THRESHOLDS if used * 100 >= t * limit]


def compose(metric: str, threshold: int, used: int, limit: int, period: str, upgrade_url: str) -> tuple[str, str]:
    """Subject and body, in English and Russian (the tenant's language is not known here)."""
    en, ru, scale = UNITS[metric]
    used_u, limit_u = used // scale, limit // scale
    if threshold >= 100:
        subject = f"Your plan's {en} for {period} are used up / Лимит исчерпан"
        en_text = (
            f"Your assistant has used all {limit_u} {en} of your plan for {period}. Calls now end with a "
            f"short notice and API requests are refused until the next month or an upgrade: {upgrade_url}"
        )
        ru_text = (
            f"Ассистент израсходовал все {limit_u} {ru} по вашему тарифу за {period}. Теперь звонки "
            f"завершаются коротким уведомлением, а запросы к API отклоняются до следующего месяца или смены "
            f"тарифа: {upgrade_url}"
        )
    else:
        subject = f"{threshold}% of your plan's {en} used / Израсходовано {threshold}% лимита"
        en_text = f"Your assistant has used {used_u} of {limit_u} {en} for {period}. Upgrade: {upgrade_url}"
        ru_text = f"Ассистент израсходовал {used_u} из {limit_u} {ru} за {period}. Сменить тариф: {upgrade_url}"
    return subject, f"{en_text}\n\n{ru_text}\n"


class UsageNotifier:
    def __init__(self, redis: Any, contacts: Any, smtp: SmtpConfig, upgrade_url: str) -> None:
        """``redis``: an asyncio client; ``contacts``: ``async (tenant_id) -> [e-mail]``."""
        self.redis, self.contacts, self.smtp, self.upgrade_url = redis, contacts, smtp, upgrade_url
        self._tasks: set[asyncio.Task] = set()
        self._done: set[tuple[str, str, str, int]] = set()  # notices known to be sent: no Redis round trip

    def after_consume(self, tenant: str, period: str, metric: str, used: int, limit: int | None) -> None:
        """Called after every counted consumption; sends in the background, never delays the caller."""
        if limit is None or limit <= 0:
            return
        for threshold in reached(used, limit):
            if (tenant, period, metric, threshold) in self._done:
                continue
            task = asyncio.get_running_loop().create_task(self.notify(tenant, period, metric, threshold, used, limit))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for notices being sent (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def notify(self, tenant: str, period: str, metric: str, threshold: int, used: int, limit: int) -> bool:
        """Send one notice unless another consumer already has; True if this one sent it."""
        key, field = f"usage:{{{tenant}}}:{period}:notices", f"{metric}:{threshold}"
        if not await self.redis.hsetnx(key, field, used):
            self._done.add((tenant, period, metric, threshold))
            return False
        await self.redis.expire(key, NOTICE_TTL_S)
        try:
            recipients = await self.contacts(tenant)
            subject, body = compose(metric, threshold, used, limit, period, self.upgrade_url)
            if not recipients:
                log.warning("usage.notice_no_recipient", tenant=tenant, metric=metric, threshold=threshold)
            elif not self.smtp.host:
                log.info("usage.notice_logged", tenant=tenant, metric=metric, threshold=threshold, subject=subject)
            else:
                await asyncio.to_thread(self._send, recipients, subject, body)
                log.info("usage.notice_sent", tenant=tenant, metric=metric, threshold=threshold, recipients=len(recipients))
            self._done.add((tenant, period, metric, threshold))
            return True
        except Exception as exc:  # the claim is released, so the next consumption retries
            await self.redis.hdel(key, field)
            log.warning(
                "usage.notice_failed",
                tenant=tenant,
                metric=metric,
                threshold=threshold,
                error=f"{type(exc).__name__}: {exc}",
            )
            return False

    def _send(self, recipients: list[str], subject: str, body: str) -> None:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self.smtp.sender, ", ".join(recipients), subject
        msg.set_content(body)
        send_mail(self.smtp, msg)
