"""One TTS deployment, several engines: each voice goes to its engine; an optional engine may be missing."""

from __future__ import annotations

import pytest

from deployments.registry import TTS_ENGINES, build_engine

PIPER = {"engine": "piper", "config": {"voices": [{"id": "joe", "path": "piper/en_US-joe-medium.onnx"}]}}
FESTIVAL = {
    "engine": "festival",
    "optional": True,
    "config": {"voices": [{"id": "nikolay", "voice": "msu_ru_nsh_clunits", "language": "ru"}]},
}


def test_each_voice_is_served_by_its_engine():
    router = build_engine(TTS_ENGINES, {"engine": "router", "config": {"engines": [PIPER, FESTIVAL]}})
    assert {(v.id, v.language, v.engine) for v in router.voices()} == {("joe", "en", "piper"), ("nikolay", "ru", "festival")}
    assert sum(len(c) for c in router.synthesize("Hello.", "joe")) > 0
    assert sum(len(c) for c in router.synthesize("Привет.", "nikolay")) > 0
    assert router.voice("nikolay").sample_rate == 16000


def test_an_optional_engine_that_cannot_start_is_left_out_with_its_reason():
    missing = {**FESTIVAL, "config": {**FESTIVAL["config"], "binary": "festival-not-installed"}}
    router = build_engine(TTS_ENGINES, {"engine": "router", "config": {"engines": [PIPER, missing]}})
    assert [v.id for v in router.voices()] == ["joe"]
    assert "apt-get install festival" in router.unavailable["festival"]


def test_a_required_engine_that_cannot_start_fails_the_start():
    missing = {"engine": "festival", "config": {**FESTIVAL["config"], "binary": "festival-not-installed"}}
    with pytest.raises(Exception, match="apt-get install festival"):
        build_engine(TTS_ENGINES, {"engine": "router", "config": {"engines": [PIPER, missing]}})


@pytest.mark.parametrize("engines", [[], [PIPER, PIPER]])
def test_an_empty_router_or_a_voice_served_twice_is_refused(engines):
    with pytest.raises(ValueError):
        build_engine(TTS_ENGINES, {"engine": "router", "config": {"engines": engines}})
