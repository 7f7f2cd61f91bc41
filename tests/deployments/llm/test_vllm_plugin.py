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
