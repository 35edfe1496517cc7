"""Shared pytest set-up: headless plotting, the tools/ folder on sys.path, a closing summary."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import matplotlib

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
os.environ.setdefault("MPLBACKEND", "Agg")
matplotlib.use("Agg")

# Filled by tests that measure something worth printing at the end (mutation scores).
SUMMARY: list[str] = []


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001
    if SUMMARY:
        terminalreporter.section("Senior Gotchas: grader proofs")
        for line in SUMMARY:
            terminalreporter.write_line(line)
