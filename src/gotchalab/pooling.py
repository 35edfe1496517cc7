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
``diagnose(conn, prefix)``. Each pool grader runs three kinds of cases:

* **model cases**: seeded single-threaded operation sequences against a fake connection factory
  (:class:`FakeServer`, :class:`FakeConnection`: psycopg's transaction statuses, aborted
  transactions, connections the server drops, ``connect()`` failures). Ground truth (which
  connections are open, lent, idle, in a transaction; how often the borrowers committed) is the
  grader's own bookkeeping of what it did, never a reference pool. A few **scripted** cases come
  first, one for each rule, so every rule is reached deterministically; the seeded sweep follows.
  Each cell raises verdicts only for the rules it owns (``_ModelCase.verdict``): a rollback bug
  costs the transaction cell, not the size cell. ``case=k`` replays one case; every report prints
  that call. Cases run in a watchdog thread: a pool that blocks forever is a verdict in a second.
* **probes**: threads next to the learner's pool (run through :func:`gotchalab.check.beside`, so
  in the authoritative grade they run in the learner's process), each judged by what every
  borrower observed: the connection it was handed, its transaction status, when it woke up.
* **real-server cases**: PostgreSQL (:mod:`gotchalab.services`), checked through
  ``pg_stat_activity`` (each case tags its connections with a unique ``application_name``).

The rules each cell checks (its grader's docstring lists them in full):

* ``pool_bounded_size`` (:func:`check_pool_bounded_size`): no connection opened by the
  constructor; ``connect(dsn)`` only when no returned connection is idle; never more than
  ``size`` open, with threads too; a full pool lends nothing; a connection that comes back closed
  or broken is dropped and its place freed; a ``connect()`` error reaches the caller unchanged and
  takes no place; ``close()`` closes every idle connection and no lent one.
* ``pool_acquire_timeout`` (:func:`check_pool_acquire_timeout`): ``PoolTimeout`` at once with
  ``acquire_timeout=0``, never with a connection free; the message names the size (exactly) and
  the wait; a waiter gives up ``acquire_timeout`` seconds after its call, even when a release woke
  it and another borrower took the connection; a waiter whose deadline passes as a connection
  comes back takes it or leaves the wake-up to another waiter (no lost wake-up); a release (also
  of a closed connection) wakes a waiter within 0.15 s.
* ``pool_returns_on_exception`` (:func:`check_pool_returns_on_exception`): the block binds a
  connection of its own; every exit (normal, ``Exception``, ``BaseException``, ``GeneratorExit``)
  returns it; the block's exception reaches the caller unchanged; a full pool raises
  ``PoolTimeout`` before the block runs.
* ``pool_no_idle_in_transaction_leak`` (:func:`check_pool_no_idle_in_transaction_leak`): when
  ``release()`` returns (or a block ends), a transaction left open (``INTRANS`` or aborted
  ``INERROR``) is rolled back, never committed; a clean ``with`` exit does not commit; connections
  handed out are ``IDLE`` with autocommit off; lent connections are never touched; a failed
  rollback does not raise; a waiter never gets a connection mid-rollback.
* ``pool_leak_detection_names_borrower`` (:func:`check_pool_leak_detection`): exactly one record
  per connection lent that long, keys ``age`` (float seconds since lent) and ``where`` (exactly
  ``"<co_filename>:<line> in <function>"`` of the borrower); returned or failed borrows never
  listed.
* ``diagnose_pg_stat_activity`` (:func:`check_diagnose_pg_stat_activity`): exactly the sessions
  whose name starts with the prefix (taken literally), each in the category of the exercise's
  table, on sessions varied so that guessing from the SQL text fails.

``PoolTimeout`` lives here so that the grader can recognise it by class. The module holds no
solution: the fakes and probes observe a pool, they never implement one.
"""

from __future__ import annotations

import heapq
import math
import random
import re
import secrets
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from .check import CheckFailure, beside, fail, passed
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

_FAKE_DSN = "fake-dsn"


class _FakeInfo:
    """``conn.info`` of a fake connection: transaction status and connection status."""

    def __init__(self, conn: FakeConnection) -> None:
        self._conn = conn

    @property
    def transaction_status(self):
        from psycopg.pq import TransactionStatus

        if self._conn.closed:
            return TransactionStatus.UNKNOWN
        return TransactionStatus[self._conn.status]

    @property
    def status(self):
        from psycopg.pq import ConnStatus

        return ConnStatus.BAD if self._conn.closed else ConnStatus.OK


class FakeConnection:
    """Just enough of ``psycopg.Connection`` for a pool, with psycopg's behaviour on failures.

    ``status`` is ``"IDLE"``, ``"INTRANS"`` (after ``execute`` with autocommit off, psycopg's
    default) or ``"INERROR"`` (a statement failed inside the transaction: aborted, every further
    statement fails until ``rollback``). A connection the server ``killed`` fails its next
    operation with ``OperationalError`` and is ``closed`` and ``broken`` from then on; operations
    on a closed connection raise ``OperationalError``. Two operations on one connection at once
    (one thread still inside ``rollback`` while another calls ``execute``) are recorded in the
    server's ``overlaps``: psycopg would serialise or garble them; a pool must never cause it.
    """

    def __init__(self, server: FakeServer, number: int) -> None:
        self.name = f"conn-{number}"
        self.closed = False
        self.broken = False
        self.killed = False
        self.status = "IDLE"
        self.commits = 0
        self.rollbacks = 0
        self.queries = 0
        self.info = _FakeInfo(self)
        self._autocommit = False
        self._server = server
        self._busy: str | None = None

    @property
    def autocommit(self) -> bool:
        return self._autocommit

    @autocommit.setter
    def autocommit(self, value: bool) -> None:
        import psycopg

        if self.closed:
            raise psycopg.OperationalError("the connection is closed")
        if self.status != "IDLE":
            raise psycopg.ProgrammingError(
                f"can't change 'autocommit' now: connection in transaction status {self.status}"
            )
        self._autocommit = bool(value)

    @property
    def in_tx(self) -> bool:
        return self.status != "IDLE"

    def _start(self, what: str) -> None:
        import psycopg

        if self.closed:
            raise psycopg.OperationalError("the connection is closed")
        if self.killed:
            self._lost()
            raise psycopg.OperationalError(
                "consuming input failed: server closed the connection unexpectedly"
            )
        with self._server.lock:
            if self._busy is not None:
                self._server.overlaps.append(
                    f"{what}() on {self.name} began while {self._busy}() was still running on it"
                )
            self._busy = what

    def _done(self) -> None:
        with self._server.lock:
            self._busy = None

    def _lost(self) -> None:
        if not self.closed:
            self.closed = self.broken = True
            with self._server.lock:
                self._server.open -= 1

    def execute(self, query: str, params: Any = None) -> FakeConnection:
        import psycopg

        q = " ".join(str(query).lower().replace(";", " ").split())
        if q in ("rollback", "abort"):
            self.rollback()
            return self
        if q in ("commit", "end"):
            self.commit()
            return self
        self._start("execute")
        try:
            if self.status == "INERROR":
                raise psycopg.errors.InFailedSqlTransaction(
                    "current transaction is aborted, commands ignored until end of transaction "
                    "block"
                )
            self.queries += 1
            if "1 / 0" in q or "1/0" in q:
                if not self._autocommit:
                    self.status = "INERROR"
                raise psycopg.errors.DivisionByZero("division by zero")
            if not self._autocommit:
                self.status = "INTRANS"
            return self
        finally:
            self._done()

    def fetchone(self) -> tuple[int]:
        return (1,)

    def fetchall(self) -> list[tuple[int]]:
        return [(1,)]

    def commit(self) -> None:
        self._start("commit")
        try:
            if self.status == "INTRANS":
                self.commits += 1
            self.status = "IDLE"  # committing an aborted transaction rolls it back
        finally:
            self._done()

    def rollback(self) -> None:
        self._start("rollback")
        try:
            if self._server.rollback_delay:
                time.sleep(self._server.rollback_delay)
            self.rollbacks += 1
            self.status = "IDLE"
        finally:
            self._done()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            with self._server.lock:
                self._server.open -= 1

    def __repr__(self) -> str:
        return f"<FakeConnection {self.name}{' closed' if self.closed else ''}>"


class FakeServer:
    """A fake ``connect`` function that counts the connections it has open.

    ``fail_next`` makes that many next ``connect()`` calls raise ``OperationalError``;
    ``connect_delay`` and ``rollback_delay`` (seconds) widen the windows a racy pool falls into.
    """

    def __init__(self, *, connect_delay: float = 0.0, rollback_delay: float = 0.0) -> None:
        self.open = 0
        self.max_open = 0
        self.made: list[FakeConnection] = []
        self.conninfos: list[Any] = []
        self.fail_next = 0
        self.failures = 0
        self.overlaps: list[str] = []
        self.connect_delay = connect_delay
        self.rollback_delay = rollback_delay
        self.lock = threading.Lock()

    def connect(self, conninfo: str = "", **kw: Any) -> FakeConnection:
        import psycopg

        with self.lock:
            self.conninfos.append(conninfo)
            if self.fail_next:
                self.fail_next -= 1
                self.failures += 1
                raise psycopg.OperationalError(_connect_error(self.failures))
        if self.connect_delay:
            time.sleep(self.connect_delay)
        with self.lock:
            conn = FakeConnection(self, len(self.made) + 1)
            self.made.append(conn)
            self.open += 1
            self.max_open = max(self.max_open, self.open)
        return conn


def _connect_error(n: int) -> str:
    return f"connection to server failed: the grader refused connection attempt #{n}"


# ============================================================================================
# Grader plumbing
# ============================================================================================


class _Boom(Exception):
    """The exception the grader raises inside a ``with pool.connection()`` body."""


class _Interrupt(BaseException):  # noqa: N818 - named like KeyboardInterrupt, which it stands for
    """A ``BaseException`` (like ``KeyboardInterrupt``) raised inside a with block."""


@dataclass
class _Case:
    seed: int
    size: int
    ops: list[str]


class _Verdict(Exception):
    """A model case failed: category, what, and a hint."""

    def __init__(self, category: str, what: str, hint: str | None = None) -> None:
        super().__init__(what)
        self.category = category
        self.what = what
        self.hint = hint


def _guarded(fn: Callable[[], Any], limit_s: float, progress: dict[str, Any]) -> Any:
    """Run ``fn`` in a daemon thread; if it makes no progress for ``limit_s``, report a hang.

    ``progress['tick']`` is bumped by ``fn`` after each step; ``progress['where']`` says where it
    is and ``progress['hint']`` which rule a hang there breaks.
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
                replay=progress.get("replay"),
                hint=progress.get("hint"),
            )
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", text)]


def _names_wait(nums: list[float], wait: float) -> bool:
    """A number in the message is the wait, in seconds or in milliseconds (10% slack)."""
    return any(
        abs(n - wait) <= 0.1 * wait + 0.005 or abs(n - 1000 * wait) <= 100 * wait + 0.5
        for n in nums
    )


def _timeout_message_ok(msg: str, size: int, timeout: float) -> bool:
    """The PoolTimeout message names the pool size (exactly) and the wait (in s or ms)."""
    nums = _numbers(msg)
    return float(size) in nums and _names_wait(nums, timeout)


def _not_implemented() -> NoReturn:
    fail(
        "not implemented yet",
        "your pool raised NotImplementedError: replace the `raise NotImplementedError()` lines "
        "with your code",
    )


def _stub(exc: BaseException) -> bool:
    return isinstance(exc, NotImplementedError)


# Operations of the model cases (each cell draws from its own alphabet).
_GET, _PUT = "get", "put"
_ENTER, _EXIT, _EXIT_RAISE = "enter", "exit", "exit-raise"
_EXIT_BASE, _EXIT_CLOSE = "exit-base", "exit-generator-close"
_WITH_OK, _WITH_TX, _WITH_RAISE = "with", "with-tx", "with-raise"
_TX, _COMMIT, _ABORT = "tx", "commit", "abort"
_BORROWER_CLOSES, _KILL, _CONNECT_FAILS, _CLOSE = (
    "borrower-closes",
    "kill",
    "connect-fails",
    "close",
)
_KILL_QUIET = "kill-quiet"  # the server drops a connection mid-transaction; nobody notices yet

# Which cell (check) owns which rule: a verdict is raised only in the cells named.
_ALL = frozenset({"bounded", "timeout", "exception", "tx"})

_HOW = {
    "bounded": "pool_bounded_size",
    "timeout": "pool_acquire_timeout",
    "exception": "pool_returns_on_exception",
    "tx": "pool_no_idle_in_transaction_leak",
}


def _with_block(pool: Any, box: dict[str, Any]):
    """A ``with pool.connection() as conn:`` block that the model keeps open across steps.

    ``next()`` enters it; ``send("ok")`` ends it normally, ``send("raise")`` by an exception.
    """
    with pool.connection() as conn:
        box["conn"] = conn
        action = yield
        if action == "raise":
            raise _Boom(box["boom"])
        if action == "base":
            raise _Interrupt(box["boom"])


def _snap(conn: FakeConnection) -> tuple[Any, ...]:
    return (conn.status, conn.rollbacks, conn.commits, conn.closed, conn._autocommit)


