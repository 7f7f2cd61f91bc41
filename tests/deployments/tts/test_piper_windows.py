"""Piper decoded in windows of frames: the same samples as the whole-sentence decode, sooner."""

from __future__ import annotations

import numpy as np
import pytest
from piper import SynthesisConfig

from deployments.registry import TTS_ENGINES, build_engine
from deployments.tts.piper_windows import WindowConfig, WindowedVoice, split_graphs
from infra.settings import get_settings

SENTENCE = "Yes, you can book an appointment for Friday at ten in the morning."


@pytest.fixture(scope="module")
def windowed():
    engine = build_engine(TTS_ENGINES, {"engine": "piper", "config": {
        "voices": [{"id": "joe", "path": "piper/en_US-joe-medium.onnx"}], "windows": {}}})
    return engine, engine._windowed["joe"]


def test_windows_give_the_samples_of_the_whole_sentence(windowed):
    _, voice = windowed
    (ids,) = voice.sentences(SENTENCE)
    prior = voice.prior(ids, SynthesisConfig())
    frames = prior[0].shape[2]
    whole = voice.decode(prior, 0, frames)  # one window, no margins to cut
    parts = [voice.decode(prior, a, b) for a, b in voice.windows(frames)]
    assert len(parts) == 2 and len(parts[0]) == voice.config.first_frames * voice.hop
    joined = np.concatenate(parts)
    assert len(joined) == len(whole) == frames * voice.hop
    error = np.abs(joined.astype(np.int32) - whole.astype(np.int32))
    assert error.max() <= 0.01 * np.abs(whole).max(), error.max()  # the margins cover the receptive field


def test_a_short_sentence_is_one_window(windowed):
    _, voice = windowed
    assert list(voice.windows(voice.config.first_frames + voice.config.right_frames)) == [
        (0, voice.config.first_frames + voice.config.right_frames)]


def test_the_engine_streams_the_first_sentence_in_two_windows_at_pipers_loudness(windowed):
    engine, _ = windowed
    chunks = list(engine.synthesize(f"{SENTENCE} {SENTENCE}", "joe"))
    assert len(chunks) == 3 and all(c.dtype == np.int16 for c in chunks)  # two windows, then the second whole
    plain = build_engine(TTS_ENGINES, {"engine": "piper", "config": {
        "voices": [{"id": "joe", "path": "piper/en_US-joe-medium.onnx"}]}})
    reference = np.concatenate(list(plain.synthesize(SENTENCE, "joe"))).astype(np.float64)
    ours = np.concatenate(chunks[:2]).astype(np.float64)
    ratio = np.sqrt(np.mean(ours ** 2) / np.mean(reference ** 2))
    assert 0.6 < ratio < 1.5, ratio  # one gain a voice instead of Piper's per sentence: close, not equal
    assert 0.7 < len(ours) / len(reference) < 1.3  # durations are drawn per run, as in Piper


def test_the_windowed_voice_is_understood(windowed):
    from faster_whisper import WhisperModel

    from infra.audio import resample
    from tests.speech import wer

    engine, _ = windowed
    audio = np.concatenate(list(engine.synthesize(SENTENCE, "joe"))).astype(np.float32) / 32768
    model = WhisperModel(str(get_settings().models_dir / "whisper-tiny.en"), compute_type="int8")
    segments, _ = model.transcribe(resample(audio, 22050, 16000), language="en", beam_size=1)
    text = " ".join(s.text for s in segments)
    assert wer(SENTENCE, text) <= 0.2, text


def test_graphs_are_cut_once_and_reused(tmp_path):
    model = tmp_path / "voice.onnx"
    source = get_settings().models_dir / "piper" / "en_US-joe-medium.onnx"
    model.symlink_to(source)
    first, directory = split_graphs(model)
    stamp = first["decoder"].stat().st_mtime_ns
    again, _ = split_graphs(model)
    assert again == first and first["decoder"].stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".voice.") and p != directory] == []


def test_a_fixed_gain_is_taken_as_given(windowed):
    _, voice = windowed
    fixed = WindowedVoice(voice.voice, get_settings().models_dir / "piper" / "en_US-joe-medium.onnx",
                          WindowConfig(gain=1.0))
    assert fixed.gain == 1.0 and voice.gain > 1.0  # Piper's raw output peaks below full scale


def test_graphs_go_to_the_users_cache_when_the_models_directory_is_read_only(tmp_path, monkeypatch):
    import tempfile

    models = tmp_path / "models"
    models.mkdir()
    model = models / "voice.onnx"
    model.symlink_to(get_settings().models_dir / "piper" / "en_US-joe-medium.onnx")
    real_mkdtemp = tempfile.mkdtemp

    def mkdtemp(prefix="", dir=None):
        if dir == models:
            raise PermissionError(13, "Read-only file system")
        return real_mkdtemp(prefix=prefix, dir=dir)

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    monkeypatch.setattr("pathlib.Path.home", lambda: tmp_path / "home")
    graphs, directory = split_graphs(model)
    assert directory.parent == tmp_path / "home" / ".cache" / "secretary" / "piper-windows"
    assert graphs["decoder"].is_file() and list(models.iterdir()) == [model]
