"""Connecting handles ahead of the first call: each deployment asked once, a dead one never fatal."""

from __future__ import annotations

import asyncio

from deployments import handle_warmup


class _Response:
    def __init__(self, outcome) -> None:
        self.outcome = outcome

    def __await__(self):
        return self._run().__await__()

    async def _run(self):
        if self.outcome == "hang":
            await asyncio.sleep(3600)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


class _Method:
    def __init__(self, handle: _FakeHandle) -> None:
        self.handle = handle

    def remote(self) -> _Response:
        self.handle.calls += 1
        return _Response(self.handle.outcome)


class _FakeHandle:
    """What the warm-up touches of a DeploymentHandle: ``handle.ready.remote()``, awaited."""

    def __init__(self, outcome) -> None:
        self.outcome, self.calls = outcome, 0
        self.ready = _Method(self)


def test_every_deployment_is_asked_once_and_the_answers_are_reported(capsys):
    handles = {"stt": _FakeHandle(True), "tts": _FakeHandle(True), "llm": _FakeHandle(False)}
    connected = asyncio.run(handle_warmup.connect(handles, timeout_s=1.0))
    assert connected == {"stt": True, "tts": True, "llm": False}  # a replica that says "not ready" is not connected
    assert [h.calls for h in handles.values()] == [1, 1, 1]
    logged = capsys.readouterr()
    assert "handles.connected" in logged.out + logged.err  # where the log goes depends on who configured it


def test_a_dead_or_silent_deployment_is_logged_and_does_not_hold_up_the_rest(capsys):
    handles = {"stt": _FakeHandle(RuntimeError("no replicas")), "llm": _FakeHandle("hang"), "tts": _FakeHandle(True)}
    loop = asyncio.new_event_loop()
    try:
        started = loop.time()
        connected = loop.run_until_complete(handle_warmup.connect(handles, timeout_s=0.2))
        took = loop.time() - started
    finally:
        loop.close()
    assert connected == {"stt": False, "llm": False, "tts": True}
    assert took < 2.0  # all at once, each bounded by the timeout: not one after the other, not forever
    logged = capsys.readouterr()
    out = logged.out + logged.err
    assert out.count("handles.not_connected") == 2
    assert "RuntimeError" in out and "TimeoutError" in out
