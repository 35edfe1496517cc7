"""Chapter 09: one slow query takes the database down, on a real PostgreSQL.

What is here:

* :func:`load_shop` fills a database with the seeded ``customers`` / ``orders`` shop (the generator
  behind ``source_data/slow_query/make_data.py``) and a small ``ex_orders`` table for the index
  exercise; it is idempotent (skips when the same seed and size are already loaded).
* :func:`lab` gives the shared server of this process with the shop loaded (notebooks call it once).
* :func:`run_load` plays a seeded OLTP workload in threads, optionally with copies of a slow
  query beside it, and records every request's latency: the chapter's "feel it" picture.
* :func:`activity`, :func:`explain`, :func:`stop_backend` are the diagnosis tools the chapter shows.
* Graders: :func:`check_find_runaway`, :func:`check_index_for`, :func:`check_timeout`.

Invariants
----------
* Data is a pure function of ``(seed, size)``: PostgreSQL's ``setseed`` drives ``random()`` and the
  rows are inserted in ``generate_series`` order in one statement, so the same seed gives the same
  rows.
* Every grader derives its ground truth from the real server: the pid of the backend it started
  itself, the plan and buffer counts PostgreSQL reports, the error the server raises. None of them
  contains the exercise's answer.
* Graders never hang: every session they open has a ``statement_timeout``, every runaway they start
  is watched by a client-side deadline, and every backend they started is cancelled and closed in a
  ``finally`` block.

Why psycopg's low-level ``pgconn.send_query`` is used for background queries: it sends a query and
returns at once, so a grader can stage several sessions (a runaway, quick queries, idle ones) from
one thread in a few milliseconds, without a thread per session and without races on start order.
"""

from __future__ import annotations

import contextlib
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .check import call, fail, passed

__all__ = [
    "SHOP_SEED",
    "SHOP_ORDERS",
    "SHOP_CUSTOMERS",
    "EX_ROWS",
    "NORMAL_MAX_MS",
    "STOP_WITHIN_MS",
    "SLOW_LOOKUP",
    "SlowQuery",
    "load_shop",
    "lab",
    "run_load",
    "LoadRun",
    "activity",
    "explain",
    "plan_summary",
    "stop_backend",
    "check_find_runaway",
    "check_index_for",
    "check_timeout",
]

SHOP_SEED = 9
SHOP_ORDERS = 300_000
SHOP_CUSTOMERS = 30_000
EX_ROWS = 20_000
EX_CUSTOMERS = 2_000

# The exercise's contract for timeouts: the slowest legitimate request of the app takes this long,
# and a runaway must be stopped by the server within that long (both measured on the client).
NORMAL_MAX_MS = 100
STOP_WITHIN_MS = 400

# The query the new "my orders" page sends: there is no index on orders.customer_id.
SLOW_LOOKUP = "SELECT id, status, amount, created_at FROM orders WHERE customer_id = %s::int"
FAST_LOOKUP = "SELECT id, customer_id, status, amount FROM orders WHERE id = %s"
CUSTOMER_LOOKUP = "SELECT id, email, region FROM customers WHERE id = %s"

# ---------------------------------------------------------------------------------------------
# the data set
# ---------------------------------------------------------------------------------------------

_SHOP_SQL = [
    "DROP TABLE IF EXISTS orders, customers, ex_orders, gotchalab_dataset",
    "SELECT setseed(%(seed_frac)s)",
    # autovacuum off: a vacuum worker showing up in pg_stat_activity mid-exercise would be noise
    # the graders did not create; ANALYZE below gives the planner its statistics.
    """CREATE TABLE customers (
        id int NOT NULL, email text NOT NULL, region text NOT NULL, signed_up timestamptz NOT NULL
    ) WITH (autovacuum_enabled = false)""",
    """INSERT INTO customers
       SELECT g, 'user' || g || '@example.' || (ARRAY['com','org','net'])[1 + floor(random()*3)::int],
              (ARRAY['eu','us','apac','latam'])[1 + floor(random()*4)::int],
              timestamptz '2024-01-01' + random() * interval '700 days'
       FROM generate_series(1, %(customers)s) g""",
    """CREATE TABLE orders (
        id bigint NOT NULL, customer_id int NOT NULL, status text NOT NULL,
        amount numeric(10,2) NOT NULL, created_at timestamptz NOT NULL
    ) WITH (autovacuum_enabled = false)""",
    """INSERT INTO orders
       SELECT g, 1 + floor(random() * %(customers)s)::int,
              CASE WHEN random() < 0.02 THEN 'pending'
                   WHEN random() < 0.10 THEN 'cancelled' ELSE 'delivered' END,
              round((5 + random() * 495)::numeric, 2),
              timestamptz '2024-01-01' + random() * interval '730 days'
       FROM generate_series(1, %(orders)s) g""",
    """CREATE TABLE ex_orders (
        id int NOT NULL, customer_id int NOT NULL, store_id int NOT NULL, status text NOT NULL,
        email text NOT NULL, amount numeric(10,2) NOT NULL, created_at timestamptz NOT NULL
    ) WITH (autovacuum_enabled = false)""",
    """INSERT INTO ex_orders
       SELECT g, c, 1 + floor(random() * 40)::int,
              CASE WHEN random() < 0.02 THEN 'pending'
                   WHEN random() < 0.10 THEN 'cancelled' ELSE 'delivered' END,
              'User' || c || '@Example.com', round((5 + random() * 495)::numeric, 2),
              timestamptz '2024-01-01' + random() * interval '730 days'
       FROM (SELECT g, 1 + floor(random() * %(ex_customers)s)::int AS c
             FROM generate_series(1, %(ex_rows)s) g) s""",
    # Primary keys after the bulk insert: building an index once is faster than maintaining it.
    "ALTER TABLE customers ADD PRIMARY KEY (id)",
    "ALTER TABLE orders ADD PRIMARY KEY (id)",
    "ALTER TABLE ex_orders ADD PRIMARY KEY (id)",
    "CREATE TABLE gotchalab_dataset (name text PRIMARY KEY, seed int, orders int, customers int)",
    "INSERT INTO gotchalab_dataset VALUES ('shop', %(seed)s, %(orders)s, %(customers)s)",
]


