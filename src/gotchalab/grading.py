"""The authoritative grade: checkers in a judge process that no learner code ever reaches.

``nbgrader autograde`` runs the learner's cells in the same kernel as the graders, so a solution
cell can rebind a checker, patch a builtin, or print a fake verdict. Here:

1. A **judge** process (``python -m gotchalab.grading --judge``) reads the instructor's notebook
   and the learner's solution cells as text. It runs the instructor's set-up cells itself and
   never executes a line of learner code.
2. The learner's cells run in a **runner** (:mod:`gotchalab.sandbox`): an unprivileged user in its
   own mount/PID/network namespaces when graded as root (rlimits always), where the instructor's
   notebooks, the gradebook and other learners' submissions are hidden. The runner executes the
   instructor's set-up cells too (so the learner's code sees what the notebook promised), then the
   learner's cells, in notebook order. An error in an ungraded cell is named, and grading goes on,
   as nbgrader does.
3. Each graded cell's source, hidden tests included, comes from the instructor's notebook and runs
   in the judge. The names it uses come from the judge's own namespace: the checkers the
   instructor's set-up imported, and, for each name the *instructor's* solution cell defines, a
   proxy to the learner's object of that name. Rebinding ``check_strategy`` in a learner cell
   changes nothing the judge sees.
4. Only plain data crosses from the runner (see :mod:`gotchalab.sandbox`); the verdict is the
   judge's: a graded cell earns its points if it finishes without raising, within its time limit.
   A runner that hangs is killed at the cell's limit; one that dies (``os._exit``, out of memory)
   is replaced by a fresh one for the next cell.

The result can be printed, written as CSV, and written into an nbgrader gradebook (each cell's
``manual_score``, which nbgrader's score and ``nbgrader export`` then use)::

    python -m gotchalab.grading solutions/02-x/02-x.ipynb submitted/*/02-x/02-x.ipynb \\
        --csv authoritative.csv --gradebook sqlite:///gradebook.db
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CellResult",
    "NotebookResult",
    "regrade",
    "regrade_notebook",
    "main",
    "cell_source",
    "nbgrader_meta",
    "strip_markers",
    "hidden_lines",
]

_MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)
_HIDDEN = re.compile(r"^[ \t]*### (BEGIN|END) HIDDEN TESTS[ \t]*\n?", re.MULTILINE)
_HIDDEN_BLOCK = re.compile(
    r"^[ \t]*### BEGIN HIDDEN TESTS[ \t]*\n(.*?)^[ \t]*### END HIDDEN TESTS",
    re.MULTILINE | re.DOTALL,
)


@dataclass
class CellResult:
    """The verdict on one graded cell."""

    grade_id: str
    points: float
    max_points: float
    error: str | None = None
    seconds: float = 0.0


@dataclass
class NotebookResult:
    """The verdict on one submitted notebook: its cells, and notes on ungraded cells' errors."""

    submission: str
    cells: list[CellResult]
    notes: list[str] = field(default_factory=list)
    isolation: str = ""
    seconds: float = 0.0

    @property
    def points(self) -> float:
        return sum(c.points for c in self.cells)

    @property
    def max_points(self) -> float:
        return sum(c.max_points for c in self.cells)


# -- notebook helpers (shared with the release tools and tests) -----------------------------------


