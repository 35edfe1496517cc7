"""Tests state.startswith("idle") before the idle-in-transaction case, so sessions idle in a transaction (holding locks) are reported as plain "idle"."""
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
            result[name] = "waiting for a lock" if wait_type == "Lock" else "running"
        elif state.startswith("idle"):
            result[name] = "idle"
        elif state.startswith("idle in transaction"):
            result[name] = "idle in transaction"
    return result