def _seed_frac(seed: int) -> float:
    """Map an integer seed to PostgreSQL's setseed range [-1, 1] (distinct seeds stay distinct)."""
    return ((seed * 2654435761) % 2_000_001) / 1_000_000 - 1.0


def _load_result(loaded: bool, t0: float, seed: int, orders: int, customers: int) -> dict:
    """What :func:`load_shop` reports: whether it loaded, how long it took, and what."""
    return {
        "loaded": loaded,
        "seconds": time.perf_counter() - t0,
        "orders": orders,
        "customers": customers,
        "seed": seed,
    }


def load_shop(
    conn_or_server: Any,
    *,
    seed: int = SHOP_SEED,
    orders: int = SHOP_ORDERS,
    customers: int = SHOP_CUSTOMERS,
    force: bool = False,
) -> dict[str, Any]:
    """Create and fill ``customers``, ``orders`` and ``ex_orders``; skip if already loaded alike.

    ``conn_or_server`` is a psycopg connection or anything with ``.connect(autocommit=True)``.
    Returns ``{"loaded": bool, "seconds": float, "orders": int, "customers": int, "seed": int}``.
    Invariant: no index on ``orders.customer_id`` (the missing index is the lesson).
    """
    if orders < 1000 or customers < 100:
        raise ValueError(f"need orders >= 1000 and customers >= 100, got {orders=}, {customers=}")
    with _autocommit(conn_or_server) as conn:
        t0 = time.perf_counter()
        if not force:
            have = conn.execute(
                "SELECT seed, orders, customers FROM gotchalab_dataset WHERE name = 'shop'"
                if _table_exists(conn, "gotchalab_dataset")
                else "SELECT NULL, NULL, NULL WHERE false"
            ).fetchone()
            if have == (seed, orders, customers) and _table_exists(conn, "orders"):
                # Indexes a previous lesson added would change every plan: drop them.
                for (name,) in conn.execute(
                    "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND "
                    "tablename IN ('orders','customers','ex_orders') AND indexname NOT LIKE "
                    "'%%_pkey'"
                ).fetchall():
                    conn.execute(f'DROP INDEX IF EXISTS "{name}"')
                return _load_result(False, t0, seed, orders, customers)
        params = {
            "seed": seed,
            "seed_frac": _seed_frac(seed),
            "orders": orders,
            "customers": customers,
            "ex_rows": EX_ROWS,
            "ex_customers": EX_CUSTOMERS,
        }
        for stmt in _SHOP_SQL:
            used = {k: v for k, v in params.items() if f"%({k})s" in stmt}
            conn.execute(stmt, used or None)
        for table in ("customers", "orders", "ex_orders"):
            conn.execute(f"ANALYZE {table}")
        return _load_result(True, t0, seed, orders, customers)


def _table_exists(conn: Any, name: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]


@contextlib.contextmanager
def _autocommit(conn_or_server: Any) -> Iterator[Any]:
    """Yield an autocommit connection: the given one (restored after) or a new one (closed)."""
    if hasattr(conn_or_server, "pgconn"):
        old = conn_or_server.autocommit
        if conn_or_server.info.transaction_status != 0:  # not idle: finish what is open first
            conn_or_server.rollback()
        conn_or_server.autocommit = True
        try:
            yield conn_or_server
        finally:
            conn_or_server.autocommit = old
    else:
        with conn_or_server.connect(autocommit=True) as conn:
            yield conn


