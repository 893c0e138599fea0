"""How long does ``probe_all`` take for 20 contexts when a third of them are unreachable?

Starts the demo cluster and writes a kubeconfig with 20 contexts: 13 on the demo (admin and
read-only users in turn), 4 at black holes (sockets that take the TCP handshake into their backlog
and never answer, so those probes run into the timeout) and 3 at closed ports (refused at once).
Then runs ``probe_all`` a few times and prints the total against the goal: probe timeout + 1 s.

    python bench/probe_contexts.py [--timeout 3] [--workers 8] [--runs 3]

(The GUI-thread stall during the same probe is measured by bench/probe_gui_stall.py.)
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from lhdesk.demo.cluster import DemoCluster
from lhdesk.kube.kubeconfig import load_contexts
from lhdesk.kube.probe import probe_all

CONTEXTS = 20
BLACKHOLES = 4
CLOSED = 3


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def blackholes(count: int) -> Iterator[list[int]]:
    """Listening sockets that never accept: connections sit in the backlog, TLS never starts."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sock.listen(64)
            socks.append(sock)
        yield [int(s.getsockname()[1]) for s in socks]
    finally:
        for sock in socks:
            sock.close()


def write_kubeconfig(demo_kubeconfig: Path, holes: list[int], out: Path) -> None:
    base = yaml.safe_load(demo_kubeconfig.read_text())
    demo = base["clusters"][0]["cluster"]
    unreachable = [f"https://127.0.0.1:{p}" for p in holes] + [
        f"https://127.0.0.1:{closed_port()}" for _ in range(CLOSED)
    ]
    clusters: list[dict[str, Any]] = [{"name": "demo", "cluster": demo}]
    contexts: list[dict[str, Any]] = []
    # Spread the unreachable ones through the list, as in a real kubeconfig.
    slots = {i * CONTEXTS // len(unreachable) + 1 for i in range(len(unreachable))}
    pending = list(unreachable)
    for i in range(CONTEXTS):
        if i in slots and pending:
            name = f"down-{i:02d}"
            clusters.append(
                {
                    "name": name,
                    "cluster": {
                        "server": pending.pop(0),
                        "certificate-authority-data": demo["certificate-authority-data"],
                    },
                }
            )
            contexts.append({"name": f"ctx-{i:02d}", "context": {"cluster": name, "user": "demo-admin"}})
        else:
            user = "demo-admin" if i % 2 == 0 else "demo-readonly"
            contexts.append({"name": f"ctx-{i:02d}", "context": {"cluster": "demo", "user": user}})
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": clusters,
        "users": base["users"],
        "contexts": contexts,
        "current-context": "ctx-00",
    }
    out.write_text(yaml.safe_dump(doc))


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--timeout", type=float, default=3.0, help="probe timeout in seconds (default 3)")
    parser.add_argument("--workers", type=int, default=8, help="probe_all max_workers (default 8)")
    parser.add_argument("--runs", type=int, default=3, help="how many times to probe everything (default 3)")
    args = parser.parse_args()
    goal = args.timeout + 1.0
    with tempfile.TemporaryDirectory() as tmp, blackholes(BLACKHOLES) as holes:
        started = time.monotonic()
        demo = DemoCluster(Path(tmp) / "demo", seed="small")
        demo.start()
        print(f"demo cluster up in {time.monotonic() - started:.1f} s")
        try:
            config = Path(tmp) / "kubeconfig"
            write_kubeconfig(demo.kubeconfig_path, holes, config)
            kset = load_contexts(config)
            print(
                f"{len(kset.contexts)} contexts: {BLACKHOLES} black holes, {CLOSED} closed ports; "
                f"timeout {args.timeout:g} s, {args.workers} workers"
            )
            worst = 0.0
            for run in range(1, args.runs + 1):
                began = time.monotonic()
                results = probe_all(kset, timeout=args.timeout, max_workers=args.workers)
                total = time.monotonic() - began
                worst = max(worst, total)
                states = Counter(r.state.value for r in results)
                summary = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
                print(f"run {run}: total {total:.2f} s (goal < {goal:.2f} s)  [{summary}]")
        finally:
            demo.stop()
    verdict = "OK" if worst < goal else "OVER GOAL"
    print(f"worst total {worst:.2f} s vs goal {goal:.2f} s: {verdict}")
    return 0 if worst < goal else 1


if __name__ == "__main__":
    raise SystemExit(main())
