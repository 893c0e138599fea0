"""The demo's S3 endpoint: moto over real HTTP on loopback, reached with boto3."""

from __future__ import annotations

import socket
import uuid
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from lhdesk.demo.s3 import S3Config, S3Server, client, ensure_bucket

pytestmark = pytest.mark.integration


def test_server_listens_on_loopback_on_a_free_port_and_stops() -> None:
    server = S3Server()
    server.start()
    try:
        parts = urlsplit(server.endpoint_url)
        assert parts.hostname == "127.0.0.1"
        assert parts.port
        cfg = S3Config(endpoint_url=server.endpoint_url, bucket=f"t-{uuid.uuid4().hex[:12]}")
        ensure_bucket(cfg)
        ensure_bucket(cfg)  # idempotent
        s3 = client(cfg)
        s3.put_object(Bucket=cfg.bucket, Key="backupstore/x", Body=b"hello")
        assert s3.get_object(Bucket=cfg.bucket, Key="backupstore/x")["Body"].read() == b"hello"
        port = parts.port
    finally:
        server.stop()
    assert not server.running
    with pytest.raises(RuntimeError):
        _ = server.endpoint_url
    with socket.socket() as sock:
        sock.settimeout(1)
        with pytest.raises(ConnectionRefusedError):
            sock.connect(("127.0.0.1", port))


def test_config_gives_longhorns_target_url_and_secret_keys() -> None:
    cfg = S3Config(endpoint_url="http://127.0.0.1:1", bucket="backups", access_key="ak", secret_key="sk")
    assert cfg.backup_target_url == "s3://backups@us-east-1/"
    assert cfg.credential_secret_data() == {
        "AWS_ACCESS_KEY_ID": "ak",
        "AWS_SECRET_ACCESS_KEY": "sk",
        "AWS_ENDPOINTS": "http://127.0.0.1:1",
    }
    assert "sk" not in repr(cfg)


def test_missing_bucket_is_a_client_error() -> None:
    with S3Server() as server:
        cfg = S3Config(endpoint_url=server.endpoint_url, bucket=f"absent-{uuid.uuid4().hex[:12]}")
        with pytest.raises(ClientError):
            client(cfg).head_bucket(Bucket=cfg.bucket)
