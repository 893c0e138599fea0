"""The scheduler lock file: one holder, its pid readable, released by the kernel on death."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from lhdesk.schedule.lock import acquire_lock, lock_owner_pid, lock_path


def test_one_holder_at_a_time_and_its_pid(tmp_path: Path) -> None:
    assert lock_owner_pid(tmp_path) is None
    first = acquire_lock(tmp_path)
    assert first is not None
    assert first.held
    try:
        assert acquire_lock(tmp_path) is None
        assert lock_owner_pid(tmp_path) == os.getpid()
    finally:
        first.release()
    assert not first.held
    assert lock_owner_pid(tmp_path) is None
    with acquire_lock(tmp_path) as again:
        assert again is not None
    assert lock_path(tmp_path).exists()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys, time
        from lhdesk.schedule.lock import acquire_lock
        lock = acquire_lock(sys.argv[1])
        print("held" if lock else "refused", flush=True)
        sys.stdin.readline()
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held"
        assert lock_owner_pid(tmp_path) == proc.pid
        assert acquire_lock(tmp_path) is None
    finally:
        proc.kill()
        proc.wait(timeout=30)
        assert proc.stdin is not None
        assert proc.stdout is not None
        proc.stdin.close()
        proc.stdout.close()
    assert lock_owner_pid(tmp_path) is None
    lock = acquire_lock(tmp_path)
    assert lock is not None
    lock.release()
