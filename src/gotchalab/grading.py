"""An authoritative re-grade: each graded cell in a fresh process, with the graders restored.

``nbgrader autograde`` restores the test cells from the gradebook, but it runs the learner's cells
in the same kernel as the graders, so a solution cell can patch a grader
(``gotchalab.check.fail = print``) and earn full marks. :func:`regrade` closes that gap:

1. every graded cell runs in its own fresh Python process (no state from other cells);
2. the process imports every ``gotchalab`` module *before* any learner code runs and snapshots
   each module's namespace and each of its classes' attributes;
3. it runs the instructor's setup cells and the learner's solution cells (only those: the source
   of the graded cells comes from the instructor's notebook, hidden tests included);
4. it restores every snapshot, so whatever the learner's code patched in ``gotchalab`` is undone
   and named as tampering in the result;
5. it runs the graded cell: points if it finishes, zero if it raises or times out.

This works because the graders keep no kernel state: given only the learner's source, the same
check gives the same verdict. It is a defence against the easy patches, not a sandbox: code that
the learner submits still runs with the learner's rights, so run instructor re-grades in the same
isolation (container, unprivileged user) you would give ``nbgrader autograde``.

    python -m gotchalab.grading solutions/02-x/02-x.ipynb submitted/alice/02-x/02-x.ipynb
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import pkgutil
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CellResult", "regrade", "main", "cell_source", "nbgrader_meta", "strip_markers"]

_MARKER = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)
_HIDDEN = re.compile(r"^[ \t]*### (BEGIN|END) HIDDEN TESTS[ \t]*\n?", re.MULTILINE)


@dataclass
class CellResult:
    """The verdict on one graded cell."""

    grade_id: str
    points: float
    max_points: float
    error: str | None = None
    tampered: list[str] = field(default_factory=list)


def _cells(path: Path) -> list[dict[str, Any]]:
    try:
        nb = json.loads(Path(path).read_text())
        return nb["cells"]
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{path}: not a readable notebook ({exc})") from exc


def cell_source(cell: dict[str, Any]) -> str:
    """A notebook cell's source as one string (nbformat allows a list of lines too)."""
    s = cell.get("source", "")
    return s if isinstance(s, str) else "".join(s)


def nbgrader_meta(cell: dict[str, Any]) -> dict[str, Any]:
    """A cell's nbgrader metadata (empty for cells nbgrader does not manage)."""
    return cell.get("metadata", {}).get("nbgrader", {})


def strip_markers(source: str) -> str:
    """A solution cell's source without its ``### BEGIN/END SOLUTION`` lines."""
    return _MARKER.sub("", source)


def _without_magics(src: str) -> str:
    return "\n".join(line for line in src.splitlines() if not line.lstrip().startswith(("%", "!")))


def regrade(
    source: Path | str, submission: Path | str, *, timeout: float = 120.0
) -> list[CellResult]:
    """Grade ``submission`` against the instructor notebook ``source``, one process per cell."""
    src_cells = _cells(Path(source))
    sub_by_id = {
        nbgrader_meta(c)["grade_id"]: cell_source(c)
        for c in _cells(Path(submission))
        if nbgrader_meta(c).get("solution")
    }
    # The program each cell's process runs, in notebook order: instructor code cells, except
    # that solution cells take the learner's source (or the stub if the learner deleted one).
    prelude: list[tuple[str, str]] = []
    results = []
    for cell in src_cells:
        if cell.get("cell_type") != "code":
            continue
        meta = nbgrader_meta(cell)
        gid = meta.get("grade_id", "cell")
        if meta.get("solution"):
            prelude.append(
                (gid, _without_magics(sub_by_id.get(gid, "raise NotImplementedError()")))
            )
        elif meta.get("grade"):
            test = _without_magics(_HIDDEN.sub("", cell_source(cell)))
            results.append(_run_cell(gid, float(meta.get("points", 0)), prelude, test, timeout))
        else:
            prelude.append((gid, _without_magics(strip_markers(cell_source(cell)))))
    if not results:
        raise ValueError(f"{source}: no graded cells (metadata.nbgrader.grade) found")
    return results


