"""Start and stop a local Serve cluster from a profile file, as its own process group.

The cluster is exactly what a user gets from ``serve run cluster/profiles/cpu.yaml``: a local Ray
head, the Serve controller and proxy, and the profile's replicas. It runs in a new session so
stopping it ends every process it started (raylet, workers, vLLM engine cores) and nothing else:
``ray stop`` would stop every Ray on the host.

The local head advertises the custom resource ``modem: 1`` (this machine "has" the modem), and
unless the environment names real ports, the modem is the simulator's: ``secretary modem-sim``
puts its port links in ``var/modem`` (``modem_dir``).

Metering needs Redis: when the configured URL is local and nothing answers, a redis-server is
started beside the cluster (data in ``var/redis``) and stopped with it. Unless the environment
names one, the modem's line is the local tenant's (``cli/local_access.py``), so its calls are
stored and counted like any tenant's.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

import httpx

from cli.local_nodes import NodeSpec, RayNodes, clear_stale_cluster_file
from cli.start_diagnosis import diagnose, explain, failed_deployments
from infra.settings import PROJECT_ROOT

DEFAULT_PROFILE = PROJECT_ROOT / "cluster" / "profiles" / "cpu.yaml"
DEFAULT_MODEM_DIR = PROJECT_ROOT / "var" / "modem"


class ClusterStartError(RuntimeError):
    pass


class LocalCluster:
    def __init__(
        self,
        profile: Path = DEFAULT_PROFILE,
        base_url: str = "http://127.0.0.1:8000",
        log_path: Path | None = None,
        env: dict[str, str] | None = None,
        modem_dir: Path = DEFAULT_MODEM_DIR,
        worker_nodes: Sequence[NodeSpec] | None = None,
    ) -> None:
        """``worker_nodes``: run a head plus these nodes (cli/local_nodes.py) instead of the one
        local node ``serve run`` starts; the ``modem`` resource is then the workers' to give."""
        self.profile, self.base_url = Path(profile).resolve(), base_url.rstrip("/")
        self.worker_nodes = list(worker_nodes) if worker_nodes is not None else None
        self.nodes: RayNodes | None = None
        self.log_path = log_path or PROJECT_ROOT / "var" / "logs" / "serve-run.log"
        self.env = env or {}
        self.modem_dir = Path(modem_dir)
        self.proc: subprocess.Popen | None = None
        self.redis = None

    def _prepare(self, env: dict[str, str], progress: Callable[[str], None]) -> None:
        """Redis for metering and the modem's tenant, before the cluster starts."""
        from cli.local_redis import LocalRedis
        from infra.settings import Settings

        settings = Settings(**({"redis_url": env["SECRETARY_REDIS_URL"]} if env.get("SECRETARY_REDIS_URL") else {}))
        if env.get("SECRETARY_METERING", "true").lower() in ("0", "false", "no", "off"):
            return
        self.redis = LocalRedis.for_url(settings.redis_url, PROJECT_ROOT / "var" / "redis")
        if self.redis is not None and not shutil.which("redis-server"):
            self.redis = None  # a demo still runs; plans are just not enforced
            env["SECRETARY_METERING"] = "false"
            progress("redis-server is not installed (make system-deps installs it): usage metering is off")
            return
        if self.redis is not None:
            self.redis.start()
            progress(f"redis-server on port {self.redis.port} (data: var/redis)")
        if not env.get("SECRETARY_MODEM_TENANT"):
            import asyncio
            from concurrent.futures import ThreadPoolExecutor

            from cli.local_access import local_tenant_id

            # start() is synchronous, but its caller may be inside an event loop (the benchmarks).
            with ThreadPoolExecutor(1) as pool:
                env["SECRETARY_MODEM_TENANT"] = pool.submit(
                    asyncio.run, local_tenant_id(env.get("SECRETARY_DATABASE_URL"))
                ).result()

    def _serve_bin(self) -> str:
        return str(Path(sys.executable).with_name("serve"))

    def start(self, timeout_s: float = 300.0, progress: Callable[[str], None] = lambda _m: None) -> float:
        """Start ``serve run`` and wait until ``/readyz`` says every model is ready; returns seconds."""
        try:
            if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code < 500:
                raise ClusterStartError(f"something already serves {self.base_url}; stop it first")
        except httpx.HTTPError:
            pass
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "RAY_AUTH_MODE": "disabled", "PYTHONUNBUFFERED": "1", **self.env}
        env.setdefault("RAY_TRAIN_ENABLE_STATE_TRACKING", "1")  # fine-tuning runs in the dashboard's Train view
        resources = json.loads(env.get("RAY_OVERRIDE_RESOURCES") or "{}")
        # Logical CPUs only place work: two more than the cores leave a fine-tuning job's workers
        # and Ray Data room beside the replicas (they share the cores while the job runs).
        cpus = (os.cpu_count() or 2) + 2
        env["RAY_OVERRIDE_RESOURCES"] = json.dumps({"modem": 1, "CPU": cpus, **resources})
        if not env.get("SECRETARY_MODEM_AT_PORT"):
            env["SECRETARY_MODEM_AT_PORT"] = str(self.modem_dir / "at")
            env["SECRETARY_MODEM_AUDIO_PORT"] = str(self.modem_dir / "audio")
        t0 = time.monotonic()
        if clear_stale_cluster_file():  # a killed head's address: serve run would wait on it
            progress("forgot the address of a local Ray cluster that is no longer running")
        self._prepare(env, progress)
        address: list[str] = []
        if self.worker_nodes is not None:
            address = ["--address", self._start_nodes(env, cpus, resources, progress)]
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [self._serve_bin(), "run", *address, str(self.profile)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        progress(f"serve run {self.profile.relative_to(PROJECT_ROOT)} (log: {self.log_path})")
        last, next_check = "", t0 + 10.0
        while time.monotonic() - t0 < timeout_s:
            if (code := self.proc.poll()) is not None:
                self._fail(f"serve run exited with {code}", self.log_tail())
            try:
                r = httpx.get(f"{self.base_url}/readyz", timeout=5)
                if r.status_code == 200:
                    return time.monotonic() - t0
                last = r.text
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            if time.monotonic() >= next_check:  # a deployment Serve gave up on will not become ready
                next_check = time.monotonic() + 5.0
                failures = [f for f in failed_deployments() if f.status == "DEPLOY_FAILED"]
                if failures:
                    self._fail("a deployment failed to start", "\n".join(explain(f) for f in failures))
            time.sleep(1.0)
        self._fail(f"the cluster was not ready after {timeout_s:.0f} s ({last[:200]})", diagnose() or self.log_tail(20))

    def _start_nodes(
        self, env: dict[str, str], cpus: int, resources: dict[str, float], progress: Callable[[str], None]
    ) -> str:
        """The head (models, controller, proxy) and the worker nodes; returns the head's address."""
        assert self.worker_nodes is not None
        self.nodes = RayNodes(env, PROJECT_ROOT, self.log_path.parent)
        head_resources = {k: v for k, v in resources.items() if k != "CPU"}
        try:
            self.nodes.start_head(cpus, head_resources)
            for spec in self.worker_nodes:
                self.nodes.start_worker(spec)
        except RuntimeError as exc:
            self._fail("the Ray nodes did not start", str(exc))
        names = ", ".join(s.name for s in self.worker_nodes) or "none"
        progress(f"Ray head at {self.nodes.address}; worker nodes: {names}")
        return self.nodes.address

    def _fail(self, what: str, detail: str) -> NoReturn:
        """Stop everything and raise with the cause: a few lines, and where the whole log is."""
        self.stop()
        raise ClusterStartError(f"{what}:\n{detail}\n(whole log: {self.log_path})")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def drain_line(self, timeout_s: float = 15.0) -> None:
        """``secretary line stop``: the call in progress ends in words and the line lets go of the
        modem, before Serve and Ray are taken down (best effort: a line that is not up is fine)."""
        address = self.nodes.address if self.nodes is not None else "auto"
        secretary = str(Path(sys.executable).with_name("secretary"))
        cmd = [secretary, "line", "stop", "--address", address, "--timeout", str(timeout_s)]
        try:
            subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, timeout=timeout_s + 30)
        except (OSError, subprocess.TimeoutExpired):
            pass

    def stop(self, timeout_s: float = 60.0) -> None:
        """Drain the line, SIGINT (Serve shuts down cleanly), then SIGKILL whatever of the group is
        left; then the Ray nodes and Redis."""
        if self.proc is not None and self.proc.poll() is None:
            self.drain_line()
        if self.proc is not None:
            pgid = self.proc.pid
            try:
                os.killpg(pgid, signal.SIGINT)
                self.proc.wait(timeout=timeout_s)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
            self.proc = None
        if self.nodes is not None:
            self.nodes.stop()
            self.nodes = None
        if self.redis is not None:
            self.redis.stop()
            self.redis = None

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
