"""Longhorn versions and what each one can do.

A version comes from the ``current-longhorn-version`` setting or a manager image tag:
``v1.12.1``, ``1.8.2``, ``v1.9.0-rc1``, ``v1.9.0-dev-20250209``, ``v1.9.0-hotfix-1``.

Ordering is semver's, with one Longhorn twist: a ``-hotfix-N`` build comes *after* its
release (it is a patched release), while ``-dev-*`` and ``-rc*`` come before it. Numeric
runs inside pre-release parts compare as numbers, so ``rc10`` is later than ``rc2``.

Feature checks (``Capabilities``) compare only major.minor.patch: every pre-release of
v1.9.0 already carries the ``system-backup`` task (``git tag --contains`` of the commit
that added it lists all v1.9.0 rc tags), and treating a pre-release as its release is
simpler to explain than the exact dev snapshot history. An unknown or unparseable version
gets the conservative answer: no optional feature.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

__all__ = ["SYSTEM_BACKUP_JOB_SINCE", "Capabilities", "LonghornVersion", "parse_version"]

_VERSION = re.compile(
    r"v?(?P<major>0|[1-9][0-9]*)\.(?P<minor>0|[1-9][0-9]*)\.(?P<patch>0|[1-9][0-9]*)"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?",
    re.ASCII,
)
_DIGIT_RUNS = re.compile(r"[0-9]+|[^0-9]+")


def _pre_key(pre: str) -> tuple[tuple[int, int, str], ...]:
    """Natural sort key of a pre-release string: digit runs as numbers, the rest as text."""
    return tuple((1, int(part), "") if part.isdigit() else (0, 0, part) for part in _DIGIT_RUNS.findall(pre))


@functools.total_ordering
@dataclass(frozen=True)
class LonghornVersion:
    """A Longhorn release, ordered; ``str()`` gives ``v1.9.0-rc1``."""

    major: int
    minor: int
    patch: int
    prerelease: str = ""

    @classmethod
    def parse(cls, text: str) -> LonghornVersion:
        """Parse ``v1.12.1`` / ``1.8.2`` / ``v1.9.0-rc1``; raises ValueError otherwise."""
        match = _VERSION.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"not a Longhorn version: {text!r} (expected e.g. v1.12.1)")
        return cls(
            int(match["major"]),
            int(match["minor"]),
            int(match["patch"]),
            match["pre"] or "",
        )

    @property
    def core(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease) and not self.prerelease.startswith("hotfix")

    def _key(self) -> tuple[tuple[int, int, int], int, tuple[tuple[int, int, str], ...]]:
        if not self.prerelease:
            rank = 1
        elif self.prerelease.startswith("hotfix"):
            rank = 2
        else:
            rank = 0
        return (self.core, rank, _pre_key(self.prerelease))

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, LonghornVersion):
            return NotImplemented
        return self._key() < other._key()

    def __str__(self) -> str:
        base = f"v{self.major}.{self.minor}.{self.patch}"
        return f"{base}-{self.prerelease}" if self.prerelease else base


def parse_version(text: str | None) -> LonghornVersion | None:
    """Like ``LonghornVersion.parse`` but returns None for missing or unparseable text."""
    if not text:
        return None
    try:
        return LonghornVersion.parse(text)
    except ValueError:
        return None


SYSTEM_BACKUP_JOB_SINCE = LonghornVersion(1, 9, 0)
"""First release with the RecurringJob task ``system-backup`` (recurring-jobs.md §4)."""


@dataclass(frozen=True)
class Capabilities:
    """Optional Longhorn features a cluster supports."""

    system_backup_job: bool = False
    """RecurringJob task ``system-backup`` (Longhorn >= v1.9.0)."""

    @classmethod
    def for_version(cls, version: LonghornVersion | str | None) -> Capabilities:
        """Capabilities of a version; unknown or unparseable means none (conservative)."""
        parsed = parse_version(version) if isinstance(version, str) or version is None else version
        if parsed is None:
            return cls()
        return cls(system_backup_job=parsed.core >= SYSTEM_BACKUP_JOB_SINCE.core)
