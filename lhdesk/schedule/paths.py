"""Where the scheduler keeps its data without Qt: the folder Qt's AppDataLocation would give.

The window asks ``QStandardPaths.writableLocation(AppDataLocation)`` with organisation and
application name both ``lhdesk``; the headless commands must land in the same folder without
importing Qt. Qt 6's rules, per platform:

- Linux and other Unix: ``$XDG_DATA_HOME/lhdesk/lhdesk``, ``$XDG_DATA_HOME`` defaulting to
  ``~/.local/share`` (checked against PySide6 6.12: ``~/.local/share/lhdesk/lhdesk``);
- macOS: ``~/Library/Application Support/lhdesk/lhdesk``;
- Windows: ``%APPDATA%/lhdesk/lhdesk`` (the roaming AppData folder).

``LHDESK_DATA_DIR`` overrides all of these (tests, and users who want the data elsewhere).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

ORGANIZATION = "lhdesk"
APPLICATION = "lhdesk"
DATA_DIR_ENV = "LHDESK_DATA_DIR"


def default_data_dir(env: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """The user data folder for lhdesk (not created here)."""
    environ = os.environ if env is None else env
    override = environ.get(DATA_DIR_ENV)
    if override:
        return Path(override).expanduser()
    system = sys.platform if platform is None else platform
    home = Path(environ.get("HOME") or Path.home())
    if system == "win32":
        appdata = environ.get("APPDATA")
        base = Path(appdata) if appdata else home / "AppData" / "Roaming"
    elif system == "darwin":
        base = home / "Library" / "Application Support"
    else:
        xdg = environ.get("XDG_DATA_HOME", "")
        # The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored; Qt does the same.
        base = Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".local" / "share"
    return base / ORGANIZATION / APPLICATION