def lab(seed: int = SHOP_SEED) -> Any:
    """The shared PostgreSQL server of this process, with the shop loaded (seeded, idempotent)."""
    from .services import shared_postgres

    server = shared_postgres()
    load_shop(server, seed=seed)
    return server


# ---------------------------------------------------------------------------------------------
# feel it: a seeded OLTP workload with slow queries beside it
# ---------------------------------------------------------------------------------------------


@dataclass
class LoadRun:
    """One run of :func:`run_load`: a row per request, plus marks (time, label) for the plot.

    ``requests`` rows are ``(arrival_s, kind, wait_ms, ms, outcome)``: when the request arrived
    (seconds into the run), ``"api"`` or ``"slow page"``, how long it waited for a pooled
    connection, its latency from arrival to answer, and ``"ok"``, an error class name, or
    ``"not served"`` (still queued when the run ended).
    """

    requests: list[tuple[float, str, float, float, str]] = field(default_factory=list)
    marks: list[tuple[float, str]] = field(default_factory=list)
    snapshots: dict[str, Any] = field(default_factory=dict)

    def frame(self):
        """Requests as a DataFrame: arrival_s, kind, wait_ms, ms, outcome."""
        import pandas as pd

        return pd.DataFrame(
            self.requests, columns=["arrival_s", "kind", "wait_ms", "ms", "outcome"]
        )


def _arrivals(rng: random.Random, rate: float, start: float, end: float) -> list[float]:
    """Poisson arrival times at ``rate`` per second in [start, end) (seeded, open loop)."""
    out, t = [], start
    while rate > 0:
        t += rng.expovariate(rate)
        if t >= end:
            break
        out.append(t)
    return out


def run_load(
    server: Any,
    *,
    seed: int,
    seconds: float,
    api_rate: float = 150.0,
    slow_rate: float = 0.0,
    slow_from: float = 0.0,
    pool_size: int = 4,
    drain_s: float = 1.0,
    events: tuple[tuple[float, str, Callable[[Any], Any]], ...] = (),
) -> LoadRun:
    """Play ``seconds`` of open-loop load through an app's connection pool; record each request.

    Requests arrive on a seeded Poisson schedule, independent of how fast they are served (users
    do not wait for each other): ``api_rate`` per second of primary-key lookups (an order or a
    customer by id) for the whole run, and from ``slow_from`` on ``slow_rate`` per second of
    :data:`SLOW_LOOKUP` (the new page; no index). All go through one FIFO queue to ``pool_size``
    connections, as in an app with a connection pool, so a request's latency counts its wait for
    a connection. Requests still queued ``drain_s`` after the end are "not served", so a run always
    ends. Each ``events`` entry ``(at_s, label, fn)`` runs ``fn(conn)`` on a separate control
    connection at ``at_s``; its result goes to ``snapshots[label]``. Which requests arrive when is
    a function of ``seed``; the latencies are measured, so they vary from run to run.
    """
    import queue

    if seconds <= 0 or pool_size < 1 or api_rate <= 0:
        raise ValueError(
            f"need seconds > 0, pool_size >= 1, api_rate > 0; got {seconds=}, {pool_size=}, "
            f"{api_rate=}"
        )
    with server.connect(autocommit=True) as c:
        n_orders, n_customers = c.execute(
            "SELECT orders, customers FROM gotchalab_dataset WHERE name = 'shop'"
        ).fetchone()
    rng = random.Random(seed)
    plan: list[tuple[float, str, str, int]] = []
    for at in _arrivals(rng, api_rate, 0.0, seconds):
        if rng.random() < 0.5:
            plan.append((at, "api", FAST_LOOKUP, rng.randint(1, n_orders)))
        else:
            plan.append((at, "api", CUSTOMER_LOOKUP, rng.randint(1, n_customers)))
    for at in _arrivals(rng, slow_rate, slow_from, seconds):
        plan.append((at, "slow page", SLOW_LOOKUP, rng.randint(1, n_customers)))
    plan.sort()

    out = LoadRun()
    lock = threading.Lock()
    todo: queue.Queue[tuple[float, str, str, int] | None] = queue.Queue()
    conns = [
        server.connect(autocommit=True, application_name=f"shop-app-{k}") for k in range(pool_size)
    ]
    t0 = time.perf_counter()
    hard_end = t0 + seconds + drain_s

    def worker(conn: Any) -> None:
        import psycopg

        # One plain scan per query: the picture is about cores, not parallel-query settings.
        conn.execute("SET max_parallel_workers_per_gather = 0")
        conn.execute(
            "SELECT set_config('statement_timeout', %s, false)",
            (f"{int((seconds + drain_s) * 1000)}ms",),
        )
        while (item := todo.get()) is not None:
            at, kind, sql, arg = item
            began = time.perf_counter() - t0
            if time.perf_counter() > hard_end:
                outcome, done = "not served", began
            else:
                try:
                    conn.execute(sql, (arg,)).fetchall()
                    outcome = "ok"
                except psycopg.Error as exc:
                    outcome = type(exc).__name__
                done = time.perf_counter() - t0
            with lock:
                out.requests.append((at, kind, (began - at) * 1000, (done - at) * 1000, outcome))

    def control() -> None:
        with server.connect(autocommit=True, application_name="dba") as conn:
            for at, label, fn in sorted(events, key=lambda e: e[0]):
                delay = t0 + at - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                result = fn(conn)
                with lock:
                    out.marks.append((at, label))
                    out.snapshots[label] = result

    threads = [threading.Thread(target=worker, args=(c,)) for c in conns]
    if events:
        threads.append(threading.Thread(target=control))
    try:
        for t in threads:
            t.start()
        for item in plan:  # the open-loop arrival schedule
            delay = t0 + item[0] - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            todo.put(item)
        for _ in conns:
            todo.put(None)
        for t in threads:
            t.join(timeout=seconds + drain_s + 30)
    finally:
        for c in conns:
            c.close()
    out.requests.sort(key=lambda r: r[0])
    return out


