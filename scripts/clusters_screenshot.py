"""Render docs/screenshots/clusters.png: the Clusters page over a fleet in mixed states.

It starts the demo cluster, writes the fleet kubeconfig (the demo's contexts plus a closed port, a
wrong CA, a stale token, a missing user and a missing login plugin), gives two contexts a colour,
then runs ``lhdesk --screenshot`` in a child process, which probes every context first.

    python scripts/clusters_screenshot.py [OUTPUT.png]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from lhdesk.demo.cluster import DemoCluster
from lhdesk.demo.fleet import write_fleet_kubeconfig

ROOT = Path(__file__).resolve().parents[1]

SETTINGS = """[prefs]
context_colours="{\\"demo-admin\\": \\"#c62828\\", \\"demo-readonly\\": \\"#2e7d32\\"}"
"""


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots" / "clusters.png"
    with tempfile.TemporaryDirectory() as tmp, DemoCluster(Path(tmp) / "demo", seed="small") as demo:
        fleet = write_fleet_kubeconfig(demo.kubeconfig_path, Path(tmp) / "fleet")
        config_home = Path(tmp) / "config"
        (config_home / "lhdesk").mkdir(parents=True)
        (config_home / "lhdesk" / "lhdesk.conf").write_text(SETTINGS)
        env = dict(
            os.environ,
            QT_QPA_PLATFORM="offscreen",
            XDG_CONFIG_HOME=str(config_home),
            XDG_DATA_HOME=str(Path(tmp) / "data"),
        )
        command = [sys.executable, "-m", "lhdesk", "--kubeconfig", str(fleet), "--screenshot", str(out)]
        result = subprocess.run([*command, "--page", "clusters"], env=env, check=False)
    print(f"wrote {out}" if result.returncode == 0 else f"lhdesk exited {result.returncode}")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
