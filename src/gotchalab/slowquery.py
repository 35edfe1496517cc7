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

Rules the graders check (each by a scripted case that reaches it, and by seeded cases)
--------------------------------------------------------------------------------------------
``check_find_runaway`` (cell ``find_runaway_backend``):

1. the answer is an ``int``: the pid of the client backend whose *active* query started earliest,
   not the caller's own; decoys that each catch one way of getting it wrong: idle sessions, idle
   in transaction, in an aborted transaction (older last queries), later queries inside
   transactions begun before the runaway (``xact_start``), later queries on older connections
   (``backend_start``, pid), a runaway waiting for a lock, sleeping, spinning or with parallel
   workers (same ``query_start`` as their leader), a runaway that reads ``pg_stat_activity``
   itself, identical application names (the caller's too), a WAL sender running a query since
   before everything (``backend_type``), an older query cancelled or its backend terminated just
   before the call;
2. the caller's connection is left as it was given: open, autocommit off, its transaction still
   open with the caller's uncommitted row in it;
3. find_runaway only finds: the runaway and the later queries still run afterwards.

``check_index_for`` (cells ``index_turns_seq_scan_into_index_scan``,
``composite_index_column_order``, ``partial_index_for_fixed_predicate``):

1. one ``CREATE INDEX`` string, no ``CONCURRENTLY``, no second statement, accepted by PostgreSQL,
   making exactly one index;
2. its key columns (``pg_get_indexdef``) hold every ``q.equal`` expression and ``q.range``, every
   equality column before the range column;
3. the plan uses it and its estimated cost drops;
4. the query then reads at most matching rows + :data:`PAGE_SLACK` pages (on ``ex_orders`` a
   range-first index, one on the equality columns alone or on one of two equality columns, and a
   plain column for an expression all fail this on the real plan too);
5. a query with ``q.fixed`` gets a partial index holding exactly the rows that satisfy it.

``check_timeout`` (cell ``timeout_stops_runaway_keeps_workload``):

1. the connection comes back open, autocommit off, isolation level / read-only / deferrable
   unchanged, no transaction open;
2. no other setting of the session changed;
3. ``NORMAL_MAX_MS < statement_timeout < STOP_WITHIN_MS``, in force in the session;
4. nothing changed for other sessions (new-session default, per-role/per-database settings,
   ALTER SYSTEM; undone by the grader);
5. the app's requests: normal ones up to exactly NORMAL_MAX_MS (sleeping, waiting for a lock)
   succeed, its committed and rolled-back transactions keep their meaning, its own error stays
   its own; runaways (a lock wait as the very first request; a CPU-bound one and one inside a
   transaction after commits and rollbacks) are cancelled with SQLSTATE 57014 by the server's
   statement timeout.

Why psycopg's low-level ``pgconn.send_query`` is used for background queries: it sends a query and
returns at once, so a grader can stage several sessions (a runaway, quick queries, idle ones) from
one thread in a few milliseconds, without a thread per session and without races on start order.
"""

from __future__ import annotations

import contextlib
import datetime
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .check import CheckFailure, call, fail, passed

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
EX_ROWS = 50_000
EX_CUSTOMERS = 5_000
EX_STORES = 250
EX_COURIERS = 250
EX_PRODUCTS = 2_000
EX_COUPONS = 1_500
# The name the loaded data set is recorded under; a new layout of the tables gets a new name, so
# a database holding an older layout is reloaded.
_DATASET = "shop/3"

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
    # The index exercise's table (about 70 rows a page). Its columns are made so that only the
    # right index fits the page budget: store_id / courier_id have 200 rows per value (an index on
    # one alone reads about 175 pages, and a range keeping 18-30 % of them leaves 35-60 rows),
    # channel has 4 values; customer_id / product_id / email / sku / coupon have a few rows per
    # value; the rare statuses and flagged hold 1-2 % of the rows (partial indexes).
    """CREATE TABLE ex_orders (
        id int NOT NULL, customer_id int NOT NULL, store_id int NOT NULL, courier_id int NOT NULL,
        product_id int NOT NULL, channel text NOT NULL, status text NOT NULL, flagged boolean NOT NULL,
        email text NOT NULL, sku text NOT NULL, coupon text, amount numeric(10,2) NOT NULL,
        created_at timestamptz NOT NULL
    ) WITH (autovacuum_enabled = false)""",
    """INSERT INTO ex_orders
       SELECT g, c, 1 + floor(random() * %(ex_stores)s)::int,
              1 + floor(random() * %(ex_couriers)s)::int, p,
              (ARRAY['web', 'app', 'store', 'phone'])[1 + floor(random() * 4)::int],
              CASE WHEN r < 0.02 THEN 'pending' WHEN r < 0.03 THEN 'refunded'
                   WHEN r < 0.04 THEN 'on_hold' WHEN r < 0.12 THEN 'cancelled'
                   ELSE 'delivered' END,
              random() < 0.015,
              'User' || c || '@Example.com', 'sku-' || lpad(p::text, 5, '0'),
              CASE WHEN random() < 0.2 THEN 'Promo-' || (1 + floor(random() * %(ex_coupons)s)::int)
              END,
              round((5 + random() * 495)::numeric, 2),
              timestamptz '2024-01-01' + random() * interval '730 days'
       FROM (SELECT g, 1 + floor(random() * %(ex_customers)s)::int AS c,
                    1 + floor(random() * %(ex_products)s)::int AS p, random() AS r
             FROM generate_series(1, %(ex_rows)s) g OFFSET 0) s""",
    # Statistics from every row (300 x target >= rows): the same data gives the same plans.
    "ALTER TABLE ex_orders ALTER COLUMN id SET STATISTICS 200",
    # Primary keys after the bulk insert: building an index once is faster than maintaining it.
    "ALTER TABLE customers ADD PRIMARY KEY (id)",
    "ALTER TABLE orders ADD PRIMARY KEY (id)",
    "ALTER TABLE ex_orders ADD PRIMARY KEY (id)",
    "CREATE TABLE gotchalab_dataset (name text PRIMARY KEY, seed int, orders int, customers int)",
    "INSERT INTO gotchalab_dataset VALUES (%(dataset)s, %(seed)s, %(orders)s, %(customers)s)",
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
            have = (
                conn.execute(
                    "SELECT seed, orders, customers FROM gotchalab_dataset WHERE name = %s",
                    (_DATASET,),
                ).fetchone()
                if _table_exists(conn, "gotchalab_dataset")
                else None
            )
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
            "ex_stores": EX_STORES,
            "ex_couriers": EX_COURIERS,
            "ex_products": EX_PRODUCTS,
            "ex_coupons": EX_COUPONS,
            "dataset": _DATASET,
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
            "SELECT orders, customers FROM gotchalab_dataset WHERE name = %s", (_DATASET,)
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


def _learner(fn: Callable[..., Any], *args: Any, what: str, **kw: Any) -> Any:
    """Call learner code through :func:`gotchalab.check.call`.

    A stub fails once with "not implemented yet" and nothing else; any other exception is
    reported with the case it happened in (``kw``: seed, schedule, replay).
    """
    try:
        return call(fn, *args, what=what)
    except CheckFailure as err:
        if err.category == "not implemented yet":
            raise
        raise CheckFailure(err.category, err.what, **kw) from None


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
# What the staged sessions of check_find_runaway run. The runaway and the queries started after
# it draw from the same texts with values from the same ranges, so only *when* a query started
# tells the runaway apart (one of them is a monitoring query that reads pg_stat_activity too).
_SLEEPERS = [
    "SELECT o.id, o.status, pg_sleep({s}) FROM orders o WHERE o.id = {n}",
    "SELECT pg_sleep({s}), c.email FROM customers c WHERE c.id = {n}",
    "SELECT count(*) AS busy, pg_sleep({s}) FROM pg_stat_activity WHERE state = 'active' "
    "AND pid <> {n}",
    "WITH pause AS MATERIALIZED (SELECT pg_sleep({s})) SELECT c.region, count(*) "
    "FROM customers c, pause WHERE c.id < {n} GROUP BY 1",
]
# Sleeps one millisecond per row in each of a leader and its parallel workers.
_PARALLEL = "SELECT count(*) FROM orders WHERE pg_sleep(0.001) IS NOT NULL AND amount > {n}"
# Waits for the row lock an idle-in-transaction session holds.
_LOCKED = "SELECT id, email FROM customers WHERE id = {lock} FOR UPDATE"
_NAMES = ["api", "web", "worker", "report", "billing", "search", "cron", "etl", "admin", "bi"]
_POOL = 9  # grader sessions per check: enough for every role of a case at once


class _Session:
    """A grader-owned session: a connection able to send a query without waiting for it.

    Set-up statements for several sessions are sent to all of them first and then collected
    (:func:`_on_all`), so staging costs one round trip, not one per session.
    """

    def __init__(self, server: Any, name: str) -> None:
        self.conn = server.connect(
            autocommit=True, application_name=name, options="-c statement_timeout=20000"
        )
        # One pid per query, unless a case asks for parallel workers (max_parallel_workers_...).
        self.conn.execute(
            "SET max_parallel_workers_per_gather = 0; SET parallel_setup_cost = 0; "
            "SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0"
        )
        self.pid: int = self.conn.info.backend_pid
        self.busy = False
        self.in_tx = False
        self.workers = 0

    def send(self, sql: str) -> None:
        self.conn.pgconn.send_query(sql.encode())
        self.busy = True

    def drain(self) -> str | None:
        """Wait for the sent query's results and discard them; the error it ended with, if any."""
        err = None
        if self.busy:
            while (res := self.conn.pgconn.get_result()) is not None:
                msg = res.error_message
                if msg:
                    err = (msg.decode() if isinstance(msg, bytes) else str(msg)).strip()
            self.busy = False
        return err

    def dirty(self) -> bool:
        return self.busy or self.in_tx or self.workers != 0


def _on_all(todo: list[tuple[_Session, str]]) -> dict[int, str | None]:
    """Run one statement string on each session, all at once; the error each ended with."""
    for s, sql in todo:
        s.send(sql)
    return {s.pid: s.drain() for s, _ in todo}


def _reset_all(sessions: list[_Session]) -> None:
    """Back to idle autocommit sessions with no transaction and no parallel workers."""
    for s in sessions:
        s.drain()
    todo = [s for s in sessions if not s.conn.closed and (s.in_tx or s.workers)]
    _on_all([(s, "ROLLBACK; SET max_parallel_workers_per_gather = 0") for s in todo])
    for s in todo:
        s.in_tx, s.workers = False, 0


def _wait_states(
    ctl: Any, want: dict[int, str], deadline_s: float = 10.0, lock_waits: tuple[int, ...] = ()
) -> None:
    """Poll pg_stat_activity until each pid shows the wanted state (bounded wait).

    A pid in ``lock_waits`` must also be waiting for a lock (``wait_event_type = 'Lock'``).
    """
    end = time.monotonic() + deadline_s
    pids = list(want)
    while True:
        rows = {
            pid: (state, wtype)
            for pid, state, wtype in ctl.execute(
                "SELECT pid, state, wait_event_type FROM pg_stat_activity WHERE pid = ANY(%s)",
                (pids,),
            ).fetchall()
        }
        if all(rows.get(p, (None,))[0] == s for p, s in want.items()) and all(
            rows.get(p, (None, None))[1] == "Lock" for p in lock_waits
        ):
            return
        if time.monotonic() > end:
            raise RuntimeError(
                f"sessions did not reach their states in {deadline_s} s: wanted {want} "
                f"(lock waits {lock_waits}), saw {rows}"
            )
        time.sleep(0.002)


def _wait_gone(ctl: Any, pid: int, deadline_s: float = 10.0) -> None:
    """Poll until a terminated backend has left pg_stat_activity (bounded wait)."""
    end = time.monotonic() + deadline_s
    while ctl.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
        if time.monotonic() > end:
            raise RuntimeError(f"backend {pid} did not exit within {deadline_s} s")
        time.sleep(0.002)


@dataclass
class _RunawayCase:
    """What one staged situation of :func:`check_find_runaway` holds (all but the learner's own).

    ``runaway``: how the runaway runs ("sleep", "monitor": sleeps in a query that reads
    pg_stat_activity, "lock", "parallel", "cpu"); ``runaway_tx``: it
    runs inside a transaction begun earlier (so its xact_start is older than its query_start);
    ``later``: queries started after it, each (kind, in a transaction begun before the runaway's);
    ``newer_conn``: the runaway's connection is newer than a later query's; ``idle``,
    ``idle_tx``, ``aborted``: sessions whose last query is older than the runaway's start;
    ``gone``: a query older than the runaway, "cancel"-led or "terminate"-d just before the call;
    ``same_names``: every session has the same application_name.
    """

    runaway: str = "sleep"
    runaway_tx: bool = False
    later: tuple[tuple[str, bool], ...] = ()
    newer_conn: bool = False
    idle: bool = False
    idle_tx: bool = False
    aborted: bool = False
    gone: str | None = None
    same_names: bool = False


# Scripted situations, one per way of getting it wrong, run first by every check; then random ones.
_SCRIPTED = [
    # idle sessions whose last query is older than the runaway's: a query without a state filter
    _RunawayCase(idle=True, idle_tx=True, later=(("sleep", False),)),
    # idle in transaction and in an aborted transaction, no plain idle one: state <> 'idle'
    _RunawayCase(runaway_tx=True, idle_tx=True, aborted=True),
    # a later query inside a transaction begun before the runaway's: ordering by xact_start;
    # the runaway reads pg_stat_activity itself, and every session has the same name
    _RunawayCase(runaway="monitor", later=(("sleep", True),), same_names=True),
    # the runaway's connection is newer than a later query's: ordering by backend_start or pid
    _RunawayCase(later=(("sleep", False), ("sleep", True)), newer_conn=True),
    # the runaway waits for a lock; so does a later query: filters on wait events
    _RunawayCase(runaway="lock", idle_tx=True, later=(("lock", False),)),
    # the runaway has parallel workers with its very query_start
    _RunawayCase(runaway="parallel", later=(("sleep", True),)),
    # an older query stopped just before the call: its session is idle now
    _RunawayCase(gone="cancel", idle=True, later=(("parallel", False),)),
    # an older query whose session was terminated: it is gone from pg_stat_activity
    _RunawayCase(gone="terminate", runaway="cpu", later=(("sleep", False),)),
    # a runaway inside a transaction, later queries that wait for locks and run in parallel
    _RunawayCase(
        runaway_tx=True, idle_tx=True, later=(("lock", True), ("parallel", False)), newer_conn=True
    ),
]


def _random_runaway_case(rng: random.Random) -> _RunawayCase:
    runaway = rng.choices(["sleep", "monitor", "lock", "parallel", "cpu"], weights=[5, 2, 2, 2, 1])[
        0
    ]
    later = tuple(
        (
            rng.choices(["sleep", "monitor", "lock", "parallel"], weights=[5, 2, 2, 1])[0],
            rng.random() < 0.4,
        )
        for _ in range(rng.randint(0, 3))
    )
    locks = runaway == "lock" or any(kind == "lock" for kind, _ in later)
    return _RunawayCase(
        runaway=runaway,
        runaway_tx=rng.random() < 0.3,
        later=later,
        newer_conn=bool(later) and rng.random() < 0.5,
        idle=rng.random() < 0.6,
        idle_tx=locks or rng.random() < 0.6,
        aborted=rng.random() < 0.3,
        gone=rng.choice([None, None, None, "cancel", "terminate"]),
        same_names=rng.random() < 0.2,
    )


def _sleeper(rng: random.Random) -> str:
    return rng.choice(_SLEEPERS).format(s=rng.randint(30, 900), n=rng.randint(2, 29_000))


def _query_for(kind: str, rng: random.Random, lock_row: int) -> str:
    if kind == "lock":
        return _LOCKED.format(lock=lock_row)
    if kind == "parallel":
        return _PARALLEL.format(n=rng.randint(5, 400))
    if kind == "cpu":
        return rng.choice([_RUNAWAYS[0], _RUNAWAYS[2]])
    if kind == "monitor":  # reads pg_stat_activity, as the learner's query does
        return _SLEEPERS[2].format(s=rng.randint(30, 900), n=rng.randint(2, 29_000))
    return _sleeper(rng)


def _open_walsender(server: Any) -> Any:
    """A replication connection that can run SQL (a WAL sender), or None where not allowed.

    Its query shows in pg_stat_activity as active, with backend_type 'walsender': a backend of
    the server that is not a client session.
    """
    import psycopg

    try:
        conn = server.connect(
            autocommit=True,
            replication="database",
            application_name="cdc-stream",
            options="-c statement_timeout=60000",
        )
        conn.execute("SELECT 1")
        return conn
    except psycopg.Error:
        return None


def check_find_runaway(
    find_runaway: Callable[[Any], Any],
    server: Any = None,
    *,
    seed: int = 0,
    cases: int = 20,
) -> None:
    """Stage ``cases`` live situations; ``find_runaway(conn)`` must return the runaway's pid.

    The learner's connection is opened first (the oldest connection of all) and before each call
    has a transaction open (begun before anything else of the case). Each situation
    (:class:`_RunawayCase`; the first ones scripted, one per way of getting it wrong, then seeded
    random ones) stages, under random or identical application names: the runaway (the *active*
    query of a client backend that has run longest; sleeping, waiting for a lock, spinning the
    CPU, or with parallel workers; sometimes inside an older transaction), queries started after
    it (sometimes in transactions begun before it, waiting for locks, with parallel workers),
    sessions idle, idle in transaction or in an aborted transaction whose last query is older
    than the runaway, an older query stopped or terminated just before the call, and, where the
    server allows replication connections, a WAL sender running a query since before all of it.
    The texts of the runaway and of later queries come from the same templates.

    Rules checked on every case:

    1. the answer is an ``int``, the pid of the runaway (ground truth: the pid of the session
       the grader started it on);
    2. find_runaway leaves the caller's connection as it got it: open, autocommit off, its
       transaction still open with the caller's work in it (no commit, no rollback);
    3. it only finds: the runaway and the later queries are still running afterwards.
    """
    import psycopg

    server = server if server is not None else lab()
    started = time.perf_counter()
    names = random.Random(seed)
    learner = server.connect(
        application_name=names.choice(_NAMES) + "-notebook",
        options="-c statement_timeout=2000",
    )
    pool: list[_Session] = []
    ctl = wal = None
    try:
        learner.execute("CREATE TEMP TABLE gotchalab_cart (item int)")
        learner.commit()
        own = learner.info.backend_pid
        pool = [_Session(server, "pool") for _ in range(_POOL)]
        ctl = server.connect(autocommit=True, application_name="gotchalab-grader")
        wal = _open_walsender(server)
        if wal is not None:
            wal.pgconn.send_query(f"SELECT pg_sleep(55), 'cdc' AS slot, {seed} AS n".encode())
        for k in range(cases):
            rng = random.Random(seed * 1_000_003 + k)
            case = _SCRIPTED[k] if k < len(_SCRIPTED) else _random_runaway_case(rng)
            replay = f"sq.check_find_runaway(find_runaway, pg, seed={seed}, cases={k + 1})"
            _runaway_case(find_runaway, case, rng, k, seed, replay, learner, own, pool, ctl, wal)
            # A terminated session is replaced by a new one, which is the newest connection.
            alive = [s for s in pool if not s.conn.closed]
            pool[:] = alive + [_Session(server, "pool") for _ in range(len(pool) - len(alive))]
    finally:
        for s in pool:
            with contextlib.suppress(Exception):
                if s.busy and ctl is not None:
                    ctl.execute("SELECT pg_cancel_backend(%s)", (s.pid,))
                s.drain()
            s.conn.close()
        if wal is not None:
            with contextlib.suppress(Exception):
                wal.cancel()
            wal.close()
        if ctl is not None:
            ctl.close()
        with contextlib.suppress(psycopg.Error):
            learner.rollback()
        learner.close()
    passed("find_runaway picks the active runaway's pid", cases, started)


def _runaway_case(
    find_runaway: Callable[[Any], Any],
    case: _RunawayCase,
    rng: random.Random,
    k: int,
    seed: int,
    replay: str,
    learner: Any,
    own: int,
    pool: list[_Session],
    ctl: Any,
    wal: Any,
) -> None:
    """Stage one situation, call the learner, judge the answer and the side effects; clean up."""
    import psycopg

    lock_row = rng.randint(1, 30_000)
    # Which session plays which role. Pool order is connection order: with newer_conn the
    # runaway gets the newest connection of the case and the later queries the oldest ones.
    order = list(range(len(pool)))
    rng.shuffle(order)
    n_later = len(case.later)
    if case.newer_conn:
        order.sort()
        order = [
            order[-1],
            *order[:n_later],
            *rng.sample(order[n_later:-1], len(order) - n_later - 1),
        ]
    runaway, later = pool[order[0]], [pool[i] for i in order[1 : 1 + n_later]]
    rest = iter(pool[i] for i in order[1 + n_later :])
    idle_tx = next(rest) if case.idle_tx else None
    aborted = next(rest) if case.aborted else None
    idle = next(rest) if case.idle else None
    gone = next(rest) if case.gone else None
    used = [s for s in (runaway, *later, idle_tx, aborted, idle, gone) if s is not None]
    app = f"{rng.choice(_NAMES)}-{rng.randint(1, 9)}"
    labels = rng.sample([f"{n}-{rng.randint(1, 9)}" for n in _NAMES], len(used))
    setup = {
        s.pid: f"SELECT set_config('application_name', '{app if case.same_names else name}', false);"
        for s, name in zip(used, labels, strict=True)
    }
    role: dict[int, str] = {s.pid: "an idle session (its last query is older)" for s in pool}
    role[ctl.info.backend_pid] = "the grader's own session (idle)"
    role[own] = "your own session"
    story = [f"pid {own} (yours): opens a transaction"]
    try:
        # The caller's transaction begins here, before anything of the case; with same_names
        # the caller's session has the shared name too (set in the transaction: it ends with it).
        mine = app if case.same_names else f"{rng.choice(_NAMES)}-notebook"
        learner.execute(
            "INSERT INTO gotchalab_cart SELECT %s FROM set_config('application_name', %s, false)",
            (k, mine),
        )
        # Everything older than the runaway, in one round trip: transactions begun early, an
        # idle-in-transaction session holding a row lock, an aborted transaction, an idle session.
        for s, (_, early) in zip(later, case.later, strict=True):
            if early:
                setup[s.pid] += " BEGIN; SELECT 1;"
                s.in_tx = True
                story.append(f"pid {s.pid}: BEGIN; SELECT 1 (a transaction older than the runaway)")
        if idle_tx is not None:
            setup[idle_tx.pid] += (
                f" BEGIN; SELECT id FROM customers WHERE id = {lock_row} FOR UPDATE;"
            )
            idle_tx.in_tx = True
            story.append(
                f"pid {idle_tx.pid}: BEGIN; locks customer {lock_row}; idle in transaction"
            )
            role[idle_tx.pid] = "a session idle in transaction (its last query is older)"
        if aborted is not None:
            setup[aborted.pid] += " BEGIN; SELECT 1 / 0;"
            aborted.in_tx = True
            story.append(
                f"pid {aborted.pid}: BEGIN; a failed query; idle in an aborted transaction"
            )
            role[aborted.pid] = "a session idle in an aborted transaction"
        if idle is not None:
            setup[idle.pid] += " " + rng.choice(_SLEEPERS).format(s=0, n=rng.randint(2, 29_000))
            story.append(f"pid {idle.pid}: a quick query, then idle")
        _on_all([(s, setup[s.pid]) for s in used if s is not runaway])
        if gone is not None:
            gone.send(_sleeper(rng))
            _wait_states(ctl, {gone.pid: "active"})
            story.append(f"pid {gone.pid}: starts a long query")
        prelude = setup[runaway.pid]
        if case.runaway_tx:
            prelude += f" BEGIN; SELECT {rng.randint(1, 99)} AS step;"
            runaway.in_tx = True
            story.append(f"pid {runaway.pid}: BEGIN; a first quick query")
        if case.runaway == "parallel":
            prelude += " SET max_parallel_workers_per_gather = 2;"
            runaway.workers = 2
        _on_all([(runaway, prelude)])
        sql = _query_for(case.runaway, rng, lock_row)
        runaway.send(sql)
        lock = (runaway.pid,) if case.runaway == "lock" else ()
        _wait_states(ctl, {runaway.pid: "active"}, lock_waits=lock)
        story.append(f"pid {runaway.pid}: starts {sql[:60]!r}... (the runaway)")
        role[runaway.pid] = "the runaway"
        par = [s for s, (kind, _) in zip(later, case.later, strict=True) if kind == "parallel"]
        if par:
            _on_all([(s, "SET max_parallel_workers_per_gather = 2") for s in par])
            for s in par:
                s.workers = 2
        for s, (kind, early) in zip(later, case.later, strict=True):
            text = _query_for(kind, rng, lock_row)
            s.send(text)
            story.append(f"pid {s.pid}: starts {text[:60]!r}... (after the runaway)")
            role[s.pid] = "an active query that started after the runaway" + (
                " (in a transaction begun before it)" if early else ""
            )
        if later:
            locks = [
                s.pid for s, (kind, _) in zip(later, case.later, strict=True) if kind == "lock"
            ]
            _wait_states(ctl, {s.pid: "active" for s in later}, lock_waits=tuple(locks))
        if gone is not None:
            fn = "pg_cancel_backend" if case.gone == "cancel" else "pg_terminate_backend"
            ctl.execute(f"SELECT {fn}(%s)", (gone.pid,))
            gone.drain()
            if case.gone == "terminate":
                _wait_gone(ctl, gone.pid)
                gone.conn.close()
                story.append(f"pid {gone.pid}: terminated (its backend is gone)")
                role[gone.pid] = "a backend that was terminated before the call"
            else:
                story.append(f"pid {gone.pid}: its query is cancelled; now idle")
                role[gone.pid] = "a session whose older query was cancelled (now idle)"
        busy = [runaway, *later]
        if any(s.workers for s in busy):
            _wait_workers(ctl, [s.pid for s in busy if s.workers])
        before = _activity_of(ctl, [s.pid for s in busy])
        for pid, (_, _, leader) in before.items():
            if leader is not None:
                role[pid] = f"a parallel worker of pid {leader} (not a client backend)"
        if wal is not None:
            role[wal.info.backend_pid] = (
                "a WAL sender (backend_type 'walsender', not a client backend)"
            )
        got = _learner(
            find_runaway,
            learner,
            what="find_runaway(conn)",
            seed=seed,
            schedule=story,
            replay=replay,
        )
        watch = {s.pid: before.get(s.pid) for s in busy}  # the client sessions, not workers
        _judge_side_effects(learner, k, ctl, watch, role, seed, story, replay)
        want = runaway.pid
        if type(got) is not int or got != want:
            who = (
                role.get(got, "not a pid of this situation")
                if type(got) is int
                else f"a {type(got).__name__}, not an int"
            )
            fail(
                "wrong backend",
                f"case {k}: find_runaway returned {got!r} ({who}); expected {want}, the pid of the "
                "client backend whose active query has run longest (type int)",
                seed=seed,
                schedule=story,
                expected=want,
                got=got,
                replay=replay,
                hint="look at each session's state and backend_type, at which session is your "
                "own, and at when its current query started (query_start)",
            )
    finally:
        busy_pids = [s.pid for s in pool if s.busy and not s.conn.closed]
        if busy_pids:
            ctl.execute("SELECT pg_cancel_backend(p) FROM unnest(%s::int[]) p", (busy_pids,))
        _reset_all([s for s in pool if not s.conn.closed])
        with contextlib.suppress(psycopg.Error):
            learner.rollback()


def _wait_workers(ctl: Any, leaders: list[int], deadline_s: float = 1.0) -> None:
    """Wait (bounded) until each parallel leader shows its workers; a busy server may give none."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        have = {
            r[0]
            for r in ctl.execute(
                "SELECT DISTINCT leader_pid FROM pg_stat_activity WHERE leader_pid = ANY(%s) "
                "AND state = 'active'",
                (leaders,),
            ).fetchall()
        }
        if have >= set(leaders):
            return
        time.sleep(0.002)


def _activity_of(ctl: Any, pids: list[int]) -> dict[int, tuple[Any, ...]]:
    """(state, query_start, leader_pid) of these pids and of their parallel workers."""
    return {
        r[0]: r[1:]
        for r in ctl.execute(
            "SELECT pid, state, query_start, leader_pid FROM pg_stat_activity "
            "WHERE pid = ANY(%s) OR leader_pid = ANY(%s)",
            (pids, pids),
        ).fetchall()
    }


def _judge_side_effects(
    learner: Any,
    k: int,
    ctl: Any,
    before: dict[int, tuple[Any, ...]],
    role: dict[int, str],
    seed: int,
    story: list[str],
    replay: str,
) -> None:
    """find_runaway must leave the caller's connection and transaction, and the runaway, alone."""
    import psycopg

    def bad(what: str) -> None:
        fail(
            "side effect on the caller",
            f"case {k}: {what}",
            seed=seed,
            schedule=story,
            replay=replay,
            hint="find_runaway only reads pg_stat_activity through the caller's connection: it "
            "does not commit, roll back, close, change settings of, or stop anything",
        )

    if learner.closed:
        bad("find_runaway closed the caller's connection")
    if learner.autocommit is not False:
        bad(f"find_runaway turned autocommit on (conn.autocommit is {learner.autocommit!r})")
    status = learner.info.transaction_status
    if status != psycopg.pq.TransactionStatus.INTRANS:
        bad(
            "the caller's transaction is no longer open after find_runaway (transaction status "
            f"{status.name}; expected INTRANS): it committed, rolled back or broke it"
        )
    mine = learner.execute("SELECT count(*) FROM gotchalab_cart WHERE item = %s", (k,)).fetchone()
    if mine[0] != 1:
        bad("the caller's uncommitted row is gone: find_runaway ended the caller's transaction")
    after = _activity_of(ctl, list(before))
    stopped = [p for p, st in before.items() if after.get(p) != st]
    if stopped:
        bad(
            "after find_runaway, these sessions no longer run the query they ran before the "
            f"call: {[(p, role.get(p, '?')) for p in stopped]}; find_runaway must only find the "
            "runaway, not stop it (stopping is the caller's choice)"
        )


# ---------------------------------------------------------------------------------------------
# grader 2: the index that turns a sequential scan into an index scan
# ---------------------------------------------------------------------------------------------


class SlowQuery(NamedTuple):
    """A slow query on ``ex_orders``, described by the parts of its WHERE clause.

    ``equal``: column expressions compared with ``=`` (e.g. ``"customer_id"``, ``"lower(email)"``);
    ``range``: a column compared with ``>=`` or ``<`` (or None); ``fixed``: a predicate that every
    run of this query repeats word for word (e.g. ``"status = 'pending'"``), or None.
    """

    sql: str
    table: str
    equal: tuple[str, ...]
    range: str | None
    fixed: str | None


# An expression that is not a function call: an index needs it in parentheses of its own.
_UTC_DAY = "(created_at AT TIME ZONE 'UTC')::date"

# The shapes of slow query, by kind; a case k of a check takes shape k (mod the number of shapes
# of its kinds), so every shape is reached by a scripted case, and the values are seeded.
# A shape: (equality columns, range column or None, fixed predicate or None).
_SHAPES: dict[str, list[tuple[tuple[str, ...], str | None, str | None]]] = {
    "equality": [(("customer_id",), None, None), (("product_id",), None, None)],
    "expression": [
        (("lower(email)",), None, None),
        (("upper(sku)",), None, None),
        ((_UTC_DAY,), None, None),
        (("lower(coupon)",), None, None),
    ],
    "composite": [
        (("store_id",), "created_at", None),
        (("courier_id",), "amount", None),
        (("store_id", "courier_id"), None, None),
        (("store_id",), "amount", None),
        (("product_id", "store_id"), None, None),
        (("courier_id",), "created_at", None),
        (("channel", "store_id"), "created_at", None),
    ],
    "partial": [
        (("store_id",), None, "status = 'pending'"),
        (("courier_id",), None, "flagged"),
        (("store_id",), "created_at", "status = 'refunded'"),
        (("lower(email)",), None, "status = 'on_hold'"),
        (("courier_id",), "amount", "status = 'pending'"),
        (("store_id",), None, "flagged"),
    ],
}
# Share of the rows a range keeps: wide enough that a range-first index walks many more index
# pages than PAGE_SLACK, narrow enough that an index on the equality columns alone reads many
# heap pages it throws away.
_RANGE_SHARE = (0.18, 0.3)
_SELECTS = ["*", "id, status, amount", "id, customer_id, created_at", "id, amount, email, sku"]
_EPOCH = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)


