"""Shared by the billing tests: the local fake Stripe (one per module)."""

from __future__ import annotations

import pytest

from tests.fake_stripe import FakeStripe


@pytest.fixture(scope="module")
def fake_stripe():
    server = FakeStripe().start()
    yield server
    server.stop()
