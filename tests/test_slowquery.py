"""Chapter 09 on a real PostgreSQL: the data loader, the demo tools, and the three graders.

Each grader must accept a correct implementation written here and reject the classic wrong ones,
for the reason it names; and it must leave no backend of its own running behind it.
"""

from __future__ import annotations

import contextlib
import re
import time

import psycopg
import pytest

from gotchalab import slowquery as sq
from gotchalab.check import CheckFailure
from gotchalab.services import postgres

pytestmark = [pytest.mark.services, pytest.mark.xdist_group("slowquery")]


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


def test_ex_orders_columns_hold_what_the_index_exercise_needs(pg):
    # email and customer_id come from the same draw (the subquery is not flattened), and the rare
    # predicates hold 1-2 % of the rows each.
    row = pg.query(
        "SELECT count(*), count(*) FILTER (WHERE email <> 'User' || customer_id || '@Example.com'),"
        " avg((status = 'pending')::int), avg((status = 'refunded')::int), avg(flagged::int),"
        " count(DISTINCT store_id), count(DISTINCT courier_id) FROM ex_orders"
    )[0]
    assert row[:2] == (sq.EX_ROWS, 0)
    assert all(0.005 < float(share) < 0.03 for share in row[2:5]), row
    assert row[5:] == (sq.EX_STORES, sq.EX_COURIERS)


# -- grader 1: find the runaway ---------------------------------------------------------------


def _first(sql):
    def find(conn):
        row = conn.execute(sql).fetchone()
        return None if row is None else row[0]

    return find


_ACTIVE = "state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
good_find = _first(f"SELECT pid FROM pg_stat_activity WHERE {_ACTIVE} ORDER BY query_start LIMIT 1")


def _walsender_allowed(pg) -> bool:
    conn = sq._open_walsender(pg)
    if conn is None:
        return False
    conn.close()
    return True


def test_find_runaway_accepts_correct_queries(pg, capsys):
    sq.check_find_runaway(good_find, pg, seed=0, cases=25)
    assert "25 cases, no failure" in capsys.readouterr().out
    # clock_timestamp() - query_start orders the same way; now() is the caller's transaction start
    by_age = _first(
        f"SELECT pid FROM pg_stat_activity WHERE {_ACTIVE} "
        "ORDER BY now() - query_start DESC LIMIT 1"
    )
    sq.check_find_runaway(by_age, pg, seed=4, cases=12)
    assert _grader_leftovers(pg) == []


_WRONG_FIND = {
    "no state filter": (
        "SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
        "AND backend_type = 'client backend' ORDER BY query_start LIMIT 1",
        r"\(an idle session",
    ),
    "state <> idle": (
        "SELECT pid FROM pg_stat_activity WHERE state <> 'idle' AND pid <> pg_backend_pid() "
        "AND backend_type = 'client backend' ORDER BY query_start LIMIT 1",
        r"idle in (an aborted )?transaction",
    ),
    "xact_start": (
        f"SELECT pid FROM pg_stat_activity WHERE {_ACTIVE} ORDER BY xact_start LIMIT 1",
        r"in a transaction begun before it",
    ),
    "backend_start": (
        f"SELECT pid FROM pg_stat_activity WHERE {_ACTIVE} ORDER BY backend_start LIMIT 1",
        r"an active query that started after the runaway",
    ),
    "newest": (
        f"SELECT pid FROM pg_stat_activity WHERE {_ACTIVE} ORDER BY query_start DESC LIMIT 1",
        r"an active query that started after the runaway",
    ),
    "skips queries that read pg_stat_activity": (
        "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND backend_type = "
        "'client backend' AND query NOT ILIKE '%pg_stat_activity%' ORDER BY query_start LIMIT 1",
        r"an active query that started after the runaway",
    ),
    "skips lock waits": (
        f"SELECT pid FROM pg_stat_activity WHERE {_ACTIVE} AND wait_event_type IS DISTINCT "
        "FROM 'Lock' ORDER BY query_start LIMIT 1",
        r"returned (None|\d+)",
    ),
    "own backend": (
        "SELECT pid FROM pg_stat_activity WHERE state = 'active' ORDER BY xact_start LIMIT 1",
        r"\(your own session\)",
    ),
}


