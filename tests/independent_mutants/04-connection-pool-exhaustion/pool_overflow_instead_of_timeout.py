"""When the wait runs out, acquire() opens an extra "overflow" connection instead of raising PoolTimeout: the pool "quietly opens one more connection whenever it is empty", breaking "never more than size connections are open" and "then raises PoolTimeout"."""
# expect-fail: pool_bounded_size
# expect-fail: pool_acquire_timeout
# %% cell: connection_pool
class ConnectionPool:
    """At most `size` real connections; borrowers wait up to `acquire_timeout` seconds."""

    def __init__(self, dsn, size, acquire_timeout, connect=psycopg.connect):
        """Remember the settings; open no connection yet (connect(dsn) opens one)."""
        self.dsn = dsn
        self.size = size
        self.acquire_timeout = acquire_timeout
        self._connect = connect
        self._cond = threading.Condition()
        self._idle = []
        self._lent = {}  # id(conn) -> (conn, lent at, where)
        self._opened = 0

    def _caller(self):
        """'file:line in function' of the code that borrowed: the first frame outside the pool."""
        frame = sys._getframe(1)
        while frame is not None and (
            frame.f_locals.get("self") is self or frame.f_code.co_filename == contextlib.__file__
        ):
            frame = frame.f_back
        if frame is None:
            return "<unknown>"
        return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"

    def acquire(self):
        """A free connection; wait at most acquire_timeout s for one, else raise PoolTimeout."""
        where = self._caller()
        deadline = time.monotonic() + self.acquire_timeout
        with self._cond:
            while True:
                if self._idle:
                    conn = self._idle.pop()
                    break
                if self._opened < self.size:
                    self._opened += 1
                    try:
                        conn = self._connect(self.dsn)
                    except BaseException:
                        self._opened -= 1
                        self._cond.notify()
                        raise
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    # rather than failing the request, open an overflow connection for the burst
                    conn = self._connect(self.dsn)
                    self._opened += 1
                    break
                self._cond.wait(left)
            self._lent[id(conn)] = (conn, time.monotonic(), where)
        return conn

    def release(self, conn):
        """Take a lent connection back: roll back its open transaction, wake one waiter."""
        with self._cond:
            if self._lent.pop(id(conn), None) is None:
                raise ValueError("this connection was not lent by this pool")
        try:
            if conn.info.transaction_status != TransactionStatus.IDLE:
                conn.rollback()
            usable = not getattr(conn, "closed", False)
        except Exception:
            usable = False
        with self._cond:
            if usable:
                self._idle.append(conn)
            else:
                self._opened -= 1
                with contextlib.suppress(Exception):
                    conn.close()
            self._cond.notify()

    @contextlib.contextmanager
    def connection(self):
        """`with pool.connection() as conn:` borrows, and returns on every exit path."""
        conn = self.acquire()
        try:
            yield conn
        finally:
            self.release(conn)

    def leaks(self, older_than):
        """[{"age": seconds, "where": "file:line in function"}] for connections lent >= older_than s."""
        now = time.monotonic()
        with self._cond:
            return [
                {"age": now - since, "where": where}
                for _conn, since, where in self._lent.values()
                if now - since >= older_than
            ]

    def close(self):
        """Close the idle connections (connections still lent stay open)."""
        with self._cond:
            idle, self._idle = self._idle, []
            self._opened -= len(idle)
        for conn in idle:
            with contextlib.suppress(Exception):
                conn.close()
