"""Timeout too low: 50 ms stops the runaway but also cancels normal requests that need 100 ms."""
# expect-fail: timeout_stops_runaway_keeps_workload
# %% edit: configure_session
# replace:
#     # Between the slowest normal request (100 ms) and the bound (400 ms), with room for jitter.
#     conn.execute("SET statement_timeout = '250ms'")
#     # Autocommit is off: the SET is part of an open transaction until committed; a rollback
#     # (after the first runaway is cancelled, say) would undo it.
# with:
#     conn.execute("SET statement_timeout = '50ms'")
