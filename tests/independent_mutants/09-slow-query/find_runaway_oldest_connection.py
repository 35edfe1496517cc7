"""Orders by backend_start (the oldest connection) instead of query_start: a quick query on an old connection wins over the runaway; the runaway is "the active query that has been running longest"."""
# expect-fail: find_runaway_backend
# %% cell: find_runaway
def find_runaway(conn) -> int:
    """The pid of the active query (not this session's) that has been running the longest."""
    row = conn.execute(
        "SELECT pid FROM pg_stat_activity"
        " WHERE state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        " ORDER BY backend_start LIMIT 1"
    ).fetchone()
    return int(row[0])
