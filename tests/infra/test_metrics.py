from __future__ import annotations

import pickle

import prometheus_client

from infra import metrics


def _value(name: str, labels: dict) -> float | None:
    return prometheus_client.REGISTRY.get_sample_value(name, labels)


def test_counter_and_histogram_without_ray():
    c = metrics.counter("test_events_total", "events", ("kind",))
    c.inc(kind="a")
    c.inc(2, kind="a")
    assert _value("secretary_test_events_total", {"kind": "a"}) == 3
    h = metrics.histogram("test_latency_seconds", "latency", ("stage",))
    h.observe(0.05, stage="stt")
    assert _value("secretary_test_latency_seconds_count", {"stage": "stt"}) == 1
    g = metrics.gauge("test_active", "active")
    g.set(4)
    assert _value("secretary_test_active", {}) == 4


def test_redefining_a_metric_reuses_the_collector():
    a = metrics.counter("test_twice_total", "x")
    b = metrics.counter("test_twice_total", "x")
    a.inc()
    b.inc()
    assert _value("secretary_test_twice_total", {}) == 2


def test_metric_pickles_as_its_definition():
    h = metrics.histogram("test_pickled_seconds", "p", ("a",), boundaries=[0.1, 1.0])
    h.observe(0.2, a="x")
    clone = pickle.loads(pickle.dumps(h))
    assert clone.name == h.name and clone.boundaries == [0.1, 1.0] and clone.tag_keys == ("a",)


def test_prepare_makes_the_backend_once_before_the_first_use():
    h = metrics.histogram("test_prepared_seconds", "p")
    assert h._impl is None  # lazy: Ray may not be up when the module is imported
    h.prepare()
    backend = h._impl
    assert backend is not None
    h.prepare()
    h.observe(0.01)
    assert h._impl is backend  # made once; the first observation did not make another
    assert _value("secretary_test_prepared_seconds_count", {}) == 1
