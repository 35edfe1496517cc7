"""The graders are proven through a real ``nbgrader autograde`` run, per chapter.

In a temporary course: the instructor's solution scores full marks, the released stub scores zero,
and every known-buggy implementation loses points: the project's own mutants
(``tests/mutants/<chapter>/``, on the cells their ``# expect-fail:`` lines name) and the mutants
written from the released notebook alone by someone who never read the graders
(``tests/independent_mutants/<chapter>/``). Both mutation scores are printed at the end.

The authoritative grade (``python -m gotchalab.grading``) must give every honest submission (the
solution, the release, partial solutions and the project's mutants) the same points per cell as
nbgrader, and the feedback pages must show no hidden test, hidden seed, library frame or path.
"""

from __future__ import annotations

import html
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import ROOT, SUMMARY
from nbgrader_course import (
    INDEPENDENT_MUTANTS,
    Course,
    chapters,
    load_mutants,
    solution_sources,
)

from gotchalab.grading import cell_source, hidden_lines, nbgrader_meta, regrade_notebook

pytestmark = pytest.mark.slow
CHAPTERS = chapters()


@pytest.fixture(scope="module", params=CHAPTERS)
def graded(request, tmp_path_factory):
    slug = request.param
    course = Course.create(tmp_path_factory.mktemp(slug), slug)
    course.generate()
    course.submit("solution", cells={})
    course.submit("release", cells=None)
    solution = solution_sources(course.source_nb)
    stubs = course.release_sources()
    # A partial solution: every exercise done but one, left as released.
    for gid in solution:
        course.submit(f"partial-without-{gid}", {gid: stubs[gid]})
    mutants = load_mutants(slug)
    for m in mutants:
        course.submit(f"mutant-{m.name}", m.sources(solution))
    independent = load_mutants(slug, INDEPENDENT_MUTANTS)
    for m in independent:
        course.submit(f"independent-{m.name}", m.sources(solution))
    course.autograde()
    course.feedback()
    results = {s: course.scores(s) for s in course.students}

    def killed(prefix, ms):
        return [
            m
            for m in ms
            if _total(results[f"{prefix}-{m.name}"])[0] < _total(results[f"{prefix}-{m.name}"])[1]
        ]

    own, ind = killed("mutant", mutants), killed("independent", independent)
    SUMMARY.append(
        f"{slug}: hand-written mutants (project) {len(own)}/{len(mutants)}; "
        f"independent (from the release alone) {len(ind)}/{len(independent)}"
        + (
            f"; surviving: {', '.join(m.name for m in independent if m not in ind)}"
            if len(ind) < len(independent)
            else ""
        )
    )
    return course, mutants, independent, results


def _total(scores: dict[str, tuple[float, float]]) -> tuple[float, float]:
    return sum(s for s, _ in scores.values()), sum(m for _, m in scores.values())


def test_solution_gets_full_marks(graded):
    course, _, _, results = graded
    scores = results["solution"]
    assert scores, f"{course.slug}: no graded cells found"
    lost = {gid: s for gid, s in scores.items() if s[0] != s[1]}
    assert not lost, f"{course.slug}: the solution loses points on {lost}"


def test_release_gets_zero(graded):
    course, _, _, results = graded
    scores = results["release"]
    got, full = _total(scores)
    assert full > 0
    earned = {gid: s for gid, s in scores.items() if s[0] > 0}
    assert got == 0, f"{course.slug}: the released stub earns points on {earned}"


def test_partial_solutions_earn_partial_credit(graded):
    course, _, _, results = graded
    for student, scores in results.items():
        if student.startswith("partial-without-"):
            got, full = _total(scores)
            assert 0 < got < full, f"{student}: {got}/{full}"


def test_chapter_has_enough_mutants(graded):
    course, mutants, independent, _ = graded
    assert len(mutants) >= 5, f"{course.slug}: {len(mutants)} mutants, at least 5 expected"
    assert len(independent) >= 10, f"{course.slug}: {len(independent)} independent mutants"


def test_every_mutant_loses_its_expected_points(graded):
    course, mutants, _, results = graded
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


