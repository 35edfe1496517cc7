"""Mechanical mutation testing of the graders: small AST changes to each solution cell.

    python tools/mutate.py 02-out-of-order-messages          # one chapter (or several, or none: all)
    python tools/mutate.py --list 06-stale-cache             # print the mutant ids, run nothing
    python tools/mutate.py --jobs 2 --timeout 90 09-slow-query

The hand-written mutants in ``tests/mutants/`` are classic mistakes; these are the boring ones a
grader should catch too. Each mutant changes one thing in one solution cell of
``solutions/<slug>/<slug>.ipynb`` and is **killed** when a graded cell raises (or the run times
out). A survivor is either listed in ``tests/mechanical/<slug>.toml`` as equivalent, with the
reason it cannot change what the instructions specify, or it is a grader gap.

Why not a mutation library. mutmut, cosmic-ray and mutatest (none of them is on the package index
this course installs from, so each would be a new dependency) all assume the code under test is a
module on disk and the tests are a pytest/unittest command: mutmut rewrites files under ``paths_to_mutate`` (3.x:
trampolines in a ``mutants/`` copy of the tree, functions only, needs fork), cosmic-ray mutates a
``module-path`` and runs a ``test-command`` per mutant, mutatest patches ``__pycache__`` of source
files. Here the code under test is a notebook cell, the tests are other cells of the same
notebook (with hidden tests that only the instructor notebook holds), and the verdict is
"which graded cell raised", with nbgrader's cell-by-cell semantics. Exporting cells to files and
wrapping the notebook as a pytest suite would be more code than the ``ast`` operators below, and
would lose the readable per-cell ids.

Operators (one change per mutant; unparsed source equal to the original is dropped, and so is a
mutant whose source equals one already generated):

* ``flip comparison``: ``<``/``<=``, ``>``/``>=``, ``==``/``!=``, ``in``/``not in``,
  ``is``/``is not``;
* ``constant``: integers +1 and -1 (so 0 -> 1 and 1 -> 0), ``True``/``False``;
* ``empty string``: a string replaced by ``""`` only where it is a category value (a short
  plain-word string: ``"equal"``, ``"idle in transaction"``) or starts with an SQL keyword (also
  the literal parts of an f-string); never a docstring or a keyword argument (titles, labels);
* ``swap arithmetic``: ``+``/``-`` (not on strings or lists), ``*``/``//``;
* ``swap and/or``, ``swap max/min``;
* ``remove call``: a statement calling ``rollback``, ``close``, ``notify``, ``notify_all`` or
  ``release`` becomes ``pass``;
* ``remove finally``: a ``finally:`` body becomes ``pass``;
* ``remove statement``: any other simple statement becomes ``pass`` (not docstrings, and not a
  function's last ``return``, which ``return None`` covers);
* ``return None``: ``return x`` becomes ``return None``;
* ``swap arguments``: two neighbouring positional arguments of a call (not of ``max``/``min``,
  which are symmetric);
* ``break/continue``.

All these operators are kept. Measured on the course's 2-core machine while other work loaded it
(load average 6.5 to 9): 290 mutants (02: 100, 04: 100, 06: 74, 09: 16), 10.4 min wall with
``--jobs 2`` at load 6.5 (149 + 295 + 92 + 88 s) and 13 min at load 9, about 6 min of CPU in
all, so within the ~10 minute budget when the machine is not shared. Most of the time is process
start-up, PostgreSQL start-up (04, 09) and the ch04 survivors, which run every later graded cell;
no single operator dominates the count.

Mutant ids are readable and survive unrelated edits of the solution (no line numbers):
``"<grade_id>: <operator>: <original line> => <mutated line>"``, lines stripped and whitespace
collapsed, `` #2``, `` #3`` appended when the same text occurs again.

The runner has nbgrader's semantics without nbgrader. In a fresh ``python`` process per mutant
(``MPLBACKEND=Agg``), the notebook's code cells run in order in one namespace, as the kernel of
``nbgrader autograde`` runs them: the instructor's other cells as they are, solution cells with
their markers stripped (one of them mutated), graded cells with their hidden tests, IPython
magics dropped, each cell's source registered in ``linecache`` as IPython does. An error in an
ungraded cell is recorded and the run goes on. Two optimisations keep the verdict exact: graded
cells before the mutated cell are skipped (they run before the mutation exists), and the run stops
at the first graded cell that raises. The unmutated solution is run first: if it fails, no
verdict on any mutant means anything, and the sweep says so.

A run also counts as killed when it exceeds the time limit (``TIMEOUT``, at least three times the
unmutated run: the mutants that never finish loop forever) or grows past ``MAX_RSS``. The
PostgreSQL servers that chapters 04 and 09 start (one per run, through ``gotchalab.services``)
live in a temporary directory of the sweep's own (``TMPDIR``), so no other process's reaper stops
one under a mutant; a run whose server failed anyway is repeated (``run_checked``).
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
EQUIVALENTS = ROOT / "tests" / "mechanical"

sys.path.insert(0, str(ROOT / "src"))
from gotchalab.grading import cell_source, nbgrader_meta, strip_markers  # noqa: E402

_HIDDEN = re.compile(r"^[ \t]*### (BEGIN|END) HIDDEN TESTS[ \t]*\n?", re.MULTILINE)
_CATEGORY = re.compile(r"[A-Za-z][a-z_]*( [a-z_]+)*")
_SQL = re.compile(r"\s*(SELECT|SET|CREATE|WHERE|UPDATE|INSERT|DELETE|DROP|ALTER|WITH)\b", re.I)
_CALLS_REMOVED = {"rollback", "close", "notify", "notify_all", "release"}
_FLIPS: dict[type, type] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_ARITH: dict[type, type] = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv}
_ARITH[ast.FloorDiv] = ast.Mult
_SIMPLE = (
    ast.Expr,
    ast.Assign,
    ast.AugAssign,
    ast.AnnAssign,
    ast.Return,
    ast.Raise,
    ast.Assert,
    ast.Delete,
    ast.Import,
    ast.ImportFrom,
    ast.Break,
    ast.Continue,
    ast.Global,
    ast.Nonlocal,
)


# -- the generator ------------------------------------------------------------------------------


@dataclass
class Mutant:
    """One change to one solution cell."""

    id: str
    grade_id: str
    operator: str
    source: str  # the whole mutated cell


@dataclass
class _Change:
    operator: str
    index: int  # the node's position in ast.walk(tree), to find it again in a copy
    apply: object  # callable(node copy) -> replacement node (or list of statements)
    span: tuple[int, int, int, int]  # lineno, col, end_lineno, end_col (UTF-8 byte columns)
    text: str  # what replaces the span


def _is_docstring(stmt: ast.stmt, parent: ast.AST) -> bool:
    body = getattr(parent, "body", None)
    return (
        isinstance(parent, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and bool(body)
        and body[0] is stmt
        and isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def _is_sequence(node: ast.AST) -> bool:
    """A string or list expression, where ``+`` is concatenation and ``-`` is no mutant."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (str, bytes))
    if isinstance(node, (ast.JoinedStr, ast.List, ast.ListComp, ast.Tuple)):
        return True
    return isinstance(node, ast.BinOp) and (_is_sequence(node.left) or _is_sequence(node.right))


