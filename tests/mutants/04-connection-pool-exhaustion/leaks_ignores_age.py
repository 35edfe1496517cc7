"""Leak detector compares ages the wrong way round: connections borrowed just now count as leaks of any age and old ones are missed."""
# expect-fail: pool_leak_detection_names_borrower
# %% cell: connection_pool
class ConnectionPool:
    """At most `size` real connections; borrowers wait up to `acquire_timeout` seconds."""

    def __init__(self, dsn, size, acquire_timeout, connect=psycopg.connect):
        """Remember the settings; open no connection yet (connect(dsn) opens one)."""
        ### BEGIN SOLUTION
        self.dsn = dsn
        self.size = size
        self.acquire_timeout = acquire_timeout
        self._connect = connect
        self._cond = threading.Condition()
        self._idle = []        # connections opened and free
        self._opened = 0       # connections opened and not closed
        self._lent = {}        # id(conn) -> (conn, borrowed_at monotonic, where)
        ### END SOLUTION

    def _caller(self):
        """'file:line in function' of the code that borrowed: the first frame outside the pool."""
        ### BEGIN SOLUTION
        skip = {contextlib.__file__, ConnectionPool.acquire.__code__.co_filename}
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename in skip:
            frame = frame.f_back
        if frame is None:
            return "unknown"
        return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"
        ### END SOLUTION

    def acquire(self):
        """A free connection; wait at most acquire_timeout s for one, else raise PoolTimeout."""
        ### BEGIN SOLUTION
        deadline = time.monotonic() + self.acquire_timeout
        with self._cond:
            while not self._idle and self._opened >= self.size:
                left = deadline - time.monotonic()
                if left <= 0 or not self._cond.wait(left):
                    if self._idle or self._opened < self.size:
                        break
                    raise PoolTimeout(
                        f"no connection free: all {self.size} connections of the pool are lent "
                        f"and none came back within {self.acquire_timeout} s"
                    )
            if self._idle:
                conn = self._idle.pop()
            else:
                self._opened += 1
                try:
                    conn = self._connect(self.dsn)
                except BaseException:
                    self._opened -= 1
                    self._cond.notify()
                    raise
            self._lent[id(conn)] = (conn, time.monotonic(), self._caller())
            return conn
        ### END SOLUTION

    def release(self, conn):
        """Take a lent connection back: roll back its open transaction, wake one waiter."""
        ### BEGIN SOLUTION
        with self._cond:
            if self._lent.pop(id(conn), None) is None:
                raise ValueError(f"{conn!r} is not lent by this pool")
            try:
                if conn.closed:
                    self._opened -= 1
                elif conn.info.transaction_status != TransactionStatus.IDLE:
                    conn.rollback()
                    self._idle.append(conn)
                else:
                    self._idle.append(conn)
            except Exception:
                self._opened -= 1
                with contextlib.suppress(Exception):
                    conn.close()
            self._cond.notify()
        ### END SOLUTION

    @contextlib.contextmanager
    def connection(self):
        """`with pool.connection() as conn:` borrows, and returns on every exit path."""
        ### BEGIN SOLUTION
        conn = self.acquire()
        try:
            yield conn
        finally:
            self.release(conn)
        ### END SOLUTION

    def leaks(self, older_than):
        """[{"age": seconds, "where": "file:line in function"}] for connections lent >= older_than s."""
        ### BEGIN SOLUTION
        now = time.monotonic()
        with self._cond:
            return [
                {"age": now - since, "where": where}
                for _conn, since, where in self._lent.values()
                if now - since <= older_than
            ]
        ### END SOLUTION

    def close(self):
        """Close the idle connections (connections still lent stay open)."""
        ### BEGIN SOLUTION
        with self._cond:
            for conn in self._idle:
                conn.close()
            self._opened -= len(self._idle)
            self._idle.clear()
        ### END SOLUTION
