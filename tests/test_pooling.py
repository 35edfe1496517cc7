"""Chapter 04: the pool models are deterministic and sane; the graders accept a correct pool and
reject each classic mistake with the right category, in bounded time; probes, fakes and the
diagnosis plan behave as the graders assume."""

from __future__ import annotations

import contextlib
import random
import sys
import threading
import time

import psycopg
import pytest
from psycopg.pq import TransactionStatus

from gotchalab import pooling
from gotchalab.check import CheckFailure
from gotchalab.pooling import FakeServer, PoolTimeout, simulate_clients, simulate_sizing


class GoodPool:
    """A correct pool, used only to prove the graders (tests are not the library)."""

    def __init__(self, dsn, size, acquire_timeout, connect=psycopg.connect):
        self.dsn, self.size, self.acquire_timeout = dsn, size, acquire_timeout
        self._connect = connect
        self._cond = threading.Condition()
        self._idle: list = []
        self._opened = 0
        self._lent: dict = {}

    def _where(self) -> str:
        skip = {contextlib.__file__, __file__}
        f = sys._getframe(1)
        while f is not None and f.f_code.co_filename in skip:
            f = f.f_back
        return f"{f.f_code.co_filename}:{f.f_lineno} in {f.f_code.co_name}" if f else "?"

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
                self._opened += 1
                try:
                    conn = self._connect(self.dsn)
                except BaseException:
                    self._opened -= 1
                    raise
            self._lent[id(conn)] = (time.monotonic(), self._where())
            return conn

    def release(self, conn) -> None:
        with self._cond:
            del self._lent[id(conn)]
            try:
                if conn.closed:
                    self._opened -= 1
                else:
                    self._reset(conn)
                    self._idle.append(conn)
            except Exception:
                self._opened -= 1
                with contextlib.suppress(Exception):
                    conn.close()
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


class RollbackOnlyIntrans(GoodPool):
    def _reset(self, conn) -> None:
        if conn.info.transaction_status == TransactionStatus.INTRANS:
            conn.rollback()


class CommitsOnRelease(GoodPool):
    def _reset(self, conn) -> None:
        conn.commit()


class AutocommitOn(GoodPool):
    def _reset(self, conn) -> None:
        super()._reset(conn)
        conn.autocommit = True


class NoFinally(GoodPool):
    @contextlib.contextmanager
    def connection(self):
        conn = self.acquire()
        yield conn
        self.release(conn)


class ExceptionOnly(GoodPool):
    @contextlib.contextmanager
    def connection(self):
        conn = self.acquire()
        try:
            yield conn
        except Exception:
            self.release(conn)
            raise
        else:
            self.release(conn)


class Swallows(GoodPool):
    @contextlib.contextmanager
    def connection(self):
        conn = self.acquire()
        try:
            yield conn
        except Exception:
            pass
        finally:
            self.release(conn)


class ClosedKeepsPlace(GoodPool):
    def release(self, conn) -> None:
        with self._cond:
            del self._lent[id(conn)]
            if not conn.closed:
                self._reset(conn)
                self._idle.append(conn)
            self._cond.notify()


class RaisesOnBrokenRelease(GoodPool):
    def release(self, conn) -> None:
        with self._cond:
            del self._lent[id(conn)]
            if conn.closed:
                self._opened -= 1
            else:
                self._reset(conn)  # a failed rollback escapes
                self._idle.append(conn)
            self._cond.notify()


class EagerOpen(GoodPool):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._idle = [self._connect(self.dsn) for _ in range(self.size)]
        self._opened = self.size


class NoReuse(GoodPool):
    def _reset(self, conn) -> None:
        super()._reset(conn)
        conn.close()  # closed, yet put back: the next acquire must not lend it ...

    def acquire(self):
        with self._cond:  # ... so drop closed ones first, and connect anew
            closed = [c for c in self._idle if c.closed]
            self._idle = [c for c in self._idle if not c.closed]
            self._opened -= len(closed)
        return super().acquire()


class ConnectErrorHidden(GoodPool):
    def acquire(self):
        try:
            return super().acquire()
        except psycopg.OperationalError as exc:
            raise PoolTimeout(f"pool of {self.size}: could not connect") from exc


class CloseNothing(GoodPool):
    def close(self) -> None:
        pass


