"""How long a filter keystroke takes on the jobs table with 2,000 RecurringJobs.

Builds the real model, proxy and a visible, sorted QTableView (offscreen), then types a filter
one key at a time the way the filter box does and prints the time each keystroke's re-filter
took, plus the time to load the 2,000 jobs. The issue's target: under 50 ms per keystroke.

    python bench/jobs_filter.py [--jobs 2000] [--volumes 200]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from datetime import UTC, datetime
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QTableView

from lhdesk.core.recurringjob import TASKS
from lhdesk.ui.jobs.model import Column, JobsFilterProxy, JobsTableModel

CRONS = ("0 0 * * *", "*/15 * * * *", "30 2 * * 1-5", "@daily", "0 */6 * * *", "5 4 1 * *", "@every 2h")
GROUPS = ("default", "gold", "silver", "bronze", "databases", "web")


def job(index: int, rng: random.Random) -> dict[str, Any]:
    task = rng.choice(list(TASKS))
    info = TASKS[task]
    groups = rng.sample(GROUPS, rng.randint(0, 2)) if info.uses_groups else []
    parameters = (
        {"full-backup-interval": str(rng.randint(0, 7))} if "full-backup-interval" in info.parameters else {}
    )
    if task == "system-backup":
        parameters = {"volume-backup-policy": rng.choice(["if-not-present", "always", "disabled"])}
    return {
        "apiVersion": "longhorn.io/v1beta2",
        "kind": "RecurringJob",
        "metadata": {
            "name": f"job-{index:04d}-{task}",
            "namespace": "longhorn-system",
            "creationTimestamp": "2026-11-01T00:00:00Z",
            "resourceVersion": str(index + 1),
        },
        "spec": {
            "name": f"job-{index:04d}-{task}",
            "task": task,
            "cron": rng.choice(CRONS),
            "retain": 0 if info.retain_fixed == 0 else rng.randint(1, 30),
            "concurrency": rng.randint(1, 10),
            "groups": groups,
            "labels": {"team": rng.choice(["storage", "db", "web"])} if info.uses_labels else {},
            "parameters": parameters,
        },
        "status": {"executionCount": rng.randint(0, 5000)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--volumes", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(7)
    app = QApplication.instance() or QApplication([])
    model = JobsTableModel()
    proxy = JobsFilterProxy()
    proxy.setSourceModel(model)
    view = QTableView()
    view.setModel(proxy)
    view.setSortingEnabled(True)
    view.sortByColumn(Column.NEXT_RUN, Qt.SortOrder.AscendingOrder)
    view.resize(1400, 800)
    view.show()
    app.processEvents()

    volumes = {
        f"pvc-{i:04d}": (
            {f"recurring-job-group.longhorn.io/{rng.choice(GROUPS)}": "enabled"} if i % 3 else {}
        )
        for i in range(args.volumes)
    }
    items = [job(i, rng) for i in range(args.jobs)]
    started = time.perf_counter()
    model.set_volumes(volumes)
    model.apply_snapshot(items, datetime.now(UTC))
    app.processEvents()
    load_ms = (time.perf_counter() - started) * 1000
    print(f"loaded {model.rowCount()} jobs and {len(volumes)} volumes in {load_ms:.0f} ms")

    timings: list[float] = []
    for text in ("b", "ba", "bac", "back", "backu", "backup", "backup g", "backup go", "backup gol", ""):
        started = time.perf_counter()
        proxy.set_filter_text(text)
        app.processEvents()
        elapsed = (time.perf_counter() - started) * 1000
        timings.append(elapsed)
        print(f"filter {text!r:14} -> {proxy.rowCount():5d} rows in {elapsed:6.1f} ms")
    print(
        f"per keystroke: median {statistics.median(timings):.1f} ms, worst {max(timings):.1f} ms "
        f"(target < 50 ms with {args.jobs} jobs)"
    )
    view.close()


if __name__ == "__main__":
    main()
