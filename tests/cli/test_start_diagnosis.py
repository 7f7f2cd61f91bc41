"""A cluster that fails to start says which deployment failed and why, from Serve's state and the replica logs."""

from __future__ import annotations

import pytest

from cli.start_diagnosis import Failure, diagnose, explain, failed_deployments, root_causes
from tests.thread_server import ThreadServer

SERVE_MESSAGE = (
    "The deployment failed to start 3 times in a row. This may be due to a problem with its constructor or "
    "initial health check failing. See controller logs for details. Error:\n"
    "Traceback (most recent call last):\n"
    '  File "/x/site-packages/ray/serve/_private/replica.py", line 1928, in initialize\n'
    "    await self._user_callable_wrapper.initialize_callable()\n"
    "ray.exceptions.RayTaskError(RuntimeError): RuntimeError: Engine core initialization failed. "
    "See root cause above. Failed core proc(s): {'EngineCore': 1}\n"
)
ENGINE_CORE_LOG = (
    ":actor_name:ServeReplica:secretary:LLMServer\n"
    "(EngineCore pid=77) ERROR 12-06 04:18:40 [core.py:1100] EngineCore failed to start.\n"
    "(EngineCore pid=77) ERROR Traceback (most recent call last):\n"
    '(EngineCore pid=77) ERROR   File "/v/site-packages/vllm/lora/layers/utils.py", line 53, in _get_lora_device\n'
    "(EngineCore pid=77) ERROR     return base_layer.weight.device\n"
    "(EngineCore pid=77) ERROR AttributeError: 'NoneType' object has no attribute 'device'\n"
)


def test_the_root_cause_is_the_engine_cores_exception_not_the_wrappers(tmp_path):
    (tmp_path / "worker-abc-01-77.err").write_text(ENGINE_CORE_LOG)
    (tmp_path / "worker-def-01-78.err").write_text(":actor_name:ServeReplica:secretary:TTSServer\nValueError: other\n")
    text = explain(Failure("secretary", "LLMServer", "DEPLOY_FAILED", SERVE_MESSAGE), tmp_path)
    lines = text.splitlines()
    assert lines[0].startswith("secretary/LLMServer DEPLOY_FAILED: The deployment failed to start 3 times")
    assert lines[1] == (
        "  cause: AttributeError: 'NoneType' object has no attribute 'device' "
        "(vllm/lora/layers/utils.py:53 in _get_lora_device)"
    )
    assert "Engine core initialization failed" not in text and "ValueError" not in text  # another replica's log
    assert lines[-1].endswith("worker-abc-01-77.err")
    assert len(lines) <= 5


def test_without_logs_the_message_still_names_something_or_says_it_found_nothing(tmp_path):
    text = explain(
        Failure(
            "billing",
            "BillingApi",
            "DEPLOY_FAILED",
            "Error:\n  File \"/p/billing/app.py\", line 9, in build\nKeyError: 'plans'\n",
        ),
        tmp_path,
    )
    assert "cause: KeyError: 'plans'" in text and "log:" not in text
    assert "cause: not found" in explain(Failure("a", "B", "UNHEALTHY", ""), tmp_path)


def test_root_causes_skip_wrappers_and_repeat_nothing():
    text = "RuntimeError: Traceback (most recent call last):\nOSError: disk full\nOSError: disk full\n"
    assert root_causes(text) == ["OSError: disk full"]


@pytest.fixture
def dashboard():
    state = {
        "applications": {
            "secretary": {
                "status": "DEPLOYING",
                "message": "",
                "deployments": {
                    "LLMServer": {"status": "DEPLOY_FAILED", "message": SERVE_MESSAGE},
                    "TTSServer": {"status": "HEALTHY", "message": ""},
                },
            },
            "billing": {"status": "DEPLOY_FAILED", "message": "KeyError: 'plans'", "deployments": {}},
        }
    }
    from fastapi import FastAPI

    app = FastAPI()
    app.get("/api/serve/applications/")(lambda: state)
    server = ThreadServer(app, "fake-dashboard")
    server.start_server()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


def test_failed_deployments_come_from_the_dashboards_serve_api(dashboard, tmp_path):
    failures = failed_deployments(dashboard)
    assert [(f.app, f.deployment, f.status) for f in failures] == [
        ("secretary", "LLMServer", "DEPLOY_FAILED"),
        ("billing", "(application)", "DEPLOY_FAILED"),
    ]
    text = diagnose(dashboard, tmp_path)
    assert "secretary/LLMServer" in text and "KeyError: 'plans'" in text


def test_no_dashboard_means_no_diagnosis_not_an_error():
    assert failed_deployments("http://127.0.0.1:9", timeout_s=0.5) == []
    assert diagnose("http://127.0.0.1:9") is None
