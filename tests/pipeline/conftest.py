"""Each test starts with the playout gate's process-wide learning forgotten."""

from __future__ import annotations

import pytest

from pipeline.playout import FORECAST_ERRORS


@pytest.fixture(autouse=True)
def _fresh_forecast_errors():
    FORECAST_ERRORS.ratios.clear()
    yield
    FORECAST_ERRORS.ratios.clear()
