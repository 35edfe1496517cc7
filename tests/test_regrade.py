"""The authoritative re-grade undoes a learner's patches to the graders and names them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gotchalab.grading import regrade

pytestmark = pytest.mark.slow


def _cell(kind: str, source: str, **nbgrader) -> dict:
    cell = {"cell_type": kind, "metadata": {}, "source": source}
    if kind == "code":
        cell.update(outputs=[], execution_count=None)
    if nbgrader:
        cell["metadata"]["nbgrader"] = {
            "schema_version": 3,
            "locked": not nbgrader.get("solution"),
            "grade": False,
            "solution": False,
            **nbgrader,
        }
    return cell


def _notebook(path: Path, solution: str) -> Path:
    cells = [
        _cell("code", "import gotchalab.check as ch", grade_id="imports"),
        _cell("code", solution, grade_id="double", solution=True),
        _cell(
            "code",
            '"""double(3) is 6."""\nassert ch.call(double, 3, what="double(3)") == 6',
            grade_id="double_three",
            grade=True,
            points=1,
        ),
        _cell(
            "code",
            '"""double(2) is 4, checked by a grader."""\n'
            "if not ch.same_value(double(2), 4):\n"
            '    ch.fail("wrong double", f"double(2) gave {double(2)!r}")\n'
            "### BEGIN HIDDEN TESTS\n"
            "if not ch.same_value(double(-5), -10):\n"
            '    ch.fail("wrong double", "double(-5)")\n'
            "### END HIDDEN TESTS",
            grade_id="double_two",
            grade=True,
            points=2,
        ),
    ]
    nb = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb))
    return path


def _scores(results):
    return {r.grade_id: r.points for r in results}


def test_honest_submissions_are_graded_per_cell(tmp_path):
    source = _notebook(
        tmp_path / "source.ipynb",
        "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
    )
    right = _notebook(tmp_path / "right.ipynb", "def double(x):\n    return x * 2")
    plus_two = _notebook(tmp_path / "plus_two.ipynb", "def double(x):\n    return x + 2")
    stub = _notebook(tmp_path / "stub.ipynb", "def double(x):\n    raise NotImplementedError()")
    assert _scores(regrade(source, right)) == {"double_three": 1, "double_two": 2}
    # x + 2 is right for x = 2 only: the hidden test catches it.
    assert _scores(regrade(source, plus_two)) == {"double_three": 0, "double_two": 0}
    res = regrade(source, stub)
    assert _scores(res) == {"double_three": 0, "double_two": 0}
    assert "not implemented yet" in res[0].error


def test_patching_the_grader_is_undone_and_named(tmp_path):
    source = _notebook(
        tmp_path / "source.ipynb",
        "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
    )
    cheat = _notebook(
        tmp_path / "cheat.ipynb",
        "import gotchalab.check as ch\n"
        "ch.same_value = lambda got, expected: True\n"
        "ch.CheckFailure.report = lambda self: 'fine'\n"
        "def double(x):\n    return 0",
    )
    res = {r.grade_id: r for r in regrade(source, cheat)}
    assert res["double_two"].points == 0
    assert "gotchalab.check.same_value" in res["double_two"].tampered
    assert "gotchalab.check.CheckFailure.report" in res["double_two"].tampered
    assert "wrong double" in res["double_two"].error
