"""Leaves its own session out by matching the query text (NOT ILIKE '%pg_stat_activity%') instead of by pid; the notebook says "don't match on query text or names", and a runaway whose text mentions pg_stat_activity is skipped."""
# expect-fail: find_runaway_backend
# %% cell: find_runaway
def find_runaway(conn) -> int:
    """The pid of the active query (not this session's) that has been running the longest."""
    row = conn.execute(
        "SELECT pid FROM pg_stat_activity"
        " WHERE state = 'active' AND query NOT ILIKE '%%pg_stat_activity%%' AND backend_type = 'client backend'"
        " ORDER BY query_start LIMIT 1"
    ).fetchone()
    return int(row[0])
