"""Chapter 09 on a real PostgreSQL: the data loader, the demo tools, and the three graders.

Each grader must accept a correct implementation written here and reject the classic wrong ones,
for the reason it names; and it must leave no backend of its own running behind it.
"""

from __future__ import annotations

import re
import time

import psycopg
import pytest

from gotchalab import slowquery as sq
from gotchalab.check import CheckFailure
from gotchalab.services import postgres

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def pg():
    with postgres() as server:
        sq.load_shop(server)
        yield server


def _grader_leftovers(pg) -> list[tuple]:
    """Client backends still busy (not idle), other than the one asking, after up to 2 s.

    A closed connection's backend exits asynchronously, so it may show for a moment.
    """
    deadline = time.monotonic() + 2.0
    while True:
        rows = pg.query(
            "SELECT pid, application_name, state, query FROM pg_stat_activity "
            "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND state <> 'idle'"
        )
        if not rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


# -- the data set -----------------------------------------------------------------------------


def _fingerprint(pg, db: str, seed: int) -> str:
    with psycopg.connect(pg.dsn.rsplit("/", 1)[0] + f"/{db}", autocommit=True) as conn:
        sq.load_shop(conn, seed=seed, orders=3000, customers=300)
        return conn.execute(
            "SELECT md5(string_agg(o::text, ',' ORDER BY id)) FROM orders o"
        ).fetchone()[0]


def test_load_shop_is_seeded(pg):
    for db in ("seed_a", "seed_b", "seed_c"):
        pg.query(f"DROP DATABASE IF EXISTS {db}")
        pg.query(f"CREATE DATABASE {db}")
    assert _fingerprint(pg, "seed_a", 5) == _fingerprint(pg, "seed_b", 5)
    assert _fingerprint(pg, "seed_a", 5) != _fingerprint(pg, "seed_c", 6)


def test_load_shop_is_idempotent_and_drops_lesson_indexes(pg):
    pg.query("CREATE INDEX IF NOT EXISTS leftover_idx ON orders (customer_id)")
    again = sq.load_shop(pg)
    assert again["loaded"] is False
    names = {r[0] for r in pg.query("SELECT indexname FROM pg_indexes WHERE tablename='orders'")}
    assert names == {"orders_pkey"}, names
    counts = pg.query("SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM customers)")
    assert counts == [(sq.SHOP_ORDERS, sq.SHOP_CUSTOMERS)]


def test_load_shop_rejects_tiny_sizes(pg):
    with pytest.raises(ValueError, match="orders >= 1000"):
        sq.load_shop(pg, orders=10)


def test_slow_lookup_is_a_seq_scan_until_indexed(pg):
    with pg.connect(autocommit=True) as conn:
        conn.execute("SET max_parallel_workers_per_gather = 0")
        _, before = sq.explain(conn, sq.SLOW_LOOKUP, (42,))
        assert before["scans"] == [("Seq Scan", "orders", None)]
        assert before["rows_removed"] + before["rows"] == sq.SHOP_ORDERS
        conn.execute("CREATE INDEX tmp_cust_idx ON orders (customer_id)")
        try:
            _, after = sq.explain(conn, sq.SLOW_LOOKUP, (42,))
        finally:
            conn.execute("DROP INDEX tmp_cust_idx")
    assert any(s[2] == "tmp_cust_idx" for s in after["scans"]), after["scans"]
    assert after["rows"] == before["rows"]
    assert after["buffers"] * 20 < before["buffers"]


# -- demo tools -------------------------------------------------------------------------------


def test_stop_backend_cancel_keeps_the_connection_terminate_does_not(pg):
    cancel = sq.stop_backend(pg, "cancel", after_s=0.1)
    term = sq.stop_backend(pg, "terminate", after_s=0.1)
    assert (cancel["error"], cancel["sqlstate"]) == ("QueryCanceled", "57014")
    assert cancel["connection_after"] == "still usable"
    assert (term["error"], term["sqlstate"]) == ("AdminShutdown", "57P01")
    assert term["connection_after"].startswith("broken")
    with pytest.raises(ValueError, match="how must be one of"):
        sq.stop_backend(pg, "kill")


