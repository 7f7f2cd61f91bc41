"""What a persona is, validated: the API's body, the YAML seed's entries and the registry's values."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

NAME = re.compile(r"[a-z][a-z0-9_-]{1,31}")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Adapter(Strict):
    """A LoRA adapter: published under ``name`` at ``version``; ``path`` is where its files are.

    Published through the adapter store (``personas/adapter_store.py``), ``name`` and ``path``
    are the server's and ``sha256`` is the files' content hash; only the operator's own seeds
    carry adapters without one.
    """

    name: str = Field(min_length=1, max_length=64)
    version: int = Field(ge=1)
    path: str = Field(min_length=1, max_length=500)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")


class AdapterPublish(Strict):
    """What an owner publishes: a directory of their adapter store, as a new version of the persona."""

    path: str = Field(min_length=1, max_length=300, description="Relative to the tenant's adapter store, e.g. 'anna/v3'.")
    version: int = Field(ge=1, le=999_999_999)


class FaqEntry(Strict):
    """One canned answer. ``triggers`` match the whole message exactly (after normalising);
    ``question`` and ``examples`` (other phrasings) are matched by meaning."""

    question: str = Field(min_length=3, max_length=500)
    answer: str = Field(min_length=1, max_length=2000)
    triggers: list[str] = Field(default_factory=list, max_length=20)
    examples: list[str] = Field(default_factory=list, max_length=20)


class Sampling(Strict):
    temperature: float = Field(default=0.3, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(default=120, ge=1, le=2048)


LIMIT_NOTICES = {
    "en": "I'm sorry, this line has used up its minutes for this month, so I have to end the call. Goodbye.",
    "ru": "К сожалению, минуты этого номера на текущий месяц закончились, и звонок будет завершён. До свидания.",
}
SHUTDOWN_LINES = {
    "en": "I'm sorry, I have to end the call now. Please call back in a few minutes. Goodbye.",
    "ru": "Извините, мне нужно завершить звонок. Пожалуйста, перезвоните через несколько минут. До свидания.",
}


class Lines(Strict):
    """What the persona says at fixed moments of a call (the pipeline's ``SessionConfig`` lines)."""

    greeting: str = Field(max_length=500)
    recording_notice: str = Field(default="", max_length=300)
    farewell: str = Field(max_length=300)
    silence_prompt: str = Field(max_length=300)
    hangup_line: str = Field(max_length=300)
    apology: str = Field(max_length=300)
    limit_notice: str = Field(
        default="", max_length=300, description="Said when the plan's minutes are used up; empty: the language's default."
    )
    shutdown_line: str = Field(
        default="",
        max_length=300,
        description="Said when the line shuts down or redeploys mid-call; empty: the language's default.",
    )


class Persona(Strict):
    name: str = Field(description="Stable id: lower-case letters, digits, - and _; 2-32 characters.")
    display_name: str = Field(min_length=1, max_length=64)
    language: str = Field(pattern=r"^[a-z]{2}$")
    timezone: str = Field(default="Europe/Moscow", max_length=64)
    system_prompt: str = Field(min_length=1, max_length=8000)
    lines: Lines
    voice: str = Field(min_length=1, max_length=64)
    adapter: Adapter | None = None
    faq: list[FaqEntry] = Field(default_factory=list, max_length=500)
    sampling: Sampling = Field(default_factory=Sampling)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME.fullmatch(v):
            raise ValueError("lower-case letters, digits, - and _, starting with a letter, 2-32 characters")
        return v

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    def session_config(self) -> dict[str, Any]:
        """The pipeline's session block for this persona (``SessionConfig.from_dict`` takes it)."""
        lines = self.lines.model_dump()
        lines["limit_notice"] = lines["limit_notice"] or LIMIT_NOTICES.get(self.language, LIMIT_NOTICES["en"])
        lines["shutdown_line"] = lines["shutdown_line"] or SHUTDOWN_LINES.get(self.language, SHUTDOWN_LINES["en"])
        return {"language": self.language, "system_prompt": self.system_prompt, **lines}


class PersonaOut(Persona):
    status: str = "available"  # "available" | "unavailable"
    status_reason: str | None = None