def _run_cell(
    gid: str, points: float, prelude: list[tuple[str, str]], test: str, timeout: float
) -> CellResult:
    payload = json.dumps({"prelude": prelude, "test": test, "grade_id": gid})
    env = dict(os.environ, MPLBACKEND="Agg")
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "gotchalab.grading", "--worker"],
            input=payload,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return CellResult(gid, 0.0, points, f"timed out after {timeout:g} s")
    try:
        verdict = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        tail = (proc.stdout + proc.stderr)[-1500:]
        return CellResult(
            gid, 0.0, points, f"the grading process died (exit {proc.returncode}): {tail}"
        )
    ok = verdict["error"] is None
    return CellResult(gid, points if ok else 0.0, points, verdict["error"], verdict["tampered"])


# -- the worker (runs in the fresh process) -----------------------------------------------------


def _snapshot() -> dict[str, Any]:
    import gotchalab

    mods = {"gotchalab": gotchalab}
    for info in pkgutil.walk_packages(gotchalab.__path__, "gotchalab."):
        if info.name == "gotchalab.grading":
            continue
        mods[info.name] = importlib.import_module(info.name)
    snap: dict[str, Any] = {}
    for name, mod in mods.items():
        snap[name] = (mod, dict(vars(mod)))
        for attr, value in list(vars(mod).items()):
            if inspect.isclass(value) and value.__module__ == name:
                snap[f"{name}.{attr}"] = (value, dict(vars(value)))
    return snap


def _restore(snap: dict[str, Any]) -> list[str]:
    """Undo replaced or added functions and classes; name each one. Data is left alone (a
    module's own caches, such as the shared server, legitimately change while cells run)."""
    changed = []
    for name, (obj, saved) in snap.items():
        current = dict(vars(obj))
        for key in set(current) | set(saved):
            if key in ("__dict__", "__weakref__"):
                continue
            old, new = saved.get(key, _MISSING), current.get(key, _MISSING)
            if not (_is_code(old) or _is_code(new)):
                continue
            if old is not new:
                changed.append(f"{name}.{key}")
                if inspect.ismodule(obj):
                    if key in saved:
                        vars(obj)[key] = saved[key]
                    else:
                        del vars(obj)[key]
                elif key in saved:
                    setattr(obj, key, saved[key])
                else:
                    delattr(obj, key)
    return sorted(changed)


_MISSING = object()


def _is_code(value: Any) -> bool:
    return callable(value) or isinstance(value, (staticmethod, classmethod, property))


def _worker() -> None:
    job = json.loads(sys.stdin.read())
    import matplotlib

    matplotlib.use("Agg")
    snap = _snapshot()
    ns: dict[str, Any] = {"__name__": "__main__"}
    error = None
    try:
        for gid, code in job["prelude"]:
            exec(compile(code, f"<cell {gid}>", "exec"), ns)
    except BaseException as exc:  # noqa: BLE001 - a learner's cell may raise anything
        error = f"a cell before the test raised {type(exc).__name__}: {exc}"
    tampered = _restore(snap)
    if error is None:
        try:
            exec(compile(job["test"], f"<test {job['grade_id']}>", "exec"), ns)
        except BaseException as exc:  # noqa: BLE001
            error = f"{type(exc).__name__}: {exc}"
    sys.stdout.flush()
    print("\n" + json.dumps({"error": error, "tampered": tampered}), flush=True)
    # Skip atexit handlers a learner may have registered (one could print a fake verdict), but
    # first stop any server this process started, as the normal exit path would.
    _stop_services()
    os._exit(0)


def _stop_services() -> None:
    services = sys.modules.get("gotchalab.services")
    stop = getattr(services, "_stop_all", None) if services is not None else None
    if callable(stop):
        stop()


def main(argv: list[str] | None = None) -> int:
    import argparse

    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--worker"]:
        _worker()
        return 0
    ap = argparse.ArgumentParser(
        prog="python -m gotchalab.grading", description=__doc__.splitlines()[0]
    )
    ap.add_argument("source", help="the instructor notebook (solutions/NN-slug/NN-slug.ipynb)")
    ap.add_argument("submissions", nargs="+", help="learner notebooks to grade")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per graded cell")
    args = ap.parse_args(argv)
    for sub in args.submissions:
        res = regrade(args.source, sub, timeout=args.timeout)
        got, full = sum(r.points for r in res), sum(r.max_points for r in res)
        print(f"{sub}: {got:g}/{full:g}")
        for r in res:
            line = f"  {r.grade_id:<44} {r.points:g}/{r.max_points:g}"
            if r.tampered:
                line += f"  TAMPERED: {', '.join(r.tampered)}"
            if r.error:
                line += f"  ({r.error.splitlines()[0][:120]})"
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