@pytest.mark.parametrize("name", sorted(_WRONG_FIND))
def test_find_runaway_rejects(pg, name):
    sql, says = _WRONG_FIND[name]
    with pytest.raises(CheckFailure) as err:
        sq.check_find_runaway(_first(sql), pg, seed=0, cases=len(sq._SCRIPTED))
    assert err.value.category == "wrong backend"
    assert re.search(says, str(err.value)), str(err.value)
    assert "replay it: sq.check_find_runaway(find_runaway, pg, seed=0, cases=" in str(err.value)
    assert _grader_leftovers(pg) == []


def test_find_runaway_rejects_background_processes(pg):
    if not _walsender_allowed(pg):
        pytest.skip("this server allows no replication connection (no WAL sender to stage)")
    wrong = _first(
        "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() "
        "AND leader_pid IS NULL ORDER BY query_start LIMIT 1"
    )
    with pytest.raises(CheckFailure, match=r"a WAL sender \(backend_type 'walsender'"):
        sq.check_find_runaway(wrong, pg, seed=0, cases=3)


def test_find_runaway_rejects_a_str(pg):
    with pytest.raises(CheckFailure, match=r"returned '\d+' \(a str, not an int\)"):
        sq.check_find_runaway(lambda conn: str(good_find(conn)), pg, seed=0, cases=2)


def _commits(conn):
    pid = good_find(conn)
    conn.commit()
    return pid


def _rolls_back_first(conn):
    conn.rollback()  # "for a fresh pg_stat_activity snapshot"
    return good_find(conn)


def _cancels_it(conn):
    pid = good_find(conn)
    conn.execute("SELECT pg_cancel_backend(%s)", (pid,))
    return pid


def _closes(conn):
    pid = good_find(conn)
    conn.close()
    return pid


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (_commits, "transaction is no longer open"),
        (_rolls_back_first, "uncommitted row is gone"),
        (_cancels_it, "must only find the runaway, not stop it"),
        (_closes, "closed the caller's connection"),
    ],
)
def test_find_runaway_rejects_side_effects(pg, wrong, says):
    with pytest.raises(CheckFailure) as err:
        sq.check_find_runaway(wrong, pg, seed=0, cases=2)
    assert err.value.category == "side effect on the caller"
    assert says in str(err.value)
    assert _grader_leftovers(pg) == []


def test_find_runaway_stub_fails_once_without_a_case(pg):
    def stub(conn):
        raise NotImplementedError

    with pytest.raises(CheckFailure) as err:
        sq.check_find_runaway(stub, pg, seed=0, cases=3)
    assert err.value.category == "not implemented yet"
    assert err.value.schedule is None and err.value.seed is None
    assert _grader_leftovers(pg) == []


def test_find_runaway_reports_a_learner_exception_with_its_case(pg):
    def broken(conn):
        return conn.execute("SELECT pid FROM pg_stat_activty").fetchone()[0]

    with pytest.raises(CheckFailure) as err:
        sq.check_find_runaway(broken, pg, seed=7, cases=3)
    assert err.value.category == "your code raised an exception"
    assert err.value.seed == 7 and err.value.schedule
    assert err.value.replay == "sq.check_find_runaway(find_runaway, pg, seed=7, cases=1)"


def test_random_runaway_cases_reach_every_role():
    import random

    made = [sq._random_runaway_case(random.Random(s)) for s in range(200)]
    assert {c.runaway for c in made} == {"sleep", "monitor", "lock", "parallel", "cpu"}
    assert {c.gone for c in made} == {None, "cancel", "terminate"}
    assert any(c.newer_conn for c in made) and any(c.same_names for c in made)
    # a lock waiter always has an idle-in-transaction session holding its lock
    for c in made:
        if c.runaway == "lock" or any(kind == "lock" for kind, _ in c.later):
            assert c.idle_tx


# -- grader 2: the index ----------------------------------------------------------------------


def _par(c):
    return f"({c})" if "(" in c else c


def _index(q, cols, where=True):
    fixed = f" WHERE {q.fixed}" if q.fixed and where else ""
    return f"CREATE INDEX ON {q.table} ({', '.join(cols)}){fixed}"


def good_index(q):
    return _index(q, [_par(c) for c in q.equal] + ([q.range] if q.range else []))


def test_index_for_accepts_the_right_indexes(pg, capsys):
    sq.check_index_for(good_index, pg, seed=0, cases=18)
    assert "18 cases, no failure" in capsys.readouterr().out
    names = {r[0] for r in pg.query("SELECT indexname FROM pg_indexes WHERE tablename='ex_orders'")}
    assert names == {"ex_orders_pkey"}, "the grader must roll back every index it built"


