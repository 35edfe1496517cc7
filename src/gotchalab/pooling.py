"""Chapter 04, connection-pool exhaustion: seeded pool models for the demos, and the graders.

Models (for pictures; deterministic for a seed)
------------------------------------------------
* :func:`simulate_sizing`: requests arrive (Poisson) at an application whose pool has ``pool_size``
  connections to a database with ``db_cores`` cores. Queries on the database share the cores
  (processor sharing) and, past the core count, slow each other down further (lock, latch and
  cache contention: ``contention`` per extra query). Requests that wait longer than the acquire
  timeout for a connection give up. This shows why a bigger pool is not a faster one.
* :func:`simulate_clients`: a handful of clients borrowing from a small pool, one of them leaking a
  connection on an exception path; it records a :class:`~gotchalab.trace.Trace` of who holds which
  connection, for :func:`~gotchalab.timeline.draw_timeline`.

Graders (``check_*``)
---------------------
The learner writes ``ConnectionPool(dsn, size, acquire_timeout, connect=psycopg.connect)`` and
``diagnose(conn, prefix)``. Each grader runs two kinds of cases:

* **model cases**: thousands of seeded single-threaded operation sequences against a fake
  connection factory (:class:`FakeServer`), so ground truth (how many connections are open, which
  are lent, which have an open transaction, who borrowed what) comes from the grader's own
  bookkeeping of what it did, never from a reference pool. Every case runs in a watchdog thread:
  a pool that blocks forever becomes a verdict in about a second, not a hung kernel.
* **real-server cases**: threads against a real PostgreSQL (:mod:`gotchalab.services`), checked
  through ``pg_stat_activity`` (each case tags its connections with a unique ``application_name``).

``PoolTimeout`` lives here so that the grader can recognise it by class.
"""

from __future__ import annotations

import heapq
import math
import random
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .check import fail, passed
from .trace import Trace

__all__ = [
    "PoolTimeout",
    "FakeServer",
    "FakeConnection",
    "simulate_sizing",
    "simulate_clients",
    "activity",
    "check_pool_bounded_size",
    "check_pool_acquire_timeout",
    "check_pool_returns_on_exception",
    "check_pool_no_idle_in_transaction_leak",
    "check_pool_leak_detection",
    "check_diagnose_pg_stat_activity",
]


class PoolTimeout(TimeoutError):
    """No connection became free within the acquire timeout (the message says size and wait)."""


# ============================================================================================
# Models for the chapter's pictures
# ============================================================================================


def simulate_sizing(
    pool_size: int,
    *,
    seed: int,
    db_cores: int = 4,
    arrivals_per_s: float = 600.0,
    mean_work_ms: float = 5.0,
    contention: float = 0.03,
    duration_s: float = 5.0,
    acquire_timeout_s: float = 1.0,
) -> dict[str, float]:
    """One seeded run of an open-loop workload through a pool of ``pool_size`` connections.

    Invariant: at most ``pool_size`` queries run on the database at once; with ``k`` of them
    running, each progresses at ``min(1, cores / k) / (1 + contention * max(0, k - cores))`` units
    of work per unit of time. Returns throughput (served requests per second), latency percentiles
    of served requests (connection wait + query, ms) and the share that timed out waiting.
    """
    if pool_size < 1:
        raise ValueError(f"pool_size must be >= 1, got {pool_size}")
    rng = random.Random(seed)
    work_mean = mean_work_ms / 1000.0

    def rate(k: int) -> float:
        return min(1.0, db_cores / k) / (1.0 + contention * max(0, k - db_cores))

    # Every running query progresses at the same rate, so track "virtual work done per query" v:
    # a query that starts at v0 with w units of work ends when v reaches v0 + w (a heap, O(log k)).
    t = 0.0
    v = 0.0
    next_arrival = rng.expovariate(arrivals_per_s)
    active: list[tuple[float, float]] = []  # heap of (virtual finish, arrival time)
    queue: deque[tuple[float, float]] = deque()  # (arrival time, work)
    latencies: list[float] = []
    timeouts = 0
    while True:
        k = len(active)
        r = rate(k) if k else 0.0
        t_done = t + (active[0][0] - v) / r if k else math.inf
        if next_arrival > duration_s and not k:
            break
        t_next = min(t_done, next_arrival if next_arrival <= duration_s else math.inf)
        v += (t_next - t) * r
        t = t_next
        if t == t_done:
            _, arrived = heapq.heappop(active)
            latencies.append(t - arrived)
            # The freed connection goes to the oldest waiter that has not given up yet.
            while queue:
                arrived_q, work = queue.popleft()
                if t - arrived_q > acquire_timeout_s:
                    timeouts += 1
                    continue
                heapq.heappush(active, (v + work, arrived_q))
                break
        else:
            work = rng.expovariate(1.0 / work_mean)
            if len(active) < pool_size:
                heapq.heappush(active, (v + work, t))
            else:
                queue.append((t, work))
            next_arrival = t + rng.expovariate(arrivals_per_s)
    timeouts += len(queue)
    served = len(latencies)
    latencies.sort()

    def pct(p: float) -> float:
        return 1000.0 * latencies[min(served - 1, int(p * served))] if served else math.nan

    return {
        "pool_size": float(pool_size),
        "throughput_per_s": served / duration_s,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "timeout_share": timeouts / max(1, served + timeouts),
    }