def _cells(path: Path) -> list[dict[str, Any]]:
    try:
        nb = json.loads(Path(path).read_text())
        cells = nb["cells"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a readable notebook ({exc})") from exc
    if not isinstance(cells, list):
        raise ValueError(f"{path}: not a readable notebook (cells is not a list)")
    return cells


def cell_source(cell: dict[str, Any]) -> str:
    """A notebook cell's source as one string (nbformat allows a list of lines too)."""
    s = cell.get("source", "")
    return s if isinstance(s, str) else "".join(s)


def nbgrader_meta(cell: dict[str, Any]) -> dict[str, Any]:
    """A cell's nbgrader metadata (empty for cells nbgrader does not manage)."""
    meta = cell.get("metadata", {})
    return meta.get("nbgrader", {}) if isinstance(meta, dict) else {}


def strip_markers(source: str) -> str:
    """A solution cell's source without its ``### BEGIN/END SOLUTION`` lines."""
    return _MARKER.sub("", source)


def hidden_lines(source: str) -> list[str]:
    """The non-blank lines between ``### BEGIN/END HIDDEN TESTS`` of a test cell's source."""
    out = []
    for block in _HIDDEN_BLOCK.findall(source):
        out.extend(line.strip() for line in block.splitlines() if line.strip())
    return out


def _without_magics(src: str) -> str:
    return "\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!")))


