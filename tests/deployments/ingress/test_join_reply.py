"""Reply frames joined into one WebSocket message per message in (deployments/ingress/routes/calls.py)."""

from __future__ import annotations

from deployments.ingress.routes.calls import join_reply

A, B = b"\x01\x00" * 160, b"\x02\x00" * 160
SILENCE = b"\x00" * 320


def test_one_frame_per_message_is_unchanged():
    assert join_reply([A], 320) == A
    assert join_reply([None], 320) == b""


def test_frames_of_a_longer_message_leave_together_in_order():
    assert join_reply([A, B, A], 320) == A + B + A


def test_a_gap_inside_the_reply_is_kept_as_silence():
    assert join_reply([A, None, B], 320) == A + SILENCE + B


def test_nothing_is_sent_for_ticks_before_the_reply_starts_or_after_it_ends():
    assert join_reply([None, A, B], 320) == A + B
    assert join_reply([A, None, None], 320) == A
    assert join_reply([None, None, None], 320) == b""
