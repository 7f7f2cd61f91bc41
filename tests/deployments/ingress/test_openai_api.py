"""The running cluster, driven through the official ``openai`` client as a user would."""

from __future__ import annotations

import io
import json
import wave

import numpy as np
import pytest

from infra.audio import decode_audio
from tests.speech import cer, festival_ru_wav, wer

pytestmark = pytest.mark.cluster

EN_TEXT = "Good morning. I would like to book an appointment for Tuesday afternoon, please."
RU_TEXT = "Здравствуйте, я хочу записаться на приём к врачу на завтра."


def test_models_list_has_chat_speech_and_transcription(openai_client):
    models = {m.id: m.model_extra["kind"] for m in openai_client.models.list().data}
    assert models["smollm2-135m-instruct"] == "chat"
    assert models["whisper-1"] == "transcription"
    assert models["whisper-base"] == "transcription"
    assert models["tts-1"] == "speech"
    assert openai_client.models.retrieve("whisper-tiny.en").id == "whisper-tiny.en"


def test_streamed_chat_completion_reports_real_usage(openai_client, chat_model):
    stream = openai_client.chat.completions.create(
        model=chat_model,
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        max_tokens=24,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    usage = chunks[-1].usage
    assert "Paris" in text
    assert finish == ["stop"]
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) > 1, "tokens must arrive as several chunks, not one"
    assert usage.prompt_tokens > 10 and 0 < usage.completion_tokens <= 24
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_non_streamed_chat_stops_at_max_tokens(openai_client, chat_model):
    r = openai_client.chat.completions.create(
        model=chat_model,
        messages=[
            {"role": "system", "content": "You are a helpful secretary."},
            {"role": "user", "content": "Write a long story about a cat."},
        ],
        max_tokens=5,
        temperature=0,
    )
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 5
    assert r.choices[0].message.content


def test_greedy_chat_is_deterministic(openai_client, chat_model):
    kwargs = dict(
        model=chat_model, messages=[{"role": "user", "content": "Name three colours."}], max_tokens=16, temperature=0
    )
    a = openai_client.chat.completions.create(**kwargs).choices[0].message.content
    b = openai_client.chat.completions.create(**kwargs).choices[0].message.content
    assert a == b


def test_speech_then_transcription_round_trip_english(openai_client):
    speech = openai_client.audio.speech.create(model="tts-1", voice="alloy", input=EN_TEXT, response_format="wav")
    with wave.open(io.BytesIO(speech.content)) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2 and w.getframerate() == 22050
        assert w.getnframes() / w.getframerate() > 2.0
    text = openai_client.audio.transcriptions.create(model="whisper-1", file=("s.wav", speech.content), language="en")
    assert wer(EN_TEXT, text.text) <= 0.1, text.text


def test_transcription_russian_with_base_model(openai_client):
    clip = festival_ru_wav(RU_TEXT)
    text = openai_client.audio.transcriptions.create(model="whisper-base", file=("ru.wav", clip), language="ru")
    assert cer(RU_TEXT, text.text) <= 0.15, text.text


def test_language_is_detected_when_not_forced(openai_client):
    clip = festival_ru_wav(RU_TEXT)
    r = openai_client.audio.transcriptions.create(model="whisper-1", file=("ru.wav", clip), response_format="verbose_json")
    assert r.language == "ru"
    assert r.duration > 1.0 and r.segments


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac"])
def test_speech_compressed_formats_decode_back(openai_client, fmt):
    audio = openai_client.audio.speech.create(
        model="tts-1", voice="joe", input="One two three.", response_format=fmt
    ).content
    decoded = decode_audio(audio, 16000)
    assert 0.5 < decoded.duration_s < 5
    assert float(np.abs(decoded.samples).max()) > 0.05


def test_speech_pcm_streams_at_requested_rate(http):
    text = "First sentence here. Second sentence follows. And a third one."
    with http.stream(
        "POST",
        "/v1/audio/speech",
        json={"model": "tts-1", "voice": "joe", "input": text, "response_format": "pcm", "sample_rate": 8000},
    ) as r:
        assert r.status_code == 200
        assert r.headers["x-sample-rate"] == "8000"
        data = b"".join(r.iter_bytes())
    assert len(data) % 2 == 0
    seconds = len(data) / 2 / 8000
    assert 2.0 < seconds < 10.0


def test_speech_speed_changes_duration(openai_client):
    def seconds(speed: float) -> float:
        wav = openai_client.audio.speech.create(
            model="tts-1", voice="joe", input=EN_TEXT, response_format="wav", speed=speed
        ).content
        return decode_audio(wav, 16000).duration_s

    assert seconds(2.0) < 0.7 * seconds(1.0)


@pytest.mark.parametrize("fmt", ["text", "srt", "vtt", "verbose_json"])
def test_transcription_response_formats(http, fmt):
    wav = http.post(
        "/v1/audio/speech", json={"model": "tts-1", "voice": "joe", "input": "Hello there.", "response_format": "wav"}
    ).content
    r = http.post(
        "/v1/audio/transcriptions",
        files={"file": ("a.wav", wav, "audio/wav")},
        data={"model": "whisper-1", "language": "en", "response_format": fmt},
    )
    assert r.status_code == 200, r.text
    if fmt == "text":  # the plain transcript; Whisper base has heard Piper's "Hello" as "Below" (a CI run)
        assert r.text.endswith("\n") and wer("Hello there.", r.text) <= 0.5
    elif fmt == "srt":
        assert "00:00:00," in r.text and "-->" in r.text
    elif fmt == "vtt":
        assert r.text.startswith("WEBVTT")
    else:
        body = json.loads(r.text)
        assert body["language"] == "en" and body["segments"][0]["end"] > 0


def test_silence_and_noise_transcribe_to_nothing(http):
    from infra.audio import wav_bytes

    rng = np.random.default_rng(0)
    silence = np.zeros(16000 * 3, dtype=np.int16)
    noise = (rng.normal(0, 0.05, 16000 * 3) * 32767).astype(np.int16)
    for clip in (silence, noise):
        r = http.post(
            "/v1/audio/transcriptions",
            files={"file": ("n.wav", wav_bytes(clip, 16000), "audio/wav")},
            data={"model": "whisper-1", "language": "en"},
        )
        assert r.status_code == 200
        assert r.json()["text"] == ""


def test_health_and_readiness(http):
    assert http.get("/healthz").json() == {"status": "ok"}
    r = http.get("/readyz")
    assert r.status_code == 200
    # Every model deployment, the Russian personas' LLM included (the profile's language_llms).
    assert r.json()["checks"] == {"stt": "ok", "tts": "ok", "llm": "ok", "llm-ru": "ok"}
    assert r.headers["x-request-id"]


def test_serve_status_reports_every_deployment_healthy(cluster):
    import os
    import subprocess
    import sys
    from pathlib import Path

    serve = str(Path(sys.executable).with_name("serve"))
    out = subprocess.run(
        [serve, "status"], capture_output=True, text=True, timeout=60, env={**os.environ, "RAY_AUTH_MODE": "disabled"}
    ).stdout
    import yaml

    status = yaml.safe_load(out)["applications"]["secretary"]
    assert status["status"] == "RUNNING"
    assert {name: d["status"] for name, d in status["deployments"].items()} == {
        "STTServer": "HEALTHY",
        "TTSServer": "HEALTHY",
        "LLMServer": "HEALTHY",
        "LLMServerRu": "HEALTHY",
        "OpenAIIngress": "HEALTHY",
    }