def _equal_value(col: str, rng: random.Random) -> str:
    """A literal for ``col = ...`` that matches rows of ``ex_orders``."""
    if col == _UTC_DAY:
        return f"'{(_EPOCH + datetime.timedelta(days=rng.randrange(730))).date().isoformat()}'"
    if col == "lower(email)":
        return f"'user{rng.randint(1, EX_CUSTOMERS)}@example.com'"
    if col == "upper(sku)":
        return f"'SKU-{rng.randint(1, EX_PRODUCTS):05d}'"
    if col == "lower(coupon)":
        return f"'promo-{rng.randint(1, EX_COUPONS)}'"
    if col == "channel":
        return f"'{rng.choice(['web', 'app', 'store', 'phone'])}'"
    top = {
        "customer_id": EX_CUSTOMERS,
        "product_id": EX_PRODUCTS,
        "store_id": EX_STORES,
        "courier_id": EX_COURIERS,
    }
    return str(rng.randint(1, top[col]))


def _range_pred(col: str, share: float, rng: random.Random) -> str:
    """``col >= x`` or ``col < x`` keeping about ``share`` of the rows (both columns uniform)."""
    upward = rng.random() < 0.5
    frac = 1 - share if upward else share
    if col == "created_at":
        day = (_EPOCH + datetime.timedelta(days=round(730 * frac))).date().isoformat()
        return f"created_at {'>=' if upward else '<'} '{day}'"
    return f"amount {'>=' if upward else '<'} {round(5 + 495 * frac)}"


