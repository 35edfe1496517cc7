"""Diagnosis ignores wait events: a session blocked on a lock is reported as a running query."""
# expect-fail: diagnose_pg_stat_activity
# %% edit: diagnose_function
# replace:
#             out[name] = "waiting for a lock" if wait_type == "Lock" else "running"
# with:
#             out[name] = "running"
