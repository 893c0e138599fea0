"""Headless sub-commands of `lhdesk`, one module per command family.

Each module exposes ``register(subparsers)``, which adds its parsers and sets ``func`` on each
to a callable taking the parsed ``argparse.Namespace`` and returning the exit status.
No module here imports Qt: these commands run on servers and in CI.
"""