def _int(v: int) -> ast.expr:
    """An integer literal as the parser builds it (``-1`` is a unary minus on ``1``)."""
    return ast.Constant(v) if v >= 0 else ast.UnaryOp(ast.USub(), ast.Constant(-v))


def _span(node: ast.AST) -> tuple[int, int, int, int]:
    return node.lineno, node.col_offset, node.end_lineno, node.end_col_offset


def _changes(tree: ast.Module) -> list[_Change]:
    """Every mutation point of the cell, in source order of the walk."""
    nodes = list(ast.walk(tree))
    parents: dict[int, ast.AST] = {}
    kw_values: set[int] = set()
    in_fstring: set[int] = set()
    for n in nodes:
        for child in ast.iter_child_nodes(n):
            parents[id(child)] = n
        if isinstance(n, ast.keyword):
            kw_values.add(id(n.value))
        if isinstance(n, ast.JoinedStr):
            in_fstring.update(id(v) for v in n.values)
    out: list[_Change] = []

    def expr(op: str, i: int, node: ast.AST, fn) -> None:
        new = fn(copy.deepcopy(node))
        out.append(_Change(op, i, fn, _span(node), ast.unparse(new)))

    for i, n in enumerate(nodes):
        # Removals first: a statement calling rollback() and the like is named for the call.
        if isinstance(n, ast.Try) and n.finalbody:
            first, last = n.finalbody[0], n.finalbody[-1]

            def no_finally(t):
                t.finalbody = [ast.Pass()]
                return t

            span = (first.lineno, first.col_offset, last.end_lineno, last.end_col_offset)
            out.append(_Change("remove finally", i, no_finally, span, "pass"))
        if isinstance(n, _SIMPLE) and not _is_docstring(n, parents.get(id(n))):
            call = n.value if isinstance(n, ast.Expr) else None
            parent = parents.get(id(n))
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr in _CALLS_REMOVED
            ):
                out.append(_Change("remove call", i, lambda _: ast.Pass(), _span(n), "pass"))
            elif not (
                isinstance(n, ast.Return)
                and isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef))
                and parent.body[-1] is n
            ):
                out.append(_Change("remove statement", i, lambda _: ast.Pass(), _span(n), "pass"))
        if isinstance(n, ast.Return) and n.value is not None:
            if not (isinstance(n.value, ast.Constant) and n.value.value is None):

                def ret_none(r):
                    r.value = ast.Constant(None)
                    return r

                out.append(_Change("return None", i, ret_none, _span(n), "return None"))
        if isinstance(n, ast.Compare):
            for k, cmp in enumerate(n.ops):
                if type(cmp) in _FLIPS:

                    def flip(c, k=k):
                        c.ops[k] = _FLIPS[type(c.ops[k])]()
                        return c

                    expr("flip comparison", i, n, flip)
        if isinstance(n, ast.Constant):
            v = n.value
            parent = parents.get(id(n))
            if isinstance(v, bool):
                expr("constant", i, n, lambda c: ast.Constant(not c.value))
            elif isinstance(v, int):
                for d in (1, -1):
                    expr("constant", i, n, lambda c, d=d: _int(c.value + d))
            elif (
                isinstance(v, str)
                and id(n) not in kw_values
                and id(n) not in in_fstring
                and not (
                    isinstance(parent, ast.Expr) and _is_docstring(parent, parents.get(id(parent)))
                )
                and ((_CATEGORY.fullmatch(v) and len(v) <= 30) or _SQL.match(v))
            ):
                expr("empty string", i, n, lambda c: ast.Constant(""))
        if isinstance(n, ast.JoinedStr):
            # The literal parts of an f-string have no positions of their own before 3.12:
            # the change is made on the whole f-string.
            for k, part in enumerate(n.values):
                if isinstance(part, ast.Constant) and _SQL.match(part.value):

                    def fpart(j, k=k):
                        j.values[k] = ast.Constant("")
                        return j

                    expr("empty string", i, n, fpart)
        if isinstance(n, ast.BinOp) and type(n.op) in _ARITH:
            if not (isinstance(n.op, ast.Add) and _is_sequence(n)):

                def arith(b):
                    b.op = _ARITH[type(b.op)]()
                    return b

                expr("swap arithmetic", i, n, arith)
        if isinstance(n, ast.AugAssign) and type(n.op) in _ARITH:

            def aug(a):
                a.op = _ARITH[type(a.op)]()
                return a

            expr("swap arithmetic", i, n, aug)
        if isinstance(n, ast.BoolOp):

            def boolop(b):
                b.op = ast.Or() if isinstance(b.op, ast.And) else ast.And()
                return b

            expr("swap and/or", i, n, boolop)
        if isinstance(n, ast.Name) and n.id in ("max", "min"):
            other = "min" if n.id == "max" else "max"
            expr("swap max/min", i, n, lambda m, o=other: ast.Name(o, ast.Load()))
        if isinstance(n, ast.Call):
            positional = n.args
            symmetric = isinstance(n.func, ast.Name) and n.func.id in ("max", "min")
            if not symmetric and not any(isinstance(a, ast.Starred) for a in positional):
                for k in range(len(positional) - 1):

                    def swap(c, k=k):
                        c.args[k], c.args[k + 1] = c.args[k + 1], c.args[k]
                        return c

                    expr("swap arguments", i, n, swap)
        if isinstance(n, (ast.Break, ast.Continue)):
            new = "continue" if isinstance(n, ast.Break) else "break"
            kind = ast.Continue if isinstance(n, ast.Break) else ast.Break
            out.append(_Change("break/continue", i, lambda _, k=kind: k(), _span(n), new))
    return out