class _ModelCase:
    """One model case: run the operations, keep the grader's own bookkeeping, judge each step.

    Ground truth is what the grader did: which connections it holds (``lent``), what it did to
    each, how often it committed. ``cell`` picks the rules that raise a verdict here.
    """

    def __init__(self, Pool: type, case: _Case, cell: str, progress: dict[str, Any]) -> None:
        self.Pool, self.case, self.cell, self.progress = Pool, case, cell, progress
        self.size = case.size
        self.server = FakeServer()
        self.dsn = f"{_FAKE_DSN}-{case.seed % 1000}"
        self.steps: list[str] = [
            f"pool = ConnectionPool({self.dsn!r}, size={self.size}, acquire_timeout=0, "
            "connect=fake_connect)"
        ]
        progress["steps"] = self.steps
        self.rng = random.Random(case.seed)
        self.lent: list[dict[str, Any]] = []
        self.free: list[FakeConnection] = []  # returned healthy, so the pool must hold them idle
        self.borrower_commits = 0
        self.pool_closed = False
        self.closed_with_lent = False
        self.notes: list[str] = []
        self.pool: Any = None

    # ---- verdict helpers ------------------------------------------------------------------

    def verdict(self, cells: frozenset[str] | set[str], category: str, what: str, hint=None):
        if self.cell in cells:
            raise _Verdict(category, what, hint)

    def step(self, text: str, hint: str) -> None:
        self.steps.append(text)
        self.progress["tick"] = self.progress.get("tick", 0) + 1
        self.progress["where"] = f"step {len(self.steps) - 1}: {text}"
        self.progress["hint"] = hint

    def idle(self) -> list[FakeConnection]:
        """Connections the pool must hold free: returned healthy, not lent again since."""
        return list(self.free)

    def needs(self, method: str, what: str) -> None:
        """A failure of a method another cell grades, seen while this cell checks its own rule."""
        raise _Verdict(
            "a method this check needs failed",
            f"this check needs {method}, which {what}",
            f"the cell that grades {method.split('(')[0]} says more; fix that first",
        )

    def raised(self, what: str, exc: BaseException) -> NoReturn:
        if _stub(exc):
            raise exc
        raise _Verdict(
            "your code raised an exception", f"{what} raised {type(exc).__name__}: {exc}"
        )

    # ---- checks -----------------------------------------------------------------------------

    def check_invariants(self) -> None:
        if self.server.max_open > self.size:
            self.verdict(
                {"bounded"},
                "pool grew past its size",
                f"{self.server.max_open} connections were open at once, but size={self.size}",
                "count the connections you opened (idle + lent), not only the idle ones; when "
                "every one is lent, wait or raise PoolTimeout, never open more",
            )
            if self.cell != "bounded":
                self.needs(
                    "acquire()",
                    f"opened {self.server.max_open} connections at once with size={self.size}",
                )
        if self.cell == "tx":
            for e in self.lent:
                if _snap(e["conn"]) != e["snap"]:
                    was, now = e["snap"], _snap(e["conn"])
                    raise _Verdict(
                        "pool touched a connection that is still lent",
                        f"{e['conn'].name} is still lent to a borrower, but the pool changed it: "
                        f"(status, rollbacks, commits, closed, autocommit) was {was}, is now {now}",
                        "the pool may reset a connection only once it is back (in release())",
                    )
            committed = sum(c.commits for c in self.server.made)
            if committed != self.borrower_commits:
                raise _Verdict(
                    "pool committed a borrower's unfinished work",
                    f"{committed} commits reached the database, but the borrowers committed only "
                    f"{self.borrower_commits} times: the pool committed what a borrower left open",
                    "roll back, never commit, what a borrower left open",
                )

    def check_handout(self, conn: Any, who: str, made_before: int, idle_before: int) -> None:
        self._check_handout(conn, who, made_before, idle_before)
        self.free = [c for c in self.free if c is not conn]

    def _check_handout(self, conn: Any, who: str, made_before: int, idle_before: int) -> None:
        if not any(conn is c for c in self.server.made):
            raise _Verdict(
                "not a connection",
                f"{who} gave {conn!r}, not a connection made by connect()",
                "acquire() returns what connect(dsn) returned; `with pool.connection() as conn` "
                "binds that connection",
            )
        if any(conn is e["conn"] for e in self.lent):
            raise _Verdict(
                "one connection lent twice",
                f"{who} handed out {conn.name}, which another borrower still holds",
                "a connection is either idle in the pool or lent to exactly one borrower",
            )
        if (conn.closed or conn.killed) and not (
            self.cell == "bounded" and conn.killed and not conn.closed
        ):  # (a killed connection never rolled back is the transaction cell's verdict)
            raise _Verdict(
                "lent a broken connection",
                f"{who} handed out {conn.name}, which came back "
                f"{'closed' if conn.closed else 'broken (its rollback failed)'} earlier",
                "release() must drop a connection that is closed or whose rollback fails, and "
                "free its place",
            )
        if self.cell == "bounded":
            if idle_before and len(self.server.made) > made_before:
                raise _Verdict(
                    "opened a connection while one was idle",
                    f"{who} called connect() although {idle_before} returned connection(s) were "
                    "idle in the pool",
                    "reuse an idle connection; open a new one only when none is idle",
                )
            bad = [ci for ci in self.server.conninfos if ci != self.dsn]
            if bad:
                raise _Verdict(
                    "connect() called with the wrong arguments",
                    f"connect() got {bad[0]!r}; expected the pool's dsn {self.dsn!r}",
                    "open each connection with connect(dsn)",
                )
        if self.cell == "tx":
            if conn.status != "IDLE":
                aborted = conn.status == "INERROR"
                raise _Verdict(
                    ("aborted" if aborted else "open") + " transaction leaked to the next borrower",
                    f"{who} handed out {conn.name} "
                    + (
                        "'idle in transaction (aborted)': the previous borrower's failed "
                        "transaction is still open, so every statement the next borrower runs "
                        "fails"
                        if aborted
                        else "'idle in transaction': the previous borrower's uncommitted work "
                        "is still open on it"
                    ),
                    "roll back in release() whenever the transaction status is not IDLE "
                    "(INTRANS and INERROR both)",
                )
            if conn._autocommit:
                raise _Verdict(
                    "pool changed the borrower's session",
                    f"{who} handed out {conn.name} with autocommit on: connect() made it with "
                    "autocommit off, so the borrower's statements no longer form a transaction",
                    "leave session settings as connect() made them; roll back, don't switch "
                    "autocommit on",
                )

    def timed_out_with_free(self, who: str, exc: BaseException) -> NoReturn:
        history = "; ".join(self.notes[-3:])
        lost = [n for n in self.notes if "closed" in n or "broken" in n or "refused" in n]
        if self.cell == "bounded" and lost:
            raise _Verdict(
                "pool lost capacity",
                f"{who} raised PoolTimeout({exc}) though only {len(self.lent)} of {self.size} "
                f"connections are lent; earlier: {history}",
                "a connection that comes back closed or broken, and a connect() that raised, "
                "must give their place back",
            )
        if self.cell == "exception" and any("with block" in n for n in self.notes):
            raise _Verdict(
                "connection not returned",
                f"{who} raised PoolTimeout({exc}) though only {len(self.lent)} of {self.size} "
                f"connections are lent: a with block that ended did not return its connection "
                f"(earlier: {history})",
                "put the release in a `finally:` so every exit path returns the connection",
            )
        raise _Verdict(
            "timed out with a free connection",
            f"{who} raised PoolTimeout({exc}) though only {len(self.lent)} of {self.size} "
            f"connections are lent" + (f"; earlier: {history}" if history else ""),
            "a returned connection must be free for the next acquire()",
        )

    def refused(self, who: str, exc: BaseException, took: float) -> None:
        """``who`` raised on a full pool (acquire_timeout=0): PoolTimeout, at once, clear."""
        if not isinstance(exc, PoolTimeout):
            if _stub(exc):
                raise exc
            self.verdict(
                {"timeout"},
                "wrong exception when the pool is empty",
                f"{who} raised {type(exc).__name__}: {exc}; expected PoolTimeout",
                "raise gotchalab.pooling.PoolTimeout",
            )
            return
        if self.cell != "timeout":
            return
        if took > 0.5:
            raise _Verdict(
                "waited with acquire_timeout=0",
                f"{who} raised PoolTimeout after {took:.3f} s; with acquire_timeout=0 it must "
                "raise at once",
            )
        if not _timeout_message_ok(str(exc), self.size, 0.0):
            raise _Verdict(
                "unclear timeout message",
                f"PoolTimeout({str(exc)!r}) should name the pool size ({self.size}) and the wait "
                "(0 s)",
                "e.g. f'all {size} connections are lent; none came back within {timeout} s'",
            )

    def given_past_limit(self, who: str, conn: Any) -> NoReturn:
        new = any(conn is c for c in self.server.made) and not any(
            conn is e["conn"] for e in self.lent
        )
        if self.server.open > self.size or (new and self.cell == "bounded"):
            raise _Verdict(
                "pool grew past its size",
                f"{who} returned {conn!r} while all {self.size} connections were lent: "
                f"{self.server.open} are open now",
                "when every connection is lent, wait (up to acquire_timeout) and raise PoolTimeout",
            )
        if any(conn is e["conn"] for e in self.lent):
            raise _Verdict(
                "one connection lent twice",
                f"{who} handed out {getattr(conn, 'name', conn)} while all {self.size} "
                "connections were lent: a borrower still holds it",
            )
        raise _Verdict(
            "acquire ignored the limit",
            f"{who} returned {conn!r} while all {self.size} connections were lent",
            "when every connection is lent, wait (up to acquire_timeout) and raise PoolTimeout",
        )

    def after_return(self, entry: dict[str, Any], who: str, *, healthy: bool) -> None:
        conn = entry["conn"]
        if healthy and not self.pool_closed:
            self.free.append(conn)
        if self.cell == "tx" and not conn.closed and conn.status != "IDLE":
            was = "aborted " if conn.status == "INERROR" else ""
            raise _Verdict(
                "transaction left open on a returned connection",
                f"after {who} returned, {conn.name} still has the borrower's {was}transaction "
                "open ('idle in transaction' in pg_stat_activity, holding its locks)",
                "release() rolls back (never commits) whatever the borrower left open, before "
                "the connection is free again"
                + ("; `with` exits go through release() too" if "with" in who else ""),
            )

    def probe_free(self, after: str) -> None:
        """Exception cell: once a with block is over, every free place can be borrowed."""
        free = self.size - len(self.lent)
        taken: list[Any] = []
        try:
            for _ in range(free):
                taken.append(self.pool.acquire())
        except PoolTimeout:
            raise _Verdict(
                "connection not returned",
                f"after {after}, only {len(taken)} of the {free} free connection(s) could be "
                "acquired: the block did not give its connection back",
                "put the release in a `finally:` so every exit path returns the connection",
            ) from None
        except Exception as exc:
            self.raised("acquire() (after a with block)", exc)
        for c in taken:
            try:
                self.pool.release(c)
            except Exception as exc:
                self.raised("release()", exc)

    # ---- operations ---------------------------------------------------------------------------

    def pick(self, *, how: str | None = None, alive: bool = False, status: set[str] | None = None):
        pool = [
            e
            for e in self.lent
            if (how is None or e["how"] == how)
            and (not alive or not (e["conn"].closed or e["conn"].killed))
            and (status is None or e["conn"].status in status)
        ]
        return self.rng.choice(pool) if pool else None

    def op_get(self) -> None:
        full = len(self.lent) >= self.size
        idle = len(self.idle())
        refuse = self.server.fail_next > 0 and not full and idle == 0
        made = len(self.server.made)
        note = "   # every connection is lent" if full else ""
        note = note or ("   # connect() will fail" if refuse else "")
        self.step(
            f"conn = pool.acquire(){note}",
            "acquire() must give up after acquire_timeout seconds (here 0) and raise PoolTimeout"
            if full
            else "acquire() blocked although a connection was free",
        )
        t0 = time.perf_counter()
        try:
            conn = self.pool.acquire()
        except Exception as exc:
            took = time.perf_counter() - t0
            self.server.fail_next = 0
            if self.pool_closed and not _stub(exc):
                return  # what acquire() does after close() is not specified: refusing is fine
            if full:
                self.refused("acquire()", exc, took)
                return
            if refuse:
                import psycopg

                if type(exc) is psycopg.OperationalError and str(exc) == _connect_error(
                    self.server.failures
                ):
                    self.notes.append("connect() refused a connection")
                    return
                if self.cell == "bounded":
                    raise _Verdict(
                        "connect() error changed",
                        f"connect() raised OperationalError({_connect_error(self.server.failures)!r})"
                        f", but acquire() raised {type(exc).__name__}: {exc}",
                        "let the exception of connect() reach the caller of acquire() as it is",
                    ) from None
                self.notes.append("connect() refused a connection")
                return
            if isinstance(exc, PoolTimeout):
                self.timed_out_with_free("acquire()", exc)
            self.raised("acquire()", exc)
        if refuse and self.server.fail_next == 0 and self.server.failures:
            self.verdict(
                {"bounded"},
                "connect() error hidden",
                f"connect() raised OperationalError, but acquire() returned {conn!r} instead of "
                "letting that exception reach its caller",
                "if connect() raises, acquire() raises the same exception (and frees the place)",
            )
        self.server.fail_next = 0
        if full:
            self.given_past_limit("acquire()", conn)
        self.check_handout(conn, "acquire()", made, idle)
        self.lent.append({"conn": conn, "how": "acquire", "snap": _snap(conn)})
        self.steps[-1] = f"{conn.name} = pool.acquire(){note}"

    def op_put(self) -> None:
        e = self.pick(how="acquire")
        if e is None:
            return None if self.pool_closed else self.op_get()
        self.op_put_entry(e)

    def op_enter(self) -> None:
        full = len(self.lent) >= self.size
        idle = len(self.idle())
        made = len(self.server.made)
        note = "   # every connection is lent" if full else ""
        self.step(
            f"with pool.connection() as conn:   (the block stays open){note}",
            "acquire() must give up after acquire_timeout seconds (here 0) and raise PoolTimeout"
            if full
            else "pool.connection() blocked although a connection was free",
        )
        refuse = self.server.fail_next > 0 and not full and idle == 0
        box: dict[str, Any] = {"boom": f"raised inside block {len(self.steps)}"}
        gen = _with_block(self.pool, box)
        t0 = time.perf_counter()
        try:
            next(gen)
        except Exception as exc:
            took = time.perf_counter() - t0
            self.server.fail_next = 0
            if self.pool_closed and not _stub(exc):
                return  # what acquire() does after close() is not specified: refusing is fine
            if full:
                self.refused("pool.connection()", exc, took)
                return
            if refuse and type(exc).__name__ == "OperationalError":
                if str(exc) != _connect_error(self.server.failures):
                    self.verdict(
                        {"bounded"},
                        "connect() error changed",
                        f"connect() raised OperationalError({_connect_error(self.server.failures)!r})"
                        f", but pool.connection() raised {type(exc).__name__}: {exc}",
                        "let the exception of connect() reach the caller as it is",
                    )
                self.notes.append("connect() refused a connection")
                return
            if isinstance(exc, PoolTimeout):
                self.timed_out_with_free("pool.connection()", exc)
            self.raised("entering `with pool.connection()`", exc)
        self.server.fail_next = 0
        conn = box.get("conn")
        if full:
            self.given_past_limit("pool.connection()", conn)
        self.check_handout(conn, "pool.connection()", made, idle)
        self.lent.append({"conn": conn, "how": "with", "gen": gen, "box": box, "snap": _snap(conn)})
        self.steps[-1] = f"with pool.connection() as {conn.name}:   (the block stays open){note}"

    def end_block(self, e: dict[str, Any], how: str) -> None:
        conn, gen, box = e["conn"], e["gen"], e["box"]
        healthy = not (conn.closed or conn.killed)
        try:
            if how == "close":
                gen.close()  # GeneratorExit inside the block: its generator was abandoned
                raise StopIteration
            gen.send(how)
        except StopIteration:
            if how == "base":
                self.verdict(
                    _ALL,
                    "exception swallowed",
                    f"a BaseException (like KeyboardInterrupt) raised inside `with "
                    f"pool.connection() as {conn.name}` did not reach the caller",
                    "return the connection in a `finally:` and let the exception go on",
                )
            if how == "raise":
                self.verdict(
                    _ALL,
                    "exception swallowed",
                    f"the exception raised inside `with pool.connection() as {conn.name}` did "
                    "not reach the caller",
                    "return the connection in a `finally:` and let the exception go on",
                )
        except (_Boom, _Interrupt) as exc:
            if str(exc) != box["boom"] or (type(exc) is _Interrupt) != (how == "base"):
                self.verdict(
                    {"exception"},
                    "exception changed",
                    f"the block raised {'_Interrupt' if how == 'base' else '_Boom'}"
                    f"({box['boom']!r}); the caller got {type(exc).__name__}({exc})",
                )
        except Exception as exc:
            if _stub(exc):
                raise
            what = {
                "ok": "ending the with block normally",
                "raise": "raising inside it",
                "base": "raising a BaseException inside it",
                "close": "closing the generator that holds it (GeneratorExit inside it)",
            }[how]
            if self.cell == "exception":
                raise _Verdict(
                    "exception at the end of the with block",
                    f"{what}: `with pool.connection() as {conn.name}` raised "
                    f"{type(exc).__name__}: {exc}"
                    + ("" if how in ("ok", "close") else " instead of the block's own exception"),
                    "the with block returns the connection and re-raises only the block's own "
                    "exception",
                ) from None
            self.raised(f"the end of `with pool.connection() as {conn.name}`", exc)
        else:
            self.verdict(_ALL, "with block did not end", "pool.connection() yielded twice")
        self.lent.remove(e)
        ended = {
            "ok": "normally",
            "raise": "by an exception",
            "base": "by a BaseException (like KeyboardInterrupt)",
            "close": "by GeneratorExit (its generator was closed)",
        }[how]
        self.notes.append(f"the with block holding {conn.name} ended {ended}")
        self.after_return(e, f"the with block (ended {ended})", healthy=healthy)

    def op_exit(self, how: str) -> None:
        e = self.pick(how="with")
        if e is None:
            return None if self.pool_closed else self.op_enter()
        conn = e["conn"]
        self.step(
            f"    ... end of the with block holding {conn.name}"
            + {
                "ok": " (normal exit)",
                "raise": ": raise an exception",
                "base": ": raise a BaseException (like KeyboardInterrupt)",
                "close": ": the generator holding the block is closed (GeneratorExit)",
            }[how],
            "the end of the with block blocked",
        )
        self.end_block(e, how)
        if self.cell == "exception" and how != "ok":  # (a normal exit is checked by later steps)
            self.probe_free(f"the with block holding {conn.name} ended")

    def op_with_now(self, op: str) -> None:
        """A whole with block in one step: execute, then commit / leave open / raise."""
        if len(self.lent) >= self.size:
            return None if self.pool_closed else self.op_enter()
        self.op_enter()
        e = self.lent[-1] if self.lent and self.lent[-1]["how"] == "with" else None
        if e is None:
            return
        conn = e["conn"]
        conn.execute("insert into t values (1)")
        text = f"    {conn.name}.execute('insert ...')"
        if op == _WITH_OK:
            conn.commit()
            self.borrower_commits += 1
            text += f"; {conn.name}.commit()"
        e["snap"] = _snap(conn)
        self.steps.append(text)
        self.step(
            "    ... end of the block" + (": raise an exception" if op == _WITH_RAISE else ""),
            "the end of the with block blocked",
        )
        self.end_block(e, "raise" if op == _WITH_RAISE else "ok")
        if self.cell == "exception" and op == _WITH_RAISE:
            self.probe_free(f"the with block holding {conn.name} ended")

    def op_borrower(self, op: str) -> None:
        import psycopg

        if op == _TX:
            e = self.pick(alive=True, status={"IDLE", "INTRANS"})
        elif op == _COMMIT:
            e = self.pick(alive=True, status={"INTRANS"})
        elif op == _ABORT:
            e = self.pick(alive=True, status={"IDLE", "INTRANS"})
        elif op == _KILL_QUIET:
            e = self.pick(alive=True, status={"INTRANS", "INERROR"})
            if e is None:
                return self.op_borrower(_TX)
        else:
            e = self.pick(alive=True)
        if e is None:
            return None if self.pool_closed else self.op_get()
        conn = e["conn"]
        if op == _TX:
            self.step(f"{conn.name}.execute('update ...')   # transaction open", "")
            conn.execute("update t set x = x + 1")
        elif op == _COMMIT:
            self.step(f"{conn.name}.commit()   # by the borrower", "")
            conn.commit()
            self.borrower_commits += 1
        elif op == _ABORT:
            self.step(f"{conn.name}.execute('select 1 / 0')   # fails: transaction aborted", "")
            try:
                conn.execute("select 1 / 0")
            except psycopg.errors.DivisionByZero:
                pass
        elif op == _BORROWER_CLOSES:
            self.step(f"{conn.name}.close()   # by the borrower, still lent", "")
            conn.close()
            self.notes.append(f"the borrower closed {conn.name}")
        elif op in (_KILL, _KILL_QUIET):
            conn.killed = True
            if op == _KILL:
                self.step(
                    f"the server drops {conn.name}; its borrower's next query fails "
                    "(OperationalError; the connection is now closed)",
                    "",
                )
                try:
                    conn.execute("select 1")
                except psycopg.OperationalError:
                    pass
            else:
                self.step(
                    f"the server drops {conn.name} (transaction open; nobody noticed yet: "
                    "rollback() will raise OperationalError)",
                    "",
                )
            self.notes.append(f"{conn.name} was broken by the server")
        e["snap"] = _snap(conn)

    def op_connect_fails(self) -> None:
        self.step("(the next connect() will raise OperationalError)", "")
        self.server.fail_next = 1

    def op_close(self) -> None:
        idle = self.idle()
        lent_open = [e["conn"] for e in self.lent if not e["conn"].closed]
        self.step(f"pool.close()   # {len(idle)} idle, {len(self.lent)} lent", "close() blocked")
        try:
            self.pool.close()
        except Exception as exc:
            self.raised("close()", exc)
        self.pool_closed = True
        self.closed_with_lent = bool(self.lent)
        self.free = []
        still = [c.name for c in idle if not c.closed]
        if still:
            self.verdict(
                {"bounded"},
                "close() left idle connections open",
                f"after close(), idle connection(s) {still} are still open",
                "close() closes every idle connection",
            )
        shut = [c.name for c in lent_open if c.closed]
        if shut:
            self.verdict(
                {"bounded"},
                "close() closed a lent connection",
                f"close() closed {shut}, still lent to borrowers (they are mid-work)",
                "close() closes the idle connections; a lent one stays open (its borrower is mid-work)",
            )

    # ---- the case -------------------------------------------------------------------------------

    def run(self) -> list[str]:
        try:
            self.pool = self.Pool(self.dsn, self.size, 0.0, connect=self.server.connect)
        except Exception as exc:
            self.raised("ConnectionPool(dsn, size, acquire_timeout, connect=...)", exc)
        if self.server.made:
            self.verdict(
                {"bounded"},
                "connections opened too early",
                f"ConnectionPool(...) opened {len(self.server.made)} connection(s) before any "
                "acquire()",
                "open no connection in __init__: acquire() opens one when none is idle",
            )
        for op in self.case.ops:
            if self.pool_closed and op in (_WITH_OK, _WITH_TX, _WITH_RAISE):
                op = _PUT if any(e["how"] == "acquire" for e in self.lent) else _EXIT
            if op == _GET:
                self.op_get()
            elif op == _PUT:
                self.op_put()
            elif op == _ENTER:
                self.op_enter()
            elif op in (_EXIT, _EXIT_RAISE, _EXIT_BASE, _EXIT_CLOSE):
                self.op_exit(
                    {_EXIT: "ok", _EXIT_RAISE: "raise", _EXIT_BASE: "base", _EXIT_CLOSE: "close"}[
                        op
                    ]
                )
            elif op in (_WITH_OK, _WITH_TX, _WITH_RAISE):
                self.op_with_now(op)
            elif op in (_TX, _COMMIT, _ABORT, _BORROWER_CLOSES, _KILL, _KILL_QUIET):
                self.op_borrower(op)
            elif op == _CONNECT_FAILS:
                self.op_connect_fails()
            elif op == _CLOSE:
                if self.pool_closed:
                    continue
                self.op_close()
            self.check_invariants()
        self.finish()
        return self.steps

    def finish(self) -> None:
        """Give everything back; the bounded cell then checks capacity and close()."""
        self.server.fail_next = 0
        for e in list(self.lent):
            if e["how"] == "with":
                self.step(f"    ... end of the with block holding {e['conn'].name}", "")
                self.end_block(e, "ok")
            else:
                self.op_put_entry(e)
            self.check_invariants()
        if self.cell != "bounded":
            closer = getattr(self.pool, "close", None)
            if callable(closer):
                try:
                    closer()
                except Exception:
                    pass
            return
        if not self.pool_closed:
            self.step(f"borrow all {self.size} connections, give them back", "acquire() blocked")
            taken: list[Any] = []
            for _ in range(self.size):
                made, idle = len(self.server.made), len(self.idle())
                try:
                    conn = self.pool.acquire()
                except PoolTimeout as exc:
                    self.timed_out_with_free("acquire()", exc)
                except Exception as exc:
                    self.raised("acquire()", exc)
                self.check_handout(conn, "acquire()", made, idle)
                self.lent.append({"conn": conn, "how": "acquire", "snap": _snap(conn)})
                taken.append(conn)
            for e in list(self.lent):
                self.op_put_entry(e)
        self.op_close()  # (a second close() if the case closed the pool already)
        if self.server.open:
            still = [c.name for c in self.server.made if not c.closed]
            raise _Verdict(
                "close() left idle connections open",
                f"every connection was returned, then pool.close(): {still} are still open",
                "close() closes every idle connection",
            )

    def op_put_entry(self, e: dict[str, Any]) -> None:
        conn = e["conn"]
        self.step(f"pool.release({conn.name})", "release() blocked")
        broken = conn.closed or conn.killed
        if broken:
            self.notes.append(f"{conn.name} came back closed/broken")
        try:
            self.pool.release(conn)
        except Exception as exc:
            if _stub(exc):
                raise
            if broken:
                self.verdict(
                    {"tx", "bounded"},
                    "release() failed on a broken connection",
                    f"release({conn.name}) raised {type(exc).__name__}: {exc}",
                    "a connection that is closed, or whose rollback raises, is dropped: close "
                    "it, free its place, and don't raise",
                )
                self.lent.remove(e)
                return
            self.raised(f"release({conn.name})", exc)
        self.lent.remove(e)
        self.after_return(e, f"release({conn.name})", healthy=not broken)


