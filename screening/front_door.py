"""What a call is told before the conversation starts: declined, greeted as a stranger, or
welcomed back by name; and what the persona is told about the caller.

- A number on the block list hears a polite line and the call ends (no message for the owner,
  a "screened" entry the owner can review).
- A caller the secretary does not know (not remembered, not on the allow list) is asked for
  their name and the reason for the call in the greeting itself.
- A returning caller is greeted by name, and the persona's prompt carries their last message.

Every persona is told to take a message: name, a number to call back, a convenient time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from infra.logging import get_logger
from messages.caller_memory import CallerMemory
from screening.lists import ScreeningLists

log = get_logger(__name__)
LINES = {
    "en": {
        "decline": "Sorry, this line cannot take your call. Goodbye.",
        "ask": "May I have your name and the reason for your call?",
        "welcome": "Nice to hear from you again, {name}.",
        "take_message": (
            "If the caller wants the owner or asks to pass something on, take a message: ask for their name, "
            "a number to call them back and a convenient time, then confirm it briefly."
        ),
        "returning": "This caller, {name}, has called before. Their last message: {summary}",
        "voicemail": "Hello, this is {persona}. Sorry we missed you; we will call you back later. Goodbye.",
    },
    "ru": {
        "decline": "Извините, этот номер не может принять ваш звонок. До свидания.",
        "ask": "Представьтесь, пожалуйста, и скажите, по какому вы вопросу.",
        "welcome": "Рада снова вас слышать, {name}.",
        "take_message": (
            "Если звонящий хочет поговорить с руководителем или что-то передать, прими сообщение: спроси имя, "
            "номер для обратного звонка и удобное время, затем коротко подтверди."
        ),
        "returning": "Этот человек, {name}, уже звонил. Его последнее сообщение: {summary}",
        "voicemail": "Здравствуйте, это {persona}. Не удалось до вас дозвониться, мы перезвоним позже. До свидания.",
    },
}


def lines_for(language: str | None) -> dict[str, str]:
    return LINES.get((language or "en").split("-")[0], LINES["en"])


@dataclass
class CallPlan:
    blocked: bool = False
    known: bool = False  # remembered or on the allow list: not asked to introduce themselves
    session: dict[str, Any] = field(default_factory=dict)  # SessionConfig overrides for this call


class FrontDoor:
    def __init__(self, url: str | None = None, tenant_id: str | None = None) -> None:
        self.lists = ScreeningLists(url, tenant_id)
        self.memory = CallerMemory(url, tenant_id)

    async def plan(
        self, number: str | None, language: str | None, greeting: str, system_prompt: str, ask_strangers: bool = True
    ) -> CallPlan:
        """The plan for an inbound call from ``number`` to a persona with these lines. Never
        raises: with the database away, the call is answered as it would have been before.
        ``ask_strangers``: False for a WebSocket call that names no caller (an app, not a stranger)."""
        words = lines_for(language)
        prompt = f"{system_prompt} {words['take_message']}"
        try:
            listed = await self.lists.lookup(number)
            caller = await self.memory.recall(number)
        except Exception as exc:
            log.warning("screening.front_door_failed", error=type(exc).__name__)
            return CallPlan(session={"system_prompt": prompt})
        if listed == "block":
            return CallPlan(blocked=True, session={"decline_line": words["decline"], "record_audio": False})
        if caller is not None and caller.name:
            welcome = f"{greeting} {words['welcome'].format(name=caller.name)}"
            if caller.last_summary:
                prompt += " " + words["returning"].format(name=caller.name, summary=caller.last_summary)
            return CallPlan(known=True, session={"greeting": welcome, "keep_greeting": False, "system_prompt": prompt})
        if caller is not None or listed == "allow" or not ask_strangers:
            return CallPlan(known=caller is not None or listed == "allow", session={"system_prompt": prompt})
        return CallPlan(session={"greeting": f"{greeting} {words['ask']}", "system_prompt": prompt})
