"""`lhdesk demo-cluster`: run the demo cluster in the foreground until SIGINT/SIGTERM.

It writes a kubeconfig with the contexts ``demo-admin`` and ``demo-readonly`` and prints where the API
server, the S3 endpoint and the kubeconfig are. With ``--attach`` it runs the simulated Longhorn against
an existing cluster instead (no API server of its own) and refuses a cluster that runs a real Longhorn.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType

from lhdesk.core.versions import LonghornVersion

log = logging.getLogger(__name__)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def _version(text: str) -> str:
    try:
        return str(LonghornVersion.parse(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be between 0 and 65535")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo-cluster",
        help="run a simulated Longhorn cluster on 127.0.0.1 (for kubectl, tests and screenshots)",
        description=(
            "Run the demo cluster in the foreground until Ctrl+C: a Kubernetes API server over HTTPS, "
            "Longhorn's admission webhooks and controllers (simulated), and an S3 backup target, all on "
            "127.0.0.1. It writes a kubeconfig with the contexts demo-admin and demo-readonly."
        ),
    )
    parser.add_argument(
        "--kubeconfig",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="where to write the demo's kubeconfig (required unless --attach)",
    )
    parser.add_argument(
        "--port", type=_port, default=0, metavar="N", help="API server port (default: a free one)"
    )
    parser.add_argument(
        "--longhorn-version",
        type=_version,
        default="v1.12.1",
        metavar="V",
        help="Longhorn version to simulate (default v1.12.1; before v1.9.0 there is no system-backup job)",
    )
    parser.add_argument(
        "--seed",
        choices=("none", "small", "large"),
        default="small",
        help="what the cluster holds: nothing, a believable cluster (default), or that plus 10,000 backups",
    )
    parser.add_argument(
        "--speed",
        type=_positive_float,
        default=1.0,
        metavar="X",
        help="run Longhorn's timings X times faster",
    )
    parser.add_argument(
        "--backend",
        choices=("builtin", "real"),
        default="builtin",
        help="built-in API server (default) or a real kube-apiserver (scripts/kube-apiserver build)",
    )
    parser.add_argument(
        "--s3-endpoint", metavar="URL", help="use this S3 endpoint instead of a local moto server"
    )
    parser.add_argument("--s3-access-key", metavar="K", help="access key for --s3-endpoint")
    parser.add_argument("--s3-secret-key", metavar="S", help="secret key for --s3-endpoint")
    parser.add_argument(
        "--s3-bucket", metavar="NAME", help="bucket of the backup target (default: a new one)"
    )
    parser.add_argument(
        "--attach",
        metavar="KUBECONFIG",
        help="run the simulated Longhorn against this existing cluster (no API server of its own)",
    )
    parser.add_argument(
        "--attach-context", metavar="NAME", help="context of --attach (default: its current one)"
    )
    parser.add_argument(
        "--workdir",
        metavar="DIR",
        help="directory for the servers' files (default: a temporary one, removed at exit)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lhdesk.demo.cluster import DemoCluster, DemoClusterError
    from lhdesk.demo.longhorn.install import InstallError

    kubeconfig = getattr(args, "kubeconfig", None)
    if args.attach is None and not kubeconfig:
        sys.stderr.write(
            "lhdesk demo-cluster: --kubeconfig PATH is required (where to write the kubeconfig)\n"
        )
        return 2
    if args.s3_endpoint and not (args.s3_access_key and args.s3_secret_key):
        sys.stderr.write("lhdesk demo-cluster: --s3-endpoint needs --s3-access-key and --s3-secret-key\n")
        return 2
    if args.attach and (args.port or args.backend != "builtin"):
        sys.stderr.write("lhdesk demo-cluster: --attach runs no API server: drop --port and --backend\n")
        return 2
    credentials = (args.s3_access_key, args.s3_secret_key) if args.s3_endpoint else None
    own_workdir = args.workdir is None
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="lhdesk-demo-"))

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if args.attach:
            cluster = DemoCluster.attach(
                Path(args.attach),
                args.attach_context,
                workdir=workdir,
                longhorn_version=args.longhorn_version,
                seed=args.seed,
                speed=args.speed,
                s3_endpoint=args.s3_endpoint,
                s3_credentials=credentials,
                bucket=args.s3_bucket,
            )
        else:
            cluster = DemoCluster(
                workdir,
                backend=args.backend,
                longhorn_version=args.longhorn_version,
                seed=args.seed,
                speed=args.speed,
                port=args.port,
                s3_endpoint=args.s3_endpoint,
                s3_credentials=credentials,
                bucket=args.s3_bucket,
                kubeconfig=Path(kubeconfig) if kubeconfig else None,
            )
        try:
            cluster.start()
        except (DemoClusterError, InstallError) as exc:
            sys.stderr.write(f"lhdesk demo-cluster: {exc}\n")
            return 1
        except Exception as exc:  # what failed is told; the traceback goes to the debug log (-v)
            log.debug("demo cluster start failed", exc_info=True)
            sys.stderr.write(f"lhdesk demo-cluster: could not start: {exc}\n")
            return 1
        try:
            _print_banner(cluster, args)
            stop.wait()
            sys.stdout.write("Stopping the demo cluster…\n")
            sys.stdout.flush()
        finally:
            cluster.stop()
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if own_workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def _print_banner(cluster: object, args: argparse.Namespace) -> None:
    from lhdesk.demo.cluster import DemoCluster

    assert isinstance(cluster, DemoCluster)
    where = f"attached to {cluster.kubeconfig_path}" if cluster.attached else f"{cluster.backend} API server"
    lines = [
        f"Demo cluster up in {cluster.timings.total:.1f} s ({where}, Longhorn {cluster.longhorn_version}, "
        f"seed {cluster.seed}, speed {cluster.speed:g})",
        f"  API server:  {cluster.api_url}",
        f"  S3 endpoint: {cluster.s3_endpoint}  (bucket {cluster.bucket})",
        f"  kubeconfig:  {cluster.kubeconfig_path}"
        + ("" if cluster.attached else "  (contexts demo-admin, demo-readonly)"),
        f"  try:         kubectl --kubeconfig {cluster.kubeconfig_path} -n longhorn-system get lhsb,lhrj",
        "Press Ctrl+C to stop.",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