# Scripted cases: each rule reached deterministically, before the seeded sweep (cases 0, 1, ...).
_SCRIPTED: dict[str, list[tuple[int, list[str]]]] = {
    "bounded": [
        (2, [_GET, _GET, _GET]),
        (1, [_GET, _PUT, _GET, _PUT, _GET]),
        (2, [_GET, _BORROWER_CLOSES, _PUT, _GET, _GET]),
        (1, [_GET, _KILL, _PUT, _GET]),
        (2, [_CONNECT_FAILS, _GET, _GET, _GET]),
        (2, [_GET, _CONNECT_FAILS, _PUT, _GET]),
        (3, [_GET, _GET, _PUT, _CLOSE, _PUT]),
        (2, [_GET, _PUT, _GET, _CLOSE, _GET, _PUT, _PUT]),
        (2, [_ENTER, _ENTER, _GET, _EXIT]),
        (1, [_GET, _TX, _KILL_QUIET, _PUT, _GET, _PUT, _GET]),
    ],
    "timeout": [
        (1, [_GET, _GET]),
        (3, [_GET, _GET, _GET, _GET, _PUT, _GET, _GET]),
        (2, [_ENTER, _ENTER, _ENTER, _GET]),
    ],
    "exception": [
        (1, [_WITH_RAISE, _WITH_OK, _GET]),
        (1, [_ENTER, _EXIT_RAISE, _GET]),
        (2, [_ENTER, _ENTER, _ENTER, _EXIT]),
        (1, [_WITH_TX, _WITH_RAISE, _ENTER]),
        (1, [_ENTER, _EXIT_BASE, _GET]),
        (1, [_ENTER, _EXIT_CLOSE, _GET]),
    ],
    "tx": [
        (1, [_GET, _TX, _PUT, _GET]),
        (1, [_GET, _ABORT, _PUT, _GET]),
        (1, [_WITH_TX, _GET]),
        (1, [_WITH_RAISE, _GET]),
        (1, [_WITH_OK, _GET]),
        (2, [_GET, _TX, _GET, _TX, _PUT, _GET]),
        (1, [_GET, _TX, _KILL_QUIET, _PUT, _GET]),
        (1, [_ENTER, _ABORT, _EXIT, _GET]),
    ],
}

