"""Splitting the AT port's byte stream into lines, and telling URCs from command responses.

The SIM7600 frames lines as ``\\r\\n<line>\\r\\n`` but some URCs end in ``\\r\\r\\n`` and reads
split anywhere, even inside a UTF-8 character; garbage and noise on open happen. The framer is
a pure function of the bytes fed so far: it never raises, never blocks, and bounds its buffer
so a stream without line ends cannot exhaust memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

MAX_LINE = 4096
SMS_PROMPT = "> "

FINAL_OK = ("OK",)
FINAL_ERROR_PREFIXES = ("+CME ERROR:", "+CMS ERROR:")
FINAL_ERRORS = ("ERROR", "NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE")

# Unsolicited result codes (spec §2): they can arrive at any time, even between a command's
# echo and its final result, and are never part of a response.
URC_PREFIXES = (
    "RING",
    "+CRING:",
    "+CLIP:",
    "+CCWA:",
    "+CMTI:",
    "+CLCC:",
    "+RXDTMF:",
    "MISSED_CALL:",
    "VOICE CALL:",
    "RDY",
    "+CPIN: NOT READY",
    "SMS DONE",
    "PB DONE",
    "+CREG:",
    "+CEREG:",
    "NO CARRIER",
)


class LineKind(Enum):
    FINAL_OK = "ok"
    FINAL_ERROR = "error"
    URC = "urc"
    PROMPT = "prompt"
    INFO = "info"


@dataclass(frozen=True)
class Line:
    text: str
    kind: LineKind


class LineFramer:
    """Feed bytes, get complete lines. ``\\r``, ``\\n`` and any run of them end a line."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self._buf = bytearray()
        self.max_line = max_line
        self.dropped_bytes = 0

    def feed(self, data: bytes) -> list[str]:
        self._buf.extend(data)
        lines: list[str] = []
        while True:
            # The SMS prompt "> " has no line end: recognise it at the start of the buffer.
            if self._buf.startswith(b"> ") and not lines_pending(self._buf):
                lines.append(SMS_PROMPT)
                del self._buf[:2]
                continue
            m = re.search(rb"[\r\n]", self._buf)
            if m is None:
                break
            raw = bytes(self._buf[: m.start()])
            end = m.start()
            while end < len(self._buf) and self._buf[end] in (0x0D, 0x0A):
                end += 1
            del self._buf[:end]
            text = raw.decode("utf-8", errors="replace").strip("\x00 \t")
            if text:
                lines.append(text)
        if len(self._buf) > self.max_line:
            self.dropped_bytes += len(self._buf)
            self._buf.clear()
        return lines

    def reset(self) -> None:
        self._buf.clear()


def lines_pending(buf: bytearray) -> bool:
    """True when the bytes after a leading "> " look like the rest of a normal line."""
    rest = bytes(buf[2:])
    return bool(rest) and not rest.startswith((b"\r", b"\n")) and b"\r" in rest


def classify(text: str, expect_prompt: bool = False) -> LineKind:
    if text == SMS_PROMPT.strip() or text == SMS_PROMPT:
        return LineKind.PROMPT if expect_prompt else LineKind.INFO
    if text in FINAL_OK:
        return LineKind.FINAL_OK
    if text in FINAL_ERRORS or text.startswith(FINAL_ERROR_PREFIXES):
        return LineKind.FINAL_ERROR
    if text.startswith(URC_PREFIXES):
        return LineKind.URC
    return LineKind.INFO
