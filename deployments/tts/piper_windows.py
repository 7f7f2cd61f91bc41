"""A Piper voice decoded in windows of frames: a sentence's first audio before the rest is made.

VITS (Piper's model) splits at its monotonic alignment. The frontend (text encoder, durations,
alignment, prior sampling) sees the whole sentence, so prosody is untouched, and costs about a
sixth of the work. The decoder (flow and HiFi-GAN) is a convolution over frames with a finite
receptive field: frames ``[a, b)`` decoded with ``left`` frames of context before them and
``right`` after give the samples the whole-sentence decode gives. All noise is drawn in the
frontend, so overlapping windows see the same noise. ``streaming-vits`` finds that seam in the
voice's ONNX graph and cuts it into two graphs; this module runs them.

A sentence is decoded as a short first window (its first audio: the frontend plus a short
decode) and then the rest in one window, so the extra work is one set of margins a sentence.

Piper normalises each sentence to full scale, which needs the whole sentence; here a voice gets
one gain instead, measured when it loads: the gain that brings the loudest of a few sentences to
full scale, so that typical sentences are not clipped.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from piper import PiperVoice, SynthesisConfig

# Sentences whose median peak gives a voice's gain; short and long, statements and questions.
GAIN_SENTENCES = ("Hello, this is the dental clinic.", "We are open from nine to six, Monday to Friday.",
                  "Would you like to book an appointment?")


@dataclass
class WindowConfig:
    first_frames: int = 32  # the first window: 32 frames of 256 samples at 22.05 kHz are 0.37 s
    # Context either side of a window, beyond the decoder's receptive field. For joe-medium, 24 and
    # 24 already match the whole-sentence decode to 0.02 % of full scale, 32 and 32 to 0.008 %
    # (BENCHMARKS.md, "Piper in windows"); 16 and 16 are off by 19 %.
    left_frames: int = 32
    right_frames: int = 32
    gain: float | None = None  # None: measured at load


def split_graphs(model: Path) -> tuple[dict, Path]:
    """The voice's frontend and decoder graphs, cut once and kept beside it (or, where the models
    directory is read-only, in the user's cache).

    Cut into a temporary directory and renamed into place, so a replica starting beside another
    never reads a half-written graph.
    """
    from streaming_vits import graph

    size = model.stat().st_size
    for home in (model.parent, Path.home() / ".cache" / "secretary" / "piper-windows"):
        target = home / f".{model.stem}.{size}.windows"
        meta = target / f"{model.stem}.split.json"
        if meta.exists():
            break
        try:
            home.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{model.stem}.", dir=home))
        except OSError:
            continue
        try:
            graph.split(model, tmp, verbose=False)
            os.chmod(tmp, 0o755)  # mkdtemp's 0700 would hide the graphs from other users' replicas
            try:
                os.rename(tmp, target)
            except OSError:  # another replica won the race: use its graphs
                pass
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        break
    split = graph.SplitModel.load(meta)
    return {"frontend": target / split.frontend, "decoder": target / split.decoder, "z_p": split.seam.z_p,
            "mask": split.seam.mask, "speaker": split.seam.g, "hop": split.hop,
            "inputs": split.frontend_inputs}, target


def session_options(threads: int | None = None) -> ort.SessionOptions:
    """onnxruntime options for cores shared with other models: worker threads that have finished
    sleep instead of spinning. A spinning pool holds the cores for a while after each run: the
    decoder run right after the frontend took 63 ms instead of 32, and STT and the LLM lose the
    same time after every synthesis."""
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


class WindowedVoice:
    def __init__(self, voice: PiperVoice, model: Path, config: WindowConfig, threads: int = 2) -> None:
        self.voice, self.config = voice, config
        graphs, _ = split_graphs(Path(model))
        options = session_options(threads)
        self.frontend = ort.InferenceSession(str(graphs["frontend"]), options, providers=["CPUExecutionProvider"])
        self.decoder = ort.InferenceSession(str(graphs["decoder"]), options, providers=["CPUExecutionProvider"])
        self.z_p, self.mask, self.speaker = graphs["z_p"], graphs["mask"], graphs["speaker"]
        self.inputs, self.hop = graphs["inputs"], graphs["hop"]
        self.gain = config.gain if config.gain is not None else self.measure_gain()

    def measure_gain(self) -> float:
        """The gain that brings the loudest of a few of this voice's sentences to full scale."""
        peaks = []
        for text in GAIN_SENTENCES:
            for chunk in self.voice.synthesize(text, SynthesisConfig(normalize_audio=False)):
                peaks.append(float(np.max(np.abs(chunk.audio_float_array))))
        return 1.0 / max(max(peaks), 1e-3)

    def sentences(self, text: str) -> Iterator[list[int]]:
        for phonemes in self.voice.phonemize(text):
            if phonemes:
                yield self.voice.phonemes_to_ids(phonemes)

    def prior(self, ids: list[int], syn: SynthesisConfig) -> tuple[np.ndarray, ...]:
        """The frontend on a whole sentence: the prior ``z_p``, its frame mask (and speaker)."""
        cfg = self.voice.config
        scales = np.array([cfg.noise_scale if syn.noise_scale is None else syn.noise_scale,
                           cfg.length_scale if syn.length_scale is None else syn.length_scale,
                           cfg.noise_w_scale if syn.noise_w_scale is None else syn.noise_w_scale], np.float32)
        feed = {"input": np.array([ids], np.int64), "input_lengths": np.array([len(ids)], np.int64),
                "scales": scales}
        if cfg.num_speakers > 1:
            sid = cfg.default_speaker_id if syn.speaker_id is None else syn.speaker_id
            feed["sid"] = np.array([sid or 0], np.int64)
        return tuple(self.frontend.run(None, {k: v for k, v in feed.items() if k in self.inputs}))

    def windows(self, frames: int) -> Iterator[tuple[int, int]]:
        """``[a, b)`` frame windows for a sentence: the first short, then the rest at once."""
        first = self.config.first_frames
        if frames <= first + self.config.right_frames:  # too short to gain from a split
            yield 0, frames
            return
        yield 0, first
        yield first, frames

    def decode(self, prior: tuple[np.ndarray, ...], a: int, b: int) -> np.ndarray:
        """Frames ``[a, b)`` as int16 samples, decoded with their margins, which are then dropped."""
        z_p, mask = prior[0], prior[1]
        total = z_p.shape[2]
        lo, hi = max(0, a - self.config.left_frames), min(total, b + self.config.right_frames)
        feed = {self.z_p: z_p[:, :, lo:hi], self.mask: mask[:, :, lo:hi]}
        if self.speaker is not None:
            feed[self.speaker] = prior[2]
        audio = np.asarray(self.decoder.run(None, feed)[0]).reshape(-1)
        start = (a - lo) * self.hop
        audio = audio[start:start + (b - a) * self.hop] * self.gain
        return (np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)