def _replace_in_copy(tree: ast.Module, change: _Change) -> ast.Module:
    """The intended mutated tree: the change applied to a copy of ``tree``."""
    new_tree = copy.deepcopy(tree)
    nodes = list(ast.walk(new_tree))
    target = nodes[change.index]
    replacement = change.apply(target)
    if replacement is target:
        return new_tree
    for parent in nodes:
        for name, value in ast.iter_fields(parent):
            if value is target:
                setattr(parent, name, replacement)
                return new_tree
            if isinstance(value, list):
                for k, item in enumerate(value):
                    if item is target:
                        value[k] = replacement
                        return new_tree
    raise AssertionError(f"node of {change.operator} not found in the copy")


def _splice(lines: list[bytes], span: tuple[int, int, int, int], text: str) -> tuple[str, str]:
    """The cell with ``span`` replaced by ``text``, and the changed region's new text."""
    lo, col, hi, end_col = span
    before = b"".join(lines[: lo - 1]) + lines[lo - 1][:col]
    after = lines[hi - 1][end_col:] + b"".join(lines[hi:])
    prefix, suffix = lines[lo - 1][:col], lines[hi - 1][end_col:]
    region = prefix + text.encode() + suffix
    return (before + text.encode() + after).decode(), region.decode()


def _oneline(text: str) -> str:
    return " ".join(text.split())


