"""Coqui XTTS-v2 engine for the GPU profile.

XTTS weights are not redistributable on PyPI; an operator places a checkpoint directory
(``config.json``, ``model.pth``, ``vocab.json``) and one reference WAV per voice, and names them
in ``serve_config.yaml``. The ``coqui-tts`` package does not import beside the CPU torch used by
the CPU profile (it needs torchaudio), so this module is imported only when the config picks it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deployments.tts.engine import TextToSpeechEngine, VoiceInfo

XTTS_SAMPLE_RATE = 24000


@dataclass
class XTTSVoiceConfig:
    id: str
    reference_wav: str
    language: str = "ru"


@dataclass
class XTTSConfig:
    checkpoint_dir: str
    voices: list[XTTSVoiceConfig]
    device: str = "cuda"
    stream_chunk_size: int = 20

    @classmethod
    def from_dict(cls, d: dict) -> XTTSConfig:
        d = dict(d)
        d["voices"] = [XTTSVoiceConfig(**v) for v in d["voices"]]
        return cls(**d)


class XTTSEngine(TextToSpeechEngine):
    name = "xtts"

    def __init__(self, config: XTTSConfig, resolve_path=lambda p: Path(p)) -> None:
        from TTS.tts.configs.xtts_config import XttsConfig
        from TTS.tts.models.xtts import Xtts

        ckpt = Path(resolve_path(config.checkpoint_dir))
        if not (ckpt / "config.json").is_file():
            raise FileNotFoundError(f"XTTS checkpoint not found at {ckpt} (operator-supplied weights)")
        xcfg = XttsConfig()
        xcfg.load_json(str(ckpt / "config.json"))
        self.model = Xtts.init_from_config(xcfg)
        self.model.load_checkpoint(xcfg, checkpoint_dir=str(ckpt), use_deepspeed=False)
        self.model.to(config.device)
        self.config = config
        self._lock = threading.Lock()
        self._latents: dict[str, tuple] = {}
        self._info: dict[str, VoiceInfo] = {}
        for v in config.voices:
            wav = str(resolve_path(v.reference_wav))
            self._latents[v.id] = self.model.get_conditioning_latents(audio_path=[wav])
            self._info[v.id] = VoiceInfo(v.id, v.language, XTTS_SAMPLE_RATE, self.name)

    def voices(self) -> list[VoiceInfo]:
        return list(self._info.values())

    def synthesize(self, text: str, voice: str, speed: float = 1.0) -> Iterator[np.ndarray]:
        gpt_latent, speaker_embedding = self._latents[voice]
        with self._lock:
            chunks = self.model.inference_stream(
                text,
                self._info[voice].language,
                gpt_latent,
                speaker_embedding,
                stream_chunk_size=self.config.stream_chunk_size,
                speed=speed,
            )
            for chunk in chunks:
                audio = chunk.detach().float().cpu().numpy().reshape(-1)
                yield (np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)