def _defined_names(source: str) -> set[str]:
    """Top-level names a cell binds (def, class, assignment, import)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                names.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _used_names(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


# -- the plan: which cell runs where --------------------------------------------------------------


def _plan(source: Path, submission: Path) -> dict[str, Any]:
    """Cells in notebook order, as plain data for the judge: each ``(kind, grade_id, code)`` with
    kind ``setup`` (instructor, runs in both), ``learner`` (runner only), ``try`` (instructor
    code that uses learner names: runner only) or ``test`` (judge only, hidden tests included)."""
    src_cells = _cells(source)
    sub_cells = _cells(submission)
    by_id: dict[str, str] = {}
    for c in sub_cells:
        meta = nbgrader_meta(c)
        if (
            isinstance(meta, dict)
            and meta.get("solution")
            and isinstance(meta.get("grade_id"), str)
        ):
            by_id.setdefault(meta["grade_id"], cell_source(c))
    learner_names: set[str] = set()
    steps: list[list[Any]] = []
    graded = 0
    for i, cell in enumerate(src_cells):
        if cell.get("cell_type") != "code":
            continue
        meta = nbgrader_meta(cell)
        gid = meta.get("grade_id", f"cell-{i}")
        if meta.get("solution"):
            learner_names |= _defined_names(strip_markers(cell_source(cell)))
            code = by_id.get(gid)
            missing = code is None
            steps.append(
                ["learner", gid, _without_magics(code or "raise NotImplementedError()"), missing]
            )
        elif meta.get("grade"):
            graded += 1
            steps.append(
                [
                    "test",
                    gid,
                    _without_magics(_HIDDEN.sub("", cell_source(cell))),
                    float(meta.get("points", 0)),
                ]
            )
        else:
            code = _without_magics(strip_markers(cell_source(cell)))
            kind = "try" if _used_names(code) & learner_names else "setup"
            steps.append([kind, gid, code, None])
    if not graded:
        raise ValueError(f"{source}: no graded cells (metadata.nbgrader.grade) found")
    return {"steps": steps, "learner_names": sorted(learner_names)}


def _course_root(path: Path) -> Path | None:
    for parent in path.resolve().parents:
        if (parent / "nbgrader_config.py").is_file():
            return parent
    return None


def _hidden_paths(source: Path, submissions: list[Path]) -> list[str]:
    """What the learner's process must not see: the instructor's notebooks, the gradebook,
    submissions (other learners' too), graded and feedback copies."""
    hide: set[Path] = {source.resolve().parent.parent}
    for sub in submissions:
        parts = sub.resolve().parents
        # submitted/<student>/<assignment>/<nb>.ipynb -> hide submitted/
        hide.add(parts[2] if len(parts) > 2 else parts[0])
    roots = {_course_root(source)}
    # The course this library was installed from (an editable install inside the instructor's
    # repository) holds the instructor notebooks and their git history too.
    pkg_repo = Path(__file__).resolve().parents[2]
    if (pkg_repo / "nbgrader_config.py").is_file():
        roots.add(pkg_repo)
    for root in roots - {None}:
        for name in (
            "source",
            "solutions",
            "submitted",
            "autograded",
            "feedback",
            "release",
            ".git",
            "tests",
        ):
            if (root / name).exists():
                hide.add(root / name)
        for db in root.glob("*.db"):
            hide.add(db)
    hide.add(Path(tempfile.gettempdir()) / "gotchalab-grading-jobs")
    return sorted(str(p) for p in hide if p != Path("/"))


# -- the orchestrator -----------------------------------------------------------------------------


def regrade_notebook(
    source: Path | str,
    submission: Path | str,
    *,
    timeout: float = 120.0,
    hide: list[str] | None = None,
) -> NotebookResult:
    """Grade one submitted notebook against the instructor notebook ``source``."""
    source, submission = Path(source), Path(submission)
    started = time.perf_counter()
    try:
        plan = _plan(source, submission)
    except ValueError as exc:
        if "no graded cells" in str(exc):
            raise
        # A broken submission: every graded cell of the source scores 0, with the reason.
        cells = [
            CellResult(
                nbgrader_meta(c)["grade_id"],
                0.0,
                float(nbgrader_meta(c).get("points", 0)),
                str(exc),
            )
            for c in _cells(source)
            if nbgrader_meta(c).get("grade")
        ]
        return NotebookResult(str(submission), cells, [str(exc)], "", time.perf_counter() - started)
    tests = [s for s in plan["steps"] if s[0] == "test"]
    job = {
        "plan": plan,
        "timeout": timeout,
        "hide": hide if hide is not None else _hidden_paths(source, [submission]),
    }
    jobs_dir = Path(tempfile.gettempdir()) / "gotchalab-grading-jobs"
    jobs_dir.mkdir(mode=0o700, exist_ok=True)
    with tempfile.NamedTemporaryFile("r", dir=jobs_dir, suffix=".json", delete=False) as out:
        result_path = Path(out.name)
    job["result"] = str(result_path)
    env = dict(os.environ, MPLBACKEND="Agg")
    total_limit = timeout * (len(tests) + 2) + 120
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "gotchalab.grading", "--judge"],
            input=json.dumps(job),
            capture_output=True,
            text=True,
            timeout=total_limit,
            env=env,
        )
        data = json.loads(result_path.read_text() or "null")
    except subprocess.TimeoutExpired:
        data, proc = None, None
    except ValueError:
        data = None
    finally:
        result_path.unlink(missing_ok=True)
    by_gid = {}
    if isinstance(data, dict):
        by_gid = {c["grade_id"]: c for c in data.get("cells", [])}
    cells = []
    for _, gid, _, points in tests:
        got = by_gid.get(gid)
        if got is None:
            why = "the judge did not finish" + (
                f" (exit {proc.returncode}): {(proc.stderr or '')[-800:]}" if proc else " in time"
            )
            cells.append(CellResult(gid, 0.0, points, why))
        else:
            ok = got["error"] is None
            cells.append(
                CellResult(
                    gid, points if ok else 0.0, points, got["error"], got.get("seconds", 0.0)
                )
            )
    notes = data.get("notes", []) if isinstance(data, dict) else []
    isolation = data.get("isolation", "") if isinstance(data, dict) else ""
    return NotebookResult(str(submission), cells, notes, isolation, time.perf_counter() - started)


def regrade(
    source: Path | str, submission: Path | str, *, timeout: float = 120.0
) -> list[CellResult]:
    """The per-cell verdicts on ``submission`` (see :func:`regrade_notebook`)."""
    return regrade_notebook(source, submission, timeout=timeout).cells


# -- the judge (runs in its own process; never executes learner code) -----------------------------


