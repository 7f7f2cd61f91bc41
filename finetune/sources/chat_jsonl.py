"""Dialogues from chat JSONL: one ``{"messages": [{"role", "content"}, ...]}`` per line (OpenAI's format)."""

from __future__ import annotations

import json

from finetune.dialogues import ROLES, DatasetError, Dialogue, Turn, trainable

SOURCE = "dataset.jsonl"


def dialogues_from_jsonl(raw: bytes) -> list[Dialogue]:
    if not raw.strip():
        raise DatasetError(SOURCE, "the file is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(SOURCE, f"not UTF-8 text (byte {exc.start})") from None
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {n}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(SOURCE, f"not valid JSON: {exc.msg} (column {exc.colno})", where) from None
        messages = record.get("messages") if isinstance(record, dict) else None
        if not isinstance(messages, list) or not messages:
            raise DatasetError(SOURCE, "must be a non-empty list of messages", where, "messages")
        turns = []
        for i, m in enumerate(messages):
            if not isinstance(m, dict):
                raise DatasetError(SOURCE, "a message must be an object", where, f"messages[{i}]")
            if m.get("role") not in ROLES:
                raise DatasetError(SOURCE, f"must be one of {', '.join(ROLES)}", where, f"messages[{i}].role")
            if not isinstance(m.get("content"), str):
                raise DatasetError(SOURCE, "must be a string", where, f"messages[{i}].content")
            turns.append(Turn(m["role"], m["content"]))
        system = [t for t in turns if t.role == "system"]
        dialogue = trainable([t for t in turns if t.role != "system"])
        if dialogue is not None:
            out.append(Dialogue(tuple(system[:1]) + dialogue.turns))
    return out