class CloseLentToo(GoodPool):
    def acquire(self):
        conn = super().acquire()
        self.__dict__.setdefault("_objs", {})[id(conn)] = conn
        return conn

    def close(self) -> None:
        super().close()
        for key in list(self._lent):
            self._objs[key].close()  # a borrower is mid-work on it


class RestartsDeadline(GoodPool):
    def acquire(self):
        with self._cond:
            while self._full():
                if not self._cond.wait(self.acquire_timeout) and self._full():
                    raise PoolTimeout(f"all {self.size} lent; waited {self.acquire_timeout} s")
        return super().acquire()


class GivesUpWhenWoken(GoodPool):
    def acquire(self):
        with self._cond:
            if self._full():
                self._cond.wait(self.acquire_timeout)
                if self._full():
                    raise PoolTimeout(f"all {self.size} lent; waited {self.acquire_timeout} s")
        return super().acquire()


class HandsOnBeforeRollback(GoodPool):
    def release(self, conn) -> None:
        with self._cond:
            del self._lent[id(conn)]
            self._idle.append(conn)
            self._cond.notify()
        self._reset(conn)  # too late: a waiter may already hold it


class ConnectsOutsideLock(GoodPool):
    def acquire(self):
        with self._cond:
            if self._idle:
                conn = self._idle.pop()
                self._lent[id(conn)] = (time.monotonic(), self._where())
                return conn
            full = self._opened >= self.size
        if full:
            return super().acquire()
        conn = self._connect(self.dsn)  # not reserved first: many threads get here at once
        with self._cond:
            self._opened += 1
            self._lent[id(conn)] = (time.monotonic(), self._where())
        return conn


class NamesContextlib(GoodPool):
    def _where(self) -> str:
        f = sys._getframe(3)  # acquire's caller: contextlib for `with pool.connection()`
        return f"{f.f_code.co_filename}:{f.f_lineno} in {f.f_code.co_name}"


class AgeInMs(GoodPool):
    def leaks(self, older_than):
        return [{"age": r["age"] * 1000, "where": r["where"]} for r in super().leaks(older_than)]


def sweep(pool_cls, cell, cases=300, seed=0, case=None):
    return pooling._model_sweep(pool_cls, cell=cell, seed=seed, cases=cases, case=case, check="x")


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


# ---- the fake connection behaves like psycopg where a pool can tell ------------------------


def test_fake_connection_statuses_failures_and_overlaps() -> None:
    server = FakeServer()
    conn = server.connect("dsn")
    assert conn.info.transaction_status is TransactionStatus.IDLE
    conn.execute("update t set x = 1")
    assert conn.info.transaction_status is TransactionStatus.INTRANS
    with pytest.raises(psycopg.ProgrammingError):
        conn.autocommit = True  # psycopg refuses inside a transaction
    with pytest.raises(psycopg.errors.DivisionByZero):
        conn.execute("select 1 / 0")
    assert conn.info.transaction_status is TransactionStatus.INERROR
    with pytest.raises(psycopg.errors.InFailedSqlTransaction):
        conn.execute("select 1")
    conn.execute("rollback")
    assert conn.info.transaction_status is TransactionStatus.IDLE and conn.rollbacks == 1
    conn.execute("select 1")
    conn.killed = True
    with pytest.raises(psycopg.OperationalError):
        conn.rollback()
    assert conn.closed and conn.broken and server.open == 0
    assert conn.info.transaction_status is TransactionStatus.UNKNOWN
    server.fail_next = 1
    with pytest.raises(psycopg.OperationalError, match="refused connection attempt #1"):
        server.connect("dsn")
    slow = FakeServer(rollback_delay=0.05)
    c = slow.connect("dsn")
    c.execute("select 1")
    t = threading.Thread(target=c.rollback)
    t.start()
    time.sleep(0.01)
    c.execute("select 1")
    t.join()
    assert slow.overlaps and "rollback" in slow.overlaps[0]


def test_timeout_message_names_size_exactly_and_the_wait_in_s_or_ms() -> None:
    ok = pooling._timeout_message_ok
    assert ok("all 3 lent; waited 0.25 s", 3, 0.25)
    assert ok("pool of 3 exhausted after 250 ms", 3, 0.25)
    assert ok("pool of 2 exhausted after 0 s", 2, 0.0)
    assert not ok("pool exhausted after 0.25 s", 3, 0.25)  # no size
    assert not ok("all 3 lent", 3, 0.25)  # no wait
    assert not ok("all 1 connections lent", 1, 0.0)  # '1' is the size, not 1 ms
    assert not ok("all 30 lent; waited 0.25 s", 3, 0.25)


