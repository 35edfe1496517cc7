"""Looks for the oldest open transaction (xact_start) among active sessions and forgets to leave out its own session, which "has a transaction open, and is the oldest connection of all": it returns its own pid."""
# expect-fail: find_runaway_backend
# %% cell: find_runaway
def find_runaway(conn) -> int:
    """The pid of the active query (not this session's) that has been running the longest."""
    row = conn.execute(
        "SELECT pid FROM pg_stat_activity"
        " WHERE state = 'active' AND backend_type = 'client backend'"
        " ORDER BY xact_start LIMIT 1"
    ).fetchone()
    return int(row[0])
