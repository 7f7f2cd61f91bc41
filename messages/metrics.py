"""The message desk's metrics: messages made and screened, deliveries per channel, time to notify."""

from __future__ import annotations

from infra import metrics

MESSAGES_CREATED = metrics.counter("messages_created_total", "Messages taken from ended calls", ("persona", "outcome"))
CALLS_SCREENED = metrics.counter("calls_screened_total", "Calls screened out, by reason", ("reason",))
DELIVERIES = metrics.counter("message_deliveries_total", "Message deliveries by channel and result", ("channel", "result"))
NOTIFY_SECONDS = metrics.histogram(
    "message_notify_seconds",
    "From the call's end to the owner's notification on a channel",
    ("channel",),
    boundaries=(0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300, 900, 3600),
)
