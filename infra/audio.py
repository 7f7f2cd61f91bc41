"""Audio helpers shared by the model deployments and the call pipeline.

Conventions: PCM is mono signed 16-bit little-endian (``S16LE``) unless said otherwise; float
audio is ``float32`` in [-1, 1]. Decoding goes through PyAV (FFmpeg), so any container a client
may upload is accepted; encoding offers the OpenAI ``response_format`` values FFmpeg has here.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass

import av
import numpy as np
import soxr

# OpenAI response_format -> (container, codec, mime). wav and pcm need no FFmpeg.
ENCODINGS: dict[str, tuple[str, str, str]] = {
    "mp3": ("mp3", "libmp3lame", "audio/mpeg"),
    "opus": ("ogg", "libopus", "audio/ogg"),
    "aac": ("adts", "aac", "audio/aac"),
    "flac": ("flac", "flac", "audio/flac"),
}
MIME_TYPES = {"wav": "audio/wav", "pcm": "audio/pcm"} | {k: v[2] for k, v in ENCODINGS.items()}
# The sample rates each lossy codec accepts; other rates are resampled up to the next one.
CODEC_RATES: dict[str, tuple[int, ...]] = {
    "libopus": (8000, 12000, 16000, 24000, 48000),
    "libmp3lame": (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000),
    "aac": (7350, 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000),
}


def encoded_rate(fmt: str, sample_rate: int) -> int:
    """The rate audio at ``sample_rate`` is encoded at in ``fmt`` (the same, or the codec's next rate up)."""
    codec = ENCODINGS[fmt][1] if fmt in ENCODINGS else None
    rates = CODEC_RATES.get(codec or "")
    if not rates or sample_rate in rates:
        return sample_rate
    return next((r for r in rates if r >= sample_rate), rates[-1])


class AudioDecodeError(ValueError):
    """The bytes are not audio FFmpeg can decode (or hold no audio stream)."""


@dataclass(frozen=True)
class DecodedAudio:
    samples: np.ndarray  # float32 mono
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


def decode_audio(data: bytes, sample_rate: int = 16000, max_seconds: float | None = None) -> DecodedAudio:
    """Decode any FFmpeg-readable audio file into float32 mono at ``sample_rate``.

    Raises :class:`AudioDecodeError` with a message a client can act on; stops decoding (and
    raises) as soon as ``max_seconds`` is exceeded so an oversized upload costs little.
    """
    if not data:
        raise AudioDecodeError("the audio file is empty")
    try:
        container = av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise AudioDecodeError(f"could not read the audio file: {exc}") from None
    try:
        if not container.streams.audio:
            raise AudioDecodeError("the file has no audio stream")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks: list[np.ndarray] = []
        total = 0
        limit = None if max_seconds is None else int(max_seconds * sample_rate)
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    arr = out.to_ndarray().reshape(-1)
                    chunks.append(arr)
                    total += len(arr)
                if limit is not None and total > limit:
                    raise AudioDecodeError(f"the audio is longer than the limit of {max_seconds:.0f} s")
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except (av.error.FFmpegError, ValueError) as exc:
            raise AudioDecodeError(f"the audio data is corrupt: {exc}") from None
    finally:
        container.close()
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if samples.size == 0:
        raise AudioDecodeError("the file holds no audio samples")
    return DecodedAudio(samples, sample_rate)


def pcm16_to_float(pcm: bytes | np.ndarray) -> np.ndarray:
    arr = np.frombuffer(pcm, dtype="<i2") if isinstance(pcm, bytes | bytearray | memoryview) else pcm
    return arr.astype(np.float32) / 32768.0


def float_to_pcm16(samples: np.ndarray) -> np.ndarray:
    """Inverse of :func:`pcm16_to_float` (scale 32768), so int16 -> float -> int16 is lossless."""
    return np.clip(np.round(np.asarray(samples, dtype=np.float64) * 32768.0), -32768, 32767).astype("<i2")


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample a whole mono buffer (int16 or float32 in, same dtype out)."""
    if from_rate == to_rate or samples.size == 0:
        return samples
    return soxr.resample(samples, from_rate, to_rate, quality="HQ")


class StreamResampler:
    """Resample consecutive chunks of one stream without clicks at chunk borders."""

    def __init__(self, from_rate: int, to_rate: int, dtype: str = "int16") -> None:
        self.passthrough = from_rate == to_rate
        self._rs = None if self.passthrough else soxr.ResampleStream(from_rate, to_rate, 1, dtype=dtype)

    def process(self, chunk: np.ndarray, last: bool = False) -> np.ndarray:
        if self._rs is None:
            return chunk
        return self._rs.resample_chunk(chunk, last=last)


def wav_bytes(pcm16: np.ndarray, sample_rate: int) -> bytes:
    """A WAV file of S16LE samples: shape (n,) is mono, (n, channels) interleaved."""
    pcm16 = np.asarray(pcm16)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1 if pcm16.ndim == 1 else pcm16.shape[1])
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(np.asarray(pcm16, dtype="<i2").tobytes())
    return buf.getvalue()


def encode_audio(pcm16: np.ndarray, sample_rate: int, fmt: str) -> bytes:
    """Encode mono S16LE samples as an OpenAI ``response_format`` (wav, pcm, mp3, opus, aac, flac)."""
    pcm16 = np.asarray(pcm16, dtype="<i2")
    if fmt == "pcm":
        return pcm16.tobytes()
    if fmt == "wav":
        return wav_bytes(pcm16, sample_rate)
    if fmt not in ENCODINGS:
        raise ValueError(f"unsupported audio format {fmt!r}")
    container_fmt, codec, _ = ENCODINGS[fmt]
    rate = encoded_rate(fmt, sample_rate)
    if rate != sample_rate:
        pcm16 = resample(pcm16, sample_rate, rate)
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=container_fmt) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(pcm16.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()
