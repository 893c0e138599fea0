"""Fault knobs: latency, injected errors, dropped watches; and a clean stop with watches open."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import urllib3
from kubernetes import client, watch

pytestmark = pytest.mark.integration

GROUP, VERSION, NS = "longhorn.io", "v1beta2", "longhorn-system"
PREFIX = f"/apis/{GROUP}/{VERSION}/namespaces/{NS}/systembackups"


@pytest.fixture(autouse=True)
def _clean_faults(demo: Any) -> Any:
    yield
    demo.server.faults.clear()


def test_added_latency(demo: Any) -> None:
    demo.server.faults.set_latency(0.3, prefix=PREFIX)
    started = time.monotonic()
    demo.custom.list_namespaced_custom_object(GROUP, VERSION, NS, "systembackups")
    slow = time.monotonic() - started
    assert slow >= 0.3
    started = time.monotonic()
    demo.core.list_namespace()
    assert demo.server.faults.delay_for("/api/v1/namespaces") == 0.0
    demo.server.faults.latency = 0.1
    assert demo.server.faults.delay_for(PREFIX) == pytest.approx(0.4)


def test_error_status_per_prefix(demo: Any) -> None:
    demo.server.faults.set_error(PREFIX, 503)
    with pytest.raises(client.ApiException) as exc:
        demo.custom.list_namespaced_custom_object(GROUP, VERSION, NS, "systembackups")
    assert exc.value.status == 503
    body = json.loads(exc.value.body)
    assert body["reason"] == "ServiceUnavailable"
    demo.custom.list_namespaced_custom_object(GROUP, VERSION, NS, "recurringjobs")
    demo.server.faults.set_error(PREFIX, 500, methods=["POST"], message="disk on fire")
    demo.custom.list_namespaced_custom_object(GROUP, VERSION, NS, "systembackups")
    with pytest.raises(client.ApiException) as exc:
        demo.custom.create_namespaced_custom_object(
            GROUP,
            VERSION,
            NS,
            "systembackups",
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "SystemBackup",
                "metadata": {"name": "x"},
                "spec": {},
            },
        )
    assert exc.value.status == 500
    assert json.loads(exc.value.body)["message"] == "disk on fire"
    demo.server.faults.clear_error(PREFIX)
    demo.custom.list_namespaced_custom_object(GROUP, VERSION, NS, "systembackups")


def test_error_rate_is_seeded(demo: Any) -> None:
    faults = demo.server.faults

    def outcomes() -> list[int]:
        faults.seed(42)
        faults.set_error(PREFIX, 500, rate=0.5)
        got = []
        for _ in range(20):
            try:
                demo.custom.list_namespaced_custom_object(GROUP, VERSION, NS, "systembackups")
                got.append(200)
            except client.ApiException as exc:
                got.append(exc.status)
        return got

    first = outcomes()
    assert set(first) == {200, 500}
    assert outcomes() == first


def test_drop_watches_cuts_open_streams(demo: Any) -> None:
    errors: list[BaseException] = []
    started = threading.Event()

    def run() -> None:
        w = watch.Watch()
        try:
            for _ev in w.stream(
                demo.custom.list_namespaced_custom_object,
                GROUP,
                VERSION,
                NS,
                "systembackups",
                timeout_seconds=30,
                _request_timeout=30,
            ):
                started.set()
        except (urllib3.exceptions.HTTPError, client.ApiException) as exc:
            errors.append(exc)

    demo.custom.create_namespaced_custom_object(
        GROUP,
        VERSION,
        NS,
        "systembackups",
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "SystemBackup",
            "metadata": {"name": "seen"},
            "spec": {},
        },
    )
    t = threading.Thread(target=run)
    t.start()
    assert started.wait(10)
    dropped = 0
    deadline = time.monotonic() + 5
    while not dropped and time.monotonic() < deadline:
        dropped = demo.server.faults.drop_watches()
    t.join(10)
    assert not t.is_alive()
    assert dropped >= 1
    assert errors, "a dropped watch ends with a connection error, not a clean end"


def test_stop_ends_open_watches(make_demo: Any) -> None:
    d = make_demo()
    ended = threading.Event()

    def run() -> None:
        w = watch.Watch()
        try:
            for _ev in w.stream(d.core.list_namespace, timeout_seconds=60, _request_timeout=60):
                pass
        except urllib3.exceptions.HTTPError:
            pass
        ended.set()

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.3)
    started = time.monotonic()
    d.server.stop()
    assert time.monotonic() - started < 5
    t.join(10)
    assert ended.is_set()
