"""Throwaway real services for the chapters: PostgreSQL now, Redis later, same shape.

``postgres()`` gives a :class:`PostgresServer`, a context manager with a libpq URL on loopback TCP:

* **override**: if a URL is passed, or ``GOTCHALAB_POSTGRES_URL`` is set, that existing server is
  used as is (nothing is started or stopped; it must answer within a few seconds);
* **embedded** (default): a fresh PostgreSQL 16 from the ``pgserver`` pip package's bundled binaries,
  with its own temporary data directory and a free port on 127.0.0.1, stopped on exit.

Why the bundled binaries are run here and not through ``pgserver.get_server``: ``get_server`` listens
on a Unix socket only (no TCP port), keeps its data directory and process-id list for reuse across
processes, and waits in 1 s steps. The course wants a loopback TCP port per server (a DSN that looks
like production), a data directory that dies with the server, and bounded sub-second polling.

Invariants
----------
* Each embedded server lives in a *run directory* ``<tmp>/gotchalab-<uid>/pg-*`` holding its data
  directory, its log and ``owner.json`` (owner pid + the owner's start time, postmaster pid, port).
* A server is stopped, and its run directory removed, when: its context manager exits, ``stop()`` is
  called, the interpreter exits (``atexit``), or the process gets SIGTERM (a handler is installed
  only in the main thread and only over the default handler).
* A SIGKILLed owner can run no cleanup, so every start first *reaps*: any run directory whose owner
  process is gone gets its postmaster (verified by pid, start time and data directory, never a reused
  pid) shut down and the directory removed. So after the next start no orphan is left behind.
* Every wait is bounded (a few seconds); a server that cannot start raises :class:`ServiceError`
  naming the cause and the fix, with the tail of the server log.
* The first embedded start on a machine keeps an initdb'd cluster as ``template-pg-<key>`` in the
  runtime root (key: the binaries' path); later starts copy it instead of running initdb. No
  process owns a template, so the reaper leaves it alone.
* As root, PostgreSQL refuses to run; the server then runs as an unprivileged system user
  (``pgserver``, created with ``useradd`` if missing, as the pgserver package itself does).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

__all__ = [
    "ServiceError",
    "Service",
    "PostgresServer",
    "postgres",
    "shared_postgres",
    "runtime_root",
    "reap_orphans",
    "free_port",
    "port_is_open",
]

ENV_POSTGRES_URL = "GOTCHALAB_POSTGRES_URL"
_UNPRIVILEGED_USER = "pgserver"  # the same system user the pgserver package uses as root
_START_TIMEOUT = 15.0  # s; initdb + first connection take about 1 s on the 2-core machine
_STOP_TIMEOUT = 5.0  # s
_CHECK_TIMEOUT = 3  # s; how long an existing server (override URL) gets to answer


class ServiceError(RuntimeError):
    """A service could not start or be reached; the message names the cause and the fix."""


# --------------------------------------------------------------------------------------------
# Shared helpers (run directories, ports, reaping): used by every kind of embedded service.
# --------------------------------------------------------------------------------------------


def runtime_root() -> Path:
    """The per-user directory that holds every embedded server's run directory."""
    root = Path(tempfile.gettempdir()) / f"gotchalab-{os.getuid()}"
    root.mkdir(mode=0o755, exist_ok=True)
    # 0o755, not 0o700: as root the server runs as an unprivileged user who must traverse it.
    root.chmod(0o755)
    return root


