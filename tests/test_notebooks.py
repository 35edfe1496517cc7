"""Static checks of the course's notebooks: anatomy, nbgrader metadata, release hygiene, mutants."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from nbgrader_course import (
    EXERCISES,
    MUTANTS,
    SOLUTIONS,
    chapters,
    load_mutants,
    solution_sources,
)

from gotchalab.grading import cell_source, nbgrader_meta

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = chapters()
GRADE_ID = re.compile(r"^[a-z][a-z0-9_]{2,60}$")


def _nb(path: Path) -> dict:
    return json.loads(path.read_text())


def test_there_are_chapters():
    assert CHAPTERS, "no solutions/NN-slug/NN-slug.ipynb found"


@pytest.mark.parametrize("slug", CHAPTERS)
def test_source_notebook_anatomy(slug):
    nb = _nb(SOLUTIONS / slug / f"{slug}.ipynb")
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    cells = nb["cells"]
    with_outputs = [i for i, c in enumerate(cells) if c["cell_type"] == "code" and c.get("outputs")]
    assert not with_outputs, f"cells {with_outputs} carry outputs; commit notebooks without outputs"
    graded = [c for c in cells if nbgrader_meta(c).get("grade")]
    solution = [c for c in cells if nbgrader_meta(c).get("solution")]
    assert len(graded) >= 3, "split the tests so partial understanding earns partial credit"
    assert solution, "no solution cell"
    ids = [nbgrader_meta(c)["grade_id"] for c in cells if nbgrader_meta(c)]
    assert len(ids) == len(set(ids)), f"duplicate grade_ids: {ids}"
    for gid in ids:
        assert GRADE_ID.match(gid), f"grade_id {gid!r} is not a readable snake_case name"
    hidden = 0
    for c in graded:
        gid = nbgrader_meta(c)["grade_id"]
        src = cell_source(c)
        assert nbgrader_meta(c).get("points", 0) > 0, f"{gid}: a graded cell is worth points"
        tree = ast.parse(src)
        doc = ast.get_docstring(tree)
        assert doc and "\n" not in doc.strip(), f"{gid}: start with a one-line docstring"
        hidden += "### BEGIN HIDDEN TESTS" in src
    assert hidden, "no hidden tests: add seeds and scenarios between BEGIN/END HIDDEN TESTS"
    for c in solution:
        assert "### BEGIN SOLUTION" in cell_source(c), (
            f"{nbgrader_meta(c)['grade_id']}: no solution markers"
        )


@pytest.mark.parametrize("slug", CHAPTERS)
def test_release_hides_solutions_and_hidden_tests(slug):
    path = EXERCISES / slug / f"{slug}.ipynb"
    assert path.is_file(), f"{path} missing: run `make release`"
    text = path.read_text()
    for marker in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"):
        assert marker not in text, f"the release still contains {marker!r}"
    assert "NotImplementedError" in text


@pytest.mark.parametrize("slug", CHAPTERS)
def test_mutants_name_real_cells(slug):
    nb = _nb(SOLUTIONS / slug / f"{slug}.ipynb")
    graded = {nbgrader_meta(c)["grade_id"] for c in nb["cells"] if nbgrader_meta(c).get("grade")}
    solution = {
        nbgrader_meta(c)["grade_id"] for c in nb["cells"] if nbgrader_meta(c).get("solution")
    }
    mutants = load_mutants(slug)
    assert (MUTANTS / slug).is_dir() and len(mutants) >= 5, f"{slug}: at least 5 mutants"
    solution_src = solution_sources(SOLUTIONS / slug / f"{slug}.ipynb")
    for m in mutants:
        assert set(m.expect_fail) <= graded, (
            f"{m.name}: unknown graded cells {set(m.expect_fail) - graded}"
        )
        assert set(m.cells) <= solution, (
            f"{m.name}: unknown solution cells {set(m.cells) - solution}"
        )
        mutated = m.sources(solution_src)  # raises if an edit does not apply exactly once
        for gid, src in mutated.items():
            assert src != solution_src[gid], f"{m.name}: {gid} is the solution unchanged"
            ast.parse(src, filename=f"{m.name}:{gid}")


@pytest.mark.parametrize("path", sorted(ROOT.glob("book/*.md")), ids=lambda p: p.name)
def test_chapter_pages_have_no_outputs_and_a_kernel(path):
    text = path.read_text()
    if path.name == "intro.md":
        return
    assert text.startswith("---\n") and "kernelspec:" in text, (
        f"{path.name}: jupytext header missing"
    )
    for section in ("Feel it", "Fix it", "Your turn", "Say it like a senior"):
        assert re.search(rf"^#+ .*{section}", text, re.MULTILINE | re.IGNORECASE), (
            f"{path.name}: no '{section}' section"
        )


@pytest.mark.slow
def test_release_is_fresh():
    import release

    assert release.main(["--check"]) == 0, "exercises/ differs from a fresh `make release`"
