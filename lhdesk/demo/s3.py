"""A real S3 endpoint on loopback for the demo cluster (moto's threaded server), and boto3 clients.

moto keeps its buckets in process-global state: two ``S3Server`` instances in one process serve the
same buckets. Give every cluster or test its own bucket.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from lhdesk.demo.lifecycle import Service

log = logging.getLogger(__name__)

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCESS_KEY = "demo-access-key"
DEFAULT_SECRET_KEY = "demo-secret-key"


@dataclass(frozen=True)
class S3Config:
    """Where a backup target lives and how to reach it."""

    endpoint_url: str
    bucket: str
    region: str = DEFAULT_REGION
    access_key: str = DEFAULT_ACCESS_KEY
    secret_key: str = DEFAULT_SECRET_KEY

    def __repr__(self) -> str:
        # Never print the keys.
        return f"S3Config(endpoint_url={self.endpoint_url!r}, bucket={self.bucket!r}, region={self.region!r})"

    @property
    def backup_target_url(self) -> str:
        """The BackupTarget URL Longhorn uses for this bucket: ``s3://<bucket>@<region>/``."""
        return f"s3://{self.bucket}@{self.region}/"

    def credential_secret_data(self) -> dict[str, str]:
        """The credential Secret's keys, as Longhorn reads them (plain strings, not base64)."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_ENDPOINTS": self.endpoint_url,
        }


def client(cfg: S3Config, *, connect_timeout: float = 5.0, read_timeout: float = 30.0) -> Any:
    """A boto3 S3 client for ``cfg``: path-style addressing (as Longhorn with AWS_ENDPOINTS), SigV4.

    Each call uses its own boto3 Session: the default session is not safe to share between threads.
    """
    return boto3.session.Session().client(
        "s3",
        endpoint_url=cfg.endpoint_url,
        region_name=cfg.region,
        aws_access_key_id=cfg.access_key,
        aws_secret_access_key=cfg.secret_key,
        config=Config(
            s3={"addressing_style": "path"},
            signature_version="s3v4",
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"max_attempts": 2, "mode": "standard"},
        ),
    )


def ensure_bucket(cfg: S3Config) -> None:
    """Create ``cfg.bucket`` unless it exists."""
    s3 = client(cfg)
    try:
        s3.head_bucket(Bucket=cfg.bucket)
        return
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
    if cfg.region == DEFAULT_REGION:
        s3.create_bucket(Bucket=cfg.bucket)
    else:
        s3.create_bucket(Bucket=cfg.bucket, CreateBucketConfiguration={"LocationConstraint": cfg.region})
    log.info("created bucket %s at %s", cfg.bucket, cfg.endpoint_url)


class S3Server(Service):
    """moto's ``ThreadedMotoServer`` on ``host``:``port`` (0 = a free port picked at start)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._server: Any = None
        self._endpoint_url = ""

    @property
    def endpoint_url(self) -> str:
        if not self._endpoint_url:
            raise RuntimeError("S3Server is not running")
        return self._endpoint_url

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        if self._server is not None:
            return
        # Imported here: moto is a demo-only dependency and takes a moment to load.
        from moto.server import ThreadedMotoServer

        # werkzeug logs every request at INFO; the demo's log is for the simulator.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        server = ThreadedMotoServer(ip_address=self._host, port=self._port, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        self._server = server
        self._endpoint_url = f"http://{host}:{port}"
        log.info("S3 (moto) listening on %s", self._endpoint_url)

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.stop()
        log.info("S3 (moto) on %s stopped", self._endpoint_url)
        self._endpoint_url = ""
