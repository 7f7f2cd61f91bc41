"""Test speech: synthesised callers in English (espeak-ng) and Russian (Festival), and scoring.

Real voices from Debian packages, not recordings in git: the clips are made when a test asks.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import unicodedata
from pathlib import Path

import jiwer
import numpy as np

from infra.audio import decode_audio


def espeak_wav(text: str, voice: str = "en-us", rate_wpm: int = 150) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "clip.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(rate_wpm), "-w", str(out), text], check=True)
        return out.read_bytes()


def festival_ru_wav(text: str) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        src, out = Path(d) / "text.txt", Path(d) / "clip.wav"
        src.write_text(text, encoding="utf-8")
        subprocess.run(
            ["text2wave", "-eval", "(voice_msu_ru_nsh_clunits)", str(src), "-o", str(out)], check=True, capture_output=True
        )
        return out.read_bytes()


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", text.lower()).replace("ё", "е")
    text = re.sub(r"[^\w\s']", " ", text)
    return " ".join(text.split())


def wer(reference: str, hypothesis: str) -> float:
    return jiwer.wer(normalise(reference), normalise(hypothesis))


def cer(reference: str, hypothesis: str) -> float:
    return jiwer.cer(normalise(reference), normalise(hypothesis))


def samples_16k(wav: bytes) -> np.ndarray:
    return decode_audio(wav, 16000).samples
