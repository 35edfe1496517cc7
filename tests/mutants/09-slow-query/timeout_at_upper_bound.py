"""Timeout exactly at the bound: 400 ms is not less than STOP_WITHIN_MS (the runaway is cancelled
at 400 ms, not within it)."""
# expect-fail: timeout_stops_runaway_keeps_workload
# %% edit: configure_session
# replace:
#     conn.execute("SET statement_timeout = '250ms'")
# with:
#     conn.execute("SET statement_timeout = '400ms'")
