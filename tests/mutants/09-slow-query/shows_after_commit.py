"""Commits the SET, then reads it back with SHOW to print it: with autocommit off that SHOW opens
a new transaction, which is left open for the app."""
# expect-fail: timeout_stops_runaway_keeps_workload
# %% edit: configure_session
# replace:
#     conn.commit()
# with:
#     conn.commit()
#     print("statement_timeout:", conn.execute("SHOW statement_timeout").fetchone()[0])
