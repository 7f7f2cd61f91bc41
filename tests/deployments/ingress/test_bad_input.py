"""Bad input gets a 4xx in OpenAI's error shape, never a 500, and the replicas survive it."""

from __future__ import annotations

import openai
import pytest

from tests.speech import espeak_wav

pytestmark = pytest.mark.cluster


def assert_openai_error(r, status: int, param: str | None = None) -> dict:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["message"] and isinstance(err["message"], str)
    assert err["type"]
    if param is not None:
        assert err["param"] == param, err
    return err


CHAT = "/v1/chat/completions"


def chat_body(**over):
    return {"model": "smollm2-135m-instruct", "messages": [{"role": "user", "content": "hi"}], **over}


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (chat_body(messages=[]), "messages"),
        (chat_body(max_tokens=0), "max_tokens"),
        (chat_body(max_tokens=10**12), "max_tokens"),
        (chat_body(temperature=7), "temperature"),
        (chat_body(temperature=-1), "temperature"),
        (chat_body(top_p=0), "top_p"),
        (chat_body(n=3), "n"),
        (chat_body(messages=[{"role": "wizard", "content": "x"}]), "messages.0.role"),
        (chat_body(stop=["a", "b", "c", "d", "e"]), "stop"),
        ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
    ],
)
def test_chat_rejects_bad_parameters(http, body, param):
    assert_openai_error(http.post(CHAT, json=body), 400, param)


def test_chat_unknown_model_is_404(http):
    err = assert_openai_error(http.post(CHAT, json=chat_body(model="gpt-9")), 404, "model")
    assert err["code"] == "model_not_found"


def test_chat_prompt_longer_than_context(http):
    body = chat_body(messages=[{"role": "user", "content": "word " * 5000}])
    err = assert_openai_error(http.post(CHAT, json=body), 400, "messages")
    assert err["code"] == "context_length_exceeded"


def test_chat_stream_error_comes_before_the_stream(http):
    r = http.post(CHAT, json=chat_body(max_tokens=10**9, stream=True))
    assert_openai_error(r, 400, "max_tokens")
    assert r.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(
    ("content", "ctype"),
    [
        (b"{not json", "application/json"),
        (b"hello", "text/plain"),
        (b"[1, 2]", "application/json"),
        (b"", "application/json"),
    ],
)
def test_chat_malformed_bodies(http, content, ctype):
    assert_openai_error(http.post(CHAT, content=content, headers={"content-type": ctype}), 400)


SPEECH = "/v1/audio/speech"


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": "tts-1", "voice": "joe", "input": ""}, 400, "input"),
        ({"model": "tts-1", "voice": "joe", "input": "   "}, 400, "input"),
        ({"model": "tts-1", "voice": "joe", "input": "x" * 5000}, 400, "input"),
        ({"model": "tts-1", "voice": "darth", "input": "hello"}, 400, "voice"),
        ({"model": "tts-9", "voice": "joe", "input": "hello"}, 404, "model"),
        ({"model": "tts-1", "voice": "joe", "input": "hello", "speed": 10}, 400, "speed"),
        ({"model": "tts-1", "voice": "joe", "input": "hello", "response_format": "midi"}, 400, "response_format"),
        ({"model": "tts-1", "voice": "joe", "input": "hello", "sample_rate": 1000000}, 400, "sample_rate"),
    ],
)
def test_speech_rejects_bad_input(http, body, status, param):
    assert_openai_error(http.post(SPEECH, json=body), status, param)


TRANSCRIBE = "/v1/audio/transcriptions"


def test_transcription_rejects_invalid_audio(http):
    for data in (b"this is not audio at all" * 100, b"RIFF\x00\x00\x00\x00WAVEfmt garbage", b"\x00" * 10):
        r = http.post(TRANSCRIBE, files={"file": ("x.wav", data, "audio/wav")}, data={"model": "whisper-1"})
        err = assert_openai_error(r, 400, "file")
        assert "audio" in err["message"]


def test_transcription_empty_file(http):
    r = http.post(TRANSCRIBE, files={"file": ("x.wav", b"", "audio/wav")}, data={"model": "whisper-1"})
    assert_openai_error(r, 400, "file")


def test_transcription_missing_file_and_unknown_model(http):
    assert_openai_error(http.post(TRANSCRIBE, data={"model": "whisper-1"}), 400, "file")
    wav = espeak_wav("hello")
    r = http.post(TRANSCRIBE, files={"file": ("x.wav", wav, "audio/wav")}, data={"model": "whisper-99"})
    assert_openai_error(r, 404, "model")


def test_transcription_bad_language_and_temperature(http):
    wav = espeak_wav("hello")
    r = http.post(TRANSCRIBE, files={"file": ("x.wav", wav)}, data={"model": "whisper-1", "language": "klingon"})
    assert_openai_error(r, 400, "language")
    r = http.post(TRANSCRIBE, files={"file": ("x.wav", wav)}, data={"model": "whisper-1", "temperature": "5"})
    assert_openai_error(r, 400, "temperature")
    r = http.post(TRANSCRIBE, files={"file": ("x.wav", wav)}, data={"model": "whisper-tiny.en", "language": "ru"})
    assert_openai_error(r, 400, "language")


def test_transcription_wrong_content_type(http):
    r = http.post(TRANSCRIBE, json={"model": "whisper-1", "file": "aGVsbG8="})
    assert_openai_error(r, 400)


def test_transcription_truncated_multipart(http):
    wav = espeak_wav("hello there")
    boundary = "XyZ123"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper-1\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode() + wav[: len(wav) // 2]
    r = http.post(TRANSCRIBE, content=body, headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert 400 <= r.status_code < 500, r.text
    assert "error" in r.json()


def test_transcription_oversized_upload_is_413(http):
    huge = b"\x00" * (26 * 1024 * 1024)
    r = http.post(TRANSCRIBE, files={"file": ("big.wav", huge, "audio/wav")}, data={"model": "whisper-1"})
    assert_openai_error(r, 413)


def test_unknown_route_and_method(http):
    assert_openai_error(http.get("/v1/nothing"), 404)
    assert_openai_error(http.get(CHAT), 405)


def test_openai_client_raises_typed_errors(openai_client):
    with pytest.raises(openai.NotFoundError):
        openai_client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError):
        openai_client.audio.speech.create(model="tts-1", voice="nobody", input="hi")


def test_replicas_survive_bad_input(http, openai_client, chat_model):
    """After every bad request above, the cluster is still ready and serves a good request."""
    assert http.get("/readyz").status_code == 200
    r = openai_client.chat.completions.create(
        model=chat_model, messages=[{"role": "user", "content": "Hello"}], max_tokens=4, temperature=0
    )
    assert r.usage.completion_tokens >= 1
