"""A modem ingress on a simulated SIM7600 with in-process Whisper, Piper and a scripted LLM."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from infra.database import upgrade
from infra.recordings import RecordingStore
from personas.registry import PersonaRegistry
from pipeline.services import CallServices
from privacy.service import PrivacyService
from screening.front_door import FrontDoor
from telephony.call_store import CallStore
from telephony.modem_ingress import ModemIngress, ModemIngressConfig
from telephony.simulator.faults import Faults
from telephony.simulator.modem import SimConfig, SimulatedModem
from tests.pipeline.phone_line import ScriptedResponder, say

SESSION = {
    "greeting": "Hello, this is Anna.",
    "recording_notice": "This call is recorded.",
    "silence_prompt_s": 6.0,
    "max_silence_prompts": 1,
}


def caller_script(*parts: tuple[float, str], total_s: float) -> bytes:
    """8 kHz S16LE: each text spoken at its offset (seconds from answer), silence elsewhere."""
    out = bytearray(int(total_s * 8000) * 2)
    for at_s, text in parts:
        pcm = say(text)
        start = int(at_s * 8000) * 2
        out[start : start + len(pcm)] = pcm[: len(out) - start]
    return bytes(out)


@dataclass
class IngressRig:
    modem: SimulatedModem
    ingress: ModemIngress
    llm: ScriptedResponder
    store: CallStore
    recordings: RecordingStore
    seen: dict[str, int] = field(default_factory=dict)  # per event type, the last one returned

    async def next_event(self, type_: str, after: int | None = None, within_s: float = 30.0):
        """The next event of this type that no earlier call returned (or the first after ``after``)."""
        after = self.seen.get(type_, 0) if after is None else max(after, self.seen.get(type_, 0))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while loop.time() < deadline:
            for e in await self.ingress.events.wait(after, min(1.0, deadline - loop.time())):
                after = e.seq
                if e.type == type_:
                    self.seen[type_] = e.seq
                    return e
        import io

        stacks = io.StringIO()
        for t in asyncio.all_tasks():
            t.print_stack(file=stacks)
        print(stacks.getvalue())
        raise AssertionError(
            f"no {type_} event within {within_s} s; events: {[(e.type, e.data) for e in self.ingress.events.since(0)]}"
        )

    async def call_ended(self, within_s: float = 40.0) -> dict:
        event = await self.next_event("call.ended", within_s=within_s)
        record = await self.store.get_call(event.data["call_id"])
        assert record is not None
        return record


async def make_rig(
    tmp_path: Path,
    transcriber,
    synthesizer,
    replies: list[str] | None = None,
    faults: Faults | None = None,
    answer_after_rings: int = 2,
    personas: bool = False,
    recording_consent: bool = False,
    front_door: bool = False,
    **config,
) -> IngressRig:
    url = f"sqlite+aiosqlite:///{tmp_path / 'calls.db'}"
    await upgrade(url)
    modem = SimulatedModem(
        tmp_path / "modem",
        SimConfig(ring_period_s=0.3, dial_answer_delay_s=0.3, sms_send_delay_s=0.1, reset_down_s=0.5),
        faults,
    )
    await modem.start()
    llm = ScriptedResponder(replies or [])
    store = CallStore(url)
    recordings = RecordingStore(tmp_path / "recordings")
    # With a persona registry the lines come from the persona; the profile's block would override them.
    session = {**({} if personas else SESSION), **config.pop("session", {})}
    cfg = ModemIngressConfig(answer_after_rings=answer_after_rings, session=session, **config)
    ingress = ModemIngress(
        str(modem.at_path),
        str(modem.audio_path),
        CallServices(transcriber, llm, synthesizer),
        store,
        recordings,
        cfg,
        driver_options={"pcm_accept_window_s": 3.0, "backoff": (0.1, 1.0)},
        personas=PersonaRegistry(url) if personas else None,
        recording_allowed=PrivacyService(url, recordings=recordings).recording_allowed if recording_consent else None,
        front_door=FrontDoor(url) if front_door else None,
    )
    await ingress.start()
    await ingress.wait_ready(10)
    return IngressRig(modem, ingress, llm, store, recordings)
