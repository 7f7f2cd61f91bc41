"""Where training dialogues come from: one module per source, each producing ``finetune.dialogues.Dialogue``."""

from __future__ import annotations

import json
from typing import Any

from finetune.dialogues import DatasetError


def decode_json(raw: bytes, source: str) -> Any:
    """The JSON document in ``raw``; a clear ``DatasetError`` for empty, non-UTF-8 or malformed input."""
    if not raw.strip():
        raise DatasetError(source, "the file is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(source, f"not UTF-8 text (byte {exc.start}); export it again as JSON") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetError(source, f"not valid JSON: {exc.msg}", where=f"line {exc.lineno}, column {exc.colno}") from None
