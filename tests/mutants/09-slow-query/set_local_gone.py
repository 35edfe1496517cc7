"""SET LOCAL inside a transaction that is gone: the timeout lasts until that transaction ends, so
every later request runs without one."""
# expect-fail: timeout_stops_runaway_keeps_workload
# %% edit: configure_session
# replace:
#     # Between the slowest normal request (100 ms) and the bound (400 ms), with room for jitter.
#     conn.execute("SET statement_timeout = '250ms'")
#     # Autocommit is off: the SET is part of an open transaction until committed; a rollback
#     # (after the first runaway is cancelled, say) would undo it.
#     conn.commit()
# with:
#     with conn.transaction():
#         conn.execute("SET LOCAL statement_timeout = '250ms'")
