"""The course tooling: the mutant file format."""

from __future__ import annotations

import nbgrader_course
import pytest
from nbgrader_course import load_mutants

SOLUTION = {
    "clock": "class Clock:\n    def receive(self, t):\n        self.t = max(self.t, t) + 1\n"
}


def _write(tmp_path, monkeypatch, text: str):
    d = tmp_path / "mutants" / "NN-x"
    d.mkdir(parents=True)
    (d / "m.py").write_text(text)
    monkeypatch.setattr(nbgrader_course, "MUTANTS", tmp_path / "mutants")
    return load_mutants("NN-x")


def test_an_edit_replaces_one_snippet(tmp_path, monkeypatch):
    (m,) = _write(
        tmp_path,
        monkeypatch,
        '"""No max on receive."""\n# expect-fail: clock_max\n'
        "# %% edit: clock\n# replace:\n#         self.t = max(self.t, t) + 1\n"
        "# with:\n#         self.t = self.t + 1\n",
    )
    assert m.doc == "No max on receive." and m.expect_fail == ["clock_max"]
    assert m.sources(SOLUTION)["clock"].endswith("        self.t = self.t + 1\n")


def test_an_edit_that_does_not_apply_is_an_error(tmp_path, monkeypatch):
    (m,) = _write(
        tmp_path,
        monkeypatch,
        '"""Typo."""\n# expect-fail: clock_max\n'
        "# %% edit: clock\n# replace:\n#         self.t = min(self.t, t)\n# with:\n#         pass\n",
    )
    with pytest.raises(ValueError, match="occurs 0 times"):
        m.sources(SOLUTION)


def test_a_mutant_needs_a_docstring_and_an_expectation(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="docstring"):
        _write(tmp_path, monkeypatch, "# expect-fail: x\n# %% cell: clock\npass\n")
