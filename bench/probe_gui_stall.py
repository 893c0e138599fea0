"""How long does the GUI thread stall while lhdesk probes 20 contexts, a third unreachable?

Starts the demo cluster, writes a kubeconfig with 20 contexts (14 pointing at the demo, 3 at a
closed port and 3 at a socket that accepts nothing, so their probes run into the timeout), then
drives the real ClusterSession ("Check all") in a QApplication while a 5 ms heartbeat QTimer
records the largest gap between its ticks. Goals: longest stall < 50 ms; total < timeout + 1 s.

    python bench/probe_gui_stall.py [--timeout 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import yaml

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QElapsedTimer, QTimer
from PySide6.QtWidgets import QApplication

from lhdesk.demo.cluster import DemoCluster
from lhdesk.kube.kubeconfig import load_contexts
from lhdesk.kube.probe import probe
from lhdesk.ui.session import ClusterSession
from lhdesk.ui.tasks import TaskRunner


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def twenty_contexts(demo_kubeconfig: Path, blackhole: int, out: Path) -> None:
    base = yaml.safe_load(demo_kubeconfig.read_text())
    cluster = base["clusters"][0]["cluster"]
    user = next(u for u in base["users"] if u["name"] == "demo-admin")["user"]
    doc: dict[str, list[dict[str, object]]] = {
        "clusters": [],
        "users": [{"name": "u", "user": user}],
        "contexts": [],
    }
    for i in range(20):
        if i % 3 == 2:
            server = f"https://127.0.0.1:{closed_port() if i % 2 else blackhole}"
            entry = {"server": server, "certificate-authority-data": cluster["certificate-authority-data"]}
        else:
            entry = cluster
        doc["clusters"].append({"name": f"c{i}", "cluster": entry})
        doc["contexts"].append({"name": f"ctx{i:02d}", "context": {"cluster": f"c{i}", "user": "u"}})
    out.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "ctx00", **doc}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=3.0, help="probe timeout in seconds")
    args = parser.parse_args()
    app = QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp, socket.socket() as blackhole:
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(64)  # accepts the TCP handshake in the kernel, never answers TLS
        demo = DemoCluster(Path(tmp) / "demo", seed="small")
        demo.start()
        try:
            config = Path(tmp) / "kubeconfig"
            twenty_contexts(demo.kubeconfig_path, blackhole.getsockname()[1], config)
            tasks = TaskRunner(max_threads=24)
            session = ClusterSession(
                tasks, lambda: load_contexts(config), lambda k, n: probe(k, n, args.timeout)
            )
            app.processEvents()
            loaded = []
            session.contexts_changed.connect(lambda _: loaded.append(True))
            session.reload()
            while not loaded:
                app.processEvents()
            heartbeat = QElapsedTimer()
            worst = [0]

            def beat() -> None:
                worst[0] = max(worst[0], heartbeat.restart())

            timer = QTimer()
            timer.setInterval(5)
            timer.timeout.connect(beat)
            heartbeat.start()
            timer.start()
            started = time.monotonic()
            session.check_all()
            while any(s.checking for s in session.statuses()):
                app.processEvents()
            total = time.monotonic() - started
            timer.stop()
            states: dict[str, int] = {}
            for status in session.statuses():
                states[status.probe.state.value] = states.get(status.probe.state.value, 0) + 1
            tasks.shutdown()
        finally:
            demo.stop()
    print(f"contexts probed:        20 {states}")
    print(f"longest GUI stall:      {worst[0]} ms   (goal < 50 ms; heartbeat every 5 ms)")
    print(f"total probe time:       {total:.2f} s   (goal < timeout + 1 s = {args.timeout + 1:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
