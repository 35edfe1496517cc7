"""Run nbgrader in a throwaway course directory: release, submit, autograde, read scores.

Used by ``tools/release.py`` (to generate ``exercises/`` and to check it is fresh) and by the
grader proofs in ``tests/test_grading.py``. A temporary course keeps the instructor's own
``gradebook.db`` untouched and makes every run start from the same state.

nbgrader is driven through its command line (the supported interface) with the virtualenv's
``bin/`` first on PATH, because nbgrader runs ``alembic`` from PATH when it creates a gradebook.
Scores are read from the gradebook with ``nbgrader.api.Gradebook``: ``nbgrader validate`` exits 0
even when tests fail, so its exit code proves nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from gotchalab.grading import cell_source, nbgrader_meta, strip_markers

__all__ = [
    "Course",
    "Mutant",
    "chapters",
    "load_mutants",
    "solution_sources",
    "strip_markers",
    "INDEPENDENT_MUTANTS",
]

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
MUTANTS = ROOT / "tests" / "mutants"
INDEPENDENT_MUTANTS = ROOT / "tests" / "independent_mutants"

_CONFIG = """\
c = get_config()  # noqa: F821
c.CourseDirectory.root = {root!r}
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///{root}/gradebook.db"
c.ExecutePreprocessor.timeout = 120
c.Execute.timeout = 120
from gotchalab.feedback import configure as _feedback
_feedback(c)
"""


def chapters() -> list[str]:
    """The chapter slugs that have an nbgrader source notebook, in order."""
    if not SOLUTIONS.is_dir():
        return []
    return sorted(p.name for p in SOLUTIONS.iterdir() if (p / f"{p.name}.ipynb").is_file())


def _env() -> dict[str, str]:
    env = dict(os.environ)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


@dataclass
class Mutant:
    """A known-buggy implementation, written as changes to the solution cells.

    ``cells`` replaces a solution cell's whole source; ``edits`` replaces one exact snippet of the
    solution by another (the usual case: a mutant is one mistake, and says so in a few lines).
    """

    name: str
    doc: str
    expect_fail: list[str]
    cells: dict[str, str]
    edits: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def sources(self, solution: dict[str, str]) -> dict[str, str]:
        """The mutated solution cells, given the solution's cells (markers stripped)."""
        out = dict(self.cells)
        for gid, changes in self.edits.items():
            if gid not in solution:
                raise ValueError(
                    f"mutant {self.name}: edits unknown solution cell {gid!r}; "
                    f"solution cells are {sorted(solution)}"
                )
            text = out.get(gid, solution[gid])
            for old, new in changes:
                found = text.count(old)
                if found != 1:
                    raise ValueError(
                        f"mutant {self.name}: the snippet to replace in {gid!r} occurs {found} "
                        f"times in the solution (expected exactly once):\n{old}"
                    )
                text = text.replace(old, new)
            out[gid] = text
        return out


_SECTION = re.compile(r"^# %% (cell|edit):[ \t]*(\S+)[ \t]*$", re.MULTILINE)


def _uncomment(block: str) -> str:
    lines = block.strip("\n").splitlines()
    bad = [ln for ln in lines if ln and not ln.startswith("#")]
    if bad:
        raise ValueError(f"every line of an edit is a comment ('# ' + code); got {bad[0]!r}")
    return "\n".join(ln[2:] if ln.startswith("# ") else ln[1:] for ln in lines) + "\n"


