"""Hostile submissions score 0 in the authoritative grade, and the batch completes.

Every attack in ``tests/attacks/`` (see its README) is appended to the first solution cell of each
chapter's freshly generated release (the stubs: an honest grade is 0). The authoritative grade
must give every one 0 points, finish, and leave no process of the attack running. Attacks marked
``# earns-points-in: nbgrader`` are also graded by a real ``nbgrader autograde``, where they must
earn points: proof that each attacks something real.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import psutil
import pytest
from conftest import SUMMARY
from nbgrader_course import Course, chapters

from gotchalab.grading import _hidden_paths, nbgrader_meta, regrade_notebook
from gotchalab.sandbox import Runner

pytestmark = pytest.mark.slow
ATTACKS = Path(__file__).parent / "attacks"
CHAPTERS = chapters()
TIMEOUT = 30.0


def _attacks() -> list[tuple[str, str, set[str]]]:
    out = []
    for path in sorted(ATTACKS.glob("*.py")):
        text = path.read_text()
        tags = {line[2:].strip() for line in text.splitlines() if line.startswith("# ")}
        out.append((path.stem, text, tags))
    return out


def _isolated() -> bool:
    r = Runner()
    try:
        return r.isolation.startswith("namespaces")
    finally:
        r.close()


def test_catalogue_has_at_least_twelve_attack_classes():
    assert len(_attacks()) >= 12, [a[0] for a in _attacks()]


@pytest.fixture(scope="module", params=CHAPTERS)
def attacked(request, tmp_path_factory):
    slug = request.param
    course = Course.create(tmp_path_factory.mktemp(f"attack-{slug}"), slug)
    release = json.loads(course.generate().read_text())
    first = next(c for c in release["cells"] if nbgrader_meta(c).get("solution"))
    isolated = _isolated()
    subs = {}
    skipped = []
    for name, code, tags in _attacks():
        if "needs-isolation" in tags and not isolated:
            skipped.append(name)  # it would damage this machine without the sandbox
            continue
        nb = json.loads(json.dumps(release))
        cell = next(c for c in nb["cells"] if nbgrader_meta(c) == nbgrader_meta(first))
        src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        cell["source"] = src + "\n\n# --- hostile code ---\n" + code
        dest = course.root / "submitted" / f"attack-{name}" / slug / f"{slug}.ipynb"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(json.dumps(nb))
        subs[name] = (dest, tags)
    started = time.time()
    hide = _hidden_paths(course.source_nb, [p for p, _ in subs.values()])
    results = {
        name: regrade_notebook(course.source_nb, path, timeout=TIMEOUT, hide=hide)
        for name, (path, _) in subs.items()
    }
    SUMMARY.append(
        f"{slug}: attacks scoring 0 in the authoritative grade: "
        f"{sum(r.points == 0 for r in results.values())}/{len(results)}"
        + (f" (not run without isolation: {', '.join(skipped)})" if skipped else "")
    )
    return course, subs, results, started


def test_every_attack_scores_zero_and_the_batch_completes(attacked):
    course, subs, results, _ = attacked
    assert set(results) == set(subs), "the batch did not grade every submission"
    wrong = {
        name: {c.grade_id: c.points for c in r.cells if c.points}
        for name, r in results.items()
        if r.points != 0
    }
    assert not wrong, f"{course.slug}: hostile submissions earned points: {wrong}"
    for name, r in results.items():
        assert r.cells and all(c.error for c in r.cells), f"{name}: a cell has no verdict"


def _orphans() -> list[tuple[int, list[str] | None]]:
    """Processes of a learner sandbox whose sandbox is gone: a live grader's runner (other tests
    may be grading in parallel) still has its directory; whatever an attack left behind does
    not."""
    found = []
    for p in psutil.process_iter(["cmdline", "status"]):
        try:
            if p.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            where = p.environ().get("MPLCONFIGDIR", "")
        except (psutil.Error, OSError):
            continue
        if "gotchalab-sandbox-" in where:
            sandbox = Path(where.split("gotchalab-sandbox-")[0]) / (
                "gotchalab-sandbox-" + where.split("gotchalab-sandbox-")[1].split("/")[0]
            )
            if not sandbox.exists():
                found.append((p.pid, p.info["cmdline"]))
    return found


def test_no_attack_process_outlives_the_grade(attacked):
    deadline = time.monotonic() + 10  # a process being reaped may show for a moment
    while (survivors := _orphans()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not survivors, f"processes left running by the attacks: {survivors}"


def test_grader_files_are_untouched(attacked):
    import gotchalab

    pkg = Path(gotchalab.__file__).parent
    for path in pkg.glob("*.py"):
        assert "def fail(*a, **k):\n    return None" not in path.read_text(), path


@pytest.fixture(scope="module")
def in_kernel(attacked, tmp_path_factory):
    """The attacks marked as fooling an in-kernel grade, graded by a real ``nbgrader autograde``
    in a course of their own (never the destructive ones: nbgrader runs them unconfined)."""
    course, subs, _, _ = attacked
    real = [name for name, (_, tags) in subs.items() if "earns-points-in: nbgrader" in tags]
    kernel_course = Course.create(tmp_path_factory.mktemp(f"kernel-{course.slug}"), course.slug)
    kernel_course.generate()
    for name in real:
        dest = kernel_course.submission(f"attack-{name}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(subs[name][0].read_text())
        kernel_course.students.append(f"attack-{name}")
    kernel_course.autograde()
    return kernel_course, real


def test_attacks_marked_as_real_do_fool_an_in_kernel_grade(in_kernel):
    """The catalogue attacks something real: in nbgrader's own kernel they earn points."""
    course, real = in_kernel
    assert real
    fooled = {name: sum(s for s, _ in course.scores(f"attack-{name}").values()) for name in real}
    full = sum(m for _, m in course.scores(f"attack-{real[0]}").values())
    SUMMARY.append(
        f"{course.slug}: in nbgrader's own kernel the hostile submissions earn "
        + ", ".join(f"{name} {pts:g}/{full:g}" for name, pts in sorted(fooled.items()))
    )
    # Which of them fool a chapter's in-kernel grade depends on how its checkers are bound; the
    # catalogue must fool it somehow in every chapter (and the judge, above, in none).
    assert any(fooled.values()), f"{course.slug}: no attack earns anything even in nbgrader"


