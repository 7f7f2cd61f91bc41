"""A Russian caller on the WebSocket: transcribed in Russian, answered in Russian by the Russian voice.

The caller is Festival's Russian voice; the persona is the seed "marina" (ru), whose FAQ answers
the question; her voice is the profile's Russian one, and Whisper base reads the reply's audio back
into Russian that holds the reply's words (numbers included, said in words: "дом двенадцать").
"""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
import websockets

from infra.audio import decode_audio, float_to_pcm16, pcm16_to_float, resample
from tests.deployments.ingress.test_call_websocket import ws_url
from tests.speech import cer, festival_ru_wav, normalise

pytestmark = pytest.mark.cluster
QUESTION = "Скажите, пожалуйста, какой у вас адрес?"


async def call(cluster: str, api_key: str, query: str, script: bytes) -> tuple[bytes, list[dict]]:
    reply, events = bytearray(), []
    async with websockets.connect(ws_url(cluster, query, api_key)) as ws:
        assert json.loads(await ws.recv())["type"] == "session.started"

        async def receive():
            async for message in ws:
                if isinstance(message, bytes):
                    reply.extend(message)
                else:
                    events.append(json.loads(message))

        receiver = asyncio.create_task(receive())
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        for i in range(0, len(script), 320):
            await ws.send(script[i : i + 320])
            next_tick += 0.02
            await asyncio.sleep(max(0.0, next_tick - loop.time()))
        await ws.send(json.dumps({"type": "hangup"}))
        await asyncio.wait_for(receiver, 15)
    return bytes(reply), events


async def test_a_russian_call_is_heard_and_answered_in_russian(cluster, api_key, multilingual_stt_engine):
    caller = float_to_pcm16(decode_audio(festival_ru_wav(QUESTION), 8000).samples * 0.9).tobytes()
    greeting_s = 8
    script = b"\x00" * 16000 * greeting_s + caller + b"\x00" * 16000 * 12
    reply, events = await call(cluster, api_key, "?sample_rate=8000&persona=marina", script)

    record = events[-1]["record"]
    turns = [(t["speaker"], t["text"]) for t in record["turns"]]
    callers = [text for who, text in turns if who == "caller"]
    assert len(callers) == 1 and cer(QUESTION, callers[0]) < 0.25, turns  # transcribed in Russian
    answer = next(text for who, text in turns[turns.index(("caller", callers[0])) :] if who == "assistant")
    assert "Ленина" in answer, turns  # the FAQ's Russian answer: "Мы находимся на улице Ленина, дом 12, …"

    pcm = np.frombuffer(reply, "<i2")
    after = pcm[8000 * (greeting_s + 1) :]  # what was said after the greeting
    heard = multilingual_stt_engine.transcribe(
        resample(pcm16_to_float(after.tobytes()), 8000, 16000).astype(np.float32), language="ru"
    ).text
    words = set(normalise(heard).split())
    assert {"находимся", "улице", "ленина", "этаж"} & words, heard  # the reply's own words, in Russian
    assert "двенадцать" in words or "12" in heard, heard  # "дом 12" said as a number, not "один два"


async def test_the_russian_persona_speaks_with_a_russian_voice(http):
    voices = {v["id"]: v for v in http.get("/v1/models").json()["data"] if v.get("kind") == "speech"}
    assert voices  # speech models are listed; the voice list itself comes from the TTS
    r = http.post(
        "/v1/audio/speech", json={"model": "tts-1", "voice": "nikolay", "input": "Добрый день!", "response_format": "wav"}
    )
    assert r.status_code == 200 and len(r.content) > 16000


def cyrillic_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    return sum("а" <= c.lower() <= "я" or c.lower() == "ё" for c in letters) / max(1, len(letters))


def test_a_russian_persona_is_answered_by_the_model_that_speaks_russian(http):
    cards = {c["id"]: c for c in http.get("/v1/models").json()["data"]}
    ru_model = next(c for c in cards.values() if c["kind"] == "chat" and c.get("language") == "ru")
    assert cards["marina"]["parent"] == ru_model["id"] and cards["anna"]["parent"] != ru_model["id"]
    r = http.post(
        "/v1/chat/completions",
        json={
            "model": "marina",
            "max_tokens": 40,
            "temperature": 0,
            "messages": [{"role": "user", "content": "Можно записаться к стоматологу на пятницу?"}],
        },
    )
    assert r.status_code == 200 and r.headers["x-reply-source"] == "local", r.text
    reply = r.json()["choices"][0]["message"]["content"]
    assert cyrillic_share(reply) > 0.8, reply  # Russian, not SmolLM2's English or its broken Russian
    # The model is also reachable by its own name, as a base model.
    r = http.post(
        "/v1/chat/completions",
        json={
            "model": ru_model["id"],
            "max_tokens": 20,
            "temperature": 0,
            "messages": [{"role": "user", "content": "Привет! Как дела?"}],
        },
    )
    assert r.status_code == 200 and cyrillic_share(r.json()["choices"][0]["message"]["content"]) > 0.5, r.text
