"""`lhdesk contexts`: list the kubeconfig contexts and, with --check, probe each one.

The exit status is 0 whenever the contexts could be listed, whatever their states; 1 when no
kubeconfig could be read at all.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from lhdesk.core.clusters import ContextInfo, KubeconfigSet, ProbeResult
from lhdesk.core.errors import KubeconfigError
from lhdesk.kube.kubeconfig import load_contexts
from lhdesk.kube.probe import probe_all

log = logging.getLogger(__name__)

JSON_KEYS = (
    "name",
    "cluster",
    "server",
    "user",
    "namespace",
    "state",
    "kubernetes_version",
    "longhorn_version",
    "message",
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "contexts",
        help="list kubeconfig contexts (and check them with --check)",
        description=(
            "List the kubeconfig contexts as kubectl merges them; --check probes each one in parallel."
        ),
    )
    parser.add_argument(
        "--kubeconfig",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)",
    )
    parser.add_argument("--check", action="store_true", help="probe every context (in parallel)")
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    parser.add_argument(
        "--timeout", type=float, default=5.0, metavar="SECONDS", help="probe timeout per context (default 5)"
    )
    parser.add_argument("names", nargs="*", metavar="CONTEXT", help="only these contexts")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    explicit = getattr(args, "kubeconfig", None)
    try:
        kset = load_contexts(Path(explicit) if explicit else None)
    except KubeconfigError as exc:
        sys.stderr.write(f"lhdesk contexts: {exc}\n")
        return 1
    if not kset.contexts and not any(path.is_file() for path in kset.files):
        looked = ", ".join(str(p) for p in kset.files)
        sys.stderr.write(
            f"lhdesk contexts: no kubeconfig found (looked at {looked}). "
            "Use --kubeconfig PATH or set KUBECONFIG.\n"
        )
        return 1
    infos = list(kset.contexts)
    if args.names:
        unknown = [n for n in args.names if kset.context(n) is None]
        if unknown:
            sys.stderr.write(f"lhdesk contexts: no context named {', '.join(repr(n) for n in unknown)}\n")
            return 1
        infos = [info for info in infos if info.name in args.names]
    results = _results(kset, infos, args.check, args.timeout)
    rows = [_row(info, results[info.name]) for info in infos]
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    else:
        sys.stdout.write(_table(rows, kset.current, args.check))
        for problem in kset.problems:
            sys.stderr.write(f"warning: {problem}\n")
    return 0


def _results(
    kset: KubeconfigSet, infos: list[ContextInfo], check: bool, timeout: float
) -> dict[str, ProbeResult]:
    if not check:
        return {info.name: info.unprobed() for info in infos}
    subset = KubeconfigSet(
        contexts=tuple(infos), current=kset.current, files=kset.files, problems=kset.problems, raw=kset.raw
    )
    # One worker per context (up to 32): probes wait on the network, and the total stays near
    # one timeout however many clusters are down.
    results = probe_all(subset, timeout=timeout, max_workers=min(32, max(1, len(infos))))
    return {result.context: result for result in results}


def _row(info: ContextInfo, result: ProbeResult) -> dict[str, Any]:
    return {
        "name": info.name,
        "cluster": info.cluster,
        "server": info.server,
        "user": info.user,
        "namespace": info.namespace,
        "state": result.state.value,
        "kubernetes_version": result.kubernetes_version,
        "longhorn_version": result.longhorn_version,
        "message": result.message,
    }


def _table(rows: list[dict[str, Any]], current: str | None, check: bool) -> str:
    columns = ["name", "cluster", "server", "user", "namespace", "state"]
    if check:
        columns += ["kubernetes_version", "longhorn_version"]
    headers = {
        "name": "CURRENT NAME",
        "kubernetes_version": "KUBERNETES",
        "longhorn_version": "LONGHORN",
    }
    cells = [[headers.get(c, c.upper()) for c in columns] + ["MESSAGE"]]
    for row in rows:
        mark = "*" if row["name"] == current else " "
        values = [f"{mark}       {row['name']}" if c == "name" else str(row[c] or "") for c in columns]
        cells.append([*values, row["message"]])
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = [
        "   ".join(cell.ljust(widths[i]) for i, cell in enumerate(line[:-1])) + "   " + line[-1]
        for line in cells
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"