def simulate_clients(
    *,
    seed: int,
    pool_size: int = 2,
    clients: int = 5,
    acquire_timeout: float = 0.3,
    leaky_client: int | None = 1,
) -> Trace:
    """A small seeded run of ``clients`` borrowing from a pool of ``pool_size`` connections.

    Each client asks at a seeded time and holds its connection for a seeded while; the
    ``leaky_client`` (1-based, or None) hits an exception and never returns its connection. A
    client that waits longer than ``acquire_timeout`` gives up. Invariant of the trace: a
    connection is held by at most one client at a time, and is free between a ``release`` and the
    next ``acquire`` of it.
    """
    rng = random.Random(seed)
    trace = Trace(seed=seed, nodes=[f"client-{i}" for i in range(1, clients + 1)])
    free = [f"conn-{i}" for i in range(1, pool_size + 1)]
    events: list[tuple[float, int, str, int]] = []  # (time, tiebreak, kind, client)
    n = 0
    for c in range(1, clients + 1):
        start = round(0.05 * (c - 1) + rng.uniform(0, 0.04), 3)
        events.append((start, n, "ask", c))
        n += 1
    heapq.heapify(events)
    waiting: deque[tuple[int, float]] = deque()
    holds: dict[int, str] = {}

    def grant(c: int, now: float) -> None:
        nonlocal n
        conn = free.pop(0)
        holds[c] = conn
        trace.record(now, f"client-{c}", "acquire", conn=conn, text=f"gets {conn}")
        if c == leaky_client:
            t_err = round(now + 0.05, 3)
            heapq.heappush(events, (t_err, n, "leak", c))
        else:
            heapq.heappush(events, (round(now + rng.uniform(0.08, 0.16), 3), n, "done", c))
        n += 1

    while events:
        now, _, kind, c = heapq.heappop(events)
        if kind == "ask":
            trace.record(now, f"client-{c}", "request", text="asks for a connection")
            if free and not waiting:
                grant(c, now)
            else:
                waiting.append((c, now))
                heapq.heappush(events, (round(now + acquire_timeout, 3), n, "giveup", c))
                n += 1
        elif kind == "done":
            conn = holds.pop(c)
            trace.record(now, f"client-{c}", "release", conn=conn, text=f"returns {conn}")
            free.append(conn)
            if waiting:
                w, _asked = waiting.popleft()
                grant(w, now)
        elif kind == "leak":
            conn = holds[c]  # never returned: the exception skipped the release
            trace.record(now, f"client-{c}", "leak", conn=conn, text=f"raises; {conn} leaked")
        elif kind == "giveup" and any(w == c for w, _ in waiting):
            waiting = deque((w, a) for w, a in waiting if w != c)
            trace.record(
                now, f"client-{c}", "timeout", text=f"PoolTimeout after {acquire_timeout:g} s"
            )
    return trace


def activity(conn: Any, prefix: str = "") -> Any:
    """``pg_stat_activity`` as a pandas DataFrame: this server's client sessions, oldest first.

    Columns: application_name, state, wait_event_type, wait_event, xact_age_s (how long the open
    transaction has run), query_age_s and query. ``prefix`` keeps only application names that
    start with it. The session running this query is left out.
    """
    import pandas as pd

    rows = conn.execute(
        """
        select application_name, state, wait_event_type, wait_event,
               round(extract(epoch from now() - xact_start)::numeric, 2) as xact_age_s,
               round(extract(epoch from now() - query_start)::numeric, 2) as query_age_s,
               left(query, 60) as query
          from pg_stat_activity
         where backend_type = 'client backend' and pid <> pg_backend_pid()
           and application_name like %s
         order by application_name
        """,
        (prefix.replace("%", r"\%") + "%",),
    ).fetchall()
    cols = [
        "application_name",
        "state",
        "wait_event_type",
        "wait_event",
        "xact_age_s",
        "query_age_s",
        "query",
    ]
    frame = pd.DataFrame(rows, columns=cols)
    for c in ("xact_age_s", "query_age_s"):
        frame[c] = frame[c].astype(float)
    return frame


# ============================================================================================
# Fake connections: the model the graders explore quickly
# ============================================================================================


class _FakeInfo:
    def __init__(self, conn: FakeConnection) -> None:
        self._conn = conn

    @property
    def transaction_status(self):
        from psycopg.pq import TransactionStatus

        if self._conn.closed:
            return TransactionStatus.UNKNOWN
        return TransactionStatus.INTRANS if self._conn.in_tx else TransactionStatus.IDLE


class FakeConnection:
    """Just enough of ``psycopg.Connection`` for a pool: execute/commit/rollback/close/info.

    Invariant: ``in_tx`` is True after ``execute`` until ``commit`` or ``rollback`` (autocommit
    off, like psycopg's default), so the grader knows exactly which connection has an open
    transaction.
    """

    def __init__(self, server: FakeServer, number: int) -> None:
        self.name = f"conn-{number}"
        self.closed = False
        self.broken = False
        self.autocommit = False
        self.in_tx = False
        self.commits = 0
        self.rollbacks = 0
        self.info = _FakeInfo(self)
        self._server = server

    def execute(self, query: str, params: Any = None) -> FakeConnection:
        if self.closed:
            import psycopg

            raise psycopg.OperationalError(f"the connection {self.name} is closed")
        self.in_tx = True
        return self

    def commit(self) -> None:
        if self.in_tx:
            self.commits += 1
        self.in_tx = False

    def rollback(self) -> None:
        self.rollbacks += 1
        self.in_tx = False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._server.open -= 1

    def __repr__(self) -> str:
        return f"<FakeConnection {self.name}{' closed' if self.closed else ''}>"


class FakeServer:
    """A fake ``connect`` function that counts the connections it has open."""

    def __init__(self) -> None:
        self.open = 0
        self.max_open = 0
        self.made: list[FakeConnection] = []

    def connect(self, conninfo: str = "", **kw: Any) -> FakeConnection:
        conn = FakeConnection(self, len(self.made) + 1)
        self.made.append(conn)
        self.open += 1
        self.max_open = max(self.max_open, self.open)
        return conn


# ============================================================================================
# Grader plumbing
# ============================================================================================


class _Boom(Exception):
    """The exception the grader raises inside a ``with pool.connection()`` body."""


@dataclass
class _Case:
    seed: int
    size: int
    ops: list[str]


