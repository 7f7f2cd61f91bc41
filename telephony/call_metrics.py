"""What a business watches: calls by outcome, their length, calls in progress, the modem's signal.

Recorded where a call's record is written (``telephony/call_store.py``), so modem calls and
WebSocket calls count alike. Active calls are a per-process gauge: each process reports its own
count, and the dashboard sums them (``sum(ray_secretary_active_calls)``).
"""

from __future__ import annotations

import threading

from infra import metrics

CALLS = metrics.counter("calls_total", "Ended calls by direction, outcome and persona", ("direction", "status", "persona"))
CALL_DURATION = metrics.histogram(
    "call_duration_seconds",
    "Answered calls' talk time",
    ("direction", "persona"),
    boundaries=(5, 15, 30, 60, 120, 180, 300, 600, 900, 1800, 3600),
)
ACTIVE_CALLS = metrics.gauge("active_calls", "Calls in progress in this process", ("direction",))
MODEM_SIGNAL = metrics.gauge("modem_signal_dbm", "The modem's received signal strength (AT+CSQ)", ("line",))
MODEM_REGISTERED = metrics.gauge("modem_registered", "1 while the modem is registered on a network", ("line",))

_lock = threading.Lock()
_active: dict[str, int] = {}


def call_outcome(answered: bool, end_reason: str, screening: str | None) -> str:
    """A small, fixed set of outcomes (labels must not grow with free text)."""
    if screening:
        return "screened"
    if answered:
        return "answered"
    if end_reason == "busy":
        return "busy"
    if end_reason in ("refused", "dial_failed", "ingress_restarted", "ingress_stopped", "ingress_lost"):
        return "failed"
    return "missed"


def call_began(direction: str) -> None:
    with _lock:
        _active[direction] = _active.get(direction, 0) + 1
        ACTIVE_CALLS.set(_active[direction], direction=direction)


def call_finished(direction: str, persona: str | None, outcome: str, talk_s: float | None) -> None:
    with _lock:
        if _active.get(direction, 0) > 0:  # a call this process began (not one closed after a crash)
            _active[direction] -= 1
            ACTIVE_CALLS.set(_active[direction], direction=direction)
    CALLS.inc(direction=direction, status=outcome, persona=persona or "none")
    if outcome == "answered" and talk_s is not None:
        CALL_DURATION.observe(talk_s, direction=direction, persona=persona or "none")


def modem_seen(line: str, signal_dbm: int | None, registration: str) -> None:
    if signal_dbm is not None:
        MODEM_SIGNAL.set(float(signal_dbm), line=line)
    MODEM_REGISTERED.set(1.0 if registration in ("home", "roaming") else 0.0, line=line)
