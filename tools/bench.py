"""Benchmarks: how long a learner waits for each graded cell, and how fast the graders explore.

    python tools/bench.py                 # every chapter, plus the explorer and simulator
    python tools/bench.py 02-out-of-order-messages

For each exercise, the instructor notebook runs top to bottom in this process (solution markers
stripped, hidden tests included, as ``nbgrader autograde`` runs it); each graded cell is timed
and the cases it covered are read from the graders' own "✓ ...: N cases" lines. Ratios are
printed against the targets (2 s per graded cell, 10,000 cases per exercise) measured in this
same run; nothing here is asserted, since timings belong in benchmarks, not in tests.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import sys
import time
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from nbgrader_course import SOLUTIONS, chapters  # noqa: E402

from gotchalab.grading import cell_source, nbgrader_meta, strip_markers  # noqa: E402

CELL_BUDGET_S = 2.0
CASES_TARGET = 10_000
_CASES = re.compile(r"✓ .*?: ([\d,]+) cases")


def bench_exercise(slug: str) -> tuple[list[tuple[str, float, int]], float]:
    """Run one instructor notebook; return ``[(grade_id, seconds, cases)]`` and set-up seconds."""
    import matplotlib.pyplot as plt

    nb = json.loads((SOLUTIONS / slug / f"{slug}.ipynb").read_text())
    ns: dict = {"__name__": "__main__"}
    rows = []
    setup = 0.0
    cwd = os.getcwd()
    os.chdir(SOLUTIONS / slug)
    try:
        for cell in nb["cells"]:
            if cell["cell_type"] != "code":
                continue
            src = "\n".join(
                line
                for line in strip_markers(cell_source(cell)).splitlines()
                if not line.lstrip().startswith("%")
            )
            meta = nbgrader_meta(cell)
            out = io.StringIO()
            t0 = time.perf_counter()
            with contextlib.redirect_stdout(out):
                exec(compile(src, f"<{slug}:{meta.get('grade_id', 'cell')}>", "exec"), ns)
            took = time.perf_counter() - t0
            plt.close("all")
            if meta.get("grade"):
                cases = sum(int(m.replace(",", "")) for m in _CASES.findall(out.getvalue()))
                rows.append((meta["grade_id"], took, cases))
            else:
                setup += took
    finally:
        os.chdir(cwd)
    return rows, setup


def bench_explorer() -> None:
    """Schedules per second with state merging, against plain enumeration, on one scenario."""
    from gotchalab.explore import Step, explore

    def actor(name: str, n: int) -> list[Step]:
        # Two shared counters so that different schedules really reach different states.
        def bump(s, name=name, k=0):
            s["x"] = (s["x"] * 3 + len(name)) % 7

        return [Step(f"{name}{k}", bump) for k in range(n)]

    actors = {"a": actor("a", 4), "bb": actor("bb", 4), "ccc": actor("ccc", 3)}
    init = {"x": 0}
    t0 = time.perf_counter()
    res = explore(actors, init, final=lambda s: None)
    merged = time.perf_counter() - t0

    # Plain enumeration: depth-first over every interleaving, copying the state at each branch.
    def interleavings(s: dict, pcs: dict[str, int]) -> int:
        done = 0
        leaf = True
        for n, steps in actors.items():
            if pcs[n] < len(steps):
                leaf = False
                s2 = dict(s)
                steps[pcs[n]].run(s2)
                done += interleavings(s2, {**pcs, n: pcs[n] + 1})
        return 1 if leaf else done

    t0 = time.perf_counter()
    count = interleavings(dict(init), dict.fromkeys(actors, 0))
    plain = time.perf_counter() - t0
    expected = math.factorial(11) // (math.factorial(4) * math.factorial(4) * math.factorial(3))
    print("\nexplorer (3 actors, 11 steps)")
    print(
        f"  schedules covered: {res.schedules:,} (expected {expected:,}); distinct states: {res.states:,}"
    )
    print(f"  with state merging: {merged:.3f} s = {res.schedules / merged:,.0f} schedules/s")
    print(f"  plain enumeration:  {plain:.3f} s = {count / plain:,.0f} schedules/s")
    print(f"  ratio: merging is {plain / merged:.1f}x faster than enumerating every schedule")


def bench_simulator() -> None:
    """Seeded network runs per second (3 nodes, 20 messages, every fault on)."""
    from gotchalab.sim import Crash, Faults, Network, Partition, Process

    class Sink(Process):
        def receive(self, ctx, msg):
            ctx.log("apply", v=msg.payload)

    faults = Faults(
        delay=(1, 5),
        reorder=0.2,
        duplicate=0.1,
        drop=0.1,
        partitions=(Partition(3, 6, (("A",), ("B", "C"))),),
        crashes=(Crash("C", 2, 8),),
    )

    def client(ctx):
        for i in range(10):
            ctx.send("B", i)
            ctx.send("C", i)

    n = 2000
    t0 = time.perf_counter()
    events = 0
    for seed in range(n):
        net = Network(seed, nodes={"A": Process, "B": Sink, "C": Sink}, faults=faults)
        net.at(0, "A", client)
        events += len(net.run())
    took = time.perf_counter() - t0
    print("\nsimulator (3 nodes, 20 messages, all faults)")
    print(f"  {n / took:,.0f} seeded runs/s, {events / took:,.0f} trace events/s")


def bench_services() -> None:
    """Embedded PostgreSQL: start and stop times, and the chapter 09 data load, against a query."""
    import statistics

    from gotchalab import slowquery
    from gotchalab.services import postgres

    starts, stops = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        server = postgres()
        server.__enter__()
        t1 = time.perf_counter()
        server.stop()
        starts.append(t1 - t0)
        stops.append(time.perf_counter() - t1)
    with postgres() as server:
        t0 = time.perf_counter()
        slowquery.load_shop(server, force=True)
        load = time.perf_counter() - t0
        with server.connect(autocommit=True) as conn:
            t0 = time.perf_counter()
            conn.execute("SELECT 1").fetchone()
            query = time.perf_counter() - t0
    print("\nembedded PostgreSQL (pgserver binaries, loopback TCP)")
    print(
        f"  start: median {statistics.median(starts):.2f} s (of {', '.join(f'{s:.2f}' for s in starts)})"
    )
    print(f"  stop:  median {statistics.median(stops):.2f} s")
    print(f"  chapter 09 data load: {load:.2f} s; a trivial query: {query * 1000:.2f} ms")
    print(
        f"  ratio: one start costs {statistics.median(starts) / CELL_BUDGET_S:.2f} of a graded cell's budget"
    )


def bench_authoritative(slugs: list[str]) -> None:
    """Seconds per notebook: plain ``nbgrader autograde`` against the authoritative grade (judge
    + sandboxed learner process), on the same two submissions (the solution and the release)."""
    import tempfile

    from nbgrader_course import Course

    from gotchalab.grading import regrade_notebook

    print("\nauthoritative grade vs nbgrader autograde (seconds per notebook, same submissions)")
    print(f"  {'chapter':<32} {'who':<9} {'nbgrader':>9} {'judge':>8} {'ratio':>7}")
    for slug in slugs:
        with tempfile.TemporaryDirectory(prefix="gotchas-bench-") as tmp:
            course = Course.create(Path(tmp) / slug, slug)
            course.generate()
            for who, cells in (("solution", {}), ("release", None)):
                course.submit(who, cells=cells)
            t0 = time.perf_counter()
            course.autograde()
            per_nb = (time.perf_counter() - t0) / 2
            for who in ("solution", "release"):
                t0 = time.perf_counter()
                res = regrade_notebook(course.source_nb, course.submission(who))
                took = time.perf_counter() - t0
                print(
                    f"  {slug:<32} {who:<9} {per_nb:9.1f} {took:8.1f} {took / per_nb:6.1f}x"
                    f"   ({res.points:g}/{res.max_points:g}; {res.isolation})"
                )
    print("  (nbgrader: one autograde run of both notebooks, halved)")


def main(argv: list[str]) -> int:
    known = chapters()
    slugs = argv or known
    unknown = [s for s in slugs if s not in known]
    if unknown:
        print(f"unknown chapter(s) {unknown}; chapters with exercises: {known}", file=sys.stderr)
        return 2
    print(
        f"graded-cell latency (budget {CELL_BUDGET_S:g} s per cell, target {CASES_TARGET:,} cases per exercise)"
    )
    for slug in slugs:
        rows, setup = bench_exercise(slug)
        total_cases = sum(c for _, _, c in rows)
        print(f"\n{slug}  (ungraded set-up cells: {setup:.2f} s)")
        print(f"  {'graded cell':<44} {'seconds':>8} {'÷ budget':>9} {'cases':>9}")
        for gid, took, cases in rows:
            print(f"  {gid:<44} {took:8.3f} {took / CELL_BUDGET_S:9.2f} {cases:9,}")
        worst = max((t for _, t, _ in rows), default=0.0)
        print(
            f"  slowest cell {worst:.3f} s ({worst / CELL_BUDGET_S:.2f} of budget); "
            f"cases {total_cases:,} ({total_cases / CASES_TARGET:.2f} of target)"
        )
    bench_explorer()
    bench_simulator()
    bench_services()
    bench_authoritative(slugs)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
