"""Only row-lock waits count as 'waiting for a lock' (wait_event 'transactionid' or 'tuple'): waits on a table lock or an advisory lock are reported as running."""
# expect-fail: diagnose_pg_stat_activity
# %% edit: diagnose_function
# replace:
#     for name, state, wait_type in rows:
#         if state == "active":
#             out[name] = "waiting for a lock" if wait_type == "Lock" else "running"
# with:
#     for name, state, wait_type in rows:
#         if state == "active":
#             event = conn.execute(
#                 "select wait_event from pg_stat_activity where application_name = %s", (name,)
#             ).fetchone()[0]
#             out[name] = "waiting for a lock" if event in ("transactionid", "tuple") else "running"