def _judge() -> None:
    job = json.loads(sys.stdin.read())
    import matplotlib

    matplotlib.use("Agg")
    from . import services
    from .sandbox import LearnerDied, Runner

    plan = job["plan"]
    learner_names: list[str] = plan["learner_names"]
    timeout = float(job["timeout"])
    ns: dict[str, Any] = {"__name__": "__main__"}
    notes: list[str] = []
    results: list[dict[str, Any]] = []
    runner: Runner | None = None
    done = 0  # steps the current runner has executed
    isolation = ""

    def start_runner() -> Runner:
        # The learner's code reaches the notebook's server, and nothing else: an embedded server
        # through its Unix socket from a process with no network; an existing server (a URL)
        # over the machine's network.
        env = {}
        live = [s for s in list(services._LIVE) if getattr(s, "dsn", None)]
        network = False
        if live:
            local = getattr(live[0], "local_dsn", None)
            env["GOTCHALAB_POSTGRES_URL"] = local or live[0].dsn
            network = local is None
        return Runner(hide=job["hide"], network=network, env=env)

    def write() -> None:
        Path(job["result"]).write_text(
            json.dumps({"cells": results, "notes": notes, "isolation": isolation})
        )

    steps = plan["steps"]
    poisoned: set[int] = set()
    current: int | None = None
    for idx, (kind, gid, code, _extra) in enumerate(steps):
        if kind == "setup":
            try:
                exec(compile(code, f"<setup {gid}>", "exec"), ns)
            except Exception as exc:  # noqa: BLE001 - instructor set-up failing is reported
                notes.append(f"set-up cell {gid} failed in the judge: {type(exc).__name__}: {exc}")
            continue
        if kind != "test":
            continue
        # Bring a runner up to this point in the notebook (a fresh one replays every cell),
        # within the cell's time limit: a learner cell that hangs is stopped, named, and left
        # out when a later cell needs a fresh runner.
        error = None
        clock = _Deadline(timeout)
        try:
            if runner is None:
                runner = start_runner()
                isolation = runner.isolation
                done = 0
            clock.arm(runner)
            for k in range(done, idx):
                skind, sgid, scode, sextra = steps[k]
                if skind == "test" or k in poisoned:
                    continue
                current = k
                err = runner.exec_cell(sgid, scode)
                if err and skind != "setup":
                    what = "your cell" if skind == "learner" else "ungraded cell"
                    note = f"{what} {sgid} raised {err}"
                    if skind == "learner" and sextra:
                        note = f"solution cell {sgid} is missing from the submission"
                    if note not in notes:
                        notes.append(note)
            current = None
            done = idx
            found = runner.lookup(learner_names)
            for name in learner_names:
                if name in found:
                    ns[name] = found[name]
                else:
                    ns.pop(name, None)
        except LearnerDied as exc:
            if clock.expired and current is not None:
                poisoned.add(current)
                notes.append(f"cell {steps[current][1]} did not finish within {timeout:g} s")
                error = f"timed out after {timeout:g} s in cell {steps[current][1]}"
            else:
                error = f"the learner's process ended before this test could run: {exc}"
        finally:
            clock.cancel()
        t0 = time.perf_counter()
        if error is None:
            error = _run_test(ns, gid, code, timeout, runner)
        results.append({"grade_id": gid, "error": error, "seconds": time.perf_counter() - t0})
        write()
        if runner is not None and runner.proc.poll() is not None:
            runner.close()
            runner = None
    if runner is not None:
        runner.close()
    write()
    services._stop_all()
    os._exit(0)


