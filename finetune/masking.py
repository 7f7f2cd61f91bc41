"""Phone numbers and e-mail addresses are masked in training data (on by default).

A fine-tuned adapter can repeat what it was trained on; a client's number in an owner's chat
must not come out of the persona's mouth to another caller. Masks keep the shape of the text
(``<phone>``, ``<email>``) so the model still learns that a number was given there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# +7 916 123-45-67, 8 (916) 123 45 67, 89161234567, +44 20 7946 0958: 10 to 15 digits with
# separators (dates such as 2026-12-06 and prices have fewer).
PHONE = re.compile(r"(?<![\w])(?:\+|00)?\d(?:[\s\-().]*\d){9,14}(?![\w])")


@dataclass
class MaskCounts:
    phones: int = 0
    emails: int = 0


def mask(text: str, counts: MaskCounts | None = None) -> str:
    counts = counts if counts is not None else MaskCounts()
    text, n = EMAIL.subn("<email>", text)
    counts.emails += n
    text, n = PHONE.subn("<phone>", text)
    counts.phones += n
    return text
