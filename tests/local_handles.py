"""Serve-handle look-alikes over in-process deployment objects, for route tests without a cluster.

``handle.method.remote(...)`` returns an awaitable, ``handle.options(stream=True).method.remote``
an async iterator, exactly the two call shapes the ingress uses. Arguments are deep-copied
through pickle, as a real handle would serialise them.
"""

from __future__ import annotations

import pickle
from typing import Any


class _Method:
    def __init__(self, target: Any, name: str, stream: bool) -> None:
        self.fn, self.stream = getattr(target, name), stream

    def remote(self, *args: Any, **kwargs: Any):
        args, kwargs = pickle.loads(pickle.dumps((args, kwargs)))
        if self.stream:
            return self.fn(*args, **kwargs).__aiter__()
        return self.fn(*args, **kwargs)


class LocalHandle:
    def __init__(self, target: Any, stream: bool = False) -> None:
        self._target, self._stream = target, stream

    def options(self, stream: bool = False, **_: Any) -> LocalHandle:
        return LocalHandle(self._target, stream)

    def __getattr__(self, name: str) -> _Method:
        return _Method(self._target, name, self._stream)


def instantiate(deployment: Any, *args: Any) -> Any:
    """Run a Serve deployment's class in this process."""
    return deployment.func_or_class(*args)
