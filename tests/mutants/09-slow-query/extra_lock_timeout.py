"""Sets a lock_timeout beside the statement timeout: another setting of the app's session
changes, and a normal request that waits a moment for a row lock may fail."""
# expect-fail: timeout_stops_runaway_keeps_workload
# %% edit: configure_session
# replace:
#     conn.execute("SET statement_timeout = '250ms'")
# with:
#     conn.execute("SET statement_timeout = '250ms'")
#     conn.execute("SET lock_timeout = '20ms'")