# ---------------------------------------------------------------------------------------------
# diagnosis tools the chapter shows
# ---------------------------------------------------------------------------------------------

ACTIVITY_SQL = """
SELECT pid, application_name, state, wait_event_type, wait_event,
       round(extract(epoch FROM clock_timestamp() - query_start) * 1000) AS query_ms,
       round(extract(epoch FROM clock_timestamp() - xact_start) * 1000) AS xact_ms,
       left(regexp_replace(query, '\\s+', ' ', 'g'), 80) AS query
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
ORDER BY query_start
"""


def activity(conn: Any):
    """pg_stat_activity's client backends other than this one, as a DataFrame (oldest first)."""
    import pandas as pd

    cur = conn.execute(ACTIVITY_SQL)
    return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])


def explain(conn: Any, sql: str, params: Any = None) -> tuple[str, dict[str, Any]]:
    """``EXPLAIN (ANALYZE, BUFFERS)`` of ``sql``: the plan text and :func:`plan_summary` of it.

    The query really runs (that is what ANALYZE means): use it on reads only.
    """
    text = "\n".join(
        r[0] for r in conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params).fetchall()
    )
    doc = conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params).fetchone()[0]
    return text, plan_summary(doc)


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def plan_summary(doc: Any) -> dict[str, Any]:
    """The key numbers of an ``EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)`` document.

    ``scans`` lists (node type, relation, index) of every scan node; ``rows_removed`` sums
    "Rows Removed by Filter" over all nodes (times their loops); ``buffers`` counts shared blocks
    hit + read at the root; ``ms`` is the execution time; ``cost`` the root's total cost estimate.
    """
    top = doc[0] if isinstance(doc, list) else doc
    root = top["Plan"]
    scans = [
        (n["Node Type"], n.get("Relation Name"), n.get("Index Name"))
        for n in _nodes(root)
        if "Scan" in n["Node Type"]
    ]
    removed = sum(
        int(n.get("Rows Removed by Filter", 0)) * int(n.get("Actual Loops", 1))
        for n in _nodes(root)
    )
    return {
        "scans": scans,
        "rows": int(root.get("Actual Rows", 0)),
        "rows_removed": removed,
        "buffers": int(root.get("Shared Hit Blocks", 0)) + int(root.get("Shared Read Blocks", 0)),
        "ms": float(top.get("Execution Time", 0.0)),
        "cost": float(root["Total Cost"]),
    }


def stop_backend(server: Any, how: str, *, after_s: float = 0.3) -> dict[str, Any]:
    """Start a runaway query, then stop it from another session with ``how``.

    ``how`` is ``"cancel"`` (``pg_cancel_backend``) or ``"terminate"`` (``pg_terminate_backend``).
    Returns what the victim's client saw: exception class, SQLSTATE, message, how long the query ran,
    and whether its connection still answers ``SELECT 1`` afterwards.
    """
    import psycopg

    fns = {"cancel": "pg_cancel_backend", "terminate": "pg_terminate_backend"}
    if how not in fns:
        raise ValueError(f"how must be one of {sorted(fns)}, got {how!r}")
    seen: dict[str, Any] = {"how": fns[how]}
    victim = server.connect(autocommit=True, application_name="nightly-report")
    ctl = server.connect(autocommit=True, application_name="dba")
    try:
        pid = victim.info.backend_pid
        victim.execute("SET statement_timeout = '20s'")  # never hang even if the stop misfires
        timer = threading.Timer(after_s, lambda: ctl.execute(f"SELECT {fns[how]}(%s)", (pid,)))
        t = time.perf_counter()
        timer.start()
        try:
            victim.execute(_RUNAWAYS[0])
            seen.update(error=None)
        except psycopg.Error as exc:
            seen.update(
                error=type(exc).__name__,
                sqlstate=exc.sqlstate,
                message=str(exc).strip().splitlines()[0],
            )
        seen["ran_ms"] = round((time.perf_counter() - t) * 1000)
        timer.join()
        try:
            victim.execute("SELECT 1")
            seen["connection_after"] = "still usable"
        except psycopg.Error as exc:
            seen["connection_after"] = f"broken ({type(exc).__name__})"
    finally:
        victim.close()
        ctl.close()
    return seen


