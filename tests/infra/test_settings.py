from __future__ import annotations

from pathlib import Path

from infra.settings import Settings


def test_environment_overrides_and_model_paths(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRETARY_MODELS_DIR", str(tmp_path))
    monkeypatch.setenv("SECRETARY_MAX_SPEECH_CHARS", "100")
    s = Settings()
    assert s.max_speech_chars == 100
    assert s.resolve_model_path("whisper-base") == tmp_path / "whisper-base"
    assert s.resolve_model_path("/abs/model") == Path("/abs/model")
    assert s.log_pii is False


def test_env_example_documents_every_setting():
    text = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    for name in Settings.model_fields:
        assert f"SECRETARY_{name.upper()}=" in text, name
