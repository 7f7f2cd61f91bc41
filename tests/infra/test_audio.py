from __future__ import annotations

import numpy as np
import pytest

from infra.audio import (
    AudioDecodeError,
    StreamResampler,
    decode_audio,
    encode_audio,
    encoded_rate,
    float_to_pcm16,
    pcm16_to_float,
    resample,
    wav_bytes,
)


def tone(seconds: float, rate: int, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return float_to_pcm16(0.5 * np.sin(2 * np.pi * freq * t))


@pytest.mark.parametrize("fmt", ["wav", "mp3", "opus", "aac", "flac"])
def test_encode_decode_round_trip_keeps_duration_and_pitch(fmt):
    audio = decode_audio(encode_audio(tone(1.0, 22050), 22050, fmt), 16000)
    assert abs(audio.duration_s - 1.0) < 0.1
    spectrum = np.abs(np.fft.rfft(audio.samples[:16000]))
    assert abs(np.argmax(spectrum) * 16000 / 16000 - 440) < 5


def test_pcm_is_raw_samples():
    pcm = tone(0.1, 8000)
    assert encode_audio(pcm, 8000, "pcm") == pcm.tobytes()
    np.testing.assert_allclose(pcm16_to_float(pcm.tobytes()), pcm / 32768.0)


def test_unsupported_format():
    with pytest.raises(ValueError, match="unsupported"):
        encode_audio(tone(0.1, 8000), 8000, "midi")


@pytest.mark.parametrize("data", [b"", b"not audio" * 50, b"RIFF\x10\x00\x00\x00WAVEfmt \x00"])
def test_garbage_is_a_decode_error(data):
    with pytest.raises(AudioDecodeError):
        decode_audio(data)


def test_too_long_audio_stops_early():
    with pytest.raises(AudioDecodeError, match="longer than"):
        decode_audio(wav_bytes(tone(3.0, 8000), 8000), 16000, max_seconds=1.0)


def test_stream_resampler_matches_whole_buffer():
    pcm = tone(1.0, 22050)
    rs = StreamResampler(22050, 8000)
    parts = [rs.process(pcm[i : i + 2205]) for i in range(0, len(pcm), 2205)]
    parts.append(rs.process(np.zeros(0, np.int16), last=True))
    streamed = np.concatenate(parts)
    whole = resample(pcm, 22050, 8000)
    assert abs(len(streamed) - len(whole)) <= 2
    n = min(len(streamed), len(whole))
    assert np.max(np.abs(streamed[:n].astype(int) - whole[:n].astype(int))) < 200
    assert StreamResampler(8000, 8000).process(pcm) is pcm


@pytest.mark.parametrize(
    ("fmt", "rate", "expected"),
    [("mp3", 21677, 22050), ("opus", 44100, 48000), ("aac", 47000, 48000), ("flac", 21677, 21677), ("mp3", 24000, 24000)],
)
def test_rates_a_codec_does_not_take_are_encoded_at_its_next_rate(fmt, rate, expected):
    assert encoded_rate(fmt, rate) == expected
    audio = decode_audio(encode_audio(tone(0.5, rate), rate, fmt), 16000)
    assert 0.45 <= audio.duration_s <= 0.6