def _slow_query(kind: str, rng: random.Random, shape: int | None = None) -> SlowQuery:
    """A seeded slow query over ``ex_orders`` of the given kind (and shape, else a random one)."""
    if kind not in _SHAPES:
        raise ValueError(f"unknown query kind {kind!r}; expected one of {', '.join(_SHAPES)}")
    shapes = _SHAPES[kind]
    equal, rcol, fixed = shapes[rng.randrange(len(shapes)) if shape is None else shape]
    equal = tuple(rng.sample(equal, len(equal)))  # which comes first says nothing
    preds = [f"{c} = {_equal_value(c, rng)}" for c in equal]
    if rcol is not None:
        preds.append(_range_pred(rcol, rng.uniform(*_RANGE_SHARE), rng))
    if fixed is not None:
        preds.append(fixed)
    rng.shuffle(preds)  # nor does where a predicate sits in the text
    sql = f"SELECT {rng.choice(_SELECTS)} FROM ex_orders WHERE {' AND '.join(preds)}"
    return SlowQuery(sql, "ex_orders", equal, rcol, fixed)


_CREATE_INDEX = re.compile(r"^\s*CREATE\s+(UNIQUE\s+)?INDEX\b", re.I)
PAGE_SLACK = 12  # index pages a well-chosen index may read on top of one page per matching row


