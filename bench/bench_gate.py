"""What the usage gate adds to a paid request: check before, record after, on a real redis-server.

Not a test: run by hand on an otherwise idle machine. Starts a throwaway redis-server and a
SQLite database, makes a tenant on the basic plan, then measures (medians of many requests):
the gate's ``check`` and ``record`` one request at a time, the atomic ``consume`` under 50
concurrent callers, and the flush of the events into the SQL ledger.

    .venv/bin/python bench/bench_gate.py --requests 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from billing.gate import UsageGate
from billing.metering import UsageMeter
from billing.plans import load_plans
from billing.subscriptions import SubscriptionStore
from cli.local_redis import LocalRedis
from infra.database import upgrade


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def main(args) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="bench-gate-"))
    redis = LocalRedis(free_port(), tmp / "redis")
    redis.start()
    db = f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    await upgrade(db)
    store = SubscriptionStore(db)
    gate = UsageGate(UsageMeter(redis.url, db), load_plans(), store)
    tenant = uuid.uuid4().hex
    await store.start_trial(tenant, "pro", 14)  # a plan with limits, so check and consume read Redis
    try:
        await gate.check(tenant, "llm_tokens")  # warm: connections, the plan cache
        check, record = [], []
        for i in range(args.requests):
            t0 = time.perf_counter()
            await gate.check(tenant, "llm_tokens")
            t1 = time.perf_counter()
            await gate.record(tenant, "llm_tokens", 40, f"r{i}")
            t2 = time.perf_counter()
            check.append(t1 - t0)
            record.append(t2 - t1)

        async def one(i: int) -> float:
            t0 = time.perf_counter()
            await gate.consume(tenant, "stt_ms", 1000, f"c{i}")
            return time.perf_counter() - t0

        t0 = time.perf_counter()
        concurrent: list[float] = []
        for start in range(0, args.requests, 50):
            concurrent += await asyncio.gather(*(one(i) for i in range(start, min(start + 50, args.requests))))
        wall = time.perf_counter() - t0
        t0 = time.perf_counter()
        flushed = await gate.meter.flush()
        flush_s = time.perf_counter() - t0
        out = {
            "requests": args.requests,
            "check_median_ms": round(statistics.median(check) * 1000, 3),
            "record_median_ms": round(statistics.median(record) * 1000, 3),
            "consume_50_concurrent_median_ms": round(statistics.median(concurrent) * 1000, 3),
            "consume_throughput_per_s": round(args.requests / wall),
            "flush_events": flushed,
            "flush_events_per_s": round(flushed / flush_s),
        }
        print(json.dumps(out), flush=True)
        return out
    finally:
        await gate.close()
        redis.stop()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=2000)
    asyncio.run(main(p.parse_args()))
