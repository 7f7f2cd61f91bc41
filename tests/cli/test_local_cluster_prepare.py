"""What the local cluster prepares before ``serve run``: Redis for metering, or metering off without it."""

from __future__ import annotations

import cli.local_cluster as local_cluster
from cli.local_cluster import LocalCluster
from cli.local_redis import redis_answers
from tests.db_servers import free_port


def test_without_redis_server_installed_the_cluster_runs_with_metering_off(monkeypatch):
    monkeypatch.setattr(local_cluster.shutil, "which", lambda name: None)
    env = {"SECRETARY_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    said: list[str] = []
    cluster = LocalCluster()
    cluster._prepare(env, said.append)
    assert env["SECRETARY_METERING"] == "false" and cluster.redis is None
    assert "not installed" in said[0]


def test_a_local_url_with_nothing_there_gets_its_own_redis_server(tmp_path, monkeypatch):
    env = {"SECRETARY_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "SECRETARY_MODEM_TENANT": "t-1"}
    monkeypatch.setattr(local_cluster, "PROJECT_ROOT", tmp_path)
    cluster = LocalCluster()
    try:
        cluster._prepare(env, lambda _m: None)
        assert cluster.redis is not None and redis_answers("127.0.0.1", cluster.redis.port)
        assert (tmp_path / "var" / "redis").is_dir() and "SECRETARY_METERING" not in env
    finally:
        cluster.stop()
    assert cluster.redis is None


def test_a_dead_local_clusters_address_is_forgotten_and_a_live_ones_kept(tmp_path):
    """A killed head leaves /tmp/ray/ray_current_cluster behind; serve run would attach to it."""
    import socket

    from cli.local_nodes import clear_stale_cluster_file

    current = tmp_path / "ray_current_cluster"
    current.write_text(f"127.0.0.1:{free_port()}")
    assert clear_stale_cluster_file(current) and not current.exists()
    with socket.socket() as live:
        live.bind(("127.0.0.1", 0))
        live.listen()
        current.write_text(f"127.0.0.1:{live.getsockname()[1]}")
        assert not clear_stale_cluster_file(current) and current.exists()
    assert not clear_stale_cluster_file(tmp_path / "absent")
