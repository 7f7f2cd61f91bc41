"""Prometheus metrics that work inside Ray Serve replicas and in plain processes alike.

Inside Ray, metrics go through ``ray.util.metrics`` so the Ray metrics agent exports every
replica's series on the cluster's Prometheus endpoint (and the dashboard's Grafana panels). In a
process without Ray (a benchmark or a unit test calling an engine in-process) the same calls fall
back to ``prometheus_client``. Metric objects are created lazily, on first use, so importing a
module never needs a running cluster.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import prometheus_client

# Seconds; dense below one second, where voice latency budgets live.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.5,
    0.75,
    1.0,
    1.5,
    2.0,
    3.0,
    5.0,
    10.0,
    30.0,
)
NAMESPACE = "secretary"


def _ray_ready() -> bool:
    try:
        import ray

        return ray.is_initialized()
    except ImportError:  # pragma: no cover - ray is a hard dependency
        return False


class _Metric:
    """One named metric; the backend is picked when it is first touched."""

    def __init__(
        self, kind: str, name: str, description: str, tag_keys: Sequence[str], boundaries: Sequence[float] | None = None
    ) -> None:
        self.kind, self.name, self.description = kind, f"{NAMESPACE}_{name}", description
        self.tag_keys = tuple(tag_keys)
        self.boundaries = list(boundaries or LATENCY_BUCKETS)
        self._impl: Any = None
        self._ray = False
        self._lock = threading.Lock()

    def __reduce__(self):
        # Ray may pickle module globals that a deployment's methods reference: ship the
        # definition, not the live backend (which holds a lock and process-local state).
        name = self.name.removeprefix(f"{NAMESPACE}_")
        return (_Metric, (self.kind, name, self.description, self.tag_keys, self.boundaries))

    def _backend(self) -> Any:
        if self._impl is None:
            with self._lock:
                if self._impl is None:
                    self._impl = self._make()
        return self._impl

    def _make(self) -> Any:
        if _ray_ready():
            from ray.util import metrics as rm

            self._ray = True
            if self.kind == "counter":
                return rm.Counter(self.name, self.description, tag_keys=self.tag_keys)
            if self.kind == "gauge":
                return rm.Gauge(self.name, self.description, tag_keys=self.tag_keys)
            return rm.Histogram(self.name, self.description, boundaries=self.boundaries, tag_keys=self.tag_keys)
        registry = prometheus_client.REGISTRY
        existing = registry._names_to_collectors.get(self.name)  # re-use on re-import in tests
        if existing is not None:
            return existing
        if self.kind == "counter":
            return prometheus_client.Counter(self.name, self.description, self.tag_keys)
        if self.kind == "gauge":
            return prometheus_client.Gauge(self.name, self.description, self.tag_keys)
        return prometheus_client.Histogram(self.name, self.description, self.tag_keys, buckets=self.boundaries)

    def _apply(self, method: str, value: float, tags: dict[str, str]) -> None:
        impl = self._backend()
        if self._ray:
            getattr(impl, method)(value, tags=tags)
        else:
            target = impl.labels(**tags) if self.tag_keys else impl
            getattr(target, method)(value)

    def prepare(self) -> None:
        """Make the backend now: the first use otherwise pays for it (and may import Ray), which a
        real-time loop must not do mid-call."""
        self._backend()

    def inc(self, value: float = 1.0, **tags: str) -> None:
        self._apply("inc", value, tags)

    def set(self, value: float, **tags: str) -> None:
        self._apply("set", value, tags)

    def observe(self, value: float, **tags: str) -> None:
        self._apply("observe", value, tags)


def counter(name: str, description: str, tag_keys: Sequence[str] = ()) -> _Metric:
    return _Metric("counter", name, description, tag_keys)


def gauge(name: str, description: str, tag_keys: Sequence[str] = ()) -> _Metric:
    return _Metric("gauge", name, description, tag_keys)


def histogram(
    name: str, description: str, tag_keys: Sequence[str] = (), boundaries: Sequence[float] | None = None
) -> _Metric:
    return _Metric("histogram", name, description, tag_keys, boundaries)
