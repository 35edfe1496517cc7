"""Matches state == 'idle in transaction' exactly, so a session idle in an aborted transaction ("idle in transaction (aborted)") is left out; the table says state "starts with 'idle in transaction'"."""
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
        elif state == "idle":
            result[name] = "idle"
        elif state == "idle in transaction":
            result[name] = "idle in transaction"
    return result
