"""Festival (Debian's ``festival`` + ``festvox-ru``): the CPU profile's Russian voice.

No neural Russian voice ships its weights on PyPI (``shared/spec/cpu-profile.md``), and the
offline Russian synthesizers that do (``retro-ru-tts``) are formant voices that do not even import
on Python 3.11. Festival's ``msu_ru_nsh_clunits`` is a unit-selection voice recorded by a person:
Whisper base reads it back with a character error rate near 0.08.

One ``festival --pipe`` process per voice, kept running: loading the voice takes ~0.35 s, a
sentence then ~0.1-0.2 s. Commands go in on stdin; each ends by printing a marker, and the reply
is the WAV file the command wrote. Festival reads digits one by one and stumbles on "12:30", so
text goes through the voice's language front end first (``deployments/tts/text_ru.py``).
"""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deployments.tts.engine import TextToSpeechEngine, VoiceInfo
from infra.audio import decode_audio, resample

_SENTENCE = re.compile(r"(?<=[.!?…])\s+")


@dataclass
class FestivalVoiceConfig:
    id: str
    voice: str  # Festival's voice name, e.g. msu_ru_nsh_clunits
    language: str = "ru"
    sample_rate: int = 16000


@dataclass
class FestivalConfig:
    voices: list[FestivalVoiceConfig]
    binary: str = "festival"
    timeout_s: float = 20.0

    @classmethod
    def from_dict(cls, d: dict) -> FestivalConfig:
        d = dict(d)
        d["voices"] = [FestivalVoiceConfig(**v) for v in d["voices"]]
        return cls(**d)


class FestivalUnavailableError(RuntimeError):
    """Festival or one of its voices is not installed; the message says what to install."""


def _quote(text: str) -> str:
    """A Scheme string literal: quotes escaped; backslashes and control characters, which no voice
    says and Festival's letter-to-sound rules reject, become spaces."""
    text = re.sub(r"[\x00-\x1f\\]", " ", text)
    return '"' + text.replace('"', '\\"') + '"'


class FestivalProcess:
    """One running ``festival --pipe`` with a voice selected; one command at a time."""

    def __init__(self, binary: str, voice: str, timeout_s: float) -> None:
        self.binary, self.voice, self.timeout_s = binary, voice, timeout_s
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._dir = Path(tempfile.mkdtemp(prefix="festival-"))

    def _start(self) -> None:
        # stdbuf: Festival buffers stdout when it is not a terminal, so markers would never arrive.
        argv = [self.binary, "--pipe"]
        if shutil.which("stdbuf"):
            argv = ["stdbuf", "-oL", *argv]
        self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = self._command(f"(voice_{self.voice})")
        if "SIOD ERROR" in out or "unbound variable" in out:
            self.close()
            raise FestivalUnavailableError(
                f"Festival has no voice {self.voice!r} (apt-get install festvox-ru): {out.strip()[:200]}"
            )

    def _command(self, command: str) -> str:
        marker = f"@@{uuid.uuid4().hex}@@"
        assert self._proc is not None and self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(f'{command}\n(print "{marker}")\n'.encode())
        self._proc.stdin.flush()
        buf = b""
        fd = self._proc.stdout.fileno()
        while marker.encode() not in buf:
            ready, _, _ = select.select([fd], [], [], self.timeout_s)
            chunk = os.read(fd, 65536) if ready else b""
            if not chunk:
                self.close()  # dead or hung: the next request starts a fresh process
                raise RuntimeError(f"festival stopped answering: {buf.decode(errors='replace')[-200:]}")
            buf += chunk
        return buf.decode(errors="replace").split(marker)[0]

    def ensure_started(self) -> None:
        """Start the process and load the voice unless it is running (a dead one is started again)."""
        with self._lock:
            self._ensure_started()

    def _ensure_started(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            self._start()

    def synthesize(self, text: str) -> bytes:
        """WAV bytes for ``text`` (one sentence or a few)."""
        with self._lock:
            self._ensure_started()
            path = self._dir / f"{uuid.uuid4().hex}.wav"
            try:
                out = self._command(f"(utt.save.wave (utt.synth (Utterance Text {_quote(text)})) {_quote(str(path))} 'riff)")
                if not path.exists():
                    raise RuntimeError(f"festival could not say {text[:60]!r}: {out.strip()[-200:]}")
                return path.read_bytes()
            finally:
                path.unlink(missing_ok=True)

    def close(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None


class FestivalEngine(TextToSpeechEngine):
    name = "festival"

    def __init__(self, config: FestivalConfig, resolve_path=lambda p: Path(p)) -> None:
        if not shutil.which(config.binary):
            raise FestivalUnavailableError(
                f"{config.binary!r} is not installed: apt-get install festival festvox-ru (make demo-deps does)"
            )
        self.config = config
        self._info = {v.id: VoiceInfo(v.id, v.language, v.sample_rate, self.name) for v in config.voices}
        self._procs = {v.id: FestivalProcess(config.binary, v.voice, config.timeout_s) for v in config.voices}
        for proc in self._procs.values():  # load every voice now: a missing one fails the start, not a call
            proc.ensure_started()

    def voices(self) -> list[VoiceInfo]:
        return list(self._info.values())

    def synthesize(self, text: str, voice: str, speed: float = 1.0) -> Iterator[np.ndarray]:
        from deployments.tts.text_ru import speakable

        info = self._info[voice]
        for sentence in _SENTENCE.split(speakable(text) if info.language == "ru" else text):
            if not sentence.strip():
                continue
            audio = decode_audio(self._procs[voice].synthesize(sentence), info.sample_rate).samples
            if speed != 1.0:
                # A unit-selection voice keeps its recorded durations (Festival's Duration_Stretch does
                # not reach clunits), so speed is a resampling and the pitch moves with it.
                audio = resample(audio, round(info.sample_rate * speed), info.sample_rate)
            yield np.clip(audio * 32767, -32768, 32767).astype(np.int16)

    def __del__(self) -> None:
        for proc in getattr(self, "_procs", {}).values():
            proc.close()
