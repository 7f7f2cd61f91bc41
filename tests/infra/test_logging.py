from __future__ import annotations

import json
import logging

import pytest

from infra.logging import bind_context, clear_context, configure_logging, get_logger, mask_value


@pytest.fixture
def lines(capsys):
    def read() -> list[dict]:
        return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]

    yield read
    clear_context()
    configure_logging("INFO", json=True, log_pii=False)


def test_json_lines_carry_bound_context(lines):
    configure_logging("INFO", json=True)
    bind_context(call_id="call-42", request_id="r1")
    get_logger("t").info("call.answered", persona="anna")
    (line,) = lines()
    assert line["event"] == "call.answered" and line["call_id"] == "call-42" and line["persona"] == "anna"
    assert line["level"] == "info" and "timestamp" in line


def test_personal_data_is_masked_by_default(lines):
    configure_logging("INFO", json=True, log_pii=False)
    get_logger("t").info("sms.received", pii_phone="+79161234567", pii_text="meet me at 5", status="ok")
    (line,) = lines()
    assert "9161234567" not in json.dumps(line)
    assert line["pii_phone"] == "***67"
    assert line["pii_text"] == "<masked 12 chars>"
    assert line["status"] == "ok"


def test_personal_data_in_clear_when_enabled(lines):
    configure_logging("INFO", json=True, log_pii=True)
    get_logger("t").info("sms.received", pii_phone="+79161234567")
    assert lines()[0]["pii_phone"] == "+79161234567"


def test_stdlib_records_go_through_the_same_renderer(lines):
    configure_logging("INFO", json=True)
    logging.getLogger("thirdparty").warning("disk %s", "low")
    (line,) = lines()
    assert line["event"] == "disk low" and line["level"] == "warning"


def test_mask_value():
    assert mask_value("+7 916 123-45-67") == "***67"
    assert mask_value("hello") == "<masked 5 chars>"
