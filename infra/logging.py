"""Structured JSON logging with per-request and per-call context.

Every process (driver, Serve replicas) calls :func:`configure_logging` once. Context such as
``request_id`` or ``call_id`` is bound with :func:`bind_context` and lands on every line logged
while it is bound, across ``await`` points (structlog contextvars).

Personal data (phone numbers, transcripts, message text) may only be logged in fields whose name
starts with ``pii_``; those are masked unless the ``log_pii`` setting is on. That keeps the rule
checkable: a reviewer greps for ``pii_`` and nothing else can leak.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

PII_PREFIX = "pii_"
_configured = False


def mask_value(value: Any) -> str:
    """Keep just enough to correlate lines: the length and, for numbers, the last two digits."""
    text = str(value)
    digits = [c for c in text if c.isdigit()]
    if digits and len(digits) >= len(text.replace("+", "").replace(" ", "")) * 0.8:
        return f"***{''.join(digits[-2:])}"
    return f"<masked {len(text)} chars>"


def mask_pii(log_pii: bool):
    """A structlog processor that masks every ``pii_*`` field unless ``log_pii`` is true."""

    def processor(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        if log_pii:
            return event
        for key in list(event):
            if key.startswith(PII_PREFIX):
                event[key] = mask_value(event[key])
        return event

    return processor


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is now (test runners and Ray swap it), not at setup."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def configure_logging(level: str = "INFO", json: bool = True, log_pii: bool = False) -> None:
    """Route stdlib and structlog records through one JSON renderer on stderr."""
    global _configured
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        mask_pii(log_pii),
    ]
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    handler.set_name("secretary")
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if h.get_name() != "secretary"]
    root.addHandler(handler)
    root.setLevel(level.upper())
    _configured = True


def configure_from_settings() -> None:
    """Configure once per process from :mod:`infra.settings` (idempotent)."""
    if _configured:
        return
    from infra.settings import get_settings

    s = get_settings()
    configure_logging(s.log_level, s.log_json, s.log_pii)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)


def bind_context(**values: Any) -> None:
    """Bind context (``request_id``, ``call_id``, …) to every later line in this task."""
    structlog.contextvars.bind_contextvars(**values)


def clear_context() -> None:
    structlog.contextvars.clear_contextvars()
