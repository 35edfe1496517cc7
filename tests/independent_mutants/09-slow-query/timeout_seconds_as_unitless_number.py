"""SET statement_timeout = 0.25 meaning a quarter of a second; a number without a unit is in milliseconds and is rounded to 0, which disables the timeout, so runaways are never cancelled."""
# expect-fail: timeout_stops_runaway_keeps_workload
# %% cell: configure_session
def configure_session(conn) -> None:
    """Give this session a statement timeout that lasts for the whole session."""
    conn.execute("SET statement_timeout = 0.25")
    conn.commit()  # autocommit is off: a SET that is never committed is undone by the first rollback