# ---------------------------------------------------------------------------------------------
# grader 1: find the runaway backend in pg_stat_activity
# ---------------------------------------------------------------------------------------------

# Runaway analytics queries: each would run for minutes; the graders and demos stop them.
_RUNAWAYS = [
    # 300,000 orders x 500 = 150 million rows to aggregate: many seconds on any machine.
    "SELECT date_trunc('day', o.created_at) AS day, count(*) FROM orders o "
    "CROSS JOIN generate_series(1, 500) AS g(n) WHERE o.amount > g.n GROUP BY 1",
    # one millisecond per row of 300,000: five minutes, sleeping, not spinning
    "SELECT count(*) FROM orders WHERE pg_sleep(0.001) IS NOT NULL",
    # a join condition no index can serve: 30,000 x 300,000 comparisons
    "SELECT c.region, sum(o.amount) FROM customers c, orders o WHERE o.amount > c.id % 7 "
    "GROUP BY 1",
]
_QUICK = [
    "SELECT o.*, pg_sleep(%s) FROM orders o WHERE o.id = 17",
    "SELECT c.*, pg_sleep(%s) FROM customers c WHERE c.id = 42",
]
_NAMES = ["api", "web", "worker", "report", "billing", "search", "cron", "etl", "admin", "bi"]


class _Session:
    """A grader-owned session: a connection with a name, able to send a query without waiting."""

    def __init__(self, server: Any, name: str) -> None:
        self.conn = server.connect(
            autocommit=True, application_name=name, options="-c statement_timeout=20000"
        )
        self.conn.execute("SET max_parallel_workers_per_gather = 0")  # one pid per query
        self.pid: int = self.conn.info.backend_pid
        self.busy = False

    def rename(self, name: str) -> None:
        self.conn.execute("SELECT set_config('application_name', %s, false)", (name,))

    def send(self, sql: str) -> None:
        self.conn.pgconn.send_query(sql.encode())
        self.busy = True

    def drain(self) -> None:
        """Wait for the sent query's results (it was cancelled or finished) and discard them."""
        if self.busy:
            while self.conn.pgconn.get_result() is not None:
                pass
            self.busy = False


def _wait_states(ctl: Any, want: dict[int, str], deadline_s: float = 3.0) -> None:
    """Poll pg_stat_activity until each pid shows the wanted state (bounded wait)."""
    end = time.monotonic() + deadline_s
    pids = list(want)
    while True:
        rows = dict(
            ctl.execute(
                "SELECT pid, state FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)
            ).fetchall()
        )
        if all(rows.get(p) == s for p, s in want.items()):
            return
        if time.monotonic() > end:
            raise RuntimeError(
                f"sessions did not reach their states in {deadline_s} s: wanted {want}, saw {rows}"
            )
        time.sleep(0.002)


