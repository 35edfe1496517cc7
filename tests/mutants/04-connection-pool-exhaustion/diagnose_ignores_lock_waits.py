"""Diagnosis ignores wait events: a session blocked on a lock is reported as a running query."""
# expect-fail: diagnose_pg_stat_activity
# %% cell: diagnose_function
def diagnose(conn, prefix):
    """{application_name: category} for the sessions named prefix...; see the table above."""
    ### BEGIN SOLUTION
    rows = conn.execute(
        "select application_name, state, wait_event_type from pg_stat_activity "
        "where application_name like %s", (prefix + "%",)).fetchall()
    out = {}
    for name, state, wait_type in rows:
        if state == "active":
            out[name] = "running"
        elif state.startswith("idle in transaction"):
            out[name] = "idle in transaction"
        else:
            out[name] = state
    return out
    ### END SOLUTION
