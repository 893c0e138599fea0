"""A kubeconfig that looks like an admin's fleet: the demo's contexts plus clusters in trouble.

Next to ``demo-admin`` and ``demo-readonly`` it names one context per failure a user meets in real
life: a closed port, a server whose CA is not the one trusted, an expired token, a context whose
user is missing, and a cloud login plugin that is not installed. The Clusters page, its tests and
the README's screenshot use it.
"""

from __future__ import annotations

import base64
import socket
from pathlib import Path
from typing import Any

import yaml

from lhdesk.demo.pki import CertificateAuthority

#: The login plugin command that is never installed anywhere.
MISSING_PLUGIN = "lhdesk-demo-no-such-login-plugin"
#: The token the demo never issued.
STALE_TOKEN = "lhdesk-demo-token-expired-long-ago"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_fleet_kubeconfig(demo_kubeconfig: Path, out: Path) -> Path:
    """Write the fleet kubeconfig to ``out`` (mode 0600) and return it."""
    doc: dict[str, Any] = yaml.safe_load(demo_kubeconfig.read_text(encoding="utf-8"))
    demo = doc["clusters"][0]
    admin = next(u for u in doc["users"] if u["name"] == "demo-admin")["name"]
    other_ca = base64.b64encode(CertificateAuthority.generate("someone-else").cert_pem).decode()
    doc["clusters"] += [
        {"name": "closed", "cluster": {"server": f"https://127.0.0.1:{_closed_port()}"}},
        {
            "name": "other-ca",
            "cluster": {"server": demo["cluster"]["server"], "certificate-authority-data": other_ca},
        },
    ]
    doc["users"] += [
        {"name": "stale", "user": {"token": STALE_TOKEN}},
        {
            "name": "cloud",
            "user": {
                "exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": MISSING_PLUGIN}
            },
        },
    ]
    doc["contexts"] += [
        {"name": "closed-port", "context": {"cluster": "closed", "user": admin}},
        {"name": "wrong-ca", "context": {"cluster": "other-ca", "user": admin}},
        {"name": "wrong-token", "context": {"cluster": demo["name"], "user": "stale"}},
        {"name": "missing-user", "context": {"cluster": demo["name"], "user": "nobody"}},
        {"name": "missing-plugin", "context": {"cluster": demo["name"], "user": "cloud"}},
    ]
    out.write_text(yaml.safe_dump(doc), encoding="utf-8")
    out.chmod(0o600)
    return out