def check_find_runaway(
    find_runaway: Callable[[Any], Any],
    server: Any = None,
    *,
    seed: int = 0,
    cases: int = 20,
) -> None:
    """Stage ``cases`` live situations; ``find_runaway(conn)`` must return the runaway's pid (int).

    Each situation (seeded) has, under random application names: one runaway (the *active* query
    running longest), 0-3 quick active queries started after it, an idle session whose last query
    is older than the runaway's start, an *idle in transaction* session whose transaction is older
    still, and the learner's own connection, opened first and inside a transaction begun before
    the runaway. Ground truth is the pid of the session the grader itself started the runaway on.
    """
    server = server if server is not None else lab()
    started = time.perf_counter()
    rng_names = random.Random(seed)
    pool = [_Session(server, "pool") for _ in range(7)]
    ctl = server.connect(autocommit=True, application_name="gotchalab-grader")
    learner = None
    try:
        for k in range(cases):
            rng = random.Random(seed * 1_000_003 + k)
            learner = server.connect(
                application_name=rng_names.choice(_NAMES) + "-notebook",
                options="-c statement_timeout=2000",
            )
            learner.execute("SELECT 1")  # the learner's own transaction is open from here on
            own = learner.info.backend_pid
            sessions = pool[:]
            rng.shuffle(sessions)
            names = rng.sample([f"{n}-{rng.randint(1, 9)}" for n in _NAMES], len(sessions))
            for s, n in zip(sessions, names, strict=True):
                s.rename(n)
            runaway, quick_n = sessions[0], rng.randint(0, 3)
            quick = sessions[1 : 1 + quick_n]
            rest = sessions[1 + quick_n :]
            idle_tx = rest[0] if rng.random() < 0.8 else None
            idle = rest[1] if rng.random() < 0.8 else None
            story = [f"your session (pid {own}) opened a transaction"]
            if idle_tx is not None:
                idle_tx.conn.execute("BEGIN")
                idle_tx.conn.execute("SELECT count(*) FROM customers WHERE id < 10")
                story.append(f"pid {idle_tx.pid}: BEGIN; SELECT ... then idle in transaction")
            if idle is not None:
                idle.conn.execute("SELECT id FROM customers WHERE id = 7")
                story.append(f"pid {idle.pid}: a quick query, then idle")
            time.sleep(0.002)
            sql = rng.choice(_RUNAWAYS)
            runaway.send(sql)
            _wait_states(ctl, {runaway.pid: "active"})
            story.append(f"pid {runaway.pid}: starts the runaway {sql[:40]!r}...")
            for q in quick:
                q.send(rng.choice(_QUICK) % round(rng.uniform(0.3, 1.0), 2))
                story.append(f"pid {q.pid}: starts a quick query")
            if quick:
                _wait_states(ctl, {q.pid: "active" for q in quick})
            want = runaway.pid
            try:
                got = call(
                    find_runaway, learner, what="find_runaway(conn)", seed=seed, schedule=story
                )
            finally:
                for s in [runaway, *quick]:
                    ctl.execute("SELECT pg_cancel_backend(%s)", (s.pid,))
                for s in [runaway, *quick]:
                    s.drain()
                if idle_tx is not None:
                    idle_tx.conn.execute("ROLLBACK")
                with contextlib.suppress(Exception):
                    learner.rollback()  # end its transaction before closing, so none lingers
                learner.close()
            if type(got) is not int or got != want:
                role = {s.pid: "an idle session" for s in pool}
                role[runaway.pid] = "the runaway"
                role.update({q.pid: "a quick active query" for q in quick})
                if idle_tx is not None:
                    role[idle_tx.pid] = "the idle-in-transaction session"
                if idle is not None:
                    role[idle.pid] = "the idle session"
                role[own] = "your own session"
                who = (
                    role.get(got, "not a pid the grader started")
                    if type(got) is int
                    else (f"a {type(got).__name__}, not an int")
                )
                fail(
                    "wrong backend",
                    f"case {k}: find_runaway returned {got!r} ({who}); expected the pid of the "
                    f"active query that has run longest, {want} (type int)",
                    seed=seed,
                    schedule=story,
                    expected=want,
                    got=got,
                    hint="look at each session's state, at which session is your own, and at when "
                    "its current query started",
                )
    finally:
        for s in pool:
            with contextlib.suppress(Exception):
                if s.busy:
                    ctl.execute("SELECT pg_cancel_backend(%s)", (s.pid,))
                    s.drain()
            s.conn.close()
        ctl.close()
        if learner is not None:
            learner.close()
    passed("find_runaway picks the active runaway's pid", cases, started)


# ---------------------------------------------------------------------------------------------
# grader 2: the index that turns a sequential scan into an index scan
# ---------------------------------------------------------------------------------------------


class SlowQuery(NamedTuple):
    """A slow query on ``ex_orders``, described by the parts of its WHERE clause.

    ``equal``: column expressions compared with ``=`` (e.g. ``"customer_id"``, ``"lower(email)"``);
    ``range``: a column compared with ``>=`` / ``<`` (or None); ``fixed``: a predicate that every
    run of this query repeats word for word (e.g. ``"status = 'pending'"``), or None.
    """

    sql: str
    table: str
    equal: tuple[str, ...]
    range: str | None
    fixed: str | None


def _slow_query(kind: str, rng: random.Random) -> SlowQuery:
    """A seeded query of one of five shapes over ``ex_orders``."""
    cust = rng.randint(1, EX_CUSTOMERS)
    day = f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if kind == "equality":
        col = rng.choice(["customer_id"])
        return SlowQuery(
            f"SELECT * FROM ex_orders WHERE {col} = {cust}", "ex_orders", (col,), None, None
        )
    if kind == "expression":
        email = f"user{cust}@example.com"
        return SlowQuery(
            f"SELECT * FROM ex_orders WHERE lower(email) = '{email}'",
            "ex_orders",
            ("lower(email)",),
            None,
            None,
        )
    if kind == "composite":
        rcol, lo = rng.choice([("created_at", f"'{day}'"), ("amount", str(rng.randint(20, 200)))])
        return SlowQuery(
            f"SELECT * FROM ex_orders WHERE {rcol} >= {lo} AND customer_id = {cust}",
            "ex_orders",
            ("customer_id",),
            rcol,
            None,
        )
    if kind == "partial":
        store = rng.randint(1, 40)
        return SlowQuery(
            f"SELECT * FROM ex_orders WHERE status = 'pending' AND store_id = {store}",
            "ex_orders",
            ("store_id",),
            None,
            "status = 'pending'",
        )
    raise ValueError(f"unknown query kind {kind!r}; expected equality/expression/composite/partial")