# The seeded sweep: alphabet and weights per cell.
_ALPHABETS: dict[str, tuple[list[str], list[float]]] = {
    "bounded": (
        [
            _GET,
            _PUT,
            _ENTER,
            _EXIT,
            _TX,
            _BORROWER_CLOSES,
            _KILL,
            _KILL_QUIET,
            _CONNECT_FAILS,
            _CLOSE,
        ],
        [0.34, 0.2, 0.1, 0.08, 0.07, 0.05, 0.04, 0.04, 0.05, 0.03],
    ),
    "timeout": ([_GET, _PUT, _ENTER, _EXIT], [0.5, 0.22, 0.16, 0.12]),
    "exception": (
        [
            _WITH_RAISE,
            _WITH_OK,
            _WITH_TX,
            _ENTER,
            _EXIT,
            _EXIT_RAISE,
            _EXIT_BASE,
            _EXIT_CLOSE,
            _GET,
            _PUT,
        ],
        [0.16, 0.08, 0.08, 0.16, 0.07, 0.08, 0.06, 0.05, 0.16, 0.1],
    ),
    "tx": (
        [
            _GET,
            _TX,
            _PUT,
            _COMMIT,
            _ABORT,
            _ENTER,
            _EXIT,
            _EXIT_RAISE,
            _WITH_TX,
            _WITH_RAISE,
            _WITH_OK,
            _KILL_QUIET,
        ],
        [0.2, 0.16, 0.16, 0.06, 0.07, 0.07, 0.05, 0.04, 0.06, 0.05, 0.04, 0.04],
    ),
}


def _make_case(cell: str, seed: int, k: int) -> _Case:
    """Case ``k`` of the sweep for ``seed``: a scripted case first, then seeded ones."""
    scripted = _SCRIPTED[cell]
    if k < len(scripted):
        size, ops = scripted[k]
        return _Case(seed * 1_000_003 + k, size, list(ops))
    rng = random.Random(seed * 1_000_003 + k)
    alphabet, weights = _ALPHABETS[cell]
    size = rng.randint(1, 4)
    return _Case(rng.getrandbits(32), size, rng.choices(alphabet, weights, k=rng.randint(3, 14)))


def _run_model_case(Pool: type, case: _Case, progress: dict[str, Any], cell: str) -> list[str]:
    return _ModelCase(Pool, case, cell, progress).run()


def _model_sweep(
    Pool: type, *, cell: str, seed: int, cases: int, case: int | None, check: str
) -> int:
    """Run the model cases (or only case ``case``); on failure shrink by dropping steps, report.

    Returns how many cases ran.
    """
    progress: dict[str, Any] = {"tick": 0}
    ks = range(cases) if case is None else [case]

    def replay(k: int) -> str:
        return f"{check}(ConnectionPool, seed={seed}, case={k})"

    def run_all() -> tuple[int, _Case, _Verdict] | None:
        for k in ks:
            c = _make_case(cell, seed, k)
            progress["seed"], progress["replay"] = seed, replay(k)
            try:
                _run_model_case(Pool, c, progress, cell)
            except _Verdict as v:
                return k, c, v
        return None

    try:
        found = _guarded(run_all, 1.0, progress)
    except NotImplementedError:
        _not_implemented()
    if found is None:
        return len(ks)
    k, best, best_v = found
    # Shrink: drop one operation at a time while the case still fails the same way.
    improved = True
    tries = 0
    while improved and tries < 200:
        improved = False
        for i in range(len(best.ops)):
            tries += 1
            smaller = _Case(best.seed, best.size, best.ops[:i] + best.ops[i + 1 :])
            try:
                _guarded(lambda s=smaller: _run_model_case(Pool, s, progress, cell), 1.0, progress)
            except _Verdict as v:
                if v.category == best_v.category:
                    best, best_v, improved = smaller, v, True
                    break
            except Exception:  # noqa: BLE001 - a different failure: keep the larger case
                pass
    steps: list[str] = []
    progress2: dict[str, Any] = {"tick": 0}
    try:
        _guarded(lambda: _run_model_case(Pool, best, progress2, cell), 1.0, progress2)
    except _Verdict:
        steps = progress2.get("steps", [])
    except Exception:  # noqa: BLE001
        steps = []
    fail(
        best_v.category,
        best_v.what,
        seed=seed,
        schedule=steps or None,
        hint=best_v.hint,
        replay=replay(k) + ("  (the case before shrinking)" if steps else ""),
    )


# ---- probes: threads next to the learner's pool (run through `beside`) ----------------------


def _probe_lost_race(Pool: type, size: int, wait: float, release_after: float) -> dict[str, Any]:
    """A waiter is woken by a release, but another borrower takes the connection first; then a
    release lands on a waiter whose deadline passes while the pool rolls back.

    Every connection is lent. W1 asks at t=0, W3 at t=0.05. At ``release_after`` the main thread
    releases one connection and at once acquires it again (the GIL switch interval is raised for
    those two calls, so the main thread gets there before the woken W1 runs): W1 must keep waiting
    until its *original* deadline (t=wait). W2 asks at wait-0.05. At wait+0.02 the main thread
    releases that connection with a transaction open, whose rollback takes 80 ms: W3's deadline
    (wait+0.05) passes meanwhile, and the release's wake-up may land on W3. W3 may take the
    connection or give up, but the connection must not be lost to W2 (a lost wake-up).
    """
    server = FakeServer(rollback_delay=0.08)
    pool = Pool(_FAKE_DSN, size, wait, connect=server.connect)
    held = [pool.acquire() for _ in range(size)]
    out: dict[str, Any] = {"outcome": "waiting"}
    start = time.monotonic()

    def waiter(box: dict[str, Any], first: bool) -> None:
        box["outcome"] = "waiting"
        t0 = time.monotonic()
        try:
            c = pool.acquire()
        except PoolTimeout as exc:
            box.update(outcome="timeout", took=time.monotonic() - t0, message=str(exc))
            return
        except BaseException as exc:  # reported to the grader
            box.update(outcome="error", took=time.monotonic() - t0, error=_exc_text(exc))
            return
        box.update(outcome="got", took=time.monotonic() - t0, conn=getattr(c, "name", repr(c)))
        box["at"] = time.monotonic() - start
        if first:
            box["held_then"] = [getattr(h, "name", "?") for h in held]
        pool.release(c)

    def at(t: float) -> None:
        time.sleep(max(0.0, start + t - time.monotonic()))

    w3: dict[str, Any] = {}
    w2: dict[str, Any] = {}
    th = threading.Thread(target=waiter, args=(out, True), daemon=True, name="gotchalab-w1")
    th.start()
    at(0.05)
    th3 = threading.Thread(target=waiter, args=(w3, False), daemon=True, name="gotchalab-w3")
    th3.start()
    at(release_after)
    victim = held.pop(0)
    old = sys.getswitchinterval()
    sys.setswitchinterval(5.0)
    try:
        pool.release(victim)
        try:
            again = pool.acquire()
        except BaseException as exc:  # W1 took it, or the pool failed
            out["barge"] = _exc_text(exc)
            again = None
    finally:
        sys.setswitchinterval(old)
    out["barged"] = again is not None
    out["barged_same"] = again is victim
    if again is not None:
        held.append(again)
        again.execute("update t set x = x + 1")  # its release will roll back (slowly)
    at(wait - 0.05)
    th2 = threading.Thread(target=waiter, args=(w2, False), daemon=True, name="gotchalab-w2")
    th2.start()
    at(wait + 0.02)
    if again is not None:
        held.remove(again)
        try:
            pool.release(again)
            out["released_at"] = time.monotonic() - start
        except BaseException as exc:  # reported to the grader
            out["release_error"] = _exc_text(exc)
    th.join(max(0.0, start + wait + 1.0 - time.monotonic()))
    th3.join(max(0.0, start + wait + 1.0 - time.monotonic()))
    th2.join(max(0.0, start + 2 * wait + 0.5 - time.monotonic()))
    out["alive"] = th.is_alive()
    out["w2"], out["w3"] = dict(w2), dict(w3)
    out["w2_alive"] = th2.is_alive()
    out["max_open"] = server.max_open
    for h in held:
        try:
            pool.release(h)
        except BaseException:  # noqa: BLE001 - clean-up only
            pass
    return out


def _probe_woken(Pool: type, size: int, wait: float, delay: float, closed: bool) -> dict[str, Any]:
    """Every connection is lent; W waits; after ``delay`` s one comes back (closed, if asked)."""
    server = FakeServer()
    pool = Pool(_FAKE_DSN, size, wait, connect=server.connect)
    held = [pool.acquire() for _ in range(size)]
    out: dict[str, Any] = {"outcome": "waiting"}
    stamp: dict[str, float] = {}

    def waiter() -> None:
        try:
            c = pool.acquire()
        except BaseException as exc:  # reported to the grader
            out.update(outcome="error", error=_exc_text(exc))
            return
        out.update(outcome="got", conn=getattr(c, "name", repr(c)))
        out["after"] = time.monotonic() - stamp.get("released", time.monotonic())
        out["early"] = "released" not in stamp
        out["closed"] = bool(getattr(c, "closed", False))
        pool.release(c)

    th = threading.Thread(target=waiter, daemon=True, name="gotchalab-waiter")
    th.start()
    time.sleep(delay)
    victim = held.pop()
    if closed:
        victim.close()
    stamp["released"] = time.monotonic()
    try:
        pool.release(victim)
    except BaseException as exc:  # reported to the grader
        out["release_error"] = _exc_text(exc)
    th.join(wait + 0.5)
    out["alive"] = th.is_alive()
    out["victim"] = victim.name
    out["made"] = len(server.made)
    for h in held:
        try:
            pool.release(h)
        except BaseException:  # noqa: BLE001 - clean-up only
            pass
    return out


def _probe_handoff(Pool: type, size: int, delay: float) -> dict[str, Any]:
    """A waiter gets a connection whose borrower left a transaction open: the rollback (slow
    here: ``delay`` s) must have finished before the waiter gets it."""
    server = FakeServer(rollback_delay=delay)
    pool = Pool(_FAKE_DSN, size, 2.0, connect=server.connect)
    held = [pool.acquire() for _ in range(size)]
    victim = held[0]
    victim.execute("update t set x = x + 1")
    out: dict[str, Any] = {"outcome": "waiting", "victim": victim.name}

    def waiter() -> None:
        try:
            c = pool.acquire()
        except BaseException as exc:  # reported to the grader
            out.update(outcome="error", error=_exc_text(exc))
            return
        out.update(outcome="got", conn=c.name, status=c.status, busy=c._busy)
        try:
            c.execute("select 1")
            c.commit()
        except BaseException as exc:  # noqa: BLE001 - reported
            out["use_error"] = _exc_text(exc)
        try:
            pool.release(c)
        except BaseException as exc:  # noqa: BLE001 - reported
            out["release_error"] = _exc_text(exc)

    th = threading.Thread(target=waiter, daemon=True, name="gotchalab-waiter")
    th.start()
    time.sleep(0.03)
    try:
        pool.release(victim)
    except BaseException as exc:  # reported to the grader
        out["release_error"] = _exc_text(exc)
    th.join(2.5)
    out["alive"] = th.is_alive()
    out["overlaps"] = list(server.overlaps)
    out["commits"] = victim.commits
    for h in held[1:]:
        try:
            pool.release(h)
        except BaseException:  # noqa: BLE001 - clean-up only
            pass
    return out


def _probe_stress(Pool: type, size: int, workers: int, rounds: int, seed: int) -> dict[str, Any]:
    """``workers`` threads borrow and return, with a slow connect() and a tiny GIL switch
    interval; each borrower records what it was handed."""
    server = FakeServer(connect_delay=0.002)
    pool = Pool(_FAKE_DSN, size, 1.5, connect=server.connect)
    holders: dict[int, int] = {}
    waits: list[float] = []
    lock = threading.Lock()
    seen: list[str] = []
    errors: list[str] = []

    def worker(i: int) -> None:
        rng = random.Random(seed * 31 + i)
        for _ in range(rounds):
            t0 = time.monotonic()
            try:
                c = pool.acquire()
                waits.append(time.monotonic() - t0)
            except BaseException as exc:  # reported to the grader
                errors.append(f"worker {i}: acquire() raised {_exc_text(exc)}")
                return
            with lock:
                other = holders.get(id(c))
                if other is not None:
                    seen.append(
                        f"{getattr(c, 'name', c)} was handed to worker {i} while worker {other} "
                        "still held it"
                    )
                holders[id(c)] = i
            if rng.random() < 0.5:
                time.sleep(0.0003)
            with lock:
                if holders.get(id(c)) == i:
                    del holders[id(c)]
            try:
                pool.release(c)
            except BaseException as exc:  # reported to the grader
                errors.append(f"worker {i}: release() raised {_exc_text(exc)}")
                return

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(workers)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 2.5
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
    finally:
        sys.setswitchinterval(old)
    return {
        "twice": seen[:3],
        "errors": errors[:3],
        "max_open": server.max_open,
        "hung": sum(t.is_alive() for t in threads),
        "max_wait": max(waits, default=0.0),
    }


def _exc_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _probe(
    fn: Callable[..., Any], Pool: type, *args: Any, limit: float, seed: int, hint: str, replay: str
) -> dict[str, Any]:
    """Run a probe beside the learner's code under the watchdog; a stub fails once."""
    progress = {
        "tick": 0,
        "where": fn.__doc__.splitlines()[0] if fn.__doc__ else fn.__name__,
        "seed": seed,
        "hint": hint,
        "replay": replay,
    }
    try:
        return _guarded(lambda: beside(fn, Pool, *args), limit, progress)
    except NotImplementedError:
        _not_implemented()


# ---- real-server helpers --------------------------------------------------------------------


def _dsn_with_tag(dsn: str | None, tag: str) -> str:
    if dsn is None:
        from .services import shared_postgres

        dsn = shared_postgres().dsn
    sep = "&" if "?" in dsn else "?"
    return f"{dsn}{sep}application_name={tag}"


def _learner_env_dsn(_anchor: Any) -> str | None:
    """The server's URL as the learner's process sees it (run there through ``beside``)."""
    import os

    return os.environ.get("GOTCHALAB_POSTGRES_URL") or None


