"""``make demo``: start the CPU-profile cluster, exercise it end to end, print what it did, stop.

It talks to the cluster only through the official ``openai`` client, the way a user would.
"""

from __future__ import annotations

import time

from openai import OpenAI

from cli.local_cluster import LocalCluster

QUESTION = "In one sentence, what does a phone secretary do?"


def _say(msg: str) -> None:
    print(msg, flush=True)


def run_demo() -> int:
    cluster = LocalCluster()
    _say("== secretary demo (CPU profile) ==")
    started = cluster.start(progress=_say)
    _say(f"cluster ready in {started:.1f} s; API at {cluster.base_url}/v1")
    try:
        client = OpenAI(base_url=f"{cluster.base_url}/v1", api_key="unused-on-the-local-profile")
        models = client.models.list()
        _say("models: " + ", ".join(m.id for m in models.data))
        chat_model = next(m.id for m in models.data if getattr(m, "kind", "chat") == "chat")

        _say(f"\n> user: {QUESTION}")
        t0 = time.monotonic()
        first, parts, usage = None, [], None
        stream = client.chat.completions.create(
            model=chat_model, messages=[{"role": "user", "content": QUESTION}], max_tokens=60,
            temperature=0, stream=True, stream_options={"include_usage": True})
        print("< assistant: ", end="", flush=True)
        for chunk in stream:
            if chunk.usage:
                usage = chunk.usage
            for choice in chunk.choices:
                if choice.delta.content:
                    first = first or time.monotonic() - t0
                    parts.append(choice.delta.content)
                    print(choice.delta.content, end="", flush=True)
        reply = "".join(parts).strip()
        _say(f"\n  first token {first * 1000:.0f} ms, total {time.monotonic() - t0:.2f} s, "
             f"usage {usage.prompt_tokens}+{usage.completion_tokens} tokens")

        t0 = time.monotonic()
        speech = client.audio.speech.create(model="tts-1", voice="alloy", input=reply, response_format="wav")
        audio = speech.content
        _say(f"\nspeech: {len(audio)} bytes of WAV in {time.monotonic() - t0:.2f} s")
        t0 = time.monotonic()
        text = client.audio.transcriptions.create(model="whisper-1", file=("reply.wav", audio), language="en")
        _say(f"transcription ({time.monotonic() - t0:.2f} s): {text.text}")
    finally:
        _say("\nstopping the cluster …")
        cluster.stop()
    _say("done.")
    return 0
