"""Why a local cluster did not start, in a few lines: the deployment, its root cause, its log.

When a replica's constructor fails, Serve retries it, marks the deployment ``DEPLOY_FAILED`` and
keeps a message that ends in the outermost exception: for the LLM that is vLLM's "Engine core
initialization failed. See root cause above", the cause being in the engine core's output, which
lands in the replica worker's log (``worker-*.err``, the file Ray starts with
``:actor_name:ServeReplica:<app>:<deployment>``). This module reads Serve's state from the
dashboard's REST API and those logs, and names the first real exception it finds, so a user sees
"AttributeError: 'NoneType' object has no attribute 'device' (vllm/lora/layers/utils.py:53)"
instead of a wall of ``/readyz`` 503s and the waiting loop's traceback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import httpx

DASHBOARD_URL = "http://127.0.0.1:8265"
RAY_LOGS = Path("/tmp/ray/session_latest/logs")
FAILED = {"DEPLOY_FAILED", "UNHEALTHY"}
# "SomethingError: what" or "package.module.SomeException: what", possibly after a log prefix.
_EXCEPTION = re.compile(r"((?:[A-Za-z_][\w]*\.)*[A-Z]\w*(?:Error|Exception|Exit|Interrupt)): (.*)$")
_FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\S+)')
# Outer exceptions that only point at a cause reported elsewhere.
_WRAPPERS = (
    "See root cause above",
    "Traceback (most recent call last)",
    "failed to start",
    "RayActorError",
    "ActorDiedError",
    "The actor died",
    "Engine core initialization failed",
)


@dataclass(frozen=True)
class Failure:
    app: str
    deployment: str
    status: str
    message: str

    @property
    def actor_name(self) -> str:
        return f"ServeReplica:{self.app}:{self.deployment}"


def failed_deployments(dashboard_url: str = DASHBOARD_URL, timeout_s: float = 5.0) -> list[Failure]:
    """Deployments Serve reports as failed or unhealthy (empty when the dashboard does not answer)."""
    try:
        r = httpx.get(f"{dashboard_url}/api/serve/applications/", timeout=timeout_s)
        apps = r.json().get("applications") or {} if r.status_code == 200 else {}
    except (httpx.HTTPError, ValueError):
        return []
    out = []
    for app_name, app in apps.items():
        for dep_name, dep in (app.get("deployments") or {}).items():
            if dep.get("status") in FAILED:
                out.append(Failure(app_name, dep_name, dep["status"], dep.get("message") or ""))
        if app.get("status") == "DEPLOY_FAILED" and not any(f.app == app_name for f in out):
            out.append(Failure(app_name, "(application)", "DEPLOY_FAILED", app.get("message") or ""))
    return out


def _relative(path: str) -> str:
    """A frame's file as a reader finds it: inside the project, or inside site-packages."""
    from infra.settings import PROJECT_ROOT

    root = f"{PROJECT_ROOT}/"
    if path.startswith(root):
        return path[len(root) :]
    return path.split("site-packages/", 1)[1] if "site-packages/" in path else path


def root_causes(text: str) -> list[str]:
    """The exceptions in ``text`` that are not mere wrappers, each with the frame that raised it."""
    causes: list[str] = []
    frame = ""
    for line in text.splitlines():
        if m := _FRAME.search(line):
            frame = f"{_relative(m.group(1))}:{m.group(2)} in {m.group(3)}"
            continue
        m = _EXCEPTION.search(line.strip())
        if not m or any(w in line for w in _WRAPPERS):
            continue
        cause = f"{m.group(1).rsplit('.', 1)[-1]}: {m.group(2).strip()[:300]}" + (f" ({frame})" if frame else "")
        if cause not in causes:
            causes.append(cause)
        frame = ""
    return causes


def replica_logs(failure: Failure, logs_dir: Path = RAY_LOGS) -> list[Path]:
    """The worker logs of this deployment's replicas (Ray heads each with the actor's name)."""
    marker = f":actor_name:{failure.actor_name}"
    found = []
    for path in sorted(logs_dir.glob("worker-*.err")) + sorted(logs_dir.glob("worker-*.out")):
        try:
            with path.open(errors="replace") as f:
                if marker in f.read(4096):
                    found.append(path)
        except OSError:
            continue
    return found


def explain(failure: Failure, logs_dir: Path = RAY_LOGS, limit: int = 3) -> str:
    logs = replica_logs(failure, logs_dir)
    causes: list[str] = []
    for path in logs:
        try:
            causes += [c for c in root_causes(path.read_text(errors="replace")) if c not in causes]
        except OSError:
            continue
    causes += [c for c in root_causes(failure.message) if c not in causes]
    summary = next((line.strip() for line in failure.message.splitlines() if line.strip()), failure.status)
    lines = [f"{failure.app}/{failure.deployment} {failure.status}: {summary[:200]}"]
    lines += [f"  cause: {c}" for c in causes[:limit]] or ["  cause: not found in Serve's message or the replica logs"]
    if logs:
        lines.append(f"  log: {logs[-1]}")
    return "\n".join(lines)


def diagnose(dashboard_url: str = DASHBOARD_URL, logs_dir: Path = RAY_LOGS) -> str | None:
    """Every failed deployment explained, or None when Serve reports none."""
    failures = failed_deployments(dashboard_url)
    return "\n".join(explain(f, logs_dir) for f in failures) if failures else None
