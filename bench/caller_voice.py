"""The benchmarks' scripted callers speak with Piper's joe voice at the phone's 8 kHz (one engine per process)."""

from __future__ import annotations

_tts = None


async def piper_line(text: str) -> bytes:
    """``text`` as 8 kHz S16LE speech."""
    global _tts
    if _tts is None:
        from deployments.registry import TTS_ENGINES, build_engine
        from deployments.tts.service import SpeechService

        spec = {"engine": "piper", "config": {"voices": [{"id": "joe", "path": "piper/en_US-joe-medium.onnx"}]}}
        _tts = SpeechService(build_engine(TTS_ENGINES, spec))
    pcm, _ = await _tts.synthesize(text, "joe", 1.0, 8000)
    return pcm
