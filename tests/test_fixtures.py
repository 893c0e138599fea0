"""The suite's own guards work: a test that leaks a running QThread fails."""

from __future__ import annotations

from pathlib import Path

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).with_name("conftest.py")


def test_leaked_qthread_fails_the_test(pytester) -> None:
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(
        test_leak="""
        from PySide6.QtCore import QThread

        keep = []

        def test_leaks(qtbot):
            thread = QThread()
            thread.start()
            keep.append(thread)

        def test_cleanup(qtbot):
            for thread in keep:
                thread.quit()
                thread.wait()
        """
    )
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*left 1 QThread(s) running*"])
