"""The `lhdesk` command: opens the window, or runs a headless sub-command."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from lhdesk import __version__

# One line per command family; each module has ``register(subparsers)``.
COMMAND_MODULES: tuple[str, ...] = (
    "lhdesk.commands.jobs",
    "lhdesk.commands.schedules",
    "lhdesk.commands.contexts",
    "lhdesk.commands.demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lhdesk",
        description="A desktop console for Longhorn admins. Without a sub-command it opens the window.",
    )
    parser.add_argument("--version", action="version", version=f"lhdesk {__version__}")
    parser.add_argument(
        "--kubeconfig", metavar="PATH", help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)"
    )
    parser.add_argument("--context", metavar="NAME", help="kubeconfig context to open")
    parser.add_argument("--demo", action="store_true", help="open the app on an in-process demo cluster")
    parser.add_argument(
        "--screenshot",
        metavar="FILE",
        help="render the main window to a PNG once the page's data has loaded, then exit",
    )
    parser.add_argument("--page", metavar="NAME", help="page to show (with --screenshot, the page to render)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages to stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    stderr = logging.StreamHandler()
    stderr.setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    stderr.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, handlers=[stderr])
    if args.command is None:
        # Imported here so that headless commands never load Qt.
        from lhdesk.app import run_gui

        return run_gui(args)
    status: int = args.func(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