def _plan(conn: Any, sql: str, analyze: bool) -> dict[str, Any]:
    opts = "ANALYZE, BUFFERS, FORMAT JSON" if analyze else "FORMAT JSON"
    return plan_summary(conn.execute(f"EXPLAIN ({opts}) {sql}").fetchone()[0])


def _index_case(
    conn: Any, q: SlowQuery, stmt: Any, spelled: dict[str, str] | None = None
) -> str | None:
    """Build the learner's index in a transaction that is always rolled back; judge the plan.

    Returns None if the index does its job, else what is wrong (one sentence to show).
    ``spelled`` maps how the catalogue writes an expression to how ``q`` writes it.
    """
    import psycopg

    spelled = spelled or {}

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
        before = _plan(conn, q.sql, analyze=False)
        old = {
            r[0]
            for r in conn.execute(
                "SELECT indexrelid FROM pg_index WHERE indrelid = %s::regclass", (q.table,)
            ).fetchall()
        }
        try:
            with conn.transaction():
                conn.execute(stmt)
        except psycopg.Error as exc:
            return f"PostgreSQL rejected {stmt!r}: {str(exc).strip().splitlines()[0]}"
        made = conn.execute(
            "SELECT i.indexrelid, i.indexrelid::regclass::text, i.indpred IS NOT NULL, "
            "c.reltuples::bigint, ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) "
            "FROM generate_series(1, i.indnkeyatts) k) "
            "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = %s::regclass",
            (q.table,),
        ).fetchall()
        made = [m[1:] for m in made if m[0] not in old]
        if len(made) != 1:
            return f"{stmt!r} made {len(made)} new indexes on {q.table}; expected exactly one"
        name, partial, entries, keys = made[0]
        keys = list(keys)
        after = _plan(conn, q.sql, analyze=True)
        fixed_rows = (
            conn.execute(f"SELECT count(*) FROM {q.table} WHERE {q.fixed}").fetchone()[0]
            if q.fixed is not None
            else None
        )
    wanted = [*q.equal, *([q.range] if q.range else [])]
    # The catalogue writes an expression its own way: compare it with how it writes ours.
    keys = [spelled.get(k, k) for k in keys]
    missing = [c for c in wanted if c not in keys]
    if missing:
        return (
            f"your index {name} has the key columns {keys}: it lacks {missing} (the query "
            f"compares {', '.join(wanted)})"
        )
    if q.range is not None and any(keys.index(c) > keys.index(q.range) for c in q.equal):
        return (
            f"your index {name} has the key columns {keys}: the range column {q.range!r} comes "
            f"before an equality column of {list(q.equal)}, so the scan walks every entry in the "
            "range and throws most away; put the equality columns first, then the range"
        )
    used = [s for s in after["scans"] if s[2] is not None and s[2].split(".")[-1] == name]
    if not used:
        return (
            f"the plan does not use your index {name}: it scans {after['scans']} "
            f"(cost {after['cost']:.0f}, was {before['cost']:.0f})"
        )
    if not after["cost"] < before["cost"]:
        return f"the plan's cost did not drop: {before['cost']:.1f} -> {after['cost']:.1f}"
    budget = after["rows"] + PAGE_SLACK
    if after["buffers"] > budget:
        return (
            f"your index {name} is used but the query reads {after['buffers']} pages for "
            f"{after['rows']} matching rows (at most {budget} allowed): the index does not lead "
            "to the matching rows directly"
        )
    if q.fixed is not None and (not partial or entries != fixed_rows):
        return (
            f"every run of this query repeats {q.fixed!r}, which {fixed_rows} of the rows "
            f"satisfy, but your index {name} holds {entries} entries; index only those rows "
            f"(a partial index, WHERE {q.fixed}) so the index stays small"
        )
    return None


