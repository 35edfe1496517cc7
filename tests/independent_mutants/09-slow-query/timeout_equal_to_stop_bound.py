"""statement_timeout = 400 ms, the bound itself: the server cancels at 400 ms plus the cancel's own latency, so runaways are not stopped "within 400 ms"."""
# expect-fail: timeout_stops_runaway_keeps_workload
# %% cell: configure_session
def configure_session(conn) -> None:
    """Give this session a statement timeout that lasts for the whole session."""
    conn.execute("SET statement_timeout = '400ms'")
    conn.commit()  # autocommit is off: a SET that is never committed is undone by the first rollback