@pytest.mark.parametrize(
    "variant",
    [
        # equality columns in the other order, more columns after, INCLUDE, lower case, a ';'
        lambda q: _index(q, [_par(c) for c in reversed(q.equal)] + ([q.range] if q.range else [])),
        lambda q: (
            good_index(q).replace(")", ", id) INCLUDE (amount)", 1)
            if not q.equal[0].endswith(")")
            else good_index(q)
        ),
        lambda q: good_index(q).lower().replace("'pending'", "'pending'") + ";",
    ],
)
def test_index_for_accepts_equivalent_indexes(pg, variant):
    sq.check_index_for(variant, pg, kinds=("composite", "partial"), seed=3, cases=13)


def _range_first(q):
    return _index(q, ([q.range] if q.range else []) + [_par(c) for c in q.equal])


def _sorted_cols(q):
    return _index(q, sorted([_par(c) for c in q.equal] + ([q.range] if q.range else [])))


def _first_equal_only(q):
    return _index(q, [_par(q.equal[0])] + ([q.range] if q.range else []))


def _bare_column(q):
    return _index(q, [re.sub(r"^\w+\((\w+)\)$", r"\1", c) for c in q.equal])


def _fixed_as_column(q):
    fixed_col = q.fixed.split("=")[0].strip()
    return _index(q, [fixed_col] + [_par(c) for c in q.equal], where=False)


def _without_where(q):
    return _index(q, [_par(c) for c in q.equal] + [q.fixed.split("=")[0].strip()], where=False)


@pytest.mark.parametrize(
    ("kind", "wrong", "says"),
    [
        ("composite", _range_first, "before an equality column"),
        ("composite", _sorted_cols, "before an equality column"),
        ("composite", _first_equal_only, "it lacks"),
        ("composite", lambda q: _index(q, [_par(c) for c in q.equal]), "it lacks"),
        ("expression", _bare_column, "it lacks"),
        ("equality", lambda q: f"CREATE INDEX ON {q.table} (store_id)", "it lacks"),
        ("expression", lambda q: "CREATE INDEX ON ex_orders ((lower(email)))", "it lacks"),
        ("equality", lambda q: good_index(q).replace(" (", " USING brin (", 1), "does not use"),
        ("partial", _fixed_as_column, "holds 50000 entries"),
        ("partial", _without_where, "holds 50000 entries"),
        (
            "partial",
            lambda q: (
                _index(q, [_par(c) for c in q.equal]).split(" WHERE")[0]
                + " WHERE status = 'pending'"
            ),
            "does not use your index",
        ),
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
        ("equality", lambda q: None, "expected a string"),
    ],
)
def test_index_for_rejects(pg, kind, wrong, says):
    shapes = len(sq._SHAPES[kind])
    with pytest.raises(CheckFailure) as err:
        sq.check_index_for(wrong, pg, kinds=(kind,), seed=0, cases=shapes)
    assert err.value.category == "index does not fix the plan"
    assert says in str(err.value), str(err.value)
    assert pg.query("SELECT count(*) FROM ex_orders") == [(sq.EX_ROWS,)]


def test_expressions_are_compared_as_the_catalogue_writes_them(pg):
    with pg.connect() as conn:
        spelled = sq._spellings(conn, "ex_orders", {sq._UTC_DAY, "lower(email)"})
    assert set(spelled.values()) == {sq._UTC_DAY, "lower(email)"}
    assert spelled["lower(email)"] == "lower(email)"
    # an expression that is not a function call must be written in parentheses of its own
    with pytest.raises(CheckFailure, match="rejected"):
        sq.check_index_for(
            lambda q: f"CREATE INDEX ON {q.table} ({q.equal[0]})",
            pg,
            kinds=("expression",),
            seed=0,
            cases=len(sq._SHAPES["expression"]),
        )