def _pool_dsn(Pool: type, dsn: str | None, tag: str) -> str:
    """The DSN a learner's pool opens its connections with, tagged ``application_name=tag``.

    In the authoritative grade the pool runs in a sandbox that reaches the server through a
    Unix socket, not the judge's loopback port: ask the learner's side which URL it has.
    """
    from .check import is_remote

    if is_remote(Pool):
        there = beside(_learner_env_dsn, Pool)
        if type(there) is str and there:
            return _dsn_with_tag(there, tag)
    return _dsn_with_tag(dsn, tag)


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
    """A name no other grader uses now: several graders may share one server (and one seed)."""
    rng.getrandbits(40)  # keeps the seeded stream as it was
    return f"gl04-{what}-{secrets.token_hex(5)}"


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


def _real_call(
    fn: Callable[[], Any], limit_s: float, what: str, seed: int, hint: str, replay: str
) -> Any:
    """Run one learner call against the real server in a watchdog thread (bounded wait)."""
    progress: dict[str, Any] = {
        "tick": 0,
        "where": what,
        "seed": seed,
        "hint": hint,
        "replay": replay,
    }
    try:
        return _guarded(fn, limit_s, progress)
    except NotImplementedError:
        _not_implemented()


def _raised(what: str, exc: BaseException, seed: int, replay: str) -> NoReturn:
    if _stub(exc):
        _not_implemented()
    fail(
        "your code raised an exception",
        f"{what} raised {type(exc).__name__}: {exc}",
        seed=seed,
        replay=replay,
    )


def _burst(
    Pool: type, admin: Any, dsn: str | None, rng: random.Random, *, raising: bool
) -> dict[str, Any]:
    """``size + 3`` threads at once through ``with pool.connection()``; sample pg_stat_activity."""
    size = rng.randint(2, 3)
    burst = size + 3
    tag = _new_tag(rng, "burst")
    kinds = ("query", "query", "raise", "slow") if raising else ("query", "query", "slow")
    roles = [rng.choice(kinds) for _ in range(burst)]
    if raising and "raise" not in roles:
        roles[rng.randrange(burst)] = "raise"
    pool = Pool(_pool_dsn(Pool, dsn, tag), size, 2.0)
    errors: list[str] = []

    def client(i: int) -> None:
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

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(burst)]
    peak = 0
    after_error = None
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 1.5
        while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
            peak = max(peak, _count(admin, tag))
            time.sleep(0.003)
        hung = sum(t.is_alive() for t in threads)
        if not hung and not errors:
            # After the burst every connection must be back: `size` borrowers at once, at once.
            box: dict[str, Any] = {}

            def take_all() -> None:
                try:
                    got = [pool.acquire() for _ in range(size)]
                except Exception as exc:  # reported below
                    box["error"] = f"{type(exc).__name__}: {exc}"
                    return
                box["peak"] = _count(admin, tag)
                for c in got:
                    pool.release(c)

            th = threading.Thread(target=take_all, daemon=True)
            th.start()
            th.join(2.5)
            after_error = box.get("error") or (None if "peak" in box else "still waiting")
            peak = max(peak, box.get("peak", 0))
    finally:
        _close_pool(pool)
        _kill_tag(admin, tag)
    return {
        "size": size,
        "burst": burst,
        "tag": tag,
        "peak": peak,
        "hung": hung,
        "errors": errors,
        "after_error": after_error,
        "schedule": [f"client {i}: {role}" for i, role in enumerate(roles)],
    }


# ============================================================================================
# Graders
# ============================================================================================


def check_pool_bounded_size(
    Pool: type,
    *,
    dsn: str | None = None,
    seed: int = 0,
    cases: int = 2_500,
    real_cases: int = 1,
    case: int | None = None,
) -> None:
    """Never more than ``size`` connections, none lost, none lent twice; ``close()``.

    Rules (each reached by a scripted model case, then by the seeded sweep):

    * ``ConnectionPool(...)`` opens no connection; ``acquire()`` calls ``connect(dsn)`` only when
      no returned connection is idle (an idle one is reused), so at most ``size`` are ever open;
    * with every connection lent, ``acquire()`` and ``pool.connection()`` hand out nothing;
    * a connection that comes back closed (by its borrower) or broken (the server dropped it) is
      dropped and its place freed: ``size`` connections can still be borrowed;
    * if ``connect()`` raises, ``acquire()`` raises that same exception and the place is freed;
    * ``close()`` closes every idle connection and no lent one: once all are back and the pool
      closed (again), none is open; after ``close()``, ``acquire()`` may refuse, but never lends
      a closed connection;
    * threads (a slow ``connect()``, a tiny GIL switch interval): no connection is handed to two
      borrowers at once, never more than ``size`` open (what each borrower was handed);
    * the real server: a burst of ``size + 3`` clients never shows more than ``size`` sessions in
      ``pg_stat_activity``; a connection the server terminated is replaced; ``close()`` leaves
      no session.

    ``case=k`` replays model case ``k`` of ``seed`` alone (the failure report prints the call).
    """
    started = time.perf_counter()
    name = "check_pool_bounded_size"
    n = _model_sweep(Pool, cell="bounded", seed=seed, cases=cases, case=case, check=name)
    if case is not None:
        passed("pool never opens more than `size` connections", n, started)
        return
    replay = f"{name}(ConnectionPool, dsn=DSN, seed={seed})"
    rng = random.Random(seed)
    size = rng.randint(2, 3)
    st = _probe(
        _probe_stress,
        Pool,
        size,
        size + 3,
        60,
        seed,
        limit=3.0,
        seed=seed,
        hint="acquire() and release() must not block forever: guard the pool with one lock",
        replay=replay,
    )
    if st["twice"]:
        fail(
            "one connection lent twice",
            f"{size + 3} threads sharing a pool of size {size}: {st['twice'][0]}",
            seed=seed,
            replay=replay,
            hint="check and update the pool's state under one lock (threading.Condition)",
        )
    if st["max_open"] > size:
        fail(
            "pool grew past its size",
            f"{size + 3} threads sharing a pool of size {size} (connect() takes 2 ms): "
            f"{st['max_open']} connections were open at once",
            seed=seed,
            replay=replay,
            hint="count a connection as opened before calling connect(), under the lock",
        )
    if st["errors"] or st["hung"] or st["max_wait"] > 0.5:
        fail(
            "threads not served",
            f"{size + 3} threads sharing a pool of size {size}, each holding a connection for "
            f"at most 0.3 ms and willing to wait 1.5 s: {st['hung']} still waiting after 2.5 s; "
            f"longest wait {st['max_wait']:.3f} s; errors: {st['errors']}",
            seed=seed,
            replay=replay,
            hint="release() must wake a waiting acquire()",
        )
    with _admin(dsn) as admin:
        for _ in range(real_cases):
            b = _burst(Pool, admin, dsn, rng, raising=False)
            if b["peak"] > b["size"]:
                fail(
                    "pool grew past its size",
                    f"a burst of {b['burst']} clients on a pool of size {b['size']}: "
                    f"pg_stat_activity showed {b['peak']} connections named {b['tag']!r}",
                    seed=seed,
                    schedule=b["schedule"],
                    expected=f"<= {b['size']}",
                    got=b["peak"],
                    replay=replay,
                )
            if b["hung"] or b["errors"] or b["after_error"]:
                fail(
                    "burst not served",
                    f"{b['burst']} clients, pool size {b['size']}, each holding a connection "
                    f"for 30-60 ms and willing to wait 2 s: {b['hung']} still waiting after "
                    f"1.5 s; errors: {b['errors'][:3]}"
                    + (
                        f"; afterwards, borrowing all {b['size']} failed: {b['after_error']}"
                        if b["after_error"]
                        else ""
                    ),
                    seed=seed,
                    schedule=b["schedule"],
                    replay=replay,
                    hint="a release must wake up a waiting acquire()",
                )
        _real_broken_and_close(Pool, admin, dsn, rng, seed, replay)
    passed("pool never opens more than `size` connections", n + real_cases + 2, started)


def _real_broken_and_close(
    Pool: type, admin: Any, dsn: str | None, rng: random.Random, seed: int, replay: str
) -> None:
    """A lent connection the server terminates is replaced; close() leaves no session."""
    import psycopg

    tag = _new_tag(rng, "broken")
    size = rng.randint(1, 2)
    pool = Pool(_pool_dsn(Pool, dsn, tag), size, 0.3)

    def scenario() -> tuple[int, int]:
        conns = [pool.acquire() for _ in range(size)]
        victim = conns[0]
        pid = victim.info.backend_pid
        admin.execute("select pg_terminate_backend(%s)", (pid,))
        try:
            victim.execute("select 1")
        except psycopg.OperationalError:
            pass  # the borrower finds its connection gone; psycopg now reports it closed
        for c in conns:
            pool.release(c)
        again = [pool.acquire() for _ in range(size)]
        open_now = _count(admin, tag)
        for c in again:
            pool.release(c)
        pool.close()
        deadline = time.monotonic() + 1.0
        left = _count(admin, tag)
        while left and time.monotonic() < deadline:
            time.sleep(0.01)
            left = _count(admin, tag)
        return open_now, left

    try:
        open_now, left = _real_call(
            scenario,
            1.5,
            "a connection terminated by the server, then close()",
            seed,
            "acquire() blocked: the place of the terminated connection was never freed",
            replay,
        )
    except PoolTimeout as exc:
        fail(
            "pool lost capacity",
            f"pool of size {size} on the real server: the server terminated one lent connection; "
            f"after it came back, borrowing {size} connections raised PoolTimeout({exc})",
            seed=seed,
            replay=replay,
            hint="release() drops a closed connection and frees its place",
        )
    except CheckFailure:
        raise
    except Exception as exc:
        _raised("a pool whose connection the server terminated", exc, seed, replay)
    finally:
        _close_pool(pool)
        _kill_tag(admin, tag)
    if open_now > size:
        fail(
            "pool grew past its size",
            f"after replacing a terminated connection, {open_now} sessions named {tag!r} are "
            f"open for a pool of size {size}",
            seed=seed,
            replay=replay,
        )
    if left:
        fail(
            "close() left idle connections open",
            f"every connection was returned, then pool.close(): pg_stat_activity still shows "
            f"{left} session(s) named {tag!r} after 1 s",
            seed=seed,
            replay=replay,
            hint="close() closes every idle connection",
        )


