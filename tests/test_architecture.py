"""The house rules, executable: layering contracts and a Qt-free core."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_non_ui_module_imports_without_pyside6() -> None:
    """Block PySide6 and shiboken6 outright, then import every module outside ui/ and app.py."""
    script = textwrap.dedent(
        """
        import importlib, importlib.abc, pkgutil, sys

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("PySide6", "shiboken6"):
                    raise ImportError(f"{name} is blocked in this test")
                return None

        sys.meta_path.insert(0, Block())
        import lhdesk
        skipped = ("lhdesk.ui", "lhdesk.app")
        names = [m.name for m in pkgutil.walk_packages(lhdesk.__path__, "lhdesk.")]
        count = 0
        for name in names:
            if name.startswith(skipped) or name == "lhdesk.__main__":
                continue
            importlib.import_module(name)
            count += 1
        import lhdesk.cli
        lhdesk.cli.build_parser()
        assert not any(m.startswith("PySide6") for m in sys.modules)
        print(count)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) > 3