_CREATE_INDEX = re.compile(r"^\s*CREATE\s+(UNIQUE\s+)?INDEX\b", re.I)


def _index_case(conn: Any, q: SlowQuery, stmt: Any) -> str | None:
    """Run one case in a transaction that is always rolled back; None if the index does its job."""
    import psycopg

    if type(stmt) is not str or not _CREATE_INDEX.match(stmt):
        return f"index_for returned {stmt!r}; expected a string 'CREATE INDEX ... ON ...'"
    if ";" in stmt.rstrip().rstrip(";"):
        return f"index_for returned several statements: {stmt!r}; expected one CREATE INDEX"
    if re.search(r"\bCONCURRENTLY\b", stmt, re.I):
        return (
            "CREATE INDEX CONCURRENTLY cannot run inside the grader's transaction; use it in "
            f"production, but return a plain CREATE INDEX here (got {stmt!r})"
        )
    with conn.transaction(force_rollback=True):
        before = plan_summary(
            conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + q.sql).fetchone()[0]
        )
        old = {
            r[0]
            for r in conn.execute(
                "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = %s::regclass",
                (q.table,),
            ).fetchall()
        }
        try:
            with conn.transaction():
                conn.execute(stmt)
        except psycopg.Error as exc:
            return f"PostgreSQL rejected {stmt!r}: {str(exc).strip().splitlines()[0]}"
        new = conn.execute(
            "SELECT indexrelid::regclass::text, indpred IS NOT NULL FROM pg_index "
            "WHERE indrelid = %s::regclass",
            (q.table,),
        ).fetchall()
        made = [(n, partial) for n, partial in new if n not in old]
        if len(made) != 1:
            return f"{stmt!r} made {len(made)} new indexes on {q.table}; expected exactly one"
        name, partial = made[0]
        after = plan_summary(
            conn.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + q.sql).fetchone()[0]
        )
    used = [s for s in after["scans"] if s[2] is not None and s[2].split(".")[-1] == name]
    if not used:
        return (
            f"the plan does not use your index {name}: it scans {after['scans']} "
            f"(cost {after['cost']:.0f}, was {before['cost']:.0f})"
        )
    if not after["cost"] < before["cost"]:
        return f"the plan's cost did not drop: {before['cost']:.1f} -> {after['cost']:.1f}"
    # A well-chosen index reads about one heap page per matching row plus a few index pages;
    # a badly ordered one walks a long stretch of the index and throws most of it away.
    budget = after["rows"] + 12
    if after["buffers"] > budget:
        return (
            f"your index {name} is used but reads {after['buffers']} pages for "
            f"{after['rows']} rows (at most {budget} expected; the sequential scan read "
            f"{before['buffers']}): the index does not lead to the matching rows directly"
        )
    if q.fixed is not None and not partial:
        return (
            f"every run of this query repeats {q.fixed!r}, which few rows satisfy; index "
            "only those rows (a partial index) so the index stays small"
        )
    return None


def check_index_for(
    index_for: Callable[[SlowQuery], Any],
    server: Any = None,
    *,
    kinds: tuple[str, ...] = ("equality", "expression", "composite", "partial"),
    seed: int = 0,
    cases: int = 12,
) -> None:
    """For ``cases`` seeded slow queries of the given ``kinds``, the learner's index must work.

    Each case runs in a transaction that is rolled back (the index never outlives it): the plan
    must use the learner's index (Index / Index Only / Bitmap Index Scan), its estimated cost must
    drop, it must read at most (matching rows + 12) pages, and a query that repeats a fixed
    predicate must get a partial index. Ground truth is the real planner's EXPLAIN ANALYZE output.
    """
    server = server if server is not None else lab()
    started = time.perf_counter()
    with server.connect(
        application_name="gotchalab-grader", options="-c statement_timeout=5000"
    ) as conn:
        for k in range(cases):
            rng = random.Random(seed * 1_000_003 + k)
            q = _slow_query(kinds[k % len(kinds)], rng)
            stmt = call(index_for, q, what=f"index_for({q!r})", seed=seed)
            msg = _index_case(conn, q, stmt)
            if msg:
                fail(
                    "index does not fix the plan",
                    f"case {k}: {msg}",
                    seed=seed,
                    schedule=[f"query: {q.sql}", f"your index: {stmt}"],
                    hint="equality columns first, then the range column; index the expression "
                    "the query uses; WHERE <fixed predicate> for a partial index",
                )
    passed(f"index_for fixes the plan ({', '.join(kinds)})", cases, started)


