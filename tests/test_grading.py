"""The graders are proven through a real ``nbgrader autograde`` run, per chapter.

In a temporary course: the instructor's solution scores full marks, the released stub scores zero,
and every known-buggy implementation (mutant, ``tests/mutants/<chapter>/``) loses points, in
particular on the cells its ``# expect-fail:`` lines name. The mutation score is printed at the end.
"""

from __future__ import annotations

import pytest
from conftest import SUMMARY
from nbgrader_course import Course, chapters, load_mutants, solution_sources

pytestmark = pytest.mark.slow
CHAPTERS = chapters()


@pytest.fixture(scope="module", params=CHAPTERS)
def graded(request, tmp_path_factory):
    slug = request.param
    course = Course.create(tmp_path_factory.mktemp(slug), slug)
    course.generate()
    course.submit("solution", cells={})
    course.submit("release", cells=None)
    mutants = load_mutants(slug)
    solution = solution_sources(course.source_nb)
    for m in mutants:
        course.submit(f"mutant-{m.name}", m.sources(solution))
    course.autograde()
    course.feedback()
    results = {s: course.scores(s) for s in course.students}
    killed = [
        m
        for m in mutants
        if sum(v[0] for v in results[f"mutant-{m.name}"].values())
        < sum(v[1] for v in results[f"mutant-{m.name}"].values())
    ]
    SUMMARY.append(
        f"{slug}: mutation score {len(killed)}/{len(mutants)} "
        f"({', '.join(m.name for m in mutants if m not in killed) or 'every mutant loses points'})"
    )
    return course, mutants, results


def _total(scores: dict[str, tuple[float, float]]) -> tuple[float, float]:
    return sum(s for s, _ in scores.values()), sum(m for _, m in scores.values())


def test_solution_gets_full_marks(graded):
    course, _, results = graded
    scores = results["solution"]
    assert scores, f"{course.slug}: no graded cells found"
    lost = {gid: s for gid, s in scores.items() if s[0] != s[1]}
    assert not lost, f"{course.slug}: the solution loses points on {lost}"


def test_release_gets_zero(graded):
    course, _, results = graded
    scores = results["release"]
    got, full = _total(scores)
    assert full > 0
    earned = {gid: s for gid, s in scores.items() if s[0] > 0}
    assert got == 0, f"{course.slug}: the released stub earns points on {earned}"


def test_chapter_has_enough_mutants(graded):
    course, mutants, _ = graded
    assert len(mutants) >= 5, f"{course.slug}: {len(mutants)} mutants, at least 5 expected"


def test_every_mutant_loses_its_expected_points(graded):
    course, mutants, results = graded
    problems = []
    for m in mutants:
        scores = results[f"mutant-{m.name}"]
        got, full = _total(scores)
        if got >= full:
            problems.append(f"{m.name}: full marks ({got}/{full}) — {m.doc}")
            continue
        for gid in m.expect_fail:
            if gid not in scores:
                problems.append(f"{m.name}: expect-fail names {gid!r}, not a graded cell")
            elif scores[gid][0] != 0:
                problems.append(f"{m.name}: {gid} still earns {scores[gid][0]} — {m.doc}")
    assert not problems, f"{course.slug}:\n" + "\n".join(problems)


def test_feedback_tells_the_learner_what_is_missing(graded):
    course, _, _ = graded
    html = course.root / "feedback" / "release" / course.slug / f"{course.slug}.html"
    assert html.is_file(), f"no feedback generated at {html}"
    text = html.read_text()
    assert "not implemented yet" in text, "release feedback should say the stub is not implemented"


def test_fresh_process_regrade_agrees_with_nbgrader(graded):
    """The tamper-resistant re-grade gives the same points as nbgrader on honest submissions."""
    from gotchalab.grading import regrade

    course, _, results = graded
    for student in ("solution", "release"):
        sub = course.root / "submitted" / student / course.slug / f"{course.slug}.ipynb"
        got = {r.grade_id: r.points for r in regrade(course.source_nb, sub)}
        assert got == {gid: s[0] for gid, s in results[student].items()}, student
