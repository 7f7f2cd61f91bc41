"""On the running cluster, the series the dashboard and alerts use come out of Ray's metrics agent.

Prometheus finds the nodes through the file Ray writes on the head
(``/tmp/ray/prom_metrics_service_discovery.json``, cluster/prometheus/prometheus.yml); this test
reads the same file and scrapes the same endpoints.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.cluster
DISCOVERY = Path("/tmp/ray/prom_metrics_service_discovery.json")


def scrape() -> str:
    targets = [t for group in json.loads(DISCOVERY.read_text()) for t in group["targets"]]
    assert targets, "Ray lists no metrics endpoints"
    return "\n".join(httpx.get(f"http://{t}/metrics", timeout=10).text for t in targets)


def test_ray_exports_our_series_and_serves_own(http):
    assert http.get("/v1/models").status_code == 200
    wanted = {"ray_secretary_http_request_seconds_count", "ray_serve_deployment_replica_healthy"}
    deadline, seen = time.monotonic() + 60, set()
    while time.monotonic() < deadline:
        text = scrape()
        seen = {name for name in wanted if f"\n{name}{{" in text}
        if seen == wanted:
            break
        time.sleep(3)
    assert seen == wanted, f"missing from Ray's metrics agent: {sorted(wanted - seen)}"
    healthy = [line for line in text.splitlines() if line.startswith("ray_serve_deployment_replica_healthy{")]
    assert any('deployment="LLMServer"' in line for line in healthy)