# ---------------------------------------------------------------------------------------------
# grader 3: a timeout that stops the runaway and spares the workload
# ---------------------------------------------------------------------------------------------


def check_timeout(
    configure_session: Callable[[Any], Any],
    server: Any = None,
    *,
    seed: int = 0,
    cases: int = 2,
) -> None:
    """``configure_session(conn)`` must make the server stop runaways and spare normal requests.

    Per seeded case: a fresh connection (autocommit off, as an app's) is given to the learner's
    function; then requests run, each committed (or rolled back on error) like an app's: normal
    ones taking up to :data:`NORMAL_MAX_MS` (the slowest exactly that long) must succeed; two
    runaways (one of them possibly the very first request) must fail with SQLSTATE 57014 raised by
    the server's statement timeout within :data:`STOP_WITHIN_MS`. A client-side watchdog cancels a
    runaway the server let run, so the check always ends.
    """
    import psycopg

    server = server if server is not None else lab()
    started = time.perf_counter()
    for k in range(cases):
        rng = random.Random(seed * 1_000_003 + k)
        steps: list[tuple[str, float]] = [("normal", NORMAL_MAX_MS / 1000)]
        steps += [("normal", round(rng.uniform(0.001, NORMAL_MAX_MS / 1000), 3)) for _ in range(2)]
        rng.shuffle(steps)
        # Even cases open with a runaway: a SET left uncommitted in the first transaction is
        # rolled back with it, which only shows when the first request fails.
        steps.insert(0 if k % 2 == 0 else rng.choice([1, 2]), ("runaway", 0.0))
        steps.insert(rng.randint(2, len(steps)), ("runaway", 0.0))
        done: list[str] = []
        conn = server.connect(application_name=f"app-{rng.randint(1, 99)}")
        try:
            call(configure_session, conn, what="configure_session(conn)", seed=seed)
            if conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
                conn.rollback()
            for i, (kind, secs) in enumerate(steps):
                sql = (
                    f"SELECT o.id, pg_sleep({secs}) FROM orders o WHERE o.id = {i + 1}"
                    if kind == "normal"
                    else rng.choice(_RUNAWAYS)
                )
                watchdog = threading.Timer(STOP_WITHIN_MS / 1000 + 0.2, conn.cancel)
                t = time.perf_counter()
                watchdog.start()
                err: psycopg.Error | None = None
                try:
                    conn.execute(sql).fetchall()
                    conn.commit()
                except psycopg.Error as exc:
                    err = exc
                    conn.rollback()
                finally:
                    watchdog.cancel()
                ms = (time.perf_counter() - t) * 1000
                label = (
                    f"normal request ({secs * 1000:.0f} ms of work)"
                    if kind == "normal"
                    else "runaway query"
                )
                done.append(
                    f"{label}: {'ok' if err is None else type(err).__name__} after {ms:.0f} ms"
                )
                by_timeout = (
                    err is not None and err.sqlstate == "57014" and "statement timeout" in str(err)
                )
                if kind == "normal" and err is not None:
                    fail(
                        "normal workload broken",
                        f"case {k}: a normal request that needs {secs * 1000:.0f} ms failed "
                        f"with {type(err).__name__}: {str(err).strip()}",
                        seed=seed,
                        schedule=done,
                        hint=f"normal requests take up to {NORMAL_MAX_MS} ms: leave them room",
                    )
                if kind == "runaway" and (not by_timeout or ms > STOP_WITHIN_MS):
                    now = conn.execute("SHOW statement_timeout").fetchone()[0]
                    what = (
                        "the server did not stop it: the grader's watchdog cancelled it"
                        if err is not None and not by_timeout
                        else f"stopped by the statement timeout, but only after {ms:.0f} ms"
                        if by_timeout
                        else "it ran to the end unstopped"
                    )
                    fail(
                        "runaway not stopped",
                        f"case {k}: request {i + 1} is a runaway; expected the server to cancel "
                        f"it (SQLSTATE 57014, statement timeout) within {STOP_WITHIN_MS} ms; "
                        f"{what}. statement_timeout in this session is now {now!r}",
                        seed=seed,
                        schedule=done,
                        hint="the setting is gone: a SET LOCAL, or a SET in a transaction that "
                        "was rolled back, does not outlive its transaction"
                        if now == "0"
                        else f"runaways must be stopped within {STOP_WITHIN_MS} ms",
                    )
        finally:
            with contextlib.suppress(Exception):
                conn.cancel()
            conn.close()
    passed("the timeout stops runaways and spares normal requests", cases, started)