def _spellings(conn: Any, table: str, exprs: set[str]) -> dict[str, str]:
    """How ``pg_get_indexdef`` writes each expression: built on an empty index, rolled back."""
    out = {}
    with conn.transaction(force_rollback=True):
        for expr in sorted(exprs):
            conn.execute(f"CREATE INDEX gotchalab_spelling ON {table} (({expr})) WHERE false")
            spelled = conn.execute(
                "SELECT pg_get_indexdef('gotchalab_spelling'::regclass, 1, true)"
            ).fetchone()[0]
            conn.execute("DROP INDEX gotchalab_spelling")
            out[spelled] = expr
    return out


def check_index_for(
    index_for: Callable[[SlowQuery], Any],
    server: Any = None,
    *,
    kinds: tuple[str, ...] = ("equality", "expression", "composite", "partial"),
    seed: int = 0,
    cases: int = 12,
) -> None:
    """For ``cases`` seeded slow queries of the given ``kinds``, the learner's index must work.

    Case ``k`` has the shape ``k`` (mod the count) of the kinds' shapes, so each shape is reached
    by a scripted case; its values, the order of its predicates and of ``q.equal`` are seeded.
    Each case runs in a transaction that is rolled back (the index never outlives it). Rules:

    1. one ``CREATE INDEX`` statement, a ``str`` (no ``CONCURRENTLY``, no second statement), that
       PostgreSQL accepts, making exactly one index on ``q.table``;
    2. its key columns hold every ``q.equal`` expression and ``q.range``, every equality column
       before the range column (read from ``pg_index``);
    3. the plan uses it (Index / Index Only / Bitmap Index Scan) and its estimated cost drops;
    4. the query then reads at most (matching rows + :data:`PAGE_SLACK`) pages;
    5. a query with ``q.fixed`` gets a partial index holding exactly the rows satisfying
       ``q.fixed`` (``pg_class.reltuples`` of the index = ``count(*) WHERE fixed``).

    Ground truth is the real planner's EXPLAIN ANALYZE output and the catalogue.
    """
    unknown = [kind for kind in kinds if kind not in _SHAPES]
    if unknown or not kinds:
        raise ValueError(
            f"unknown query kinds {unknown or kinds!r}; expected some of {list(_SHAPES)}"
        )
    server = server if server is not None else lab()
    started = time.perf_counter()
    shapes = [(kind, i) for kind in kinds for i in range(len(_SHAPES[kind]))]
    with server.connect(
        application_name="gotchalab-grader", options="-c statement_timeout=5000"
    ) as conn:
        conn.execute("SET max_parallel_workers_per_gather = 0")  # one plain plan to read
        conn.commit()
        spelled = _spellings(
            conn,
            "ex_orders",
            {c for kind in kinds for eq, _, _ in _SHAPES[kind] for c in eq if not c.isidentifier()},
        )
        for k in range(cases):
            kind, shape = shapes[k % len(shapes)]
            q = _slow_query(kind, random.Random(seed * 1_000_003 + k), shape)
            replay = (
                f"sq.check_index_for(index_for, pg, kinds={kinds!r}, seed={seed}, cases={k + 1})"
            )
            stmt = _learner(index_for, q, what=f"index_for({q!r})", seed=seed, replay=replay)
            msg = _index_case(conn, q, stmt, spelled)
            if msg:
                fail(
                    "index does not fix the plan",
                    f"case {k} ({kind}): {msg}",
                    seed=seed,
                    schedule=[
                        f"query: {q.sql}",
                        f"q.equal={q.equal!r}, q.range={q.range!r}, q.fixed={q.fixed!r}",
                        f"your index: {stmt}",
                    ],
                    replay=replay,
                    hint="equality columns first, then the range column; index the expression "
                    "the query uses, in parentheses of its own; WHERE <fixed predicate> for a "
                    "partial index",
                )
    passed(f"index_for fixes the plan ({', '.join(kinds)})", cases, started)


