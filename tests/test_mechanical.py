"""Mechanical mutants of every solution cell are killed by the graders, or explained.

For each chapter, ``tools/mutate.py`` makes one-change mutants of the solution cells (flipped
comparisons, changed constants, removed statements, dropped ``finally``/``rollback()``, ...) and
runs each through the notebook's graded cells in a fresh process, with nbgrader's semantics. A
survivor passes only if ``tests/mechanical/<slug>.toml`` lists it as equivalent, with the reason
it cannot change what the instructions specify; an unexplained survivor is a grader gap and fails
the test (``tests/mechanical/SURVIVORS.md`` tracks the known ones). The score line of each chapter
goes to the closing summary, with any listed id that is stale (no longer generated, or killed).

The sweep over the four chapters (290 mutants, ``--jobs 2``) took 10 to 13 minutes on the 2-core
machine while other work loaded it (load average 6.5 to 9), about 6 minutes of CPU.
"""

from __future__ import annotations

import pytest
from conftest import SUMMARY
from mutate import chapters, sweep

# One xdist worker runs the four sweeps one after the other: each already keeps two processes
# busy (``jobs=2``), which is the machine.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("mechanical")]


@pytest.mark.parametrize("slug", chapters())
def test_mechanical_mutants_are_killed_or_explained(slug):
    result = sweep(slug, jobs=2)
    SUMMARY.append(result.score_line())
    # A listed id that is no longer generated, or is killed now, is reported (not a failure: a
    # grader that got stricter is good news); drop it from the toml file.
    SUMMARY.extend(
        f"{slug}: stale entry in tests/mechanical/{slug}.toml: {s}" for s in result.stale
    )
    assert not result.baseline.killed, (
        f"{slug}: the unmutated solution fails in the fast runner "
        f"({result.baseline.by}: {result.baseline.error})"
    )
    assert result.verdicts, f"{slug}: no mutants generated"
    problems = [f"unexplained survivor: {s}" for s in result.unexplained]
    assert not problems, (
        f"{result.score_line()}\n"
        + "\n".join(problems)
        + "\n(each is a grader gap: add a check, or list it in the toml file with the reason it "
        "cannot change what the instructions specify; see tests/mechanical/SURVIVORS.md)"
    )