@contextlib.contextmanager
def _root_lock():
    """An inter-process lock on the runtime root, so a reaper never races a server being born."""
    path = runtime_root() / ".lock"
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now on ``host`` (the OS picks it; a race is retried later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_is_open(host: str, port: int, timeout: float = 0.2) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _process_start_time(pid: int) -> float | None:
    """The start time of process ``pid`` (None if it does not exist); tells reused pids apart."""
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return None


def _same_process(pid: int | None, started: float | None) -> bool:
    """Is ``pid`` still the process that was recorded with start time ``started``?"""
    if not pid:
        return False
    now = _process_start_time(pid)
    if now is None:
        return False
    return started is None or abs(now - started) < 1.0


def _kill_group(pid: int, started: float | None, must_mention: str, timeout: float) -> None:
    """Shut down process ``pid`` and its process group, if it is still the recorded process.

    ``must_mention`` (a data directory) must appear in its command line: a pid reused by an
    unrelated process is never signalled.
    """
    import psutil

    if not _same_process(pid, started):
        return
    try:
        proc = psutil.Process(pid)
        if must_mention not in " ".join(proc.cmdline()):
            return
        children = proc.children(recursive=True)
    except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
        return
    # SIGQUIT = PostgreSQL's immediate shutdown: the postmaster stops its backends and cleans up
    # shared memory; the data is thrown away anyway, so there is nothing to checkpoint.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGQUIT)
    gone, alive = psutil.wait_procs([proc, *children], timeout=timeout)
    for p in alive:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            p.kill()
    psutil.wait_procs(alive, timeout=2)


def reap_orphans() -> list[str]:
    """Stop embedded servers whose owner process is dead and remove their run directories.

    Returns the names of the run directories reaped. A directory without a readable owner record
    is reaped only if it is older than a minute (it may be a server being born right now).
    """
    reaped: list[str] = []
    root = runtime_root()
    with _root_lock():
        for run in sorted(root.glob("*-*")):
            if not run.is_dir() or run.name.startswith("template-"):
                continue  # templates are shared, owned by no process
            try:
                rec = json.loads((run / "owner.json").read_text())
            except (OSError, ValueError):
                if time.time() - run.stat().st_mtime > 60:
                    shutil.rmtree(run, ignore_errors=True)
                    reaped.append(run.name)
                continue
            if _same_process(rec.get("owner_pid"), rec.get("owner_started")):
                continue  # its owner is alive: not ours to touch
            if rec.get("server_pid"):
                _kill_group(
                    int(rec["server_pid"]),
                    rec.get("server_started"),
                    str(run),
                    timeout=_STOP_TIMEOUT,
                )
            shutil.rmtree(run, ignore_errors=True)
            reaped.append(run.name)
    return reaped


# Servers this process started and must stop at exit.
_LIVE: set[Service] = set()
_LIVE_LOCK = threading.Lock()
_HOOKS_INSTALLED = False


def _stop_all() -> None:
    with _LIVE_LOCK:
        live = list(_LIVE)
    for svc in live:
        with contextlib.suppress(Exception):
            svc.stop()


def _on_sigterm(signum: int, frame: Any) -> None:
    # Stop our servers, then die of SIGTERM as the sender meant.
    _stop_all()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _install_hooks() -> None:
    """atexit always; a SIGTERM handler only where it is safe (main thread, default handler)."""
    global _HOOKS_INSTALLED
    if _HOOKS_INSTALLED:
        return
    _HOOKS_INSTALLED = True
    atexit.register(_stop_all)
    if threading.current_thread() is threading.main_thread():
        with contextlib.suppress(ValueError, OSError):
            if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
                signal.signal(signal.SIGTERM, _on_sigterm)


class Service:
    """Base of the embedded services: a run directory with an owner record, a port, a child process.

    Subclasses implement :meth:`_launch` (start the process, return it) and :meth:`_ready` (does it
    answer yet?). ``embedded`` is False when the service is an existing server given by URL; then
    :meth:`stop` does nothing.
    """

    kind = "service"

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = 0
        self.embedded = False
        self.run_dir: Path | None = None
        self.start_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopped = False

    # -- lifecycle ------------------------------------------------------------------------------
    def _make_run_dir(self) -> Path:
        with _root_lock():
            run = Path(tempfile.mkdtemp(prefix=f"{self.kind}-", dir=runtime_root()))
            self._write_owner(run)
        return run

    def _write_owner(self, run: Path, **extra: Any) -> None:
        me = os.getpid()
        rec = {"owner_pid": me, "owner_started": _process_start_time(me), "kind": self.kind}
        rec.update(extra)
        tmp = run / "owner.json.tmp"
        tmp.write_text(json.dumps(rec))
        tmp.replace(run / "owner.json")  # atomic: a reaper never reads half a record

    def _register(self) -> None:
        _install_hooks()
        with _LIVE_LOCK:
            _LIVE.add(self)

    def stop(self) -> None:
        """Stop the embedded server and remove its run directory (idempotent; no-op if external)."""
        if not self.embedded or self._stopped:
            return
        self._stopped = True
        with _LIVE_LOCK:
            _LIVE.discard(self)
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGQUIT)
            try:
                proc.wait(timeout=_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)  # its own session: backends die too
                proc.wait(timeout=2)
        if self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the embedded server's log ('' if there is none)."""
        if self.run_dir is None:
            return ""
        try:
            text = (self.run_dir / "server.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------------


def _pg_bin() -> Path:
    """The directory of pgserver's bundled PostgreSQL binaries (without importing pgserver)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.origin:
        raise ServiceError(
            "cannot start an embedded PostgreSQL: the pgserver package is not installed. "
            f"Fix: pip install pgserver, or set {ENV_POSTGRES_URL}=postgresql://USER@HOST:PORT/DB "
            "to use an existing server."
        )
    bin_dir = Path(spec.origin).parent / "pginstall" / "bin"
    if not (bin_dir / "postgres").exists():
        raise ServiceError(
            f"pgserver is installed but has no bundled binaries at {bin_dir} (expected "
            f"'postgres' and 'initdb' there). Fix: pip install --force-reinstall pgserver, or set "
            f"{ENV_POSTGRES_URL}."
        )
    return bin_dir


def _unprivileged_user() -> tuple[int, int] | None:
    """(uid, gid) to run PostgreSQL as when we are root (it refuses root); None otherwise."""
    if os.geteuid() != 0:
        return None
    import pwd

    try:
        entry = pwd.getpwnam(_UNPRIVILEGED_USER)
    except KeyError:
        try:
            subprocess.run(
                ["useradd", "-s", "/bin/false", _UNPRIVILEGED_USER],
                check=True,
                capture_output=True,
                timeout=10,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise ServiceError(
                f"running as root, PostgreSQL needs an unprivileged user, and creating "
                f"'{_UNPRIVILEGED_USER}' with useradd failed: {exc}. Fix: create it "
                f"(useradd {_UNPRIVILEGED_USER}), run as a normal user, or set {ENV_POSTGRES_URL}."
            ) from exc
        entry = pwd.getpwnam(_UNPRIVILEGED_USER)
    return entry.pw_uid, entry.pw_gid


def _let_others_traverse(path: Path) -> None:
    """Add o+x to every parent of ``path`` that lacks it, so the unprivileged user can reach it."""
    for parent in path.resolve().parents:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


class PostgresServer(Service):
    """A PostgreSQL server on loopback: embedded and throwaway, or an existing one given by URL.

    ``dsn`` is a libpq URL ``postgresql://USER@127.0.0.1:PORT/DBNAME``; :meth:`connect` opens a
    psycopg connection to it (autocommit off unless asked). Use it as a context manager; the
    embedded server is stopped and its data deleted on exit.
    """

    kind = "pg"

    def __init__(self, url: str | None = None) -> None:
        super().__init__()
        self.user = "postgres"
        self.dbname = "postgres"
        self.dsn = ""
        self.local_dsn: str | None = None  # through a Unix socket (embedded servers only)
        url = url or os.environ.get(ENV_POSTGRES_URL) or None
        if url:
            self._use_existing(url, from_env=url == os.environ.get(ENV_POSTGRES_URL))
        else:
            self._start_embedded()

    # -- existing server --------------------------------------------------------------------------
    def _use_existing(self, url: str, from_env: bool) -> None:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        where = f"{ENV_POSTGRES_URL}={url!r}" if from_env else f"url={url!r}"
        try:
            parts = conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise ServiceError(
                f"{where} is not a valid libpq URL ({exc}); expected "
                "postgresql://USER@HOST:PORT/DBNAME"
            ) from exc
        self.dsn = url
        self.host = str(parts.get("host") or "localhost")
        self.port = int(parts.get("port") or 5432)
        self.user = str(parts.get("user") or os.environ.get("USER", "postgres"))
        self.dbname = str(parts.get("dbname") or self.user)
        t0 = time.perf_counter()
        try:
            with psycopg.connect(url, connect_timeout=_CHECK_TIMEOUT, autocommit=True) as conn:
                conn.execute("select 1")
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ServiceError(
                f"the PostgreSQL server at {where} does not answer ({first}). Fix: start that "
                f"server or correct the URL, or unset {ENV_POSTGRES_URL} to use an embedded server."
            ) from exc
        self.start_seconds = time.perf_counter() - t0

    # -- embedded server --------------------------------------------------------------------------
    def _start_embedded(self) -> None:
        t0 = time.perf_counter()
        bin_dir = _pg_bin()
        ids = _unprivileged_user()
        reap_orphans()
        self.embedded = True
        self.run_dir = self._make_run_dir()
        self._register()  # from here on, exit/atexit/SIGTERM clean up whatever exists
        try:
            if ids is not None:
                # PostgreSQL runs as the unprivileged user: it must own its run directory, and
                # reach the binaries and this directory through every parent.
                _let_others_traverse(self.run_dir)
                _let_others_traverse(bin_dir)
                os.chown(self.run_dir, *ids)
            data = self.run_dir / "data"
            self._prepare_data(bin_dir, data, ids)
            for attempt in range(3):
                self.port = free_port()
                self._proc = self._launch(bin_dir, data, ids)
                self._write_owner(
                    self.run_dir,
                    server_pid=self._proc.pid,
                    server_started=_process_start_time(self._proc.pid),
                    port=self.port,
                )
                if self._wait_ready(deadline=time.monotonic() + _START_TIMEOUT):
                    break
                # The only retryable failure: another process took the port in between.
                if "could not bind" not in self.log_tail(40) or attempt == 2:
                    self._fail("the server exited during start-up")
        except BaseException:
            self.stop()
            raise
        self.dsn = f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}"
        self.local_dsn = (
            f"postgresql://{self.user}@/{self.dbname}?host={self.socket_dir}&port={self.port}"
        )
        self.start_seconds = time.perf_counter() - t0

    @property
    def socket_dir(self) -> Path:
        """Where the embedded server's Unix socket is (``local_dsn`` connects through it)."""
        return self.run_dir / "sock"  # type: ignore[operator]

    def _prepare_data(self, bin_dir: Path, data: Path, ids: tuple[int, int] | None) -> None:
        """Fill ``data`` with a fresh cluster: a copy of a cached one, or initdb if that fails.

        initdb is most of the start-up time (0.5-2.5 s measured here), and its result is the same
        for the same binaries, so the first start on a machine keeps an initdb'd template in the
        runtime root and later starts copy it (``cp -a``, as the server's user, about 0.1 s).
        """
        key = hashlib.sha1(str(bin_dir.resolve()).encode()).hexdigest()[:12]
        template = runtime_root() / f"template-pg-{key}"
        try:
            with _root_lock():
                if not (template / "PG_VERSION").exists():
                    shutil.rmtree(template, ignore_errors=True)
                    # initdb as the server's user needs a parent it may write to.
                    nest = Path(tempfile.mkdtemp(prefix="tmpl-", dir=runtime_root()))
                    try:
                        if ids is not None:
                            os.chown(nest, *ids)
                        self._run_initdb(bin_dir, nest / "data", ids)
                        (nest / "data").rename(template)  # atomic: never half a template
                    finally:
                        shutil.rmtree(nest, ignore_errors=True)
            subprocess.run(
                ["cp", "-a", str(template), str(data)],
                check=True,
                capture_output=True,
                timeout=_START_TIMEOUT,
                user=ids[0] if ids else None,
                group=ids[1] if ids else None,
                extra_groups=[] if ids else None,
            )
        except (OSError, subprocess.SubprocessError):
            # No cp, a full disk, a template from someone else: fall back to a plain initdb,
            # whose own errors say what is wrong.
            shutil.rmtree(data, ignore_errors=True)
            self._run_initdb(bin_dir, data, ids)

    def _run_initdb(self, bin_dir: Path, data: Path, ids: tuple[int, int] | None) -> None:
        cmd = [
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            self.user,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",  # throwaway data: skip the fsyncs that make initdb slow
            "--no-instructions",
        ]
        log = self.run_dir / "server.log"  # type: ignore[operator]
        try:
            with open(log, "ab") as out:
                subprocess.run(
                    cmd,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    check=True,
                    timeout=_START_TIMEOUT,
                    user=ids[0] if ids else None,
                    group=ids[1] if ids else None,
                    extra_groups=[] if ids else None,
                    cwd=data.parent,
                )
        except subprocess.TimeoutExpired as exc:
            self._fail(f"initdb did not finish within {_START_TIMEOUT:g} s", exc)
        except (subprocess.CalledProcessError, OSError) as exc:
            self._fail(f"initdb failed ({exc})", exc)

    def _launch(
        self, bin_dir: Path, data: Path, ids: tuple[int, int] | None
    ) -> subprocess.Popen[bytes]:
        settings = {
            "listen_addresses": self.host,
            "port": str(self.port),
            # Loopback TCP for the course's own code, and a socket in the run directory for a
            # sandboxed learner process that has no network (gotchalab.sandbox).
            "unix_socket_directories": str(self.socket_dir),
            "max_connections": "100",
            "shared_buffers": "32MB",
            # Throwaway data: durability buys nothing here and costs start/stop time.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "log_min_messages": "warning",
        }
        self.socket_dir.mkdir(exist_ok=True)
        if ids is not None:
            os.chown(self.socket_dir, *ids)
        # Others may pass through the run directory to the socket (not list it; the data
        # directory inside stays 0700, as PostgreSQL demands).
        os.chmod(self.run_dir, 0o711)  # type: ignore[arg-type]
        cmd = [str(bin_dir / "postgres"), "-D", str(data)]
        for key, value in settings.items():
            cmd += ["-c", f"{key}={value}"]
        out = open(self.run_dir / "server.log", "ab")  # type: ignore[operator]
        try:
            return subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                # Its own session: a Ctrl-C / kernel interrupt aimed at us does not reach it,
                # and stop() can signal the whole group (postmaster + backends) at once.
                start_new_session=True,
                user=ids[0] if ids else None,
                group=ids[1] if ids else None,
                extra_groups=[] if ids else None,
                cwd=self.run_dir,
            )
        except OSError as exc:
            self._fail(f"could not run {cmd[0]} ({exc})", exc)
        finally:
            out.close()

    def _wait_ready(self, deadline: float) -> bool:
        """Poll until the server accepts a query (True) or its process exits (False)."""
        import psycopg

        dsn = f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}"
        delay = 0.02
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                return False
            if port_is_open(self.host, self.port, timeout=0.2):
                try:
                    with psycopg.connect(dsn, connect_timeout=2, autocommit=True) as conn:
                        conn.execute("select 1")
                    return True
                except psycopg.OperationalError:
                    pass  # "the database system is starting up"
            time.sleep(delay)
            delay = min(delay * 1.5, 0.2)
        self._fail(f"the server did not accept connections within {_START_TIMEOUT:g} s")

    def _fail(self, what: str, cause: BaseException | None = None) -> Any:
        tail = self.log_tail()
        msg = (
            f"embedded PostgreSQL could not start: {what} (run directory {self.run_dir}, "
            f"port {self.port or 'not chosen yet'}). Fix: check free disk space in "
            f"{tempfile.gettempdir()} and that nothing else blocks 127.0.0.1, or set "
            f"{ENV_POSTGRES_URL}=postgresql://USER@HOST:PORT/DB to use an existing server."
        )
        if tail:
            msg += "\nlast lines of the server log:\n" + tail
        raise ServiceError(msg) from cause

    # -- use ------------------------------------------------------------------------------------
    def connect(self, **kw: Any):
        """A new ``psycopg.Connection`` to this server (autocommit False unless ``autocommit=True``).

        Keyword arguments go to :func:`psycopg.connect` (``application_name=...``,
        ``connect_timeout=...``, ``options="-c statement_timeout=200"``, ...).
        """
        import psycopg

        if self._stopped:
            raise ServiceError(f"this PostgreSQL server ({self.dsn}) was stopped; start a new one")
        kw.setdefault("connect_timeout", 5)
        return psycopg.connect(self.dsn, **kw)

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Run one statement on a fresh autocommit connection; return its rows ([] if none)."""
        with self.connect(autocommit=True) as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def __repr__(self) -> str:
        how = "embedded" if self.embedded else "existing"
        state = "stopped" if self._stopped else "running"
        return f"<PostgresServer {how} {state} {self.dsn}>"


def postgres(url: str | None = None) -> PostgresServer:
    """A PostgreSQL server: ``url`` or ``$GOTCHALAB_POSTGRES_URL`` if set, else a fresh embedded one.

    Use as ``with postgres() as pg: conn = pg.connect()``. Raises :class:`ServiceError` within
    seconds if no server can be started or reached.
    """
    return PostgresServer(url)


_SHARED: PostgresServer | None = None
_SHARED_LOCK = threading.Lock()


def shared_postgres() -> PostgresServer:
    """One server per process for notebooks: started on the first call, stopped at exit."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None or _SHARED._stopped:
            _SHARED = PostgresServer()
        return _SHARED
