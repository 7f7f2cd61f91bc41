"""Both profiles are valid Serve configs for the same application, differing only in configuration."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ray.serve.schema import ServeDeploySchema

ROOT = Path(__file__).resolve().parents[1]
PROFILES = [ROOT / "serve_config.yaml", ROOT / "cluster" / "profiles" / "cpu.yaml"]


@pytest.fixture(params=PROFILES, ids=lambda p: p.name)
def profile(request) -> dict:
    return yaml.safe_load(request.param.read_text())


def test_valid_serve_schema(profile):
    schema = ServeDeploySchema.model_validate(profile)
    assert [(a.name, a.route_prefix, a.import_path) for a in schema.applications] == [
        ("secretary", "/", "deployments.app:build_app"),
        ("admin", "/admin", "admin.app:build_admin_app"),
        ("billing", "/billing", "billing.app:build_billing_app"),
        ("console", "/console", "console.app:build_console_app"),
    ]


def test_deployment_names_match_the_code(profile):
    from admin.app import AdminApi
    from deployments.ingress.app import OpenAIIngress
    from deployments.llm.deployment import LLMServer
    from deployments.stt.deployment import STTServer
    from deployments.tts.deployment import TTSServer

    names = {d["name"] for d in profile["applications"][0]["deployments"]}
    args = profile["applications"][0]["args"]
    language_llms = {spec["deployment"] for spec in (args.get("language_llms") or {}).values()}
    assert names == {OpenAIIngress.name, STTServer.name, TTSServer.name, LLMServer.name} | language_llms
    # The modem's ingress finds the same language models by their deployment names.
    modem = profile["applications"][1]["args"]["modem"]
    assert set((modem.get("language_llms") or {}).values()) == language_llms
    assert {d["name"] for d in profile["applications"][1]["deployments"]} == {AdminApi.name}
    from billing.app import BillingApi
    from billing.plans import load_plans
    from infra.settings import PROJECT_ROOT

    billing = profile["applications"][2]
    assert {d["name"] for d in billing["deployments"]} == {BillingApi.name}
    assert load_plans(PROJECT_ROOT / billing["args"]["plans"]).get("pro").minutes == 500
    from console.app import ConsoleApp

    assert {d["name"] for d in profile["applications"][3]["deployments"]} == {ConsoleApp.name}


def test_modem_block_parses(profile):
    from pipeline.session import SessionConfig
    from telephony.modem_ingress import ModemIngressConfig

    modem = profile["applications"][1]["args"]["modem"]
    config = ModemIngressConfig.from_dict(modem["ingress"])
    SessionConfig.from_dict(config.session)
    assert modem["app_name"] == profile["applications"][0]["name"]


def test_engines_are_registered_and_configs_parse(profile):
    from deployments.llm.engine import VLLMConfig
    from deployments.registry import CONFIG_CLASSES, STT_ENGINES, TTS_ENGINES, _load

    args = profile["applications"][0]["args"]
    for table, key in ((STT_ENGINES, "stt"), (TTS_ENGINES, "tts")):
        ref = table[args[key]["engine"]]
        _load(CONFIG_CLASSES[ref]).from_dict(args[key]["config"])
    llm = VLLMConfig.from_dict(args["llm"])
    assert args["llm"]["engine_args"]["enable_lora"] is True
    resolved = llm.resolved_engine_args()
    assert resolved["max_loras"] == resolved["max_cpu_loras"] == 2 * llm.max_adapters + 1


def test_responder_and_cloud_blocks_parse(profile):
    from infra.settings import Settings
    from personas.cloud import CloudConfig
    from personas.responder import ResponderConfig

    for block in (profile["applications"][0]["args"]["ingress"], profile["applications"][1]["args"]["modem"]):
        config = ResponderConfig.from_dict(block["responder"])
        assert 0 < config.faq.threshold < 1 and config.local_attempts >= 1
        cloud = CloudConfig.from_settings(Settings(cloud_llm_base_url="http://cloud/v1"), block["cloud"])
        assert cloud.base_url == "http://cloud/v1" and cloud.breaker_threshold >= 1


def test_gpu_profile_asks_for_gpus_and_cpu_profile_does_not():
    gpu, cpu = (yaml.safe_load(p.read_text())["applications"][0]["deployments"] for p in PROFILES)
    gpu_llm = next(d for d in gpu if d["name"] == "LLMServer")
    assert gpu_llm["ray_actor_options"]["num_gpus"] == 1
    assert all("num_gpus" not in d.get("ray_actor_options", {}) for d in cpu)


def test_build_app_refuses_incomplete_args():
    from deployments.app import build_app

    with pytest.raises(ValueError, match="lack"):
        build_app({"stt": {}})


def test_persona_seeds_parse_and_use_the_profiles_voices(profile):
    from personas.schemas import Persona

    args = profile["applications"][1]["args"]
    seed = ROOT / args["personas_seed"]
    personas = [Persona(**p) for p in yaml.safe_load(seed.read_text())["personas"]]
    tts = profile["applications"][0]["args"]["tts"]
    configs = [e["config"] for e in tts["config"]["engines"]] if tts["engine"] == "router" else [tts["config"]]
    voices = {v["id"] for c in configs for v in c.get("voices", [])} | {s for c in configs for s in c.get("speakers", {})}
    assert {p.name for p in personas} >= {"anna", "marina"}
    assert {p.voice for p in personas} <= voices, (voices, [p.voice for p in personas])
    assert args["modem"]["ingress"]["persona"] in {p.name for p in personas}


def test_the_llm_fallback_is_a_checkpoint_that_models_prepare_builds():
    """The CPU profile's fallback for processors its int8 path was not run on must exist after set-up."""
    from provisioning.cpu_models import STEPS

    llm = yaml.safe_load(PROFILES[1].read_text())["applications"][0]["args"]["llm"]
    built = {step.directory for step in STEPS}
    assert llm["path"] in built and llm["cpu_fallback"]["path"] in built
    assert llm["env"]["VLLM_CPU_OMP_THREADS_BIND"] == "{last_cpu}"  # no core number fixed for one machine
