"""How fast the built-in API server starts, and how long listing 10,000 objects takes.

Run: ``python bench/apiserver_startup.py [--objects N]``. Prints one line per measurement.
The objects are SystemBackups (Longhorn's CRD), seeded in-process so only the list is timed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import kubernetes
import yaml
from kubernetes import client

from lhdesk.demo.apiserver import ApiServer
from lhdesk.demo.apiserver.cluster import WriteOptions
from lhdesk.demo.apiserver.rbac import MASTERS, User

SHARED = Path(__file__).resolve().parents[1] / "lhdesk" / "demo" / "longhorn" / "crds"
NS = "longhorn-system"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    starts = []
    for _ in range(5):
        t0 = time.perf_counter()
        server = ApiServer().start()
        starts.append(time.perf_counter() - t0)
        server.stop()
    print(
        f"startup (start() until listening): median {statistics.median(starts) * 1000:.1f} ms, "
        f"max {max(starts) * 1000:.1f} ms over {len(starts)} starts"
    )

    server = ApiServer().start()
    try:
        cluster = server.cluster
        assert cluster is not None
        admin = User("bench", (MASTERS,))
        ns_type = cluster.registry.get("", "v1", "namespaces")
        crd_type = cluster.registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        assert ns_type is not None
        assert crd_type is not None
        cluster.create(ns_type, "", {"metadata": {"name": NS}}, admin, WriteOptions())
        cluster.create(
            crd_type, "", yaml.safe_load((SHARED / "systembackups.yaml").read_text()), admin, WriteOptions()
        )
        sb_type = cluster.registry.get("longhorn.io", "v1beta2", "systembackups")
        assert sb_type is not None
        t0 = time.perf_counter()
        for i in range(args.objects):
            cluster.create(
                sb_type,
                NS,
                {
                    "apiVersion": "longhorn.io/v1beta2",
                    "kind": "SystemBackup",
                    "metadata": {
                        "name": f"bench-{i:05d}",
                        "labels": {"recurring-job.longhorn.io/system-backup": "b"},
                    },
                    "spec": {"volumeBackupPolicy": "if-not-present"},
                },
                admin,
                WriteOptions(),
            )
        print(f"seeded {args.objects} SystemBackups in-process in {time.perf_counter() - t0:.2f} s")

        with tempfile.TemporaryDirectory() as tmp:
            kubeconfig = server.write_kubeconfig(Path(tmp) / "kubeconfig")
            api = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
            try:
                custom = client.CustomObjectsApi(api)
                custom.list_namespaced_custom_object("longhorn.io", "v1beta2", NS, "systembackups", limit=1)
                times = []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    got = custom.list_namespaced_custom_object("longhorn.io", "v1beta2", NS, "systembackups")
                    times.append(time.perf_counter() - t0)
                    assert len(got["items"]) == args.objects
                print(
                    f"list {args.objects} SystemBackups via kubernetes client (CustomObjectsApi): "
                    f"median {statistics.median(times):.3f} s, min {min(times):.3f} s"
                )
                times = []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    resp = custom.list_namespaced_custom_object_with_http_info(
                        "longhorn.io", "v1beta2", NS, "systembackups", _preload_content=False
                    )
                    raw = resp[0].data if isinstance(resp, tuple) else resp.data
                    times.append(time.perf_counter() - t0)
                print(
                    f"list {args.objects} SystemBackups, HTTP only (no JSON decoding, "
                    f"{len(raw) / 1e6:.1f} MB): median {statistics.median(times):.3f} s"
                )
                times = []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    items = []
                    cont = None
                    while True:
                        page = custom.list_namespaced_custom_object(
                            "longhorn.io", "v1beta2", NS, "systembackups", limit=500, _continue=cont
                        )
                        items.extend(page["items"])
                        cont = page["metadata"].get("continue")
                        if not cont:
                            break
                    times.append(time.perf_counter() - t0)
                    assert len(items) == args.objects
                print(
                    f"list {args.objects} SystemBackups in pages of 500: "
                    f"median {statistics.median(times):.3f} s"
                )
            finally:
                api.close()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
