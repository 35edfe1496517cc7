"""Chapter 04: the pool models are deterministic and sane; the graders accept a correct pool and
reject each classic mistake with the right category, in bounded time."""

from __future__ import annotations

import contextlib
import sys
import threading
import time

import psycopg
import pytest
from psycopg.pq import TransactionStatus

from gotchalab import pooling
from gotchalab.check import CheckFailure
from gotchalab.pooling import PoolTimeout, simulate_clients, simulate_sizing


class GoodPool:
    """A correct pool, used only to prove the graders (tests are not the library)."""

    def __init__(self, dsn, size, acquire_timeout, connect=psycopg.connect):
        self.dsn, self.size, self.acquire_timeout, self._connect = (
            dsn,
            size,
            acquire_timeout,
            connect,
        )
        self._cond = threading.Condition()
        self._idle: list = []
        self._opened = 0
        self._lent: dict = {}

    def _where(self) -> str:
        skip = {contextlib.__file__, __file__}
        f = sys._getframe(1)
        while f is not None and f.f_code.co_filename in skip:
            f = f.f_back
        return f"{f.f_code.co_filename}:{f.f_lineno}" if f else "?"

    def _full(self) -> bool:
        return not self._idle and self._opened >= self.size

    def acquire(self):
        deadline = time.monotonic() + self.acquire_timeout
        with self._cond:
            while self._full():
                left = deadline - time.monotonic()
                if left <= 0 or (not self._cond.wait(left) and self._full()):
                    raise PoolTimeout(f"all {self.size} lent; waited {self.acquire_timeout} s")
            if self._idle:
                conn = self._idle.pop()
            else:
                conn = self._connect(self.dsn)
                self._opened += 1
            self._lent[id(conn)] = (time.monotonic(), self._where())
            return conn

    def release(self, conn) -> None:
        with self._cond:
            del self._lent[id(conn)]
            self._reset(conn)
            self._idle.append(conn)
            self._cond.notify()

    def _reset(self, conn) -> None:
        if conn.info.transaction_status != TransactionStatus.IDLE:
            conn.rollback()

    @contextlib.contextmanager
    def connection(self):
        conn = self.acquire()
        try:
            yield conn
        finally:
            self.release(conn)

    def leaks(self, older_than):
        now = time.monotonic()
        return [
            {"age": now - t, "where": w} for t, w in self._lent.values() if now - t >= older_than
        ]

    def close(self) -> None:
        with self._cond:
            for c in self._idle:
                c.close()
            self._opened -= len(self._idle)
            self._idle.clear()


class Unbounded(GoodPool):
    def _full(self) -> bool:
        return False


class BlocksForever(GoodPool):
    def acquire(self):
        with self._cond:
            while self._full():
                self._cond.wait()
        return super().acquire()


class NoRollback(GoodPool):
    def _reset(self, conn) -> None:
        pass


class CommitsOnRelease(GoodPool):
    def _reset(self, conn) -> None:
        conn.commit()


class NoFinally(GoodPool):
    @contextlib.contextmanager
    def connection(self):
        conn = self.acquire()
        yield conn
        self.release(conn)


class NamesContextlib(GoodPool):
    def _where(self) -> str:
        f = sys._getframe(3)  # acquire's caller: contextlib for `with pool.connection()`
        return f"{f.f_code.co_filename}:{f.f_lineno}"


def sweep(pool_cls, checks, alphabet, cases=300, seed=0):
    weights = [1.0] * len(alphabet)
    return pooling._model_sweep(
        pool_cls, seed=seed, cases=cases, alphabet=alphabet, weights=weights, checks=checks
    )


G, P, TX, W, WT, R = (
    pooling._GET,
    pooling._PUT,
    pooling._TX,
    pooling._WITH_OK,
    pooling._WITH_TX,
    pooling._WITH_RAISE,
)


# ---- models ------------------------------------------------------------------------------


def test_sizing_model_is_deterministic_and_u_shaped() -> None:
    a = simulate_sizing(8, seed=3, duration_s=2.0)
    assert a == simulate_sizing(8, seed=3, duration_s=2.0)
    assert a != simulate_sizing(8, seed=4, duration_s=2.0)
    runs = {n: simulate_sizing(n, seed=7) for n in (1, 4, 48)}
    for r in runs.values():
        assert r["throughput_per_s"] <= 700, r  # never serves more than arrives (600/s offered)
        assert 0.0 <= r["timeout_share"] <= 1.0
    assert runs[4]["p99_ms"] < runs[1]["p99_ms"] / 10
    assert runs[4]["p99_ms"] < runs[48]["p99_ms"] / 10
    assert runs[48]["throughput_per_s"] < runs[4]["throughput_per_s"] * 0.9
    with pytest.raises(ValueError, match="pool_size must be >= 1, got 0"):
        simulate_sizing(0, seed=1)


