"""Real-server tests of gotchalab.services: start/stop, DSNs, overrides, failures, orphan reaping."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import psycopg
import pytest

from gotchalab import services
from gotchalab.services import ServiceError, port_is_open, postgres, shared_postgres

pytestmark = pytest.mark.services


@pytest.fixture(autouse=True)
def _no_override(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the embedded server unless they set the override themselves."""
    monkeypatch.delenv(services.ENV_POSTGRES_URL, raising=False)


def _my_run_dirs() -> list[str]:
    """Run directories whose owner is this process (other processes may start servers too)."""
    import json

    mine = []
    for run in services.runtime_root().glob("pg-*"):
        try:
            if json.loads((run / "owner.json").read_text())["owner_pid"] == os.getpid():
                mine.append(run.name)
        except (OSError, ValueError, KeyError):
            continue
    return sorted(mine)


def _postmaster_pid(pg: services.PostgresServer) -> int:
    assert pg._proc is not None
    return pg._proc.pid


def test_start_query_stop_leaves_nothing_behind() -> None:
    t0 = time.perf_counter()
    with postgres() as pg:
        took = time.perf_counter() - t0
        assert pg.embedded
        assert pg.dsn == f"postgresql://postgres@127.0.0.1:{pg.port}/postgres"
        assert (pg.host, pg.user, pg.dbname) == ("127.0.0.1", "postgres", "postgres")
        # The DSN works with plain psycopg, not only through pg.connect().
        with psycopg.connect(pg.dsn, autocommit=True) as conn:
            assert (
                conn.execute("select current_setting('server_version_num')::int").fetchone()[0]
                >= 160000
            )
        with pg.connect(application_name="t-services") as conn:
            assert conn.autocommit is False
            assert conn.execute("select current_setting('application_name')").fetchone() == (
                "t-services",
            )
        assert pg.query("select 1 + 1") == [(2,)]
        pid, port, run_dir = _postmaster_pid(pg), pg.port, pg.run_dir
        assert psutil.pid_exists(pid)
        assert port_is_open("127.0.0.1", port)
    print(f"embedded PostgreSQL start: {took:.2f} s")
    assert took < 10, f"start took {took:.1f} s, expected a few seconds at most"
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not port_is_open("127.0.0.1", port)
    assert run_dir is not None and not run_dir.exists()
    with pytest.raises(ServiceError, match="stopped"):
        pg.connect()
    pg.stop()  # idempotent


def test_two_servers_at_once_on_different_ports() -> None:
    with postgres() as a, postgres() as b:
        assert a.port != b.port and a.run_dir != b.run_dir
        a.query("create table only_in_a (x int)")
        assert a.query("select count(*) from pg_tables where tablename = 'only_in_a'") == [(1,)]
        assert b.query("select count(*) from pg_tables where tablename = 'only_in_a'") == [(0,)]
        b_port = b.port
    assert not port_is_open("127.0.0.1", a.port)
    assert not port_is_open("127.0.0.1", b_port)


def test_env_override_uses_the_existing_server(monkeypatch: pytest.MonkeyPatch) -> None:
    with postgres() as real:
        before = _my_run_dirs()
        monkeypatch.setenv(services.ENV_POSTGRES_URL, real.dsn)
        with postgres() as pg:
            assert not pg.embedded
            assert pg.dsn == real.dsn and pg.port == real.port
            assert pg.query("select 7") == [(7,)]
            assert _my_run_dirs() == before  # nothing new started by this process
        # Leaving the override's context stops nothing.
        assert real.query("select 1") == [(1,)]
        explicit = postgres(real.dsn)
        assert not explicit.embedded and explicit.port == real.port


def test_bogus_override_fails_fast_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    dead_port = services.free_port()
    monkeypatch.setenv(services.ENV_POSTGRES_URL, f"postgresql://postgres@127.0.0.1:{dead_port}/x")
    t0 = time.perf_counter()
    with pytest.raises(ServiceError) as err:
        postgres()
    took = time.perf_counter() - t0
    assert took < 5, f"a dead override took {took:.1f} s to fail, expected < 5 s"
    assert services.ENV_POSTGRES_URL in str(err.value)
    assert str(dead_port) in str(err.value)


def test_missing_pgserver_fails_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = services.importlib.util.find_spec
    monkeypatch.setattr(
        services.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "pgserver" else real_find_spec(name, *a),
    )
    with pytest.raises(ServiceError, match="pip install pgserver") as err:
        postgres()
    assert services.ENV_POSTGRES_URL in str(err.value)


def test_shared_postgres_is_one_server_per_process() -> None:
    a = shared_postgres()
    b = shared_postgres()
    assert a is b and a.query("select 1") == [(1,)]


_CHILD = textwrap.dedent(
    """
    import json, sys, time
    from gotchalab.services import postgres
    pg = postgres()
    print(json.dumps({"pid": pg._proc.pid, "port": pg.port, "run": str(pg.run_dir)}), flush=True)
    time.sleep(120)
    """
)


def _child_with_a_server() -> tuple[subprocess.Popen, dict]:
    """Start a child process that owns an embedded server; return it and the server's details."""
    import json

    env = {k: v for k, v in os.environ.items() if k != services.ENV_POSTGRES_URL}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD], stdout=subprocess.PIPE, text=True, env=env
    )
    line = child.stdout.readline() if child.stdout else ""
    if not line:
        child.kill()
        child.wait()
        raise AssertionError("the child process printed nothing: its server did not start")
    return child, json.loads(line)


def test_orphan_of_a_sigkilled_owner_is_reaped_on_next_start() -> None:
    child, info = _child_with_a_server()
    try:
        assert port_is_open("127.0.0.1", info["port"])
        child.send_signal(signal.SIGKILL)  # no atexit, no handler: the owner just vanishes
        child.wait(timeout=5)
        # The orphan survives its owner's death...
        assert psutil.pid_exists(info["pid"])
        assert port_is_open("127.0.0.1", info["port"])
        # ...until the next start reaps it.
        with postgres() as pg:
            assert pg.port != info["port"] or not psutil.pid_exists(info["pid"])
        assert not psutil.pid_exists(info["pid"])
        assert not port_is_open("127.0.0.1", info["port"])
        assert not os.path.exists(info["run"])
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_sigterm_stops_the_server_of_the_process_that_gets_it() -> None:
    child, info = _child_with_a_server()
    try:
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=10) == -signal.SIGTERM  # it still dies of SIGTERM
        # No reaping involved: the handler stopped the server before the process died.
        assert not psutil.pid_exists(info["pid"])
        assert not port_is_open("127.0.0.1", info["port"])
        assert not os.path.exists(info["run"])
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_template_survives_reaping_and_makes_identical_clusters() -> None:
    with postgres() as a:
        services.reap_orphans()
        templates = [p for p in services.runtime_root().iterdir() if p.name.startswith("template-")]
        assert templates, "the first start should leave an initdb'd template"
        with postgres() as b:
            q = "select datname from pg_database order by 1"
            assert a.query(q) == b.query(q)


def test_reaper_leaves_a_live_owners_server_alone() -> None:
    with postgres() as pg:
        assert pg.run_dir is not None
        assert pg.run_dir.name not in services.reap_orphans()
        assert pg.query("select 1") == [(1,)]
