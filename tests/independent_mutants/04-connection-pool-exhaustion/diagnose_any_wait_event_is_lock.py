"""Treats every active session with any wait_event_type as "waiting for a lock"; pg_sleep waits on a Timeout event and is "running" ("waiting for a lock" is state = 'active' and wait_event_type = 'Lock')."""
# expect-fail: diagnose_pg_stat_activity
# %% cell: diagnose_function
def diagnose(conn, prefix):
    """{application_name: category} for the sessions named prefix...; see the table above."""
    rows = conn.execute(
        "SELECT application_name, state, wait_event_type FROM pg_stat_activity"
    ).fetchall()
    result = {}
    for name, state, wait_type in rows:
        if not name or not name.startswith(prefix) or state is None:
            continue
        if state == "active":
            result[name] = "waiting for a lock" if wait_type is not None else "running"
        elif state == "idle":
            result[name] = "idle"
        elif state.startswith("idle in transaction"):
            result[name] = "idle in transaction"
    return result
