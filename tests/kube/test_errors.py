"""Every failure becomes a GatewayError that says what happened and what to do, and never a secret."""

from __future__ import annotations

import base64
import contextlib
import datetime
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from lhdesk.kube.errors import (
    AlreadyExists,
    BadRequest,
    Conflict,
    Expired,
    Forbidden,
    GatewayError,
    Invalid,
    KubeconfigError,
    NotFound,
    ServerError,
    TlsError,
    Unauthorized,
    Unreachable,
    redact,
    register_secret,
    translate,
)
from lhdesk.kube.kubeconfig import api_client_for, load_contexts

TOKEN = "tok-0123456789abcdefghijklmnop"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJlLXBhcnQ"


def api_error(status: int, reason: str, body: dict[str, Any] | str | None) -> ApiException:
    exc = ApiException(status=status, reason=reason)
    exc.body = json.dumps(body) if isinstance(body, dict) else body
    return exc


def status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": "Status",
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message,
    }
    if details:
        out["details"] = details
    return out


# --- HTTP statuses -------------------------------------------------------------------------------


def test_401_is_unauthorized_and_says_to_log_in_again() -> None:
    err = translate(api_error(401, "Unauthorized", status(401, "Unauthorized", "Unauthorized")))
    assert isinstance(err, Unauthorized)
    assert err.status == 401
    assert err.reason == "Unauthorized"
    assert "Log in again" in str(err)


def test_403_names_user_verb_and_resource() -> None:
    message = (
        'systembackups.longhorn.io is forbidden: User "demo-readonly" cannot create resource "systembackups" '
        'in API group "longhorn.io" in the namespace "longhorn-system"'
    )
    err = translate(api_error(403, "Forbidden", status(403, "Forbidden", message, {"kind": "systembackups"})))
    assert isinstance(err, Forbidden)
    assert (err.user, err.verb, err.resource, err.group) == (
        "demo-readonly",
        "create",
        "systembackups",
        "longhorn.io",
    )
    assert str(err).startswith("Not allowed: demo-readonly cannot create systembackups.longhorn.io")
    assert "longhorn-system" in str(err)
    assert err.server_message == message


def test_404_of_an_object_and_of_a_resource_type() -> None:
    obj = translate(
        api_error(
            404,
            "Not Found",
            status(
                404,
                "NotFound",
                'systembackups.longhorn.io "sb-1" not found',
                {"name": "sb-1", "kind": "systembackups"},
            ),
        )
    )
    assert isinstance(obj, NotFound)
    assert (obj.kind, obj.name, obj.resource_missing) == ("systembackups", "sb-1", False)
    assert "'sb-1' was not found" in str(obj)
    crd = translate(
        api_error(
            404, "Not Found", status(404, "NotFound", "the server could not find the requested resource")
        )
    )
    assert isinstance(crd, NotFound)
    assert crd.resource_missing
    assert "Longhorn" in str(crd)


def test_409_already_exists_and_stale_update_are_different() -> None:
    exists = translate(
        api_error(
            409,
            "Conflict",
            status(
                409,
                "AlreadyExists",
                'systembackups.longhorn.io "a" already exists',
                {"name": "a", "kind": "systembackups"},
            ),
        )
    )
    assert isinstance(exists, AlreadyExists)
    assert not isinstance(exists, Conflict)
    assert exists.name == "a"
    stale = translate(
        api_error(
            409,
            "Conflict",
            status(
                409,
                "Conflict",
                'Operation cannot be fulfilled on recurringjobs.longhorn.io "j": '
                "the object has been modified",
                {"name": "j", "kind": "recurringjobs"},
            ),
        )
    )
    assert isinstance(stale, Conflict)
    assert "Reload it" in str(stale)


def test_410_is_expired() -> None:
    err = translate(api_error(410, "Gone", status(410, "Expired", "too old resource version: 1 (5)")))
    assert isinstance(err, Expired)
    assert err.status == 410


def test_422_carries_field_causes() -> None:
    body = status(
        422,
        "Invalid",
        'RecurringJob.longhorn.io "j" is invalid: spec.task: Unsupported value: "nope"',
        {
            "name": "j",
            "kind": "RecurringJob",
            "causes": [
                {
                    "reason": "FieldValueNotSupported",
                    "field": "spec.task",
                    "message": 'Unsupported value: "nope"',
                },
                {"reason": "FieldValueInvalid", "field": "spec.retain", "message": "must be at least 1"},
            ],
        },
    )
    err = translate(api_error(422, "Unprocessable Entity", body))
    assert isinstance(err, Invalid)
    assert err.causes == (("spec.task", 'Unsupported value: "nope"'), ("spec.retain", "must be at least 1"))
    assert "RecurringJob 'j'" in str(err)
    assert "spec.retain: must be at least 1" in str(err)


def test_other_statuses() -> None:
    assert isinstance(translate(api_error(400, "Bad Request", status(400, "BadRequest", "bad"))), BadRequest)
    server = translate(
        api_error(500, "Internal Server Error", status(500, "InternalError", "webhook failed"))
    )
    assert isinstance(server, ServerError)
    assert "webhook failed" in str(server)
    assert isinstance(translate(api_error(503, "Service Unavailable", "<html>nope</html>")), ServerError)
    busy = translate(api_error(429, "Too Many Requests", None))
    assert isinstance(busy, ServerError)
    assert busy.status == 429


def test_config_exception_is_a_kubeconfig_error() -> None:
    err = translate(ConfigException("File does not exist: /x/ca.crt"))
    assert isinstance(err, KubeconfigError)
    assert "/x/ca.crt" in str(err)