def generate(grade_id: str, source: str) -> list[Mutant]:
    """The mutants of one solution cell (markers already stripped), in a stable order."""
    tree = ast.parse(source)
    original = ast.unparse(tree)
    lines = source.encode().splitlines(keepends=True)
    seen = {original}
    mutants: list[Mutant] = []
    used: dict[str, int] = {}
    # Source order (then operator order), so that " #2" follows the text down the cell.
    for change in sorted(_changes(tree), key=lambda c: c.span[:2]):
        # Compared after a round trip through source: -1 parses as a unary minus, and an empty
        # literal part of an f-string disappears.
        intended = ast.dump(ast.parse(ast.unparse(_replace_in_copy(tree, change))))
        lo, _, hi, _ = change.span
        old_region = b"".join(lines[lo - 1 : hi]).decode()
        for text in (change.text, f"({change.text})"):
            mutated, new_region = _splice(lines, change.span, text)
            try:
                if ast.dump(ast.parse(mutated)) == intended:
                    break
            except SyntaxError:
                pass
        else:  # no textual splice gives the intended tree: fall back to unparsing the cell
            mutated = ast.unparse(_replace_in_copy(tree, change))
        unparsed = ast.unparse(ast.parse(mutated))
        if unparsed in seen:
            continue
        seen.add(unparsed)
        base = f"{grade_id}: {change.operator}: {_oneline(old_region)} => {_oneline(new_region)}"
        used[base] = used.get(base, 0) + 1
        mid = base if used[base] == 1 else f"{base} #{used[base]}"
        mutants.append(Mutant(mid, grade_id, change.operator, mutated))
    return mutants


# -- the notebook -------------------------------------------------------------------------------


@dataclass
class Cell:
    kind: str  # "solution", "graded" or "other"
    grade_id: str
    source: str  # markers stripped, hidden tests included, magics dropped


def _without_magics(src: str) -> str:
    return "\n".join(ln for ln in src.splitlines() if not ln.lstrip().startswith(("%", "!")))


def notebook_cells(slug: str) -> list[Cell]:
    """The code cells of the instructor notebook, as ``nbgrader autograde`` runs them."""
    nb = json.loads((SOLUTIONS / slug / f"{slug}.ipynb").read_text())
    out = []
    for k, c in enumerate(nb["cells"]):
        if c.get("cell_type") != "code":
            continue
        meta = nbgrader_meta(c)
        gid = meta.get("grade_id", f"cell-{k}")
        src = cell_source(c)
        if meta.get("solution"):
            out.append(Cell("solution", gid, _without_magics(strip_markers(src))))
        elif meta.get("grade"):
            out.append(Cell("graded", gid, _without_magics(_HIDDEN.sub("", src))))
        else:
            out.append(Cell("other", gid, _without_magics(strip_markers(src))))
    return out