# ---- graders: model sweeps (no server) ---------------------------------------------------


@pytest.mark.parametrize("cell", ["bounded", "timeout", "exception", "tx"])
def test_model_sweeps_accept_a_correct_pool(cell) -> None:
    assert sweep(GoodPool, cell) == 300


@pytest.mark.parametrize(
    ("pool_cls", "cell", "category"),
    [
        (Unbounded, "bounded", "pool grew past its size"),
        (EagerOpen, "bounded", "connections opened too early"),
        (NoReuse, "bounded", "opened a connection while one was idle"),
        (ClosedKeepsPlace, "bounded", "pool lost capacity"),
        (ConnectErrorHidden, "bounded", "connect() error changed"),
        (CloseNothing, "bounded", "close() left idle connections open"),
        (CloseLentToo, "bounded", "close() closed a lent connection"),
        (BlocksForever, "timeout", "blocked forever"),
        (NoFinally, "exception", "connection not returned"),
        (ExceptionOnly, "exception", "connection not returned"),
        (Swallows, "exception", "exception swallowed"),
        (NoRollback, "tx", "transaction left open on a returned connection"),
        (RollbackOnlyIntrans, "tx", "transaction left open on a returned connection"),
        (CommitsOnRelease, "tx", "pool committed a borrower's unfinished work"),
        (AutocommitOn, "tx", "pool changed the borrower's session"),
        (RaisesOnBrokenRelease, "tx", "release() failed on a broken connection"),
    ],
)
def test_model_sweeps_reject_classic_mistakes(pool_cls, cell, category) -> None:
    t0 = time.perf_counter()
    with pytest.raises(CheckFailure) as err:
        sweep(pool_cls, cell)
    assert err.value.category == category, err.value.report()
    assert err.value.seed == 0 and err.value.schedule, "a verdict names the seed and the steps"
    assert "case=" in err.value.replay, err.value.report()
    assert time.perf_counter() - t0 < 5, "a failing sweep must end in bounded time"


def test_the_other_cells_do_not_blame_their_methods_for_a_rollback_bug() -> None:
    for cell in ("bounded", "timeout", "exception"):
        assert sweep(NoRollback, cell) == 300, cell
        assert sweep(RollbackOnlyIntrans, cell) == 300, cell


def test_each_rule_has_a_scripted_case_that_fails_first() -> None:
    """The scripted cases come first: a mistake they target fails within them."""
    for pool_cls, cell in [
        (ClosedKeepsPlace, "bounded"),
        (EagerOpen, "bounded"),
        (ConnectErrorHidden, "bounded"),
        (CloseNothing, "bounded"),
        (ExceptionOnly, "exception"),
        (RollbackOnlyIntrans, "tx"),
        (AutocommitOn, "tx"),
        (RaisesOnBrokenRelease, "tx"),
    ]:
        n = len(pooling._SCRIPTED[cell])
        with pytest.raises(CheckFailure) as err:
            sweep(pool_cls, cell, cases=n)
        assert "case=" in err.value.replay


def test_verdict_is_deterministic_shrunk_and_replayable() -> None:
    with pytest.raises(CheckFailure) as a:
        sweep(NoRollback, "tx", seed=5)
    with pytest.raises(CheckFailure) as b:
        sweep(NoRollback, "tx", seed=5)
    assert a.value.report() == b.value.report()
    assert len(a.value.schedule) <= 5, a.value.report()  # shrunk to a handful of steps
    k = int(a.value.replay.split("case=")[1].split(")")[0])
    with pytest.raises(CheckFailure) as c:
        sweep(NoRollback, "tx", seed=5, case=k)
    assert c.value.category == a.value.category
    assert sweep(GoodPool, "tx", seed=5, case=k) == 1


def test_stub_is_reported_once_as_not_implemented() -> None:
    class Stub:
        def __init__(self, *a, **kw):
            raise NotImplementedError()

    for cell in ("bounded", "timeout", "exception", "tx"):
        with pytest.raises(CheckFailure, match="not implemented yet") as err:
            sweep(Stub, cell)
        assert err.value.seed is None and not err.value.schedule