def test_every_independent_mutant_loses_points(graded):
    """Written from the release alone: the cell they expected may differ, but each loses points."""
    course, _, independent, results = graded
    full_marks = [
        f"{m.name}: {m.doc}"
        for m in independent
        if _total(results[f"independent-{m.name}"])[0]
        >= _total(results[f"independent-{m.name}"])[1]
    ]
    assert not full_marks, f"{course.slug}: full marks for\n" + "\n".join(full_marks)


def test_feedback_tells_the_learner_what_is_missing(graded):
    course, _, _, _ = graded
    html_path = course.root / "feedback" / "release" / course.slug / f"{course.slug}.html"
    assert html_path.is_file(), f"no feedback generated at {html_path}"
    assert "not implemented yet" in html_path.read_text()


def _page_text(path) -> str:
    text = re.sub(r"<style.*?</style>|<script.*?</script>", "", path.read_text(), flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def test_feedback_leaks_no_hidden_test_seed_frame_or_path(graded):
    course, _, _, results = graded
    import json

    source = json.loads(course.source_nb.read_text())
    hidden, hidden_seeds, visible = [], set(), set()
    for c in source["cells"]:
        if nbgrader_meta(c).get("grade"):
            src = cell_source(c)
            lines = hidden_lines(src)
            hidden.extend(lines)
            visible |= set(re.findall(r"seed\s*=\s*(\d+)", src.split("### BEGIN HIDDEN TESTS")[0]))
            hidden_seeds |= {s for line in lines for s in re.findall(r"seed\s*=\s*(\d+)", line)}
    # A seed some visible call uses is no secret, even if another cell hides the same number.
    secret_seeds = hidden_seeds - visible - {"0"}
    assert hidden, "no hidden tests to look for"
    pages = sorted((course.root / "feedback").glob(f"*/{course.slug}/{course.slug}.html"))
    assert len(pages) == len(results)
    leaks = []
    for page in pages:
        text = _page_text(page)
        leaks += [f"{page.parent.parent.name}: hidden line {h!r}" for h in hidden if h in text]
        for s in secret_seeds:
            if re.search(rf"\bseed\s*[:=]\s*{s}\b", text):
                leaks.append(f"{page.parent.parent.name}: hidden seed {s}")
        for marker in ("site-packages", "Traceback (most recent call last)", str(ROOT)):
            if marker in text:
                leaks.append(f"{page.parent.parent.name}: {marker!r}")
    assert not leaks, f"{course.slug}:\n" + "\n".join(leaks[:30])


def test_authoritative_grade_agrees_with_nbgrader_on_honest_submissions(graded):
    """Same points per cell from the judge as from nbgrader: solution, release, partial
    solutions and a spread of the project's own mutants (every third, so that CI's time stays
    bounded: in the judge each call into learner code crosses a process boundary, and a
    chapter 04 notebook takes minutes there; `python -m gotchalab.grading` grades all of them)."""
    course, mutants, _, results = graded
    honest = ["solution", "release"] + [s for s in results if s.startswith("partial-")]
    if course.slug != "04-connection-pool-exhaustion":
        # Chapter 04's mutants take minutes each in the judge (every pool call crosses a process
        # boundary), and its timing rules make them slow to settle on a loaded CI machine.
        honest += [f"mutant-{m.name}" for m in sorted(mutants, key=lambda m: m.name)[::3]]

    def grade(student):
        res = regrade_notebook(course.source_nb, course.submission(student))
        return student, {c.grade_id: c.points for c in res.cells}, res

    with ThreadPoolExecutor(max_workers=3) as pool:
        graded_here = list(pool.map(grade, honest))
    differ = []
    for student, points, res in graded_here:
        want = {gid: s[0] for gid, s in results[student].items()}
        if points != want:
            detail = {
                gid: (
                    want.get(gid),
                    points.get(gid),
                    next((c.error or "")[:200] for c in res.cells if c.grade_id == gid),
                )
                for gid in want
                if want.get(gid) != points.get(gid)
            }
            differ.append(f"{student}: nbgrader vs judge {detail}")
    assert not differ, f"{course.slug}:\n" + "\n".join(differ)
