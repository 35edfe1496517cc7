"""Turns autocommit on to make the SET stick and leaves it on: the app's transactions silently
stop being transactions (a rollback undoes nothing)."""
# expect-fail: timeout_stops_runaway_keeps_workload
# %% edit: configure_session
# replace:
#     conn.execute("SET statement_timeout = '250ms'")
# with:
#     conn.autocommit = True
#     conn.execute("SET statement_timeout = '250ms'")
# replace:
#     conn.commit()
# with:
#     pass
