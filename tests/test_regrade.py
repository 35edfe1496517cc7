"""The authoritative grade: per-cell points like nbgrader's, and patches in learner code do not reach the judge."""

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


def _as_notebook(cells: list[dict]) -> dict:
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


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
    nb = _as_notebook(cells)
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


def test_patching_the_grader_does_not_reach_the_judge(tmp_path):
    source = _notebook(
        tmp_path / "source.ipynb",
        "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
    )
    cheat = _notebook(
        tmp_path / "cheat.ipynb",
        "import gotchalab.check as ch\n"
        "ch.same_value = lambda got, expected: True\n"
        "ch.CheckFailure.report = lambda self: 'fine'\n"
        "ch = None\n"
        "def double(x):\n    return 0",
    )
    res = {r.grade_id: r for r in regrade(source, cheat)}
    assert res["double_two"].points == 0
    assert "wrong double" in res["double_two"].error


def _two_cells(tmp_path, first: str, second: str, *, try_cell: str | None = None):
    """A notebook whose solution has two cells, each graded by one test; optionally an
    ungraded "try it" cell between them."""
    cells = [
        _cell("code", "import gotchalab.check as ch", grade_id="imports"),
        _cell("code", first, grade_id="one", solution=True),
    ]
    if try_cell is not None:
        cells.append(_cell("code", try_cell))
    cells += [
        _cell(
            "code",
            '"""one() is 1."""\nassert one() == 1',
            grade_id="test_one",
            grade=True,
            points=1,
        ),
        _cell("code", second, grade_id="two", solution=True),
        _cell(
            "code",
            '"""two() is 2."""\nassert two() == 2',
            grade_id="test_two",
            grade=True,
            points=1,
        ),
    ]
    return _as_notebook(cells)


def _write(path: Path, nb: dict) -> Path:
    path.write_text(json.dumps(nb))
    return path


def test_an_error_in_an_ungraded_cell_is_named_and_later_cells_still_count(tmp_path):
    from gotchalab.grading import regrade_notebook

    source = _write(
        tmp_path / "s.ipynb",
        _two_cells(
            tmp_path,
            "def one():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
            "def two():\n    ### BEGIN SOLUTION\n    return 2\n    ### END SOLUTION",
            try_cell="print(one())",
        ),
    )
    partial = _write(
        tmp_path / "p.ipynb",
        _two_cells(
            tmp_path,
            "def one():\n    raise NotImplementedError()",
            "def two():\n    return 2",
            try_cell="print(one())",
        ),
    )
    res = regrade_notebook(source, partial)
    assert {c.grade_id: c.points for c in res.cells} == {"test_one": 0, "test_two": 1}
    assert any("NotImplementedError" in n for n in res.notes), res.notes


def test_a_hanging_cell_is_stopped_and_named_and_the_rest_is_graded(tmp_path):
    from gotchalab.grading import regrade_notebook

    source = _write(
        tmp_path / "s.ipynb",
        _two_cells(
            tmp_path,
            "def one():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
            "def two():\n    ### BEGIN SOLUTION\n    return 2\n    ### END SOLUTION",
        ),
    )
    hang = _write(
        tmp_path / "h.ipynb",
        _two_cells(
            tmp_path, "def one():\n    while True:\n        pass", "def two():\n    return 2"
        ),
    )
    res = regrade_notebook(source, hang, timeout=3)
    assert {c.grade_id: c.points for c in res.cells} == {"test_one": 0, "test_two": 1}
    assert "timed out" in res.cells[0].error
