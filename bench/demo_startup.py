"""How fast the demo cluster starts, and how long listing 10,000 SystemBackups takes.

1. ``lhdesk demo-cluster --seed small`` as a user runs it: seconds from launching the process to the
   printed banner (the issue's target: under 3 s), then Ctrl+C.
2. With ``--large``: an in-process ``DemoCluster(seed="large")`` (10,000 SystemBackups and 100,000
   backupstore objects), the time its bulk seed took, and the time to list the 10,000 SystemBackups
   through the ``kubernetes`` client (one request, and pages of 500).

    python bench/demo_startup.py [--backend builtin|real] [--runs 3] [--large]
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def cli_startup(backend: str, workdir: Path) -> float:
    kubeconfig = workdir / "kubeconfig"
    began = time.monotonic()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lhdesk",
            "demo-cluster",
            "--kubeconfig",
            str(kubeconfig),
            "--backend",
            backend,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    elapsed = -1.0
    for line in proc.stdout:
        if "Ctrl+C" in line:
            elapsed = time.monotonic() - began
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if elapsed < 0:
        raise SystemExit(f"demo-cluster did not start:\n{err}")
    return elapsed


def large(backend: str, workdir: Path) -> None:
    from kubernetes import client

    from lhdesk.demo.cluster import DemoCluster

    began = time.monotonic()
    cluster = DemoCluster(workdir / "large", backend=backend, seed="large", speed=1.0)
    cluster.start()
    try:
        print(f"start with --seed large: {time.monotonic() - began:.1f} s")
        report = cluster.large_seed_report
        print(
            f"  bulk seed: {report.system_backups} SystemBackups through the API "
            f"in {report.api_seconds:.1f} s; "
            f"{report.s3_objects} S3 objects ({report.s3_method}) in {report.s3_seconds:.1f} s "
            f"(built in {report.timings['build']:.1f} s)"
        )
        api = cluster.api_client()
        custom = client.CustomObjectsApi(api)
        for _ in range(2):
            t = time.monotonic()
            items = custom.list_namespaced_custom_object(
                "longhorn.io", "v1beta2", "longhorn-system", "systembackups"
            )["items"]
            print(f"  list {len(items)} SystemBackups in one request: {time.monotonic() - t:.2f} s")
        t = time.monotonic()
        count, token = 0, None
        while True:
            kwargs = {"limit": 500, **({"_continue": token} if token else {})}
            page = custom.list_namespaced_custom_object(
                "longhorn.io", "v1beta2", "longhorn-system", "systembackups", **kwargs
            )
            count += len(page["items"])
            token = page["metadata"].get("continue")
            if not token:
                break
        print(f"  list {count} SystemBackups in pages of 500: {time.monotonic() - t:.2f} s")
        api.close()
    finally:
        cluster.stop()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("builtin", "real"), default="builtin")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--large", action="store_true", help="also measure --seed large")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lhdesk-bench-") as tmp:
        times = [cli_startup(args.backend, Path(tmp) / f"run{i}") for i in range(args.runs)]
        print(
            f"lhdesk demo-cluster ({args.backend}, --seed small) to banner: "
            + ", ".join(f"{t:.2f}" for t in times)
            + f" s (best {min(times):.2f} s; target < 3 s)"
        )
        if args.large:
            large(args.backend, Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
