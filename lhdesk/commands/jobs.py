"""``lhdesk jobs validate`` and ``lhdesk cron``: RecurringJob checks without a cluster.

``lhdesk jobs validate FILE... [--longhorn-version V] [--max-retention N] [--json]``
    Reads multi-document YAML (``-`` is stdin) and checks every RecurringJob in it, including
    the items of ``kind: List`` / ``RecurringJobList`` documents (``kubectl get -o yaml``
    output). Each job is checked as Longhorn would store it: the mutating webhook's defaults
    are applied first (concurrency 0 -> 10, retain raised to the task's minimum), then the
    rules of ``lhdesk.core.recurringjob.validate``. Output, one line per job::

        FILE:INDEX NAME: ok
        FILE:INDEX NAME: spec.cron: <message>        (one line per problem)

    INDEX is the 0-based document number in the file, ``INDEX.ITEM`` inside a List. Other
    kinds are skipped with a ``skipped`` line. What admission changes, and advice, goes to
    stderr as ``note:`` lines. ``--json`` prints a list of
    ``{file, index, item, name, valid, errors: [{field, message}], notes: [...]}`` instead
    (skipped documents are left out; a file that cannot be read or parsed appears with
    index null).

    Exit status: 0 all jobs valid; 1 a job is invalid, or no RecurringJob was found at all;
    2 a file could not be read or is not valid YAML (usage errors are also 2, from argparse).

``lhdesk cron EXPR [--from ISO] [--count N] [--json]``
    Whether Longhorn accepts EXPR, what it means and its next runs in UTC (after ``--from``,
    default now; a time without a zone is UTC). ``@every`` runs are counted from ``--from``.
    ``--json`` prints ``{valid, error, description, next, warnings}`` with times like
    ``2026-12-04T21:00:00Z``. Exit status: 0 valid, 1 invalid.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from lhdesk.core import cron as core_cron
from lhdesk.core.recurringjob import (
    DEFAULT_MAX_RETENTION,
    KIND,
    MAX_RETENTION_LIMIT,
    ClusterFacts,
    FieldError,
    ManifestError,
    RecurringJobSpec,
    mutate_like_server,
    validate,
    warnings_for,
)
from lhdesk.core.versions import LonghornVersion

__all__ = ["register"]

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_UNREADABLE = 2
_MAX_COUNT = 1000
_LONGHORN_GROUP = "longhorn.io"
_SERVED_VERSION = "longhorn.io/v1beta2"


def _out(line: str = "") -> None:
    sys.stdout.write(line + "\n")


def _err(line: str) -> None:
    sys.stderr.write(line + "\n")


# ---------------------------------------------------------------------------------------
# argument types


def _version_arg(text: str) -> LonghornVersion:
    try:
        return LonghornVersion.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _max_retention_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 1 <= value <= MAX_RETENTION_LIMIT:
        raise argparse.ArgumentTypeError(f"must be 1 to {MAX_RETENTION_LIMIT} (the setting's range)")
    return value


def _count_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= _MAX_COUNT:
        raise argparse.ArgumentTypeError(f"must be 0 to {_MAX_COUNT}")
    return value


def _time_arg(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 time (e.g. 2026-12-04T20:30:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``jobs validate`` and ``cron`` to the ``lhdesk`` command."""
    jobs = subparsers.add_parser(
        "jobs",
        help="check Longhorn RecurringJob manifests",
        description="Check Longhorn RecurringJob manifests without a cluster.",
    )
    actions = jobs.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)
    check = actions.add_parser(
        "validate",
        help="validate RecurringJob manifests in YAML files",
        description=(
            "Validate every RecurringJob in the YAML files as Longhorn would store it "
            "(webhook defaults applied first). Exit status: 0 all valid, 1 a job is invalid "
            "or none was found, 2 a file could not be read or parsed."
        ),
    )
    check.add_argument(
        "files", nargs="+", metavar="FILE", help="YAML file, multi-document allowed; - for stdin"
    )
    check.add_argument(
        "--longhorn-version",
        metavar="V",
        type=_version_arg,
        help="the cluster's Longhorn version, e.g. v1.12.1 (default: unknown, no version checks)",
    )
    check.add_argument(
        "--max-retention",
        metavar="N",
        type=_max_retention_arg,
        default=DEFAULT_MAX_RETENTION,
        help=f"the cluster's recurring-job-max-retention setting (default {DEFAULT_MAX_RETENTION})",
    )
    check.add_argument("--json", action="store_true", help="print the results as JSON")
    check.set_defaults(func=run_validate)

    cron = subparsers.add_parser(
        "cron",
        help="check a Longhorn cron expression and show its next runs",
        description=(
            "Check a cron expression the way Longhorn does (robfig/cron v1: 5 fields or a "
            "descriptor), describe it and list its next runs in UTC. Exit status: 0 valid, 1 invalid."
        ),
    )
    cron.add_argument("expr", metavar="EXPR", help="the expression, quoted, e.g. '0 2 * * *' or '@every 6h'")
    cron.add_argument(
        "--from",
        dest="start",
        metavar="ISO",
        type=_time_arg,
        help="list runs after this time (default now; no zone means UTC)",
    )
    cron.add_argument("--count", metavar="N", type=_count_arg, default=5, help="how many runs (default 5)")
    cron.add_argument("--json", action="store_true", help="print the result as JSON")
    cron.set_defaults(func=run_cron)


