"""Phone-number policy: normalisation, premium ranges, allow/deny lists, rate limits, logged refusals."""

from __future__ import annotations

import json

import pytest

from infra.logging import configure_logging
from telephony.number_policy import NumberPolicy, NumberPolicyConfig, PolicyRefusal, RateLimiter


@pytest.fixture
def policy():
    return NumberPolicy(NumberPolicyConfig(dials_per_hour=1000, sms_per_hour=1000))


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("8 (916) 123-45-67", "+79161234567"),
        ("+7 916 123 45 67", "+79161234567"),
        ("8 495 123-45-67", "+74951234567"),
        ("8 900 123 45 67", "+79001234567"),  # 8-900 is an ordinary Russian mobile range
        ("8 800 555-35-35", "+78005553535"),  # toll-free is fine
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_normalised_and_allowed(policy, raw, e164):
    assert policy.authorise("dial", raw) == e164


@pytest.mark.parametrize(
    "raw", ["8 809 505-12-34", "8 803 123-45-67", "+7 809 505 1234", "+44 909 879 0000", "+1 900 555 0123"]
)
def test_premium_rate_refused(policy, raw):
    with pytest.raises(PolicyRefusal) as e:
        policy.authorise("sms", raw)
    assert e.value.reason == "premium_rate"


@pytest.mark.parametrize("raw", ["", "hello", "112", "+7", "1" * 40, "+7916123456789012"])
def test_invalid_refused(policy, raw):
    with pytest.raises(PolicyRefusal) as e:
        policy.authorise("dial", raw)
    assert e.value.reason == "invalid_number"


def test_allow_and_deny_lists():
    p = NumberPolicy(NumberPolicyConfig(allow_prefixes=["+7916"], deny_prefixes=["+79160000000"]))
    assert p.authorise("dial", "+79161234567")
    with pytest.raises(PolicyRefusal, match="allow list"):
        p.authorise("dial", "+74951234567")
    with pytest.raises(PolicyRefusal, match="deny list"):
        p.authorise("dial", "+79160000000")


def test_rate_limits_per_action():
    now = [0.0]
    p = NumberPolicy(NumberPolicyConfig(dials_per_hour=2, sms_per_hour=1), clock=lambda: now[0])
    p.authorise("dial", "+79161234567")
    p.authorise("dial", "+79161234567")
    with pytest.raises(PolicyRefusal) as e:
        p.authorise("dial", "+79161234567")
    assert e.value.reason == "rate_limited"
    p.authorise("sms", "+79161234567")
    now[0] = 3600.0
    assert p.authorise("dial", "+79161234567")


def test_sliding_window():
    now = [0.0]
    rl = RateLimiter(2, 10, clock=lambda: now[0])
    assert rl.try_acquire() and rl.try_acquire() and not rl.try_acquire()
    now[0] = 9.9
    assert not rl.try_acquire()
    now[0] = 10.0
    assert rl.try_acquire()


def test_refusal_is_logged_with_reason_and_masked_number(policy, capsys):
    configure_logging("INFO", json=True, log_pii=False)
    with pytest.raises(PolicyRefusal):
        policy.authorise("dial", "+7 809 505 1234")
    lines = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    (line,) = [x for x in lines if x["event"] == "telephony.number_refused"]
    assert line["reason"] == "premium_rate" and line["action"] == "dial"
    assert "5051234" not in json.dumps(line) and line["pii_number"].startswith("***")