# ---- probes: threads beside the pool (no server) --------------------------------------------


def test_lost_race_probe_tells_the_deadline_apart() -> None:
    good = pooling._probe_lost_race(GoodPool, 1, 0.25, 0.15)
    assert good["outcome"] == "timeout" and good["barged"], good
    assert 0.22 <= good["took"] <= 0.35, good
    restarted = pooling._probe_lost_race(RestartsDeadline, 1, 0.25, 0.15)
    assert restarted["took"] > 0.3, restarted  # (got the one released at 0.27, or timed out)
    early = pooling._probe_lost_race(GivesUpWhenWoken, 1, 0.25, 0.15)
    assert early["outcome"] == "timeout" and early["took"] < 0.2, early
    assert good["w2"]["outcome"] == "got" and not good["w2_alive"], good


class LostWakeUp(GoodPool):
    def acquire(self):
        deadline = time.monotonic() + self.acquire_timeout
        with self._cond:
            while self._full():
                left = deadline - time.monotonic()
                if left <= 0 or not self._cond.wait(left):
                    if self._idle and self._opened < self.size:  # should be `or`
                        break
                    raise PoolTimeout(f"all {self.size} lent; waited {self.acquire_timeout} s")
        return super().acquire()


def test_lost_race_probe_sees_a_lost_wake_up() -> None:
    bad = pooling._probe_lost_race(LostWakeUp, 1, 0.25, 0.15)
    assert bad["w2"].get("outcome") != "got", bad


def test_handoff_probe_sees_a_connection_mid_rollback() -> None:
    good = pooling._probe_handoff(GoodPool, 1, 0.05)
    assert good["outcome"] == "got" and good["status"] == "IDLE" and not good["busy"], good
    assert not good["overlaps"]
    bad = pooling._probe_handoff(HandsOnBeforeRollback, 1, 0.05)
    assert bad["busy"] == "rollback" or bad["status"] != "IDLE" or bad["overlaps"], bad


def test_stress_probe_sees_a_pool_that_connects_outside_its_lock() -> None:
    good = pooling._probe_stress(GoodPool, 2, 5, 30, 0)
    assert good["max_open"] <= 2 and not good["twice"] and not good["errors"], good
    bad = pooling._probe_stress(ConnectsOutsideLock, 2, 5, 30, 0)
    assert bad["max_open"] > 2, bad


def test_woken_probe_wants_a_prompt_wake_up_and_a_new_connection_after_a_closed_one() -> None:
    same = pooling._probe_woken(GoodPool, 2, 1.0, 0.05, False)
    assert same["outcome"] == "got" and same["after"] < 0.15 and same["conn"] == same["victim"]
    new = pooling._probe_woken(GoodPool, 2, 1.0, 0.05, True)
    assert new["outcome"] == "got" and new["conn"] != new["victim"] and new["made"] == 3


# ---- leak records --------------------------------------------------------------------------


def test_leak_records_are_judged_exactly() -> None:
    now = time.monotonic()
    out = [{"conn": "conn-1", "where": "f.py:3 in g", "t0": now - 1.0, "t1": now - 1.0}]
    judge = pooling._judge_leaks
    judge([{"age": 1.0, "where": "f.py:3 in g"}], out, 0.0, now, now, "leaks(0)")
    for bad, category in [
        ([{"age": 1000.0, "where": "f.py:3 in g"}], "wrong age"),
        ([{"age": 1, "where": "f.py:3 in g"}], "bad leak record"),
        ([{"age": 1.0, "where": "f.py:3"}], "leak does not name the borrower"),
        ([{"age": 1.0, "where": "f.py:3 in g", "conn": "x"}], "bad leak record"),
        ([], "leak missed"),
        ((), "wrong result type"),
    ]:
        with pytest.raises(pooling._Verdict) as v:
            judge(bad, out, 0.0, now, now, "leaks(0)")
        assert v.value.category == category, (bad, v.value.what)
    judge([], out, 2.0, now, now, "leaks(2)")  # older_than filters


