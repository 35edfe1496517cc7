"""Also makes the timeout the role's default (ALTER ROLE ... SET): every other session of that
role gets it too."""
# expect-fail: timeout_stops_runaway_keeps_workload
# %% edit: configure_session
# replace:
#     conn.execute("SET statement_timeout = '250ms'")
# with:
#     conn.execute("ALTER ROLE CURRENT_USER SET statement_timeout = '250ms'")
#     conn.execute("SET statement_timeout = '250ms'")