def test_run_load_arrivals_are_seeded(pg):
    a = sq.run_load(pg, seed=3, seconds=0.4, api_rate=100, slow_rate=10, slow_from=0.1)
    b = sq.run_load(pg, seed=3, seconds=0.4, api_rate=100, slow_rate=10, slow_from=0.1)
    c = sq.run_load(pg, seed=4, seconds=0.4, api_rate=100, slow_rate=10, slow_from=0.1)
    plan = [(r[0], r[1]) for r in a.requests]
    assert plan == [(r[0], r[1]) for r in b.requests]
    assert plan != [(r[0], r[1]) for r in c.requests]
    assert {r[1] for r in a.requests} == {"api", "slow page"}
    assert all(r[4] == "ok" for r in a.requests), a.frame().outcome.value_counts()
    assert all(r[0] >= 0.1 for r in a.requests if r[1] == "slow page")


def test_run_load_snapshot_sees_the_slow_page(pg):
    # 300 slow lookups a second need several times what 4 connections can serve, so at the
    # snapshot the pool is saturated whatever the machine's speed (80/s was near 1.0 utilisation
    # and could catch all four sessions between queries).
    run = sq.run_load(
        pg,
        seed=1,
        seconds=1.0,
        slow_rate=300,
        slow_from=0.1,
        events=((0.7, "activity", sq.activity),),
    )
    snap = run.snapshots["activity"]
    mine = snap[snap.application_name.str.startswith("shop-app-")]
    assert len(mine) == 4
    assert (mine.state == "active").sum() >= 1, mine


# -- grader 1: find the runaway ---------------------------------------------------------------


def good_find(conn):
    return conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() "
        "AND backend_type = 'client backend' ORDER BY query_start LIMIT 1"
    ).fetchone()[0]


def idle_longest(conn):
    return conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
        "AND backend_type = 'client backend' ORDER BY query_start LIMIT 1"
    ).fetchone()[0]


def own_backend(conn):
    return conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE state = 'active' ORDER BY xact_start LIMIT 1"
    ).fetchone()[0]


def newest_active(conn):
    return conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() "
        "AND backend_type = 'client backend' ORDER BY query_start DESC LIMIT 1"
    ).fetchone()[0]


def as_text(conn):
    return str(good_find(conn))


def test_find_runaway_accepts_a_correct_query(pg, capsys):
    sq.check_find_runaway(good_find, pg, seed=0, cases=25)
    assert "25 cases, no failure" in capsys.readouterr().out
    assert _grader_leftovers(pg) == []


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (idle_longest, r"returned \d+ \((an|the) idle"),
        (own_backend, r"returned \d+ \(your own session\)"),
        (as_text, r"returned '\d+' \(a str, not an int\)"),
    ],
)
def test_find_runaway_rejects(pg, wrong, says):
    with pytest.raises(CheckFailure) as err:
        sq.check_find_runaway(wrong, pg, seed=0, cases=25)
    assert err.value.category == "wrong backend"
    assert re.search(says, str(err.value)), str(err.value)
    assert _grader_leftovers(pg) == []


def test_find_runaway_rejects_the_newest_query_when_quick_queries_run(pg):
    # Some situations have no quick query; across 25 some do, and there the newest is wrong.
    with pytest.raises(CheckFailure, match="a quick active query"):
        sq.check_find_runaway(newest_active, pg, seed=0, cases=25)


def test_find_runaway_reports_a_learner_exception(pg):
    def broken(conn):
        raise NotImplementedError

    with pytest.raises(CheckFailure) as err:
        sq.check_find_runaway(broken, pg, seed=0, cases=3)
    assert err.value.category == "not implemented yet"
    assert _grader_leftovers(pg) == []


# -- grader 2: the index ----------------------------------------------------------------------


def _cols(q, *, range_first=False, bare=False):
    eq = [c.removeprefix("lower(").removesuffix(")") if bare else c for c in q.equal]
    eq = [f"({c})" if "(" in c else c for c in eq]
    rng = [q.range] if q.range else []
    return ", ".join(rng + eq if range_first else eq + rng)


