"""In-process deployments over real engines: the CPU-profile STT and TTS, a tiny vLLM model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from tests.local_handles import LocalHandle, instantiate

PROFILE = Path(__file__).resolve().parents[2] / "cluster" / "profiles" / "cpu.yaml"


@pytest.fixture(scope="session")
def profile_args() -> dict:
    return yaml.safe_load(PROFILE.read_text())["applications"][0]["args"]


@pytest.fixture(scope="session")
def tiny_llm_dir(tmp_path_factory) -> Path:
    from provisioning.tiny_models import build_tiny_llm

    return build_tiny_llm(tmp_path_factory.mktemp("tiny-llm"), adapters=3)


@pytest.fixture(scope="session")
def llm_server(tiny_llm_dir):
    """The LLMServer deployment class on the tiny model (one vLLM engine for the whole session)."""
    from deployments.llm.deployment import LLMServer

    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    # Two adapters per replica (and a third slot spare): a third adapter evicts the oldest.
    spec = {
        "model_id": "tiny-llama",
        "path": str(tiny_llm_dir / "base"),
        "default_max_tokens": 16,
        "max_adapters": 2,
        "engine_args": {
            "dtype": "float32",
            "enforce_eager": True,
            "max_model_len": 512,
            "max_num_seqs": 8,
            "enable_lora": True,
            "max_lora_rank": 8,
            "lora_target_modules": ["qkv_proj", "o_proj"],
        },
        # The CPU profile's LoRA ops (deployments/llm/cpu_lora_ops.py), so the peft check covers them.
        "env": {"VLLM_CPU_KVCACHE_SPACE": "1", "SECRETARY_CPU_LORA_OPS": "grouped"},
    }
    server = instantiate(LLMServer, spec)
    yield server
    server.engine.shutdown()


@pytest.fixture(scope="session")
def stt_server(profile_args):
    from deployments.stt.deployment import STTServer

    return instantiate(STTServer, profile_args["stt"])


@pytest.fixture(scope="session")
def tts_server(profile_args):
    from deployments.tts.deployment import TTSServer

    return instantiate(TTSServer, profile_args["tts"])


@pytest.fixture(scope="session")
def persona_registry(tmp_path_factory):
    """A migrated SQLite registry for the in-process ingress (no personas until a test adds some)."""
    from infra.database import upgrade_sync
    from personas.registry import PersonaRegistry

    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('personas') / 'personas.db'}"
    upgrade_sync(url)
    return PersonaRegistry(url)


@pytest.fixture(scope="session")
def assistant(llm_server, persona_registry):
    from deployments.ingress.dependencies import Assistant
    from personas.embeddings import E5Embedder
    from personas.faq import FaqMatcher
    from personas.responder import PersonaResponder, ResponderConfig

    responder = PersonaResponder(
        LocalHandle(llm_server),
        FaqMatcher(E5Embedder()),
        None,
        persona_registry,
        ResponderConfig(local_attempts=2, local_backoff_s=0.01),
    )
    return Assistant(responder, persona_registry)


@pytest.fixture(scope="session")
def inprocess_api_key(persona_registry) -> str:
    """A tenant's API key in the in-process ingress's database; the ingress checks it for real."""
    import asyncio

    from accounts.service import AccountService
    from deployments.ingress.auth import bind_accounts

    accounts = AccountService(persona_registry.url)
    bind_accounts(accounts)

    async def make() -> str:
        tenant, _ = await accounts.create_tenant("in-process", "inprocess@secretary.invalid", "a long password")
        return (await accounts.issue_api_key(tenant, "tests"))[1]

    return asyncio.run(make())


@pytest.fixture(scope="session")
def auth_headers(inprocess_api_key) -> dict[str, str]:
    return {"Authorization": f"Bearer {inprocess_api_key}"}


@pytest.fixture(scope="session")
def local_handles(stt_server, tts_server, llm_server, profile_args, assistant, inprocess_api_key):
    from deployments.ingress.dependencies import IngressConfig, ModelHandles, bind_models

    models = ModelHandles(
        LocalHandle(stt_server),
        LocalHandle(tts_server),
        LocalHandle(llm_server),
        IngressConfig.from_dict(profile_args["ingress"]),
    )
    bind_models(models, assistant)
    return models
