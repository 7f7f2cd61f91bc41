"""Hang-up to the owner's notification: how long after a caller hangs up the owner has the message.

Not a test: run by hand on an otherwise idle machine. Starts the CPU-profile cluster with its
message desk pointed at a local SMTP server and the Telegram Bot API fake (both in this process,
so arrival is timed on this clock), then places calls over the WebSocket: each caller (Piper's
voice, 8 kHz, real time, a number of its own) leaves "My name is …, please call me back at five
o'clock" and hangs up. Measured per call and channel: from the hang-up message to the moment
the notification arrives (e-mail: the SMTP DATA; Telegram: the sendVoice request). The desk
polls every ``SECRETARY_MESSAGES_INTERVAL_S`` (2 s by default, the setting measured here).

    .venv/bin/python bench/bench_messages.py --calls 8 --concurrency 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from bench.caller_voice import piper_line
from cli.local_cluster import LocalCluster

NAMES = ["John Smith", "Mary Jones", "Peter Brown", "Anna Green", "David White", "Laura Black", "Mark Stone", "Helen Ford"]
ADMIN_TOKEN = "bench-messages-admin-token-0123456789"


async def one_call(url: str, script: bytes) -> float:
    """Send the script in real time, hang up; returns the hang-up's wall-clock time."""
    async with websockets.connect(url, max_size=None) as ws:
        assert json.loads(await ws.recv())["type"] == "session.started"

        async def drain():
            async for _ in ws:
                pass

        reader = asyncio.create_task(drain())
        loop, tick = asyncio.get_running_loop(), asyncio.get_running_loop().time()
        for i in range(0, len(script), 320):
            await ws.send(script[i : i + 320])
            tick += 0.02
            await asyncio.sleep(max(0.0, tick - loop.time()))
        hung_up = time.time()
        await ws.send(json.dumps({"type": "hangup"}))
        await asyncio.wait_for(reader, 30)
    return hung_up


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


async def main(args) -> dict:
    from cli.local_access import local_api_key_async, local_tenant_id
    from tests.fake_telegram import TOKEN, FakeTelegram
    from tests.smtp_sink import SmtpSink

    smtp, telegram = SmtpSink().start(), FakeTelegram().start()
    cluster = LocalCluster(
        env={
            "SECRETARY_ADMIN_TOKEN": ADMIN_TOKEN,
            "SECRETARY_SMTP_HOST": "127.0.0.1",
            "SECRETARY_SMTP_PORT": str(smtp.port),
            "SECRETARY_TELEGRAM_API_URL": telegram.api_url,
        }
    )
    print("starting the CPU-profile cluster …", flush=True)
    cluster.start()
    results: dict = {"calls": args.calls, "concurrency": args.concurrency}
    try:
        tenant = await local_tenant_id()
        async with httpx.AsyncClient(
            base_url=f"{cluster.base_url}/admin", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ) as admin:
            r = await admin.put(
                "/messages/channels",
                params={"tenant": tenant},
                json={"email": "owner@bench.example", "telegram_bot_token": TOKEN, "telegram_chat_id": "1"},
            )
            r.raise_for_status()
        key = await local_api_key_async()
        base = cluster.base_url.replace("http://", "ws://") + f"/v1/calls/stream?sample_rate=8000&api_key={key}"
        hangups: dict[str, float] = {}

        async def caller(i: int) -> None:
            name = NAMES[i % len(NAMES)] + (f" {i}" if i >= len(NAMES) else "")
            words = await piper_line(f"My name is {name}, please ask Artem to call me back at five o'clock.")
            script = b"\x00" * 16000 * 10 + words + b"\x00" * 16000 * 3  # a stranger's greeting, the message
            hangups[name.split()[0]] = await one_call(f"{base}&caller=%2B7903555{1000 + i}", script)

        for start in range(0, args.calls, args.concurrency):
            await asyncio.gather(*(caller(i) for i in range(start, min(args.calls, start + args.concurrency))))
        for _ in range(600):  # two minutes at most for the last notifications
            if len(smtp.messages) >= args.calls and len(telegram.sent) >= args.calls:
                break
            await asyncio.sleep(0.2)
        for channel, arrivals in (
            ("email", [(m["Subject"], t) for m, t in zip(smtp.messages, smtp.received_at, strict=True)]),
            ("telegram", [(s.text or "", s.at) for s in telegram.sent]),
        ):
            delays = []
            for first, hung_up in hangups.items():
                got = [t for text, t in arrivals if first in text]
                if got:
                    delays.append(got[0] - hung_up)
            results[channel] = {
                "delivered": len(delays),
                "p50_s": round(statistics.median(delays), 2) if delays else None,
                "p95_s": round(pct(delays, 0.95), 2) if delays else None,
                "max_s": round(max(delays), 2) if delays else None,
            }
            print(channel, results[channel], flush=True)
    finally:
        cluster.stop()
        smtp.stop()
        telegram.stop()
    return results


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=int, default=8)
    p.add_argument("--concurrency", type=int, default=2)
    print(json.dumps(asyncio.run(main(p.parse_args())), indent=2))
