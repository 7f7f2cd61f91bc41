"""Telling a machine from a person on the line, from the audio's shape and the first words.

- One-way speech: a recording plays on whatever we say. Its turns end only because they hit
  ``max_turn_s``, never because the speaker paused for an answer; after ``one_way_speech_s`` of
  such speech the call is ended (the message desk then files it as a robocall).
- Voicemail on an outbound call: the callee's first turn is an answering machine's greeting
  ("leave a message after the tone", "оставьте сообщение после сигнала"), or a monologue that
  runs to ``max_turn_s``. The session leaves its short message instead of talking to the machine.
"""

from __future__ import annotations

import re

VOICEMAIL = re.compile(
    r"leave (?:a|your) message|please leave|after the (?:tone|beep|signal)|not available|unavailable|"
    r"can(?:'?t|not) (?:take|answer|come to) (?:your call|the phone|the call)|you(?:'ve| have) reached|"
    r"voice ?mail|mailbox|record your message|"
    r"оставьте (?:ваше )?сообщение|после (?:звукового )?сигнала|не может (?:сейчас )?ответить|"
    r"абонент недоступен|голосов\w* почт|автоответчик",
    re.IGNORECASE,
)


def sounds_like_voicemail(text: str, reason: str) -> bool:
    """The callee's first turn is an answering machine's greeting."""
    return bool(VOICEMAIL.search(text)) or reason == "max_length"


class OneWaySpeech:
    """Counts speech that never yields: consecutive turns cut at their maximum length."""

    def __init__(self, limit_s: float | None) -> None:
        self.limit_s, self.talked_s = limit_s, 0.0

    def turn(self, reason: str, duration_s: float) -> bool:
        """Feed one caller turn; True once the one-way speech has gone on past the limit."""
        if reason != "max_length":
            self.talked_s = 0.0  # a pause that yields the floor: a person
            return False
        self.talked_s += duration_s
        return self.limit_s is not None and self.talked_s >= self.limit_s
