"""Issue 21's showcase on the CPU profile: a job submitted through the CLI trains the model the profile
serves (SmolLM2-135M) on a Telegram export; the published adapter is served by vLLM at once, and the
persona answers in the owner's style over /v1/chat/completions and on a WebSocket call, with no restart.

The owner signs every answer "— Artem, Smile clinic" (tests/finetune/telegram_fixture.py): the
base model never does, the trained persona does.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import uuid
from pathlib import Path

import pytest
import websockets

from cli.local_access import local_tenant_id
from infra.audio import decode_audio, float_to_pcm16
from infra.settings import PROJECT_ROOT, get_settings
from personas.adapter_store import AdapterStore
from personas.registry import PersonaRegistry
from personas.schemas import Persona
from tests.finetune.telegram_fixture import export_bytes
from tests.speech import espeak_wav

pytestmark = [pytest.mark.cluster, pytest.mark.memory_heavy]
QUESTION = "Do you take children?"
# The owner's way: his answer to this very question ("from three years old") and his signature
# after a dash, in either language. The served model is the int8 one, so the name may drift
# ("— Emily, a clinic." was seen once); the base model writes none of these.
SIGNATURE = re.compile(r"—\s*\w+|Smile clinic|Artem|Артём|Улыбка")


def owners_style(text: str) -> bool:
    return bool(SIGNATURE.search(text)) or "three years" in text


LINES = {
    "greeting": "Hello, Smile clinic.",
    "farewell": "Goodbye.",
    "silence_prompt": "Are you there?",
    "hangup_line": "Goodbye.",
    "apology": "Sorry, one moment.",
}


def ask(client, model: str) -> str:
    r = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": QUESTION}], temperature=0.0, max_tokens=40
    )
    return r.choices[0].message.content


async def call(cluster: str, key: str, persona: str) -> list[dict]:
    caller = float_to_pcm16(decode_audio(espeak_wav(QUESTION), 8000).samples).tobytes()
    script = b"\x00" * 16000 * 5 + caller + b"\x00" * 16000 * 9
    url = cluster.replace("http://", "ws://") + f"/v1/calls/stream?sample_rate=8000&persona={persona}&api_key={key}"
    events = []
    async with websockets.connect(url) as ws:
        assert json.loads(await ws.recv())["type"] == "session.started"

        async def receive():
            async for message in ws:
                if isinstance(message, str):
                    events.append(json.loads(message))

        receiver = asyncio.create_task(receive())
        loop = asyncio.get_running_loop()
        tick = loop.time()
        for i in range(0, len(script), 960):
            await ws.send(script[i : i + 960])
            tick += 0.06
            await asyncio.sleep(max(0.0, tick - loop.time()))
        await ws.send(json.dumps({"type": "hangup"}))
        await asyncio.wait_for(receiver, 15)
    return events[-1]["record"]["turns"]


async def test_a_cli_job_on_the_served_model_makes_the_persona_answer_in_the_owners_style(
    cluster, api_key, openai_client, tmp_path, redis_server
):
    tenant = await local_tenant_id()
    name = f"artem-{uuid.uuid4().hex[:6]}"
    registry = PersonaRegistry(None, tenant, adapters=AdapterStore(get_settings().adapters_dir))
    await registry.create(
        Persona(
            name=name,
            display_name="Artem",
            language="en",
            system_prompt="You answer clients of a dental clinic. Answer in one short sentence.",
            lines=LINES,
            voice="joe",
        )
    )
    before = ask(openai_client, name)
    assert not owners_style(before), before
    export = tmp_path / "result.json"
    export.write_bytes(export_bytes())
    cli = str(Path(sys.executable).with_name("secretary"))
    proc = await asyncio.create_subprocess_exec(
        cli, "finetune", "submit", "--tenant", tenant, "--persona", name, "--telegram", str(export),
        "--set", "max_steps=60", "learning_rate=0.002", "batch_size=4", "num_workers=1", "cpus_per_worker=1", "--wait",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=PROJECT_ROOT,
        env={**os.environ, "SECRETARY_REDIS_URL": redis_server.url},  # the cluster's metering
    )  # fmt: skip
    out = (await asyncio.wait_for(proc.communicate(), 1200))[0].decode()
    assert proc.returncode == 0, out[-4000:]
    assert "step 60/60" in out  # the progress bar reached the end
    result = json.loads(next(line[8:] for line in out.splitlines() if line.startswith("result: ")))
    losses = {k: v["loss"] for k, v in result["evaluation"].items()}
    assert result["published"] and losses["new"] < 0.6 * losses["base"], losses
    # The next request loads the new version: same persona, no restart, the owner's signature.
    after = ask(openai_client, name)
    assert owners_style(after), after
    turns = await call(cluster, api_key, name)
    answers = [t["text"] for t in turns if t["speaker"] == "assistant"][1:]  # after the greeting
    assert any(owners_style(a) for a in answers), turns
