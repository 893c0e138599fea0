"""The headless api factory: contexts from the kubeconfig, re-read when the file changes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from lhdesk.kube.gateway import LonghornGateway
from lhdesk.schedule.contexts import KubeconfigApiFactory
from lhdesk.schedule.engine import ContextUnavailable


def write_kubeconfig(path: Path, contexts: list[str], mtime: float) -> None:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:9"}}],
                "users": [{"name": "u", "user": {"token": "not-a-real-token"}}],
                "contexts": [{"name": n, "context": {"cluster": "c", "user": "u"}} for n in contexts],
            }
        )
    )
    os.utime(path, (mtime, mtime))


def test_gateways_are_cached_and_a_vanished_context_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "config"
    write_kubeconfig(path, ["prod", "lab"], 1_000_000)
    factory = KubeconfigApiFactory(path, env={})
    try:
        prod = factory("prod")
        assert isinstance(prod, LonghornGateway)
        assert factory("prod") is prod
        assert factory.contexts().names == ("prod", "lab")
        write_kubeconfig(path, ["lab"], 2_000_000)
        with pytest.raises(ContextUnavailable, match="'prod' is no longer in the kubeconfig"):
            factory("prod")
        assert factory("lab") is not None
    finally:
        factory.close()


def test_an_unreadable_kubeconfig_is_a_context_problem(tmp_path: Path) -> None:
    factory = KubeconfigApiFactory(tmp_path / "missing", env={})
    with pytest.raises(ContextUnavailable, match="kubeconfig cannot be read"):
        factory("prod")
    factory.close()
