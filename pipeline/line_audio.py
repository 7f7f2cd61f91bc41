"""The synthesised audio of a persona's fixed lines, kept per process and replayed.

A call opens with the same greeting and recording notice every time, and ends with one of a
few fixed lines (farewell, silence prompt, hang-up line, apology, limit notice). Synthesising
them anew on every call is work that the caller waits for: the greeting starts only once its
first audio exists, and when several calls are answered at once their greetings share the
cores (four at a time took 1.4-1.8 s each on the CPU profile, BENCHMARKS.md "Fixed lines").
Replayed from memory, a line starts at once and costs nothing.

It also keeps the apology sayable when the TTS is down, which is when it is needed: the session
asks for it ahead of time (``warm``), so a call whose TTS replica dies still hears it.

Only synthesizers that say what their audio depends on are cached: ``line_cache_key`` (voice,
speed and the service behind it). A line whose synthesis failed or was cut off is not stored.
Entries expire after ``max_age_s`` so that a voice redeployed under the same id is picked up.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Hashable

from infra import metrics
from pipeline.services import Synthesizer

LINE_AUDIO_LOOKUPS = metrics.counter("tts_line_cache_total", "Fixed lines asked of the line audio cache", ("result",))


def line_cache_key(synth: Synthesizer) -> Hashable | None:
    """What a synthesizer's audio depends on besides the text and the rate; None: not cacheable."""
    return getattr(synth, "line_cache_key", None)


class LineAudioCache:
    """Least-recently-used audio of fixed lines, bounded in bytes, keyed by (synthesizer, text, rate)."""

    def __init__(
        self, max_bytes: int = 16 << 20, max_age_s: float = 3600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_bytes, self.max_age_s, self.clock = max_bytes, max_age_s, clock
        self._entries: OrderedDict[Hashable, tuple[float, tuple[bytes, ...]]] = OrderedDict()
        self._bytes = 0
        self._warming: set[Hashable] = set()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, synth: Synthesizer, text: str, sample_rate: int) -> tuple[bytes, ...] | None:
        key = self._key(synth, text, sample_rate)
        entry = self._entries.get(key) if key is not None else None
        if entry is None:
            return None
        stored_at, chunks = entry
        if self.clock() - stored_at > self.max_age_s:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return chunks

    def put(self, synth: Synthesizer, text: str, sample_rate: int, chunks: tuple[bytes, ...]) -> None:
        key = self._key(synth, text, sample_rate)
        size = sum(len(c) for c in chunks)
        if key is None or not chunks or size > self.max_bytes:
            return
        self._drop(key)
        self._entries[key] = (self.clock(), chunks)
        self._bytes += size
        while self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    async def speak(self, synth: Synthesizer, text: str, sample_rate: int) -> AsyncIterator[bytes]:
        """The line's audio: replayed if kept, else synthesised (streamed as it comes) and kept."""
        if line_cache_key(synth) is None:
            async for chunk in synth.speak(text, sample_rate):
                yield chunk
            return
        kept = self.get(synth, text, sample_rate)
        LINE_AUDIO_LOOKUPS.inc(result="hit" if kept is not None else "miss")
        if kept is not None:
            for chunk in kept:
                yield chunk
            return
        chunks: list[bytes] = []
        async for chunk in synth.speak(text, sample_rate):
            chunks.append(chunk)
            yield chunk
        self.put(synth, text, sample_rate, tuple(chunks))  # reached only when the line was made whole

    async def warm(self, synth: Synthesizer, text: str, sample_rate: int) -> bool:
        """Synthesise and keep a line ahead of need; True if it is kept (or already was)."""
        key = self._key(synth, text, sample_rate)
        if key is None:
            return False
        if self.get(synth, text, sample_rate) is None and key not in self._warming:
            self._warming.add(key)  # calls answered together warm a line once
            try:
                async for _ in self.speak(synth, text, sample_rate):
                    pass
            finally:
                self._warming.discard(key)
        return self.get(synth, text, sample_rate) is not None

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def _key(self, synth: Synthesizer, text: str, sample_rate: int) -> Hashable | None:
        base = line_cache_key(synth)
        return None if base is None else (base, text, sample_rate)

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= sum(len(c) for c in entry[1])


LINE_AUDIO = LineAudioCache()  # one per process: every call in it shares the lines it has heard
