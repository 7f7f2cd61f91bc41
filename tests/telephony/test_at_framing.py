"""The AT line framer: real-modem framings, arbitrary splits, and random garbage."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from telephony.at_framing import LineFramer, LineKind, classify

TRANSCRIPT = (
    b'\r\n+CSQ: 16,99\r\n\r\nOK\r\n\r\nRING\r\r\n\r\n+CLIP: "07511772308",129,,,"",0\r\n'
    b"\r\n+CRING: VOICE\r\r\n\r\nVOICE CALL: END: 000352\r\n\r\nNO CARRIER\r\r\n"
)
LINES = [
    "+CSQ: 16,99",
    "OK",
    "RING",
    '+CLIP: "07511772308",129,,,"",0',
    "+CRING: VOICE",
    "VOICE CALL: END: 000352",
    "NO CARRIER",
]


def test_real_framings_including_crcrlf():
    assert LineFramer().feed(TRANSCRIPT) == LINES


@given(st.lists(st.integers(min_value=1, max_value=len(TRANSCRIPT)), max_size=20))
def test_any_split_gives_the_same_lines(cuts):
    framer, out, prev = LineFramer(), [], 0
    for cut in sorted(set(cuts)):
        out += framer.feed(TRANSCRIPT[prev:cut])
        prev = cut
    out += framer.feed(TRANSCRIPT[prev:])
    assert out == LINES


def test_one_byte_fragments_and_split_utf8():
    data = '\r\n+CMGR: "REC UNREAD"\r\nПривет\r\nOK\r\n'.encode()
    framer = LineFramer()
    out = [line for b in data for line in framer.feed(bytes([b]))]
    assert out == ['+CMGR: "REC UNREAD"', "Привет", "OK"]


def test_sms_prompt_without_line_end():
    assert LineFramer().feed(b"\r\n> ") == ["> "]
    assert classify("> ", expect_prompt=True) is LineKind.PROMPT


def test_endless_line_is_bounded():
    framer = LineFramer(max_line=100)
    assert framer.feed(b"x" * 1000) == []
    assert framer.dropped_bytes == 1000
    assert framer.feed(b"\r\nOK\r\n") == ["OK"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=30))
def test_random_bytes_never_crash(chunks):
    framer = LineFramer(max_line=256)
    for chunk in chunks:
        for line in framer.feed(chunk):
            assert line and "\r" not in line and "\n" not in line
            assert isinstance(classify(line), LineKind)


def test_classification():
    assert classify("OK") is LineKind.FINAL_OK
    for err in ("ERROR", "+CME ERROR: 10", "+CMS ERROR: 500", "BUSY", "NO ANSWER", "NO DIALTONE"):
        assert classify(err) is LineKind.FINAL_ERROR
    for urc in ("RING", "+CRING: VOICE", '+CMTI: "SM",2', "+RXDTMF: 5", "MISSED_CALL: 08:48AM +27839776374", "RDY"):
        assert classify(urc) is LineKind.URC
    assert classify("+CSQ: 16,99") is LineKind.INFO
