"""Request and response bodies of the admin API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DialRequest(Strict):
    number: str = Field(min_length=3, max_length=32, description="Any common format; normalised to E.164.")
    greeting: str | None = Field(default=None, max_length=500, description="What the assistant says first.")


class SmsRequest(Strict):
    number: str = Field(min_length=3, max_length=32)
    text: str = Field(min_length=1, max_length=670)


class PageOut(BaseModel):
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int


Direction = Literal["inbound", "outbound"]
CallStatus = Literal["ringing", "dialing", "active", "ended"]
