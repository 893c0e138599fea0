"""The plain cluster values: context entries, probe results, and how missing access is phrased."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from lhdesk.core.clusters import (
    REQUIRED_ACCESS,
    AccessCheck,
    ContextInfo,
    ContextState,
    KubeconfigSet,
    ProbeResult,
    access_verdict,
    describe_missing_access,
)


def info(name: str = "prod", **changes: object) -> ContextInfo:
    base = ContextInfo(
        name=name,
        cluster="c",
        server="https://prod.example:6443",
        user="admin",
        namespace="",
        source_file=Path("/home/me/.kube/config"),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_states_have_the_issue_names() -> None:
    assert [s.value for s in ContextState] == [
        "connected",
        "no-longhorn",
        "auth-required",
        "forbidden",
        "unreachable",
        "tls-error",
        "invalid",
        "unknown",
    ]


def test_values_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        info().name = "x"  # type: ignore[misc]
    result = ProbeResult("prod", ContextState.CONNECTED, "ok")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.state = ContextState.INVALID  # type: ignore[misc]


def test_unprobed_context_is_unknown_and_a_broken_one_shows_its_error() -> None:
    assert info().valid
    assert info().unprobed().state is ContextState.UNKNOWN
    broken = info(error="user 'ghost' is not defined", error_state=ContextState.INVALID)
    assert not broken.valid
    assert broken.unprobed() == ProbeResult("prod", ContextState.INVALID, "user 'ghost' is not defined")
    plugin = info(error="the login plugin 'aws' was not found", error_state=ContextState.AUTH_REQUIRED)
    assert plugin.unprobed().state is ContextState.AUTH_REQUIRED


def test_error_and_error_state_go_together() -> None:
    with pytest.raises(ValueError, match="together"):
        info(error="broken")
    with pytest.raises(ValueError, match="together"):
        info(error_state=ContextState.INVALID)


def test_kubeconfig_set_lookup_and_raw_kept_out_of_repr_and_equality() -> None:
    a = KubeconfigSet(contexts=(info("a"), info("b")), current="b", files=(), raw={"token": "s3cr3t-token"})
    b = KubeconfigSet(contexts=(info("a"), info("b")), current="b", files=(), raw=None)
    assert a.names == ("a", "b")
    assert a.context("b") == info("b")
    assert a.context("zzz") is None
    assert "s3cr3t" not in repr(a)
    assert a == b


def test_full_access_has_no_verdict() -> None:
    assert access_verdict(dict.fromkeys(REQUIRED_ACCESS, True)) == ((), None)
    assert access_verdict({}) == ((), None)


def test_read_only_user_can_read_but_not_write() -> None:
    allowed = {check: check.is_read for check in REQUIRED_ACCESS}
    missing, message = access_verdict(allowed)
    assert missing == (
        "create recurringjobs.longhorn.io",
        "update recurringjobs.longhorn.io",
        "delete recurringjobs.longhorn.io",
        "create systembackups.longhorn.io",
        "delete systembackups.longhorn.io",
        "create systemrestores.longhorn.io",
    )
    assert message is not None
    assert message.startswith("Read-only access in longhorn-system: ")
    assert "can read but not create, update or delete RecurringJobs" in message
    assert "can read but not create or delete SystemBackups" in message
    assert "can read but not create SystemRestores" in message
    assert "\n" not in message


def test_no_access_at_all_says_cannot_read() -> None:
    missing, message = access_verdict(dict.fromkeys(REQUIRED_ACCESS, False))
    assert len(missing) == len(REQUIRED_ACCESS)
    assert message is not None
    assert message.startswith("Missing access in longhorn-system: ")
    assert "cannot read Settings" in message
    assert "cannot read Volumes" in message
    assert "cannot read or create, update or delete RecurringJobs" in message


def test_partial_read_names_the_verbs() -> None:
    text = describe_missing_access(
        [AccessCheck("watch", "systembackups"), AccessCheck("create", "systembackups")]
    )
    assert text == "cannot watch or create SystemBackups"
    only_create = describe_missing_access([AccessCheck("create", "systembackups")])
    assert only_create == "can read but not create SystemBackups"


def test_checks_outside_the_required_list_are_named_too() -> None:
    extra = AccessCheck("patch", "nodes", group="")
    assert extra.label == "patch nodes"
    missing, message = access_verdict({extra: False})
    assert missing == ("patch nodes",)
    assert message is not None
    assert "can read but not patch nodes" in message
