"""Sorts query_start descending and returns the most recently started active query, one of the quick ones, not the one "that has been running longest"."""
# expect-fail: find_runaway_backend
# %% cell: find_runaway
def find_runaway(conn) -> int:
    """The pid of the active query (not this session's) that has been running the longest."""
    row = conn.execute(
        "SELECT pid FROM pg_stat_activity"
        " WHERE state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        " ORDER BY query_start DESC LIMIT 1"
    ).fetchone()
    return int(row[0])
