"""Decides "running" vs "waiting for a lock" from the query text (pg_sleep or not) instead of wait_event_type: a slow query that is not pg_sleep is reported as waiting for a lock, and a pg_sleep blocked on a lock as running."""
# expect-fail: diagnose_pg_stat_activity
# %% cell: diagnose_function
def diagnose(conn, prefix):
    """{application_name: category} for the sessions named prefix...; see the table above."""
    rows = conn.execute(
        "SELECT application_name, state, query FROM pg_stat_activity"
    ).fetchall()
    result = {}
    for name, state, query in rows:
        if not name or not name.startswith(prefix) or state is None:
            continue
        if state == "active":
            result[name] = "running" if "pg_sleep" in (query or "").lower() else "waiting for a lock"
        elif state == "idle":
            result[name] = "idle"
        elif state.startswith("idle in transaction"):
            result[name] = "idle in transaction"
    return result
