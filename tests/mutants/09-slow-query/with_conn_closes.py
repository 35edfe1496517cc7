"""Uses `with conn:` to commit the SET: psycopg's connection context manager also closes the
connection, so the app gets a closed connection back."""
# expect-fail: timeout_stops_runaway_keeps_workload
# %% edit: configure_session
# replace:
#     conn.execute("SET statement_timeout = '250ms'")
# with:
#     with conn:
#         conn.execute("SET statement_timeout = '250ms'")
# replace:
#     conn.commit()
# with:
#     pass
