"""The console as an owner feels it: how fast its pages show, and how soon a ringing call is on Today.

Not a test: run by hand on an otherwise idle machine. Starts the CPU-profile cluster with the
modem simulator (as ``make demo`` does), gives the local tenant an owner, and drives Debian's
chromium through Playwright (the browser tests' launcher: tests/console/browser.py).

Measured:
- each main page, ``--loads`` times: from navigation to the page drawn (its heading shown and no
  spinner left), with the session and the language already in the browser;
- ``--calls`` calls on the simulated line: from the simulator's first RING to the call's card on
  Today (SSE: ingress actor → admin replica → browser), and from the caller's hang-up (the
  simulator's NO CARRIER) to the card gone.

    .venv/bin/python bench/bench_console.py --loads 7 --calls 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from cli.local_cluster import DEFAULT_MODEM_DIR, LocalCluster
from telephony.simulator.modem import SimConfig
from telephony.simulator.thread import SimulatorThread

PAGES = {"": "Today", "calls": "Calls", "messages": "Messages", "personas": "Personas", "billing": "Billing"}
PASSWORD = "bench-console-password"


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def summary(values: list[float]) -> dict:
    return {"n": len(values), "p50_ms": round(statistics.median(values)), "p95_ms": round(pct(values, 0.95))}


async def owner_of_the_line() -> tuple[str, str]:
    """An owner account in the tenant the simulated line belongs to (the local tenant)."""
    from accounts.service import AccountService
    from cli.local_access import local_tenant_id

    tenant = await local_tenant_id()
    email = f"bench-{secrets.token_hex(4)}@console.example"
    await AccountService().add_user(tenant, email, PASSWORD, "owner")
    return tenant, email


def main(args) -> dict:
    from playwright.sync_api import expect, sync_playwright

    from tests.console.browser import chromium
    from tests.telephony.ingress_rig import caller_script

    sim = SimulatorThread(DEFAULT_MODEM_DIR, SimConfig(ring_period_s=1.0)).start()
    # The page loads come faster than a person's (35 in a minute): the limits are not what is measured.
    cluster = LocalCluster(
        env={
            "SECRETARY_ADMIN_TOKEN": secrets.token_urlsafe(24),
            "SECRETARY_JWT_SECRET": secrets.token_hex(32),
            "SECRETARY_RATE_LIMIT_PER_KEY": "100000/minute",
            "SECRETARY_RATE_LIMIT_PER_IP": "100000/minute",
        }
    )
    print("starting the CPU-profile cluster …", flush=True)
    cluster.start()
    base = f"{cluster.base_url}/console"
    results: dict = {}
    try:
        _, email = asyncio.run(owner_of_the_line())
        token = httpx.post(f"{cluster.base_url}/billing/auth/login", json={"email": email, "password": PASSWORD}, timeout=60)
        token.raise_for_status()
        with sync_playwright() as pw, chromium(pw) as context:
            page = context.new_page()
            page.goto(f"{base}/signin")
            page.evaluate("t => localStorage.setItem('secretary.session', t)", token.json()["token"])
            loads: dict[str, list[float]] = {}
            for _ in range(args.loads):
                for path, heading in PAGES.items():
                    t0 = time.perf_counter()
                    page.goto(f"{base}/{path}")
                    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
                    expect(page.locator("main .spinner")).to_have_count(0, timeout=30_000)
                    loads.setdefault(path or "today", []).append((time.perf_counter() - t0) * 1000)
            results["page_load"] = {k: summary(v) for k, v in loads.items()}
            print(json.dumps(results["page_load"]), flush=True)

            page.goto(f"{base}/")
            expect(page.locator("#no-live")).to_be_visible(timeout=60_000)
            rings, ends = [], []
            script = caller_script((6.0, "What time do you open tomorrow?"), total_s=14.0)
            for i in range(args.calls):
                sim.call(sim.modem.uplink.clear)
                t0 = time.perf_counter()
                sim.call(sim.modem.incoming_call, f"+7916555{i:04d}", script)
                page.locator("#live .live-call").wait_for(timeout=30_000)
                rings.append((time.perf_counter() - t0) * 1000)
                # The caller hangs up as soon as the assistant has answered once.
                deadline = time.monotonic() + 60
                while sim.call(lambda: len(sim.modem.uplink)) < 8000 * 2 * 12 and time.monotonic() < deadline:
                    time.sleep(0.2)
                t1 = time.perf_counter()
                sim.call(sim.modem.remote_hang_up)
                page.locator("#live .live-call").wait_for(state="detached", timeout=30_000)
                ends.append((time.perf_counter() - t1) * 1000)
                time.sleep(3)
            results["ring_to_today"] = summary(rings)
            results["hangup_to_today"] = summary(ends)
            print(json.dumps({k: results[k] for k in ("ring_to_today", "hangup_to_today")}), flush=True)
    finally:
        cluster.stop()
        sim.stop()
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=7)
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--out", default="var/bench-console.json")
    args = parser.parse_args()
    out = main(args)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))