# ---------------------------------------------------------------------------------------------
# grader 3: a timeout that stops the runaway and spares the workload
# ---------------------------------------------------------------------------------------------


# The app's requests in check_timeout. A script is a list of steps (kind, variant): "normal" (one
# statement of the given ms, then commit; "max": exactly NORMAL_MAX_MS), "lockwait" (waits up to
# 50 ms for a row lock another session holds, then commit), "txn" (an app transaction of a few
# statements, committed), "undo" (an app transaction the app rolls back), "error" (a request
# that fails with an app error, rolled back), and "runaway" (a query that would run for minutes:
# "lock": waits for a lock that is never released, "cpu", "in_tx": sleeps, after a first
# statement of its transaction). The first script opens with a runaway (a SET left uncommitted
# would be rolled back with it); the second reaches its runaways after commits and rollbacks.
_TIMEOUT_SCRIPTS: list[list[tuple[str, str]]] = [
    [("runaway", "lock"), ("normal", "max"), ("txn", ""), ("error", "")],
    [
        ("lockwait", ""),
        ("undo", ""),
        ("runaway", "cpu"),
        ("normal", ""),
        ("txn", ""),
        ("runaway", "in_tx"),
    ],
]
_NORMALS = [
    "SELECT o.id, o.amount, pg_sleep({s}) FROM orders o WHERE o.id = {n}",
    "SELECT c.email, c.region, pg_sleep({s}) FROM customers c WHERE c.id = {n}",
    "SELECT pg_sleep({s}), count(*) FROM orders o WHERE o.id BETWEEN {n} AND {n} + 20",
]
_SLEEP_RUNAWAYS = [
    _RUNAWAYS[1],
    "SELECT pg_sleep(30), 'nightly export' AS job",
    "SELECT c.id, pg_sleep(0.01) FROM customers c ORDER BY c.id",
]
# Session attributes of a psycopg connection that configure_session must not change.
_CONN_ATTRS = ("autocommit", "isolation_level", "read_only", "deferrable")


def _server_wide(conn: Any) -> dict[str, Any]:
    """What configure_session could change for *other* sessions: the default a new session
    gets, per-role/per-database settings, and ``ALTER SYSTEM`` entries (None if unreadable)."""
    import psycopg

    state: dict[str, Any] = {
        "new session": conn.execute("SHOW statement_timeout").fetchone()[0],
        "role/database": sorted(
            (db, role, sorted(cfg or []))
            for db, role, cfg in conn.execute(
                "SELECT setdatabase, setrole, setconfig FROM pg_db_role_setting"
            ).fetchall()
        ),
    }
    try:
        state["ALTER SYSTEM"] = sorted(
            conn.execute(
                "SELECT name, setting FROM pg_file_settings "
                "WHERE sourcefile LIKE '%postgresql.auto.conf'"
            ).fetchall()
        )
    except psycopg.Error:  # not allowed to read it: this role cannot ALTER SYSTEM either
        state["ALTER SYSTEM"] = None
    return state


