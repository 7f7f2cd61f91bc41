"""The business metrics a call leaves: calls by outcome, talk time, calls in progress, modem signal."""

from __future__ import annotations

import prometheus_client
import pytest

from infra.database import upgrade
from telephony import call_metrics
from telephony.call_store import CallStore


def sample(name: str, **labels: str) -> float:
    return prometheus_client.REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
async def store(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'calls.db'}"
    await upgrade(url)
    return CallStore(url, tenant_id="t-metrics")


async def test_each_ended_call_counts_once_under_its_outcome(store):
    answered = dict(direction="inbound", status="answered", persona="metrics-anna")
    before = {
        s: sample("secretary_calls_total", **{**answered, "status": s}) for s in ("answered", "missed", "busy", "screened")
    }
    talk_before = sample("secretary_call_duration_seconds_count", direction="inbound", persona="metrics-anna")
    active_before = sample("secretary_active_calls", direction="inbound")

    a = await store.call_started("inbound", "+79161234567", "metrics-anna")
    assert sample("secretary_active_calls", direction="inbound") == active_before + 1
    await store.call_answered(a)
    await store.call_ended(a, "caller_goodbye")
    m = await store.call_started("inbound", "+79161234568", "metrics-anna")
    await store.call_ended(m, "remote_hangup")
    b = await store.call_started("inbound", "+79161234569", "metrics-anna")
    await store.call_ended(b, "busy")
    s = await store.call_started("inbound", "+79161234560", "metrics-anna")
    await store.call_ended(s, "blocked", screening="blocked")

    after = {s: sample("secretary_calls_total", **{**answered, "status": s}) for s in before}
    assert {k: after[k] - before[k] for k in before} == {"answered": 1, "missed": 1, "busy": 1, "screened": 1}
    # Only the answered call has talk time; every call is over, so none is in progress.
    assert sample("secretary_call_duration_seconds_count", direction="inbound", persona="metrics-anna") == talk_before + 1
    assert sample("secretary_active_calls", direction="inbound") == active_before


async def test_calls_closed_after_a_crash_count_as_failed_without_driving_the_gauge_negative(store):
    failed = dict(direction="outbound", status="failed", persona="metrics-marina")
    before = sample("secretary_calls_total", **failed)
    await store.call_started("outbound", "+79161234567", "metrics-marina", status="dialing")
    assert await store.close_dangling("ingress_restarted") == 1
    assert sample("secretary_calls_total", **failed) == before + 1
    assert sample("secretary_active_calls", direction="outbound") >= 0
    await store.close_dangling("ingress_restarted")  # nothing left to close: nothing counted
    assert sample("secretary_calls_total", **failed) == before + 1


def test_outcomes_are_a_fixed_set():
    assert call_metrics.call_outcome(True, "caller_goodbye", None) == "answered"
    assert call_metrics.call_outcome(True, "one_way_speech", "robocall") == "screened"
    assert call_metrics.call_outcome(False, "busy", None) == "busy"
    assert call_metrics.call_outcome(False, "dial_failed", None) == "failed"
    assert call_metrics.call_outcome(False, "any free text a caller could cause", None) == "missed"


def test_modem_signal_and_registration():
    call_metrics.modem_seen("861234567890123", -71, "home")
    assert sample("secretary_modem_signal_dbm", line="861234567890123") == -71
    assert sample("secretary_modem_registered", line="861234567890123") == 1
    call_metrics.modem_seen("861234567890123", None, "not registered")  # the modem went away
    assert sample("secretary_modem_registered", line="861234567890123") == 0
    assert sample("secretary_modem_signal_dbm", line="861234567890123") == -71  # the last reading stays