class _Verdict(Exception):
    """A model case failed: category, what, and the steps run so far."""

    def __init__(self, category: str, what: str, hint: str | None = None) -> None:
        super().__init__(what)
        self.category = category
        self.what = what
        self.hint = hint


def _guarded(fn: Callable[[], Any], limit_s: float, progress: dict[str, Any]) -> Any:
    """Run ``fn`` in a daemon thread; if it makes no progress for ``limit_s``, report a hang.

    ``progress['tick']`` is bumped by ``fn`` after each step; ``progress['where']`` says where it is.
    """
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=run, daemon=True, name="gotchalab-grader")
    worker.start()
    last_tick, last_change = progress.get("tick", 0), time.monotonic()
    while worker.is_alive():
        worker.join(0.02)
        tick = progress.get("tick", 0)
        if tick != last_tick:
            last_tick, last_change = tick, time.monotonic()
        elif time.monotonic() - last_change > limit_s:
            fail(
                "blocked forever",
                f"your pool made no progress for {limit_s:g} s: {progress.get('where')}",
                seed=progress.get("seed"),
                schedule=progress.get("steps"),
                hint="acquire() must give up after acquire_timeout seconds and raise PoolTimeout",
            )
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"\d+(?:\.\d+)?", text)]


def _timeout_message_ok(msg: str, size: int, timeout: float) -> bool:
    """The PoolTimeout message names the pool size and the wait (in s or ms)."""
    nums = _numbers(msg)
    names_size = any(n == size for n in nums)
    names_wait = any(
        math.isclose(n, timeout, rel_tol=0.5, abs_tol=1e-9)
        or math.isclose(n, timeout * 1000, rel_tol=0.5, abs_tol=1e-9)
        for n in nums
    )
    return names_size and names_wait


# Operations of the model cases; each cell draws from its own alphabet.
_GET, _PUT, _TX, _WITH_OK, _WITH_TX, _WITH_RAISE = "get", "put", "tx", "with", "with-tx", "raise"


def _make_case(rng: random.Random, alphabet: list[str], weights: list[float]) -> _Case:
    size = rng.randint(1, 4)
    n_ops = rng.randint(3, 14)
    return _Case(rng.getrandbits(32), size, rng.choices(alphabet, weights, k=n_ops))


def _describe(op: str, detail: str = "") -> str:
    text = {
        _GET: "pool.acquire()",
        _PUT: "pool.release(conn)",
        _TX: "conn.execute(...) on a borrowed connection (a transaction is now open)",
        _WITH_OK: "with pool.connection() as conn: conn.execute(...); conn.commit()",
        _WITH_TX: "with pool.connection() as conn: conn.execute(...)   # no commit",
        _WITH_RAISE: "with pool.connection() as conn: conn.execute(...); raise an exception",
    }[op]
    return f"{text}{detail}"


