"""Which voice speaks a persona: its own if it speaks the persona's language, else one that does.

A Russian persona given an English voice (the seed "marina" had Piper's joe) reads Russian text
through English phonemes: nobody understands it. So at the start of each call:

1. the persona's own voice, when the TTS serves it and it speaks the persona's language;
2. otherwise the first served voice of that language, and a warning says so (``persona.voice_fallback``);
3. otherwise no voice can speak it: :class:`NoVoiceForLanguage`, which the WebSocket answers with
   a close that says why and the modem line with its apology in the voice it has (nothing crashes).
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.logging import get_logger

log = get_logger(__name__)


class NoVoiceForLanguage(LookupError):
    def __init__(self, persona: str, language: str, voices: list[dict]) -> None:
        served = ", ".join(f"{v['id']} ({v.get('language', '?')})" for v in voices) or "none"
        super().__init__(f"no voice speaks {language!r} for persona {persona!r}; the TTS serves: {served}")
        self.persona, self.language = persona, language


@dataclass(frozen=True)
class VoiceChoice:
    voice: str
    fallback: bool = False


def _speaks(voice: dict, language: str) -> bool:
    lang = (voice.get("language") or "").lower()
    return lang == language.lower() or lang.split("-")[0] == language.lower().split("-")[0]


def choose_voice(persona: str, language: str, wanted: str, voices: list[dict]) -> VoiceChoice:
    own = next((v for v in voices if v["id"] == wanted), None)
    if own is not None and _speaks(own, language):
        return VoiceChoice(wanted)
    same = next((v for v in voices if _speaks(v, language)), None)
    if same is None:
        raise NoVoiceForLanguage(persona, language, voices)
    log.warning(
        "persona.voice_fallback",
        persona=persona,
        language=language,
        wanted=wanted,
        voice=same["id"],
        reason="not served" if own is None else f"speaks {own.get('language')}",
    )
    return VoiceChoice(same["id"], fallback=True)
