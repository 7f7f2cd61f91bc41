"""A shorter Whisper encoder window for short audio: ~390 ms → ~150 ms for a phone turn on 2 cores.

faster-whisper (1.2.1) pads every segment's features to Whisper's 30 s (3000 frames) before the
encoder, so a 3 s turn costs as much as 30 s of speech: on the CPU profile the tiny.en encoder
alone is ≈ 280 ms of the ≈ 390 ms a turn takes, against ≈ 37 ms for a 10 s window (measured:
``BENCHMARKS.md``). CTranslate2 accepts windows shorter than 3000 frames (since 3.19). With a
window, a segment no longer than it is padded only to the window; a longer one still gets 30 s,
so nothing is ever cut.

The padding is a module function faster-whisper calls deep inside ``transcribe``, so it is
replaced once by a wrapper that reads the window from a thread-local: a call sets it for its
own thread only (``padded_to``), and every other caller, in this thread or another, gets
faster-whisper's behaviour unchanged. Accuracy was checked on 44 telephone-band renditions
(espeak-ng and Piper): the same word error rate with 30 s, 10 s and 6 s windows.

The encoder's cost follows its window, not the audio: whisper-base took 200 ms for a 2.6 s turn
in a 10 s window and about 100 ms in a window fitted to the turn (``fitted_window_s``: its
length plus a margin, rounded up to half a second, with a floor), with the same word error rate
on 90 English and character error rate on 40 Russian telephone-band turns (``BENCHMARKS.md``).
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterator

import faster_whisper.transcribe as _fw

WHISPER_FRAMES = 3000  # 30 s of 10 ms feature frames: what Whisper was trained on
FRAMES_PER_S = 100
_window = threading.local()
_original = _fw.pad_or_trim


def _pad_or_trim(array, length: int = WHISPER_FRAMES, *, axis: int = -1):
    frames = getattr(_window, "frames", None)
    if frames and length == WHISPER_FRAMES and array.shape[axis] <= frames:
        length = frames
    return _original(array, length, axis=axis)


_fw.pad_or_trim = _pad_or_trim


@contextlib.contextmanager
def padded_to(window_s: float | None) -> Iterator[None]:
    """Within the block, this thread's segments up to ``window_s`` are encoded in a window of that length."""
    if not window_s or window_s * FRAMES_PER_S >= WHISPER_FRAMES:
        yield
        return
    previous = getattr(_window, "frames", None)
    _window.frames = round(window_s * FRAMES_PER_S)
    try:
        yield
    finally:
        _window.frames = previous


def fitted_window_s(duration_s: float, window_s: float | None, margin_s: float | None, min_s: float) -> float | None:
    """The window for audio of ``duration_s``: ``window_s`` itself, or with ``margin_s``, the audio's
    length plus the margin, rounded up to half a second, at least ``min_s`` and at most ``window_s``.

    The margin keeps a turn off the window's very end, where Whisper, trained on 30 s, never saw
    speech stop; the floor keeps the shortest turns in windows as long as those checked."""
    if not window_s or margin_s is None:
        return window_s
    return min(window_s, max(min_s, math.ceil((duration_s + margin_s) * 2) / 2))