def check_pool_acquire_timeout(
    Pool: type,
    *,
    dsn: str | None = None,
    seed: int = 0,
    cases: int = 2_000,
    case: int | None = None,
) -> None:
    """An empty pool makes ``acquire()`` wait at most ``acquire_timeout``, then raise PoolTimeout.

    Rules:

    * ``acquire_timeout=0`` and every connection lent: ``PoolTimeout`` at once (model cases,
      ``acquire()`` and ``pool.connection()``), never a connection, never another exception;
      with a connection free, never ``PoolTimeout``;
    * the message names the pool size (exactly) and the wait (seconds or ms);
    * a waiter raises ``PoolTimeout`` ``acquire_timeout`` seconds (not ms) after it asked, even
      when a release woke it and another borrower took that connection first (it keeps waiting
      until its *original* deadline: neither gives up when woken nor restarts its clock);
    * a release whose wake-up lands on a waiter whose deadline just passed is not lost: that
      waiter takes the connection, or another waiter gets it at once;
    * a waiter is woken by a release and gets the connection within 0.15 s; a connection that
      comes back closed wakes a waiter too, which gets a new connection;
    * the real server: a pool whose connections are all lent raises ``PoolTimeout`` after the
      wait.
    """
    started = time.perf_counter()
    name = "check_pool_acquire_timeout"
    n = _model_sweep(Pool, cell="timeout", seed=seed, cases=cases, case=case, check=name)
    if case is not None:
        passed("acquire() waits at most acquire_timeout, then raises PoolTimeout", n, started)
        return
    replay = f"{name}(ConnectionPool, dsn=DSN, seed={seed})"
    rng = random.Random(seed)
    # A woken waiter that loses the race keeps its original deadline.
    size = rng.randint(1, 3)
    wait = rng.choice([0.25, 0.3])  # (W3's deadline, wait + 0.05, falls inside the rollback)
    conclusive = False
    for _attempt in range(3):
        r = _probe(
            _probe_lost_race,
            Pool,
            size,
            wait,
            round(wait * 0.6, 3),
            limit=wait + 2.0,
            seed=seed,
            hint="acquire() must give up after acquire_timeout seconds and raise PoolTimeout",
            replay=replay,
        )
        story = (
            f"pool of size {size}, acquire_timeout={wait}: every connection lent; a waiter asks "
            f"at t=0; at t={wait * 0.6:.3g} one connection is released and at once borrowed again by "
            "another caller"
        )
        if r["alive"]:
            fail(
                "waited past the deadline",
                f"{story}; the waiter was still waiting at t={wait + 1:g} s",
                seed=seed,
                replay=replay,
                hint="wait on the condition with the time left until the deadline, then raise",
            )
        if r["outcome"] == "error":
            fail(
                "woken waiter failed",
                f"{story}; the waiter's acquire() raised {r['error']}",
                seed=seed,
                replay=replay,
                hint="after Condition.wait() returns, check again whether a connection is free",
            )
        if r["outcome"] == "got":
            if r["took"] > wait + 0.03:  # (nothing comes back between wait and wait + 0.1)
                fail(
                    "waited past the deadline",
                    f"{story}; the waiter got a connection only after {r['took']:.3f} s (one "
                    f"released at t={wait + 0.02:.2f}), past its deadline t={wait:g} s",
                    seed=seed,
                    replay=replay,
                    hint="compute the deadline once, when acquire() starts, and wait only for "
                    "the time left (Condition.wait can wake up early)",
                )
            if r.get("barged_same") or r.get("conn") in r.get("held_then", []):
                fail(
                    "one connection lent twice",
                    f"{story}; the waiter got {r['conn']}, which that caller holds",
                    seed=seed,
                    replay=replay,
                    hint="after Condition.wait() returns, check again whether one is free",
                )
            if r["max_open"] > size:
                fail(
                    "pool grew past its size",
                    f"{story}; the waiter got a new connection: {r['max_open']} open at once",
                    seed=seed,
                    replay=replay,
                    hint="after Condition.wait() returns, check again whether one is free",
                )
            continue  # the waiter won the race fairly: no verdict on the deadline, try again
        conclusive = True
        took = r["took"]
        if took < wait - 0.03:
            fail(
                "gave up early",
                f"{story}; the waiter raised PoolTimeout at t={took:.3f} s, before its deadline "
                f"(t={wait:g} s)",
                seed=seed,
                replay=replay,
                expected=f"PoolTimeout at t={wait:g} s",
                got=f"PoolTimeout at t={took:.3f} s",
                hint="a waiter woken without a free connection waits again, with the time left",
            )
        if took > wait + 0.1:
            fail(
                "waited past the deadline",
                f"{story}; the waiter raised PoolTimeout at t={took:.3f} s, after its deadline "
                f"(t={wait:g} s)",
                seed=seed,
                replay=replay,
                expected=f"PoolTimeout at t={wait:g} s",
                got=f"PoolTimeout at t={took:.3f} s",
                hint="compute the deadline once, when acquire() starts, and wait only for the "
                "time left (Condition.wait can wake up early)",
            )
        w2, w3 = r["w2"], r["w3"]
        if r.get("release_error"):
            fail(
                "release() failed",
                f"{story}; release() raised {r['release_error']}",
                seed=seed,
                replay=replay,
            )
        if r["w2_alive"] or w2.get("outcome") != "got":
            fail(
                "lost wake-up",
                f"pool of size {size}, acquire_timeout={wait}: every connection lent; waiters W3 "
                f"(asked at t=0.05) and W2 (asked at t={wait - 0.05:.2f}); at t={wait + 0.02:.2f} "
                "a connection with an open transaction is released (its rollback takes 80 ms, "
                f"so W3's deadline passes meanwhile). W3: {w3.get('outcome')}; W2: "
                + (
                    "still waiting"
                    if r["w2_alive"]
                    else f"{w2.get('outcome')} after {w2.get('took', 0):.3f} s"
                )
                + ", though the connection was free from the end of the rollback on",
                seed=seed,
                replay=replay,
                hint="a waiter whose wait() timed out must still check for a free connection "
                "before raising: the release's notify() may have landed on it",
            )
        if not _timeout_message_ok(r["message"], size, wait):
            fail(
                "unclear timeout message",
                f"PoolTimeout({r['message']!r}) should name the pool size ({size}) and how long "
                f"it waited ({wait} s)",
                seed=seed,
                replay=replay,
            )
        break
    if not conclusive:
        fail(
            "race never lost",
            "in 3 tries the waiter always won the connection from the caller that released and "
            "at once borrowed again; the grader could not see how it keeps its deadline",
            seed=seed,
            replay=replay,
            hint="this is rare; run the cell again",
        )
    # A release wakes a waiter; a closed connection coming back does too (a new one is opened).
    for closed in (False, True):
        size = rng.randint(1, 3)
        w = _probe(
            _probe_woken,
            Pool,
            size,
            1.0,
            0.06,
            closed,
            limit=2.5,
            seed=seed,
            hint="acquire() must give up after acquire_timeout seconds and raise PoolTimeout",
            replay=replay,
        )
        story = (
            f"pool of size {size}, acquire_timeout=1: every connection lent; a waiter asks; after "
            f"60 ms {w['victim']} is released" + (" (its borrower had closed it)" if closed else "")
        )
        if w.get("release_error"):
            fail(
                "release() failed",
                f"{story}; release() raised {w['release_error']}",
                seed=seed,
                replay=replay,
            )
        if w["outcome"] != "got" or w["alive"] or w.get("after", 9) > 0.15:
            got = (
                f"got a connection {w['after']:.3f} s after the release"
                if w["outcome"] == "got"
                else ("raised " + w.get("error", "") if w["outcome"] == "error" else "still waits")
            )
            fail(
                "waiter not woken",
                f"{story}; the waiter {got}",
                seed=seed,
                replay=replay,
                hint="release() must notify a waiting acquire() (threading.Condition.notify), "
                "also when it drops a closed connection",
            )
        if closed and (w["conn"] == w["victim"] or w["closed"]):
            fail(
                "lent a broken connection",
                f"{story}; the waiter got the closed {w['conn']}",
                seed=seed,
                replay=replay,
            )
        if not closed and w["made"] != size:
            fail(
                "opened a connection while one was idle",
                f"{story}; the waiter got a new connection instead of the one released",
                seed=seed,
                replay=replay,
            )
    # The real server.
    tag = _new_tag(rng, "timeout")
    size, wait = rng.choice([(1, 0.12), (2, 0.15), (3, 0.1)])
    with _admin(dsn) as admin:
        pool = Pool(_pool_dsn(Pool, dsn, tag), size, wait)
        try:

            def timed_acquire() -> tuple[str, float, str]:
                held = [pool.acquire() for _ in range(size)]
                t0 = time.perf_counter()
                try:
                    conn = pool.acquire()
                except PoolTimeout as exc:
                    return "timeout", time.perf_counter() - t0, str(exc)
                finally:
                    for c in held:
                        pool.release(c)
                pool.release(conn)
                return "got", time.perf_counter() - t0, repr(conn)

            outcome, took, text = _real_call(
                timed_acquire,
                1.2,
                f"acquire() on an empty pool (size {size}, wait {wait})",
                seed,
                "acquire() must give up after acquire_timeout seconds and raise PoolTimeout",
                replay,
            )
        except CheckFailure:
            raise
        except Exception as exc:
            _raised(f"acquire() on the real server (size {size})", exc, seed, replay)
        finally:
            _close_pool(pool)
            _kill_tag(admin, tag)
    if outcome != "timeout":
        fail(
            "acquire ignored the limit",
            f"every one of the {size} connections was lent, yet acquire() returned {text}",
            seed=seed,
            replay=replay,
        )
    if not (wait - 0.03 <= took <= wait + 0.3):
        fail(
            "wrong wait",
            f"acquire_timeout={wait} s, but PoolTimeout came after {took:.3f} s",
            seed=seed,
            expected=f"about {wait} s",
            got=f"{took:.3f} s",
            replay=replay,
        )
    if not _timeout_message_ok(text, size, wait):
        fail(
            "unclear timeout message",
            f"PoolTimeout({text!r}) should name the pool size ({size}) and how long it waited "
            f"({wait} s)",
            seed=seed,
            replay=replay,
        )
    passed("acquire() waits at most acquire_timeout, then raises PoolTimeout", n + 4, started)


def check_pool_returns_on_exception(
    Pool: type,
    *,
    dsn: str | None = None,
    seed: int = 0,
    cases: int = 2_500,
    case: int | None = None,
) -> None:
    """``with pool.connection()`` returns the connection on every exit path, exception included.

    Rules:

    * ``with pool.connection() as conn`` binds a connection made by ``connect()``, lent to this
      block alone;
    * when the block ends (normally, or by an exception), its connection is free again: every
      free place can be borrowed at once;
    * an exception raised in the block reaches the caller unchanged (same class, same message),
      and the end of a normal block raises nothing;
    * on a full pool the block does not run: ``PoolTimeout`` reaches the caller;
    * the real server: a burst of ``size + 3`` clients, some raising inside the block, is served
      and leaves every connection free; a pool of size 1 survives ten failing blocks (an
      exception of the grader, and an error from the server).
    """
    started = time.perf_counter()
    name = "check_pool_returns_on_exception"
    n = _model_sweep(Pool, cell="exception", seed=seed, cases=cases, case=case, check=name)
    if case is not None:
        passed("every exit path of `with pool.connection()` returns the connection", n, started)
        return
    replay = f"{name}(ConnectionPool, dsn=DSN, seed={seed})"
    rng = random.Random(seed)
    import psycopg

    with _admin(dsn) as admin:
        b = _burst(Pool, admin, dsn, rng, raising=True)
        if b["hung"] or b["errors"] or b["after_error"]:
            fail(
                "connection not returned",
                f"{b['burst']} clients through `with pool.connection()`, pool size {b['size']}, "
                f"some raising inside the block, each willing to wait 2 s: {b['hung']} still "
                f"waiting after 1.5 s; errors: {b['errors'][:3]}"
                + (
                    f"; afterwards, borrowing all {b['size']} failed: {b['after_error']}"
                    if b["after_error"]
                    else ""
                ),
                seed=seed,
                schedule=b["schedule"],
                replay=replay,
                hint="put the release in a `finally:` so every exit path returns the connection",
            )
        tag = _new_tag(rng, "exc")
        pool = Pool(_pool_dsn(Pool, dsn, tag), 1, 0.3)
        try:

            def ten() -> int:
                for i in range(10):
                    try:
                        with pool.connection() as conn:
                            if i % 2:  # the server raises (and aborts the transaction)
                                conn.execute("select 1 / 0")
                            raise _Boom(f"block {i}")
                    except _Boom as exc:
                        if i % 2 or str(exc) != f"block {i}":
                            fail(
                                "exception changed",
                                f"block {i} raised _Boom('block {i}'), the caller got _Boom({exc})",
                                seed=seed,
                                replay=replay,
                            )
                    except psycopg.Error:
                        if not i % 2:
                            raise
                    except PoolTimeout as exc:
                        fail(
                            "connection not returned",
                            f"with block {i + 1} timed out waiting ({exc}): an earlier block "
                            "that raised did not return its connection",
                            seed=seed,
                            replay=replay,
                            hint="put the release in a `finally:`",
                        )
                return _count(admin, tag)

            open_now = _real_call(
                ten,
                1.5,
                "10 with blocks that raise, pool size 1",
                seed,
                "a with block that raised did not return its connection (acquire() waits)",
                replay,
            )
        except CheckFailure:
            raise
        except Exception as exc:
            _raised("`with pool.connection()` on the real server", exc, seed, replay)
        finally:
            _close_pool(pool)
            _kill_tag(admin, tag)
        if open_now > 1:
            fail(
                "pool grew past its size",
                f"after 10 failing with blocks a pool of size 1 had {open_now} connections open",
                seed=seed,
                replay=replay,
            )
    passed("every exit path of `with pool.connection()` returns the connection", n + 2, started)


def check_pool_no_idle_in_transaction_leak(
    Pool: type,
    *,
    dsn: str | None = None,
    seed: int = 0,
    cases: int = 2_500,
    case: int | None = None,
) -> None:
    """A borrower's open transaction is rolled back on release, never committed, never leaked.

    Rules:

    * when ``release(conn)`` returns (or a ``with pool.connection()`` block ends, by any path),
      a transaction the borrower left open is rolled back: plain (``INTRANS``) and aborted
      (``INERROR``, "idle in transaction (aborted)") alike; a clean ``with`` exit does **not**
      commit;
    * the pool never commits: the commits that reach the server are the borrowers' own;
    * every connection handed out has transaction status ``IDLE`` and autocommit as ``connect()``
      made it (off): the pool never switches a borrower's session settings;
    * a connection still lent is never touched by the pool (no rollback, commit or close of it
      while its borrower works);
    * a connection whose rollback fails (the server dropped it) is dropped without an exception
      from ``release()``;
    * threads: a waiter gets a returned connection only after its (slow) rollback finished;
    * the real server: uncommitted inserts vanish, the committed one stays, an aborted
      transaction is cleared, no session is left "idle in transaction".
    """
    started = time.perf_counter()
    name = "check_pool_no_idle_in_transaction_leak"
    n = _model_sweep(Pool, cell="tx", seed=seed, cases=cases, case=case, check=name)
    if case is not None:
        passed("no 'idle in transaction' leaks and no surprise commits", n, started)
        return
    replay = f"{name}(ConnectionPool, dsn=DSN, seed={seed})"
    rng = random.Random(seed)
    size = rng.randint(1, 2)
    h = _probe(
        _probe_handoff,
        Pool,
        size,
        0.08,
        limit=3.0,
        seed=seed,
        hint="release() must wake a waiting acquire()",
        replay=replay,
    )
    story = (
        f"pool of size {size}: every connection lent; {h['victim']}'s borrower leaves a "
        "transaction open; a waiter asks; the borrower releases it (its rollback takes 80 ms)"
    )
    if h.get("release_error"):
        fail(
            "release() failed",
            f"{story}; release() raised {h['release_error']}",
            seed=seed,
            replay=replay,
        )
    if h["outcome"] != "got" or h["alive"]:
        fail(
            "waiter not woken",
            f"{story}; the waiter "
            + ("raised " + h.get("error", "") if h["outcome"] == "error" else "never got it"),
            seed=seed,
            replay=replay,
            hint="release() must notify a waiting acquire()",
        )
    if h["busy"] or h["status"] != "IDLE" or h["overlaps"]:
        fail(
            "connection handed over before its rollback finished",
            f"{story}; the waiter got {h['conn']} with transaction status {h['status']}"
            + (f" while {h['busy']}() was still running on it" if h["busy"] else "")
            + (f"; {h['overlaps'][0]}" if h["overlaps"] else ""),
            seed=seed,
            replay=replay,
            hint="roll back first, then make the connection free and notify (all in release())",
        )
    if h["commits"] > 1:
        fail(
            "pool committed a borrower's unfinished work",
            f"{story}; the borrower's open transaction was committed",
            seed=seed,
            replay=replay,
        )
    # The real server.
    import psycopg

    tag = _new_tag(rng, "tx")
    table = f"gl04_{tag.split('-')[-1]}"
    with _admin(dsn) as admin:
        admin.execute(f"create table {table} (x int)")
        pool = Pool(_pool_dsn(Pool, dsn, tag), 1, 0.5)
        try:

            def scenario() -> dict[str, Any]:
                with pool.connection() as conn:
                    conn.execute(f"insert into {table} values (1)")  # no commit
                try:
                    with pool.connection() as conn:
                        conn.execute(f"insert into {table} values (2)")
                        raise _Boom("after insert")
                except _Boom:
                    pass
                with pool.connection() as conn:
                    conn.execute(f"insert into {table} values (3)")
                    conn.commit()
                try:
                    with pool.connection() as conn:
                        conn.execute(f"insert into {table} values (4)")
                        conn.execute("select 1 / 0")  # the transaction is now aborted
                except psycopg.errors.DivisionByZero:
                    pass
                conn = pool.acquire()
                conn.execute(f"insert into {table} values (5)")  # left open: released below
                pool.release(conn)
                out = {
                    "idle_tx": _count(admin, tag, "idle in transaction")
                    + _count(admin, tag, "idle in transaction (aborted)"),
                    "rows": [
                        r[0] for r in admin.execute(f"select x from {table} order by x").fetchall()
                    ],
                }
                with pool.connection() as conn:
                    out["status"] = conn.info.transaction_status.name
                    out["autocommit"] = conn.autocommit
                    conn.execute(f"insert into {table} values (6)")  # the next borrower's work
                    out["after_insert"] = conn.info.transaction_status.name
                return out

            got = _real_call(
                scenario,
                1.5,
                "with blocks and a release that leave transactions open",
                seed,
                "acquire() blocked: a with block did not return its connection",
                replay,
            )
        except CheckFailure:
            raise
        except Exception as exc:
            _raised("the pool on the real server", exc, seed, replay)
        finally:
            _close_pool(pool)
            _kill_tag(admin, tag)
            admin.execute(f"drop table if exists {table}")
        story = (
            "on one pooled connection: insert 1 (no commit); insert 2, raise; insert 3, commit; "
            "insert 4, then a failing statement (aborted); acquire, insert 5, release"
        )
        if got["idle_tx"]:
            fail(
                "open transaction leaked to the next borrower",
                f"{story}: pg_stat_activity shows {got['idle_tx']} pooled session(s) 'idle in "
                "transaction'",
                seed=seed,
                replay=replay,
                hint="roll back on release: conn.rollback()",
            )
        if got["rows"] != [3]:
            fail(
                "wrong rows committed",
                f"{story}: only row 3 was committed by its borrower",
                seed=seed,
                expected=[3],
                got=got["rows"],
                replay=replay,
                hint="the pool rolls back whatever a borrower left open (never commits), and "
                "leaves autocommit as connect() made it",
            )
        if (
            got["status"] != "IDLE"
            or got["autocommit"] is not False
            or got["after_insert"] != "INTRANS"
        ):
            fail(
                "pool changed the borrower's session",
                f"{story}; the next borrower got a connection in transaction status "
                f"{got['status']}, autocommit={got['autocommit']}, and after an insert its "
                f"status was {got['after_insert']} (expected IDLE, False, INTRANS)",
                seed=seed,
                replay=replay,
                hint="roll back; don't switch autocommit on",
            )
    passed("no 'idle in transaction' leaks and no surprise commits", n + 2, started)


