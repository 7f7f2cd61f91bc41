"""What every dataset source produces: dialogues of user and assistant turns, and errors that say where.

A source (``finetune/sources/``) turns an owner's material into ``Dialogue`` objects; everything
after that (masking, deduplication, the split, tokenisation) is the same for all sources. A
problem in the material is a ``DatasetError`` that names the file, the line or message, and the
field, so an owner can fix the export instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("system", "user", "assistant")


class DatasetError(ValueError):
    """The material cannot be used as it is; the message says where and why (HTTP 400)."""

    def __init__(self, source: str, message: str, where: str | None = None, field: str | None = None) -> None:
        self.source, self.where, self.field = source, where, field
        place = ", ".join(p for p in (where, f"field {field!r}" if field else None) if p)
        super().__init__(f"{source}: {place + ': ' if place else ''}{message}")


@dataclass(frozen=True)
class Turn:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class Dialogue:
    turns: tuple[Turn, ...]

    @property
    def messages(self) -> list[dict[str, str]]:
        return [{"role": t.role, "content": t.content} for t in self.turns]

    @property
    def assistant_turns(self) -> int:
        return sum(t.role == "assistant" for t in self.turns)


def merge_consecutive(turns: list[Turn]) -> list[Turn]:
    """Consecutive messages of one side become one turn (people send several short messages in a row)."""
    merged: list[Turn] = []
    for turn in turns:
        if merged and merged[-1].role == turn.role:
            merged[-1] = Turn(turn.role, merged[-1].content + "\n" + turn.content)
        else:
            merged.append(turn)
    return merged


def trainable(turns: list[Turn]) -> Dialogue | None:
    """A dialogue that starts with the user and has an assistant turn, or None."""
    turns = merge_consecutive([t for t in turns if t.content.strip()])
    while turns and turns[0].role == "assistant":  # nothing asked yet: nothing to learn an answer from
        turns = turns[1:]
    if not any(t.role == "assistant" for t in turns):
        return None
    while turns[-1].role != "assistant":  # a question nobody answered teaches nothing
        turns = turns[:-1]
    return Dialogue(tuple(turns))


def chunk(turns: list[Turn], max_chars: int) -> list[list[Turn]]:
    """Cut a long conversation into pieces that fit the model's context, at turn boundaries.

    A piece always ends after an assistant turn; a single exchange longer than ``max_chars`` is
    kept whole (the tokenizer truncates it later) rather than split mid-sentence.
    """
    pieces: list[list[Turn]] = []
    current: list[Turn] = []
    size = 0
    for i, turn in enumerate(turns):
        current.append(turn)
        size += len(turn.content)
        ends_exchange = turn.role == "assistant" and (i + 1 == len(turns) or turns[i + 1].role != "assistant")
        if ends_exchange and size >= max_chars:
            pieces.append(current)
            current, size = [], 0
    if current:
        pieces.append(current)
    return pieces
