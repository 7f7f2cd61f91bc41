"""Several Ray nodes on one machine: a head and workers, each its own ``ray start`` process group.

A real cluster has a model host and, elsewhere, the office machine the modem is plugged into. Here
each node is a separate ``ray start --block`` (its own raylet, object store and workers) with its
own CPUs, custom resources and labels, so placement works exactly as across machines: the modem
ingress actor asks for ``modem`` and lands on the node that advertises it; model replicas avoid
nodes labelled ``secretary.io/role=modem`` (cluster/profiles/cpu.yaml).

Every node runs in a new session, so one node can be killed like a machine losing power
(``kill``: SIGKILL to its whole group) and started again (``restart``) while the others run on.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

MODEM_ROLE = {"secretary.io/role": "modem"}


@dataclass(frozen=True)
class NodeSpec:
    """One worker node: its name (for logs and kill/restart), CPUs, custom resources and labels."""

    name: str
    num_cpus: float = 0
    resources: dict[str, float] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # this machine's own settings (its modems' ports)


def modem_node(
    name: str = "office", resources: dict[str, float] | None = None, lines: dict[str, dict[str, str]] | None = None
) -> NodeSpec:
    """The machine with the modem: no CPUs for replicas, the modem role, the ``modem`` resource
    (unless ``resources`` says otherwise) and one ``line_<IMEI>`` per registered modem it has
    (``lines``: {IMEI: {at, audio}}, what ``secretary node modems`` finds)."""
    from telephony.lines import line_resource

    res = dict(resources if resources is not None else {"modem": 1})
    res.update({line_resource(imei): 1 for imei in lines or {}})
    env = {"SECRETARY_MODEM_LINES": json.dumps(lines)} if lines else {}
    return NodeSpec(name, 0, res, dict(MODEM_ROLE), env)


CURRENT_CLUSTER = Path("/tmp/ray/ray_current_cluster")


def clear_stale_cluster_file(path: Path = CURRENT_CLUSTER) -> bool:
    """Forget a local Ray cluster that is gone. ``ray start --head`` records its address in
    ``path``, and a later ``ray.init()`` or ``serve run`` on this machine attaches to it instead
    of starting its own. A head that was killed leaves the file behind, and the next ``make demo``
    would wait for a dead GCS. Returns whether the file was removed."""
    try:
        host, _, port = path.read_text().strip().rpartition(":")
    except OSError:
        return False
    if host and port.isdigit() and port_open(int(port), host):
        return False
    path.unlink(missing_ok=True)
    return True


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


class RayNodes:
    def __init__(self, env: dict[str, str], cwd: Path, log_dir: Path, gcs_port: int = 26379) -> None:
        self.env = {k: v for k, v in env.items() if k != "RAY_OVERRIDE_RESOURCES"}  # nodes take flags
        self.cwd, self.log_dir, self.gcs_port = cwd, log_dir, gcs_port
        self.procs: dict[str, subprocess.Popen] = {}
        self.specs: dict[str, NodeSpec] = {}

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.gcs_port}"

    def _ray(self) -> str:
        return str(Path(sys.executable).with_name("ray"))

    def _log(self, name: str) -> Path:
        return self.log_dir / f"ray-node-{name}.log"

    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self._log(name).open("ab")
        self.procs[name] = subprocess.Popen(
            [self._ray(), "start", "--block", "--disable-usage-stats", *args],
            cwd=self.cwd,
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_head(self, num_cpus: float, resources: dict[str, float], timeout_s: float = 60.0) -> None:
        if port_open(self.gcs_port):
            raise RuntimeError(f"port {self.gcs_port} is taken: another Ray head runs here")
        self._spawn(
            "head",
            [
                "--head",
                f"--port={self.gcs_port}",
                f"--num-cpus={num_cpus:g}",
                f"--resources={json.dumps(resources)}",
                "--dashboard-host=127.0.0.1",
                "--dashboard-port=8265",
            ],
        )
        self._wait(lambda: port_open(self.gcs_port), "head", timeout_s)

    def start_worker(self, spec: NodeSpec, timeout_s: float = 90.0) -> None:
        """Start the node and wait until it has joined. One at a time: two raylets starting at once
        on one host can race for the same object-store socket, and one of them dies."""
        self.specs[spec.name] = spec
        args = [f"--address={self.address}", f"--num-cpus={spec.num_cpus:g}", f"--resources={json.dumps(spec.resources)}"]
        if spec.labels:
            args.append("--labels=" + ",".join(f"{k}={v}" for k, v in spec.labels.items()))
        log, offset = self._log(spec.name), self._log(spec.name).stat().st_size if self._log(spec.name).exists() else 0
        self._spawn(spec.name, args, spec.env)

        def started() -> bool:
            with log.open("rb") as f:
                f.seek(offset)
                return b"Ray runtime started" in f.read()

        self._wait(started, spec.name, timeout_s)

    def _wait(self, ready, name: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not ready():
            proc = self.procs[name]
            if proc.poll() is not None:
                raise RuntimeError(f"ray node {name!r} exited with {proc.returncode} (log: {self.log_dir})")
            if time.monotonic() > deadline:
                raise RuntimeError(f"ray node {name!r} was not up after {timeout_s:.0f} s")
            time.sleep(0.5)

    def alive_nodes(self) -> int:
        """Nodes the head counts as alive (from ``ray list nodes``' source, the state API)."""
        from ray.util.state import list_nodes

        return sum(1 for n in list_nodes(address="http://127.0.0.1:8265") if n.state == "ALIVE")

    def processes(self, name: str) -> list:
        """The node's processes: its ``ray start``, raylet, agents and every worker they spawned.

        Workers are the raylet's children but not all of its process group, so the group alone
        is not the node: a worker outlives a group kill by the moment it takes to notice."""
        import psutil

        try:
            root = psutil.Process(self.procs[name].pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _signal(self, name: str, sig: int) -> None:
        import psutil

        for p in self.processes(name):
            try:
                p.send_signal(sig)
            except psutil.NoSuchProcess:
                pass
        try:
            os.killpg(self.procs[name].pid, sig)
        except ProcessLookupError:
            pass

    def kill(self, name: str) -> None:
        """The machine loses power: every process of the node dies at once, nothing is told."""
        self._signal(name, signal.SIGKILL)
        self.procs[name].wait()

    def restart(self, name: str) -> None:
        self.start_worker(self.specs[name])

    def stop(self, timeout_s: float = 30.0) -> None:
        """Workers first, then the head: SIGTERM to each group, SIGKILL to what is left."""
        order = [n for n in self.procs if n != "head"] + (["head"] if "head" in self.procs else [])
        for name in order:
            proc = self.procs[name]
            left = self.processes(name)
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=timeout_s)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
            for p in left:  # workers that left the group
                with contextlib.suppress(Exception):
                    p.kill()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        self.procs.clear()
        clear_stale_cluster_file()
