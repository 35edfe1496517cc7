"""Shared pytest set-up: headless plotting, the tools/ folder on sys.path, a closing summary.

Agg is chosen in this process only, never through ``MPLBACKEND`` in the environment: kernels that
tests start (nbval, nbgrader, jupyter-book) inherit the environment, and an inherited Agg backend
stops IPython from showing figures inline.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
matplotlib.use("Agg")

# Filled by tests that measure something worth printing at the end (mutation scores). Under
# pytest-xdist each worker writes its lines to a folder the controller made, and the controller
# prints them all.
SUMMARY: list[str] = []
_SUMMARY_DIR = "GOTCHAS_SUMMARY_DIR"


def pytest_configure(config):
    import os
    import tempfile

    if not hasattr(config, "workerinput") and _SUMMARY_DIR not in os.environ:
        os.environ[_SUMMARY_DIR] = tempfile.mkdtemp(prefix="gotchas-summary-")


def pytest_sessionfinish(session, exitstatus):  # noqa: ARG001
    import os

    if hasattr(session.config, "workerinput") and SUMMARY and os.environ.get(_SUMMARY_DIR):
        name = session.config.workerinput["workerid"]
        Path(os.environ[_SUMMARY_DIR], f"{name}.txt").write_text("\n".join(SUMMARY) + "\n")


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001
    import os
    import shutil

    lines = list(SUMMARY)
    folder = os.environ.get(_SUMMARY_DIR)
    if folder and Path(folder).is_dir():
        for f in sorted(Path(folder).glob("*.txt")):
            lines += f.read_text().splitlines()
        shutil.rmtree(folder, ignore_errors=True)
    if lines:
        terminalreporter.section("Senior Gotchas: grader proofs")
        for line in sorted(lines):
            terminalreporter.write_line(line)