def _restore_server(conn: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    """Undo per-role/per-database and ALTER SYSTEM changes made by learner code."""
    from psycopg import sql

    if before["role/database"] != after["role/database"]:
        old = {
            (db, role): dict(c.split("=", 1) for c in cfg)
            for db, role, cfg in before["role/database"]
        }
        new = {
            (db, role): dict(c.split("=", 1) for c in cfg)
            for db, role, cfg in after["role/database"]
        }
        for db, role in set(old) | set(new):
            was, now = old.get((db, role), {}), new.get((db, role), {})
            for name in set(was) | set(now):
                if was.get(name) == now.get(name):
                    continue
                target = []
                if role:
                    rname = conn.execute(
                        "SELECT rolname FROM pg_roles WHERE oid = %s", (role,)
                    ).fetchone()[0]
                    target.append(sql.SQL("ROLE {}").format(sql.Identifier(rname)))
                if db:
                    dname = conn.execute(
                        "SELECT datname FROM pg_database WHERE oid = %s", (db,)
                    ).fetchone()[0]
                    target.append(
                        sql.SQL("{} {}").format(
                            sql.SQL("IN DATABASE" if role else "DATABASE"), sql.Identifier(dname)
                        )
                    )
                change = (
                    sql.SQL("SET {} TO {}").format(sql.Identifier(name), sql.Literal(was[name]))
                    if name in was
                    else sql.SQL("RESET {}").format(sql.Identifier(name))
                )
                conn.execute(sql.SQL("ALTER {} {}").format(sql.SQL(" ").join(target), change))
    if before["ALTER SYSTEM"] is not None and before["ALTER SYSTEM"] != after["ALTER SYSTEM"]:
        was, now = dict(before["ALTER SYSTEM"]), dict(after["ALTER SYSTEM"] or [])
        for name in set(was) | set(now):
            if was.get(name) != now.get(name):
                conn.execute(
                    sql.SQL("ALTER SYSTEM SET {} TO {}").format(
                        sql.Identifier(name), sql.Literal(was[name])
                    )
                    if name in was
                    else sql.SQL("ALTER SYSTEM RESET {}").format(sql.Identifier(name))
                )
        conn.execute("SELECT pg_reload_conf()")


def _session_settings(conn: Any) -> dict[str, str]:
    return dict(conn.execute("SELECT name, setting FROM pg_settings").fetchall())


def check_timeout(
    configure_session: Callable[[Any], Any],
    server: Any = None,
    *,
    seed: int = 0,
    cases: int = 1,
) -> None:
    """``configure_session(conn)`` must make the server stop runaways and spare everything else.

    Case ``k`` plays the scripted workload ``(seed + k) % 2`` of :data:`_TIMEOUT_SCRIPTS` (so
    seeds 0 and 31 play both), with seeded durations, query texts and application name. Per case
    a fresh app connection (autocommit off) is given to the learner's function. Rules:

    1. configure_session leaves the connection as the app had it: open, autocommit off,
       isolation level, read-only and deferrable unchanged, no transaction left open;
    2. it changes no other setting of the session (``pg_settings`` but statement_timeout);
    3. the session's ``statement_timeout`` is more than :data:`NORMAL_MAX_MS` and less than
       :data:`STOP_WITHIN_MS` ms;
    4. nothing changes for other sessions: the timeout a new session gets, per-role and
       per-database settings, ALTER SYSTEM entries (undone by the grader if changed);
    5. then the app's requests, each committed (or rolled back on error) as an app does: normal
       ones (up to NORMAL_MAX_MS, one exactly that long; sleeping or waiting for a lock) all
       succeed; the app's transactions keep their meaning (what it commits stays, what it rolls
       back goes); each runaway (sleeping, spinning, waiting for a lock, inside a transaction;
       the first request, or after a commit and a rollback) fails with SQLSTATE 57014 raised by
       the server's statement timeout. A client-side watchdog cancels what the server let run.
    """
    server = server if server is not None else lab()
    started = time.perf_counter()
    for k in range(cases):
        rng = random.Random(seed * 1_000_003 + k)
        script = _TIMEOUT_SCRIPTS[(seed + k) % len(_TIMEOUT_SCRIPTS)]
        replay = f"sq.check_timeout(configure_session, pg, seed={seed}, cases={k + 1})"
        _timeout_case(configure_session, server, script, rng, k, seed, replay)
    passed("the timeout stops runaways and spares the app", cases, started)


def _timeout_case(
    configure_session: Callable[[Any], Any],
    server: Any,
    script: list[tuple[str, str]],
    rng: random.Random,
    k: int,
    seed: int,
    replay: str,
) -> None:
    import psycopg

    done: list[str] = []
    helper = server.connect(autocommit=True, application_name="gotchalab-locker")
    conn = server.connect(application_name=f"{rng.choice(_NAMES)}-app-{rng.randint(1, 99)}")
    probe = None
    wide_before = _server_wide(helper)
    wide_after = wide_before

    def bad(category: str, what: str, hint: str) -> None:
        fail(category, f"case {k}: {what}", seed=seed, schedule=done, replay=replay, hint=hint)

    try:
        conn.execute("CREATE TEMP TABLE app_orders (id int, note text)")
        conn.commit()
        attrs = {a: getattr(conn, a) for a in _CONN_ATTRS}
        settings = _session_settings(conn)
        conn.rollback()
        _learner(configure_session, conn, what="configure_session(conn)", seed=seed, replay=replay)
        done.append("configure_session(conn) returned")
        # -- what configure_session left behind --------------------------------------------------
        if conn.closed:
            bad(
                "side effect on the caller",
                "configure_session closed the app's connection",
                "`with conn:` closes the connection at the end of the block",
            )
        for a, was in attrs.items():
            now = getattr(conn, a)
            if now != was:
                bad(
                    "side effect on the caller",
                    f"configure_session changed conn.{a} from {was!r} to {now!r}",
                    "the app relies on its own transactions (autocommit off): set the timeout "
                    "without changing how the connection handles transactions",
                )
        status = conn.info.transaction_status
        if status != psycopg.pq.TransactionStatus.IDLE:
            bad(
                "session left in a transaction",
                f"configure_session returned with the connection in transaction status "
                f"{status.name} (expected IDLE: no transaction open)",
                "with autocommit off, your SET opened a transaction; until it is committed the "
                "app's first rollback (after a cancelled runaway, say) undoes it: commit it"
                if status == psycopg.pq.TransactionStatus.INTRANS
                else "a statement of yours failed and left the transaction aborted",
            )
        now_settings = _session_settings(conn)
        conn.rollback()
        changed = {
            n: (settings.get(n), v)
            for n, v in now_settings.items()
            if n != "statement_timeout" and settings.get(n) != v
        }
        if changed:
            bad(
                "side effect on the caller",
                "configure_session changed other settings of the session: "
                + ", ".join(f"{n}: {a!r} -> {b!r}" for n, (a, b) in sorted(changed.items())),
                "set the statement timeout only",
            )
        ms = int(now_settings["statement_timeout"])  # pg_settings gives it in milliseconds
        done.append(f"the session's statement_timeout is {ms} ms")
        if ms == 0:
            bad(
                "runaway not stopped",
                "after configure_session the session has no statement timeout "
                "(statement_timeout = 0)",
                "a SET LOCAL (or set_config(..., true)) lasts only until its transaction ends, "
                "and a SET in a transaction that is rolled back is undone",
            )
        if ms <= NORMAL_MAX_MS:
            bad(
                "normal workload broken",
                f"statement_timeout is {ms} ms: a normal request taking {NORMAL_MAX_MS} ms "
                "would be cancelled",
                f"the timeout must be more than {NORMAL_MAX_MS} ms and less than "
                f"{STOP_WITHIN_MS} ms",
            )
        if ms >= STOP_WITHIN_MS:
            bad(
                "runaway not stopped",
                f"statement_timeout is {ms} ms: a runaway would run {ms} ms, not be stopped "
                f"within {STOP_WITHIN_MS} ms",
                f"the timeout must be more than {NORMAL_MAX_MS} ms and less than "
                f"{STOP_WITHIN_MS} ms",
            )
        probe = server.connect(autocommit=True, application_name="gotchalab-grader")
        wide_after = _server_wide(probe)
        diff = [key for key in wide_before if wide_before[key] != wide_after[key]]
        if diff:
            bad(
                "side effect beyond this session",
                "configure_session changed settings for other sessions too: "
                + "; ".join(f"{d}: {wide_before[d]!r} -> {wide_after[d]!r}" for d in diff),
                "set the timeout for this session only (SET, not ALTER ROLE / DATABASE / SYSTEM)",
            )
        # -- the app's requests ------------------------------------------------------------------
        for i, (kind, variant) in enumerate(script):
            _timeout_step(conn, helper, probe, kind, variant, rng, i, done, bad)
    finally:
        with contextlib.suppress(Exception):
            conn.cancel()
        conn.close()
        with contextlib.suppress(Exception):
            if probe is None:
                probe = server.connect(autocommit=True, application_name="gotchalab-grader")
                wide_after = _server_wide(probe)
            _restore_server(probe, wide_before, wide_after)
        with contextlib.suppress(Exception):
            helper.cancel()
        helper.close()
        if probe is not None:
            probe.close()


def _hold_lock(helper: Any, probe: Any, row: int, ms: int | None) -> None:
    """The helper session takes customer ``row``'s lock: for ``ms`` (timed by the server), or
    until it is rolled back (``ms`` None). Returns once the lock is held."""
    if ms is None:
        helper.execute("BEGIN")
        helper.execute(f"SELECT id FROM customers WHERE id = {row} FOR UPDATE")
        return
    helper.pgconn.send_query(
        f"BEGIN; SELECT id FROM customers WHERE id = {row} FOR UPDATE; "
        f"SELECT pg_sleep({ms / 1000}); COMMIT".encode()
    )
    pid = helper.info.backend_pid
    end = time.monotonic() + 10

    def done() -> bool:  # on a busy machine the whole hold may be over before we look
        helper.pgconn.consume_input()
        return not helper.pgconn.is_busy()

    while (
        probe.execute(
            "SELECT wait_event IS DISTINCT FROM 'PgSleep' FROM pg_stat_activity WHERE pid = %s",
            (pid,),
        ).fetchone()[0]
        and not done()
    ):
        if time.monotonic() > end:
            raise RuntimeError("the grader's lock holder did not take its lock within 10 s")
        time.sleep(0.001)


def _release(helper: Any) -> None:
    """End whatever the helper holds: a timed lock finishes, an open transaction rolls back."""
    while helper.pgconn.get_result() is not None:
        pass
    if helper.info.transaction_status != 0:
        helper.execute("ROLLBACK")


def _timeout_step(
    conn: Any,
    helper: Any,
    probe: Any,
    kind: str,
    variant: str,
    rng: random.Random,
    i: int,
    done: list[str],
    bad: Callable[[str, str, str], None],
) -> None:
    """Run one request of the app on ``conn`` and judge it."""
    import psycopg

    row = rng.randint(1, 30_000)
    n = rng.randint(1, 290_000)
    if kind == "normal":
        wait = NORMAL_MAX_MS if variant == "max" else rng.randint(1, 60)
        text = _NORMALS[0 if variant == "max" else rng.randrange(3)]
        stmts = [text.format(s=wait / 1000, n=n)]
        label = f"normal request ({wait} ms of work)"
    elif kind == "lockwait":
        wait = rng.randint(20, 50)
        _hold_lock(helper, probe, row, wait)
        stmts = [f"SELECT id, email FROM customers WHERE id = {row} FOR UPDATE"]
        label = f"normal request waiting up to {wait} ms for a row lock"
    elif kind in ("txn", "undo"):
        parts = [rng.randint(2, 25) for _ in range(rng.randint(2, 3))]
        stmts = [
            f"INSERT INTO app_orders SELECT {n + j}, 'p' FROM pg_sleep({p / 1000})"
            for j, p in enumerate(parts)
        ]
        label = f"app transaction: {len(parts)} inserts ({'+'.join(map(str, parts))} ms), then " + (
            "commit" if kind == "txn" else "the app rolls it back"
        )
    elif kind == "error":
        stmts = [f"SELECT id / (id - id) FROM customers WHERE id = {row}"]
        label = "request failing with an app error (division by zero), rolled back"
    else:  # runaway
        if variant == "lock":
            _hold_lock(helper, probe, row, None)
            stmts = [f"SELECT id, region FROM customers WHERE id = {row} FOR UPDATE"]
        elif variant == "cpu":
            stmts = [rng.choice([_RUNAWAYS[0], _RUNAWAYS[2]])]
        elif variant == "in_tx":
            stmts = [f"INSERT INTO app_orders VALUES ({n}, 'r')", rng.choice(_SLEEP_RUNAWAYS)]
        else:
            stmts = [rng.choice(_SLEEP_RUNAWAYS)]
        label = f"runaway query ({variant})"
    watchdog = threading.Timer(
        (STOP_WITHIN_MS if kind == "runaway" else 1000) / 1000 + 0.3, conn.cancel
    )
    err: psycopg.Error | None = None
    t = time.perf_counter()
    watchdog.start()
    try:
        for sql in stmts:
            cur = conn.execute(sql)
            if cur.description is not None:
                cur.fetchall()
        if kind == "undo":
            conn.rollback()
        else:
            conn.commit()
    except psycopg.Error as exc:
        err = exc
        conn.rollback()
    finally:
        watchdog.cancel()
        ms = (time.perf_counter() - t) * 1000
        _release(helper)
    outcome = "ok" if err is None else f"{type(err).__name__}"
    done.append(f"request {i + 1}, {label}: {outcome} after {ms:.0f} ms")
    by_timeout = err is not None and err.sqlstate == "57014" and "statement timeout" in str(err)
    if kind == "runaway":
        if not by_timeout:
            what = (
                "it ran until the grader's watchdog cancelled it"
                if err is not None and err.sqlstate == "57014"
                else f"it failed with {type(err).__name__}: {str(err).strip()}"
                if err is not None
                else "it ran to the end unstopped"
            )
            bad(
                "runaway not stopped",
                f"request {i + 1} is a runaway ({variant}); expected the server to cancel it "
                f"with SQLSTATE 57014 (statement timeout) within {STOP_WITHIN_MS} ms; {what}",
                "a statement timeout stops every statement that runs too long, whatever it is "
                "doing (computing, sleeping, waiting for a lock)",
            )
        return
    if kind == "error":
        if err is None or err.sqlstate != "22012":
            bad(
                "normal workload broken",
                f"request {i + 1} should fail with division_by_zero, the app's own error; got "
                f"{outcome}",
                "change nothing but the statement timeout",
            )
        return
    if err is not None:
        bad(
            "normal workload broken",
            f"request {i + 1} ({label}) failed with {type(err).__name__}: {str(err).strip()}",
            f"normal requests take up to {NORMAL_MAX_MS} ms: leave them room",
        )
    if kind in ("txn", "undo"):
        ids = [n + j for j in range(len(stmts))]
        kept = conn.execute(
            "SELECT count(*) FROM app_orders WHERE id = ANY(%s)", (ids,)
        ).fetchone()[0]
        conn.rollback()
        want = len(ids) if kind == "txn" else 0
        if kept != want:
            bad(
                "side effect on the caller",
                f"after the app's {'commit' if kind == 'txn' else 'rollback'} of its "
                f"{len(ids)} inserts, {kept} of them are in the table (expected {want}): the "
                "app's transactions no longer work as it expects",
                "leave the connection's transaction handling (autocommit off) as it was",
            )
