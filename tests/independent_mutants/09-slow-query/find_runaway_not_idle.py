"""Filters state <> 'idle' instead of state = 'active', so a session "idle in transaction" (whose last query is older) is taken for the runaway."""
# expect-fail: find_runaway_backend
# %% cell: find_runaway
def find_runaway(conn) -> int:
    """The pid of the active query (not this session's) that has been running the longest."""
    row = conn.execute(
        "SELECT pid FROM pg_stat_activity"
        " WHERE state <> 'idle' AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        " ORDER BY query_start LIMIT 1"
    ).fetchone()
    return int(row[0])