def test_leak_grader_model_rejects_wrong_sites_and_units() -> None:
    pooling.check_pool_leak_detection  # noqa: B018 - the public entry point exists
    for pool_cls, category in [
        (NamesContextlib, "leak does not name the borrower"),
        (AgeInMs, "wrong age"),
    ]:
        progress = {"tick": 0}

        def tick(progress=progress) -> None:
            progress["tick"] += 1

        with pytest.raises(pooling._Verdict) as v:
            for k in range(200):
                pooling._leak_case(pool_cls, 0, k, [], tick)
        assert v.value.category == category, v.value.what
    for k in range(200):
        pooling._leak_case(GoodPool, 0, k, [], lambda: None)


# ---- the diagnosis plan ------------------------------------------------------------------


def test_diagnosis_plan_varies_and_stages_look_alikes() -> None:
    prefixes, sqls = set(), set()
    for k in range(40):
        prefix, named = pooling._diag_plan(random.Random(k), k)
        prefixes.add(prefix[:5])
        truth = {n: c for n, c, _a, _s in named if c is not None}
        decoys = [n for n, c, _a, _s in named if c is None]
        assert all(n.startswith(prefix) for n in truth)
        assert decoys and not any(n.startswith(prefix) for n in decoys)
        assert set(truth.values()) <= set(pooling.CATEGORIES)
        if k == 0:
            assert set(truth.values()) == set(pooling.CATEGORIES)
            assert any("select 1 / 0" in s for _n, _c, _a, st in named for s in st)
        for _n, c, _a, st in named:
            if c == "running":
                sqls.add(st[-1])
    assert {"gl04_", "gl04."} <= prefixes  # LIKE wildcards in prefixes
    assert len(sqls) >= 3  # running sessions run different SQL


# ---- graders on the real server ----------------------------------------------------------


@pytest.mark.services
def test_real_graders_accept_a_correct_pool(capsys) -> None:
    pooling.check_pool_bounded_size(GoodPool, seed=1, cases=200)
    pooling.check_pool_acquire_timeout(GoodPool, seed=1, cases=200)
    pooling.check_pool_returns_on_exception(GoodPool, seed=1, cases=200)
    pooling.check_pool_no_idle_in_transaction_leak(GoodPool, seed=1, cases=200)
    pooling.check_pool_leak_detection(GoodPool, seed=1, cases=200)
    out = capsys.readouterr().out
    assert out.count("no failure") == 5, out


@pytest.mark.services
def test_real_graders_reject_timing_and_handoff_mistakes() -> None:
    with pytest.raises(CheckFailure) as err:
        pooling.check_pool_acquire_timeout(RestartsDeadline, seed=0, cases=50)
    assert err.value.category == "waited past the deadline", err.value.report()
    with pytest.raises(CheckFailure) as err:
        pooling.check_pool_no_idle_in_transaction_leak(HandsOnBeforeRollback, seed=0, cases=1)
    assert err.value.category == "connection handed over before its rollback finished"
    with pytest.raises(CheckFailure) as err:
        pooling.check_pool_leak_detection(NamesContextlib, seed=0, cases=300)
    assert err.value.category == "leak does not name the borrower"


def _diagnose_right(conn, prefix):
    rows = conn.execute(
        "select application_name, state, wait_event_type from pg_stat_activity "
        "where starts_with(application_name, %s)",
        (prefix,),
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


def _diagnose_like(conn, prefix):
    rows = conn.execute(
        "select application_name, state, wait_event_type from pg_stat_activity "
        "where application_name like %s",
        (prefix + "%",),
    ).fetchall()
    out = {}
    for name, state, wait in rows:
        if state == "active":
            out[name] = "waiting for a lock" if wait == "Lock" else "running"
        else:
            out[name] = "idle in transaction" if state.startswith("idle in") else state
    return out


def _diagnose_idle_is_idle(conn, prefix):
    got = _diagnose_right(conn, prefix)
    return {k: ("idle" if v.startswith("idle") else v) for k, v in got.items()}


@pytest.mark.services
def test_diagnosis_grader_uses_the_live_server() -> None:
    pooling.check_diagnose_pg_stat_activity(_diagnose_right, seed=2, cases=3)
    for wrong in (_diagnose_idle_is_idle, _diagnose_like):
        with pytest.raises(CheckFailure) as err:
            pooling.check_diagnose_pg_stat_activity(wrong, seed=2, cases=6)
        assert err.value.category == "wrong diagnosis"
