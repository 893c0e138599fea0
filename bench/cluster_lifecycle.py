"""What a demo cluster costs a test run: seconds to start, to finish the seed, and to stop, per backend.

Cluster starts and stops dominate the integration suite's time (tests/conftest.py shares clusters
through ``demo_cluster_factory`` for that reason). This prints, for each backend and seed, the
median of ``--runs`` runs of:

- ``start``: ``DemoCluster.start()`` (API server, S3, webhook, install, controllers, static seed);
- ``seeded``: until ``wait_seeded()`` returns (the seed's history: system backups, a restore);
- ``stop``: ``DemoCluster.stop()``, which joins every thread; it waits for the simulator's open
  watches, so it shows how long a quiet watch holds a stop up on each server.

    python bench/cluster_lifecycle.py [--backend builtin|real|both] [--seed none|small] [--runs 3]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lhdesk.demo.cluster import DemoCluster
from lhdesk.demo.realapi import is_built


def one_run(backend: str, seed: str, workdir: Path) -> tuple[float, float, float]:
    cluster = DemoCluster(workdir, backend=backend, seed=seed, speed=10.0)  # type: ignore[arg-type]
    began = time.monotonic()
    cluster.start()
    started = time.monotonic() - began
    try:
        if not cluster.wait_seeded(300):
            raise RuntimeError("the seed did not finish within 300 s")
        seeded = time.monotonic() - began
    finally:
        stopping = time.monotonic()
        cluster.stop()
        stopped = time.monotonic() - stopping
    return started, seeded, stopped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--backend", choices=("builtin", "real", "both"), default="both")
    parser.add_argument("--seed", choices=("none", "small"), default="none")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    backends = ("builtin", "real") if args.backend == "both" else (args.backend,)
    out = sys.stdout
    out.write(
        f"{'backend':8} {'seed':6} {'start s':>8} {'seeded s':>9} {'stop s':>7}   (median of {args.runs})\n"
    )
    for backend in backends:
        if backend == "real" and not is_built():
            out.write(f"{backend:8} skipped: not built (scripts/kube-apiserver build)\n")
            continue
        runs = []
        for index in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="lhdesk-bench-") as tmp:
                runs.append(one_run(backend, args.seed, Path(tmp) / f"run{index}"))
        start, seeded, stop = (statistics.median(column) for column in zip(*runs, strict=True))
        out.write(f"{backend:8} {args.seed:6} {start:8.2f} {seeded:9.2f} {stop:7.2f}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
