"""Render docs/screenshots/schedules.png: the Schedules page over the demo cluster, with real history.

It starts a demo cluster (small seed), makes a few workstation schedules and runs them through the
scheduler engine (one of them fails, by the demo's fault knob), adds freshness rules, then opens
``lhdesk --screenshot`` on that data folder and kubeconfig in a child process and stops the cluster.

    python scripts/schedules_screenshot.py [OUTPUT.png]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lhdesk.demo.cluster import ADMIN_CONTEXT, DemoCluster
from lhdesk.schedule.contexts import KubeconfigApiFactory
from lhdesk.schedule.engine import Engine
from lhdesk.schedule.freshness import FreshnessRule
from lhdesk.schedule.model import Schedule
from lhdesk.schedule.store import Store

ROOT = Path(__file__).resolve().parents[1]


def prepare(demo: DemoCluster, data_dir: Path) -> None:
    factory = KubeconfigApiFactory(demo.kubeconfig_path)
    store = Store.in_dir(data_dir)
    try:
        now = datetime.now(UTC)
        nightly = store.add_schedule(
            Schedule(
                "nightly-k3x9qa", "Nightly system backup", ADMIN_CONTEXT, "0 2 * * *", 7, active_since=now
            ),
        )
        six = store.add_schedule(
            Schedule(
                "six-hourly-p2m7wd",
                "Every 6 hours, all volumes",
                ADMIN_CONTEXT,
                "0 */6 * * *",
                4,
                volume_backup_policy="always",
                active_since=now,
            )
        )
        store.add_schedule(
            Schedule(
                "before-upgrades-q8c1zt",
                "Weekly before maintenance",
                ADMIN_CONTEXT,
                "30 5 * * 1",
                3,
                volume_backup_policy="disabled",
                catch_up="skip",
                enabled=False,
                active_since=now,
            )
        )
        store.set_freshness_rule(FreshnessRule(ADMIN_CONTEXT, timedelta(hours=26)))
        engine = Engine(store, factory, observe_interval=None)
        engine.run_now(six.id)
        demo.faults.fail_system_backup_in = "Uploading"
        try:
            engine.run_now(nightly.id)
        finally:
            demo.faults.fail_system_backup_in = None
        engine.run_now(nightly.id)
        engine.observe()
    finally:
        store.close()
        factory.close()


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else ROOT / "docs" / "screenshots" / "schedules.png"
    with tempfile.TemporaryDirectory(prefix="lhdesk-shot-") as tmp:
        root = Path(tmp)
        with DemoCluster(root / "demo", seed="small", speed=10) as demo:
            demo.wait_seeded(120)
            prepare(demo, root / "data")
            env = dict(
                os.environ,
                QT_QPA_PLATFORM="offscreen",
                LHDESK_DATA_DIR=str(root / "data"),
                XDG_CONFIG_HOME=str(root / "config"),
            )
            command = [
                sys.executable,
                "-m",
                "lhdesk",
                "--kubeconfig",
                str(demo.kubeconfig_path),
                "--context",
                ADMIN_CONTEXT,
                "--screenshot",
                str(out),
                "--page",
                "schedules",
            ]
            result = subprocess.run(command, env=env, check=False, timeout=180)
    if result.returncode == 0:
        sys.stdout.write(f"wrote {out}\n")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