class _Deadline:
    """Kill the learner's process if a phase outlives ``timeout`` seconds."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.expired = False
        self._timer: threading.Timer | None = None

    def arm(self, runner: Any) -> None:
        def expire() -> None:
            self.expired = True
            runner.kill()

        self._timer = threading.Timer(self.timeout, expire)
        self._timer.daemon = True
        self._timer.start()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


def _run_test(ns: dict[str, Any], gid: str, code: str, timeout: float, runner: Any) -> str | None:
    from .check import _error_text

    clock = _Deadline(timeout)
    if runner is not None:
        clock.arm(runner)
    try:
        exec(compile(code, f"<test {gid}>", "exec"), ns)
        error = None
    except BaseException as exc:  # noqa: BLE001 - every failure is a verdict
        error = _error_text(exc)
    finally:
        clock.cancel()
    if clock.expired:
        return f"timed out after {timeout:g} s: the learner's process was stopped"
    return error


# -- command line ---------------------------------------------------------------------------------


def _write_csv(path: Path, results: list[NotebookResult], assignment: str) -> None:
    import csv

    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["submission", "assignment", "grade_id", "points", "max_points", "error", "notes"]
        )
        for nb in results:
            for c in nb.cells:
                w.writerow(
                    [
                        nb.submission,
                        assignment,
                        c.grade_id,
                        f"{c.points:g}",
                        f"{c.max_points:g}",
                        (c.error or "").splitlines()[0][:300] if c.error else "",
                        "; ".join(nb.notes)[:500],
                    ]
                )


def _student_of(sub: Path) -> str | None:
    """``submitted/<student>/<assignment>/<nb>.ipynb`` -> student."""
    parts = sub.resolve().parts
    return parts[-3] if len(parts) >= 3 else None


def _write_gradebook(db_url: str, assignment: str, results: list[NotebookResult]) -> int:
    """Set each graded cell's ``manual_score`` to the authoritative points (nbgrader's score and
    ``nbgrader export`` then use it). Returns the number of grades written."""
    from nbgrader.api import Gradebook, MissingEntry

    written = 0
    with Gradebook(db_url) as gb:
        for nb in results:
            student = _student_of(Path(nb.submission))
            notebook = Path(nb.submission).stem
            for c in nb.cells:
                try:
                    grade = gb.find_grade(c.grade_id, notebook, assignment, student)
                except MissingEntry:
                    continue
                grade.manual_score = c.points
                written += 1
        gb.db.commit()
    return written


def main(argv: list[str] | None = None) -> int:
    import argparse

    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--judge"]:
        _judge()
        return 0
    ap = argparse.ArgumentParser(
        prog="python -m gotchalab.grading", description=__doc__.splitlines()[0]
    )
    ap.add_argument("source", help="the instructor notebook (solutions/NN-slug/NN-slug.ipynb)")
    ap.add_argument("submissions", nargs="+", help="learner notebooks to grade")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per graded cell")
    ap.add_argument("--csv", type=Path, help="write every cell's verdict to this CSV file")
    ap.add_argument("--json", type=Path, help="write the full results as JSON")
    ap.add_argument(
        "--gradebook",
        help="nbgrader database URL (sqlite:///gradebook.db): write each cell's points as its "
        "manual score, for submissions laid out as submitted/<student>/<assignment>/<nb>.ipynb",
    )
    args = ap.parse_args(argv)
    source = Path(args.source)
    if not source.is_file():
        ap.error(f"{source}: no such instructor notebook")
    subs = [Path(s) for s in args.submissions]
    hide = _hidden_paths(source, subs)
    assignment = source.stem
    results = []
    for sub in subs:
        if not sub.is_file():
            print(f"{sub}: no such file (skipped)")
            continue
        res = regrade_notebook(source, sub, timeout=args.timeout, hide=hide)
        results.append(res)
        print(f"{sub}: {res.points:g}/{res.max_points:g}  ({res.seconds:.1f} s; {res.isolation})")
        for note in res.notes:
            print(f"  note: {note}")
        for r in res.cells:
            line = f"  {r.grade_id:<44} {r.points:g}/{r.max_points:g}"
            if r.error:
                line += f"  ({r.error.splitlines()[0][:120]})"
            print(line)
    if args.csv:
        _write_csv(args.csv, results, assignment)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=1))
    if args.gradebook:
        n = _write_gradebook(args.gradebook, assignment, results)
        print(f"wrote {n} grades into {args.gradebook}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
