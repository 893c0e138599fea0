"""The entry points: `lhdesk`, `python -m lhdesk`, --version, --screenshot."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lhdesk import __version__
from lhdesk.cli import main


def test_version(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"lhdesk {__version__}"


def test_python_dash_m_runs_the_same_entry_point() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lhdesk", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == f"lhdesk {__version__}"


def test_screenshot_writes_a_png_of_the_main_window(tmp_path: Path) -> None:
    out = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", KUBECONFIG=str(tmp_path / "none"), HOME=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "lhdesk", "--screenshot", str(out), "--page", "clusters"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 10_000


def test_screenshot_of_an_unknown_page_fails_clearly(tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "lhdesk", "--screenshot", str(tmp_path / "x.png"), "--page", "nope"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "no page named 'nope'" in result.stderr
