"""Both profiles are valid Serve configs, and the admin app names only models its profile serves."""

from __future__ import annotations

import pytest
import yaml
from ray.serve.schema import ServeDeploySchema

from cli.manifests import SERVE_CONFIG
from tests.cluster.manifests import CLUSTER

PROFILES = {"gpu": SERVE_CONFIG, "cpu": CLUSTER / "profiles" / "cpu.yaml"}


def _voices(tts: dict) -> set[str]:
    engines = tts["config"]["engines"] if tts["engine"] == "router" else [tts]
    return {v["id"] for e in engines for v in e["config"]["voices"]}


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_a_profile_is_a_valid_serve_config_whose_apps_agree(profile):
    config = yaml.safe_load(PROFILES[profile].read_text())
    ServeDeploySchema.model_validate(config)
    apps = {a["name"]: a for a in config["applications"]}
    models = apps["secretary"]["args"]
    modem = apps["admin"]["args"]["modem"]
    stt_ids = {m["id"] for m in models["stt"]["config"]["models"]}
    if "stt_model" in modem:
        assert modem["stt_model"] in stt_ids, f"the modem asks for {modem['stt_model']!r}; the profile serves {stt_ids}"
    assert modem["voice"] in _voices(models["tts"])
    deployments = {d["name"] for d in apps["secretary"]["deployments"]}
    for name in (modem.get("language_llms") or {}).values():
        assert name in deployments