def test_gateway_errors_pass_through() -> None:
    original = Unreachable("x", reason="timed out")
    assert translate(original) is original


# --- secrets ---------------------------------------------------------------------------------------


def test_messages_never_carry_tokens_or_keys() -> None:
    register_secret(TOKEN)
    pem = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----"
    body = status(
        422,
        "Invalid",
        f"Secret is invalid: data.token: {TOKEN}; Authorization: Bearer {JWT}; key {pem}",
        {"causes": [{"field": "data.token", "message": f"bad value {TOKEN}"}]},
    )
    err = translate(api_error(422, "Unprocessable Entity", body))
    for text in (str(err), repr(err), err.server_message, err.reason, json.dumps(err.causes)):
        assert TOKEN not in text
        assert JWT not in text
        assert "MHcCAQEEIB" not in text
    assert "<redacted>" in str(err)


def test_redact_patterns() -> None:
    assert redact(f"Authorization: Bearer {JWT}") == "Authorization: Bearer <redacted>"
    assert redact(f"id-token={JWT}") == "id-token=<redacted>"
    assert redact('{"password": "hunter2-hunter2"}') == '{"password": "<redacted>"}'
    assert redact("certificate verify failed: unable to get local issuer certificate") == (
        "certificate verify failed: unable to get local issuer certificate"
    )
    assert (
        redact("/home/me/.kube/certs/ca.crt does not exist") == "/home/me/.kube/certs/ca.crt does not exist"
    )


# --- the network, for real ------------------------------------------------------------------------


def client_for(tmp_path: Path, server: str, ca_pem: bytes | None = None, token: str = TOKEN) -> k8s.ApiClient:
    cluster: dict[str, Any] = {"server": server}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
    }
    path = tmp_path / "config"
    path.write_text(json.dumps(doc))
    return api_client_for(load_contexts(path, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}), "x")


def failure_of(api: k8s.ApiClient, server: str, timeout: float = 5.0) -> GatewayError:
    try:
        k8s.VersionApi(api).get_code(_request_timeout=(timeout, timeout))
    except Exception as exc:
        return translate(exc, server=server)
    finally:
        api.close()
    raise AssertionError("the request succeeded")


def test_closed_port_is_unreachable_connection_refused(tmp_path: Path, closed_port: int) -> None:
    server = f"https://127.0.0.1:{closed_port}"
    err = failure_of(client_for(tmp_path, server), server)
    assert isinstance(err, Unreachable)
    assert err.reason == "connection refused"
    assert str(err).startswith(f"Cannot reach {server}: connection refused.")


def test_hung_server_is_unreachable_timed_out(tmp_path: Path, blackhole: int) -> None:
    server = f"https://127.0.0.1:{blackhole}"
    err = failure_of(client_for(tmp_path, server), server, timeout=0.3)
    assert isinstance(err, Unreachable)
    assert err.reason == "timed out"


def test_name_that_does_not_resolve() -> None:
    conn = urllib3.connection.HTTPSConnection("api.cluster.invalid", 6443)
    error = urllib3.exceptions.NameResolutionError(
        "api.cluster.invalid", conn, socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    )
    err = translate(urllib3.exceptions.MaxRetryError(None, "/version", error))  # type: ignore[arg-type]
    assert isinstance(err, Unreachable)
    assert err.reason == "name not resolved"
    assert "api.cluster.invalid:6443" in str(err)


def test_unknown_ca_is_a_tls_error(tmp_path: Path, fake_api: Any, other_ca: Any) -> None:
    err = failure_of(client_for(tmp_path, fake_api.url, other_ca.cert_pem), fake_api.url)
    assert isinstance(err, TlsError)
    assert err.problem == "unknown-ca"
    assert "not signed by a CA this kubeconfig trusts" in str(err)
    assert fake_api.url in str(err)


def test_hostname_mismatch_is_a_tls_error(
    tmp_path: Path, fake_api_factory: Callable[..., Any], ca: Any
) -> None:
    api = fake_api_factory(hosts=("kubernetes.example",))
    err = failure_of(client_for(tmp_path, api.url, ca.cert_pem), api.url)
    assert isinstance(err, TlsError)
    assert err.problem == "hostname-mismatch"


@pytest.fixture
def expired_tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, bytes]]:
    """An HTTPS port whose certificate expired yesterday; yields (url, CA PEM)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "expired-test-ca")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=10))
        .not_valid_after(now + datetime.timedelta(days=10))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=5))
        .not_valid_after(now - datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    certfile = tmp_path_factory.mktemp("expired") / "leaf.pem"
    certfile.write_bytes(
        leaf.public_bytes(serialization.Encoding.PEM)
        + leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(certfile))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    address = listener.getsockname()
    stop = threading.Event()

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            if stop.is_set():
                conn.close()
                return
            with conn, contextlib.suppress(ssl.SSLError, OSError):
                context.wrap_socket(conn, server_side=True).close()

    thread = threading.Thread(target=serve, name="expired-tls")
    thread.start()
    try:
        yield f"https://127.0.0.1:{address[1]}", ca_cert.public_bytes(serialization.Encoding.PEM)
    finally:
        stop.set()
        socket.create_connection(address, timeout=5).close()  # wakes accept()
        thread.join(timeout=15)
        listener.close()


def test_expired_certificate_is_a_tls_error(tmp_path: Path, expired_tls_server: tuple[str, bytes]) -> None:
    url, ca_pem = expired_tls_server
    err = failure_of(client_for(tmp_path, url, ca_pem), url)
    assert isinstance(err, TlsError)
    assert err.problem == "expired"
    assert "has expired" in str(err)