def _run_model_case(
    Pool: type, case: _Case, progress: dict[str, Any], checks: set[str]
) -> list[str]:
    """Run one model case; raise :class:`_Verdict` on the first broken invariant.

    ``checks`` picks which invariants this cell grades: "bounded", "timeout", "exception", "tx".
    Returns the steps run (for the report).
    """
    from .check import call

    server = FakeServer()
    steps: list[str] = [f"pool = ConnectionPool(dsn, size={case.size}, acquire_timeout=0)"]
    progress["steps"] = steps
    pool = call(
        lambda: Pool("fake-dsn", case.size, 0.0, connect=server.connect),
        what="ConnectionPool(dsn, size, acquire_timeout, connect=...)",
        seed=case.seed,
    )
    rng = random.Random(case.seed)
    lent: list[Any] = []

    def bump(where: str) -> None:
        progress["tick"] = progress.get("tick", 0) + 1
        progress["where"] = where

    def check_bounded() -> None:
        if "bounded" in checks and server.open > case.size:
            raise _Verdict(
                "pool grew past its size",
                f"{server.open} real connections are open, but size={case.size}",
                "when every connection is lent, wait for a release (or time out); never open more",
            )

    def check_fresh(conn: Any) -> None:
        if not isinstance(conn, FakeConnection) or conn not in server.made:
            raise _Verdict(
                "not a connection",
                f"acquire() returned {conn!r}, not a connection made by connect()",
            )
        if conn.closed:
            raise _Verdict("lent a closed connection", f"acquire() returned closed {conn.name}")
        if any(conn is c for c in lent):
            raise _Verdict(
                "one connection lent twice",
                f"{conn.name} was handed out while another borrower still holds it",
            )
        if "tx" in checks and conn.in_tx:
            raise _Verdict(
                "open transaction leaked to the next borrower",
                f"{conn.name} was handed out 'idle in transaction': the previous borrower's "
                "uncommitted work is still open on it",
                "roll back before reusing a connection (conn.rollback())",
            )

    def acquire_when_full(label: str) -> None:
        try:
            got = pool.acquire()
        except PoolTimeout as exc:
            if "timeout" in checks and float(case.size) not in _numbers(str(exc)):
                raise _Verdict(
                    "unclear timeout message",
                    f"PoolTimeout({str(exc)!r}) does not name the pool size {case.size}",
                ) from None
            return
        except _Verdict:
            raise
        except Exception as exc:
            raise _Verdict(
                "wrong exception when the pool is empty",
                f"{label} raised {type(exc).__name__}: {exc}; expected PoolTimeout",
            ) from None
        check_bounded()
        raise _Verdict(
            "pool grew past its size" if server.open > case.size else "acquire ignored the limit",
            f"{label} returned {got!r} while all {case.size} connections were lent",
            "when every connection is lent, wait (up to acquire_timeout) and raise PoolTimeout",
        )

    for op in case.ops:
        full = len(lent) >= case.size
        if op == _PUT and not lent:
            op = _GET
        if op == _TX and not lent:
            op = _GET
        steps.append(_describe(op, "   # every connection is lent" if full and op != _PUT else ""))
        bump(f"step {len(steps) - 1}: {steps[-1]}")
        if op == _GET:
            if full:
                acquire_when_full("acquire()")
            else:
                try:
                    conn = pool.acquire()
                except PoolTimeout as exc:
                    raise _Verdict(
                        "timed out with a free connection",
                        f"acquire() raised PoolTimeout({exc}) though only {len(lent)} of "
                        f"{case.size} connections were lent",
                    ) from None
                check_bounded()
                check_fresh(conn)
                lent.append(conn)
        elif op == _PUT:
            conn = lent.pop(rng.randrange(len(lent)))
            pool.release(conn)
            check_bounded()
        elif op == _TX:
            rng.choice(lent).execute("update t set x = x + 1")
        else:
            if full:
                try:
                    with pool.connection() as conn:
                        check_bounded()
                        raise _Verdict(
                            "acquire ignored the limit",
                            f"pool.connection() lent {conn!r} while all {case.size} "
                            "connections were lent",
                        )
                except PoolTimeout:
                    continue
                except _Verdict:
                    raise
                except Exception as exc:
                    raise _Verdict(
                        "wrong exception when the pool is empty",
                        f"pool.connection() raised {type(exc).__name__}: {exc}; "
                        "expected PoolTimeout",
                    ) from None
            try:
                with pool.connection() as conn:
                    check_bounded()
                    check_fresh(conn)
                    lent.append(conn)
                    conn.execute("insert into t values (1)")
                    if op == _WITH_OK:
                        conn.commit()
                    elif op == _WITH_RAISE:
                        raise _Boom("raised inside the with block")
            except _Boom:
                pass
            except _Verdict:
                raise
            except PoolTimeout as exc:
                raise _Verdict(
                    "timed out with a free connection",
                    f"pool.connection() raised PoolTimeout({exc}) though only "
                    f"{len(lent)} of {case.size} connections were lent",
                ) from None
            else:
                if op == _WITH_RAISE:
                    raise _Verdict(
                        "exception swallowed",
                        "the exception raised inside `with pool.connection()` did not reach "
                        "the caller",
                        "return the connection in a `finally:` and let the exception go on",
                    )
            lent.pop()
            if "exception" in checks:
                # The with block is over, on whatever path: its connection must be free again.
                free = case.size - len(lent)
                taken: list[Any] = []
                try:
                    for _ in range(free):
                        c = pool.acquire()
                        taken.append(c)
                except PoolTimeout:
                    raise _Verdict(
                        "connection not returned",
                        f"after the with block ended ({'by an exception' if op == _WITH_RAISE else 'normally'}), "
                        f"only {len(taken)} of the {free} free connections could be acquired",
                        "put the release in a `finally:` (or use try/except/raise) so every exit "
                        "path returns the connection",
                    ) from None
                for c in taken:
                    pool.release(c)
        if "tx" in checks:
            committed = sum(c.commits for c in server.made)
            expected = case.ops[: len(steps) - 1].count(_WITH_OK)
            if committed > expected:
                raise _Verdict(
                    "pool committed a borrower's unfinished work",
                    f"{committed} commits reached the database, but the borrowers committed "
                    f"only {expected} times: the pool committed uncommitted work on release",
                    "roll back, never commit, what a borrower left open",
                )
    for conn in lent:
        pool.release(conn)
    with_close = getattr(pool, "close", None)
    if callable(with_close):
        with_close()
    return steps


def _model_sweep(
    Pool: type,
    *,
    seed: int,
    cases: int,
    alphabet: list[str],
    weights: list[float],
    checks: set[str],
) -> int:
    """Run ``cases`` seeded model cases; on failure shrink by dropping steps and report."""
    progress: dict[str, Any] = {"tick": 0}

    def run_all() -> tuple[_Case, _Verdict] | None:
        for k in range(cases):
            rng = random.Random(seed * 1_000_003 + k)
            case = _make_case(rng, alphabet, weights)
            progress["seed"] = seed * 1_000_003 + k
            try:
                _run_model_case(Pool, case, progress, checks)
            except _Verdict as v:
                return case, v
            except NotImplementedError:
                _not_implemented()
        return None

    found = _guarded(run_all, 1.0, progress)
    if found is None:
        return cases
    case, verdict = found
    # Shrink: drop one operation at a time while the case still fails the same way.
    best, best_v = case, verdict
    improved = True
    while improved:
        improved = False
        for i in range(len(best.ops)):
            smaller = _Case(best.seed, best.size, best.ops[:i] + best.ops[i + 1 :])
            try:
                _guarded(
                    lambda s=smaller: _run_model_case(Pool, s, progress, checks), 1.0, progress
                )
            except _Verdict as v:
                if v.category == best_v.category:
                    best, best_v, improved = smaller, v, True
                    break
    steps: list[str] = []
    try:
        progress2: dict[str, Any] = {"tick": 0}
        _guarded(lambda: _run_model_case(Pool, best, progress2, checks), 1.0, progress2)
    except _Verdict:
        steps = progress2.get("steps", [])
    fail(
        best_v.category,
        best_v.what,
        seed=best.seed,
        schedule=steps or None,
        hint=best_v.hint,
    )


def _not_implemented() -> None:
    fail(
        "not implemented yet",
        "your pool raised NotImplementedError: replace the `raise NotImplementedError()` lines "
        "with your code",
    )


# ---- real-server helpers --------------------------------------------------------------------


def _dsn_with_tag(dsn: str | None, tag: str) -> str:
    if dsn is None:
        from .services import shared_postgres

        dsn = shared_postgres().dsn
    sep = "&" if "?" in dsn else "?"
    return f"{dsn}{sep}application_name={tag}"


def _admin(dsn: str | None):
    import psycopg

    if dsn is None:
        from .services import shared_postgres

        dsn = shared_postgres().dsn
    return psycopg.connect(dsn, autocommit=True, connect_timeout=5)