def test_client_model_never_lends_one_connection_twice() -> None:
    for seed in range(50):
        trace = simulate_clients(seed=seed, pool_size=2, clients=5, acquire_timeout=0.1)
        assert trace == simulate_clients(seed=seed, pool_size=2, clients=5, acquire_timeout=0.1)
        holder: dict[str, str] = {}
        for e in trace:
            conn = e.detail.get("conn")
            if e.event == "acquire":
                assert conn not in holder, f"seed {seed}: {conn} lent twice at t={e.time}"
                holder[conn] = e.node
            elif e.event == "release":
                assert holder.pop(conn) == e.node
        assert holder.get("conn-1") == "client-1"  # the leaked connection never comes back


# ---- graders: model sweeps (no server) ---------------------------------------------------


def test_model_sweeps_accept_a_correct_pool() -> None:
    assert sweep(GoodPool, {"bounded"}, [G, P]) == 300
    assert sweep(GoodPool, {"timeout"}, [G, P]) == 300
    assert sweep(GoodPool, {"exception"}, [R, W, G, P]) == 300
    assert sweep(GoodPool, {"tx"}, [G, TX, P, WT, R, W]) == 300


@pytest.mark.parametrize(
    ("pool_cls", "checks", "alphabet", "category"),
    [
        (Unbounded, {"bounded"}, [G, P], "pool grew past its size"),
        (NoRollback, {"tx"}, [G, TX, P, WT], "open transaction leaked to the next borrower"),
        (CommitsOnRelease, {"tx"}, [G, TX, P, WT], "pool committed a borrower's unfinished work"),
        (NoFinally, {"exception"}, [R, W, G, P], "connection not returned"),
        (BlocksForever, {"timeout"}, [G, P], "blocked forever"),
    ],
)
def test_model_sweeps_reject_classic_mistakes(pool_cls, checks, alphabet, category) -> None:
    t0 = time.perf_counter()
    with pytest.raises(CheckFailure) as err:
        sweep(pool_cls, checks, alphabet)
    assert err.value.category == category, err.value.report()
    assert err.value.seed is not None and err.value.schedule, "a verdict names seed and steps"
    assert time.perf_counter() - t0 < 5, "a failing sweep must end in bounded time"


def test_verdict_is_deterministic_and_shrunk() -> None:
    with pytest.raises(CheckFailure) as a:
        sweep(NoRollback, {"tx"}, [G, TX, P, WT], seed=5)
    with pytest.raises(CheckFailure) as b:
        sweep(NoRollback, {"tx"}, [G, TX, P, WT], seed=5)
    assert a.value.report() == b.value.report()
    assert len(a.value.schedule) <= 5, a.value.report()  # shrunk to a handful of steps


def test_stub_is_reported_as_not_implemented() -> None:
    class Stub:
        def __init__(self, *a, **kw):
            raise NotImplementedError()

    with pytest.raises(CheckFailure, match="not implemented yet"):
        sweep(Stub, {"bounded"}, [G, P])


# ---- graders on the real server ----------------------------------------------------------


@pytest.mark.services
def test_real_graders_accept_a_correct_pool(capsys) -> None:
    pooling.check_pool_bounded_size(GoodPool, seed=1, cases=200, real_cases=1)
    pooling.check_pool_acquire_timeout(GoodPool, seed=1, cases=200)
    pooling.check_pool_returns_on_exception(GoodPool, seed=1, cases=200)
    pooling.check_pool_no_idle_in_transaction_leak(GoodPool, seed=1, cases=200)
    pooling.check_pool_leak_detection(GoodPool, seed=1, cases=200)
    out = capsys.readouterr().out
    assert out.count("no failure") == 5, out


@pytest.mark.services
def test_leak_grader_rejects_a_report_naming_contextlib() -> None:
    with pytest.raises(CheckFailure) as err:
        pooling.check_pool_leak_detection(NamesContextlib, seed=0, cases=300)
    assert err.value.category == "leak does not name the borrower"


def _diagnose_right(conn, prefix):
    rows = conn.execute(
        "select application_name, state, wait_event_type from pg_stat_activity "
        "where application_name like %s",
        (prefix + "%",),
    ).fetchall()
    out = {}
    for name, state, wait in rows:
        if state == "active":
            out[name] = "waiting for a lock" if wait == "Lock" else "running"
        elif state.startswith("idle in transaction"):
            out[name] = "idle in transaction"
        else:
            out[name] = state
    return out


def _diagnose_idle_is_idle(conn, prefix):
    got = _diagnose_right(conn, prefix)
    return {k: ("idle" if v.startswith("idle") else v) for k, v in got.items()}


@pytest.mark.services
def test_diagnosis_grader_uses_the_live_server() -> None:
    pooling.check_diagnose_pg_stat_activity(_diagnose_right, seed=2, cases=3)
    with pytest.raises(CheckFailure) as err:
        pooling.check_diagnose_pg_stat_activity(_diagnose_idle_is_idle, seed=2, cases=6)
    assert err.value.category == "wrong diagnosis"
