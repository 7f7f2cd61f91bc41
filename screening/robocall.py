"""Robocalls and recorded messages, told from how the call went rather than from what was said.

Two signs, both from the pipeline's record: nobody answered the greeting (the call ended on
silence with no caller turn), or the line carried one-way speech that never yielded a turn (the
session ended it as ``one_way_speech``: a recording plays on whatever we say).
"""

from __future__ import annotations

NO_ANSWER_ENDINGS = ("silence_timeout",)


def robocall_reason(end_reason: str | None, transcript: list[dict]) -> str | None:
    """Why this call looks like a machine, or None."""
    caller_turns = [t for t in transcript if t.get("speaker") == "caller" and t.get("text")]
    if end_reason == "one_way_speech":
        return "one-way speech that never yielded a turn"
    if end_reason in NO_ANSWER_ENDINGS and not caller_turns:
        return "no answer to the greeting"
    return None