def _count(admin: Any, tag: str, state: str | None = None) -> int:
    if state is None:
        row = admin.execute(
            "select count(*) from pg_stat_activity where application_name = %s", (tag,)
        ).fetchone()
    else:
        row = admin.execute(
            "select count(*) from pg_stat_activity where application_name = %s and state = %s",
            (tag, state),
        ).fetchone()
    return int(row[0])


def _new_tag(rng: random.Random, what: str) -> str:
    return f"gl04-{what}-{rng.getrandbits(40):010x}"


def _close_pool(pool: Any) -> None:
    closer = getattr(pool, "close", None)
    if callable(closer):
        try:
            closer()
        except Exception:
            pass


def _kill_tag(admin: Any, tag: str) -> None:
    """Terminate every server session a case left behind (bounded clean-up, even after a fail)."""
    admin.execute(
        "select pg_terminate_backend(pid) from pg_stat_activity where application_name = %s",
        (tag,),
    )


def _real_call(fn: Callable[[], Any], limit_s: float, what: str, seed: int) -> Any:
    """Run one learner call against the real server in a watchdog thread (bounded wait)."""
    progress: dict[str, Any] = {"tick": 0, "where": what, "seed": seed}
    return _guarded(fn, limit_s, progress)


# ============================================================================================
# Graders
# ============================================================================================


def check_pool_bounded_size(
    Pool: type, *, dsn: str | None = None, seed: int = 0, cases: int = 2_500, real_cases: int = 2
) -> None:
    """Never more than ``size`` connections: model sweep, then bursts on the real server.

    Model: seeded acquire/release sequences that often ask while every connection is lent; the
    fake server counts open connections. Real: ``size + 3`` threads at once, each holding a
    connection for a short query (seeded: some raise inside the with block, some hold longer),
    while the grader samples ``pg_stat_activity``; afterwards ``size`` connections must be free.
    """
    started = time.perf_counter()
    n = _model_sweep(
        Pool,
        seed=seed,
        cases=cases,
        alphabet=[_GET, _PUT],
        weights=[0.65, 0.35],
        checks={"bounded"},
    )
    rng = random.Random(seed)
    with _admin(dsn) as admin:
        for _ in range(real_cases):
            size = rng.randint(2, 3)
            burst = size + 3
            tag = _new_tag(rng, "bounded")
            pool = Pool(_dsn_with_tag(dsn, tag), size, 2.0)
            errors: list[str] = []
            # Seeded fault injection: which clients raise inside the with block, which hold long.
            roles = [rng.choice(("query", "query", "raise", "slow")) for _ in range(burst)]

            def client(
                i: int, pool: Any = pool, errors: list[str] = errors, roles: list[str] = roles
            ) -> None:
                try:
                    with pool.connection() as conn:
                        conn.execute(f"select pg_sleep({0.06 if roles[i] == 'slow' else 0.03})")
                        if roles[i] == "raise":
                            raise _Boom(f"client {i} fails after its query")
                        conn.commit()
                except _Boom:
                    pass
                except Exception as exc:  # reported below
                    errors.append(f"client {i}: {type(exc).__name__}: {exc}")

            threads = [
                threading.Thread(target=client, args=(i,), daemon=True) for i in range(burst)
            ]
            peak = 0
            after: list[Any] = []
            try:
                for t in threads:
                    t.start()
                deadline = time.monotonic() + 1.5
                while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
                    peak = max(peak, _count(admin, tag))
                    time.sleep(0.003)
                hung = sum(t.is_alive() for t in threads)
                if not hung and not errors:
                    # After the burst every connection must be back: `size` borrowers at once.
                    got = _real_call(
                        lambda pool=pool, size=size: [pool.acquire() for _ in range(size)],
                        1.5,
                        f"acquire {size} connections after the burst",
                        seed,
                    )
                    after.extend(got)
                    peak = max(peak, _count(admin, tag))
                    for c in after:
                        pool.release(c)
            except PoolTimeout as exc:
                errors.append(f"after the burst, acquiring all {size} connections failed: {exc}")
            finally:
                _close_pool(pool)
                _kill_tag(admin, tag)
            schedule = [f"client {i}: {role}" for i, role in enumerate(roles)]
            if peak > size:
                fail(
                    "pool grew past its size",
                    f"a burst of {burst} clients on a pool of size {size}: pg_stat_activity showed "
                    f"{peak} connections named {tag!r}",
                    seed=seed,
                    schedule=schedule,
                    expected=f"<= {size}",
                    got=peak,
                )
            if hung or errors:
                fail(
                    "burst not served",
                    f"{burst} clients, pool size {size}, each holding a connection for 30-60 ms "
                    f"(some raising inside the with block) and willing to wait 2 s: {hung} still "
                    f"waiting after 1.5 s; errors: {errors[:3]}",
                    seed=seed,
                    schedule=schedule,
                    hint="a release must wake up a waiting acquire(), on every exit path",
                )
    passed("pool never opens more than `size` connections", n + real_cases, started)