def test_wrong_indexes_also_fail_on_the_real_plan(pg):
    # Beyond the key-column rule, the data makes a badly chosen index read too many pages (or go
    # unused) in every composite and partial shape: the page budget alone tells them apart.
    import random

    def plan_only(conn, q, stmt):
        with conn.transaction(force_rollback=True):
            conn.execute(stmt)
            after = sq._plan(conn, q.sql, analyze=True)
        used = any(s[2] for s in after["scans"] if s[2] and s[2] != "ex_orders_pkey")
        return used and after["buffers"] <= after["rows"] + sq.PAGE_SLACK

    with pg.connect(autocommit=True) as conn:
        conn.execute("SET max_parallel_workers_per_gather = 0")
        for kind, wrongs in (
            ("composite", (_range_first, _first_equal_only)),
            ("partial", (lambda q: _index(q, [_par(c) for c in q.equal], where=False),)),
        ):
            for shape in range(len(sq._SHAPES[kind])):
                q = sq._slow_query(kind, random.Random(shape), shape)
                assert plan_only(conn, q, good_index(q)), q
                for wrong in wrongs:
                    stmt = wrong(q)
                    if stmt.replace(" ", "") != good_index(q).replace(" ", ""):
                        assert not plan_only(conn, q, stmt), (q, stmt)


def test_index_stub_fails_once_without_a_case(pg):
    def stub(q):
        raise NotImplementedError

    with pytest.raises(CheckFailure) as err:
        sq.check_index_for(stub, pg, seed=0, cases=4)
    assert err.value.category == "not implemented yet"
    assert err.value.schedule is None and err.value.seed is None


def test_slow_query_shapes_are_seeded_and_varied():
    import random

    a = sq._slow_query("composite", random.Random(5), 0)
    assert a == sq._slow_query("composite", random.Random(5), 0)
    assert a.equal == ("store_id",) and a.range == "created_at" and a.fixed is None
    texts = {sq._slow_query("partial", random.Random(s)).fixed for s in range(60)}
    assert texts == {"status = 'pending'", "status = 'refunded'", "status = 'on_hold'", "flagged"}
    exprs = {sq._slow_query("expression", random.Random(s)).equal for s in range(60)}
    assert exprs == {("lower(email)",), ("upper(sku)",), ("lower(coupon)",), (sq._UTC_DAY,)}
    two = [sq._slow_query("composite", random.Random(s), 2).equal for s in range(20)]
    assert set(two) == {("store_id", "courier_id"), ("courier_id", "store_id")}
    with pytest.raises(ValueError, match="unknown query kind"):
        sq._slow_query("nonsense", random.Random(0))


# -- grader 3: the timeout --------------------------------------------------------------------


def good_timeout(conn):
    conn.execute("SET statement_timeout = '250ms'")
    conn.commit()


def good_in_transaction_block(conn):
    with conn.transaction():
        conn.execute("SET statement_timeout = 300")


def _sets(*stmts, commit=True):
    def configure(conn):
        for s in stmts:
            conn.execute(s)
        if commit:
            conn.commit()

    return configure


def test_timeout_accepts_a_committed_session_setting(pg, capsys):
    sq.check_timeout(good_timeout, pg, seed=0, cases=2)
    assert "2 cases, no failure" in capsys.readouterr().out
    sq.check_timeout(good_in_transaction_block, pg, seed=31)
    assert _grader_leftovers(pg) == []


def _autocommit_on(conn):
    conn.autocommit = True
    conn.execute("SET statement_timeout = '250ms'")


def _with_conn(conn):
    with conn:
        conn.execute("SET statement_timeout = '250ms'")


def _set_local(conn):
    with conn.transaction():
        conn.execute("SET LOCAL statement_timeout = '250ms'")