def mutants_of(slug: str) -> list[Mutant]:
    return [
        m
        for c in notebook_cells(slug)
        if c.kind == "solution"
        for m in generate(c.grade_id, c.source)
    ]


# -- the runner ---------------------------------------------------------------------------------


@dataclass
class Verdict:
    mutant: Mutant | None
    killed: bool
    by: str | None = None  # the graded cell that raised, or "timeout"
    error: str | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # errors in ungraded cells


def _program(cells: list[Cell], mutant: Mutant | None) -> list[tuple[str, str, str]]:
    """The cells one run executes: graded cells before the mutated cell are skipped."""
    prog, reached = [], mutant is None
    for c in cells:
        if mutant is not None and c.kind == "solution" and c.grade_id == mutant.grade_id:
            prog.append((c.kind, c.grade_id, mutant.source))
            reached = True
        elif c.kind != "graded" or reached:
            prog.append((c.kind, c.grade_id, c.source))
    return prog


# Seconds per mutant. The whole unmutated notebook runs in 1.5-4 s on the 2-core machine and no
# mutant that finished took more than 3 s; those that did not finish loop forever (a counter that
# stops advancing). 90 s each made the timeouts most of ch02's sweep.
TIMEOUT = 20.0
MAX_RSS = 1 << 30  # bytes; a worker uses about 100 MiB


