"""The plugin's cap on vLLM's shared-memory busy loop: applied only when asked, once, never raised."""

from __future__ import annotations

import itertools

import pytest
import zmq

from deployments.llm import vllm_plugin

_addresses = itertools.count()


@pytest.fixture
def spin_condition(monkeypatch, tmp_path):
    from vllm.distributed.device_communicators import shm_broadcast

    cls = shm_broadcast.SpinCondition
    # vLLM's own constructor, even if an engine started earlier in this process applied a cap;
    # monkeypatch puts back whatever was there when the test ends.
    monkeypatch.setattr(cls, "__init__", getattr(cls.__init__, "__wrapped_by_secretary__", cls.__init__))
    context = zmq.Context()

    def reader(**kwargs):
        # As vLLM's MessageQueue makes one: it never passes busy_loop_s.
        return cls(is_reader=True, context=context, notify_address=f"ipc://{tmp_path}/n{next(_addresses)}", **kwargs)

    yield reader
    context.destroy(linger=0)


def test_without_the_setting_vllm_spins_its_default_second(spin_condition, monkeypatch):
    monkeypatch.delenv(vllm_plugin.SPIN_ENV, raising=False)
    vllm_plugin.register()
    assert spin_condition().busy_loop_s == 1


def test_the_profile_caps_the_spin_and_registering_again_does_not_stack(spin_condition, monkeypatch):
    monkeypatch.setenv(vllm_plugin.SPIN_ENV, "0.1")
    vllm_plugin.register()
    vllm_plugin.register()  # vLLM may load plugins more than once in a process
    assert spin_condition().busy_loop_s == pytest.approx(0.1)
    assert spin_condition(busy_loop_s=0.01).busy_loop_s == pytest.approx(0.01)  # a shorter spin is kept
    monkeypatch.setenv(vllm_plugin.SPIN_ENV, "0.5")
    vllm_plugin.register()  # a new value replaces the cap rather than wrapping the old one
    assert spin_condition().busy_loop_s == pytest.approx(0.5)


def test_a_negative_setting_means_no_spin_at_all(monkeypatch):
    monkeypatch.setenv(vllm_plugin.SPIN_ENV, "-3")
    assert vllm_plugin.spin_limit_s() == 0.0
    monkeypatch.setenv(vllm_plugin.SPIN_ENV, "")
    assert vllm_plugin.spin_limit_s() is None


@pytest.fixture
def process_name(monkeypatch):
    import multiprocessing

    from vllm.distributed.device_communicators import shm_broadcast
    from vllm.distributed.utils import sched_yield

    monkeypatch.setattr(shm_broadcast, "sched_yield", sched_yield)  # put back after the test
    return lambda name: monkeypatch.setattr(multiprocessing.current_process(), "name", name)


def test_the_profile_turns_the_engine_cores_busy_loop_into_naps(process_name, monkeypatch):
    from vllm.distributed.device_communicators import shm_broadcast
    from vllm.distributed.utils import sched_yield

    process_name("EngineCore")
    monkeypatch.delenv(vllm_plugin.NAP_ENV, raising=False)
    vllm_plugin.register()
    assert shm_broadcast.sched_yield is sched_yield  # not asked: vLLM's own yield

    monkeypatch.setenv(vllm_plugin.NAP_ENV, "200")
    vllm_plugin.register()
    vllm_plugin.register()
    assert shm_broadcast.sched_yield.__secretary_nap_s__ == pytest.approx(200e-6)
    sleeps = []
    monkeypatch.setattr("time.sleep", sleeps.append)
    shm_broadcast.sched_yield()
    assert sleeps == [pytest.approx(200e-6)]


@pytest.mark.parametrize("raw", ["0", "-5", "20000", "fast"])
def test_a_nap_out_of_range_is_refused(monkeypatch, raw):
    monkeypatch.setenv(vllm_plugin.NAP_ENV, raw)
    with pytest.raises(ValueError):
        vllm_plugin.spin_nap_s()


@pytest.mark.parametrize("name", ["VllmWorker-0", "MainProcess"])
def test_other_processes_keep_spinning(process_name, monkeypatch, name):
    """The worker must not nap: its waits are between its own steps (a token cost 63-70 ms)."""
    from vllm.distributed.device_communicators import shm_broadcast
    from vllm.distributed.utils import sched_yield

    process_name(name)
    monkeypatch.setenv(vllm_plugin.NAP_ENV, "200")
    vllm_plugin.register()
    assert shm_broadcast.sched_yield is sched_yield