@pytest.mark.parametrize(
    ("wrong", "category", "says"),
    [
        (_sets("SET statement_timeout = '5s'"), "runaway not stopped", "5000 ms"),
        (_sets("SET statement_timeout = '400ms'"), "runaway not stopped", "400 ms"),
        (_sets("SET statement_timeout = '100ms'"), "normal workload broken", "100 ms"),
        (_sets("SET statement_timeout = '40ms'"), "normal workload broken", "40 ms"),
        (_set_local, "runaway not stopped", "no statement timeout"),
        (
            _sets("SELECT set_config('statement_timeout', '250ms', true)"),
            "runaway not stopped",
            "no statement timeout",
        ),
        (
            _sets("SET statement_timeout = '250ms'", commit=False),
            "session left in a transaction",
            "INTRANS",
        ),
        (_autocommit_on, "side effect on the caller", "conn.autocommit from False to True"),
        (_with_conn, "side effect on the caller", "closed the app's connection"),
        (
            _sets("SET statement_timeout = '250ms'", "SET lock_timeout = '50ms'"),
            "side effect on the caller",
            "lock_timeout",
        ),
        (_sets("SET lock_timeout = '250ms'"), "side effect on the caller", "lock_timeout"),
        (
            _sets(
                "ALTER ROLE CURRENT_USER SET statement_timeout = '250ms'",
                "SET statement_timeout = '250ms'",
            ),
            "side effect beyond this session",
            "role/database",
        ),
    ],
)
def test_timeout_rejects(pg, wrong, category, says):
    with pytest.raises(CheckFailure) as err:
        sq.check_timeout(wrong, pg, seed=0, cases=1)
    assert err.value.category == category
    assert says in str(err.value), str(err.value)
    assert "replay it: sq.check_timeout(configure_session, pg, seed=0, cases=1)" in str(err.value)
    # whatever the learner changed for everyone is undone
    assert pg.query("SELECT count(*) FROM pg_db_role_setting") == [(0,)]
    assert pg.query("SHOW statement_timeout") == [("0",)]
    assert _grader_leftovers(pg) == []


def test_timeout_undoes_alter_system(pg):
    def alter_system(conn):
        conn.autocommit = True
        conn.execute("ALTER SYSTEM SET statement_timeout = '250ms'")
        conn.execute("SELECT pg_reload_conf()")
        conn.autocommit = False
        time.sleep(0.2)  # the reload reaches the backends

    with pytest.raises(CheckFailure) as err:
        sq.check_timeout(alter_system, pg, seed=0)
    assert err.value.category == "side effect beyond this session"
    assert "ALTER SYSTEM" in str(err.value)
    time.sleep(0.2)
    assert pg.query("SHOW statement_timeout") == [("0",)]


def _step(pg, kind, variant, *, timeout_ms=None, autocommit=False):
    """Run one request of check_timeout's workload on a fresh app connection; its verdict."""
    import random

    verdicts = []

    def bad(category, what, hint):
        verdicts.append((category, what))
        raise CheckFailure(category, what)

    with pg.connect(autocommit=True) as helper, pg.connect(autocommit=True) as probe:
        with pg.connect() as conn:
            conn.execute("CREATE TEMP TABLE app_orders (id int, note text)")
            if timeout_ms is not None:
                conn.execute(f"SET statement_timeout = {timeout_ms}")
            conn.commit()
            conn.autocommit = autocommit
            with contextlib.suppress(CheckFailure):
                sq._timeout_step(conn, helper, probe, kind, variant, random.Random(1), 0, [], bad)
    return verdicts


def test_timeout_workload_judges_each_request(pg):
    # The value checks come first in check_timeout; the workload still judges on its own.
    assert _step(pg, "normal", "max", timeout_ms=250) == []
    assert _step(pg, "lockwait", "", timeout_ms=250) == []
    assert _step(pg, "error", "", timeout_ms=250) == []
    assert _step(pg, "runaway", "lock", timeout_ms=250) == []
    [(category, what)] = _step(pg, "normal", "max", timeout_ms=60)
    assert category == "normal workload broken" and "QueryCanceled" in what
    [(category, what)] = _step(pg, "undo", "", timeout_ms=250, autocommit=True)
    assert category == "side effect on the caller" and "no longer work" in what
    [(category, what)] = _step(pg, "runaway", "in_tx")
    assert category == "runaway not stopped" and "watchdog" in what


def test_timeout_stub_fails_once(pg):
    def stub(conn):
        raise NotImplementedError

    with pytest.raises(CheckFailure) as err:
        sq.check_timeout(stub, pg, seed=0)
    assert err.value.category == "not implemented yet"
    assert err.value.schedule is None


def test_timeout_scripts_reach_every_rule():
    kinds = [step for script in sq._TIMEOUT_SCRIPTS for step in script]
    assert {v for k, v in kinds if k == "runaway"} == {"lock", "cpu", "in_tx"}
    assert sq._TIMEOUT_SCRIPTS[0][0][0] == "runaway"  # the very first request
    second = [k for k, _ in sq._TIMEOUT_SCRIPTS[1]]
    first_runaway = second.index("runaway")
    assert {"undo", "lockwait"} <= set(second[:first_runaway])  # after a rollback and a commit
    assert ("normal", "max") in kinds
    # seeds 0 and 31, the notebook's, play both scripts
    assert {0 % 2, 31 % 2} == {0, 1}