def run_one(
    cells: list[Cell], mutant: Mutant | None, timeout: float, tmpdir: str | None = None
) -> Verdict:
    """Run the notebook with ``mutant`` (None: the solution) in a fresh process.

    Killed: a graded cell raised, the run took longer than ``timeout`` seconds, or the process
    grew past ``MAX_RSS`` bytes (a loop that appends forever fills a shared machine's memory long
    before any timeout).
    """
    env = dict(os.environ, MPLBACKEND="Agg", PYDEVD_DISABLE_FILE_VALIDATION="1")
    if tmpdir:
        env["TMPDIR"] = tmpdir  # gotchalab.services keeps its servers under $TMPDIR
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as inp, tempfile.TemporaryFile("w+") as out:
        json.dump(_program(cells, mutant), inp)
        inp.seek(0)
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker"],
            stdin=inp,
            stdout=out,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=ROOT,
            start_new_session=True,  # its own group: a timeout stops the threads it started too
        )
        stopped = None
        while proc.poll() is None:
            if time.monotonic() - started > timeout:
                stopped = ("timeout", f"no verdict after {timeout:g} s")
            elif _rss(proc.pid) > MAX_RSS:
                stopped = ("memory", f"more than {MAX_RSS >> 20} MiB resident")
            if stopped:
                _stop(proc)
                return Verdict(mutant, True, stopped[0], stopped[1], time.monotonic() - started)
            time.sleep(0.1)
        seconds = time.monotonic() - started
        out.seek(0)
        text = out.read()
    try:
        res = json.loads(text.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return Verdict(mutant, True, "crash", f"the process died (exit {proc.returncode})", seconds)
    return Verdict(
        mutant, res["failed"] is not None, res["failed"], res["error"], seconds, res["notes"]
    )


# A PostgreSQL that could not start, or was stopped under the run (another process on the machine
# reaping what it took for an orphan), says nothing about the mutant: such a run is repeated.
_INFRA = re.compile(
    r"ServiceError|embedded PostgreSQL|pg_filenode\.map|the database system is (shutting down|"
    r"starting up)|terminating connection due to administrator command|Connection refused"
)
ATTEMPTS = 3


def run_checked(
    cells: list[Cell], mutant: Mutant | None, timeout: float, tmpdir: str | None = None
) -> Verdict:
    """:func:`run_one`, repeated (up to ``ATTEMPTS`` runs) while the verdict is an infra failure."""
    for _ in range(ATTEMPTS):
        verdict = run_one(cells, mutant, timeout, tmpdir)
        text = " ".join([verdict.error or "", *verdict.notes])
        if not (verdict.killed and _INFRA.search(text)):
            return verdict
    verdict.by = f"{verdict.by} (infrastructure? {ATTEMPTS} runs)"
    return verdict


def _rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


def _stop(proc: subprocess.Popen) -> None:
    # SIGTERM first: gotchalab.services stops the PostgreSQL it started on SIGTERM.
    if _signal_group(proc, signal.SIGTERM):
        try:
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            pass
    _signal_group(proc, signal.SIGKILL)
    proc.wait()


def _signal_group(proc: subprocess.Popen, sig: int) -> bool:
    try:
        os.killpg(proc.pid, sig)
        return True
    except ProcessLookupError:
        return False


def _worker() -> None:
    import linecache

    program = json.loads(sys.stdin.read())
    import matplotlib

    matplotlib.use("Agg")
    ns: dict = {"__name__": "__main__"}
    failed = error = None
    notes: list[str] = []
    for kind, gid, code in program:
        filename = f"<cell {gid}>"
        # IPython keeps each cell's source in linecache; a grader may read it (ch02's
        # cross-process partition check re-runs the cell's source in fresh interpreters).
        linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
        try:
            exec(compile(code, filename, "exec"), ns)
        except BaseException as exc:  # noqa: BLE001 - the mutated code may raise anything
            if kind == "graded":
                failed, error = gid, f"{type(exc).__name__}: {str(exc)[:300]}"
                break
            # nbgrader goes on after an error in an ungraded cell; say which one it was.
            notes.append(f"{gid}: {type(exc).__name__}: {str(exc)[:300]}")
    sys.stdout.flush()
    print("\n" + json.dumps({"failed": failed, "error": error, "notes": notes}), flush=True)
    services = sys.modules.get("gotchalab.services")
    stop = getattr(services, "_stop_all", None) if services is not None else None
    if callable(stop):
        stop()
    os._exit(0)  # a mutant may leave non-daemon threads blocked; the verdict is out


# -- the equivalents file and the sweep ---------------------------------------------------------


def equivalents(slug: str, kind: str = "equivalent") -> dict[str, str]:
    """``id -> reason`` from ``tests/mechanical/<slug>.toml`` (empty if there is no file).

    ``kind="equivalent"`` reads the ``[[equivalent]]`` tables; ``kind="gap"`` the ``[[gap]]``
    tables: survivors that are real grader gaps, named with what check would kill them, which the
    score line counts apart (an open gap is never called equivalent).
    """
    path = EQUIVALENTS / f"{slug}.toml"
    if not path.is_file():
        return {}
    data = tomllib.loads(path.read_text())
    out = {}
    for entry in data.get(kind, []):
        if not entry.get("id") or not str(entry.get("reason", "")).strip():
            raise ValueError(f"{path}: every [[{kind}]] needs an id and a reason: {entry}")
        out[entry["id"]] = entry["reason"]
    return out


@dataclass
class Sweep:
    slug: str
    verdicts: list[Verdict]
    equivalent: dict[str, str]
    baseline: Verdict
    seconds: float
    gaps: dict[str, str] = field(default_factory=dict)
    survivors: list[str] = field(init=False)
    open_gaps: list[str] = field(init=False)
    explained: list[str] = field(init=False)
    unexplained: list[str] = field(init=False)
    stale: list[str] = field(init=False)

    def __post_init__(self) -> None:
        ids = {v.mutant.id for v in self.verdicts}
        self.survivors = [v.mutant.id for v in self.verdicts if not v.killed]
        self.explained = [s for s in self.survivors if s in self.equivalent]
        self.open_gaps = [s for s in self.survivors if s in self.gaps and s not in self.equivalent]
        self.unexplained = [
            s for s in self.survivors if s not in self.equivalent and s not in self.gaps
        ]
        surviving = set(self.survivors)
        self.stale = [
            i for i in [*self.equivalent, *self.gaps] if i not in ids or i not in surviving
        ]

    @property
    def killed(self) -> int:
        return sum(v.killed for v in self.verdicts)

    @property
    def timeouts(self) -> list[str]:
        return [
            f"{v.by}: {v.mutant.id}"
            for v in self.verdicts
            if (v.by or "").startswith(("timeout", "memory")) or "infrastructure" in (v.by or "")
        ]

    def score_line(self) -> str:
        n = len(self.verdicts)
        return (
            f"{self.slug}: mechanical mutation score {self.killed}/{n} "
            f"({len(self.survivors)} survivors: {len(self.explained)} listed as equivalent, "
            f"{len(self.open_gaps)} open grader gaps listed, {len(self.unexplained)} unexplained)"
        )

    def report(self) -> str:
        lines = [self.score_line()]
        if self.baseline.killed:
            lines.append(
                f"  THE SOLUTION ITSELF FAILS ({self.baseline.by}: {self.baseline.error}); "
                "no verdict above means anything"
            )
            lines += [f"    error in an ungraded cell before it: {n}" for n in self.baseline.notes]
        for s in self.unexplained:
            lines.append(f"  unexplained survivor: {s}")
        for s in self.open_gaps:
            lines.append(f"  open grader gap: {s}")
        for s in self.stale:
            lines.append(f"  stale equivalent (no longer generated, or now killed): {s}")
        for t in self.timeouts:
            lines.append(f"  killed by {t}")
        lines.append(f"  ({self.seconds:.0f} s)")
        return "\n".join(lines)


def sweep(slug: str, jobs: int = 2, timeout: float = TIMEOUT, progress=None) -> Sweep:
    """Run every mutant of a chapter; ``progress(verdict)`` is called as each one finishes.

    A mutant gets ``timeout`` seconds, or three times what the whole unmutated notebook took if
    that is longer (a loaded machine).
    """
    started = time.monotonic()
    cells = notebook_cells(slug)
    mutants = [m for c in cells if c.kind == "solution" for m in generate(c.grade_id, c.source)]
    # The embedded PostgreSQL servers of this sweep live in a directory of their own: the reaper of
    # gotchalab.services in other processes on the machine (other versions of it, other sweeps)
    # then never stops one under a mutant. 0o755: as root the server runs as another user.
    tmpdir = tempfile.mkdtemp(prefix="gotchalab-mutate-")
    os.chmod(tmpdir, 0o755)
    try:
        baseline = run_checked(cells, None, max(timeout, 120.0), tmpdir)
        timeout = max(timeout, 3 * baseline.seconds)
        verdicts: list[Verdict] = []
        if not baseline.killed:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                for v in pool.map(lambda m: run_checked(cells, m, timeout, tmpdir), mutants):
                    verdicts.append(v)
                    if progress:
                        progress(v)
        else:
            verdicts = [Verdict(m, True, "baseline", "the solution fails") for m in mutants]
    finally:
        _reap(tmpdir)
    return Sweep(
        slug,
        verdicts,
        equivalents(slug),
        baseline,
        time.monotonic() - started,
        equivalents(slug, "gap"),
    )


def _reap(tmpdir: str) -> None:
    """Stop any server a killed worker left in ``tmpdir``, then remove the directory."""
    code = "from gotchalab.services import reap_orphans; reap_orphans()"
    env = dict(os.environ, TMPDIR=tmpdir)
    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True)
    shutil.rmtree(tmpdir, ignore_errors=True)


