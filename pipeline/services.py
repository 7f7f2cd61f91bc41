"""The three model services a call needs, as narrow protocols, and their Serve-handle versions.

The session depends only on these protocols, so it runs the same over Ray Serve handles, over
in-process deployments (tests, benchmarks) or anything else that speaks them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from infra.audio import pcm16_to_float, resample


class Transcriber(Protocol):
    async def transcribe(self, pcm: bytes, sample_rate: int, language: str | None) -> str: ...


class Responder(Protocol):
    def reply(self, messages: list[dict[str, str]]) -> AsyncIterator[str]: ...


class Synthesizer(Protocol):
    """``slack_s``: seconds of audio the caller still has queued ahead of this text (0: needed
    now); a shared TTS serves the call that runs dry first first."""

    def speak(self, text: str, sample_rate: int, slack_s: float = 0.0) -> AsyncIterator[bytes]: ...


class Allowance(Protocol):
    """How long a call may go on (the plan's minutes); ``billing.gate.CallAllowance`` is one.

    The session knows only this: may the call start, may it go on past ``elapsed_s`` (asked every
    ``slice_s`` of call time), and how long it was in the end.
    """

    slice_s: float

    async def admit(self) -> bool: ...

    async def extend(self, elapsed_s: float) -> bool: ...

    async def settle(self, elapsed_s: float) -> None: ...


@dataclass(frozen=True)
class CallServices:
    """The three services one call uses, bundled so transports pass them around as one."""

    transcriber: Transcriber
    responder: Responder
    synthesizer: Synthesizer


class HandleTranscriber:
    """STTServer.transcribe over a handle; audio goes as 16 kHz float32."""

    def __init__(self, handle: Any, model: str | None = None) -> None:
        self.handle, self.model = handle, model

    async def transcribe(self, pcm: bytes, sample_rate: int, language: str | None) -> str:
        audio = resample(pcm16_to_float(pcm), sample_rate, 16000).astype(np.float32)
        result = await self.handle.transcribe.remote(audio, language, self.model)
        return result["text"]


class HandleSynthesizer:
    """TTSServer.stream over a streaming handle: S16LE chunks at the call's rate."""

    def __init__(self, handle: Any, voice: str, speed: float = 1.0) -> None:
        self.handle, self.voice, self.speed = handle, voice, speed

    def with_voice(self, voice: str) -> HandleSynthesizer:
        """The same TTS with a persona's voice."""
        return HandleSynthesizer(self.handle, voice, self.speed)

    async def voices(self) -> list[dict]:
        """The voices the TTS serves (id, language, sample_rate, engine)."""
        return await self.handle.voices.remote()

    @property
    def line_cache_key(self) -> tuple:
        """What this synthesizer's audio depends on besides text and rate (pipeline/line_audio.py)."""
        handle = (getattr(self.handle, "app_name", ""), getattr(self.handle, "deployment_name", ""))
        return ("serve-tts", *handle, self.voice, self.speed)

    async def speak(self, text: str, sample_rate: int, slack_s: float = 0.0) -> AsyncIterator[bytes]:
        gen = self.handle.options(stream=True).stream.remote(text, self.voice, self.speed, sample_rate, round(slack_s, 3))
        async for chunk in gen:
            yield chunk
