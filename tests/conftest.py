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

# Filled by tests that measure something worth printing at the end (mutation scores).
SUMMARY: list[str] = []


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001
    if SUMMARY:
        terminalreporter.section("Senior Gotchas: grader proofs")
        for line in SUMMARY:
            terminalreporter.write_line(line)