def check_pool_acquire_timeout(
    Pool: type, *, dsn: str | None = None, seed: int = 0, cases: int = 2_000
) -> None:
    """An empty pool makes acquire() wait at most ``acquire_timeout``, then raise PoolTimeout.

    Model: acquire on a full pool with timeout 0 must raise PoolTimeout (a hang is caught by the
    watchdog). Real: a pool of size 1 held by another borrower; acquire with a 0.2 s timeout must
    raise PoolTimeout after about 0.2 s, naming size and wait; and a waiting acquire must get the
    connection as soon as it is released.
    """
    started = time.perf_counter()
    n = _model_sweep(
        Pool,
        seed=seed,
        cases=cases,
        alphabet=[_GET, _PUT],
        weights=[0.75, 0.25],
        checks={"timeout"},
    )
    rng = random.Random(seed)
    tag = _new_tag(rng, "timeout")
    size, wait = rng.choice([(1, 0.2), (2, 0.25)])
    with _admin(dsn) as admin:
        pool = Pool(_dsn_with_tag(dsn, tag), size, wait)
        try:
            held = [pool.acquire() for _ in range(size)]

            def timed_acquire() -> tuple[str, float, str]:
                t0 = time.perf_counter()
                try:
                    conn = pool.acquire()
                except PoolTimeout as exc:
                    return "timeout", time.perf_counter() - t0, str(exc)
                pool.release(conn)
                return "got", time.perf_counter() - t0, repr(conn)

            outcome, took, text = _real_call(
                timed_acquire, 1.2, f"acquire() on an empty pool (size {size}, wait {wait})", seed
            )
            if outcome != "timeout":
                fail(
                    "acquire ignored the limit",
                    f"every one of the {size} connections was lent, yet acquire() returned {text}",
                    seed=seed,
                )
            if not (0.5 * wait <= took <= wait + 0.5):
                fail(
                    "wrong wait",
                    f"acquire_timeout={wait} s, but PoolTimeout came after {took:.3f} s",
                    seed=seed,
                    expected=f"about {wait} s",
                    got=f"{took:.3f} s",
                )
            if not _timeout_message_ok(text, size, wait):
                fail(
                    "unclear timeout message",
                    f"PoolTimeout({text!r}) should name the pool size ({size}) and how long it "
                    f"waited ({wait} s)",
                    seed=seed,
                )
            # A waiter must be woken by a release, not by its own timeout.
            pool2 = Pool(_dsn_with_tag(dsn, tag), 1, 1.0)
            first = pool2.acquire()
            box: dict[str, float] = {}

            def waiter() -> None:
                t0 = time.perf_counter()
                conn = pool2.acquire()
                box["took"] = time.perf_counter() - t0
                pool2.release(conn)

            th = threading.Thread(target=waiter, daemon=True)
            th.start()
            time.sleep(0.05)
            pool2.release(first)
            th.join(1.5)
            _close_pool(pool2)
            if "took" not in box or box["took"] > 0.5:
                fail(
                    "waiter not woken",
                    "a thread waited in acquire() (timeout 1 s); the only connection was released "
                    f"after 50 ms, but the waiter got it after {box.get('took', 'more than 1.5')} s",
                    seed=seed,
                    hint="release() must notify a waiting acquire() (threading.Condition.notify)",
                )
            for c in held:
                pool.release(c)
        finally:
            _close_pool(pool)
            _kill_tag(admin, tag)
    passed("acquire() waits at most acquire_timeout, then raises PoolTimeout", n + 2, started)


def check_pool_returns_on_exception(
    Pool: type, *, dsn: str | None = None, seed: int = 0, cases: int = 2_500
) -> None:
    """``with pool.connection()`` returns the connection on every exit path, exception included.

    Model: after every with block (normal exit or an exception inside), all free connections must be
    acquirable, and the exception must reach the caller. Real: a pool of size 1 survives twenty
    failing with blocks on the real server.
    """
    started = time.perf_counter()
    n = _model_sweep(
        Pool,
        seed=seed,
        cases=cases,
        alphabet=[_WITH_RAISE, _WITH_OK, _GET, _PUT],
        weights=[0.4, 0.2, 0.25, 0.15],
        checks={"exception"},
    )
    rng = random.Random(seed)
    tag = _new_tag(rng, "exc")
    with _admin(dsn) as admin:
        pool = Pool(_dsn_with_tag(dsn, tag), 1, 0.3)
        try:

            def twenty() -> int:
                for i in range(20):
                    try:
                        with pool.connection() as conn:
                            conn.execute("select 1 / 0" if i % 2 else "select 1")
                            raise _Boom(i)
                    except _Boom:
                        pass
                    except PoolTimeout as exc:
                        fail(
                            "connection not returned",
                            f"with-block {i + 1} timed out waiting ({exc}): an earlier block "
                            "that raised did not return its connection",
                            seed=seed,
                        )
                    except Exception as exc:
                        if i % 2 == 0:
                            raise
                        del exc  # 1/0 raised by the server: also an exception path
                return _count(admin, tag)

            open_now = _real_call(twenty, 1.5, "20 with-blocks that raise, pool size 1", seed)
        finally:
            _close_pool(pool)
            _kill_tag(admin, tag)
        if open_now > 1:
            fail(
                "pool grew past its size",
                f"after 20 failing with blocks a pool of size 1 had {open_now} connections open",
                seed=seed,
            )
    passed("every exit path of `with pool.connection()` returns the connection", n + 20, started)