def test_the_authoritative_grade_overrides_nbgraders_in_the_gradebook(attacked, in_kernel):
    """Written back into the gradebook (manual scores), the judge's zeros replace the points the
    attacks earned in nbgrader's kernel, and `nbgrader export` reports them."""
    from gotchalab.grading import _write_gradebook

    course, real = in_kernel
    _, _, results, _ = attacked
    real = [n for n in real if sum(s for s, _ in course.scores(f"attack-{n}").values()) > 0]
    db = f"sqlite:///{course.root}/gradebook.db"
    # The judge graded copies in another folder: name each result by this course's submission.
    from dataclasses import replace

    mine = [replace(results[n], submission=str(course.submission(f"attack-{n}"))) for n in real]
    written = _write_gradebook(db, course.slug, mine)
    assert written == sum(len(r.cells) for r in mine)
    for name in real:
        assert sum(s for s, _ in course.scores(f"attack-{name}").values()) == 0, name
    course.nbgrader("export", "--to", str(course.root / "grades.csv"))
    rows = (course.root / "grades.csv").read_text().splitlines()
    header = rows[0].split(",")
    seen = 0
    for row in rows[1:]:
        cells = dict(zip(header, row.split(","), strict=False))
        if cells.get("student_id", "").startswith("attack-"):
            seen += 1
            assert float(cells["raw_score"]) == 0, row
    assert seen >= len(real)