# ---- leak detection -------------------------------------------------------------------------
#
# The borrowers run next to the learner's pool (`beside`), so the stack the pool walks is theirs.
# Each returns plain data: the connection's name and the exact `where` a pool must report.

_OPEN_BLOCKS: dict[str, Any] = {}  # token -> a with block kept open (in the learner's process)


def _label(conn: Any) -> str:
    """A fake connection's name, or the server process of a real one."""
    name = getattr(conn, "name", None)
    return name if type(name) is str else f"backend {conn.info.backend_pid}"


def _site(frame: Any, line: int) -> str:
    return f"{frame.f_code.co_filename}:{line} in {frame.f_code.co_name}"


def _borrow_a(pool: Any) -> list[str]:
    """A plain ``pool.acquire()`` in a function."""
    here = sys._getframe()
    line = here.f_lineno + 1
    conn = pool.acquire()
    return [_label(conn), _site(here, line)]


def _borrow_b(pool: Any) -> list[str]:
    """Another ``pool.acquire()``, one call deeper (the borrower is the inner function)."""
    return _borrow_b_inner(pool)


def _borrow_b_inner(pool: Any) -> list[str]:
    here = sys._getframe()
    line = here.f_lineno + 1
    conn = pool.acquire()
    return [_label(conn), _site(here, line)]


def _with_body(pool: Any, box: dict[str, Any]):
    here = sys._getframe()
    line = here.f_lineno + 1
    with pool.connection() as conn:  # a with block that has not ended (yet)
        box["conn"], box["where"] = _label(conn), _site(here, line)
        how = yield
        if how == "raise":
            raise _Boom("the borrower fails")


def _borrow_with(pool: Any, token: str) -> list[str]:
    """A ``with pool.connection()`` block, held open until :func:`_end_with` ends it."""
    box: dict[str, Any] = {}
    gen = _with_body(pool, box)
    next(gen)
    _OPEN_BLOCKS[token] = gen
    return [box["conn"], box["where"]]


def _end_with(pool: Any, token: str, how: str) -> str:
    gen = _OPEN_BLOCKS.pop(token)
    try:
        gen.send(how)
    except StopIteration:
        return "ended"
    except _Boom:
        return "raised"
    return "yielded again"


def _probe_leak_boundary(Pool: type) -> list[Any]:
    """``leaks(0.0)`` on a clock that has not moved since the borrow: age 0 is 'at least 0'."""
    server = FakeServer()
    pool = Pool(_FAKE_DSN, 1, 0.0, connect=server.connect)
    real = time.monotonic
    frozen = real()
    time.monotonic = lambda: frozen  # only for these two calls, in this process
    try:
        pool.acquire()
        got = pool.leaks(0.0)
    finally:
        time.monotonic = real
    return got if type(got) is list else [repr(got)]


def _drop_blocks() -> None:
    _OPEN_BLOCKS.clear()


_BORROWERS = {"a": _borrow_a, "b": _borrow_b, "with": _borrow_with}


def _leak_case(Pool: type, seed: int, k: int, steps: list[str], tick: Callable[[], None]) -> None:
    """Model case ``k``: borrow from three sites, return some (some closed first), check
    ``leaks(0.0)`` exactly and ``leaks(3600.0) == []``. Raises :class:`_Verdict`."""
    rng = random.Random(seed * 1_000_003 + k)
    server = FakeServer()
    size = rng.randint(1, 4)
    pool = Pool(_FAKE_DSN, size, 0.0, connect=server.connect)
    out: list[dict[str, Any]] = []  # {conn, where, kind, token, t0, t1}
    steps.append(f"pool = ConnectionPool(dsn, size={size}, acquire_timeout=0)")
    by_name = {}
    for j in range(rng.randint(1, 7)):
        tick()
        r = rng.random()
        if out and r < 0.3:
            e = out.pop(rng.randrange(len(out)))
            conn = by_name[e["conn"]]
            if rng.random() < 0.25:
                conn.close()
                steps.append(f"the borrower closes {e['conn']}")
            if e["kind"] == "with":
                beside(_end_with, pool, e["token"], "ok")
                steps.append(f"end the with block holding {e['conn']}")
            else:
                pool.release(conn)
                steps.append(f"pool.release({e['conn']})")
        elif len(out) < size:
            lent_names = {e["conn"] for e in out}
            idle = [c for c in server.made if not c.closed and c.name not in lent_names]
            refuse = r < 0.4 and not idle
            kind = "a" if refuse else rng.choice(list(_BORROWERS))
            token = f"{seed}-{k}-{j}"
            if refuse:
                server.fail_next = 1
                steps.append("connect() will fail: a borrower's acquire() raises")
            t0 = time.monotonic()
            try:
                got = beside(_BORROWERS[kind], pool, *([token] if kind == "with" else []))
            except Exception:
                if not refuse:
                    raise
                server.fail_next = 0
                continue
            server.fail_next = 0
            t1 = time.monotonic()
            name, where = got
            by_name.update({c.name: c for c in server.made})
            out.append(
                {"conn": name, "where": where, "kind": kind, "token": token, "t0": t0, "t1": t1}
            )
            steps.append(f"{kind} borrower: {name} borrowed at {where}")
    steps.append("pool.leaks(0.0)")
    tick()
    t_before = time.monotonic()
    leaks = pool.leaks(0.0)
    t_after = time.monotonic()
    _judge_leaks(leaks, out, 0.0, t_before, t_after, "leaks(0.0)")
    steps.append("pool.leaks(3600.0)")
    late = pool.leaks(3600.0)
    if not (type(late) is list and late == []):
        raise _Verdict(
            "false leak",
            f"leaks(3600.0) gave {late!r}, but every connection was borrowed moments ago",
        )
    for e in out:
        if e["kind"] == "with":
            beside(_end_with, pool, e["token"], "ok")
        else:
            pool.release(by_name[e["conn"]])
    steps.append("every connection returned; pool.leaks(0.0)")
    rest = pool.leaks(0.0)
    if not (type(rest) is list and rest == []):
        raise _Verdict("false leak", f"every connection was returned, yet leaks(0.0) gave {rest!r}")
    _close_pool(pool)


def _judge_leaks(
    leaks: Any,
    out: list[dict[str, Any]],
    older: float,
    t_before: float,
    t_after: float,
    call: str,
) -> None:
    if type(leaks) is not list or any(type(r) is not dict for r in leaks):
        raise _Verdict("wrong result type", f"{call} returned {leaks!r}; expected a list of dicts")
    for rec in leaks:
        if set(rec) != {"age", "where"}:
            raise _Verdict(
                "bad leak record",
                f"record {rec!r}: expected exactly the keys 'age' and 'where'",
            )
        if type(rec["age"]) is not float or type(rec["where"]) is not str:
            raise _Verdict(
                "bad leak record",
                f"record {rec!r}: 'age' must be a float (seconds), 'where' a str",
            )
    want = [e for e in out if t_after - e["t0"] >= older]
    if len(leaks) != len(want):
        raise _Verdict(
            "leak missed" if len(leaks) < len(want) else "false leak",
            f"{len(want)} connection(s) have been lent for at least {older:g} s "
            f"({[e['where'] for e in want]}), but {call} listed {len(leaks)}: {leaks!r}",
            "list the connections lent now (drop one when it comes back, even closed), "
            "those with age >= older_than",
        )
    unmatched = list(want)
    for rec in leaks:
        hit = next((e for e in unmatched if e["where"] == rec["where"]), None)
        if hit is None:
            raise _Verdict(
                "leak does not name the borrower",
                f"record 'where'={rec['where']!r} is none of the borrowing sites "
                f"{[e['where'] for e in unmatched]}",
                "'where' is f'{code.co_filename}:{frame.f_lineno} in {code.co_name}' of the "
                "first frame outside your pool and contextlib",
            )
        same = [e for e in unmatched if e["where"] == rec["where"]]
        lo = min(t_before - e["t1"] for e in same) - 0.02
        hi = max(t_after - e["t0"] for e in same) + 0.02
        if not lo <= rec["age"] <= hi:
            raise _Verdict(
                "wrong age",
                f"record {rec!r}: the connection borrowed at {rec['where']} had been lent for "
                f"{max(lo, 0):.3f}-{hi:.3f} s",
                "age is time.monotonic() now minus when acquire() lent it, in seconds",
            )
        unmatched.remove(hit)


def check_pool_leak_detection(
    Pool: type,
    *,
    dsn: str | None = None,
    seed: int = 0,
    cases: int = 1_500,
    case: int | None = None,
) -> None:
    """``pool.leaks(older_than)`` lists exactly the connections lent that long, naming each borrower.

    Rules:

    * one record per connection lent now, each a dict with exactly ``age`` (float, seconds since
      it was lent) and ``where`` (``"<co_filename>:<line> in <function>"`` of the first frame
      outside the pool and ``contextlib``, exactly);
    * a connection returned (even closed by its borrower, or through a with block that raised)
      is no longer listed; a borrow that failed (``connect()`` raised) is never listed;
    * ``older_than`` filters: lent for at least that many seconds (a scripted case sleeps, so
      seconds are told from milliseconds; another stops ``time.monotonic`` so that an age of
      exactly ``older_than`` is listed);
    * borrowers: two ``acquire()`` sites and a ``with pool.connection()`` block left open, run
      next to your code (``gotchalab.check.beside``); the real server: a with block left open.
    """
    started = time.perf_counter()
    name = "check_pool_leak_detection"
    progress: dict[str, Any] = {"tick": 0, "seed": seed}
    ks = range(cases) if case is None else [case]

    def tick() -> None:
        progress["tick"] += 1

    def run_all() -> None:
        for k in ks:
            steps: list[str] = []
            progress["steps"] = steps
            progress["replay"] = f"{name}(ConnectionPool, seed={seed}, case={k})"
            progress["where"] = f"case {k}"
            _leak_case(Pool, seed, k, steps, tick)

    try:
        _guarded(run_all, 1.0, progress)
    except NotImplementedError:
        _not_implemented()
    except _Verdict as v:
        fail(
            v.category,
            v.what,
            seed=seed,
            schedule=progress.get("steps"),
            hint=v.hint,
            replay=progress.get("replay"),
        )
    except CheckFailure:
        raise
    except Exception as exc:
        fail(
            "your code raised an exception",
            f"{type(exc).__name__}: {exc}",
            seed=seed,
            schedule=progress.get("steps"),
            replay=progress.get("replay"),
        )
    finally:
        _drop_blocks()
    if case is not None:
        passed("leaks() lists every connection still out and who borrowed it", len(ks), started)
        return
    replay = f"{name}(ConnectionPool, dsn=DSN, seed={seed})"
    # Ages in seconds (since lent, not since opened) and the older_than filter: a connection
    # opened, returned and lent again later; another lent just now.
    rng = random.Random(seed)
    hold = rng.choice([0.12, 0.15, 0.18])
    server = FakeServer()
    pool = Pool(_FAKE_DSN, 3, 0.0, connect=server.connect)
    steps = ["pool = ConnectionPool(dsn, size=3, acquire_timeout=0)"]
    try:
        first, _where = beside(_borrow_b, pool)
        pool.release(next(c for c in server.made if c.name == first))
        steps += [f"{first} borrowed and returned at once", f"sleep {hold} s"]
        time.sleep(hold)
        out = []
        for kind in rng.sample(["a", "with"], 2):
            token = f"{seed}-timed-{kind}"
            t0 = time.monotonic()
            cname, where = beside(_BORROWERS[kind], pool, *([token] if kind == "with" else []))
            out.append(
                {
                    "conn": cname,
                    "where": where,
                    "kind": kind,
                    "token": token,
                    "t0": t0,
                    "t1": time.monotonic(),
                }
            )
            steps.append(f"{cname} borrowed at {where}")
            if len(out) == 1:
                time.sleep(hold)
                steps.append(f"sleep {hold} s")
        for older in (hold / 2, 0.0, hold + 0.5):
            steps.append(f"pool.leaks({older:g})")
            tb = time.monotonic()
            got = pool.leaks(older)
            _judge_leaks(got, out, older, tb, time.monotonic(), f"leaks({older:g})")
        for e in out:
            if e["kind"] == "with":
                beside(_end_with, pool, e["token"], "ok")
            else:
                pool.release(next(c for c in server.made if c.name == e["conn"]))
    except NotImplementedError:
        _not_implemented()
    except _Verdict as v:
        fail(v.category, v.what, seed=seed, schedule=steps, hint=v.hint, replay=replay)
    except Exception as exc:
        _raised("leaks() with ages", exc, seed, replay)
    finally:
        _drop_blocks()
    # The boundary: age exactly older_than is listed ("at least").
    try:
        edge = beside(_probe_leak_boundary, Pool)
    except NotImplementedError:
        _not_implemented()
    except Exception as exc:
        _raised("leaks() on a stopped clock", exc, seed, replay)
    if type(edge) is not list or len(edge) != 1:
        fail(
            "leak missed",
            "with time.monotonic() stopped, a connection borrowed 0 s ago and leaks(0.0) "
            f"gave {edge!r}: a connection lent for exactly older_than seconds is lent 'at least' "
            "that long",
            seed=seed,
            replay=replay,
            hint="compare with >=",
        )
    # The real server: a leaked connection from a with block that never ends.
    tag = _new_tag(rng, "leak")
    with _admin(dsn) as admin:
        pool = Pool(_pool_dsn(Pool, dsn, tag), 2, 0.3)
        try:
            cname, where = beside(_borrow_with, pool, "real")
            records = pool.leaks(0.0)
            if (
                type(records) is not list
                or len(records) != 1
                or type(records[0]) is not dict
                or records[0].get("where") != where
            ):
                fail(
                    "leak does not name the borrower",
                    f"one with block never ended (at {where}); leaks(0.0) gave {records!r}",
                    seed=seed,
                    replay=replay,
                )
            beside(_end_with, pool, "real", "ok")
        except CheckFailure:
            raise
        except Exception as exc:
            _raised("leaks() on the real server", exc, seed, replay)
        finally:
            _drop_blocks()
            _close_pool(pool)
            _kill_tag(admin, tag)
    passed("leaks() lists every connection still out and who borrowed it", len(ks) + 2, started)


