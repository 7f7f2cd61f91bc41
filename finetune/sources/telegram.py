"""Dialogues from a Telegram Desktop export (``result.json``): the owner's messages become the assistant's.

Telegram Desktop exports either one chat (``{"name", "type", "messages": [...]}``) or everything
(``{"personal_information": {"user_id"}, "chats": {"list": [...]}}``). Only personal chats are
used (groups and channels are not the owner answering one person). Whose messages are the
owner's: ``personal_information.user_id`` in a full export, otherwise the ``owner`` given (a
``from_id`` such as ``user123456`` or a display name).

A message's ``text`` is a string or a list of strings and entities (``{"type": "bold", "text"}``);
media without a caption and service messages are skipped. Consecutive messages of one side are
merged into one turn; a pause of more than ``session_gap_h`` hours starts a new dialogue, and a
long dialogue is cut into pieces that fit the model's context (``max_chars``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from finetune.dialogues import DatasetError, Dialogue, Turn, chunk, trainable
from finetune.sources import decode_json

SOURCE = "result.json"


def _text(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for part in value:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            else:
                raise DatasetError(SOURCE, "a text part is neither a string nor an entity with text", where, "text")
        return "".join(parts)
    raise DatasetError(SOURCE, "must be a string or a list of text parts", where, "text")


def _when(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _chats(doc: Any) -> tuple[list[dict], str | None]:
    if not isinstance(doc, dict):
        raise DatasetError(SOURCE, "the export is not a JSON object; choose JSON as the export format")
    if isinstance(doc.get("chats"), dict):
        chats = doc["chats"].get("list")
        if not isinstance(chats, list):
            raise DatasetError(SOURCE, "must be a list of chats", "chats", "list")
        user_id = (doc.get("personal_information") or {}).get("user_id")
        return chats, f"user{user_id}" if user_id is not None else None
    if "messages" in doc:
        return [doc], None
    raise DatasetError(SOURCE, "neither a chat export (messages) nor a full export (chats.list)")


def dialogues_from_export(
    raw: bytes, owner: str | None = None, max_chars: int = 2000, session_gap_h: float = 6.0
) -> list[Dialogue]:
    """Every trainable dialogue of the export's personal chats."""
    chats, exporter = _chats(decode_json(raw, SOURCE))
    owner = owner or exporter
    if owner is None:
        raise DatasetError(SOURCE, "say whose messages are the owner's (owner: a from_id like user123 or a name)")
    out: list[Dialogue] = []
    personal = 0
    for c, chat in enumerate(chats):
        if not isinstance(chat, dict):
            raise DatasetError(SOURCE, "a chat is not an object", f"chat {c}")
        if chat.get("type", "personal_chat") != "personal_chat":
            continue
        personal += 1
        messages = chat.get("messages")
        if not isinstance(messages, list):
            raise DatasetError(SOURCE, "must be a list", f"chat {chat.get('name') or c}", "messages")
        session: list[Turn] = []
        last: datetime | None = None
        for m, msg in enumerate(messages):
            where = f"chat {chat.get('name') or c}, message {msg.get('id', m) if isinstance(msg, dict) else m}"
            if not isinstance(msg, dict):
                raise DatasetError(SOURCE, "a message is not an object", where)
            if msg.get("type", "message") != "message":
                continue  # service messages: calls, pins, joins
            sender = msg.get("from_id")
            if not isinstance(sender, str):
                raise DatasetError(SOURCE, "missing or not a string", where, "from_id")
            text = _text(msg.get("text", ""), where).strip()
            if not text:
                continue  # media without a caption
            at = _when(msg.get("date"))
            if session and at and last and (at - last).total_seconds() > session_gap_h * 3600:
                out.extend(_finish(session, max_chars))
                session = []
            last = at or last
            is_owner = owner in (sender, msg.get("from"))
            session.append(Turn("assistant" if is_owner else "user", text))
        out.extend(_finish(session, max_chars))
    if personal == 0:
        raise DatasetError(SOURCE, "the export has no personal chats")
    return out


def _finish(turns: list[Turn], max_chars: int) -> list[Dialogue]:
    merged = trainable(turns)
    if merged is None:
        return []
    return [d for piece in chunk(list(merged.turns), max_chars) if (d := trainable(piece)) is not None]
