"""Picks its own backend: the oldest active transaction, without leaving out pg_backend_pid(); the
learner's session has had a transaction open since before the runaway started."""
# expect-fail: find_runaway_backend
# %% cell: find_runaway
def find_runaway(conn) -> int:
    """The pid of the active query (not this session's) that has been running the longest."""
    row = conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE state = 'active' ORDER BY xact_start LIMIT 1"
    ).fetchone()
    return int(row[0])
