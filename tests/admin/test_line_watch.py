"""A lost line's calls end at once, once per outage, and the watch recovers with the line."""

from __future__ import annotations

from admin.line_watch import LineWatch
from infra.database import upgrade
from telephony.call_store import CallStore


async def test_an_actor_ray_is_restarting_ends_the_lines_calls_once(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'calls.db'}"
    await upgrade(url)
    store = CallStore(url, tenant_id="t-watch", line="modem")
    states = iter(["ALIVE", "RESTARTING", "RESTARTING", None, "ALIVE", "DEAD"])
    watch = LineWatch(object(), store, state=lambda _actor: next(states))
    first = await store.call_started("inbound", "+79161234567", "anna", status="active")
    assert await watch.check() == "ALIVE" and (await store.get_call(first))["status"] == "active"
    assert await watch.check() == "RESTARTING"
    assert (await store.get_call(first))["end_reason"] == "ingress_lost"
    # Still restarting: a call that somehow began meanwhile is not closed a second time round ...
    second = await store.call_started("inbound", "+79161234568", "anna", status="active")
    await watch.check()
    assert (await store.get_call(second))["status"] == "active"
    assert await watch.check() is None  # Ray could not say: no verdict
    assert await watch.check() == "ALIVE" and not watch.lost
    assert await watch.check() == "DEAD"  # ... but a new outage closes it
    assert (await store.get_call(second))["end_reason"] == "ingress_lost"
