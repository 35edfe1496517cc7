"""Filters with SQL LIKE prefix || '%' without escaping: "_" and "%" in the prefix are wildcards, so sessions whose application_name does not start with the prefix (e.g. "app-x" for prefix "app_") are reported too."""
# expect-fail: diagnose_pg_stat_activity
# %% cell: diagnose_function
def diagnose(conn, prefix):
    """{application_name: category} for the sessions named prefix...; see the table above."""
    rows = conn.execute(
        "SELECT application_name, state, wait_event_type FROM pg_stat_activity"
        " WHERE application_name LIKE %s || '%%'",
        (prefix,),
    ).fetchall()
    result = {}
    for name, state, wait_type in rows:
        if state is None:
            continue
        if state == "active":
            result[name] = "waiting for a lock" if wait_type == "Lock" else "running"
        elif state == "idle":
            result[name] = "idle"
        elif state.startswith("idle in transaction"):
            result[name] = "idle in transaction"
    return result