def good_index(q):
    where = f" WHERE {q.fixed}" if q.fixed else ""
    return f"CREATE INDEX ON {q.table} ({_cols(q)}){where}"


def test_index_for_accepts_the_right_indexes(pg, capsys):
    sq.check_index_for(good_index, pg, seed=0, cases=16)
    assert "16 cases, no failure" in capsys.readouterr().out
    names = {r[0] for r in pg.query("SELECT indexname FROM pg_indexes WHERE tablename='ex_orders'")}
    assert names == {"ex_orders_pkey"}, "the grader must roll back every index it built"


@pytest.mark.parametrize(
    ("kind", "wrong", "says"),
    [
        (
            "composite",
            lambda q: f"CREATE INDEX ON {q.table} ({_cols(q, range_first=True)})",
            "reads",
        ),
        (
            "expression",
            lambda q: f"CREATE INDEX ON {q.table} ({_cols(q, bare=True)})",
            "does not use your index",
        ),
        ("partial", lambda q: f"CREATE INDEX ON {q.table} (status, {_cols(q)})", "partial index"),
        ("equality", lambda q: f"CREATE INDEX ON {q.table} (store_id)", "does not use your index"),
        (
            "equality",
            lambda q: "CREATE INDEX CONCURRENTLY ON ex_orders (customer_id)",
            "CONCURRENTLY",
        ),
        ("equality", lambda q: "DROP TABLE ex_orders", "expected a string 'CREATE INDEX"),
        (
            "equality",
            lambda q: "CREATE INDEX ON ex_orders (customer_id); DROP TABLE ex_orders",
            "several statements",
        ),
        ("equality", lambda q: "CREATE INDEX ON ex_orders (no_such_column)", "rejected"),
    ],
)
def test_index_for_rejects(pg, kind, wrong, says):
    with pytest.raises(CheckFailure) as err:
        sq.check_index_for(wrong, pg, kinds=(kind,), seed=0, cases=6)
    assert err.value.category == "index does not fix the plan"
    assert says in str(err.value)
    assert pg.query("SELECT count(*) FROM ex_orders") == [(sq.EX_ROWS,)]


def test_slow_query_kinds_are_seeded_and_checked():
    import random

    a = sq._slow_query("composite", random.Random(5))
    assert a == sq._slow_query("composite", random.Random(5))
    assert a.equal == ("customer_id",) and a.range in ("created_at", "amount")
    with pytest.raises(ValueError, match="unknown query kind"):
        sq._slow_query("nonsense", random.Random(0))


# -- grader 3: the timeout --------------------------------------------------------------------


def good_timeout(conn):
    conn.execute("SET statement_timeout = '250ms'")
    conn.commit()


def too_high(conn):
    conn.execute("SET statement_timeout = '5s'")
    conn.commit()


def too_low(conn):
    conn.execute("SET statement_timeout = '40ms'")
    conn.commit()


def set_local(conn):
    with conn.transaction():
        conn.execute("SET LOCAL statement_timeout = '250ms'")


def not_committed(conn):
    conn.execute("SET statement_timeout = '250ms'")


def test_timeout_accepts_a_committed_session_setting(pg, capsys):
    sq.check_timeout(good_timeout, pg, seed=0, cases=2)
    assert "2 cases, no failure" in capsys.readouterr().out
    assert _grader_leftovers(pg) == []


@pytest.mark.parametrize(
    ("wrong", "category", "says"),
    [
        (too_high, "runaway not stopped", "watchdog cancelled it"),
        (too_low, "normal workload broken", "statement timeout"),
        (set_local, "runaway not stopped", "the setting is gone"),
        (not_committed, "runaway not stopped", "the setting is gone"),
    ],
)
def test_timeout_rejects(pg, wrong, category, says):
    with pytest.raises(CheckFailure) as err:
        sq.check_timeout(wrong, pg, seed=0, cases=2)
    assert err.value.category == category
    assert says in str(err.value)
    assert _grader_leftovers(pg) == []
