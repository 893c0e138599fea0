"""core.versions: Longhorn version parsing, ordering and feature checks."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lhdesk.core.versions import SYSTEM_BACKUP_JOB_SINCE, Capabilities, LonghornVersion, parse_version


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("v1.12.1", (1, 12, 1, "")),
        ("1.8.2", (1, 8, 2, "")),
        ("v1.9.0-rc1", (1, 9, 0, "rc1")),
        ("v1.9.0-dev-20250209", (1, 9, 0, "dev-20250209")),
        ("v1.9.0-hotfix-1", (1, 9, 0, "hotfix-1")),
        ("v1.10.0+build.5", (1, 10, 0, "")),
        (" v1.12.1\n", (1, 12, 1, "")),
    ],
)
def test_parse(text: str, parts: tuple[int, int, int, str]) -> None:
    version = LonghornVersion.parse(text)
    assert (version.major, version.minor, version.patch, version.prerelease) == parts
    assert parse_version(text) == version


@pytest.mark.parametrize(
    "text", ["", "v1.9", "master-head", "v1.x.0", "1.2.3.4", "v01.2.3", "latest", "v1.9.0-"]
)
def test_unparseable(text: str) -> None:
    assert parse_version(text) is None
    with pytest.raises(ValueError, match="not a Longhorn version"):
        LonghornVersion.parse(text)


def test_str() -> None:
    assert str(LonghornVersion.parse("1.9.0-rc1")) == "v1.9.0-rc1"
    assert str(LonghornVersion.parse("v1.12.1")) == "v1.12.1"


def test_ordering() -> None:
    ordered = [
        "v1.8.2",
        "v1.9.0-dev-20241215",
        "v1.9.0-dev-20250209",
        "v1.9.0-rc1",
        "v1.9.0-rc2",
        "v1.9.0-rc10",
        "v1.9.0",
        "v1.9.0-hotfix-1",
        "v1.9.1",
        "v1.10.0",
        "v1.12.1",
        "v2.0.0",
    ]
    versions = [LonghornVersion.parse(v) for v in ordered]
    assert sorted(reversed(versions)) == versions
    assert LonghornVersion.parse("v1.9.0") == LonghornVersion.parse("1.9.0")
    assert LonghornVersion.parse("v1.9.0") >= SYSTEM_BACKUP_JOB_SINCE
    assert LonghornVersion.parse("v1.8.2") < SYSTEM_BACKUP_JOB_SINCE


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("v1.8.2", False),
        ("v1.8.99", False),
        ("v1.9.0-rc1", True),  # every v1.9.0 rc already has the task
        ("v1.9.0", True),
        ("v1.12.1", True),
        ("v2.0.0", True),
        ("master-head", False),  # unknown: conservative
        ("", False),
        (None, False),
    ],
)
def test_system_backup_job_capability(version: str | None, expected: bool) -> None:
    assert Capabilities.for_version(version).system_backup_job is expected
    parsed = parse_version(version)
    if parsed is not None:
        assert Capabilities.for_version(parsed).system_backup_job is expected


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_parse_version_never_raises(text: str) -> None:
    result = parse_version(text)
    assert result is None or isinstance(result, LonghornVersion)