# ---- diagnosis ------------------------------------------------------------------------------

CATEGORIES = ("running", "waiting for a lock", "idle", "idle in transaction")

# How the grader stages each category: (variant, what it runs). ``{t}`` is the case's table,
# ``{t2}`` a second table, ``{k}`` an advisory-lock key; ``hold:`` steps run before the session
# is left alone, ``bg:`` is the statement left running in a thread.
_IDLE = (
    ("autocommit select", True, ["select 1"]),
    ("autocommit update", True, ["update {t} set x = x + 1 where id = {r}"]),
    ("committed transaction", False, ["update {t} set x = x + 1 where id = {r}", "commit"]),
    ("rolled back sleep", False, ["select pg_sleep(0.01)", "rollback"]),
)
_IDLE_TX = (
    ("select in a transaction", False, ["select 1"]),
    ("sleep in a transaction", False, ["select pg_sleep(0.01)"]),
    ("aborted transaction", False, ["select 1", "select 1 / 0"]),
    ("update in a transaction", False, ["update {t} set x = x + 1 where id = {r}"]),
)
_RUNNING = (
    ("pg_sleep", True, ["bg:select pg_sleep(3)"]),
    ("sleep inside a transaction", False, ["select 1", "bg:select pg_sleep(3)"]),
    (
        "slow update",
        True,
        ["bg:update {t} set x = x + 1 where id = 6 and (select true from pg_sleep(3))"],
    ),
    ("do block", True, ["bg:do $$ begin perform pg_sleep(3); end $$"]),
)
# Lock holders: (lock, category of the holder, autocommit, steps)
_HOLDERS = {
    "row": ("idle in transaction", False, ["update {t} set x = x + 1 where id = 1"]),
    "table": ("idle in transaction", False, ["lock table {t2} in access exclusive mode"]),
    "advisory": ("idle", True, ["select pg_advisory_lock({k})"]),
    "advisory-xact": ("idle in transaction", False, ["select pg_advisory_xact_lock({k2})"]),
}
_WAITERS = {
    "row": (
        (True, ["bg:update {t} set x = x + 1 where id = 1"]),
        (False, ["select 1", "bg:select pg_sleep(0) from {t} where id = 1 for update"]),
    ),
    "table": (
        (True, ["bg:select count(*) from {t2}"]),
        (False, ["select 1", "bg:select * from {t2}"]),
    ),
    "advisory": ((True, ["bg:select pg_advisory_lock({k})"]),),
    "advisory-xact": ((False, ["select 1", "bg:select pg_advisory_xact_lock({k2})"]),),
}


def _diag_plan(
    rng: random.Random, k: int
) -> tuple[str, list[tuple[str, str | None, bool, list[str]]]]:
    """Case ``k``: a prefix and the sessions to stage, ``(suffix, category or None, autocommit,
    steps)``; a category None is a decoy whose name does not start with the prefix."""
    rng.getrandbits(24)
    token = secrets.token_hex(3)  # the prefix's shape is seeded, its letters unique per call
    prefix = rng.choice([f"gl04_{token}-", f"gl04{token}_x", f"gl04.{token}%"])
    if k == 0:
        cats = list(CATEGORIES) + ["idle in transaction"]
    elif k == 1:
        cats = ["waiting for a lock", "waiting for a lock", "running", "idle"]
    elif k == 2:
        cats = ["waiting for a lock", "waiting for a lock", "idle in transaction", "running"]
    else:
        cats = [rng.choice(CATEGORIES) for _ in range(rng.randint(3, 6))]
    sessions: list[tuple[str, str | None, bool, list[str]]] = []
    locks_needed: list[str] = []
    for cat in cats:
        if cat == "idle":
            _v, ac, steps = rng.choice(_IDLE)
        elif cat == "idle in transaction":
            aborted_yet = any(st == "select 1 / 0" for *_x, sts in sessions for st in sts)
            pick = _IDLE_TX[2] if k == 0 and not aborted_yet else rng.choice(_IDLE_TX)
            _v, ac, steps = pick
        elif cat == "running":
            _v, ac, steps = rng.choice(_RUNNING)
        else:
            # Scripted: case 1 waits on a table and an advisory lock, case 2 on a row and a
            # transaction-level advisory lock; later cases draw.
            fixed = {1: ["table", "advisory"], 2: ["row", "advisory-xact"]}.get(k, [])
            waits = sum(1 for _n, c, _a, _s in sessions if c == "waiting for a lock")
            lock = fixed[waits] if waits < len(fixed) else rng.choice(list(_WAITERS))
            locks_needed.append(lock)
            ac, steps = rng.choice(_WAITERS[lock])
        sessions.append(("", cat, ac, list(steps)))
    holders = []
    for lock in dict.fromkeys(locks_needed):
        cat, ac, steps = _HOLDERS[lock]
        in_prefix = rng.random() < 0.6
        holders.append(("", cat if in_prefix else None, ac, list(steps)))
    # Decoys: names a LIKE pattern (prefix + '%' unescaped) or a substring match would take.
    decoys = []
    for _ in range(rng.randint(1, 2)):
        _v, ac, steps = rng.choice(_IDLE_TX + _IDLE)
        decoys.append(("", None, ac, list(steps)))
    ordered = holders + sessions + decoys
    # Names: sessions get prefix + a number (one is exactly the prefix); decoys look alike.
    named = []
    nums = rng.sample(range(10, 99), len(ordered))
    exact_given = False
    for (_, cat, ac, steps), num in zip(ordered, nums, strict=True):
        if cat is not None:
            name = prefix if not exact_given and rng.random() < 0.25 else f"{prefix}{num}"
            exact_given = exact_given or name == prefix
        else:
            look = rng.choice(["like", "inside", "short"])
            if look == "like":
                name = prefix.replace("_", "X").replace(".", "Y").replace("%", "Z")
                name = (name if name != prefix else "X" + prefix[1:]) + str(num)
            elif look == "inside":
                name = f"x{prefix}{num}"
            else:
                name = f"{prefix[:-1]}{num}"
        named.append((name, cat, ac, steps))
    return prefix, named


def _settled(admin: Any, prefix: str, truth: dict[str, str]) -> dict[str, str]:
    rows = admin.execute(
        """select application_name,
                  case when state = 'active' and wait_event_type = 'Lock'
                       then 'waiting for a lock'
                       when state = 'active' then 'running'
                       when state like 'idle in transaction%%' then 'idle in transaction'
                       else state end
             from pg_stat_activity
            where left(application_name, length(%s)) = %s and backend_type = 'client backend'""",
        (prefix, prefix),
    ).fetchall()
    return dict(rows)


def check_diagnose_pg_stat_activity(
    diagnose: Callable[[Any, str], Any],
    *,
    dsn: str | None = None,
    seed: int = 0,
    cases: int = 6,
    case: int | None = None,
) -> None:
    """``diagnose(conn, prefix)`` tells, for each session named ``prefix...``, why it holds a connection.

    Rules: the result is a dict with exactly one entry per session whose application_name
    starts with ``prefix`` (literally: prefixes contain ``_``, ``.`` and ``%``, and look-alike
    sessions that a LIKE pattern or a substring match would take are staged too; one session
    may be named exactly ``prefix``), valued by the table of the exercise. Sessions vary so that
    no guess from the SQL text works: idle sessions whose last statement was an update or a
    sleep, transactions left open after a select, an update or a sleep, aborted transactions,
    queries running inside explicit transactions (``xact_start`` before ``query_start``), slow
    updates, and waits on row, table and advisory locks held by sessions inside or outside the
    prefix (an advisory lock can be held by an ``idle`` session).
    """
    import psycopg

    from .check import call, same_value

    started = time.perf_counter()
    name = "check_diagnose_pg_stat_activity"
    base = random.Random(seed)
    ks = range(cases) if case is None else [case]
    with _admin(dsn) as admin:
        base.getrandbits(32)
        suffix = secrets.token_hex(4)  # unique per call: graders may share the server
        table, table2 = f"gl04_diag_{suffix}", f"gl04_diag2_{suffix}"
        admin.execute(f"create table {table} (id int primary key, x int)")
        admin.execute(f"insert into {table} select g, 0 from generate_series(1, 40) g")
        admin.execute(f"create table {table2} (id int)")
        try:
            for k in ks:
                rng = random.Random(seed * 1_000_003 + k)
                replay = f"{name}(diagnose, dsn=DSN, seed={seed}, case={k})"
                prefix, named = _diag_plan(rng, k)
                key = secrets.randbits(40)  # advisory locks are shared by the whole server
                fill = {"t": table, "t2": table2, "k": key, "k2": key + 1}
                truth = {n: c for n, c, _ac, _s in named if c is not None}
                conns: list[Any] = []
                threads: list[threading.Thread] = []
                got: Any = None
                try:
                    for i, (sname, _cat, ac, steps) in enumerate(named):
                        fill["r"] = 10 + i  # a row of its own: staged sessions never block
                        conn = psycopg.connect(
                            _dsn_with_tag(dsn, "gl04-staging"),
                            application_name=sname,
                            autocommit=ac,
                            options="-c statement_timeout=4000",
                        )
                        conns.append(conn)
                        for st in steps:
                            sql = st.removeprefix("bg:").format(**fill)
                            if st.startswith("bg:"):

                                def go(c: Any = conn, q: str = sql) -> None:
                                    try:
                                        c.execute(q)
                                    except psycopg.Error:
                                        pass  # cancelled or terminated by the clean-up

                                th = threading.Thread(target=go, daemon=True)
                                th.start()
                                threads.append(th)
                            elif sql == "commit":
                                conn.commit()
                            elif sql == "rollback":
                                conn.rollback()
                            else:
                                try:
                                    conn.execute(sql)
                                except psycopg.errors.DivisionByZero:
                                    pass  # the transaction is now aborted, as staged
                    deadline = time.monotonic() + 2.0
                    seen = _settled(admin, prefix, truth)
                    while seen != truth and time.monotonic() < deadline:
                        time.sleep(0.01)
                        seen = _settled(admin, prefix, truth)
                    if seen != truth:
                        raise RuntimeError(
                            f"the grader's sessions did not settle within 2 s: {seen} vs {truth}"
                        )
                    with psycopg.connect(
                        _dsn_with_tag(dsn, f"gl04-diagnoser-{suffix}"), autocommit=True
                    ) as c:
                        got = call(
                            diagnose,
                            c,
                            prefix,
                            what=f"diagnose(conn, {prefix!r})",
                            seed=seed,
                            replay=replay,
                        )
                finally:
                    for sname, *_ in named:
                        _kill_tag(admin, sname)
                    for th in threads:
                        th.join(3.0)
                    for conn in conns:
                        conn.close()
                if not same_value(got, truth):
                    if type(got) is dict:
                        wrong = {
                            n: (
                                truth.get(n, "(not a session of the prefix)"),
                                got.get(n, "(missing)"),
                            )
                            for n in sorted(set(truth) | set(got), key=str)
                            if n not in truth or n not in got or not same_value(got[n], truth[n])
                        }
                    else:
                        wrong = got
                    fail(
                        "wrong diagnosis",
                        f"prefix {prefix!r}, sessions {sorted(truth)}: your diagnosis differs "
                        f"(name: (truth, yours)): {wrong}",
                        seed=seed,
                        expected=truth,
                        got=got,
                        replay=replay,
                        hint="state 'idle in transaction' (also '... (aborted)') holds locks and "
                        "a connection; 'idle' holds only the connection; 'active' with "
                        "wait_event_type 'Lock' is waiting for a lock, any other 'active' is "
                        "running; match the prefix literally (LIKE treats _ and % as wildcards)",
                    )
        finally:
            admin.execute(f"drop table if exists {table}")
            admin.execute(f"drop table if exists {table2}")
    passed("diagnose() reads pg_stat_activity right", len(ks), started)
