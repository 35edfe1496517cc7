"""An active session counts as running only when it waits on nothing: a pg_sleep (wait_event_type 'Timeout') is called waiting for a lock."""
# expect-fail: diagnose_pg_stat_activity
# %% edit: diagnose_function
# replace:
#             out[name] = "waiting for a lock" if wait_type == "Lock" else "running"
# with:
#             out[name] = "running" if wait_type is None else "waiting for a lock"
