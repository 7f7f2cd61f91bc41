"""Billing's metrics: what each plan's tenants use, what the payment providers tell us, the backlog.

``usage_units_total`` counts what was consumed per plan and metric (not per tenant: a label per
tenant would grow without bound; per-tenant figures are in the SQL ledger and ``/billing/usage``).
``payment_events_total`` counts webhooks by provider, event and outcome; "rejected" (a forged or
unreadable notification) and "error" feed the payment-webhook alert. ``metering_backlog`` is how
many usage events wait in Redis for the SQL ledger: a flusher that stopped shows as a rising line.
"""

from __future__ import annotations

from infra import metrics

USAGE = metrics.counter("usage_units_total", "Metered usage by plan and metric", ("plan", "metric"))
PAYMENT_EVENTS = metrics.counter(
    "payment_events_total", "Payment provider notifications by provider, event and outcome", ("provider", "event", "outcome")
)
METERING_BACKLOG = metrics.gauge("metering_backlog", "Usage events waiting in Redis for the SQL ledger", ())