# ---------------------------------------------------------------------------------------
# jobs validate


@dataclass
class _Result:
    file: str
    index: int | None
    item: int | None
    name: str | None
    errors: list[FieldError]
    notes: list[FieldError] = field(default_factory=list)

    @property
    def where(self) -> str:
        if self.index is None:
            return self.file
        suffix = f".{self.item}" if self.item is not None else ""
        return f"{self.file}:{self.index}{suffix}"

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "index": self.index,
            "item": self.item,
            "name": self.name,
            "valid": not self.errors,
            "errors": [{"field": e.field, "message": e.message} for e in self.errors],
            "notes": [{"field": n.field, "message": n.message} for n in self.notes],
        }


def _admission_notes(before: RecurringJobSpec, after: RecurringJobSpec) -> list[FieldError]:
    notes = []
    if before.concurrency != after.concurrency:
        notes.append(
            FieldError("spec.concurrency", f"{before.concurrency} becomes {after.concurrency} on admission")
        )
    if before.retain != after.retain:
        notes.append(FieldError("spec.retain", f"{before.retain} becomes {after.retain} on admission"))
    return notes


def _check_job(
    obj: Mapping[str, Any], facts: ClusterFacts
) -> tuple[str | None, list[FieldError], list[FieldError]]:
    errors: list[FieldError] = []
    api_version = obj.get("apiVersion")
    if api_version != _SERVED_VERSION:
        errors.append(FieldError("apiVersion", f"must be {_SERVED_VERSION} (got {api_version!r})"))
    try:
        spec = RecurringJobSpec.from_manifest(obj)
    except ManifestError as error:
        metadata = obj.get("metadata")
        name = metadata.get("name") if isinstance(metadata, Mapping) else None
        return (name if isinstance(name, str) else None), errors + list(error.errors), []
    admitted = mutate_like_server(spec)
    errors += validate(admitted, facts)
    notes = _admission_notes(spec, admitted) + warnings_for(admitted)
    return spec.name or None, errors, notes


def _is_recurring_job(obj: Mapping[str, Any]) -> bool:
    api_version = obj.get("apiVersion")
    group = api_version.split("/")[0] if isinstance(api_version, str) else None
    return obj.get("kind") == KIND and group in (None, "", _LONGHORN_GROUP)


def _documents(path: str) -> Iterator[tuple[int, object]]:
    """(index, document) of a YAML stream; raises OSError / yaml.YAMLError / UnicodeError."""
    text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    yield from enumerate(yaml.safe_load_all(text))


