"""The simulator survives what real API servers do: dropped watches, 410 Gone, transient errors."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.integration

# A short watch history, so that a resumed watch soon gets 410 Gone and the informers must relist.
CTRL_BUILTIN_API_KWARGS = {"watch_history": 20}
Longhorn = Any


def _ready(lh: Longhorn, name: str, policy: str = "disabled") -> None:
    lh.create("systembackups", {"metadata": {"name": name}, "spec": {"volumeBackupPolicy": policy}})
    sb = lh.wait_state("systembackups", name, "Ready", "Error", timeout=30)
    assert sb["status"]["state"] == "Ready", sb["status"]


def test_dropped_watches_and_410_are_survived(lh: Longhorn) -> None:
    api = lh.stack.api
    _ready(lh, "before")
    assert api.faults.drop_watches() > 0
    # Many writes while the informers reconnect: their resourceVersion falls out of the history.
    for index in range(30):
        lh.create("settings", {"metadata": {"name": f"filler-{index}"}, "value": str(index)})
    api.faults.drop_watches()
    _ready(lh, "after")
    api.faults.drop_watches()
    lh.add_volume("vol-late")
    _ready(lh, "after-volume", policy="always")
    assert [b["metadata"]["labels"]["backup-volume"] for b in lh.items("backups")] == ["vol-late"]


def test_transient_api_errors_are_retried(lh: Longhorn) -> None:
    api = lh.stack.api
    prefix = f"/apis/longhorn.io/v1beta2/namespaces/{lh.namespace}/systembackups/flaky"
    api.faults.set_error(prefix, 500, rate=0.5, methods=["PUT"], message="etcdserver: request timed out")
    try:
        _ready(lh, "flaky")
    finally:
        api.faults.clear_error(prefix)
