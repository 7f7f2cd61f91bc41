"""Property-based fuzzing of an app's OpenAPI schema with schemathesis: no request may get a 5xx.

The app serves on a real socket in the test's event loop (``tests/asgi_server.py``), where the
in-process engines and database engines live; the generated requests are sent from a worker
thread. Runs are derandomised by default, and each failure is reported with the request that
caused it. For a deeper run by hand: ``SECRETARY_FUZZ_EXAMPLES=300 SECRETARY_FUZZ_RANDOM=1``.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st


def _operation_test(
    op: Any,
    label: str,
    base_url: str,
    headers: dict[str, str],
    max_examples: int,
    statuses: Counter,
    valid: dict[str, dict[str, list[Any]]],
) -> Any:
    @given(case=op.as_strategy(), data=st.data())
    @settings(
        max_examples=int(os.environ.get("SECRETARY_FUZZ_EXAMPLES", max_examples)),
        deadline=None,
        database=None,
        derandomize=not os.environ.get("SECRETARY_FUZZ_RANDOM"),
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    def run(case: Any, data: Any) -> None:
        # Random names only ever reach "not found": most of the time use a real one, so the
        # rest of the request gets past that check and into the code behind it. (Hypothesis
        # leans to the simplest draw, 0 and the first value, so that one means "a real name".)
        for name, values in {**valid.get("*", {}), **valid.get(op.path, {})}.items():
            if isinstance(case.body, dict) and name in case.body and data.draw(st.integers(0, 3)) < 3:
                case.body[name] = data.draw(st.sampled_from(values))
            if case.path_parameters and name in case.path_parameters and data.draw(st.integers(0, 1)) == 0:
                case.path_parameters[name] = data.draw(st.sampled_from(values))
        # Credentials are the caller's (the 401 paths have tests of their own).
        response = case.call(base_url=base_url, headers={**(case.headers or {}), **headers}, timeout=120)
        statuses[response.status_code] += 1
        assert response.status_code < 500, (
            f"{label}: {response.status_code} {response.text[:300]!r} for query={case.query} "
            f"path={case.path_parameters} body={str(case.body)[:300]!r}"
        )

    return run


def _fuzz_sync(
    schema_dict: dict,
    base_url: str,
    headers: dict[str, str],
    max_examples: int,
    skip: set[tuple[str, str]],
    valid: dict[str, dict[str, list[Any]]],
) -> tuple[list[str], dict[str, Counter]]:
    schema = schemathesis.openapi.from_dict(schema_dict)
    failures: list[str] = []
    seen: dict[str, Counter] = {}
    for result in schema.get_all_operations():
        op = result.ok()
        label = f"{op.method.upper()} {op.path}"
        if (op.method.upper(), op.path) in skip:
            continue
        seen[label] = Counter()
        try:
            _operation_test(op, label, base_url, headers, max_examples, seen[label], valid)()
        except AssertionError as exc:
            failures.append(str(exc).splitlines()[0])
    return failures, seen


async def fuzz(
    app_schema: dict,
    base_url: str,
    headers: dict[str, str],
    max_examples: int = 20,
    skip: set[tuple[str, str]] | None = None,
    valid: dict[str, dict[str, list[Any]]] | None = None,
) -> tuple[list[str], dict[str, Counter]]:
    """Fuzz every operation. Returns the failures (empty: no 5xx anywhere) and, per operation, how
    many answers of each status it got. ``valid``: per path (``"*"``: any), real values for body
    fields and path parameters of that name (``model``, ``voice``…), used in three cases out of four."""
    return await asyncio.to_thread(_fuzz_sync, app_schema, base_url, headers, max_examples, skip or set(), valid or {})