def check_pool_no_idle_in_transaction_leak(
    Pool: type, *, dsn: str | None = None, seed: int = 0, cases: int = 2_500
) -> None:
    """A borrower's open transaction is rolled back before reuse: no 'idle in transaction' leak.

    Model: borrowers leave transactions open (raw acquire + execute, with blocks without commit,
    with blocks that raise); each connection handed out must have no open transaction, and the
    pool must never commit what a borrower left. Real: after a with block that inserted without
    committing, pg_stat_activity shows the pooled session 'idle' and the row is not committed.
    """
    started = time.perf_counter()
    n = _model_sweep(
        Pool,
        seed=seed,
        cases=cases,
        alphabet=[_GET, _TX, _PUT, _WITH_TX, _WITH_RAISE, _WITH_OK],
        weights=[0.25, 0.2, 0.2, 0.15, 0.1, 0.1],
        checks={"tx"},
    )
    rng = random.Random(seed)
    tag = _new_tag(rng, "tx")
    table = f"gl04_{tag.split('-')[-1]}"
    with _admin(dsn) as admin:
        admin.execute(f"create table {table} (x int)")
        pool = Pool(_dsn_with_tag(dsn, tag), 1, 0.5)
        try:

            def scenario() -> tuple[int, int, str]:
                with pool.connection() as conn:
                    conn.execute(f"insert into {table} values (1)")  # no commit
                try:
                    with pool.connection() as conn:
                        conn.execute(f"insert into {table} values (2)")
                        raise _Boom("after insert")
                except _Boom:
                    pass
                idle_tx = _count(admin, tag, "idle in transaction")
                rows = int(admin.execute(f"select count(*) from {table}").fetchone()[0])
                with pool.connection() as conn:
                    status = conn.info.transaction_status.name
                return idle_tx, rows, status

            idle_tx, rows, status = _real_call(scenario, 1.5, "with blocks left open", seed)
        finally:
            _close_pool(pool)
            _kill_tag(admin, tag)
            admin.execute(f"drop table if exists {table}")
        if idle_tx:
            fail(
                "open transaction leaked to the next borrower",
                f"after two with blocks ended, pg_stat_activity shows {idle_tx} pooled session(s) "
                "'idle in transaction': the pool kept the borrower's transaction open",
                seed=seed,
                hint="roll back on release: conn.rollback()",
            )
        if rows:
            fail(
                "pool committed a borrower's unfinished work",
                f"{rows} row(s) inserted without commit became visible to other sessions",
                seed=seed,
            )
        if status != "IDLE":
            fail(
                "open transaction leaked to the next borrower",
                f"the next borrower got a connection in transaction status {status}",
                seed=seed,
            )
    passed("no 'idle in transaction' leaks and no surprise commits", n + 1, started)


# Borrowers at distinct lines, so a leak report can be checked against the exact line.
def _borrow_a(pool: Any) -> tuple[Any, int]:
    line = _borrow_a.__code__.co_firstlineno + 2
    return pool.acquire(), line


def _borrow_b(pool: Any) -> tuple[Any, int]:
    line = _borrow_b.__code__.co_firstlineno + 2
    return pool.acquire(), line


def _borrow_with(pool: Any) -> tuple[Any, int, Any]:
    line = _borrow_with.__code__.co_firstlineno + 3
    cm = pool.connection()
    conn = cm.__enter__()  # a with block that never ends: the classic leak
    return conn, line, cm


_BORROWERS = (_borrow_a, _borrow_b, _borrow_with)


def _give_back(pool: Any, conn: Any, cm: Any) -> None:
    """Return a borrowed connection the way it was borrowed (end the with block, or release)."""
    if cm is not None:
        cm.__exit__(None, None, None)
    else:
        pool.release(conn)


_HERE = "pooling.py"


def _names_site(where: Any, line: int) -> bool:
    text = str(where)
    return f"{_HERE}:{line}" in text or (_HERE in text and re.search(rf"\bline {line}\b", text))


def check_pool_leak_detection(
    Pool: type, *, dsn: str | None = None, seed: int = 0, cases: int = 1_500
) -> None:
    """``pool.leaks(older_than)`` lists exactly the connections still lent, naming each borrower.

    Cases borrow from distinct lines of this module (two ``acquire()`` sites and a with block that
    never ends), return some, and ask ``leaks(0)`` (every connection still out) and
    ``leaks(3600)`` (none is that old). Each record is a dict with ``age`` (float, seconds) and
    ``where`` (str naming the borrower's ``file:line``).
    """
    started = time.perf_counter()
    progress: dict[str, Any] = {"tick": 0}

    def run_all() -> None:
        for k in range(cases):
            case_seed = seed * 1_000_003 + k
            rng = random.Random(case_seed)
            progress["seed"] = case_seed
            server = FakeServer()
            size = rng.randint(1, 4)
            pool = Pool("fake-dsn", size, 0.0, connect=server.connect)
            out: list[tuple[Any, int, str, Any]] = []
            steps = [f"pool = ConnectionPool(dsn, size={size}, acquire_timeout=0)"]
            progress["steps"] = steps
            for _ in range(rng.randint(1, 6)):
                progress["tick"] += 1
                if out and rng.random() < 0.35:
                    conn, _line, name, cm = out.pop(rng.randrange(len(out)))
                    _give_back(pool, conn, cm)
                    steps.append(f"release the connection borrowed in {name}")
                elif len(out) < size:
                    fn = rng.choice(_BORROWERS)
                    got = fn(pool)
                    out.append((got[0], got[1], fn.__name__, got[2] if len(got) > 2 else None))
                    steps.append(f"{fn.__name__}(): borrow at {_HERE}:{got[1]}")
            progress["where"] = "pool.leaks(...)"
            leaks = pool.leaks(0.0)
            steps.append("pool.leaks(older_than=0.0)")
            if type(leaks) is not list or any(type(r) is not dict for r in leaks):
                raise _Verdict(
                    "wrong result type", f"leaks() returned {leaks!r}; expected a list of dicts"
                )
            if len(leaks) != len(out):
                raise _Verdict(
                    "leak missed" if len(leaks) < len(out) else "false leak",
                    f"{len(out)} connection(s) are still lent but leaks(0.0) listed {len(leaks)}",
                )
            unmatched = [line for _c, line, _n, _cm in out]
            for rec in leaks:
                age, where = rec.get("age"), rec.get("where")
                if type(age) is not float or age < 0 or age > 60:
                    raise _Verdict(
                        "bad leak record", f"record {rec!r}: 'age' must be a float of seconds"
                    )
                hit = next((ln for ln in unmatched if _names_site(where, ln)), None)
                if hit is None:
                    raise _Verdict(
                        "leak does not name the borrower",
                        f"record 'where'={where!r} names none of the borrowing lines "
                        f"{[f'{_HERE}:{ln}' for ln in unmatched]}",
                        "record the caller's frame in acquire(): the first stack frame outside "
                        "the pool and contextlib (traceback.extract_stack)",
                    )
                unmatched.remove(hit)
            if pool.leaks(3600.0) != []:
                raise _Verdict("false leak", "leaks(3600) listed connections borrowed just now")
            for conn, _line, _n, cm in out:
                _give_back(pool, conn, cm)

    try:
        _guarded(run_all, 1.0, progress)
    except NotImplementedError:
        _not_implemented()
    except _Verdict as v:
        fail(
            v.category,
            v.what,
            seed=progress.get("seed"),
            schedule=progress.get("steps"),
            hint=v.hint,
        )
    # The real server: a leaked connection from a with block that never ends.
    rng = random.Random(seed)
    tag = _new_tag(rng, "leak")
    with _admin(dsn) as admin:
        pool = Pool(_dsn_with_tag(dsn, tag), 2, 0.3)
        try:
            conn, line, cm = _borrow_with(pool)
            records = pool.leaks(0.0)
            if len(records) != 1 or not _names_site(records[0].get("where"), line):
                fail(
                    "leak does not name the borrower",
                    f"one with block never ended (at {_HERE}:{line}); leaks(0.0) gave {records!r}",
                    seed=seed,
                )
            _give_back(pool, conn, cm)
        finally:
            _close_pool(pool)
            _kill_tag(admin, tag)
    passed("leaks() lists every connection still out and who borrowed it", cases + 1, started)