def _parse_edit(body: str, where: str) -> list[tuple[str, str]]:
    pieces = re.split(r"^# (replace|with):[ \t]*$", body, flags=re.MULTILINE)
    kinds = pieces[1::2]
    if not kinds or kinds != ["replace", "with"] * (len(kinds) // 2):
        raise ValueError(f"{where}: an edit is pairs of '# replace:' and '# with:' blocks")
    texts = pieces[2::2]
    return [(_uncomment(texts[i]), _uncomment(texts[i + 1])) for i in range(0, len(texts), 2)]


def load_mutants(slug: str, root: Path | None = None) -> list[Mutant]:
    """Parse ``<root>/<slug>/*.py`` (format in CONTRIBUTING.md); ``root`` defaults to the
    project's own ``tests/mutants``; ``INDEPENDENT_MUTANTS`` holds those written from the release
    alone."""
    out = []
    for path in sorted(((MUTANTS if root is None else root) / slug).glob("*.py")):
        text = path.read_text()
        doc_match = re.match(r'\s*"""(.*?)"""', text, re.DOTALL)
        if not doc_match:
            raise ValueError(f"{path}: a mutant starts with a docstring saying what is wrong")
        expect = re.findall(r"^# expect-fail:\s*(\S+)\s*$", text, re.MULTILINE)
        parts = _SECTION.split(text)
        cells: dict[str, str] = {}
        edits: dict[str, list[tuple[str, str]]] = {}
        for i in range(1, len(parts), 3):
            kind, gid, body = parts[i], parts[i + 1], parts[i + 2]
            if kind == "cell":
                cells[gid] = body.strip("\n") + "\n"
            else:
                edits.setdefault(gid, []).extend(_parse_edit(body, f"{path.name}: {gid}"))
        if not expect or not (cells or edits):
            raise ValueError(
                f"{path}: needs at least one '# expect-fail: <grade_id>' line and one "
                "'# %% cell: <grade_id>' or '# %% edit: <grade_id>' section"
            )
        out.append(Mutant(path.stem, " ".join(doc_match.group(1).split()), expect, cells, edits))
    return out


def solution_sources(source_nb: Path) -> dict[str, str]:
    """``grade_id -> source`` of every solution cell of an instructor notebook, markers stripped."""
    source = json.loads(Path(source_nb).read_text())
    return {
        nbgrader_meta(c)["grade_id"]: strip_markers(cell_source(c))
        for c in source["cells"]
        if nbgrader_meta(c).get("solution")
    }


@dataclass
class Course:
    """A temporary nbgrader course holding one chapter's assignment."""

    root: Path
    slug: str
    students: list[str] = field(default_factory=list)

    @classmethod
    def create(cls, root: Path, slug: str) -> Course:
        root.mkdir(parents=True, exist_ok=True)
        (root / "nbgrader_config.py").write_text(_CONFIG.format(root=str(root)))
        src = root / "source" / slug
        src.mkdir(parents=True, exist_ok=True)
        shutil.copy(SOLUTIONS / slug / f"{slug}.ipynb", src / f"{slug}.ipynb")
        return cls(root, slug)

    def nbgrader(self, *args: str) -> subprocess.CompletedProcess:
        cmd = [str(Path(sys.executable).parent / "nbgrader"), *args]
        proc = subprocess.run(cmd, cwd=self.root, env=_env(), capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(
                f"nbgrader {' '.join(args)} failed (exit {proc.returncode}):\n"
                f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
            )
        return proc

    @property
    def source_nb(self) -> Path:
        return self.root / "source" / self.slug / f"{self.slug}.ipynb"

    @property
    def release_nb(self) -> Path:
        return self.root / "release" / self.slug / f"{self.slug}.ipynb"

    def generate(self) -> Path:
        self.nbgrader("generate_assignment", self.slug, "--force")
        return self.release_nb

    def submit(self, student: str, cells: dict[str, str] | None = None) -> Path:
        """Submit the release with solution cells filled in.

        ``cells=None`` submits the release untouched (the stub). Otherwise every solution cell
        gets the instructor's solution (markers stripped) unless ``cells`` replaces it.
        """
        nb = json.loads(self.release_nb.read_text())
        if cells is not None:
            solution = solution_sources(self.source_nb)
            unknown = set(cells) - set(solution)
            if unknown:
                raise ValueError(
                    f"{self.slug}: replacement for unknown solution cells {sorted(unknown)}; "
                    f"solution cells are {sorted(solution)}"
                )
            for c in nb["cells"]:
                meta = nbgrader_meta(c)
                if meta.get("solution"):
                    gid = meta["grade_id"]
                    c["source"] = cells.get(gid, solution[gid])
        dest = self.root / "submitted" / student / self.slug / f"{self.slug}.ipynb"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(json.dumps(nb, indent=1))
        self.students.append(student)
        return dest

    def release_sources(self) -> dict[str, str]:
        """``grade_id -> source`` of the release's solution cells (the stubs)."""
        nb = json.loads(self.release_nb.read_text())
        return {
            nbgrader_meta(c)["grade_id"]: cell_source(c)
            for c in nb["cells"]
            if nbgrader_meta(c).get("solution")
        }

    def submission(self, student: str) -> Path:
        return self.root / "submitted" / student / self.slug / f"{self.slug}.ipynb"

    def autograde(self) -> None:
        self.nbgrader("autograde", self.slug, "--force")

    def scores(self, student: str) -> dict[str, tuple[float, float]]:
        """``grade_id -> (score, max_score)`` for every graded cell of ``student``."""
        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{self.root}/gradebook.db") as gb:
            sub = gb.find_submission_notebook(self.slug, self.slug, student)
            return {g.name: (float(g.score), float(g.max_score)) for g in sub.grades}

    def feedback(self) -> None:
        self.nbgrader("generate_feedback", self.slug, "--force")