def _validate_file(path: str, facts: ClusterFacts, skipped: list[str]) -> tuple[list[_Result], bool]:
    """Results for one file, and whether it could be read completely."""
    label = "<stdin>" if path == "-" else path
    results: list[_Result] = []

    def check(obj: Mapping[str, Any], index: int, item: int | None) -> None:
        name, errors, notes = _check_job(obj, facts)
        results.append(_Result(label, index, item, name, errors, notes))

    try:
        for index, document in _documents(path):
            if document is None:
                continue
            if not isinstance(document, Mapping):
                skipped.append(f"{label}:{index}: skipped (not a Kubernetes object)")
                continue
            kind = document.get("kind")
            items = document.get("items")
            if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
                for item_index, item in enumerate(items):
                    if isinstance(item, Mapping) and _is_recurring_job(item):
                        check(item, index, item_index)
                    else:
                        skipped.append(f"{label}:{index}.{item_index}: skipped (not a RecurringJob)")
                continue
            if _is_recurring_job(document):
                check(document, index, None)
            else:
                skipped.append(f"{label}:{index}: skipped (kind {kind}, not a RecurringJob)")
    except (OSError, UnicodeError) as error:
        message = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        results.append(_Result(label, None, None, None, [FieldError("", f"cannot read the file: {message}")]))
        return results, False
    except yaml.YAMLError as error:
        results.append(_Result(label, None, None, None, [FieldError("", f"not valid YAML: {error}")]))
        return results, False
    return results, True


def run_validate(args: argparse.Namespace) -> int:
    facts = ClusterFacts(longhorn_version=args.longhorn_version, max_retention=args.max_retention)
    all_results: list[_Result] = []
    skipped: list[str] = []
    unreadable = False
    for path in args.files:
        results, complete = _validate_file(path, facts, skipped)
        all_results += results
        unreadable = unreadable or not complete
    jobs = [r for r in all_results if r.index is not None]

    if args.json:
        _out(json.dumps([r.as_json() for r in all_results], indent=2))
    else:
        for result in all_results:
            if result.index is None:
                for problem in result.errors:
                    _err(f"{result.where}: {problem.message}")
                continue
            who = f"{result.where} {result.name or '<no name>'}"
            if not result.errors:
                _out(f"{who}: ok")
            for problem in result.errors:
                _out(f"{who}: {problem}")
            for note in result.notes:
                _err(f"note: {who}: {note}")
        for line in skipped:
            _out(line)
    if not jobs and not unreadable:
        _err("no RecurringJob objects found")
    if unreadable:
        return EXIT_UNREADABLE
    if not jobs or any(r.errors for r in jobs):
        return EXIT_INVALID
    return EXIT_OK


# ---------------------------------------------------------------------------------------
# cron


def run_cron(args: argparse.Namespace) -> int:
    start: datetime = args.start or datetime.now(UTC)
    try:
        schedule = core_cron.parse(args.expr)
    except core_cron.CronError as error:
        if args.json:
            payload = {"valid": False, "error": str(error), "description": None, "next": [], "warnings": []}
            _out(json.dumps(payload, indent=2))
        else:
            _out(f"invalid: {error}")
        return EXIT_INVALID
    description = core_cron.describe(args.expr)
    runs = schedule.next_runs(start, args.count, anchor=start if schedule.is_every else None)
    times = [core_cron.format_utc(run) for run in runs]
    warnings = list(schedule.warnings)
    if args.count and not runs and schedule.can_run:
        warnings.append("no run within the next 5 years (robfig/cron stops looking there)")
    if args.json:
        payload = {
            "valid": True,
            "error": None,
            "description": description,
            "next": times,
            "warnings": warnings,
        }
        _out(json.dumps(payload, indent=2))
        return EXIT_OK
    _out("valid: yes")
    _out(f"description: {description} (cluster time, usually UTC)")
    for warning in warnings:
        _out(f"warning: {warning}")
    if args.count:
        if schedule.is_every:
            _out(f"next runs (UTC), counting from {core_cron.format_utc(start)}:")
        else:
            _out("next runs (UTC):")
        for text in times:
            _out(f"  {text}")
        if not times:
            _out("  none")
    return EXIT_OK
