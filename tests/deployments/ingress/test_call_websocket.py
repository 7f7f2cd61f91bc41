"""A phone call over the WebSocket endpoint of the running cluster: real STT, LLM and TTS replicas."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
import websockets

from infra.audio import decode_audio, float_to_pcm16
from tests.speech import espeak_wav, wer

pytestmark = pytest.mark.cluster
QUESTION = "What time do you open tomorrow?"


def ws_url(cluster: str, query: str = "", key: str | None = None) -> str:
    url = cluster.replace("http://", "ws://") + "/v1/calls/stream" + query
    return url + ("&" if "?" in query else "?") + f"api_key={key}" if key else url


@pytest.mark.parametrize(("packet_frames", "chunks"), [(1, "growing"), (3, "sentences")], ids=["20ms", "60ms"])
async def test_call_over_websocket(cluster, api_key, packet_frames, chunks):
    caller = float_to_pcm16(decode_audio(espeak_wav(QUESTION), 8000).samples).tobytes()
    script = b"\x00" * 16000 * 6 + caller + b"\x00" * 16000 * 8  # the greeting, the question, 8 s to answer
    reply, events, sizes = bytearray(), [], []
    packet = 320 * packet_frames
    async with websockets.connect(ws_url(cluster, f"?sample_rate=8000&language=en&chunks={chunks}", api_key)) as ws:
        started = json.loads(await ws.recv())
        assert started["type"] == "session.started" and started["frame_bytes"] == 320

        async def receive():
            async for message in ws:
                if isinstance(message, bytes):
                    reply.extend(message)
                    sizes.append(len(message))
                else:
                    events.append(json.loads(message))

        receiver = asyncio.create_task(receive())
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        for i in range(0, len(script), packet):  # a phone line: 20 ms every 20 ms (or 60 every 60)
            await ws.send(script[i : i + packet])
            next_tick += 0.02 * packet_frames
            await asyncio.sleep(max(0.0, next_tick - loop.time()))
        await ws.send(json.dumps({"type": "hangup"}))
        await asyncio.wait_for(receiver, 10)

    turns = [e for e in events if e["type"] == "turn"]
    assert len(turns) == 1 and wer(QUESTION, turns[0]["text"]) <= 0.25
    ended = events[-1]
    assert ended["type"] == "call.ended" and ended["reason"] == "client_hangup"
    record = ended["record"]
    speakers = [t["speaker"] for t in record["turns"]]
    assert speakers[:3] == ["assistant", "caller", "assistant"]  # greeting, question, answer
    assert record["turns"][2]["text"]  # the LLM's reply was spoken
    answer = record["turns"][2]
    assert answer["chunk_ms"] and all(ms > 0 for ms in answer["chunk_ms"])  # audio per chunk, in order
    assert len(answer["chunk_chars"]) == len(answer["chunk_ms"])  # and its text's length: the text, cut back
    assert sum(answer["chunk_chars"]) + len(answer["chunk_chars"]) - 1 == len(answer["text"])
    assert all(len(gap) == 2 and gap[1] > 0 for gap in answer["gaps"])  # where it ran dry, if it did
    assert set(record["turns"][1]["timings_ms"]) >= {"transcript", "first_token", "first_audio", "first_frame"}
    assert len(reply) > 8000 * 2 * 2  # the greeting and the answer came back as audio
    assert np.abs(np.frombuffer(bytes(reply), "<i2")).max() > 1000
    # One message back per message in: never more audio than came in, in whole 20 ms frames, and
    # with longer packets the frames leave joined (each message is a Ray call through the proxy).
    assert max(sizes) <= packet and all(n % 320 == 0 for n in sizes)
    assert len(sizes) <= len(script) // packet + 1
    if packet_frames > 1:
        assert sum(n == packet for n in sizes) > len(sizes) // 2


async def test_bad_websocket_input(cluster, api_key):
    with pytest.raises((websockets.exceptions.InvalidStatus, websockets.exceptions.ConnectionClosed)):
        async with websockets.connect(ws_url(cluster, "?sample_rate=44100", api_key)) as ws:
            await ws.recv()
    for key in (None, "sk_forged_key"):  # no key, a wrong key: closed before anything is said
        with pytest.raises((websockets.exceptions.InvalidStatus, websockets.exceptions.ConnectionClosed)) as e:
            async with websockets.connect(ws_url(cluster, "?sample_rate=8000", key)) as ws:
                await ws.recv()
        assert getattr(e.value, "rcvd", None) is None or e.value.rcvd.code == 1008
    for query in ("?stt_model=whisper-huge", "?pause_ms=130", "?chunks=words"):  # refused before the call starts,
        with pytest.raises((websockets.exceptions.InvalidStatus, websockets.exceptions.ConnectionClosed)):
            async with websockets.connect(ws_url(cluster, query, api_key)) as ws:  # not a call gone wrong
                await ws.recv()
    async with websockets.connect(ws_url(cluster), additional_headers={"Authorization": f"Bearer {api_key}"}) as ws:
        await ws.recv()  # session.started
        await ws.send("not json")
        assert json.loads(await ws.recv()) == {"type": "error", "message": "text messages must be JSON"}
        await ws.send(b"\x01")  # an odd byte: buffered until a whole frame, no crash
        await ws.send(json.dumps({"type": "dance"}))
        msg = json.loads(await ws.recv())
        while msg["type"] != "error":
            msg = json.loads(await ws.recv())
        await ws.send(json.dumps({"type": "hangup"}))
        while True:
            msg = await ws.recv()
            if isinstance(msg, str) and json.loads(msg)["type"] == "call.ended":
                break