def chapters() -> list[str]:
    return sorted(p.name for p in SOLUTIONS.iterdir() if (p / f"{p.name}.ipynb").is_file())


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--worker"]:
        _worker()
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("slugs", nargs="*", help="chapters (default: all with a solutions notebook)")
    ap.add_argument("--jobs", type=int, default=2, help="mutants run in parallel (default 2)")
    ap.add_argument(
        "--timeout", type=float, default=TIMEOUT, help=f"seconds per mutant (default {TIMEOUT:g})"
    )
    ap.add_argument("--list", action="store_true", help="print the mutant ids, run nothing")
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per mutant")
    args = ap.parse_args(argv)
    slugs = args.slugs or chapters()
    if args.list:
        for slug in slugs:
            for m in mutants_of(slug):
                print(m.id)
        return 0

    def show(v: Verdict) -> None:
        if args.verbose:
            what = f"killed by {v.by}" if v.killed else "SURVIVED"
            print(f"  {v.seconds:5.1f} s  {what:60.60}  {v.mutant.id}", flush=True)
            if v.killed and v.error:
                print(f"           {v.error.splitlines()[0][:200]}", flush=True)

    bad = 0
    for slug in slugs:
        result = sweep(slug, args.jobs, args.timeout, show)
        print(result.report(), flush=True)
        bad += bool(result.unexplained or result.baseline.killed)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
