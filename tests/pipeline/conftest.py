"""Each test starts with the playout gate's process-wide learning forgotten."""

from __future__ import annotations

import pytest

from pipeline.playout import FORECAST_ERRORS, SYNTHESIS_TIMES


@pytest.fixture(autouse=True)
def _fresh_playout_learning():
    FORECAST_ERRORS.ratios.clear()
    SYNTHESIS_TIMES.clear()
    yield
    FORECAST_ERRORS.ratios.clear()
    SYNTHESIS_TIMES.clear()