# ---- diagnosis ------------------------------------------------------------------------------

CATEGORIES = ("running", "waiting for a lock", "idle", "idle in transaction")


def check_diagnose_pg_stat_activity(
    diagnose: Callable[[Any, str], Any], *, dsn: str | None = None, seed: int = 0, cases: int = 6
) -> None:
    """``diagnose(conn, prefix)`` tells, for each session named ``prefix...``, why it holds a connection.

    The grader opens seeded sessions: some idle, some idle in a transaction that holds a row lock,
    some running ``pg_sleep``, some blocked on that lock; it waits until the server shows them, then
    compares the learner's dict ``application_name -> category`` with what it created.
    """
    import psycopg

    from .check import call, same_value

    started = time.perf_counter()
    base = random.Random(seed)
    with _admin(dsn) as admin:
        table = f"gl04_diag_{base.getrandbits(32):08x}"
        admin.execute(f"create table {table} (id int primary key, x int)")
        admin.execute(f"insert into {table} values (1, 0)")
        try:
            for k in range(cases):
                case_seed = seed * 1_000_003 + k
                rng = random.Random(case_seed)
                prefix = f"gl04d{secrets.token_hex(3)}-"
                kinds = [rng.choice(CATEGORIES) for _ in range(rng.randint(3, 6))]
                if "waiting for a lock" in kinds and "idle in transaction" not in kinds:
                    kinds.append("idle in transaction")
                truth: dict[str, str] = {}
                conns: list[Any] = []
                threads: list[threading.Thread] = []
                holder_done = False
                try:
                    ordered = sorted(enumerate(kinds), key=lambda p: p[1] != "idle in transaction")
                    for i, kind in ordered:
                        name = f"{prefix}{i}"
                        truth[name] = kind
                        conn = psycopg.connect(
                            _dsn_with_tag(dsn, name),
                            autocommit=kind == "idle",
                            options="-c statement_timeout=3000",
                        )
                        conns.append(conn)
                        if kind == "idle in transaction":
                            if not holder_done:
                                conn.execute(f"update {table} set x = x + 1 where id = 1")
                                holder_done = True
                            else:
                                conn.execute("select 1")
                        elif kind in ("running", "waiting for a lock"):
                            sql = (
                                "select pg_sleep(3)"
                                if kind == "running"
                                else f"update {table} set x = x + 1 where id = 1"
                            )

                            def go(c: Any = conn, q: str = sql) -> None:
                                try:
                                    c.execute(q)
                                except psycopg.Error:
                                    pass  # cancelled or terminated by the grader's clean-up

                            th = threading.Thread(target=go, daemon=True)
                            th.start()
                            threads.append(th)
                    # Wait (bounded) until the server shows every session as created.
                    deadline = time.monotonic() + 2.0
                    while True:
                        seen = dict(
                            admin.execute(
                                """select application_name,
                                          case when state = 'active' and wait_event_type = 'Lock'
                                               then 'waiting for a lock'
                                               when state = 'active' then 'running'
                                               when state like 'idle in transaction%%'
                                               then 'idle in transaction'
                                               else state end
                                     from pg_stat_activity where application_name like %s""",
                                (prefix + "%",),
                            ).fetchall()
                        )
                        if seen == truth or time.monotonic() > deadline:
                            break
                        time.sleep(0.01)
                    if seen != truth:
                        raise RuntimeError(
                            f"the grader's sessions did not settle within 2 s: {seen} vs {truth}"
                        )
                    with psycopg.connect(
                        _dsn_with_tag(dsn, "gl04-diagnoser"), autocommit=True
                    ) as c:
                        got = call(
                            diagnose,
                            c,
                            prefix,
                            what=f"diagnose(conn, {prefix!r})",
                            seed=case_seed,
                        )
                finally:
                    for name in truth:
                        _kill_tag(admin, name)
                    for th in threads:
                        th.join(3.0)
                    for conn in conns:
                        conn.close()
                if not same_value(got, truth):
                    wrong = (
                        {
                            n: (truth[n], got.get(n) if isinstance(got, dict) else None)
                            for n in truth
                            if not isinstance(got, dict) or got.get(n) != truth[n]
                        }
                        if isinstance(got, dict)
                        else got
                    )
                    fail(
                        "wrong diagnosis",
                        f"sessions {sorted(truth)}: your diagnosis differs (name: (truth, yours)): "
                        f"{wrong}",
                        seed=case_seed,
                        expected=truth,
                        got=got,
                        hint="state 'idle in transaction' holds locks and a connection; 'idle' "
                        "holds only the connection; 'active' with wait_event_type 'Lock' is "
                        "waiting for a lock",
                    )
        finally:
            admin.execute(f"drop table if exists {table}")
    passed("diagnose() reads pg_stat_activity right", cases, started)
